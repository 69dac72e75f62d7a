"""The only transition tables of the i3X engines (specs/pattern.md rule 1).

Each table is ``{(state, input): new_state}``; a missing pair is refused
(``LocalProtocolError`` for an input in ``*_LOCAL_INPUTS``, else ``RemoteProtocolError``).
Every way to end is a row too.
"""

from __future__ import annotations

import enum

from otwire.protocols import TerminationReason

__all__ = [
    "CONN_END_INPUTS",
    "CONN_LOCAL_INPUTS",
    "CONN_TRANSITIONS",
    "STREAM_LOCAL_INPUTS",
    "STREAM_TRANSITIONS",
    "ConnInput",
    "ConnState",
    "StreamInput",
    "StreamState",
]

# --- client engine (branch i3x-engine) ------------------------------------------------------

R = TerminationReason


class ConnState(enum.Enum):
    """Lifecycle of one client HTTP/1.1 connection owned by the client engine."""

    CONNECTING = "connecting"
    """The engine asked the driver to open it (``connections_to_open``)."""
    IDLE = "idle"
    """Open, no request in flight (keep-alive)."""
    BUSY = "busy"
    """One request sent or being answered (no pipelining); a stream keeps it BUSY."""
    CLOSED = "closed"
    """Over; the driver was asked to close it (``connections_to_close``) or it failed."""


class ConnInput(enum.Enum):
    """Everything that can happen to one client connection."""

    MADE = "connection made"
    SEND = "send a request"
    RESPONSE_DONE = "response complete, keep-alive"
    CLOSE = "close"
    FAILED = "connect failed"
    EOF = "end of stream"
    CONNECTION_LOST = "transport failed"
    PROTOCOL_ERROR = "bad HTTP, gzip or body size"
    TIMEOUT = "request or idle timeout"


#: Inputs caused by the local user.
CONN_LOCAL_INPUTS = frozenset({ConnInput.SEND, ConnInput.CLOSE})

#: The input that ends a connection for each reason it uses.
CONN_END_INPUTS = {
    R.LOCAL_CLOSE: ConnInput.CLOSE,
    R.PEER_CLOSED: ConnInput.EOF,
    R.CONNECTION_LOST: ConnInput.CONNECTION_LOST,
    R.PROTOCOL_ERROR: ConnInput.PROTOCOL_ERROR,
    R.IDLE_TIMEOUT: ConnInput.TIMEOUT,
}

_C = ConnState
_ENDS = (ConnInput.CLOSE, ConnInput.EOF, ConnInput.CONNECTION_LOST, ConnInput.PROTOCOL_ERROR, ConnInput.TIMEOUT)

#: ``CONN_TRANSITIONS[(state, input)] -> new state``; CLOSED accepts nothing.
CONN_TRANSITIONS: dict[tuple[ConnState, ConnInput], ConnState] = {
    (_C.CONNECTING, ConnInput.MADE): _C.IDLE,
    (_C.CONNECTING, ConnInput.FAILED): _C.CLOSED,
    (_C.CONNECTING, ConnInput.CLOSE): _C.CLOSED,
    (_C.CONNECTING, ConnInput.CONNECTION_LOST): _C.CLOSED,
    (_C.CONNECTING, ConnInput.TIMEOUT): _C.CLOSED,
    (_C.IDLE, ConnInput.SEND): _C.BUSY,
    (_C.BUSY, ConnInput.RESPONSE_DONE): _C.IDLE,
    **{(s, i): _C.CLOSED for s in (_C.IDLE, _C.BUSY) for i in _ENDS},
}


class StreamState(enum.Enum):
    """Lifecycle of one SSE stream (it outlives its connections: reconnects)."""

    CONNECTING = "connecting"
    """Waiting for its own connection; the request is sent once it is made."""
    REQUESTED = "requested"
    """``POST /subscriptions/stream`` sent; no response head yet."""
    OPEN = "open"
    """2xx received; events flow."""
    BACKOFF = "backoff"
    """Ended; a reconnect is due at a time (``get_timer``)."""
    CLOSED = "closed"
    """Over for good (``close_stream``, ``event: close``, a final HTTP error)."""


class StreamInput(enum.Enum):
    """Everything that can happen to one stream."""

    CONNECTED = "connection made"
    RESPONSE_OK = "2xx response head"
    ENDED_RETRY = "ended, reconnect later"
    ENDED_FINAL = "ended for good"
    RETRY_DUE = "reconnect time reached"
    CLOSE = "close_stream"


#: Inputs caused by the local user.
STREAM_LOCAL_INPUTS = frozenset({StreamInput.CLOSE})

_S = StreamState
_LIVE = (_S.CONNECTING, _S.REQUESTED, _S.OPEN)

#: ``STREAM_TRANSITIONS[(state, input)] -> new state``; CLOSED accepts nothing.
STREAM_TRANSITIONS: dict[tuple[StreamState, StreamInput], StreamState] = {
    (_S.CONNECTING, StreamInput.CONNECTED): _S.REQUESTED,
    (_S.REQUESTED, StreamInput.RESPONSE_OK): _S.OPEN,
    **{(s, StreamInput.ENDED_RETRY): _S.BACKOFF for s in _LIVE},
    **{(s, StreamInput.ENDED_FINAL): _S.CLOSED for s in _LIVE},
    (_S.BACKOFF, StreamInput.RETRY_DUE): _S.CONNECTING,
    **{(s, StreamInput.CLOSE): _S.CLOSED for s in (*_LIVE, _S.BACKOFF)},
}

# --- end client engine ----------------------------------------------------------------------
