"""otwire's requester (the plugin) reads slixmpp's own sensor plugin through Prosody (issue 11 §4).

slixmpp's sensor runs with ``threaded=False`` and an inert stand-in for its comm-timer
threads (``peers.inert_slixmpp_timers``: its ``TimerReset`` is broken since 1.13, B1); where
its own defects change what it sends, the test says so and checks otwire's side.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from slixmpp.plugins.xep_0323.device import Device

from .peers import (
    MOMENTARY_FIELDS,
    MOMENTARY_TIMESTAMP,
    SLIXMPP,
    Recorder,
    inert_slixmpp_timers,
    momentary_device,
    pair,
)
from .peers import otwire as otwire_plugin
from .prosody import ProsodyServer

HISTORY = {
    "2024-01-01T00:00:00": "20.5",
    "2024-01-01T01:00:00": "21.0",
    "2024-01-01T02:00:00": "21.75",
}


@pytest.fixture(autouse=True)
def _inert_timers() -> Iterator[None]:
    with inert_slixmpp_timers():
        yield


def _history_device(node_id: str) -> Device:
    device = Device(node_id)
    device._add_field("Temperature", "numeric", "°C", None)
    for stamp, value in HISTORY.items():
        device._add_field_timestamp_data("Temperature", stamp, value, {"historicalHour": "true"})
    return device


class _FailingDevice(Device):
    def request_fields(self, fields, flags, session, callback):  # type: ignore[no-untyped-def]
        callback(session, result="error", nodeId=self.nodeId, timestamp_block=None, error_msg="Meter offline")


def _register(sensor: object, *nodes: tuple[str, Device]) -> None:
    for node_id, device in nodes:
        sensor.plugin["xep_0323"].register_node(node_id, device, commTimeout=5.0)  # type: ignore[attr-defined]


def test_momentary_with_slixmpp_callbacks(prosody: ProsodyServer) -> None:
    async def scenario() -> Recorder:
        async with pair(prosody, otwire_plugin(), SLIXMPP, tag="m1") as (requester, sensor):
            _register(sensor, ("Device01", momentary_device("Device01")))
            recorder = Recorder()
            session = requester.plugin["xep_0323"].request_data(
                requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true"}
            )
            assert isinstance(session, str)
            await recorder.wait_for("done", "rejected")
            return recorder

    recorder = asyncio.run(scenario())
    assert recorder.results() == ["accepted", "fields", "done"]
    (call,) = recorder.of("fields")
    assert call["nodeId"] == "Device01"
    assert call["timestamp"] == MOMENTARY_TIMESTAMP
    assert {f["name"]: f["value"] for f in call["fields"]} == {n: v[3] for n, v in MOMENTARY_FIELDS.items()}
    assert {f["name"]: f["typename"] for f in call["fields"]} == {n: v[0] for n, v in MOMENTARY_FIELDS.items()}
    temperature = next(f for f in call["fields"] if f["name"] == "Temperature")
    assert temperature["unit"] == "°C"
    assert temperature["flags"] == {"momentary": "true", "automaticReadout": "true"}


def test_momentary_typed_read(prosody: ProsodyServer) -> None:
    async def scenario() -> object:
        async with pair(prosody, otwire_plugin(), SLIXMPP, tag="m2") as (requester, sensor):
            _register(sensor, ("Device01", momentary_device("Device01")))
            return await requester.plugin["xep_0323"].read(sensor.boundjid.full, momentary=True)

    result = asyncio.run(scenario())
    values = result.values()  # type: ignore[attr-defined]
    assert values[("Device01", "Temperature")].value == Decimal("23.40")
    assert values[("Device01", "Temperature")].lexical == "23.40"
    assert values[("Device01", "Heating")].value is True
    assert values[("Device01", "Installed")].value == dt.datetime(2012, 1, 1)


def test_historical_split_over_messages_iterated(prosody: ProsodyServer) -> None:
    async def scenario() -> tuple[list[object], object]:
        async with pair(prosody, otwire_plugin(), SLIXMPP, tag="h") as (requester, sensor):
            _register(sensor, ("Meter", _history_device("Meter")))
            readout = requester.plugin["xep_0323"].read(sensor.boundjid.full, flags={"historical": "true"})
            parts = [part async for part in readout]
            return parts, await readout

    parts, result = asyncio.run(scenario())
    # slixmpp sends one <fields/> message per timestamp, then an empty one with done="true"
    stamps = [stamp.value.isoformat() for part in parts for node in part.nodes for stamp in node.timestamps]
    assert stamps == list(HISTORY)
    values = [f.lexical for node in result.nodes for stamp in node.timestamps for f in stamp.fields]
    assert values == list(HISTORY.values())


def test_specific_field(prosody: ProsodyServer) -> None:
    async def scenario() -> object:
        async with pair(prosody, otwire_plugin(), SLIXMPP, tag="f") as (requester, sensor):
            _register(sensor, ("Device01", momentary_device("Device01")))
            return await requester.plugin["xep_0323"].read(sensor.boundjid.full, fields=["Heating"], momentary=True)

    result = asyncio.run(scenario())
    assert list(result.values()) == [("Device01", "Heating")]  # type: ignore[attr-defined]


def test_unknown_node_rejected_v02(prosody: ProsodyServer) -> None:
    async def scenario() -> tuple[Recorder, BaseException]:
        async with pair(prosody, otwire_plugin(), SLIXMPP, tag="r") as (requester, sensor):
            _register(sensor, ("Device01", momentary_device("Device01")))
            recorder = Recorder()
            plugin = requester.plugin["xep_0323"]
            plugin.request_data(requester.boundjid.full, sensor.boundjid.full, recorder, nodeIds=["NoSuchNode"])
            await recorder.wait_for("rejected", "done")
            with pytest.raises(Exception) as caught:
                await plugin.read(sensor.boundjid.full, node_ids=["NoSuchNode"])
            return recorder, caught.value

    recorder, error = asyncio.run(scenario())
    assert recorder.results() == ["rejected"]
    assert recorder.of("rejected")[0]["error_msg"] == "Invalid nodeId NoSuchNode"
    from otwire.errors import RequestError

    assert isinstance(error, RequestError)
    assert "Invalid nodeId NoSuchNode" in str(error)


def test_scheduled_then_cancelled(prosody: ProsodyServer) -> None:
    when = (dt.datetime.now() + dt.timedelta(seconds=60)).replace(microsecond=0).isoformat()

    async def scenario() -> Recorder:
        async with pair(prosody, otwire_plugin(), SLIXMPP, tag="c") as (requester, sensor):
            _register(sensor, ("Device01", momentary_device("Device01")))
            recorder = Recorder()
            plugin = requester.plugin["xep_0323"]
            session = plugin.request_data(
                requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true", "when": when}
            )
            await recorder.wait_for("queued", "accepted", "rejected")
            plugin.cancel_request(session)
            await recorder.wait_for("cancelled", "rejected", "done")
            return recorder

    recorder = asyncio.run(scenario())
    assert recorder.results() == ["queued", "cancelled"]


def test_failing_node_among_good_ones(prosody: ProsodyServer) -> None:
    async def scenario() -> Recorder:
        async with pair(prosody, otwire_plugin(), SLIXMPP, tag="n") as (requester, sensor):
            _register(sensor, ("Broken", _FailingDevice("Broken")), ("Device01", momentary_device("Device01")))
            recorder = Recorder()
            requester.plugin["xep_0323"].request_data(
                requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true"}
            )
            await recorder.wait_for("done", "rejected")
            return recorder

    recorder = asyncio.run(scenario())
    # a failure without done is not final (slixmpp's own requester drops the session here: B4)
    assert recorder.results() == ["accepted", "failure", "fields", "done"]
    assert recorder.of("failure")[0]["nodeId"] == "Broken"
    assert recorder.of("failure")[0]["error_msg"] == "Meter offline"
    assert recorder.of("fields")[0]["nodeId"] == "Device01"
