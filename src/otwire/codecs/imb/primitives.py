"""IMB3 primitive encodings (``specs/imb/notes.md`` §3) and the field checks of every message.

All integers are little-endian two's complement; floats are IEEE 754 binary64.

==========  ======================================================================
type        octets
==========  ======================================================================
int32       4
int64       8
double      8
boolean     1, 0 or 1 (any other value is a ``DecodeError``)
string      int32 octet count n >= 0, then n octets of UTF-8 (no terminator)
byte block  int32 octet count n >= 0, then n octets (same shape as a string)
int32 list  int32 count n >= 0, then n int32
==========  ======================================================================

The pyimb helpers keep pyimb's names, arguments and results (notes §7):
``encode_int32``, ``encode_uint32``, ``decode_int``, ``decode_uint``,
``encode_string`` and ``decode_string(buf, start=0, nextpos=False)``. Unlike
pyimb they are strict: a negative or too large string length, or invalid UTF-8,
is a ``DecodeError`` instead of a silently shortened string or a
``UnicodeDecodeError``; a value out of range is an ``EncodeError`` instead of an
``OverflowError``.

``Reader`` is the cursor the fast decoders use; ``Message`` is the base of every
message dataclass and validates fields by their annotation (``Int32``,
``Int64``, ``str``, ...), which also documents the wire type.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeAlias, overload

from otwire.codecs._base import enum_or_int
from otwire.codecs.imb.types import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, Action, ClientState, LogLevel
from otwire.errors import DecodeError, EncodeError

Buffer: TypeAlias = bytes | bytearray | memoryview
#: A field sent as an int32 (annotation only; the value is an ``int``).
Int32: TypeAlias = int
#: A field sent as an int64 (annotation only; the value is an ``int``).
Int64: TypeAlias = int

_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")


# --- pyimb helpers ------------------------------------------------------------------


def encode_int32(value: int) -> bytes:
    """Encode a signed 32-bit integer, little-endian (4 octets).

    Raises:
        EncodeError: ``value`` is not an int in -2**31..2**31-1.
    """
    check_int32("value", value)
    return _I32.pack(value)


def encode_uint32(value: int) -> bytes:
    """Encode an unsigned 32-bit integer, little-endian (4 octets).

    Raises:
        EncodeError: ``value`` is not an int in 0..2**32-1.
    """
    if not (isinstance(value, int) and 0 <= value <= 0xFFFFFFFF):
        raise EncodeError(f"value={value!r} not in 0..4294967295")
    return _U32.pack(value)


def decode_int(buf: Buffer) -> int:
    """Decode all of ``buf`` as a signed little-endian integer (any length; ``b""`` is 0).

    Raises:
        Nothing: every octet string is some integer.
    """
    return int.from_bytes(buf, "little", signed=True)


def decode_uint(buf: Buffer) -> int:
    """Decode all of ``buf`` as an unsigned little-endian integer (any length; ``b""`` is 0).

    Raises:
        Nothing: every octet string is some integer.
    """
    return int.from_bytes(buf, "little", signed=False)


def encode_string(value: str) -> bytes:
    """Encode a string: int32 octet count, then the UTF-8 octets.

    >>> encode_string("foo")
    b'\\x03\\x00\\x00\\x00foo'

    Raises:
        EncodeError: ``value`` is not a ``str`` or cannot be UTF-8 encoded (lone surrogates).
    """
    encoded = _utf8("value", value)
    return _I32.pack(len(encoded)) + encoded


@overload
def decode_string(buf: Buffer, start: int = 0, nextpos: Literal[False] = False) -> str: ...
@overload
def decode_string(buf: Buffer, start: int = 0, *, nextpos: Literal[True]) -> tuple[str, int]: ...
@overload
def decode_string(buf: Buffer, start: int, nextpos: Literal[True]) -> tuple[str, int]: ...


def decode_string(buf: Buffer, start: int = 0, nextpos: bool = False) -> str | tuple[str, int]:
    """Decode the length-prefixed string at ``buf[start:]``; octets after it are left alone.

    >>> decode_string(encode_string("foo") + encode_string("bar"), nextpos=True)
    ('foo', 7)
    >>> decode_string(encode_string("foo") + encode_string("bar"), start=7)
    'bar'

    Args:
        buf: The octets.
        start: Offset of the int32 length prefix.
        nextpos: Also return the offset just after the string.

    Returns:
        The string, or ``(string, nextpos)`` when ``nextpos`` is true.

    Raises:
        DecodeError: fewer than 4 octets at ``start``, a negative length, a length
            beyond the end of ``buf``, or invalid UTF-8 (offset into ``buf``).
    """
    reader = Reader(bytes(buf), start)
    value = reader.string()
    return (value, reader.pos) if nextpos else value


# --- the fast path's cursor ---------------------------------------------------------


class Reader:
    """Read IMB primitives from ``data[pos:end]``; errors carry ``data`` and the offset in it.

    Every read method raises ``DecodeError`` when the octets do not hold the
    primitive: truncation is reported at ``end`` (where the octets ran out), a
    negative or too large length or count at its prefix, invalid UTF-8 at the
    first bad octet, a boolean other than 0/1 at that octet.

    Raises:
        DecodeError: ``pos`` is outside ``0..end`` (from the constructor).
    """

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        if not 0 <= pos <= self.end:
            raise DecodeError(f"start {pos} outside the {self.end} octets", data=data, offset=self.end)

    def _take(self, size: int, what: str) -> int:
        pos = self.pos
        if self.end - pos < size:
            raise DecodeError(f"{what} needs {size} octets, {self.end - pos} left", data=self.data, offset=self.end)
        self.pos = pos + size
        return pos

    def int32(self) -> int:
        """Read an int32."""
        pos = self.pos
        if self.end - pos < 4:
            pos = self._take(4, "int32")  # raises
        self.pos = pos + 4
        value: int = _I32.unpack_from(self.data, pos)[0]
        return value

    def uint32(self) -> int:
        """Read a uint32."""
        pos = self.pos
        if self.end - pos < 4:
            pos = self._take(4, "uint32")  # raises
        self.pos = pos + 4
        value: int = _U32.unpack_from(self.data, pos)[0]
        return value

    def int64(self) -> int:
        """Read an int64."""
        return int(_I64.unpack_from(self.data, self._take(8, "int64"))[0])

    def float64(self) -> float:
        """Read an IEEE 754 binary64."""
        return float(_F64.unpack_from(self.data, self._take(8, "double"))[0])

    def boolean(self) -> bool:
        """Read a one-octet boolean, 0 or 1."""
        pos = self._take(1, "boolean")
        octet = self.data[pos]
        if octet > 1:
            raise DecodeError(f"boolean octet {octet:#04x} is not 0 or 1", data=self.data, offset=pos)
        return octet == 1

    def _count(self, what: str, item_size: int) -> int:
        """Read a non-negative int32 count of items of at least ``item_size`` octets that fit."""
        at = self.pos
        count = self.int32()
        if count < 0:
            raise DecodeError(f"negative {what} {count}", data=self.data, offset=at)
        if count * item_size > self.end - self.pos:
            raise DecodeError(
                f"{what} {count} needs {count * item_size} octets, {self.end - self.pos} left",
                data=self.data,
                offset=at,
            )
        return count

    def block(self) -> bytes:
        """Read an int32-prefixed byte block."""
        size = self._count("byte count", 1)
        return self.data[self._take(size, "block") : self.pos]

    def string(self) -> str:
        """Read an int32-prefixed UTF-8 string."""
        data, pos, end = self.data, self.pos, self.end
        if end - pos >= 4:  # the common case, without the checks' calls
            size = _I32.unpack_from(data, pos)[0]
            if 0 <= size <= end - pos - 4:
                self.pos = stop = pos + 4 + size
                try:
                    text: str = data[pos + 4 : stop].decode()
                except UnicodeDecodeError:
                    self.pos = pos  # read again below, for the error
                else:
                    return text
        size = self._count("string length", 1)
        pos = self._take(size, "string")
        try:
            return self.data[pos : self.pos].decode()
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8: {exc.reason}", data=self.data, offset=pos + exc.start) from exc

    def int32_list(self) -> tuple[int, ...]:
        """Read an int32 count, then that many int32."""
        count = self._count("int32 count", 4)
        pos = self._take(4 * count, "int32 list")
        return struct.unpack_from(f"<{count}i", self.data, pos)

    def count(self, item_size: int) -> int:
        """Read the int32 count of an array whose items take at least ``item_size`` octets."""
        return self._count("count", item_size)

    def rest(self) -> bytes:
        """Read every octet left (a body that is not length-prefixed)."""
        pos, self.pos = self.pos, self.end
        return self.data[pos : self.end]

    def finish(self, what: str) -> None:
        """Check that every octet was read.

        Raises:
            DecodeError: octets left after ``what``.
        """
        if self.pos != self.end:
            raise DecodeError(f"{self.end - self.pos} octets after the {what}", data=self.data, offset=self.pos)


# --- field checks (STYLE.md 3.5 rule 6) ---------------------------------------------


def check_int32(name: str, value: object) -> None:
    """Raise ``EncodeError`` unless ``value`` is an int in the int32 range."""
    if not (isinstance(value, int) and INT32_MIN <= value <= INT32_MAX):
        raise EncodeError(f"{name}={value!r} is not an int32")


def _check_int64(name: str, value: object) -> None:
    if not (isinstance(value, int) and INT64_MIN <= value <= INT64_MAX):
        raise EncodeError(f"{name}={value!r} is not an int64")


def _utf8(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise EncodeError(f"{name} must be a str, got {type(value).__name__}")
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise EncodeError(f"{name} is not encodable as UTF-8: {exc.reason}") from exc


def _check_bytes(name: str, value: object) -> None:
    if not isinstance(value, bytes):
        raise EncodeError(f"{name} must be bytes, got {type(value).__name__}")


def _check_float(name: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise EncodeError(f"{name}={value!r} is not a float")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise EncodeError(f"{name}={value!r} is not a bool")


def _check_int32_tuple(name: str, value: object) -> None:
    if not isinstance(value, tuple):
        raise EncodeError(f"{name} must be a tuple, got {type(value).__name__}")
    for i, item in enumerate(value):
        check_int32(f"{name}[{i}]", item)


Check = Callable[[str, Any], object]
#: Field annotation (as written in the source) -> check; ``None`` = an int32 mapped to an enum.
FIELD_CHECKS: dict[str, Check] = {
    "Int32": check_int32,
    "Int64": _check_int64,
    "str": _utf8,
    "bytes": _check_bytes,
    "float": _check_float,
    "bool": _check_bool,
    "tuple[Int32, ...]": _check_int32_tuple,
}
#: Annotations of int32 fields that decode to an enum member when the value has one.
ENUM_FIELDS: dict[str, Any] = {"Action | int": Action, "LogLevel | int": LogLevel, "ClientState | int": ClientState}
_PLAN: dict[type, tuple[tuple[str, Check | None, Any], ...]] = {}


def _plan(cls: type) -> tuple[tuple[str, Check | None, Any], ...]:
    plan: list[tuple[str, Check | None, Any]] = []
    for f in dataclasses.fields(cls):
        annotation = str(f.type)
        if annotation in ENUM_FIELDS:
            plan.append((f.name, None, ENUM_FIELDS[annotation]))
        elif annotation in FIELD_CHECKS:
            plan.append((f.name, FIELD_CHECKS[annotation], None))
        elif f.name not in cls._checked_by_class:  # type: ignore[attr-defined]
            raise TypeError(f"{cls.__name__}.{f.name}: no check for annotation {annotation!r}")
    _PLAN[cls] = result = tuple(plan)
    return result


class Message:
    """Base of the IMB message dataclasses: validates fields from their annotations.

    ``Int32``/``Int64`` fields must be ints in range, ``str`` fields UTF-8
    encodable, ``bytes`` fields ``bytes``; ``Action | int`` (and the other enum
    annotations) must be int32 and become the enum member when there is one.
    Fields named in ``_checked_by_class`` are validated by ``_check``.

    Raises:
        EncodeError: a field fails its check.
    """

    __slots__ = ()
    _checked_by_class: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        plan = _PLAN.get(type(self))
        if plan is None:
            plan = _plan(type(self))
        for name, check, enum_type in plan:
            value = getattr(self, name)
            if check is not None:
                check(name, value)
            else:
                check_int32(name, value)
                object.__setattr__(self, name, enum_or_int(enum_type, value))
        self._check()

    def _check(self) -> None:
        """Validate the fields named in ``_checked_by_class`` (subclasses override)."""
