"""Every check of i3x-client 1.0.0 against one i3X server, reported as one JSON line.

Run as ``python conformance.py BASE_URL`` in a subprocess (never inside the pytest process: ``tests/i3x``
shadows the ``i3x`` package there). Each check runs on its own, so one failure does not hide the others; the
last line of stdout is ``RESULT {"check": "ok" | "<ExceptionType>(<status_code>): <message>", ...}``. Everything
else printed (README output, i3x-client warnings) is for reading a failed run.

The checks: the README examples (``readme_examples.py``), every public ``Client`` method, its error mapping,
and its streams (composition depth 0, register after open, restart, takeover). Element ids are the otwire
demo plant's (``otwire serve i3x``), whose sensors change every second; checks that need a change wait for one
(bounded by ``TIMEOUT``) instead of writing, so that a server refusing writes fails only the write checks.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import readme_examples

import i3x

TIMEOUT = 20.0
SENSOR, OTHER = "pump-101-flow", "tank-1-level"
STAMP = "2026-01-01T00:00:00Z"

Check = Callable[[], None]
CHECKS: dict[str, Check] = {}


def check(function: Check) -> Check:
    CHECKS[function.__name__] = function
    return function


def outcome(exc: BaseException) -> str:
    """``Type(status_code): message`` of a failed check (``status_code`` only on i3x errors)."""
    status = f"({exc.status_code})" if isinstance(exc, i3x.I3XError) else ""
    return f"{type(exc).__name__}{status}: {exc}"


def shape(value: Any) -> str:
    """A value's type, with a dict's sorted keys (no changing content: the outcome must be stable)."""
    if isinstance(value, dict):
        return "dict{" + ",".join(sorted(value)) + "}"
    return type(value).__name__


def connected(**options: Any) -> i3x.Client:
    client = i3x.Client(BASE, timeout=TIMEOUT, **options)
    client.connect()
    return client


class Watcher:
    """``on_value_change``/``on_error`` recorder that signals once every id of ``wanted`` changed."""

    def __init__(self, client: i3x.Client, wanted: set[str]) -> None:
        self.wanted, self.seen, self.done, self.errors = wanted, set[str](), threading.Event(), list[Exception]()
        self.changes: list[i3x.ValueChange] = []
        client.on_value_change = self.changed
        client.on_error = lambda _client, error: self.errors.append(error)

    def changed(self, _client: i3x.Client, change: i3x.ValueChange) -> None:
        self.changes.append(change)
        self.seen.add(change.element_id)
        if self.wanted <= self.seen:
            self.done.set()

    def wait(self, what: str) -> None:
        if self.errors:
            raise self.errors[0]
        assert self.done.wait(TIMEOUT), f"{what}: saw {sorted(self.seen)}, errors {self.errors}"
        if self.errors:
            raise self.errors[0]
        self.seen.clear()
        self.done.clear()


def poll_sync(client: i3x.Client, sub_id: str, last: int | None) -> list[i3x.SyncBatch]:
    """``sync_subscription`` until it returns batches (the demo plant ticks every second), bounded."""
    deadline = time.monotonic() + TIMEOUT
    while not (batches := client.sync_subscription(sub_id, last_sequence_number=last)):
        assert time.monotonic() < deadline, "nothing to sync"
        time.sleep(0.1)  # polling interval
    return batches


# -- address space --------------------------------------------------------------------------------


@check
def get_info() -> None:
    client = i3x.Client(BASE, timeout=TIMEOUT, client_id="conformance-client")
    calls: list[str] = []
    client.on_connect = lambda _client: calls.append("connect")
    client.on_disconnect = lambda _client: calls.append("disconnect")
    client.connect()
    assert client.is_connected and client.server_info is not None and client.client_id == "conformance-client"
    info = client.get_info()
    assert info.spec_version.startswith("1.") and info.capabilities, info
    client.disconnect()
    assert not client.is_connected and calls == ["connect", "disconnect"], calls


@check
def beta_detection() -> None:
    """i3x-client flags a server as Beta by a substring of serverVersion (research §8, weakness 9)."""
    client = connected()
    beta, version = client._is_beta_server, client.server_info.server_version
    client.disconnect()
    assert not beta, f"serverVersion {version!r} taken for a Beta server"


@check
def explore() -> None:
    client = connected()
    namespaces = client.get_namespaces()
    assert namespaces and namespaces[0].uri, namespaces
    types = client.get_object_types()
    assert {"Pump", "Measurement"} <= {t.element_id for t in types}, types
    assert client.get_object_types(namespace_uri=namespaces[0].uri), "by namespace"
    assert [t.element_id for t in client.query_object_types(["Pump"])] == ["Pump"]
    assert "HasComponent" in {r.element_id for r in client.get_relationship_types()}
    assert client.get_relationship_types(namespace_uri=namespaces[0].uri)
    assert [r.element_id for r in client.query_relationship_types(["HasComponent"])] == ["HasComponent"]
    client.disconnect()


@check
def objects() -> None:
    client = connected()
    assert SENSOR in {o.element_id for o in client.get_objects()}
    assert [o.element_id for o in client.get_objects(root=True)] == ["plant"]
    pumps = client.get_objects(type_element_id="Pump", include_metadata=True)
    assert {o.element_id for o in pumps} == {"pump-101", "pump-102"}, pumps
    assert all(o.metadata is not None for o in pumps), pumps
    pump = client.get_object("pump-101", include_metadata=True)
    assert pump.element_id == "pump-101" and pump.parent_id == "line-1", pump
    assert [o.element_id for o in client.list_objects(["pump-101", SENSOR])] == ["pump-101", SENSOR]
    related = client.get_related_objects(["pump-101"], relationship_type="HasComponent")
    assert SENSOR in {r.object.element_id for r in related}, related
    assert client.get_related_objects(["pump-101"])
    client.disconnect()


@check
def read_values() -> None:
    client = connected()
    value = client.get_value(SENSOR)
    assert value.element_id == SENSOR and isinstance(value.value, float), value
    assert client.get_value("pump-101", max_depth=0).components, "composition"
    assert set(client.get_values([SENSOR, OTHER])) == {SENSOR, OTHER}
    history = client.get_history(SENSOR, start_time="2000-01-01T00:00:00Z")
    assert history.element_id == SENSOR and len(history.values) > 1, history
    client.disconnect()


def written(client: i3x.Client, element_id: str, value: float) -> bool:
    """Whether ``value`` is in the element's history (the demo plant may overwrite the current value at once)."""
    history = client.get_history(element_id, start_time="2000-01-01T00:00:00Z")
    return any(v.value == value for v in history.values)


@check
def update_value() -> None:
    client = connected()
    client.update_value(SENSOR, 72.5)
    assert written(client, SENSOR, 72.5)
    client.update_value(SENSOR, {"value": 73.5, "quality": "Good", "timestamp": STAMP})
    assert [v.value for v in client.get_history(SENSOR, start_time=STAMP, end_time=STAMP).values] == [73.5]
    client.disconnect()


@check
def update_values() -> None:
    client = connected()
    results = client.update_values({SENSOR: 74.5, OTHER: 18.3})
    assert [r.get("success") for r in results] == [True, True], results
    assert written(client, SENSOR, 74.5) and written(client, OTHER, 18.3)
    client.disconnect()


@check
def update_history() -> None:
    client = connected()
    client.update_history(SENSOR, [{"value": 1.0, "quality": "Good", "timestamp": STAMP}])
    history = client.get_history(SENSOR, start_time=STAMP, end_time=STAMP)
    assert [v.value for v in history.values] == [1.0], history
    client.disconnect()


# -- errors ---------------------------------------------------------------------------------------


def expect(error: type[i3x.I3XError], status: int, call: Callable[[], Any]) -> None:
    try:
        result = call()
    except error as exc:
        assert exc.status_code == status, f"{type(exc).__name__} with status {exc.status_code}, not {status}"
    else:
        raise AssertionError(f"returned {result!r}, no {error.__name__}")


@check
def errors_not_found() -> None:
    client = connected()
    for call in (lambda: client.get_object("nope"), lambda: client.get_value("nope"),
                 lambda: client.get_history("nope"), lambda: client.update_value("nope", 1),
                 lambda: client.get_subscription("nope"), lambda: client.register_items("nope", [SENSOR]),
                 lambda: client.sync_subscription("nope")):  # fmt: skip
        expect(i3x.NotFoundError, 404, call)
    assert client.list_objects(["nope"]) == [] and client.get_values(["nope"]) == {}
    client.disconnect()


@check
def errors_bulk_items() -> None:
    client = connected()
    results = client.update_values({"nope": 1.0})
    assert results[0]["success"] is False and results[0]["responseDetail"]["status"] == 404, results
    client.disconnect()


@check
def errors_refused_value_writes() -> None:
    client = connected()
    expect(i3x.I3XError, 400, lambda: client.update_value(SENSOR, 1.0, timestamp="yesterday"))
    expect(i3x.I3XError, 400, lambda: client.update_value(SENSOR, 1.0, quality="Weird"))
    expect(i3x.I3XError, 400, lambda: client.update_value(SENSOR, "fast"))  # the Measurement type is a number
    client.disconnect()


@check
def errors_refused_history_writes() -> None:
    client = connected()
    expect(i3x.I3XError, 400, lambda: client.update_history(SENSOR, {"value": 1.0}))
    bad = [{"value": 1.0, "quality": "Weird", "timestamp": STAMP}]
    expect(i3x.I3XError, 400, lambda: client.update_history(SENSOR, bad))
    off_schema = [{"value": "fast", "quality": "Good", "timestamp": STAMP}]
    expect(i3x.I3XError, 400, lambda: client.update_history(SENSOR, off_schema))
    assert client.get_history(SENSOR, start_time="2000-01-01T00:00:00Z").values  # still readable
    client.disconnect()


# -- subscriptions --------------------------------------------------------------------------------


@check
def subscription_items() -> None:
    client = connected()
    sub_id = client.create_subscription(display_name="conformance")
    assert [r["success"] for r in client.register_items(sub_id, [SENSOR, OTHER])] == [True, True]
    assert [r["success"] for r in client.unregister_items(sub_id, [OTHER])] == [True]
    sub = client.get_subscription(sub_id)
    assert sub.subscription_id == sub_id and sub.display_name == "conformance", sub
    assert [o["elementId"] for o in sub.monitored_objects] == [SENSOR], sub
    assert [s.subscription_id for s in client.list_subscriptions([sub_id])] == [sub_id]
    client.unsubscribe(sub_id)
    expect(i3x.NotFoundError, 404, lambda: client.get_subscription(sub_id))
    client.disconnect()


@check
def sync_subscription() -> None:
    client = connected()
    sub_id = client.create_subscription()
    client.register_items(sub_id, [SENSOR])
    batches = poll_sync(client, sub_id, None)
    updates = [u for b in batches for u in b.updates]
    assert updates, "batches without updates"
    assert {u.element_id for u in updates} == {SENSOR}, updates
    assert all(isinstance(u.value, float) for u in updates), f"update value is {shape(updates[0].value)}"
    last = batches[-1].sequence_number
    later = poll_sync(client, sub_id, last)
    assert all(b.sequence_number > last for b in later), (last, later)
    client.sync_subscription(sub_id, last_sequence_number=-1)
    client.unsubscribe(sub_id)
    client.disconnect()


@check
def sync_while_streaming() -> None:
    """1.0: ``/sync`` on a streaming subscription is a 400 (research §6)."""
    client = connected()
    watcher = Watcher(client, {SENSOR})
    sub = client.subscribe([SENSOR])
    watcher.wait("stream")
    try:
        expect(i3x.I3XError, 400, lambda: client.sync_subscription(sub))
    finally:
        client.unsubscribe(sub)
        client.disconnect()


@check
def stream() -> None:
    """``create_subscription`` + ``start_stream``, ``stop_stream``; the value of a change is a number."""
    client = connected()
    watcher = Watcher(client, {SENSOR})
    sub_id = client.create_subscription()
    client.register_items(sub_id, [SENSOR])
    client.start_stream(sub_id)
    watcher.wait("start_stream")
    client.stop_stream(sub_id)
    client.unsubscribe(sub_id)
    client.disconnect()
    change = watcher.changes[0]
    assert isinstance(change.value, float), f"stream value is {shape(change.value)}"
    assert change.quality == "Good" and change.timestamp, change


@check
def subscribe() -> None:
    client = connected()
    subscribed: list[i3x.Subscription] = []
    client.on_subscribe = lambda _client, sub: subscribed.append(sub)
    watcher = Watcher(client, {OTHER})
    sub = client.subscribe([OTHER], display_name="high level")
    assert subscribed == [sub] and sub.subscription_id, subscribed
    watcher.wait("subscribe")
    client.unsubscribe(sub)
    expect(i3x.NotFoundError, 404, lambda: client.get_subscription(sub.subscription_id))
    client.disconnect()


@check
def stream_composition_depth0() -> None:
    client = connected()
    watcher = Watcher(client, {"motor-101-speed", "motor-101-current", SENSOR, "pump-101-bearing-temperature"})
    sub = client.subscribe(["pump-101"], max_depth=0)
    watcher.wait("a composition registered with max_depth=0 streams its components")
    client.unsubscribe(sub)
    client.disconnect()


@check
def stream_register_after_open_and_restart() -> None:
    client = connected()
    watcher = Watcher(client, {OTHER})
    sub_id = client.create_subscription()
    client.start_stream(sub_id)
    client.register_items(sub_id, [OTHER])
    watcher.wait("items registered after the stream opened")
    client.stop_stream(sub_id)
    watcher.seen.clear()
    client.start_stream(sub_id)
    watcher.wait("stop_stream then start_stream again")
    client.unsubscribe(sub_id)
    client.disconnect()


@check
def stream_takeover() -> None:
    """A second stream on a subscription takes it over; the first one ends quietly (research §5)."""
    first = connected()
    first_watch = Watcher(first, {OTHER})
    sub_id = first.create_subscription()
    first.register_items(sub_id, [OTHER])
    first.start_stream(sub_id)
    first_watch.wait("first stream")
    second = connected(client_id=first.client_id)
    second_watch = Watcher(second, {OTHER})
    second.start_stream(sub_id)
    try:
        second_watch.wait("the second stream")
        old = first._sub_manager._streams[sub_id]
        deadline = time.monotonic() + TIMEOUT
        while old.is_running and not first_watch.errors:  # the old stream's thread ends, or reports an error
            assert time.monotonic() < deadline, "the old stream neither ended nor failed"
            time.sleep(0.05)  # polling interval
        if first_watch.errors:
            raise first_watch.errors[0]
    finally:
        second.disconnect()
        first.unsubscribe(sub_id)
        first.disconnect()


for _example in readme_examples.EXAMPLES:
    CHECKS[f"readme_{_example.__name__}"] = _example

BASE = ""


def main(base_url: str) -> None:
    global BASE
    BASE = readme_examples.BASE = base_url
    results: dict[str, str] = {}
    for name, run in CHECKS.items():
        try:
            run()
        except Exception as exc:  # each check reports, the others still run
            traceback.print_exc()
            results[name] = outcome(exc)
        else:
            results[name] = "ok"
        print("CHECK", name, results[name], flush=True)
    print("RESULT", json.dumps(results, sort_keys=True), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
