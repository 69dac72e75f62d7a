"""Baseline: slixmpp's own XEP-0323 plugin on both ends, through Prosody (research xep0323.md §2, §3.3).

The momentary readout is slixmpp's happy path and must work; the defects the otwire plugin
fixes are pinned as strict ``xfail`` tests that assert the correct behaviour, so a slixmpp
release that fixes one turns its test red and the note in ``specs/xep0323/plugin.md`` gets revisited.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slixmpp.plugins.xep_0323.timerreset import TimerReset

from .peers import MOMENTARY_FIELDS, MOMENTARY_TIMESTAMP, Recorder, momentary_device
from .prosody import ProsodyServer, connect_client, disconnect_client

SLIXMPP_0323 = {"xep_0323": {"pconfig": {"threaded": False}}}


async def _pair(prosody: ProsodyServer) -> tuple[Any, Any]:
    sensor = await connect_client(prosody, "sensor", "device", plugins=SLIXMPP_0323)
    sensor.plugin["xep_0323"].register_node("Device01", momentary_device("Device01"), commTimeout=5.0)
    requester = await connect_client(prosody, "requester", "app", plugins=SLIXMPP_0323)
    return sensor, requester


async def _close(*clients: Any) -> None:
    for client in clients:
        await disconnect_client(client)


def test_momentary_readout_slixmpp_to_slixmpp(prosody: ProsodyServer) -> None:
    async def scenario() -> Recorder:
        sensor, requester = await _pair(prosody)
        recorder = Recorder()
        try:
            requester.plugin["xep_0323"].request_data(
                requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true"}
            )
            await recorder.wait_for("done")
        finally:
            await _close(sensor, requester)
        return recorder

    recorder = asyncio.run(scenario())
    assert recorder.results() == ["accepted", "fields", "done"]
    (fields,) = recorder.of("fields")
    assert fields["nodeId"] == "Device01"
    assert fields["timestamp"] == MOMENTARY_TIMESTAMP
    assert {f["name"]: f["value"] for f in fields["fields"]} == {n: v[3] for n, v in MOMENTARY_FIELDS.items()}
    assert {f["name"]: f["typename"] for f in fields["fields"]} == {n: v[0] for n, v in MOMENTARY_FIELDS.items()}


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="slixmpp B3: the field filter repeats the last name")
def test_slixmpp_sensor_returns_every_requested_field(prosody: ProsodyServer) -> None:
    async def scenario() -> Recorder:
        sensor, requester = await _pair(prosody)
        recorder = Recorder()
        try:
            requester.plugin["xep_0323"].request_data(
                requester.boundjid.full,
                sensor.boundjid.full,
                recorder,
                fields=["Temperature", "Heating"],
                flags={"momentary": "true"},
            )
            await recorder.wait_for("done")
        finally:
            await _close(sensor, requester)
        return recorder

    recorder = asyncio.run(scenario())
    names = sorted(f["name"] for call in recorder.of("fields") for f in call["fields"])
    assert names == ["Heating", "Temperature"]


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="slixmpp B9: sessions keyed by seqnr only, spoofable")
def test_slixmpp_requester_drops_fields_from_a_third_party(prosody: ProsodyServer) -> None:
    async def scenario() -> Recorder:
        requester = await connect_client(prosody, "requester", "spoofed", plugins=SLIXMPP_0323)
        intruder = await connect_client(prosody, "intruder", "x", plugins=SLIXMPP_0323)
        recorder = Recorder()
        try:
            target = f"{prosody.accounts['sensor2'].jid}/absent"  # nobody answers: the seqnr stays live
            seqnr = requester.plugin["xep_0323"].request_data(requester.boundjid.full, target, recorder)
            forged = intruder.make_message(mto=requester.boundjid.full)
            forged["fields"]["seqnr"] = seqnr
            forged["fields"]["done"] = "true"
            node = forged["fields"].add_node("Device01")
            node.add_timestamp("2020-01-01T00:00:00").add_data(
                typename="numeric", name="Temperature", value="-99", unit="°C", dataType=None, flags=None
            )
            forged.send()
            await recorder.settles(1.0)
        finally:
            await _close(requester, intruder)
        return recorder

    recorder = asyncio.run(scenario())
    assert recorder.of("fields") == []


@pytest.mark.xfail(strict=True, raises=TypeError, reason="slixmpp B1: TimerReset.reset is shadowed by a bool")
def test_slixmpp_timerreset_can_be_reset() -> None:
    timer = TimerReset(60.0, lambda: None)
    try:
        timer.reset()
    finally:
        timer.cancel()
