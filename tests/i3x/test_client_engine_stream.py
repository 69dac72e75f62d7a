"""The i3X client engine's SSE streams against h11 server connections, with a fake clock (notes §5)."""

from __future__ import annotations

import gzip
import json
import random

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import splits
from otwire.codecs.i3x import ValueChange
from otwire.errors import ConnectionLost, DecodeError, LocalProtocolError, RequestTimeout
from otwire.protocols.i3x import (
    GapDetected,
    StreamEnded,
    StreamEndReason,
    StreamOpened,
    StreamReconnected,
    StreamState,
    ValuesChanged,
)

from .test_client_engine import Peer

SSE_HEADERS = [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]
E = StreamEndReason


def update(element_id: str, value: float, seq: int | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "elementId": element_id,
        "value": value,
        "quality": "Good",
        "timestamp": "2026-01-01T00:00:00Z",
    }
    if seq is not None:
        body["sequenceNumber"] = seq
    return body


def data(*updates: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(list(updates)).encode() + b"\n\n"


def open_stream(peer: Peer, status: int = 200, headers: list[tuple[str, str]] | None = None) -> tuple[int, int]:
    """Open a stream and answer its request head; return (stream id, connection id)."""
    stream_id = peer.engine.open_stream("sub-1", "client-1", peer.now)
    peer.pump()
    return stream_id, answer(peer, status, headers)


def answer(peer: Peer, status: int = 200, headers: list[tuple[str, str]] | None = None) -> int:
    conn_id = peer.opened[-1]
    peer.request_on(conn_id)
    server = peer.servers[conn_id]
    fields = SSE_HEADERS if headers is None else headers
    peer.feed(conn_id, server.send(h11.Response(status_code=status, headers=fields)) or b"")
    return conn_id


def send(peer: Peer, conn_id: int, chunk: bytes) -> None:
    peer.feed(conn_id, peer.servers[conn_id].send(h11.Data(data=chunk)) or b"")


def end(peer: Peer, conn_id: int) -> None:
    peer.feed(conn_id, peer.servers[conn_id].send(h11.EndOfMessage()) or b"")


def first_delay(seed: int = 7, base: float = 0.5) -> float:
    return base / 2 + random.Random(seed).random() * base / 2


def test_stream_request_and_values() -> None:
    peer = Peer()
    stream_id = peer.engine.open_stream("sub-1", "client-1", 0.0)
    peer.pump()
    head, body = peer.request_on(1)
    assert (head.method, head.target) == (b"POST", b"/v1/subscriptions/stream")
    assert dict(head.headers)[b"accept"] == b"text/event-stream"
    assert json.loads(body) == {"clientId": "client-1", "subscriptionId": "sub-1"}
    server = peer.servers[1]
    peer.feed(1, server.send(h11.Response(status_code=200, headers=SSE_HEADERS)) or b"")
    send(peer, 1, b": connected\n\n" + data(update("a", 1.0), update("b", 2.0)))
    opened, changed = peer.events()
    assert opened == StreamOpened(stream_id=stream_id, status=200)
    assert isinstance(changed, ValuesChanged)
    assert [c.element_id for c in changed.changes] == ["a", "b"]
    assert peer.engine.stream_state(stream_id) is StreamState.OPEN


STREAM = b": keepalive\r\n\r\n" + data(update("a", 1.0, 1)) + b"event: other\ndata: x\n\n" + data(update("b", 2.0, 2))


@given(st.lists(st.integers(0, len(STREAM)), max_size=8))
def test_any_split_gives_the_same_changes(points: list[int]) -> None:
    peer = Peer()
    _, conn_id = open_stream(peer)
    for piece in splits(STREAM, points):
        send(peer, conn_id, piece)
    changes = [c for e in peer.events() if isinstance(e, ValuesChanged) for c in e.changes]
    assert [(c.element_id, c.sequence_number) for c in changes] == [("a", 1), ("b", 2)]


def test_gzip_stream_is_decompressed() -> None:
    peer = Peer()
    _, conn_id = open_stream(peer, headers=[*SSE_HEADERS, ("Content-Encoding", "gzip")])
    packed = gzip.compress(data(update("a", 1.0)))
    send(peer, conn_id, packed[:7])
    send(peer, conn_id, packed[7:])
    assert [type(e) for e in peer.events()] == [StreamOpened, ValuesChanged]


def test_close_event_ends_the_stream_for_good() -> None:
    peer = Peer()
    stream_id, conn_id = open_stream(peer)
    send(peer, conn_id, data(update("a", 1.0)) + b"event: close\ndata: {}\n\n" + data(update("z", 9.0)))
    events = peer.events()
    assert [type(e) for e in events] == [StreamOpened, ValuesChanged, StreamEnded]
    assert events[-1] == StreamEnded(stream_id=stream_id, reason=E.CLOSE_EVENT)
    assert peer.closed == [conn_id]
    assert peer.engine.stream_state(stream_id) is StreamState.CLOSED
    assert peer.engine.get_timer() is None


def test_clean_end_reconnects_after_a_jittered_backoff() -> None:
    peer = Peer(backoff_min=0.5)
    stream_id, conn_id = open_stream(peer)
    end(peer, conn_id)
    ended = peer.events()[-1]
    assert ended == StreamEnded(stream_id=stream_id, reason=E.CLEAN_END, retry_in=first_delay())
    assert peer.closed == [conn_id]
    assert peer.engine.get_timer() == first_delay()
    peer.now = first_delay()
    peer.engine.handle_timer(peer.now)
    peer.pump()
    assert peer.opened == [1, 2]
    answer(peer)
    assert peer.events() == [StreamReconnected(stream_id=stream_id, status=200, attempts=1)]


def test_backoff_doubles_per_failure_within_its_bounds() -> None:
    peer = Peer(backoff_min=1.0, backoff_max=4.0)
    stream_id = peer.engine.open_stream("sub-1", "c", 0.0)
    delays = []
    for _ in range(5):
        [conn_id] = peer.engine.connections_to_open()
        peer.engine.connection_failed(conn_id, peer.now, OSError("refused"))
        [ended] = peer.events()
        assert ended.reason is E.CONNECTION_LOST and ended.stream_id == stream_id
        delays.append(ended.retry_in)
        peer.now += ended.retry_in
        peer.engine.handle_timer(peer.now)
    for delay, base in zip(delays, [1.0, 2.0, 4.0, 4.0, 4.0], strict=True):
        assert base / 2 <= delay <= base
    again = Peer(backoff_min=1.0, backoff_max=4.0)
    again.engine.open_stream("sub-1", "c", 0.0)
    [conn_id] = again.engine.connections_to_open()
    again.engine.connection_failed(conn_id, 0.0, OSError("refused"))
    assert again.events()[0].retry_in == delays[0]  # the seed makes the jitter repeatable


def test_idle_timeout_counts_any_octet_as_life() -> None:
    peer = Peer(sse_idle_timeout=5.0)
    stream_id, conn_id = open_stream(peer)
    assert peer.engine.get_timer() == 5.0
    peer.now = 4.0
    send(peer, conn_id, b": keepalive\n\n")
    assert peer.engine.get_timer() == 9.0
    peer.now = 9.0
    peer.engine.handle_timer(peer.now)
    peer.pump()
    ended = peer.events()[-1]
    assert (ended.reason, ended.retry_in is not None) == (E.IDLE_TIMEOUT, True)
    assert peer.closed == [conn_id]
    assert peer.engine.stream_state(stream_id) is StreamState.BACKOFF


def test_no_idle_timeout_by_default() -> None:
    peer = Peer(request_timeout=None)
    open_stream(peer)
    assert peer.engine.get_timer() is None


def test_unanswered_stream_request_times_out_and_retries() -> None:
    peer = Peer(request_timeout=2.0)
    peer.engine.open_stream("sub-1", "c", 0.0)
    peer.pump()
    peer.engine.handle_timer(2.0)
    [ended] = peer.events()
    assert ended.reason is E.CONNECTION_LOST and isinstance(ended.error, RequestTimeout)


def test_retry_after_is_honoured() -> None:
    peer = Peer()
    stream_id, conn_id = open_stream(peer, 503, [("Retry-After", "7"), ("Content-Length", "0")])
    [ended] = peer.events()
    assert (ended.reason, ended.status, ended.retry_in) == (E.HTTP_ERROR, 503, 7.0)
    assert peer.engine.stream_state(stream_id) is StreamState.BACKOFF
    assert peer.closed == [conn_id]


def test_sse_retry_field_sets_a_minimum_delay() -> None:
    peer = Peer()
    _, conn_id = open_stream(peer)
    send(peer, conn_id, b"retry: 3000\n\n")
    end(peer, conn_id)
    assert peer.events()[-1].retry_in == 3.0


def test_404_ends_the_stream_for_good() -> None:
    peer = Peer()
    stream_id, _ = open_stream(peer, 404, [("Content-Length", "0")])
    [ended] = peer.events()
    assert (ended.reason, ended.status, ended.retry_in) == (E.HTTP_ERROR, 404, None)
    assert peer.engine.stream_state(stream_id) is StreamState.CLOSED


def test_gap_detection_across_a_reconnect() -> None:
    peer = Peer()
    stream_id, conn_id = open_stream(peer)
    send(peer, conn_id, data(update("a", 1.0, 1), update("a", 2.0, 2)) + data(update("a", 3.0, 5)))
    end(peer, conn_id)
    peer.now = 100.0
    peer.engine.handle_timer(peer.now)
    peer.pump()
    conn_id = answer(peer)
    send(peer, conn_id, data(update("a", 9.0, 9)))
    events = peer.events()
    assert [e.last_sequence for e in events if isinstance(e, ValuesChanged)] == [2, 5, 9]  # kept across reconnects
    gaps = [e for e in events if isinstance(e, GapDetected)]
    assert gaps == [
        GapDetected(stream_id=stream_id, after_sequence=2, next_sequence=5),
        GapDetected(stream_id=stream_id, after_sequence=5, next_sequence=9),
    ]


def test_connection_lost_reconnects() -> None:
    peer = Peer()
    _, conn_id = open_stream(peer)
    peer.engine.connection_lost(conn_id, 0.0, OSError("reset"))
    ended = peer.events()[-1]
    assert ended.reason is E.CONNECTION_LOST and isinstance(ended.error, ConnectionLost)
    peer.feed(conn_id, b"")  # late end of stream: dropped


def test_end_of_stream_mid_body_is_connection_lost() -> None:
    peer = Peer()
    _, conn_id = open_stream(peer)
    send(peer, conn_id, b"data: [")
    peer.feed(conn_id, b"")
    assert peer.events()[-1].reason is E.CONNECTION_LOST


def test_bad_update_json_is_a_protocol_error_and_a_reconnect() -> None:
    peer = Peer()
    _, conn_id = open_stream(peer)
    with pytest.raises(DecodeError):
        send(peer, conn_id, b"data: [1, 2\n\n")
    peer.pump()
    ended = peer.events()[-1]
    assert ended.reason is E.PROTOCOL_ERROR and ended.retry_in is not None
    assert peer.closed == [conn_id]


def test_close_stream_is_local_close_and_idempotent() -> None:
    peer = Peer()
    stream_id, conn_id = open_stream(peer)
    peer.engine.close_stream(stream_id, 1.0)
    peer.engine.close_stream(stream_id, 2.0)
    peer.pump()
    assert peer.events()[-1] == StreamEnded(stream_id=stream_id, reason=E.LOCAL_CLOSE)
    assert peer.closed == [conn_id]
    assert peer.engine.get_timer() is None


def test_close_stream_during_backoff_cancels_the_reconnect() -> None:
    peer = Peer()
    stream_id, conn_id = open_stream(peer)
    end(peer, conn_id)
    peer.engine.close_stream(stream_id, 0.1)
    assert peer.engine.get_timer() is None
    assert peer.events()[-1].reason is E.LOCAL_CLOSE


def test_stream_and_requests_use_separate_connections() -> None:
    peer = Peer(pool_size=1)
    _, stream_conn = open_stream(peer)
    peer.engine.request("GET", "/info", None, 0.0)
    peer.pump()
    assert peer.opened == [stream_conn, stream_conn + 1]


def test_engine_close_ends_streams() -> None:
    peer = Peer()
    stream_id, _ = open_stream(peer)
    peer.engine.close(0.0)
    assert peer.events()[-1] == StreamEnded(stream_id=stream_id, reason=E.LOCAL_CLOSE)
    with pytest.raises(LocalProtocolError):
        peer.engine.close_stream(99, 0.0)


def test_value_change_keeps_components() -> None:
    peer = Peer()
    _, conn_id = open_stream(peer)
    item = update("pump", 1.0, 3)
    item["components"] = {"pump.speed": {"value": 5, "quality": "Good", "timestamp": "2026-01-01T00:00:00Z"}}
    send(peer, conn_id, data(item))
    [change] = peer.events()[-1].changes
    assert isinstance(change, ValueChange) and change.components is not None and "pump.speed" in change.components


def _wire(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    server = h11.Connection(h11.SERVER)
    server.receive_data(b"POST /v1/subscriptions/stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    server.next_event()
    server.next_event()
    out = server.send(h11.Response(status_code=200, headers=headers)) or b""
    for k in range(0, len(body), 11):
        out += server.send(h11.Data(data=body[k : k + 11])) or b""
    return out + (server.send(h11.EndOfMessage()) or b"")


@pytest.mark.parametrize("compressed", [False, True])
@given(points=st.lists(st.integers(0, 2000), max_size=10))
def test_any_split_of_the_raw_response_gives_the_same_events(compressed: bool, points: list[int]) -> None:
    body = gzip.compress(STREAM) if compressed else STREAM
    headers = [*SSE_HEADERS, ("Content-Encoding", "gzip")] if compressed else SSE_HEADERS
    wire = _wire(body, headers)
    peer = Peer()
    peer.engine.open_stream("sub-1", "c", 0.0)
    peer.pump()
    for piece in splits(wire, points):
        peer.engine.receive_data(1, piece, 0.0)
    events = peer.events()
    assert [type(e) for e in events] == [StreamOpened, ValuesChanged, ValuesChanged, StreamEnded]
    assert events[-1].reason is E.CLEAN_END


def test_streams_over_for_good_are_forgotten() -> None:
    peer = Peer()
    ids = []
    for _ in range(3):
        stream_id, conn_id = open_stream(peer)
        send(peer, conn_id, b"event: close\ndata: {}\n\n")
        ids.append(stream_id)
    backoff_id, conn_id = open_stream(peer)
    end(peer, conn_id)
    assert [peer.engine.stream_state(i) for i in ids] == [StreamState.CLOSED] * 3
    assert peer.engine.stream_state(backoff_id) is StreamState.BACKOFF
    assert list(peer.engine._streams) == [backoff_id]
    peer.engine.close_stream(ids[0], 1.0)  # nothing: already over
    with pytest.raises(LocalProtocolError, match="unknown stream"):
        peer.engine.stream_state(backoff_id + 1)
