"""Fast protobuf decoding into betterproto2 objects (``specs/mxgateway/notes.md`` §"Fast path").

betterproto2 0.10 parses through a ``BytesIO`` one octet at a time, builds a ``ParsedField``
dataclass per field and runs each message's dataclass ``__init__``: about 160 us for a
96-octet ``OnDataChange`` ``MxEvent``. :func:`fast_parse` reads the same wire format from the
buffer directly (base-128 varints, length-delimited fields, 32/64-bit fixed fields) with one
table per message class, compiled once from betterproto2's own field metadata, and builds the
objects without ``__init__``: a fresh instance gets a copy of the class's default field values
(plus new lists for repeated fields, and ``_unknown_fields = b""`` as ``__post_init__`` sets
it) as its ``__dict__``, then the decoded fields. That is exactly the state betterproto2's
``__init__`` + ``load`` leave (the generated classes are plain dataclasses: no slots, no
validators, no pydantic), and the result compares equal field by field. Timestamps decode
through a small cache keyed by their encoded body (the events of one tick share them);
``datetime`` objects are immutable, so sharing them changes nothing a caller can see.

The fast path takes only input it can decode exactly as betterproto2 does. Anything else (an
unknown field number, a known field with an unexpected wire type, a truncated field, a varint
longer than 10 octets, bad UTF-8, a group, a tag over two octets) raises internally and the
whole message is parsed again by ``cls.parse``, so odd input gives betterproto2's result or
betterproto2's exception. Like betterproto2 (and unlike protobuf), a repeated occurrence of a
message field replaces the earlier one, and several arms of a oneof may end up set. The
hypothesis test ``tests/mxgateway/test_fast_decode.py`` checks equality on random messages of
every class and on random octets.
"""

from __future__ import annotations

import dataclasses
import datetime
import struct
from collections.abc import Callable
from typing import Any, TypeVar

import betterproto2

__all__ = ["TIMESTAMP_CACHE_LIMIT", "fast_parse", "fast_parser"]

M = TypeVar("M", bound=betterproto2.Message)

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MASK32, _MASK64 = (1 << 32) - 1, (1 << 64) - 1
_SIGN32, _SIGN64 = 1 << 31, 1 << 63

# Field kinds. Varint kinds first (< _FIXED; the first four map a varint under 2**31 to
# itself), then fixed-width, then length-delimited.
_I32, _I64, _U32, _U64, _S32, _S64, _BOOL, _ENUM = range(8)
_FIXED = 8  # arg: struct.Struct
_STR, _BYTES, _MSG, _TIMESTAMP, _DURATION, _WRAPPED, _PACKED = range(9, 16)

_VARINT_KINDS = {
    betterproto2.TYPE_INT32: _I32,
    betterproto2.TYPE_INT64: _I64,
    betterproto2.TYPE_UINT32: _U32,
    betterproto2.TYPE_UINT64: _U64,
    betterproto2.TYPE_SINT32: _S32,
    betterproto2.TYPE_SINT64: _S64,
    betterproto2.TYPE_BOOL: _BOOL,
    betterproto2.TYPE_ENUM: _ENUM,
}
_FIXED_FORMATS = {
    betterproto2.TYPE_DOUBLE: (1, "<d"),
    betterproto2.TYPE_FIXED64: (1, "<Q"),
    betterproto2.TYPE_SFIXED64: (1, "<q"),
    betterproto2.TYPE_FLOAT: (5, "<f"),
    betterproto2.TYPE_FIXED32: (5, "<I"),
    betterproto2.TYPE_SFIXED32: (5, "<i"),
}


class _Unusual(Exception):
    """Input the fast path leaves to betterproto2."""


@dataclasses.dataclass(slots=True)
class _Plan:
    """How to decode one message class: defaults, repeated fields, and a tag -> field table."""

    cls: type[betterproto2.Message]
    defaults: dict[str, Any]
    lists: tuple[str, ...]
    supported: bool = True
    fields: dict[int, tuple[str, int, Any, bool]] = dataclasses.field(default_factory=dict)


_PLANS: dict[type[betterproto2.Message], _Plan] = {}

#: Timestamps by their encoded body (events of one tick share them); emptied when full.
_TIMESTAMPS: dict[bytes, datetime.datetime] = {}
TIMESTAMP_CACHE_LIMIT = 1024


class _Members(dict[int, Any]):
    """An enum's members by value, and the enum (``enum_cls(value)`` for unknown values)."""

    __slots__ = ("enum_cls",)

    def __init__(self, enum_cls: Any) -> None:
        super().__init__((int(member), member) for member in enum_cls)
        self.enum_cls = enum_cls


def _plan(cls: type[betterproto2.Message]) -> _Plan:
    """The decoding plan of ``cls``, compiled on first use from its betterproto2 metadata."""
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    meta: Any = cls._betterproto  # type: ignore[arg-type]
    defaults = dict(vars(cls()))
    lists = tuple(name for name, value in defaults.items() if isinstance(value, list))
    for name in lists:
        del defaults[name]
    # maps or non-optional messages (mutable defaults): always betterproto2
    supported = not any(isinstance(value, dict | betterproto2.Message) for value in defaults.values())
    plan = _Plan(cls, defaults, lists, supported)
    _PLANS[cls] = plan  # before the fields: recursive messages refer to their own plan
    for name, field_meta in meta.meta_by_field_name.items() if supported else ():
        _add_field(plan, name, field_meta, meta.cls_by_field.get(name))
    return plan


def _add_field(plan: _Plan, name: str, meta: Any, field_cls: Any) -> None:
    """Enter the tags of one field into ``plan.fields`` (unsupported kinds stay out)."""
    number, proto_type, repeated = meta.number, meta.proto_type, bool(meta.repeated)
    if proto_type in _VARINT_KINDS:
        kind = _VARINT_KINDS[proto_type]
        arg = _Members(field_cls) if kind == _ENUM else None
        plan.fields[number << 3] = (name, kind, arg, repeated)
        if repeated:
            plan.fields[number << 3 | 2] = (name, _PACKED, (kind, arg), True)
    elif proto_type in _FIXED_FORMATS and not repeated:
        wire_type, fmt = _FIXED_FORMATS[proto_type]
        plan.fields[number << 3 | wire_type] = (name, _FIXED, struct.Struct(fmt), False)
    elif proto_type == betterproto2.TYPE_STRING:
        plan.fields[number << 3 | 2] = (name, _STR, None, repeated)
    elif proto_type == betterproto2.TYPE_BYTES and not repeated:
        plan.fields[number << 3 | 2] = (name, _BYTES, None, False)
    elif proto_type == betterproto2.TYPE_MESSAGE and meta.unwrap is not None:
        wrapper = meta.unwrap()
        kind = {"Timestamp": _TIMESTAMP, "Duration": _DURATION}.get(wrapper.__name__, _WRAPPED)
        plan.fields[number << 3 | 2] = (name, kind, wrapper, repeated)
    elif proto_type == betterproto2.TYPE_MESSAGE:
        plan.fields[number << 3 | 2] = (name, _MSG, _plan(field_cls), repeated)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it (at most 10 octets, as betterproto2)."""
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    result, shift = byte & 0x7F, 7
    while True:
        pos += 1
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos + 1
        shift += 7
        if shift > 63:
            raise _Unusual


def _scalar(kind: int, arg: Any, raw: int) -> Any:
    """A decoded varint as betterproto2 post-processes it."""
    if kind == _I32:
        raw &= _MASK32
        return (raw ^ _SIGN32) - _SIGN32
    if kind in (_I64, _ENUM):
        raw &= _MASK64
        raw = (raw ^ _SIGN64) - _SIGN64
        if kind == _ENUM:  # betterproto2 makes unknown values pseudo-members
            return arg[raw] if raw in arg else arg.enum_cls(raw)
        return raw
    if kind == _U32:
        return raw & _MASK32
    if kind == _U64:
        return raw & _MASK64
    if kind == _BOOL:
        return raw > 0
    raw &= _MASK32 if kind == _S32 else _MASK64
    return (raw >> 1) ^ (-(raw & 1))


def _time(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """``(seconds, nanos)`` of a Timestamp or Duration body in ``data[pos:end]``."""
    seconds = nanos = 0
    while pos < end:
        tag = data[pos]
        if tag == 0x08:
            raw, pos = _varint(data, pos + 1)
            raw &= _MASK64
            seconds = (raw ^ _SIGN64) - _SIGN64
        elif tag == 0x10:
            raw, pos = _varint(data, pos + 1)
            raw &= _MASK32
            nanos = (raw ^ _SIGN32) - _SIGN32
        else:
            raise _Unusual
    if pos != end:
        raise _Unusual
    return seconds, nanos


def _length_delimited(kind: int, arg: Any, data: bytes, pos: int, end: int) -> Any:
    """The value of a length-delimited field whose body is ``data[pos:end]``."""
    if kind == _MSG:
        return _decode(arg, data, pos, end)
    if kind == _STR:
        return str(data[pos:end], "utf-8")
    if kind == _TIMESTAMP:
        key = bytes(data[pos:end])
        moment = _TIMESTAMPS.get(key)
        if moment is None:
            seconds, nanos = _time(data, pos, end)
            moment = _EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
            if len(_TIMESTAMPS) >= TIMESTAMP_CACHE_LIMIT:
                _TIMESTAMPS.clear()
            _TIMESTAMPS[key] = moment
        return moment
    if kind == _DURATION:
        seconds, nanos = _time(data, pos, end)
        return datetime.timedelta(seconds=seconds, microseconds=nanos / 1e3)
    if kind == _BYTES:
        return bytes(data[pos:end])
    if kind == _WRAPPED:
        return arg.parse(bytes(data[pos:end])).to_wrapped()
    scalar_kind, scalar_arg = arg  # _PACKED
    values = []
    while pos < end:
        raw, pos = _varint(data, pos)
        values.append(_scalar(scalar_kind, scalar_arg, raw))
    if pos != end:
        raise _Unusual
    return values


def _decode(plan: _Plan, data: bytes, pos: int, end: int) -> Any:
    """One message of ``plan.cls`` from ``data[pos:end]``; raises on anything unusual.

    Raises:
        _Unusual, KeyError, IndexError, ValueError, OverflowError, struct.error: left to betterproto2.
    """
    if not plan.supported:
        raise _Unusual
    values = plan.defaults.copy()
    for name in plan.lists:
        values[name] = []
    fields = plan.fields
    while pos < end:
        tag = data[pos]
        pos += 1
        if tag >= 0x80:
            second = data[pos]
            if second >= 0x80:
                raise _Unusual
            tag = (tag & 0x7F) | second << 7
            pos += 1
        name, kind, arg, repeated = fields[tag]  # KeyError: unknown field or wire type
        if kind == _FIXED:
            stop = pos + arg.size
            if stop > end:
                raise _Unusual
            value, pos = arg.unpack_from(data, pos)[0], stop
        else:
            raw = data[pos]
            if raw < 0x80:
                pos += 1
            else:
                raw, pos = _varint(data, pos)
            if kind < _FIXED:
                if kind <= _U64 and raw < _SIGN32:
                    value = raw
                else:  # a known enum member at once (negative ones arrive as 2**64 - n: _scalar)
                    value = arg[raw] if kind == _ENUM and raw in arg else _scalar(kind, arg, raw)
            else:
                stop = pos + raw
                if stop > end:
                    raise _Unusual
                if kind == _MSG:
                    value = _decode(arg, data, pos, stop)
                elif kind == _TIMESTAMP:  # a datetime is never false
                    value = _TIMESTAMPS.get(data[pos:stop]) or _length_delimited(kind, arg, data, pos, stop)
                else:
                    value = _length_delimited(kind, arg, data, pos, stop)
                pos = stop
        if kind == _PACKED:
            values[name].extend(value)
        elif repeated:
            values[name].append(value)
        else:
            values[name] = value
    if pos != end:
        raise _Unusual
    message = object.__new__(plan.cls)
    message.__dict__ = values
    return message


def fast_parse(cls: type[M], data: bytes) -> M:
    """Parse ``data`` as a ``cls`` message: equal to ``cls.parse(data)``, faster (module docstring).

    Args:
        cls: A betterproto2 message class (any; plans are compiled on first use).
        data: The message's wire octets (``bytes``, ``bytearray`` or ``memoryview``).

    Raises:
        Exception: Whatever ``cls.parse(data)`` raises for input it cannot parse (betterproto2
            0.10 raises ``ValueError``, ``EOFError``, ``UnicodeDecodeError``, ``OverflowError``...).
    """
    if type(data) is not bytes:
        data = bytes(data)  # hashable slices (the timestamp cache)
    try:
        result: M = _decode(_plan(cls), data, 0, len(data))
    except (_Unusual, KeyError, IndexError, ValueError, OverflowError, RecursionError, struct.error):
        return cls.parse(bytes(data))
    return result


def fast_parser(cls: type[M]) -> Callable[[bytes], M]:
    """A one-argument parser for ``cls`` (``fast_parse`` bound to ``cls``; the plan compiled now)."""
    _plan(cls)
    return lambda data: fast_parse(cls, data)
