"""Every prefix of a valid i3X response or SSE stream, then the server's end of stream (notes §8).

Each prefix ends cleanly and typed: a request gets exactly one ``ResponseReceived`` (only
for a complete answer) or ``RequestFailed``; a stream ends with one ``StreamEnded`` that
is retried, or final only for ``event: close``; the changes seen are a prefix of the
whole stream's; only protocol errors (``RemoteProtocolError``) escape ``receive_data``;
the connection is handed back to the driver and nothing is left pending.
"""

from __future__ import annotations

import gzip
import json

import pytest

from otwire.codecs.i3x import CurrentValue, decode_bulk
from otwire.errors import ConnectionLost, DecodeError, RemoteProtocolError
from otwire.protocols import Event
from otwire.protocols.i3x import (
    I3XClientConfig,
    I3XClientEngine,
    RequestFailed,
    ResponseReceived,
    StreamEnded,
    StreamEndReason,
    StreamOpened,
    ValuesChanged,
)

VALUE = {"value": 1, "quality": "Good", "timestamp": "2026-01-01T00:00:00Z"}
BODY = json.dumps({"success": True, "results": [{"success": True, "elementId": "a", "result": VALUE}]}).encode()
NOT_FOUND = json.dumps({"success": False, "responseDetail": {"status": 404}}).encode()


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


RESPONSES = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(BODY[:20], BODY[20:]),
    "gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
    % (len(gzip.compress(BODY)), gzip.compress(BODY)),
    "until-close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY,
    "404": b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(NOT_FOUND), NOT_FOUND),
}

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENTS_10 = (
    b": connected\n\n"
    b'data: [{"elementId":"a","value":1,"sequenceNumber":1}]\n\n'
    b": keepalive\n\n"
    b'data: [{"elementId":"a","value":2,"sequenceNumber":2},\r\n'
    b'data: {"elementId":"b","value":3,"sequenceNumber":3}]\r\n\r\n'
)
STREAMS = {
    "1.0": SSE_HEAD + chunked(EVENTS_10[:30], EVENTS_10[30:]),
    "i3x2ua-close": SSE_HEAD + chunked(EVENTS_10, b"event: close\ndata: {}\n\n"),
    "cr-lines": SSE_HEAD + chunked(b'data: {"elementId":"c","value":4}\r\r'),
    "gzip": SSE_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n") + chunked(gzip.compress(EVENTS_10)),
}


def engine() -> I3XClientEngine:
    return I3XClientEngine(I3XClientConfig(seed=3, request_timeout=5.0, sse_idle_timeout=5.0))


def feed(engine: I3XClientEngine, conn_id: int, data: bytes) -> list[Event]:
    """Feed ``data`` then the end of stream; return the events (a protocol error may end it early)."""
    for piece in (data, b""):
        try:
            engine.receive_data(conn_id, piece, 1.0)
        except RemoteProtocolError:
            break
    assert conn_id in engine.connections_to_close(), "the connection was not handed back"
    events = []
    while (event := engine.next_event()) is not None:
        events.append(event)
    return events


def connect(engine: I3XClientEngine) -> int:
    [conn_id] = engine.connections_to_open()
    engine.connection_made(conn_id, 0.0)
    assert engine.data_to_send(conn_id)
    return conn_id


def prefixes(data: bytes) -> list[bytes]:
    return [data[:k] for k in range(len(data) + 1)]


@pytest.mark.parametrize("name", RESPONSES)
def test_every_prefix_of_a_response(name: str) -> None:
    whole = RESPONSES[name]
    for prefix in prefixes(whole):
        client = engine()
        request_id = client.request("POST", "/objects/value", None, 0.0, expect=lambda b: decode_bulk(b, CurrentValue))
        events = feed(client, connect(client), prefix)
        assert [e.request_id for e in events if isinstance(e, ResponseReceived | RequestFailed)] == [request_id]
        [outcome] = events
        if isinstance(outcome, ResponseReceived):
            if prefix != whole:  # only a close-delimited body may end early, and then it is what came
                assert name == "until-close", f"a cut answer was taken as whole: {prefix!r}"
                assert BODY.startswith(outcome.raw) and outcome.raw in (b"", BODY)  # else the JSON fails it
            else:
                assert outcome.raw == (BODY if outcome.status == 200 else NOT_FOUND)
        else:
            assert isinstance(outcome.error, ConnectionLost | DecodeError), outcome
        assert client.get_timer() is None


@pytest.mark.parametrize("name", STREAMS)
def test_every_prefix_of_a_stream(name: str) -> None:
    whole = STREAMS[name]
    full = changes_of(stream_events(whole))
    for prefix in prefixes(whole):
        events = stream_events(prefix)
        ends = [e for e in events if isinstance(e, StreamEnded)]
        assert len(ends) == 1, events
        end = ends[0]
        assert events[-1] is end
        assert [type(e) for e in events if isinstance(e, StreamOpened)] in ([], [StreamOpened])
        if end.reason is StreamEndReason.CLOSE_EVENT:
            assert end.retry_in is None and name == "i3x2ua-close"
        else:
            assert end.retry_in is not None and end.reason in RETRIED, end
        seen = changes_of(events)
        assert seen == full[: len(seen)], f"changes of {prefix!r} are not a prefix of the whole stream's"


RETRIED = {StreamEndReason.CLEAN_END, StreamEndReason.CONNECTION_LOST, StreamEndReason.PROTOCOL_ERROR}


def stream_events(data: bytes) -> list[Event]:
    client = engine()
    client.open_stream("sub-1", "client-1", 0.0)
    return feed(client, connect(client), data)


def changes_of(events: list[Event]) -> list[tuple[str, object]]:
    return [(c.element_id, c.value) for e in events if isinstance(e, ValuesChanged) for c in e.changes]


def test_the_whole_streams_carry_their_changes() -> None:
    assert changes_of(stream_events(STREAMS["1.0"])) == [("a", 1), ("a", 2), ("b", 3)]
    assert changes_of(stream_events(STREAMS["gzip"])) == [("a", 1), ("a", 2), ("b", 3)]
    assert changes_of(stream_events(STREAMS["cr-lines"])) == [("c", 4)]
    closed = stream_events(STREAMS["i3x2ua-close"])
    assert closed[-1] == StreamEnded(stream_id=1, reason=StreamEndReason.CLOSE_EVENT)
