"""The icEvent payload and its bodies, one dataclass per event kind (``specs/imb/notes.md`` §5).

icEvent payload (all little-endian)::

    0   event_id    int32   sender's own id (client -> hub) or the hub's id (hub -> client)
    4   tick        int32   0 from every public client; meaning unknown
    8   event_kind  uint32  bits 0..7 the kind (EventKind), bits 8..31 flags (EventFlag)
    12  body        the rest, laid out by kind; not length-prefixed as a whole

The flags are kept apart from the kind: ``EventCommand(flags=EventFlag.PRIORITY,
body=BufferEvent(...))`` sends ``event_kind = 0x104``. A kind without a layout
decodes to ``UnknownEvent`` with the raw body (unknown is not malformed).

Encode and decode with ``encode_event``/``decode_event`` (the payload) or
``encode_command``/``decode_command`` (a whole frame), all in ``codec.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from otwire.codecs.imb.primitives import Int32, Int64, Message
from otwire.codecs.imb.types import EVENT_KIND_MASK, Action, CommandCode, EventFlag, EventKind, LogLevel
from otwire.errors import EncodeError

K = EventKind


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeObjectEvent(Message):
    """Kind 0, ekChangeObjectEvent: ``action:int32, object_id:int32, attribute:string``.

    pyimb ``signal_change_object(action, object_id, attribute)``. The
    federation-change event (``<fed>.META_CurrentSession``) has the same layout.

    Raises:
        EncodeError: a field is not an int32 or a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.CHANGE_OBJECT_EVENT
    action: Action | int
    """``Action.NEW``, ``DELETE`` or ``CHANGE`` (any other int32 is kept)."""
    object_id: Int32
    """Application-defined object id."""
    attribute: str
    """Changed attribute name (may be empty)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FocusEvent(Message):
    """Kind 0 on the event ``<fed>.Focus``: ``x:double, y:double``.

    The kind alone does not tell it from ``ChangeObjectEvent``; decode with
    ``decode_event(payload, focus=True)`` when the event name is a Focus event.

    Raises:
        EncodeError: ``x`` or ``y`` is not a number.
    """

    event_kind: ClassVar[EventKind] = K.CHANGE_OBJECT_EVENT
    x: float
    """Focus x coordinate (unit set by the application)."""
    y: float
    """Focus y coordinate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamHeader(Message):
    """Kind 1, ekStreamHeader: ``stream_id:int32, stream_name:string``; starts a stream.

    Raises:
        EncodeError: a field is out of range or not a ``str``.
    """

    event_kind: ClassVar[EventKind] = K.STREAM_HEADER
    stream_id: Int32
    """Sender-chosen id that tells interleaved streams apart."""
    stream_name: str
    """Stream (file) name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamBody(Message):
    """Kind 2, ekStreamBody: ``stream_id:int32``, then the chunk (rest of the body, no length).

    Raises:
        EncodeError: ``stream_id`` is not an int32 or ``data`` is not ``bytes``.
    """

    event_kind: ClassVar[EventKind] = K.STREAM_BODY
    stream_id: Int32
    """Id of the stream opened by a ``StreamHeader``."""
    data: bytes
    """The chunk (pyimb sends exactly ``chunk_size`` octets, default 16 KiB)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamTail(Message):
    """Kind 3, ekStreamTail: ``stream_id:int32``, then the last chunk (may be empty); ends the stream.

    Raises:
        EncodeError: ``stream_id`` is not an int32 or ``data`` is not ``bytes``.
    """

    event_kind: ClassVar[EventKind] = K.STREAM_TAIL
    stream_id: Int32
    """Id of the stream to close."""
    data: bytes = b""
    """The last chunk."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BufferEvent(Message):
    """Kind 4, ekBuffer: ``buffer_id:int32, length:int32, length octets``.

    Often sent with ``EventFlag.PRIORITY``; receivers pass the event tick along.

    Raises:
        EncodeError: ``buffer_id`` is not an int32 or ``data`` is not ``bytes``.
    """

    event_kind: ClassVar[EventKind] = K.BUFFER
    buffer_id: Int32
    """Application-defined buffer id."""
    data: bytes
    """The buffer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalEvent(Message):
    """Kind 5, ekNormalEvent: application-defined octets (the whole body).

    pyimb ``signal_string(s)`` sends ``encode_string(s)``; the reference clients
    also use "IntString" = int32 + string.

    Raises:
        EncodeError: ``data`` is not ``bytes``.
    """

    event_kind: ClassVar[EventKind] = K.NORMAL_EVENT
    data: bytes
    """The body as sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeObjectDataEvent(Message):
    """Kind 6, ekChangeObjectDataEvent: a change-object body plus new and old values.

    Body: ``action:int32, object_id:int32, attribute:string, new_values:block, old_values:block``.

    Raises:
        EncodeError: a field is out of range or of the wrong type.
    """

    event_kind: ClassVar[EventKind] = K.CHANGE_OBJECT_DATA_EVENT
    action: Action | int
    """``Action.NEW``, ``DELETE`` or ``CHANGE`` (any other int32 is kept)."""
    object_id: Int32
    """Application-defined object id."""
    attribute: str
    """Changed attribute name."""
    new_values: bytes = b""
    """Encoded new value(s), int32-length-prefixed on the wire."""
    old_values: bytes = b""
    """Encoded old value(s), int32-length-prefixed on the wire."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildEventAdd(Message):
    """Kind 11, ekChildEventAdd: ``event_name:string``.

    Raises:
        EncodeError: ``event_name`` is not a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.CHILD_EVENT_ADD
    event_name: str
    """Full name of the child event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildEventRemove(Message):
    """Kind 12, ekChildEventRemove: ``event_name:string``.

    Raises:
        EncodeError: ``event_name`` is not a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.CHILD_EVENT_REMOVE
    event_name: str
    """Full name of the child event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogWriteLn(Message):
    """Kind 30, ekLogWriteLn: ``unique_client_id:int32, line:string, level:int32``.

    Raises:
        EncodeError: a field is out of range or not a ``str``.
    """

    event_kind: ClassVar[EventKind] = K.LOG_WRITE_LN
    unique_client_id: Int32 = 0
    """The sender writes 0; the hub fills in the sender's unique client id."""
    line: str
    """The log line."""
    level: LogLevel | int = LogLevel.NORMAL
    """``LogLevel`` (any other int32 is kept)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _TimerEvent(Message):
    """A timer event whose body is ``timer_name:string``."""

    timer_name: str
    """Name of the timer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerCancel(_TimerEvent):
    """Kind 40, ekTimerCancel: ``timer_name:string``.

    Raises:
        EncodeError: ``timer_name`` is not a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_CANCEL


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerPrepare(_TimerEvent):
    """Kind 41, ekTimerPrepare: ``timer_name:string``.

    Raises:
        EncodeError: ``timer_name`` is not a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_PREPARE


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerStart(_TimerEvent):
    """Kind 42, ekTimerStart: ``timer_name:string``.

    Raises:
        EncodeError: ``timer_name`` is not a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_START


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerStop(_TimerEvent):
    """Kind 43, ekTimerStop: ``timer_name:string``.

    Raises:
        EncodeError: ``timer_name`` is not a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_STOP


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerAcknowledgedListAdd(Message):
    """Kind 45, ekTimerAcknowledgedListAdd: ``timer_name:string, client_name:string``.

    Raises:
        EncodeError: a name is not a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_ACKNOWLEDGED_LIST_ADD
    timer_name: str
    """Name of the timer."""
    client_name: str
    """Client added to the timer's acknowledge list."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerAcknowledgedListRemove(Message):
    """Kind 46, ekTimerAcknowledgedListRemove: ``timer_name:string, client_name:string``.

    Raises:
        EncodeError: a name is not a UTF-8 encodable ``str``.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_ACKNOWLEDGED_LIST_REMOVE
    timer_name: str
    """Name of the timer."""
    client_name: str
    """Client removed from the timer's acknowledge list."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerSetSpeed(Message):
    """Kind 47, ekTimerSetSpeed: ``timer_name:string, speed_factor:double``.

    Raises:
        EncodeError: ``timer_name`` is not a ``str`` or ``speed_factor`` not a number.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_SET_SPEED
    timer_name: str
    """Name of the timer."""
    speed_factor: float
    """Simulation speed relative to real time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerTick(Message):
    """Kind 48, ekTimerTick (hub to subscribers): ``timer_name:string, tick:int32, tick_time:int64, start_time:int64``.

    Raises:
        EncodeError: a field is out of range or of the wrong type.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_TICK
    timer_name: str
    """Name of the timer."""
    tick: Int32
    """Tick number."""
    tick_time: Int64
    """Time of this tick (epoch and unit set by the hub; unknown)."""
    start_time: Int64
    """Start time of the timer (same unit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerAcknowledge(Message):
    """Kind 49, ekTimerAcknowledge: ``client_name:string, timer_name:string, proposed_time_step:int32``.

    Note the order: client name first, unlike kinds 45 and 46.

    Raises:
        EncodeError: a field is out of range or of the wrong type.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_ACKNOWLEDGE
    client_name: str
    """Acknowledging client."""
    timer_name: str
    """Name of the timer."""
    proposed_time_step: Int32
    """Next time step the client proposes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerStatusRequest(Message):
    """Kind 50, ekTimerStatusRequest: layout unknown, the body is kept raw.

    Raises:
        EncodeError: ``data`` is not ``bytes``.
    """

    event_kind: ClassVar[EventKind] = K.TIMER_STATUS_REQUEST
    data: bytes = b""
    """The body as sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Message):
    """A kind without a known layout (7-10, 13-29, 31-39, 44, 51-255): the raw body.

    Raises:
        EncodeError: ``event_kind`` is not in 0..255 or is a known ``EventKind``,
            or ``data`` is not ``bytes``.
    """

    _checked_by_class: ClassVar[frozenset[str]] = frozenset({"event_kind"})
    event_kind: int
    """The kind, bits 0..7 of the kind field."""
    data: bytes = b""
    """The body as sent."""

    def _check(self) -> None:
        kind = self.event_kind
        if not isinstance(kind, int) or not 0 <= kind <= EVENT_KIND_MASK or kind in _KINDS:
            raise EncodeError(f"event_kind={kind!r} is not an unknown kind in 0..255")


EventBody = (
    ChangeObjectEvent | FocusEvent | StreamHeader | StreamBody | StreamTail | BufferEvent |
    NormalEvent | ChangeObjectDataEvent | ChildEventAdd | ChildEventRemove | LogWriteLn |
    TimerCancel | TimerPrepare | TimerStart | TimerStop | TimerAcknowledgedListAdd |
    TimerAcknowledgedListRemove | TimerSetSpeed | TimerTick | TimerAcknowledge | TimerStatusRequest |
    UnknownEvent
)  # fmt: skip
_KINDS = frozenset(int(k) for k in EventKind)
_NO_FLAGS = EventFlag(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventCommand(Message):
    """icEvent (command -15): one event on an event id (notes §5).

    Encode with ``encode_command(event)`` (a whole frame) or ``encode_event``
    (the payload only).

    Raises:
        EncodeError: ``event_id`` or ``tick`` is not an int32, ``flags`` is not
            an int in 0..2**32-1 with bits 0..7 clear, or ``body`` is not an
            event body.
    """

    _checked_by_class: ClassVar[frozenset[str]] = frozenset({"flags", "body"})
    command_code: ClassVar[CommandCode] = CommandCode.EVENT
    event_id: Int32
    """The sender's event id (client to hub) or the hub's event id (hub to client)."""
    tick: Int32 = 0
    """0 from every public client."""
    flags: EventFlag = _NO_FLAGS
    """Bits 8..31 of the kind field (``EventFlag.PRIORITY`` = 0x100); unknown bits are kept."""
    body: EventBody
    """The body; its class gives the event kind."""

    def _check(self) -> None:
        flags = self.flags
        if not isinstance(flags, int) or not 0 <= flags <= 0xFFFFFFFF or flags & EVENT_KIND_MASK:
            raise EncodeError(f"flags={flags!r} must be in 0..0xFFFFFFFF with bits 0..7 clear")
        object.__setattr__(self, "flags", EventFlag(flags))
        if not isinstance(self.body, BODY_TYPES):
            raise EncodeError(f"body must be an event body, got {type(self.body).__name__}")

    @property
    def event_kind(self) -> EventKind | int:
        """The event kind of the body (bits 0..7 of the kind field)."""
        return self.body.event_kind


#: The event body classes, in the order of ``EventBody``.
BODY_TYPES: tuple[type[EventBody], ...] = EventBody.__args__
