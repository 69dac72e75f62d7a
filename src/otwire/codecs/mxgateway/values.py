"""Python values to and from ``MxValue`` (``specs/mxgateway/notes.md`` §client "Values").

``to_mx_value`` picks the ``kind`` arm, ``data_type`` (ArchestrA ``MxDataType``) and
``variant_type`` (COM ``VARTYPE``) together, so the three always agree:

==========================  ==================  ===============  =================
Python value                ``kind`` arm        ``data_type``    ``variant_type``
==========================  ==================  ===============  =================
``None``                    (none, is_null)     NO_DATA          VT_EMPTY
``bool``                    bool_value          BOOLEAN          VT_BOOL
``int`` in int32 range      int32_value         INTEGER          VT_I4
``int`` in int64 range      int64_value         INTEGER          VT_I8
``float``                   double_value        DOUBLE           VT_R8
``float``, ``float32=True`` float_value         FLOAT            VT_R4
``str``                     string_value        STRING           VT_BSTR
aware ``datetime``          timestamp_value     TIME             VT_DATE
``timedelta``               duration_value      ELAPSED_TIME     VT_R8 [P]
``bytes``-like              bytes_value         UNKNOWN [P]      VT_RECORD
``list``/``tuple`` (1-D)    array_value         element type     VT_ARRAY
:class:`SparseArray`        sparse_array_value  element type     VT_ARRAY
==========================  ==================  ===============  =================

Arrays carry the element ``data_type``/``variant_type`` in ``MxArray`` and in each element;
the elements of one array must all map to the same arm (``int`` elements widen to int64 when
one of them needs it, ``int`` mixed with ``float`` becomes double). Sparse arrays are
write-only on the gateway (it expands them to a default-filled array, protocol v3).
``from_mx_value`` is the inverse and accepts anything the gateway may send.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import betterproto2

from otwire.errors import InvalidArgument, InvalidArgumentType

from .generated.mxaccess_gateway import v1 as pb

__all__ = ["SparseArray", "from_mx_value", "to_mx_value"]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Largest finite IEEE 754 binary32 value.
FLOAT32_MAX = 3.4028234663852886e38

#: Longest duration (in microseconds) the Duration conversion keeps exact.
MAX_DURATION_MICROSECONDS = 2**53
_MICROSECOND = _dt.timedelta(microseconds=1)

_DT = pb.MxDataType
_VT = pb.VariantType

# kind arm -> (data_type, variant_type)
_TYPES: dict[str, tuple[pb.MxDataType, pb.VariantType]] = {
    "bool_value": (_DT.BOOLEAN, _VT.VT_BOOL),
    "int32_value": (_DT.INTEGER, _VT.VT_I4),
    "int64_value": (_DT.INTEGER, _VT.VT_I8),
    "float_value": (_DT.FLOAT, _VT.VT_R4),
    "double_value": (_DT.DOUBLE, _VT.VT_R8),
    "string_value": (_DT.STRING, _VT.VT_BSTR),
    "timestamp_value": (_DT.TIME, _VT.VT_DATE),
    "duration_value": (_DT.ELAPSED_TIME, _VT.VT_R8),
    "bytes_value": (_DT.UNKNOWN, _VT.VT_RECORD),
}


@dataclass(frozen=True, slots=True)
class SparseArray:
    """A write-only sparse array: ``length`` elements, only those in ``values`` given.

    The gateway fills the others with the element type's default (protocol v3).

    Attributes:
        length: Number of elements of the whole array (>= 0).
        values: Element values by 0-based index (``0 <= index < length``); all of one type.
    """

    length: int
    values: Mapping[int, Any] = field(default_factory=dict)


def to_mx_value(value: object, *, float32: bool = False) -> pb.MxValue:
    """Convert a Python value to an ``MxValue`` (table in the module docstring).

    An ``MxValue`` is returned unchanged.

    Args:
        value: The value to write.
        float32: Send ``float`` values (also array elements) as IEEE binary32 (``FLOAT``,
            ``VT_R4``) instead of binary64.

    Raises:
        InvalidArgument: (a ``ValueError``) NaN or infinite floats, a float out of binary32
            range with ``float32``, an ``int`` outside int64, a naive ``datetime``, a negative
            ``timedelta`` with a fraction of a second or one over 2**53 microseconds, a nested
            or mixed-type array, a ``None`` element, a bad sparse index or length.
        InvalidArgumentType: (a ``TypeError``) a type with no MXAccess mapping.
    """
    if isinstance(value, pb.MxValue):
        return value
    if value is None:
        return pb.MxValue(is_null=True, data_type=_DT.NO_DATA, variant_type=_VT.VT_EMPTY)
    if isinstance(value, list | tuple):
        return _array(value, float32)
    if isinstance(value, SparseArray):
        return _sparse(value, float32)
    arm, payload = _scalar(value, float32)
    return _scalar_value(arm, payload)


def from_mx_value(message: pb.MxValue) -> Any:
    """Convert an ``MxValue`` to a Python value: the inverse of :func:`to_mx_value`.

    ``is_null`` or no ``kind`` arm gives ``None``; int32/int64 give ``int``; float/double give
    ``float``; a Timestamp gives an aware UTC ``datetime``; a Duration a ``timedelta``; an
    ``MxArray`` a ``list``; a sparse array a :class:`SparseArray`; ``bytes_value`` ``bytes``.

    Raises:
        InvalidArgumentType: ``message`` is not an ``MxValue``.
    """
    if not isinstance(message, pb.MxValue):
        raise InvalidArgumentType(f"expected an MxValue, got {type(message).__name__}")
    if message.is_null:
        return None
    arm, payload = betterproto2.which_one_of(message, "kind")
    if isinstance(payload, pb.MxArray):
        return [from_mx_value(element) for element in payload.elements]
    if isinstance(payload, pb.MxSparseArray):
        return SparseArray(payload.length, {e.index: from_mx_value(e.value or pb.MxValue()) for e in payload.entries})
    if isinstance(payload, _dt.datetime):
        return payload.astimezone(_dt.UTC)
    return payload if arm else None


def _scalar_value(arm: str, payload: object) -> pb.MxValue:
    data_type, variant_type = _TYPES[arm]
    message = pb.MxValue(data_type=data_type, variant_type=variant_type)
    setattr(message, arm, payload)  # betterproto2 clears the other arms of the oneof
    return message


def _scalar(value: object, float32: bool) -> tuple[str, object]:
    """The ``kind`` arm and payload of one scalar."""
    if isinstance(value, bool):
        return "bool_value", value
    if isinstance(value, int):
        return _int_arm(value), value
    if isinstance(value, float):
        return _float(value, float32)
    if isinstance(value, str):
        return "string_value", value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgument("naive datetime: MXAccess times need a timezone (use tzinfo=datetime.timezone.utc)")
        return "timestamp_value", value
    if isinstance(value, _dt.timedelta):
        return "duration_value", _duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes_value", bytes(value)
    raise InvalidArgumentType(f"no MXAccess mapping for {type(value).__name__}")


def _duration(value: _dt.timedelta) -> _dt.timedelta:
    # betterproto2 0.10's Duration.from_timedelta truncates seconds toward zero but takes a
    # positive remainder for nanos, and divides in binary64: refuse what it would corrupt.
    micros = value // _MICROSECOND
    if abs(micros) > MAX_DURATION_MICROSECONDS:
        raise InvalidArgument(f"duration {value} is longer than 2**53 microseconds")
    if micros < 0 and micros % 1_000_000:
        raise InvalidArgument(f"negative duration {value} with a fraction of a second")
    return value


def _int_arm(value: int) -> str:
    if INT32_MIN <= value <= INT32_MAX:
        return "int32_value"
    if INT64_MIN <= value <= INT64_MAX:
        return "int64_value"
    raise InvalidArgument(f"integer {value} is outside the int64 range")


def _float(value: float, float32: bool) -> tuple[str, float]:
    if not math.isfinite(value):
        raise InvalidArgument(f"MXAccess cannot carry the non-finite float {value!r}")
    if float32:
        if abs(value) > FLOAT32_MAX:
            raise InvalidArgument(f"float {value!r} is outside the binary32 range")
        return "float_value", value
    return "double_value", value


def _elements(values: list[Any] | tuple[Any, ...], float32: bool) -> tuple[str, list[object]]:
    """The common ``kind`` arm of array elements and their payloads (widened)."""
    arms: list[str] = []
    payloads: list[object] = []
    for index, element in enumerate(values):
        if element is None or isinstance(element, list | tuple | SparseArray | pb.MxValue):
            raise InvalidArgument(f"array element {index}: only 1-D arrays of scalars are supported")
        arm, payload = _scalar(element, float32)
        arms.append(arm)
        payloads.append(payload)
    kinds = set(arms)
    if not kinds:
        return "", []
    if len(kinds) == 1:
        return arms[0], payloads
    if kinds == {"int32_value", "int64_value"}:
        return "int64_value", payloads
    real = "float_value" if float32 else "double_value"
    if kinds <= {"int32_value", "int64_value", real}:
        return real, [_float(float(p), float32)[1] for p in payloads]  # type: ignore[arg-type]
    raise InvalidArgument(f"array elements of mixed types: {sorted(kinds)}")


def _array(values: list[Any] | tuple[Any, ...], float32: bool) -> pb.MxValue:
    arm, payloads = _elements(values, float32)
    data_type, variant_type = _TYPES[arm] if arm else (_DT.NO_DATA, _VT.VT_EMPTY)
    array = pb.MxArray(
        element_data_type=data_type,
        element_variant_type=variant_type,
        elements=[_scalar_value(arm, p) for p in payloads],
    )
    return pb.MxValue(data_type=data_type, variant_type=_VT.VT_ARRAY, array_value=array)


def _sparse(value: SparseArray, float32: bool) -> pb.MxValue:
    if not isinstance(value.length, int) or isinstance(value.length, bool) or not 0 <= value.length <= INT32_MAX:
        raise InvalidArgument(f"sparse array length {value.length!r} is not in 0..{INT32_MAX}")
    for index in value.values:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < value.length:
            raise InvalidArgument(f"sparse array index {index!r} is not in 0..{value.length - 1}")
    indexes = sorted(value.values)
    arm, payloads = _elements([value.values[i] for i in indexes], float32)
    data_type = _TYPES[arm][0] if arm else _DT.NO_DATA
    entries = [
        pb.MxSparseArrayEntry(index=i, value=_scalar_value(arm, p)) for i, p in zip(indexes, payloads, strict=True)
    ]
    sparse = pb.MxSparseArray(element_data_type=data_type, length=value.length, entries=entries)
    return pb.MxValue(data_type=data_type, variant_type=_VT.VT_ARRAY, sparse_array_value=sparse)
