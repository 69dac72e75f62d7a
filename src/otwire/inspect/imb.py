"""TNO IMB3 dissector: octets of each direction -> decoded commands or problems.

Frames are cut by :class:`~otwire.codecs.imb.IMBFramer` (length-based, resynchronising
on the magic); each frame is decoded with :func:`~otwire.codecs.imb.decode_command`.
Unknown command codes and event kinds decode to raw messages, not errors. Also the
JSON and table views of decoded commands (:data:`VIEW`; keys in :data:`JSON_KEYS`).
:class:`IMBDissector` is the conversation dissector the registry (:mod:`otwire.registry`) names.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import operator
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from otwire.codecs.imb import (
    EventCommand,
    EventFlag,
    FrameError,
    FrameItem,
    IMBFramer,
    Junk,
    UnknownCommand,
    UnknownEvent,
    decode_command,
)
from otwire.codecs.imb.codec import decode_framed
from otwire.codecs.imb.commands import Command
from otwire.errors import DecodeError
from otwire.inspect.model import Column, Finding, PerSender, ProtocolView

#: Octets of a byte field shown in tables and JSON before it is cut (``len`` gives the size).
SHOWN_OCTETS = 64


class IMBStreamDissector:
    """Dissect one direction of one IMB3 stream; sans-IO, bounded memory (one frame)."""

    def __init__(self) -> None:
        self._framer = IMBFramer()

    def feed(self, data: bytes) -> list[Finding]:
        """Consume stream octets and return what became complete (stream order)."""
        framer = self._framer
        out = []
        for frame, offset, code, length in framer.receive_frames(data):
            try:
                out.append(Finding("apdu", offset, frame, decode_framed(frame, code, length)))
            except DecodeError as exc:
                out.append(Finding("error", offset, frame, error=str(exc), error_offset=exc.offset))
        if framer.buffered:
            out.extend(self._drain())
        return out

    def close(self) -> Iterator[Finding]:
        """End of stream: report what is left over."""
        self._framer.close()
        return self._drain()

    def _drain(self) -> Iterator[Finding]:
        for item in self._framer:
            match item:
                case FrameItem(frame=frame, data=data, offset=offset):
                    try:
                        yield Finding("apdu", offset, data, message=decode_command(frame))
                    except DecodeError as exc:
                        yield Finding("error", offset, data, error=str(exc), error_offset=exc.offset)
                case Junk(data=data, offset=offset):
                    yield Finding("junk", offset, data, error=f"{len(data)} octets before an IMB magic")
                case FrameError(reason=reason, data=data, offset=offset, error=error):
                    yield Finding("error", offset, data, error=reason, error_offset=error.offset)


class IMBDissector(PerSender):
    """Dissect both directions of an IMB3 conversation, each on its own."""

    stream = IMBStreamDissector


def _name(value: Any) -> str:
    """An enum member's name (``_name_``, what ``.name`` returns, without the property), else the int as text."""
    if type(value) is int:
        return str(value)
    return value._name_ if isinstance(value, enum.Enum) and value._name_ else str(int(value))


def _json_value(value: Any) -> Any:
    kind = type(value)
    if kind is int or kind is str:
        return value
    if kind is bytes:
        return value[:SHOWN_OCTETS].hex()
    if isinstance(value, enum.Flag) and not isinstance(value, enum.IntEnum):
        return [m._name_ for m in kind if m in value]
    if isinstance(value, enum.Enum):
        return value._name_
    if isinstance(value, bytes):
        return value[:SHOWN_OCTETS].hex()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields_json(value)
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """Return the field names of a dataclass type, looked up once per type."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in dataclasses.fields(cls))
    return names


#: Per dataclass type: its fields as ``(name, name + "_length")`` pairs, and a getter of their values.
_PLANS: dict[type, tuple[tuple[tuple[str, str], ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _plan(cls: type) -> tuple[tuple[tuple[str, str], ...], Callable[[Any], tuple[Any, ...]]]:
    names = _field_names(cls)
    get: Callable[[Any], Any] = operator.attrgetter(*names) if names else lambda _: ()
    values_of = get if len(names) != 1 else lambda message: (get(message),)
    plan = _PLANS[cls] = (tuple((name, f"{name}_length") for name in names), values_of)
    return plan


def _fields_json(message: Any) -> dict[str, Any]:
    plan = _PLANS.get(type(message)) or _plan(type(message))
    out: dict[str, Any] = {}
    for (name, length_key), value in zip(plan[0], plan[1](message), strict=True):
        kind = type(value)
        if kind is int or kind is str:
            out[name] = value
        elif kind is bytes:
            out[name] = value[:SHOWN_OCTETS].hex()
            out[length_key] = len(value)
        else:
            out[name] = _json_value(value)
            if isinstance(value, bytes):
                out[length_key] = len(value)
    return out


#: The JSON ``flags`` of the first ``EventFlag`` values seen (copied per record).
_FLAGS_JSON: dict[int, list[str]] = {}


def _flags_json(flags: Any) -> Any:
    if type(flags) is not EventFlag:
        return _json_value(flags)
    names = _FLAGS_JSON.get(flags)
    if names is None:
        names = _json_value(flags)
        if len(_FLAGS_JSON) < 64:  # bounded: any of 2**24 flag values may arrive
            _FLAGS_JSON[flags] = names
    return names.copy()


#: The ``command_code`` and ``command`` keys of each command class with a fixed code.
_HEADS: dict[type, tuple[int, str]] = {}


def command_json(command: Command) -> dict[str, Any]:
    """Return the JSON view of a decoded command (keys in :data:`JSON_KEYS`)."""
    cls = type(command)
    head = _HEADS.get(cls)
    if head is None:
        code = command.command_code
        head = (int(code), _name(code))
        if cls is not UnknownCommand:  # the others' code is a class attribute
            _HEADS[cls] = head
    out: dict[str, Any] = {"command_code": head[0], "command": head[1]}
    if isinstance(command, EventCommand):
        body = command.body
        kind = body.event_kind
        out["event_id"] = command.event_id
        out["tick"] = command.tick
        out["flags"] = _flags_json(command.flags)
        out["event_kind"] = int(kind)
        out["event_kind_name"] = _name(kind)
        out["body"] = _fields_json(body)
        return out
    out["fields"] = _fields_json(command)
    return out


def command_format(command: Command) -> str:
    """Return ``"EV"`` for icEvent, ``"CMD"`` otherwise."""
    return "EV" if isinstance(command, EventCommand) else "CMD"


def command_type_name(command: Command) -> str:
    """Return the command name, or ``EVENT/<kind>`` for events (summary counts)."""
    if isinstance(command, EventCommand):
        return f"EVENT/{_name(command.body.event_kind)}"
    return _name(command.command_code)


#: ``command_counted`` by message class (of the body for icEvent); not for the unknown ones.
_COUNTED: dict[type, tuple[str, str]] = {}


def command_counted(finding: Finding) -> tuple[str, str | None]:
    """``(command_format, command_type_name)`` of a finding's command, remembered per class."""
    message = finding.message
    cls = type(message)
    if cls is EventCommand:
        cls = type(message.body)
    pair = _COUNTED.get(cls)
    if pair is None:
        pair = (command_format(message), command_type_name(message))
        if cls is not UnknownEvent and cls is not UnknownCommand:
            _COUNTED[cls] = pair
    return pair


_ENCODE = msgspec.json.Encoder().encode


def command_json_text(finding: Finding) -> str | None:
    """The keys of ``command_json(finding.message)`` as msgspec writes them, without braces.

    ``None`` (the record is then encoded from its dict) when msgspec cannot encode them
    or the text is not ASCII.
    """
    try:
        text = _ENCODE(command_json(finding.message))
    except (TypeError, OverflowError, msgspec.EncodeError):
        return None
    return text[1:-1].decode("ascii") if text.isascii() else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        shown = value[:16].hex(" ")
        return f"{len(value)}B[{shown}{' ..' if len(value) > 16 else ''}]"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, enum.Enum):
        return _name(value)
    return str(value)


def _fields_text(message: Any) -> str:
    plan = _PLANS.get(type(message)) or _plan(type(message))
    parts = []
    for (name, _), value in zip(plan[0], plan[1](message), strict=True):
        kind = type(value)
        if kind is int:
            parts.append(f"{name}={value}")
        elif kind is str and len(value) <= 60:
            parts.append(f"{name}={value!r}")
        else:
            parts.append(f"{name}={_text(value)}")
    return " ".join(parts)


#: The table columns of IMB3 rows (after time, stream and direction).
COLUMNS = (
    Column("fmt", 3),
    Column("event_id", 8, ">"),
    Column("command", 24),
    Column("event_kind", 19),
    Column("fields"),
)

#: The ``command`` and ``event_kind`` cells of icEvent by body class (not ``UnknownEvent``).
_EVENT_CELLS: dict[type, tuple[str, str]] = {}


def command_cells(command: Command) -> tuple[str, ...]:
    """Return the table cells of a command, one per column of :data:`COLUMNS`."""
    if isinstance(command, EventCommand):
        body = command.body
        cells = _EVENT_CELLS.get(type(body))
        if cells is None:
            unknown = isinstance(body, UnknownEvent)
            kind = "UNKNOWN " + str(body.event_kind) if unknown else _name(body.event_kind)
            cells = (_name(command.command_code), kind)
            if not unknown:
                _EVENT_CELLS[type(body)] = cells
        flags = int(command.flags)
        text = _fields_text(body) + f" flags={flags:#x}" if flags else _fields_text(body)
        return ("EV", str(command.event_id), cells[0], cells[1], text)
    if isinstance(command, UnknownCommand):
        return ("CMD", "", f"UNKNOWN {command.command_code}", "", _fields_text(command))
    head = _HEADS.get(type(command))
    name = head[1] if head is not None else _name(command.command_code)
    return ("CMD", "", name, "", _fields_text(command))


JSON_KEYS = """\
IMB3 records (protocol "imb") have the common keys of every record (see
otwire.inspect.iec104.JSON_KEYS). kind "apdu" (a decoded frame) adds: command_code
(int32), command (name, e.g. "SUBSCRIBE"); for icEvent: event_id, tick, flags (list of
flag names), event_kind (int), event_kind_name, body {<field>: <value>}; for other
commands: fields {<field>: <value>}. Byte fields show at most 64 octets as hex, with
<field>_length giving their size.
"""


#: How IMB3 commands are shown (named by :mod:`otwire.registry`).
VIEW = ProtocolView(
    command_json,
    COLUMNS,
    command_cells,
    command_format,
    command_type_name,
    counted=command_counted,
    json_text=command_json_text,
)
