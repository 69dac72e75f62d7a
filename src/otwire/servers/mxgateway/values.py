"""Simulated tag values: a deterministic value per (tag, tick), of a type chosen by the attribute name.

The attribute part of a reference (after the last ``.``) picks the type: names containing
``Running``, ``Alarm``, ``Open``, ``Flag`` or ``Bool`` are booleans; ``Count``, ``Hours``,
``Mode`` or ``Int`` 32-bit integers; ``Desc``, ``Name``, ``Text``, ``State`` or ``String``
strings; anything else doubles. Values move every tick until a client writes one; a written
value then holds (``specs/mxgateway/notes.md``, "Simulator"). A written sparse array is held
as the gateway holds it: expanded into a full ``MxArray`` of its length, default-filled
(:func:`expand_sparse`; the contract's note on ``MxSparseArray``).
"""

from __future__ import annotations

import datetime
import math
import zlib

import betterproto2

from otwire.codecs.mxgateway import from_mx_value, pb, to_mx_value

__all__ = ["QUALITY_GOOD", "TagState", "expand_sparse", "kind_of", "python_value", "value_at"]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
#: The default element of each ``kind`` arm (what an index the write did not name holds).
_DEFAULTS: dict[str, object] = {
    "bool_value": False,
    "int32_value": 0,
    "int64_value": 0,
    "float_value": 0.0,
    "double_value": 0.0,
    "string_value": "",
    "timestamp_value": _EPOCH,
    "duration_value": datetime.timedelta(0),
    "bytes_value": b"",
}
#: The arm and variant type of an element type, when the write named no element to copy them from.
_BY_TYPE = {
    pb.MxDataType.BOOLEAN: ("bool_value", pb.VariantType.VT_BOOL),
    pb.MxDataType.INTEGER: ("int32_value", pb.VariantType.VT_I4),
    pb.MxDataType.FLOAT: ("float_value", pb.VariantType.VT_R4),
    pb.MxDataType.DOUBLE: ("double_value", pb.VariantType.VT_R8),
    pb.MxDataType.STRING: ("string_value", pb.VariantType.VT_BSTR),
    pb.MxDataType.TIME: ("timestamp_value", pb.VariantType.VT_DATE),
    pb.MxDataType.ELAPSED_TIME: ("duration_value", pb.VariantType.VT_R8),
}

#: OPC DA quality word "Good" (``0xC0``).
QUALITY_GOOD = 192

_KINDS = (
    ("bool", ("Running", "Alarm", "Open", "Flag", "Bool")),
    ("int", ("Count", "Hours", "Mode", "Int")),
    ("string", ("Desc", "Name", "Text", "State", "String")),
)


def kind_of(tag: str) -> str:
    """The value type of ``tag``: ``"bool"``, ``"int"``, ``"string"`` or ``"double"``."""
    attribute = tag.rpartition(".")[2]
    for kind, words in _KINDS:
        if any(word in attribute for word in words):
            return kind
    return "double"


def value_at(tag: str, tick: int) -> pb.MxValue:
    """The simulated value of ``tag`` at ``tick`` (deterministic).

    The ``MxValue`` comes from the codec's :func:`otwire.codecs.mxgateway.to_mx_value`, so the
    simulator and the client share one value mapping (``kind`` arm, ``data_type``, ``variant_type``).
    """
    phase = zlib.crc32(tag.encode()) % 97
    kind = kind_of(tag)
    if kind == "bool":
        return to_mx_value((tick // 5 + phase) % 2 == 0)
    if kind == "int":
        return to_mx_value(tick + phase)
    if kind == "string":
        return to_mx_value(f"{tag} #{tick}")
    return to_mx_value(round(50.0 + 50.0 * math.sin((tick + phase) / 10.0), 3))


def python_value(value: pb.MxValue | None) -> object:
    """The Python value of an ``MxValue`` (:func:`otwire.codecs.mxgateway.from_mx_value`); ``None`` for ``None``."""
    return None if value is None else from_mx_value(value)


def expand_sparse(value: pb.MxValue) -> pb.MxValue:
    """A sparse-array write as the gateway holds it: a full ``MxArray`` of ``length`` elements.

    The indexes the write names hold its values; every other index holds the default of the
    element type (0, 0.0, ``False``, ``""``, the epoch, a zero duration, empty bytes; a null
    ``MxValue`` for element types without a scalar arm). The element arm and variant type are
    those of the written elements (``INTEGER`` elements written as int64 stay int64), else
    those of ``element_data_type``. Any other value is returned as it is.
    """
    sparse = value.sparse_array_value
    if sparse is None:
        return value
    given = {entry.index: entry.value or pb.MxValue() for entry in sparse.entries}
    arm, variant = _BY_TYPE.get(sparse.element_data_type, ("", pb.VariantType.VT_EMPTY))
    if given:
        sample = next(iter(given.values()))
        arm, variant = betterproto2.which_one_of(sample, "kind")[0], sample.variant_type
    if arm in _DEFAULTS:
        default = pb.MxValue(data_type=sparse.element_data_type, variant_type=variant)
        setattr(default, arm, _DEFAULTS[arm])
    else:
        default = pb.MxValue(is_null=True, data_type=pb.MxDataType.NO_DATA, variant_type=pb.VariantType.VT_EMPTY)
    array = pb.MxArray(
        element_data_type=sparse.element_data_type,
        element_variant_type=variant,
        elements=[given.get(index, default) for index in range(sparse.length)],
    )
    return pb.MxValue(data_type=value.data_type, variant_type=pb.VariantType.VT_ARRAY, array_value=array)


class TagState:
    """The current value, quality and timestamp of one tag.

    Args:
        tag: The reference (``Object.Attribute``).
        now: The time of the first value (UTC).
    """

    __slots__ = ("tag", "timestamp", "value", "written")

    def __init__(self, tag: str, now: datetime.datetime) -> None:
        self.tag = tag
        self.value = value_at(tag, 0)
        self.timestamp = now
        self.written = False

    def advance(self, tick: int, now: datetime.datetime) -> None:
        """Move to the value of ``tick`` (a written value holds; the timestamp moves anyway)."""
        if not self.written:
            self.value = value_at(self.tag, tick)
        self.timestamp = now

    def write(self, value: pb.MxValue, now: datetime.datetime) -> None:
        """Hold ``value`` from now on (a sparse array expanded: :func:`expand_sparse`)."""
        self.value, self.timestamp, self.written = expand_sparse(value), now, True
