"""slixmpp's own requester reads otwire's sensor (the plugin) through Prosody (issue 11 §4).

The devices are slixmpp's example ``Device`` class, registered on otwire's plugin unchanged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import pytest
from slixmpp.plugins.xep_0323.device import Device

from .peers import MOMENTARY_FIELDS, MOMENTARY_TIMESTAMP, SLIXMPP, Recorder, momentary_device, pair
from .peers import otwire as otwire_plugin
from .prosody import ProsodyServer

HISTORY = {"2024-01-01T00:00:00": "20.5", "2024-01-01T01:00:00": "21.0", "2024-01-01T02:00:00": "21.75"}


class _FailingDevice(Device):
    def request_fields(self, fields, flags, session, callback):  # type: ignore[no-untyped-def]
        callback(session, result="error", nodeId=self.nodeId, timestamp_block=None, error_msg="Meter offline")


class _SilentDevice(Device):
    def request_fields(self, fields, flags, session, callback):  # type: ignore[no-untyped-def]
        pass  # never reports: otwire's comm timeout fails the node


def _history_device(node_id: str) -> Device:
    device = Device(node_id)
    device._add_field("Temperature", "numeric", "°C", None)
    for stamp, value in HISTORY.items():
        device._add_field_timestamp_data("Temperature", stamp, value, {"historicalHour": "true"})
    return device


async def _read(
    prosody: ProsodyServer,
    tag: str,
    nodes: dict[str, Device],
    until: tuple[str, ...] = ("done", "rejected"),
    **request: Any,
) -> Recorder:
    async with pair(prosody, SLIXMPP, otwire_plugin(), tag=tag) as (requester, sensor):
        for node_id, device in nodes.items():
            sensor.plugin["xep_0323"].register_node(node_id, device, commTimeout=request.pop("comm", 5.0))
        recorder = Recorder()
        requester.plugin["xep_0323"].request_data(requester.boundjid.full, sensor.boundjid.full, recorder, **request)
        await recorder.wait_for(*until)
        return recorder


def test_momentary(prosody: ProsodyServer) -> None:
    recorder = asyncio.run(_read(prosody, "m", {"Device01": momentary_device("Device01")}, flags={"momentary": "true"}))
    assert recorder.results() == ["accepted", "fields", "done"]
    (call,) = recorder.of("fields")
    assert call["timestamp"] == MOMENTARY_TIMESTAMP
    assert {f["name"]: f["value"] for f in call["fields"]} == {n: v[3] for n, v in MOMENTARY_FIELDS.items()}
    assert {f["name"]: f["typename"] for f in call["fields"]} == {n: v[0] for n, v in MOMENTARY_FIELDS.items()}


def test_historical_split_over_messages(prosody: ProsodyServer) -> None:
    recorder = asyncio.run(_read(prosody, "h", {"Meter": _history_device("Meter")}, flags={"historical": "true"}))
    assert recorder.results()[0] == "accepted" and recorder.results()[-1] == "done"
    calls = recorder.of("fields")
    assert [call["timestamp"] for call in calls] == list(HISTORY)
    assert [call["fields"][0]["value"] for call in calls] == list(HISTORY.values())


def test_specific_fields(prosody: ProsodyServer) -> None:
    recorder = asyncio.run(
        _read(
            prosody,
            "f",
            {"Device01": momentary_device("Device01")},
            fields=["Temperature", "Heating"],
            flags={"momentary": "true"},
        )
    )
    names = sorted(f["name"] for call in recorder.of("fields") for f in call["fields"])
    assert names == ["Heating", "Temperature"]  # slixmpp's own sensor returns only "Heating" (B3)


def test_unknown_field_rejected_as_slixmpp_does(prosody: ProsodyServer) -> None:
    recorder = asyncio.run(
        _read(
            prosody,
            "uf",
            {"Device01": momentary_device("Device01")},
            fields=["NoSuchField"],
            flags={"momentary": "true"},
        )
    )
    assert recorder.results() == ["rejected"]
    assert recorder.of("rejected")[0]["error_msg"] == "Invalid field NoSuchField"


def test_unknown_node_rejected(prosody: ProsodyServer) -> None:
    recorder = asyncio.run(_read(prosody, "r", {"Device01": momentary_device("Device01")}, nodeIds=["NoSuchNode"]))
    assert recorder.results() == ["rejected"]
    assert "NoSuchNode" in recorder.of("rejected")[0]["error_msg"]


def test_scheduled_then_cancelled(prosody: ProsodyServer) -> None:
    when = (dt.datetime.now() + dt.timedelta(seconds=60)).replace(microsecond=0).isoformat()

    async def scenario() -> Recorder:
        async with pair(prosody, SLIXMPP, otwire_plugin(), tag="c") as (requester, sensor):
            sensor.plugin["xep_0323"].register_node("Device01", momentary_device("Device01"), commTimeout=5.0)
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


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="slixmpp B4: a failure without done ends its session")
def test_failing_node_among_good_ones_slixmpp_requester(prosody: ProsodyServer) -> None:
    nodes = {"Broken": _FailingDevice("Broken"), "Device01": momentary_device("Device01")}

    async def scenario() -> Recorder:
        async with pair(prosody, SLIXMPP, otwire_plugin(), tag="n") as (requester, sensor):
            for node_id, device in nodes.items():
                sensor.plugin["xep_0323"].register_node(node_id, device, commTimeout=5.0)
            recorder = Recorder()
            requester.plugin["xep_0323"].request_data(
                requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true"}
            )
            await recorder.wait_for("failure")
            await recorder.settles(1.0)
            return recorder

    recorder = asyncio.run(scenario())
    assert recorder.results() == ["accepted", "failure", "fields", "done"]


def test_failing_node_among_good_ones_otwire_requester(prosody: ProsodyServer) -> None:
    nodes = {"Broken": _FailingDevice("Broken"), "Device01": momentary_device("Device01")}

    async def scenario() -> Recorder:
        async with pair(prosody, otwire_plugin(), otwire_plugin(), tag="n2") as (requester, sensor):
            for node_id, device in nodes.items():
                sensor.plugin["xep_0323"].register_node(node_id, device, commTimeout=5.0)
            recorder = Recorder()
            requester.plugin["xep_0323"].request_data(
                requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true"}
            )
            await recorder.wait_for("done", "rejected")
            return recorder

    recorder = asyncio.run(scenario())
    assert sorted(recorder.results()) == ["accepted", "done", "failure", "fields"]
    assert recorder.results()[0] == "accepted" and recorder.results()[-1] == "done"
    assert recorder.of("failure")[0]["nodeId"] == "Broken"


def test_comm_timeout_fails_the_silent_node_only(prosody: ProsodyServer) -> None:
    nodes = {"Silent": _SilentDevice("Silent"), "Device01": momentary_device("Device01")}

    async def scenario() -> Recorder:
        async with pair(prosody, otwire_plugin(), otwire_plugin(), tag="t") as (requester, sensor):
            sensor.plugin["xep_0323"].register_node("Silent", nodes["Silent"], commTimeout=1.0)
            sensor.plugin["xep_0323"].register_node("Device01", nodes["Device01"], commTimeout=5.0)
            recorder = Recorder()
            requester.plugin["xep_0323"].request_data(
                requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true"}
            )
            await recorder.wait_for("done", "rejected", timeout=10.0)
            return recorder

    recorder = asyncio.run(scenario())
    assert recorder.of("failure")[0]["nodeId"] == "Silent"
    assert recorder.of("fields")[0]["nodeId"] == "Device01"
    assert recorder.results()[-1] == "done"


class _ManyFieldsDevice(Device):
    """Momentary readout of ``count`` numeric fields, each value a different wire string."""

    def __init__(self, node_id: str, count: int) -> None:
        super().__init__(node_id)
        self.count = count

    def request_fields(self, fields, flags, session, callback):  # type: ignore[no-untyped-def]
        block = {
            "timestamp": MOMENTARY_TIMESTAMP,
            "fields": [
                {"type": "numeric", "name": f"F{i}", "value": f"{i}.50", "unit": "V", "dataType": None,
                 "flags": {"momentary": "true"}}
                for i in range(self.count)
            ],
        }  # fmt: skip
        callback(session, result="done", nodeId=self.nodeId, timestamp_block=block)


class _PlainValuesDevice(Device):
    """Reports Python values (float, bool, int) instead of strings (slixmpp's send queue dies on them: B8)."""

    def request_fields(self, fields, flags, session, callback):  # type: ignore[no-untyped-def]
        block = {
            "timestamp": MOMENTARY_TIMESTAMP,
            "fields": [
                {
                    "type": "numeric",
                    "name": "Temperature",
                    "value": 23.5,
                    "unit": "°C",
                    "dataType": None,
                    "flags": None,
                },
                {"type": "boolean", "name": "Heating", "value": True, "unit": None, "dataType": None, "flags": None},
            ],
        }
        callback(session, result="done", nodeId=self.nodeId, timestamp_block=block)


class _BadValueDevice(Device):
    def request_fields(self, fields, flags, session, callback):  # type: ignore[no-untyped-def]
        block = {
            "timestamp": MOMENTARY_TIMESTAMP,
            "fields": [{"type": "numeric", "name": "T", "value": "warm", "unit": "", "dataType": None, "flags": None}],
        }
        callback(session, result="done", nodeId=self.nodeId, timestamp_block=block)


class _ThreadedDevice(Device):
    """Reports from a thread of its own, as a device driver doing blocking I/O would."""

    def __init__(self, node_id: str) -> None:
        super().__init__(node_id)
        self.inner = momentary_device(node_id)

    def request_fields(self, fields, flags, session, callback):  # type: ignore[no-untyped-def]
        worker = threading.Thread(target=self.inner.request_fields, args=(fields, flags, session, callback))
        worker.start()


def test_large_readout_split_over_messages(prosody: ProsodyServer) -> None:
    recorder = asyncio.run(_read(prosody, "big", {"Big": _ManyFieldsDevice("Big", 250)}, flags={"momentary": "true"}))
    calls = recorder.of("fields")
    assert [len(call["fields"]) for call in calls] == [100, 100, 50]
    assert [f["value"] for call in calls for f in call["fields"]] == [f"{i}.50" for i in range(250)]
    assert recorder.results()[-1] == "done"


def test_scheduled_then_run(prosody: ProsodyServer) -> None:
    when = (dt.datetime.now() + dt.timedelta(seconds=2)).replace(microsecond=0).isoformat()
    recorder = asyncio.run(
        _read(prosody, "s", {"Device01": momentary_device("Device01")}, flags={"momentary": "true", "when": when})
    )
    assert recorder.results() == ["queued", "started", "fields", "done"]


def test_plain_python_values_sent_as_lexical_strings(prosody: ProsodyServer) -> None:
    recorder = asyncio.run(_read(prosody, "v", {"Plain": _PlainValuesDevice("Plain")}, flags={"momentary": "true"}))
    (call,) = recorder.of("fields")
    assert {f["name"]: f["value"] for f in call["fields"]} == {"Temperature": "23.5", "Heating": "true"}


def test_invalid_device_value_fails_the_node(prosody: ProsodyServer) -> None:
    nodes = {"Bad": _BadValueDevice("Bad")}
    recorder = asyncio.run(_read(prosody, "b", nodes, until=("failure", "done"), flags={"momentary": "true"}))
    assert recorder.results() == ["accepted", "failure"]  # slixmpp's requester ends at a failure (B4)
    assert recorder.of("failure")[0]["error_msg"].startswith("invalid data")


def test_device_reporting_from_its_own_thread(prosody: ProsodyServer) -> None:
    recorder = asyncio.run(_read(prosody, "th", {"Device01": _ThreadedDevice("Device01")}, flags={"momentary": "true"}))
    assert recorder.results() == ["accepted", "fields", "done"]
    assert len(recorder.of("fields")[0]["fields"]) == len(MOMENTARY_FIELDS)


def test_concurrent_readouts_both_roles_in_each_client(prosody: ProsodyServer) -> None:
    """Two otwire clients read each other at the same time, 10 readouts each way in flight at once."""

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with pair(prosody, otwire_plugin(), otwire_plugin(), tag="both") as (left, right):
            for client in (left, right):
                client.plugin["xep_0323"].register_node("Device01", momentary_device("Device01"), commTimeout=5.0)
            reads = [left.plugin["xep_0323"].read(right.boundjid.full, momentary=True) for _ in range(10)]
            reads += [right.plugin["xep_0323"].read(left.boundjid.full, momentary=True) for _ in range(10)]
            results = await asyncio.gather(*reads)
            return reads, results

    reads, results = asyncio.run(scenario())
    assert len({(r.peer, r.seqnr) for r in reads}) == 20
    for result in results:
        assert result.values()[("Device01", "Temperature")].lexical == "23.40"
