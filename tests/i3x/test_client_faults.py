"""i3X client faults the real server has no switch for, on a scripted stub (blocking and asyncio clients).

A half-open stream (idle timeout, reconnect, resync), a cut and a clean end, a sequence
jump, 403/404/501/5xx mapped to the error classes, Beta detection by behaviour; the
engine's takeover guard and the sync ack helper on their own (fake clock, no I/O).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

import otwire.clients.i3x as i3x
from otwire.codecs.i3x import ResponseDetail
from otwire.protocols.i3x import StreamEnded, StreamEndReason, StreamReconnected

from .test_client_engine import Peer
from .test_client_engine_stream import answer, end, first_delay, open_stream
from .test_client_kit import INFO, KINDS, Recorder, Reply, Stub, error, make_client, ok

SUB = "sub-1"
E = StreamEndReason


def update(value: float, seq: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"elementId": "x", "value": value, "quality": "Good", "timestamp": "2026-01-01T00:00:00Z"}
    if seq is not None:
        body["sequenceNumber"] = seq
    return body


def sse(*updates: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(list(updates)).encode() + b"\n\n"


class Plant:
    """The stub's answers: one subscription ``sub-1`` watching ``x`` (value 42); streams scripted per attempt."""

    def __init__(self, streams: list[Reply]) -> None:
        self.streams = streams
        self.stream_count = 0
        self.lock = threading.Lock()

    def __call__(self, method: str, target: str, body: Any) -> Reply:
        path = target.removeprefix("/v1")
        if path == "/info":
            return ok(INFO)
        if path == "/subscriptions/stream":
            with self.lock:
                self.stream_count += 1
                return self.streams[min(self.stream_count, len(self.streams)) - 1]
        if path == "/subscriptions/list":
            result = {"subscriptionId": SUB, "clientId": "c", "monitoredObjects": [{"elementId": "x", "maxDepth": 1}]}
            return Reply(
                body={"success": True, "results": [{"success": True, "subscriptionId": SUB, "result": result}]}
            )
        if path == "/objects/value" and method == "POST":
            value = {"isComposition": False, "value": 42, "quality": "Good", "timestamp": "2026-01-01T00:00:01Z"}
            return Reply(body={"success": True, "results": [{"success": True, "elementId": "x", "result": value}]})
        return error(404)


FIRST = Reply(sse=[sse(update(1.0, 1))], after="end")
LAST = Reply(sse=[sse(update(2.0, 2))], after="hang")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("streams", "reason"),
    [
        ([Reply(sse=[b": connected\n\n", sse(update(1.0, 1))], after="hang"), LAST], E.IDLE_TIMEOUT),
        ([FIRST, LAST], E.CLEAN_END),
        ([Reply(sse=[sse(update(1.0, 1)), b"data: [{"], after="cut"), LAST], E.CONNECTION_LOST),
        ([FIRST, Reply(status=503, body={"success": False}, headers=[("Retry-After", "0")]), LAST], E.HTTP_ERROR),
    ],
    ids=["half-open", "clean-end", "cut", "503"],
)
def test_stream_end_reconnects_resyncs_and_reports_the_gap(
    kind: str, streams: list[Reply], reason: StreamEndReason
) -> None:
    plant = Plant(streams)
    with Stub(plant) as stub, make_client(kind, stub.url, idle_timeout=0.3, backoff=(0.01, 0.02)) as client:
        seen = Recorder(client)
        client.start_stream(SUB)
        seen.wait(lambda: any(c.value == 2.0 for c in seen.changes), "the change after the reconnect")
        assert plant.stream_count >= len(streams)  # the last stream idles out too, later
        gap = seen.gaps[0]
        assert (gap.cause, gap.stream_end, gap.subscription_id) == (i3x.GapCause.RECONNECT, reason, SUB)
        assert gap.after_sequence == 1
        values = [(type(c).__name__, c.value) for c in seen.changes]
        assert values[:3] == [("ValueChange", 1.0), ("ResyncedChange", 42), ("ValueChange", 2.0)]
        assert ("ResyncedChange", 42) not in values[3:]  # an unchanged value is not resynced twice
        assert client.stats.reconnects >= 1 and client.stats.resyncs >= 1 and client.stats.gaps >= 1
        assert not seen.errors


@pytest.mark.parametrize("kind", KINDS)
def test_a_sequence_jump_is_a_gap(kind: str) -> None:
    plant = Plant([Reply(sse=[sse(update(1.0, 1)), sse(update(4.0, 4))], after="hang")])
    with Stub(plant) as stub, make_client(kind, stub.url) as client:
        seen = Recorder(client)
        client.start_stream(SUB)
        seen.wait(lambda: len(seen.changes) == 2 and bool(seen.gaps), "both changes and the gap")
        assert seen.gaps == [
            i3x.Gap(subscription_id=SUB, cause=i3x.GapCause.SEQUENCE, after_sequence=1, next_sequence=4)
        ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, i3x.AuthenticationError),
        (403, i3x.AuthenticationError),
        (404, i3x.NotFoundError),
        (501, i3x.NotSupportedError),
        (500, i3x.ServerError),
        (503, i3x.ServerError),
        (400, i3x.I3XError),
    ],
)
def test_status_codes_map_to_the_error_classes(kind: str, status: int, cls: type[i3x.I3XError]) -> None:
    def handler(method: str, target: str, body: Any) -> Reply:
        return ok(INFO) if target.endswith("/info") else error(status, beta=status == 500)

    with Stub(handler) as stub, make_client(kind, stub.url) as client:
        with pytest.raises(cls) as info:
            client.get_namespaces()
        assert info.value.status_code == status and type(info.value) is cls
        seen = Recorder(client)
        client.start_stream(SUB)
        if status < 500:  # final for a stream
            seen.wait(lambda: bool(seen.errors), "the stream's final error")
            assert isinstance(seen.errors[0], i3x.StreamError) and seen.errors[0].status_code == status


@pytest.mark.parametrize("kind", KINDS)
def test_beta_server_detected_by_its_answer_not_its_version(kind: str) -> None:
    def handler(method: str, target: str, body: Any) -> Reply:
        if target.endswith("/info"):
            return ok({**INFO, "serverVersion": "1.0"})  # says nothing about Beta
        if method == "PUT" and target == "/v1/objects/value":
            return error(404, beta=True)  # no bulk write route: a Beta server
        if method == "PUT" and target.startswith("/v1/objects/"):
            return ok(None) if "missing" not in target else error(404, beta=True)
        return error(404)

    with Stub(handler) as stub, make_client(kind, stub.url) as client:
        client.update_value("a/b", 1.5)
        assert stub.targets("PUT") == ["/v1/objects/value", "/v1/objects/a%2Fb/value"]
        assert stub.requests[-1][2] == {"value": 1.5}
        results = client.update_values({"x": 2, "missing": 3})  # straight to the per-element route now
        assert stub.targets("PUT")[2:] == ["/v1/objects/x/value", "/v1/objects/missing/value"]
        assert [r["success"] for r in results] == [True, False] and results[1]["responseDetail"]["status"] == 404
        with pytest.raises(i3x.NotFoundError):
            client.update_value("missing", 1)


def test_a_release_server_refusing_an_item_is_not_taken_for_beta() -> None:
    def handler(method: str, target: str, body: Any) -> Reply:
        if target.endswith("/info"):
            return ok({**INFO, "serverVersion": "3.0-beta"})
        failed = {"success": False, "elementId": "x", "responseDetail": {"status": 404, "title": "Not Found"}}
        return Reply(body={"success": False, "results": [failed]})

    with Stub(handler) as stub, make_client("sync", stub.url) as client:
        with pytest.raises(i3x.NotFoundError):
            client.update_value("x", 1)
        assert stub.targets("PUT") == ["/v1/objects/value"]


# -- the engine's takeover guard (fake clock) -------------------------------------------------


def test_a_second_quick_clean_end_is_a_takeover_and_final() -> None:
    peer = Peer(backoff_min=0.5, takeover_window=5.0)
    stream_id, conn_id = open_stream(peer)
    end(peer, conn_id)  # first clean end: reconnect
    peer.now = first_delay()
    peer.engine.handle_timer(peer.now)
    peer.pump()
    second = answer(peer)
    peer.now += 1.0
    end(peer, second)  # again, 1 s after the reopen: someone else took the stream
    events = peer.events()
    assert isinstance(events[-2], StreamReconnected)
    assert events[-1] == StreamEnded(stream_id=stream_id, reason=E.TAKEN_OVER)
    assert peer.engine.get_timer() is None


def test_a_clean_end_long_after_the_reopen_reconnects_again() -> None:
    peer = Peer(backoff_min=0.5, takeover_window=5.0)
    _, conn_id = open_stream(peer)
    end(peer, conn_id)
    peer.now = first_delay()
    peer.engine.handle_timer(peer.now)
    peer.pump()
    second = answer(peer)
    peer.now += 6.0
    end(peer, second)
    last = peer.events()[-1]
    assert last.reason is E.CLEAN_END and last.retry_in is not None


def test_takeover_guard_off() -> None:
    peer = Peer(backoff_min=0.5, takeover_window=None)
    _, conn_id = open_stream(peer)
    end(peer, conn_id)
    peer.now = first_delay()
    peer.engine.handle_timer(peer.now)
    peer.pump()
    end(peer, answer(peer))
    assert peer.events()[-1].reason is E.CLEAN_END


# -- the sync ack helper ----------------------------------------------------------------------


def batch(seq: int, *updates: i3x.ValueChange) -> i3x.SyncBatch:
    return i3x.SyncBatch(seq, list(updates))


def change(value: float, seq: int | None = None) -> i3x.ValueChange:
    return i3x.ValueChange("x", value, "Good", "2026-01-01T00:00:00Z", None, seq)


def test_cursor_acks_on_the_next_call_and_drops_rebundled_duplicates() -> None:
    cursor = i3x.SyncCursor()
    assert cursor.ack is None
    first = cursor.accept(SUB, [batch(6, *(change(v, v) for v in range(1, 7)))])
    assert len(first.changes) == 6 and cursor.ack == 6
    again = cursor.accept(SUB, [batch(10, *(change(v, v) for v in range(1, 11)))])  # i3x2ua re-bundles
    assert [c.value for c in again.changes] == [7, 8, 9, 10] and again.duplicates == 6 and cursor.ack == 10
    plain = cursor.accept(SUB, [batch(9, change(1.0)), batch(11, change(2.0))])  # no per-update numbers
    assert [c.value for c in plain.changes] == [2.0] and plain.duplicates == 1 and cursor.ack == 11


def test_cursor_clear_sends_minus_one_once_and_206_is_a_gap() -> None:
    cursor = i3x.SyncCursor(last_sequence_number=3)
    cursor.clear()
    assert cursor.ack == -1
    detail = ResponseDetail(title="Updates dropped", status=206, detail="overflow")
    result = cursor.accept(SUB, [batch(8, change(1.0))], detail)
    assert cursor.ack == 8 and result.gap is not None and result.gap.after_sequence is None  # -1 acked nothing
    overflow = cursor.accept(SUB, [batch(20, change(2.0))], detail)
    assert overflow.gap == i3x.Gap(
        subscription_id=SUB, cause=i3x.GapCause.OVERFLOW, after_sequence=8, next_sequence=20, detail="overflow"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_sync_changes_resends_the_ack_after_a_failure(kind: str) -> None:
    acks: list[Any] = []
    answers = iter(
        [
            ok([{"sequenceNumber": 1, "updates": [update(1.0)]}]),
            error(503),
            ok([{"sequenceNumber": 2, "updates": [update(2.0)]}]),
        ]
    )

    def handler(method: str, target: str, body: Any) -> Reply:
        if target.endswith("/info"):
            return ok(INFO)
        acks.append(body.get("lastSequenceNumber"))
        return next(answers)

    with Stub(handler) as stub, make_client(kind, stub.url) as client:
        assert [c.value for c in client.sync_changes(SUB).changes] == [1.0]
        with pytest.raises(i3x.ServerError):
            client.sync_changes(SUB)
        assert [c.value for c in client.sync_changes(SUB).changes] == [2.0]
        assert acks == [None, 1, 1]
        assert client.sync_cursor(SUB).last_sequence_number == 2


def test_a_paused_stream_holds_its_idle_timer() -> None:
    peer = Peer(sse_idle_timeout=5.0)
    stream_id, conn_id = open_stream(peer)
    assert peer.engine.get_timer() == 5.0
    assert peer.engine.pause_stream(stream_id, True, 1.0) == conn_id
    assert peer.engine.get_timer() is None
    peer.now = 20.0
    peer.engine.handle_timer(peer.now)
    assert peer.engine.stream_state(stream_id).value == "open" and not peer.events()[1:]
    assert peer.engine.pause_stream(stream_id, False, 20.0) == conn_id
    assert peer.engine.get_timer() == 25.0
    peer.engine.close_stream(stream_id, 21.0)
    assert peer.engine.pause_stream(stream_id, True, 22.0) is None  # over: nothing to pause


def test_changes_yields_the_gap_and_the_resync_in_order() -> None:
    plant = Plant([FIRST, LAST])

    async def main(url: str) -> list[Any]:
        async with i3x.AsyncClient(url, timeout=5.0, backoff=(0.01, 0.02)) as client:
            items = []
            async for item in client.changes(SUB, gaps=True):
                items.append(item)
                if len(items) == 4:
                    client.stop_stream(SUB)
            return items

    with Stub(plant) as stub:
        items = asyncio.run(asyncio.wait_for(main(stub.url), 20))
    assert [type(item).__name__ for item in items] == ["ValueChange", "Gap", "ResyncedChange", "ValueChange"]
    assert [items[0].value, items[2].value, items[3].value] == [1.0, 42, 2.0]
    assert items[1].cause is i3x.GapCause.RECONNECT and items[1].stream_end is E.CLEAN_END
