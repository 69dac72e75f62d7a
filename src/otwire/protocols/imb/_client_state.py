"""Parts of the IMB3 client engine: its lifecycle table, raw events, names and streams.

Used by :mod:`otwire.protocols.imb.client`, which re-exports the public names.
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from dataclasses import dataclass

from otwire.codecs.imb import CommandCode, StreamBody, StreamHeader, StreamTail, encode_frame
from otwire.errors import EncodeError
from otwire.protocols import Event as EngineEvent
from otwire.protocols.imb.client_events import (
    StreamAborted,
    StreamData,
    StreamEnded,
    StreamStarted,
    UnexpectedStreamData,
)

__all__ = ["LOCAL_INPUTS", "TRANSITIONS", "Input", "RawEvent", "State", "StreamAssembler", "prefixed_name"]

INT32_MAX = 2**31 - 1
#: icEvent payload head: event_id, tick, kind and flags.
EVENT_HEAD = struct.Struct("<iiI")


class State(enum.Enum):
    """Lifecycle of one client connection (the TCP connection is already up)."""

    AWAITING_ID = "awaiting id"
    """icSetClientInfo is queued; the hub has not sent icUniqueClientID yet (everything is allowed)."""
    READY = "ready"
    """The hub sent the connection's unique client id and handle."""
    CLOSED = "closed"
    """The connection is over."""


class Input(enum.Enum):
    """Everything that can happen to a client connection."""

    SEND = "send a command"
    RECV_UNIQUE_ID = "receive icUniqueClientID"
    RECV_TRANSLATION = "receive icSetEventIDTranslation"
    RECV_EVENT = "receive icEvent"
    RECV_END_SESSION = "receive icEndSession"
    RECV_OTHER = "receive another command or malformed octets"
    CLOSE = "close"
    EOF = "end of stream"


#: Inputs that come from the local user (a missing entry is ``LocalProtocolError``).
LOCAL_INPUTS = frozenset({Input.SEND, Input.CLOSE})

S = State
_OPEN = (S.AWAITING_ID, S.READY)

#: ``TRANSITIONS[(state, input)] -> new state``; CLOSED accepts nothing.
TRANSITIONS: dict[tuple[State, Input], State] = {
    **{(s, i): s for s in _OPEN for i in (Input.SEND, Input.RECV_TRANSLATION, Input.RECV_EVENT, Input.RECV_OTHER)},
    **{(s, Input.RECV_UNIQUE_ID): S.READY for s in _OPEN},
    **{(s, i): S.CLOSED for s in _OPEN for i in (Input.RECV_END_SESSION, Input.CLOSE, Input.EOF)},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RawEvent:
    """An icEvent whose body is sent as given, unchecked (pyimb ``signal_event(kind, payload)``).

    Raises:
        EncodeError: a field is out of range or ``payload`` is not bytes (from ``send``).
    """

    event_id: int
    """The client's id of a bound event."""
    event_kind: int
    """The whole kind field: kind in bits 0..7, flags above (-2**31..2**32-1, sent as 32 bits)."""
    payload: bytes
    """The body octets."""
    tick: int = 0
    """The tick field (0 from every public client)."""

    def encode(self) -> bytes:
        """Return the whole icEvent frame.

        Raises:
            EncodeError: a field is out of range, or the payload is too long.
        """
        if not isinstance(self.payload, bytes | bytearray | memoryview):
            raise EncodeError(f"payload must be bytes, got {type(self.payload).__name__}")
        for name, value, low, high in (
            ("event_id", self.event_id, -(2**31), INT32_MAX),
            ("tick", self.tick, -(2**31), INT32_MAX),
            ("event_kind", self.event_kind, -(2**31), 2**32 - 1),
        ):
            if not isinstance(value, int) or not low <= value <= high:
                raise EncodeError(f"{name}={value!r} not in {low}..{high}")
        head = EVENT_HEAD.pack(self.event_id, self.tick, self.event_kind & 0xFFFFFFFF)
        return encode_frame(CommandCode.EVENT, head + bytes(self.payload))


def prefixed_name(federation: str | None, name: str, prefix: bool = True) -> str:
    """Return the full event name: ``"<federation>.<name>"`` (notes §6.1).

    Args:
        federation: The federation; ``None`` or ``""`` adds no prefix (as the
            reference clients; pyimb fails on ``None`` and gives ``".name"`` for ``""``).
        name: The event name.
        prefix: False returns ``name`` unchanged.

    Returns:
        The full name.
    """
    return f"{federation}.{name}" if prefix and federation else name


class _Stream:
    __slots__ = ("name", "size")

    def __init__(self, name: str) -> None:
        self.name = name
        self.size = 0


class StreamAssembler:
    """Incoming streams keyed by (client event id, stream id): header, chunks, tail -> events.

    Args:
        events: The engine's event queue (appended to).
        max_open: Most streams open at once; a new header aborts the oldest.
    """

    def __init__(self, events: deque[EngineEvent], max_open: int) -> None:
        self._events = events
        self._max = max_open
        self._streams: dict[tuple[int, int], _Stream] = {}
        self._names: dict[tuple[int, int], str] = {}  # event name of each open stream

    def __len__(self) -> int:
        return len(self._streams)

    def on_chunk(self, event_id: int, name: str, body: StreamHeader | StreamBody | StreamTail) -> None:
        """Handle one stream event on the client event ``event_id`` (full name ``name``)."""
        key = (event_id, body.stream_id)
        streams, events = self._streams, self._events
        if isinstance(body, StreamHeader):
            if key in streams:
                self._abort(key, "restarted by a new stream header")
            while len(streams) >= self._max:
                self._abort(next(iter(streams)), f"more than {self._max} streams open")
            streams[key] = _Stream(body.stream_name)
            self._names[key] = name
            events.append(
                StreamStarted(
                    event_id=event_id, event_name=name, stream_id=body.stream_id, stream_name=body.stream_name
                )
            )
            return
        last = isinstance(body, StreamTail)
        stream = streams.get(key)
        if stream is None:
            events.append(
                UnexpectedStreamData(
                    event_id=event_id, event_name=name, stream_id=body.stream_id, data=body.data, last=last
                )
            )
            return
        sid, sname = body.stream_id, stream.name
        if body.data:
            events.append(
                StreamData(
                    event_id=event_id,
                    event_name=name,
                    stream_id=sid,
                    stream_name=sname,
                    offset=stream.size,
                    data=body.data,
                )
            )
            stream.size += len(body.data)
        if last:
            del streams[key], self._names[key]
            events.append(
                StreamEnded(event_id=event_id, event_name=name, stream_id=sid, stream_name=sname, size=stream.size)
            )

    def abort_all(self, reason: str) -> None:
        """Abort every open stream (``StreamAborted`` each)."""
        for key in list(self._streams):
            self._abort(key, reason)

    def _abort(self, key: tuple[int, int], reason: str) -> None:
        stream = self._streams.pop(key)
        name = self._names.pop(key)
        self._events.append(
            StreamAborted(
                event_id=key[0],
                event_name=name,
                stream_id=key[1],
                stream_name=stream.name,
                size=stream.size,
                reason=reason,
            )
        )
