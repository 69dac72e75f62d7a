"""Readouts outstanding when a stream ends finish at once, not at ``readout_timeout`` (issue 11).

Through Prosody: the device's client is killed (its TCP connection aborted, as by a crash);
Prosody sends the requester the device's unavailable presence (the device had sent it
directed presence), and the requester's readouts of that device end with ``ConnectionLost``
(typed API) and ``failure``/``done`` (slixmpp API). When the requester's own stream dies,
all its readouts end the same way. ``readout_timeout`` is 60 s and the device never
reports, so only the disconnect can end the readouts within the waits below.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slixmpp.plugins.xep_0323.device import Device

from otwire.errors import ConnectionLost

from .peers import Recorder
from .peers import otwire as otwire_plugin
from .prosody import ProsodyServer, connect_client, disconnect_client


class _SilentDevice(Device):
    def request_fields(self, fields, flags, session, callback):  # type: ignore[no-untyped-def]
        pass  # never reports


async def _clients(prosody: ProsodyServer, tag: str) -> tuple[Any, Any]:
    sensor = await connect_client(prosody, "sensor", f"dev-{tag}", plugins=otwire_plugin())
    requester = await connect_client(prosody, "requester", f"app-{tag}", plugins=otwire_plugin(readout_timeout=60.0))
    sensor.plugin["xep_0323"].register_node("Silent", _SilentDevice("Silent"), commTimeout=60.0)
    return requester, sensor


async def _start_readouts(requester: Any, sensor: Any) -> tuple[Any, Recorder]:
    plugin = requester.plugin["xep_0323"]
    readout = plugin.read(sensor.boundjid.full, momentary=True)
    recorder = Recorder()
    plugin.request_data(requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true"})
    await recorder.wait_for("accepted")
    return readout, recorder


async def _closed(client: Any) -> None:
    gone = asyncio.get_running_loop().create_future()
    client.add_event_handler("disconnected", lambda _e: gone.done() or gone.set_result(None))
    client.transport.abort()  # a crash: no </stream>, no unavailable presence from the client itself
    await asyncio.wait_for(gone, 10.0)


def _assert_ended(readout_error: BaseException, recorder: Recorder, reason: str) -> None:
    assert isinstance(readout_error, ConnectionLost) and reason in str(readout_error)
    assert recorder.results() == ["accepted", "failure", "done"]
    assert recorder.of("failure")[0]["error_msg"] == reason


def test_killed_device_ends_the_requesters_readouts_at_once(prosody: ProsodyServer) -> None:
    async def scenario() -> tuple[BaseException, Recorder, int]:
        requester, sensor = await _clients(prosody, "kill")
        try:
            seen = asyncio.get_running_loop().create_future()
            requester.add_event_handler("presence_available", lambda p: seen.done() or seen.set_result(p))
            sensor.send_presence(pto=requester.boundjid.full)  # directed presence: Prosody reports its end
            await asyncio.wait_for(seen, 10.0)
            readout, recorder = await _start_readouts(requester, sensor)
            await _closed(sensor)
            with pytest.raises(ConnectionLost) as caught:
                await asyncio.wait_for(readout, 10.0)
            await recorder.wait_for("done", timeout=10.0)
            return caught.value, recorder, len(sensor.plugin["xep_0323"]._devices)
        finally:
            await disconnect_client(requester)

    error, recorder, sessions = asyncio.run(scenario())
    _assert_ended(error, recorder, "peer unavailable")
    assert sessions == 0  # the killed side's own readouts ended with its stream (device sessions forgotten)


def test_own_stream_lost_ends_every_readout_at_once(prosody: ProsodyServer) -> None:
    async def scenario() -> tuple[BaseException, Recorder]:
        requester, sensor = await _clients(prosody, "own")
        try:
            readout, recorder = await _start_readouts(requester, sensor)
            await _closed(requester)
            with pytest.raises(ConnectionLost) as caught:
                await asyncio.wait_for(readout, 10.0)
            await recorder.wait_for("done", timeout=10.0)
            return caught.value, recorder
        finally:
            await disconnect_client(sensor)

    error, recorder = asyncio.run(scenario())
    _assert_ended(error, recorder, "stream closed")
