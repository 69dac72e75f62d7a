"""Simulated tag values: a deterministic value per (tag, tick), of a type chosen by the attribute name.

The attribute part of a reference (after the last ``.``) picks the type: names containing
``Running``, ``Alarm``, ``Open``, ``Flag`` or ``Bool`` are booleans; ``Count``, ``Hours``,
``Mode`` or ``Int`` 32-bit integers; ``Desc``, ``Name``, ``Text``, ``State`` or ``String``
strings; anything else doubles. Values move every tick until a client writes one; a written
value then holds (``specs/mxgateway/notes.md``, "Simulator").
"""

from __future__ import annotations

import datetime
import math
import zlib

import betterproto2

from otwire.codecs.mxgateway import pb

__all__ = ["QUALITY_GOOD", "TagState", "kind_of", "python_value", "value_at"]

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
    """The simulated value of ``tag`` at ``tick`` (deterministic)."""
    phase = zlib.crc32(tag.encode()) % 97
    kind = kind_of(tag)
    if kind == "bool":
        return pb.MxValue(
            data_type=pb.MxDataType.BOOLEAN,
            variant_type=pb.VariantType.VT_BOOL,
            bool_value=(tick // 5 + phase) % 2 == 0,
        )
    if kind == "int":
        return pb.MxValue(data_type=pb.MxDataType.INTEGER, variant_type=pb.VariantType.VT_I4, int32_value=tick + phase)
    if kind == "string":
        return pb.MxValue(
            data_type=pb.MxDataType.STRING, variant_type=pb.VariantType.VT_BSTR, string_value=f"{tag} #{tick}"
        )
    number = round(50.0 + 50.0 * math.sin((tick + phase) / 10.0), 3)
    return pb.MxValue(data_type=pb.MxDataType.DOUBLE, variant_type=pb.VariantType.VT_R8, double_value=number)


def python_value(value: pb.MxValue | None) -> object:
    """The Python value of an ``MxValue``'s ``kind`` (``None`` when unset or ``is_null``)."""
    if value is None or value.is_null:
        return None
    return betterproto2.which_one_of(value, "kind")[1]


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
        """Hold ``value`` from now on."""
        self.value, self.timestamp, self.written = value, now, True
