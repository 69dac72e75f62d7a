"""Every (state, input) pair of the client engine's two tables: connection and stream (specs/pattern.md rule 1).

Each state is reached through the real objects' verbs (not by setting it), then each
input is applied: allowed inputs lead to the listed state; refused local inputs raise
``LocalProtocolError``, refused peer inputs ``RemoteProtocolError``, and the state
does not change.
"""

from __future__ import annotations

from collections.abc import Callable

import h11
import pytest

from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols import TerminationReason
from otwire.protocols.i3x import I3XClientConfig
from otwire.protocols.i3x._client_http import HTTPConnection
from otwire.protocols.i3x._client_stream import StreamRecord
from otwire.protocols.i3x._state import (
    CONN_END_INPUTS,
    CONN_LOCAL_INPUTS,
    CONN_TRANSITIONS,
    STREAM_LOCAL_INPUTS,
    STREAM_TRANSITIONS,
    ConnInput,
    ConnState,
    StreamInput,
    StreamState,
)

GET = h11.Request(method="GET", target="/v1/info", headers=[("Host", "x")])


def _conn(state: ConnState) -> HTTPConnection:
    conn = HTTPConnection(1, "request")
    if state is ConnState.CONNECTING:
        return conn
    conn.made()
    if state is ConnState.BUSY:
        conn.send_request(("request", 1), GET, b"")
    elif state is ConnState.CLOSED:
        conn.end(TerminationReason.LOCAL_CLOSE)
    return conn


def _stream(state: StreamState) -> StreamRecord:
    stream = StreamRecord(1, "sub", "client", I3XClientConfig())
    steps: dict[StreamState, list[Callable[[], object]]] = {
        StreamState.CONNECTING: [],
        StreamState.REQUESTED: [lambda: stream.move(StreamInput.CONNECTED)],
        StreamState.OPEN: [lambda: stream.move(StreamInput.CONNECTED), lambda: stream.opened(200, [], 0.0)],
        StreamState.BACKOFF: [lambda: stream.move(StreamInput.ENDED_RETRY)],
        StreamState.CLOSED: [lambda: stream.move(StreamInput.CLOSE)],
    }
    for step in steps[state]:
        step()
    return stream


@pytest.mark.parametrize("state", list(ConnState))
@pytest.mark.parametrize("event", list(ConnInput))
def test_connection_table(state: ConnState, event: ConnInput) -> None:
    conn = _conn(state)
    assert conn.state is state
    expected = CONN_TRANSITIONS.get((state, event))
    if expected is not None:
        assert conn._move(event) is expected
        return
    error = LocalProtocolError if event in CONN_LOCAL_INPUTS else RemoteProtocolError
    with pytest.raises(error, match=f"not allowed in state {state.name}"):
        conn._move(event)
    assert conn.state is state


@pytest.mark.parametrize("state", list(StreamState))
@pytest.mark.parametrize("event", list(StreamInput))
def test_stream_table(state: StreamState, event: StreamInput) -> None:
    stream = _stream(state)
    assert stream.state is state
    expected = STREAM_TRANSITIONS.get((state, event))
    if expected is not None:
        assert stream.move(event) is expected
        return
    error = LocalProtocolError if event in STREAM_LOCAL_INPUTS else RemoteProtocolError
    with pytest.raises(error, match=f"not allowed in state {state.name}"):
        stream.move(event)
    assert stream.state is state


def test_closed_states_accept_nothing_and_every_end_is_a_row_of_every_open_state() -> None:
    assert not [key for key in CONN_TRANSITIONS if key[0] is ConnState.CLOSED]
    assert not [key for key in STREAM_TRANSITIONS if key[0] is StreamState.CLOSED]
    for end in CONN_END_INPUTS.values():
        for state in (ConnState.IDLE, ConnState.BUSY):
            assert CONN_TRANSITIONS[(state, end)] is ConnState.CLOSED
    for state in (StreamState.CONNECTING, StreamState.REQUESTED, StreamState.OPEN, StreamState.BACKOFF):
        assert STREAM_TRANSITIONS[(state, StreamInput.CLOSE)] is StreamState.CLOSED


def test_keep_alive_cycle_returns_to_idle() -> None:
    conn = _conn(ConnState.BUSY)
    server = h11.Connection(h11.SERVER)
    server.receive_data(conn.data_to_send())
    while server.next_event() is not h11.NEED_DATA:
        pass
    reply = server.send(h11.Response(status_code=204, headers=[])) or b""
    reply += server.send(h11.EndOfMessage()) or b""
    assert [type(e) for e in conn.feed(reply)] == [h11.Response, h11.EndOfMessage]
    assert conn.next_cycle() is True
    assert conn.state is ConnState.IDLE
