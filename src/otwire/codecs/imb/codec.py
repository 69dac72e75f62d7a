"""Encode and decode IMB3 commands and icEvent payloads (``specs/imb/notes.md`` §4, §5).

Two decoders per message kind, as in the IEC 104 codec:

* ``decode_command``/``decode_event`` are the runtime fast path: a ``Reader``
  over the octets driven by ``LAYOUTS`` (one reader per dataclass field), with
  precise ``DecodeError`` offsets;
* ``decode_command_schema``/``decode_event_schema`` parse with the construct
  schemas of record, then re-encode and compare (compiled construct does not
  notice a short read). The differential tests prove both paths equal.

Encoding always goes through the schemas of record (imported, with construct, on first use).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, overload

from otwire.codecs import _base
from otwire.codecs._base import enum_or_int, fast_constructor
from otwire.codecs.imb import admin as a
from otwire.codecs.imb.commands import (
    AllVariables,
    Command,
    EndSession,
    EventNameEntry,
    EventNames,
    Publish,
    RequestEventNames,
    SetClientInfo,
    SetEventIDTranslation,
    SetEventNameFilter,
    SetNoDelay,
    SetState,
    SetThrottle,
    SetVariable,
    SetVariablePrefixed,
    StartUpdate,
    Subscribe,
    TimeStamp,
    UniqueClientID,
    UnknownCommand,
    Unpublish,
    Unsubscribe,
)
from otwire.codecs.imb.events import (
    BODY_TYPES,
    BufferEvent,
    ChangeObjectDataEvent,
    ChangeObjectEvent,
    ChildEventAdd,
    ChildEventRemove,
    EventCommand,
    FocusEvent,
    LogWriteLn,
    NormalEvent,
    StreamBody,
    StreamHeader,
    StreamTail,
    TimerAcknowledge,
    TimerAcknowledgedListAdd,
    TimerAcknowledgedListRemove,
    TimerCancel,
    TimerPrepare,
    TimerSetSpeed,
    TimerStart,
    TimerStatusRequest,
    TimerStop,
    TimerTick,
    UnknownEvent,
)
from otwire.codecs.imb.framing import Frame, _schemas, decode_frame, decode_frame_schema, encode_frame
from otwire.codecs.imb.primitives import Buffer, Reader, check_int32
from otwire.codecs.imb.types import (
    EVENT_KIND_MASK,
    HEADER_SIZE,
    Action,
    ClientState,
    CommandCode,
    EventFlag,
    EventKind,
    LogLevel,
)
from otwire.errors import DecodeError, EncodeError, LocalProtocolError

C = CommandCode
K = EventKind
_NO_FLAGS = EventFlag(0)

# --- icEvent ---------------------------------------------------------------------


def _action(r: Reader) -> Action | int:
    return enum_or_int(Action, r.int32())


def _level(r: Reader) -> LogLevel | int:
    return enum_or_int(LogLevel, r.int32())


R = Reader
_S = (R.string,)
_S2 = (R.string, R.string)
Layout = tuple[Callable[[Reader], Any], ...]
#: Event kind -> (body class, one reader per field in field order).
EVENT_LAYOUTS: dict[int, tuple[type[Any], Layout]] = {
    K.CHANGE_OBJECT_EVENT: (ChangeObjectEvent, (_action, R.int32, R.string)),
    K.STREAM_HEADER: (StreamHeader, (R.int32, R.string)),
    K.STREAM_BODY: (StreamBody, (R.int32, R.rest)),
    K.STREAM_TAIL: (StreamTail, (R.int32, R.rest)),
    K.BUFFER: (BufferEvent, (R.int32, R.block)),
    K.NORMAL_EVENT: (NormalEvent, (R.rest,)),
    K.CHANGE_OBJECT_DATA_EVENT: (ChangeObjectDataEvent, (_action, R.int32, R.string, R.block, R.block)),
    K.CHILD_EVENT_ADD: (ChildEventAdd, _S),
    K.CHILD_EVENT_REMOVE: (ChildEventRemove, _S),
    K.LOG_WRITE_LN: (LogWriteLn, (R.int32, R.string, _level)),
    K.TIMER_CANCEL: (TimerCancel, _S),
    K.TIMER_PREPARE: (TimerPrepare, _S),
    K.TIMER_START: (TimerStart, _S),
    K.TIMER_STOP: (TimerStop, _S),
    K.TIMER_ACKNOWLEDGED_LIST_ADD: (TimerAcknowledgedListAdd, _S2),
    K.TIMER_ACKNOWLEDGED_LIST_REMOVE: (TimerAcknowledgedListRemove, _S2),
    K.TIMER_SET_SPEED: (TimerSetSpeed, (R.string, R.float64)),
    K.TIMER_TICK: (TimerTick, (R.string, R.int32, R.int64, R.int64)),
    K.TIMER_ACKNOWLEDGE: (TimerAcknowledge, (R.string, R.string, R.int32)),
    K.TIMER_STATUS_REQUEST: (TimerStatusRequest, (R.rest,)),
}
FOCUS_LAYOUT: tuple[type[Any], Layout] = (FocusEvent, (R.float64, R.float64))
_MAKE_BODY = {cls: fast_constructor(cls) for cls in BODY_TYPES}
_make_event = fast_constructor(EventCommand)
_make_unknown = _MAKE_BODY[UnknownEvent]
#: Event kind -> (constructor, readers, what ``Reader.finish`` names); the Focus body under ``None``.
_BODY_PLANS: dict[int | None, tuple[Callable[..., Any], Layout, str]] = {
    kind: (_MAKE_BODY[cls], readers, f"{cls.__name__} body")
    for kind, (cls, readers) in [*EVENT_LAYOUTS.items(), (None, FOCUS_LAYOUT)]
}
_EVENT_HEAD = struct.Struct("<iiI")  # event_id, tick, event_kind


def read_event(r: Reader, *, focus: bool = False) -> EventCommand:
    """Read an icEvent payload from ``r`` up to its end (used by ``decode_command`` too).

    Raises:
        DecodeError: the payload is truncated, a body field is malformed, or
            octets follow a body that has an end.
    """
    pos = r.pos
    if r.end - pos >= 12:
        event_id, tick, raw = _EVENT_HEAD.unpack_from(r.data, pos)
        r.pos = pos + 12
    else:
        event_id, tick, raw = r.int32(), r.int32(), r.uint32()  # the error
    kind, bits = raw & EVENT_KIND_MASK, raw & ~EVENT_KIND_MASK
    flags = EventFlag(bits) if bits else _NO_FLAGS
    plan = _BODY_PLANS.get(None if focus and kind == 0 else kind)
    if plan is None:
        return _make_event(event_id, tick, flags, _make_unknown(kind, r.rest()))
    make, readers, what = plan
    body = make(*[read(r) for read in readers])
    r.finish(what)
    return _make_event(event_id, tick, flags, body)


def decode_event(payload: Buffer, *, focus: bool = False) -> EventCommand:
    """Decode an icEvent payload (the frame payload of command -15).

    Args:
        payload: The payload octets, from ``event_id`` to the end of the body.
        focus: Decode kind 0 as ``FocusEvent`` (two doubles) instead of
            ``ChangeObjectEvent``; set it for events named ``<fed>.Focus``.

    Returns:
        The event; an unknown kind gives an ``UnknownEvent`` body.

    Raises:
        DecodeError: fewer than 12 octets, a malformed body (truncated, negative
            or too large length, invalid UTF-8, a boolean not 0/1) or octets after
            a body; the offset is into ``payload``.
    """
    return read_event(Reader(bytes(payload)), focus=focus)


def encode_event(event: EventCommand) -> bytes:
    """Encode the icEvent payload of ``event`` with the schema of record.

    Raises:
        EncodeError: ``event`` is not an ``EventCommand``.
    """
    if not isinstance(event, EventCommand):
        raise EncodeError(f"not an EventCommand: {event!r}")
    schema = _schemas().FOCUS_EVENT if type(event.body) is FocusEvent else _schemas().EVENT
    return bytes(schema.build(event_tree(event)))


def encode_event_frame(event_id: int, tick: int, event_kind: int, body: Buffer) -> bytes:
    """Encode a whole icEvent frame from its raw fields (the fast path for bodies sent as given).

    ``encode_command(EventCommand(...))`` gives the same octets for any event it accepts
    (``tests/imb/test_codec_roundtrip.py`` proves it); this one does not check the body.

    Args:
        event_id: The sender's event id (int32).
        tick: The tick field (int32).
        event_kind: The whole kind field: kind in bits 0..7, flags above
            (-2**31..2**32-1, sent as its low 32 bits, as pyimb sends it signed).
        body: The body octets.

    Raises:
        EncodeError: a field is out of range, ``body`` is not bytes, or the
            payload exceeds 10 MiB.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise EncodeError(f"body must be bytes, got {type(body).__name__}")
    check_int32("event_id", event_id)
    check_int32("tick", tick)
    if not isinstance(event_kind, int) or not -(2**31) <= event_kind <= 0xFFFFFFFF:
        raise EncodeError(f"event_kind={event_kind!r} not in {-(2**31)}..{0xFFFFFFFF}")
    return encode_frame(C.EVENT, _EVENT_HEAD.pack(event_id, tick, event_kind & 0xFFFFFFFF) + bytes(body))


def event_tree(event: EventCommand) -> dict[str, Any]:
    """Return the schema value of ``event`` (the inverse of :func:`event_from_tree`)."""
    body = event.body
    return {
        "event_id": event.event_id,
        "tick": event.tick,
        "event_kind": int(event.flags) | int(body.event_kind),
        "body": body.data if type(body) is UnknownEvent else _schemas().to_tree(body),
    }


def event_from_tree(tree: Any, *, focus: bool = False) -> EventCommand:
    """Build an ``EventCommand`` from what ``EVENT`` (or ``FOCUS_EVENT``) parsed."""
    kind = tree.event_kind & EVENT_KIND_MASK
    cls = FocusEvent if focus and kind == 0 else EVENT_LAYOUTS[kind][0] if kind in EVENT_LAYOUTS else None
    body = UnknownEvent(event_kind=kind, data=tree.body) if cls is None else cls(**_schemas().tree_fields(tree.body))
    flags = EventFlag(tree.event_kind & ~EVENT_KIND_MASK)
    return EventCommand(event_id=tree.event_id, tick=tree.tick, flags=flags, body=body)


def decode_event_schema(payload: Buffer, *, focus: bool = False) -> EventCommand:
    """Decode an icEvent payload with the construct schemas (slow; for tests and fuzzing).

    Raises:
        DecodeError: as :func:`decode_event`.
    """
    data = bytes(payload)
    schema = _schemas().FOCUS_EVENT if focus and len(data) > 8 and data[8] == 0 else _schemas().EVENT
    try:
        event = event_from_tree(schema.parse(data), focus=focus)
    except _base.SCHEMA_ERRORS as exc:
        raise _event_error(data, focus, f"malformed icEvent payload: {exc!r}") from exc
    if encode_event(event) != data:  # a short or negative length read by the compiled schema
        raise _event_error(data, focus, "icEvent payload is not the encoding of what it decodes to")
    return event


def _event_error(data: bytes, focus: bool, reason: str) -> DecodeError:
    """The fast path's ``DecodeError`` for ``data`` (or ``reason`` if the fast path accepts it)."""
    try:
        decode_event(data, focus=focus)
    except DecodeError as exc:
        return exc
    return DecodeError(reason, data=data, offset=0)


# --- commands -------------------------------------------------------------------------

_make_entry = fast_constructor(EventNameEntry)


def _state(r: Reader) -> ClientState | int:
    return enum_or_int(ClientState, r.int32())


def _entries(r: Reader) -> tuple[EventNameEntry, ...]:
    count = r.count(16)  # an entry is at least an empty string and three int32
    return tuple(_make_entry(r.string(), r.int32(), r.int32(), r.int32()) for _ in range(count))


def _text(r: Reader) -> str:
    start = r.pos
    try:
        return r.rest().decode()
    except UnicodeDecodeError as exc:
        raise DecodeError(f"invalid UTF-8: {exc.reason}", data=r.data, offset=start + exc.start) from exc


_I = R.int32
_RAW = (R.rest,)
_COMMAND_CLASSES: list[tuple[Any, Layout]] = [
    (a.HeartBeat, _RAW),
    (EndSession, ()),
    (a.FlushQueue, _RAW),
    (UniqueClientID, (_I, _I)),
    (TimeStamp, (R.int64, _I, _I)),
    (a.EndClientSession, (_I,)),
    (a.FlushClientQueue, (_I,)),
    (a.ConnectToGateway, (R.string,)),
    (StartUpdate, (R.string,)),
    (SetClientInfo, (_I, R.string)),
    (SetVariable, (R.string, R.block)),
    (AllVariables, ()),
    (SetState, (_state,)),
    (SetThrottle, (_I,)),
    (SetNoDelay, (R.boolean,)),
    (SetVariablePrefixed, (_I, R.string, R.block)),
    (SetEventNameFilter, (R.string,)),
    (RequestEventNames, (R.string, _I)),
    (EventNames, (_entries,)),
    (a.RequestSubscribers, _RAW),
    (a.RequestPublishers, _RAW),
    (Subscribe, (_I, _I, R.string)),
    (Unsubscribe, (R.string,)),
    (Publish, (_I, _I, R.string)),
    (Unpublish, (R.string,)),
    (SetEventIDTranslation, (_I, _I)),
    (a.StatusEvent, (_I, R.int32_list)),
    (a.StatusClient, (_I,) * 9),
    (a.StatusEventPlus, (_I, R.string, R.int32_list, R.int32_list)),
    (a.StatusClientPlus, (_I, _I, R.string, R.string, R.boolean, R.boolean, _I)),
    (a.StatusHUB, (_I, _I)),
    (a.StatusTimer, _RAW),
    (a.HumanReadableHeader, _RAW),
    (a.SetMonitor, _RAW),
    (a.ResetMonitor, _RAW),
    (a.CreateTimer, (_I, R.string, R.int64, _I, R.float64, _I)),
    (a.HUBLocate, ()),
    (a.HUBFound, (_text,)),
    (a.LogClear, _RAW),
    (a.LogRequest, _RAW),
    (a.LogContents, (R.string,)),
]
#: Command code -> (class, one reader per field in field order); icEvent is read by ``read_event``.
COMMAND_LAYOUTS: dict[int, tuple[type[Any], Layout]] = {cls.command_code: (cls, r) for cls, r in _COMMAND_CLASSES}
_MAKE = {cls: fast_constructor(cls) for cls, _ in COMMAND_LAYOUTS.values()}
_COMMAND_TYPES = (EventCommand, UnknownCommand, *_MAKE)
#: Command code -> (constructor, readers, what ``Reader.finish`` names).
_COMMAND_PLANS = {
    code: (_MAKE[cls], readers, f"{cls.__name__} payload") for code, (cls, readers) in COMMAND_LAYOUTS.items()
}


def _read_command(code: int, r: Reader) -> Command:
    if code == C.EVENT:
        return read_event(r)
    plan = _COMMAND_PLANS.get(code)
    if plan is None:
        return UnknownCommand(command_code=code, payload=r.rest())
    make, readers, what = plan
    command: Command = make(*[read(r) for read in readers])
    r.finish(what)
    return command


@overload
def decode_command(frame: Buffer | Frame, /) -> Command: ...
@overload
def decode_command(command_code: int, payload: Buffer, /) -> Command: ...


def decode_command(frame: Buffer | Frame | int, payload: Buffer | None = None, /) -> Command:
    """Decode a command from a whole frame, a ``Frame``, or a command code and its payload.

    Args:
        frame: One complete frame (octets or a ``Frame``), or the command code
            when ``payload`` is given.
        payload: The payload octets of ``command_code``.

    Returns:
        The command dataclass; ``EventCommand`` for icEvent, ``UnknownCommand`` for a
        code outside ``CommandCode``.

    Raises:
        DecodeError: the frame is malformed (see ``decode_frame``) or the payload
            does not match its command's layout (truncated, a negative or too
            large length, invalid UTF-8, a boolean not 0/1, octets left over).
            The offset is into the frame octets, or into the payload for the
            other two forms.
        LocalProtocolError: a command code without a payload, or a payload
            without a command code.
    """
    return _decode(frame, payload)


def _decode(frame: Buffer | Frame | int, payload: Buffer | None) -> Command:
    if payload is not None:
        if not isinstance(frame, int):
            raise LocalProtocolError("decode_command(command_code, payload) needs an int command code")
        return _read_command(frame, Reader(bytes(payload)))
    if isinstance(frame, Frame):
        return _read_command(frame.command_code, Reader(frame.payload))
    if isinstance(frame, int):
        raise LocalProtocolError("decode_command(command_code) needs the payload too")
    data = bytes(frame)
    decoded = decode_frame(data)
    return _read_command(decoded.command_code, Reader(data, HEADER_SIZE, HEADER_SIZE + len(decoded.payload)))


def decode_framed(frame: bytes, command_code: int, payload_length: int) -> Command:
    """Decode the command of a frame :class:`IMBFramer` has already checked (magic, length, trailer).

    ``decode_command(Frame(...))`` of the frame's code and payload, without checking the
    frame again or copying the payload: ``command_code`` and ``payload_length`` are the
    frame's int32 at offsets 8 and 12 (as :meth:`IMBFramer.receive_frames` gives them).

    Raises:
        DecodeError: as :func:`decode_command` of a ``Frame`` (the offset and octets are
            the payload's).
    """
    try:
        return _read_command(command_code, Reader(frame, HEADER_SIZE, HEADER_SIZE + payload_length))
    except DecodeError:
        pass  # read the payload alone: the error's offset and octets are the payload's
    return _read_command(command_code, Reader(frame[HEADER_SIZE : HEADER_SIZE + payload_length]))


def encode_payload(command: Command) -> bytes:
    """Encode the payload of ``command`` (no header or trailer) with the schema of record.

    Raises:
        EncodeError: ``command`` is not a command dataclass.
    """
    if type(command) is EventCommand:
        return encode_event(command)
    if type(command) is UnknownCommand:
        return command.payload
    if type(command) not in _MAKE:
        raise EncodeError(f"not an IMB command: {command!r}")
    tree = _schemas().to_tree(command)
    if type(command) is a.HUBFound:
        tree["uri"] = command.uri.encode()
    return bytes(_schemas().PAYLOAD.build(tree, command_code=int(command.command_code)))


def encode_command(command: Command) -> bytes:
    """Encode ``command`` as one whole frame (header, payload, trailer).

    Raises:
        EncodeError: ``command`` is not a command dataclass or its payload
            exceeds 10 MiB.
    """
    payload = encode_payload(command)  # checks that it is a command first
    return encode_frame(command.command_code, payload)


def _from_tree(code: int, tree: Any) -> Command:
    """Build a command from what ``PAYLOAD`` parsed for ``code``."""
    if code == C.EVENT:
        return event_from_tree(tree)
    if code not in COMMAND_LAYOUTS:
        return UnknownCommand(command_code=code, payload=tree)
    cls = COMMAND_LAYOUTS[code][0]
    fields = _schemas().tree_fields(tree)
    if cls is EventNames:
        fields["entries"] = tuple(EventNameEntry(**_schemas().tree_fields(e)) for e in fields["entries"])
    elif cls is a.HUBFound:
        fields["uri"] = fields["uri"].decode()
    command: Command = cls(**fields)
    return command


def decode_command_schema(frame: Buffer | Frame | int, payload: Buffer | None = None, /) -> Command:
    """Decode a command with the construct schemas (slow; for tests and fuzzing).

    Takes the same arguments as :func:`decode_command`.

    Raises:
        DecodeError: as :func:`decode_command`.
        LocalProtocolError: as :func:`decode_command`.
    """
    if isinstance(frame, int) and payload is not None:
        code, body = frame, bytes(payload)
    elif isinstance(frame, Frame) and payload is None:
        code, body = frame.command_code, frame.payload
    elif isinstance(frame, bytes | bytearray | memoryview) and payload is None:
        decoded = decode_frame_schema(frame)
        code, body = decoded.command_code, decoded.payload
    else:
        return _decode(frame, payload)  # the same LocalProtocolError
    try:
        command = _from_tree(code, _schemas().PAYLOAD.parse(body, command_code=int(code)))
    except _base.SCHEMA_ERRORS as exc:
        raise _fast_error(frame, payload, f"malformed payload: {exc!r}") from exc
    if encode_payload(command) != body:  # a short or negative length read by the compiled schema
        raise _fast_error(frame, payload, "payload is not the encoding of what it decodes to")
    return command


def _fast_error(frame: Buffer | Frame | int, payload: Buffer | None, reason: str) -> DecodeError:
    """The fast path's ``DecodeError`` for the same input (or ``reason`` if it accepts it)."""
    try:
        _decode(frame, payload)
    except DecodeError as exc:
        return exc
    return DecodeError(reason, data=b"", offset=0)
