"""Events of the i3X engines, all past tense (specs/i3x/notes.md).

The client engine reports them through ``next_event()``; request events carry the
``request_id`` returned by ``request()``, stream events the ``stream_id`` returned by
``open_stream()``. The server engine reports :class:`RequestHandled` per answered request
(with the peer, from its ``next_event()``). Connection ends are the shared
:class:`~otwire.protocols.ConnectionTerminated`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from otwire.codecs.i3x import ValueChange
from otwire.protocols import Event

__all__ = [
    "GapDetected",
    "RequestFailed",
    "RequestHandled",
    "ResponseReceived",
    "StreamEndReason",
    "StreamEnded",
    "StreamOpened",
    "StreamReconnected",
    "ValuesChanged",
]

# --- client engine (branch i3x-engine) ------------------------------------------------------


class StreamEndReason(enum.Enum):
    """Why an SSE stream ended (notes §5; research §5 "stream lifecycle")."""

    CLOSE_EVENT = "close event"
    """The server sent ``event: close`` (i3x2ua: takeover or deletion); not reconnected."""
    CLEAN_END = "clean end"
    """The response body ended normally (a newer stream took over, or the server stopped); reconnected."""
    IDLE_TIMEOUT = "idle timeout"
    """No octet, not even a keep-alive comment, for ``sse_idle_timeout`` seconds; reconnected."""
    CONNECTION_LOST = "connection lost"
    """The transport failed, could not connect, or ended mid-body; reconnected."""
    HTTP_ERROR = "http error"
    """The stream request got a non-2xx answer (reconnected on 429/5xx, else final)."""
    PROTOCOL_ERROR = "protocol error"
    """Bad HTTP, gzip, SSE or update JSON from the server; reconnected."""
    LOCAL_CLOSE = "local close"
    """``close_stream()`` or ``close()`` was called; final."""
    TAKEN_OVER = "taken over"
    """A clean end again within ``takeover_window`` of the reconnect after a clean end: another
    consumer opened the subscription's stream (one stream per subscription); final, so two
    clients never steal the stream back and forth."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived(Event):
    """A complete response arrived (any status; a 404 with ``responseDetail`` too).

    Attributes:
        request_id: The id ``request()`` returned.
        status: The HTTP status code.
        headers: Response headers as ``(lower-case name, value)`` octet pairs.
        body: The ``expect`` decoder's result (``Response``/``BulkResponse``/model), or
            ``None`` when no decoder was given or the body was empty.
        raw: The body octets (after gzip decompression).
    """

    request_id: int
    status: int
    headers: list[tuple[bytes, bytes]]
    body: Any
    raw: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestFailed(Event):
    """A request got no usable response.

    ``error`` is a :class:`~otwire.errors.RequestTimeout`, a
    :class:`~otwire.errors.DecodeError` (bad JSON, bad gzip, body too large, bad HTTP),
    a :class:`~otwire.errors.ConnectionLost`, or the driver's connect exception.
    """

    request_id: int
    error: BaseException


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamOpened(Event):
    """The stream request was answered with a 2xx; events follow."""

    stream_id: int
    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamReconnected(Event):
    """The stream is open again after ``attempts`` reconnect attempts (reported instead of StreamOpened)."""

    stream_id: int
    status: int
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ValuesChanged(Event):
    """One SSE ``message`` event's updates, in wire order (never empty)."""

    stream_id: int
    changes: list[ValueChange]


@dataclass(frozen=True, slots=True, kw_only=True)
class GapDetected(Event):
    """Sequence numbers jumped: updates ``after_sequence + 1 .. next_sequence - 1`` were lost."""

    stream_id: int
    after_sequence: int
    next_sequence: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEnded(Event):
    """The stream ended.

    Attributes:
        stream_id: The id ``open_stream()`` returned.
        reason: Why.
        error: The exception behind ``PROTOCOL_ERROR``/``CONNECTION_LOST``, else ``None``.
        status: The HTTP status for ``HTTP_ERROR``, else ``None``.
        retry_in: Seconds until the engine reconnects, or ``None`` when the stream is over.
    """

    stream_id: int
    reason: StreamEndReason
    error: BaseException | None = None
    status: int | None = None
    retry_in: float | None = None


# --- end client engine ----------------------------------------------------------------------


# ---- server (branch i3x-server) -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHandled(Event):
    """The server engine answered one request (an SSE stream counts as 200 when it starts).

    Attributes:
        method: The HTTP method (``"POST"``).
        target: The request target (path and query).
        status: The HTTP status sent.
    """

    method: str
    target: str
    status: int
