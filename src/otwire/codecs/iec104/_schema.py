"""construct schemas of IEC 60870-5-104 APDUs: the spec of record (specs/pattern.md, "Files").

Ordered like the standard. Schemas carry raw integers only; meaning (flags,
enums, datetimes) is added by ``elements.py`` and ``asdu.py``. Every schema is
compiled on first use (``APCI``, ``ASDU``, ``APDU``: the module's ``__getattr__``)
and must not fall back to interpreted parsing (a test checks
``"linkedparsers[" not in source``). ``Terminated`` does fall back, so the end of
a frame is checked with a compiled ``Tell`` instead.

The runtime decoder (``asdu.py``/``apci.py``) is a ``struct`` fast path; a
hypothesis differential test proves it equal to these schemas.
"""

from __future__ import annotations

from typing import Any

from construct import (
    Array,
    Bytes,
    Const,
    GreedyBytes,
    IfThenElse,
    Int8ul,
    Int16sl,
    Int16ul,
    Int24ul,
    Int32sl,
    Int32ul,
    Struct,
    Switch,
    Tell,
    this,
)

from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.layouts import LAYOUTS

# --- IEC 60870-5-104 clause 5: APCI ------------------------------------------------
# START 0x68, length L (4..253: control field + ASDU), four control octets.
# I format: C1 b0 = 0, N(S) = C1>>1 | C2<<7; N(R) = C3>>1 | C4<<7 (15 bits).
# S format: C1 = 0x01; U format: C1 b0-b1 = 11 with one function bit of b2-b7.

_APCI = Struct(
    "start" / Const(b"\x68"),
    "length" / Int8ul,
    "c1" / Int8ul,
    "c2" / Int8ul,
    "c3" / Int8ul,
    "c4" / Int8ul,
)

# --- IEC 60870-5-101 7.2.6: information elements, as raw wire fields -------------

_OCTET = Int8ul
# 7.2.6.18 CP56Time2a: ms UI16, then min|RES1|IV, hour|RES2|SU, day|dow, month|RES3, year|RES4
_CP56 = Struct("ms" / Int16ul, "o2" / Int8ul, "o3" / Int8ul, "o4" / Int8ul, "o5" / Int8ul, "o6" / Int8ul)
# 7.2.6.19 CP24Time2a: the first three octets of CP56Time2a
_CP24 = Struct("ms" / Int16ul, "o2" / Int8ul)
# 7.2.6.9 BCR: I32 counter, then SQ|CY|CA|IV
_BCR = Struct("counter" / Int32sl, "flags" / Int8ul)
# 7.2.6.40 SCD: ST1-16 then CD1-16
_SCD = Struct("st" / Int16ul, "cd" / Int16ul)
# 7.2.6.36 segment: LOS then LOS octets
_SEGMENT = Struct("los" / Int8ul, "data" / Bytes(this.los))

ELEMENT_SCHEMAS: dict[type[el.Element], Any] = {
    el.NVA: Int16sl,  # 7.2.6.6 F16, raw/32768
    el.SVA: Int16sl,  # 7.2.6.7 I16
    el.R32: Int32ul,  # 7.2.6.8 IEEE STD 754 binary32, kept as its 32 bits
    el.BCR: _BCR,
    el.BSI: Int32ul,  # 7.2.6.13 BS32
    el.FBP: Int16ul,  # 7.2.6.14 UI16 0x55AA
    el.TSC: Int16ul,  # -104 8.7 UI16
    el.NOF: Int16ul,  # 7.2.6.33 UI16
    el.SCD: _SCD,
    el.LOF: Int24ul,  # 7.2.6.35 UI24
    el.Segment: _SEGMENT,
    el.CP16Time2a: Int16ul,  # 7.2.6.20 UI16 ms
    el.CP24Time2a: _CP24,
    el.CP56Time2a: _CP56,
}


def element_schema(cls: type[el.Element]) -> Any:
    """Return the construct schema of one element class (one-octet elements are ``Int8ul``)."""
    if issubclass(cls, el.OctetElement):
        return _OCTET
    return ELEMENT_SCHEMAS[cls]


def _elements_struct(layout: tuple[type[el.Element], ...]) -> Any:
    return Struct(*(f"e{i}" / element_schema(cls) for i, cls in enumerate(layout)))


# --- IEC 60870-5-101 7.2-7.3, -104 clause 8: ASDU ----------------------------------
# type_id UI8; VSQ: b7 SQ, b0-b6 number; COT: b0-b5 cause, b6 P/N, b7 T;
# originator address UI8; common address UI16; IOA UI24.
# SQ=0: number x (IOA, elements); SQ=1: IOA, then number x elements.


def _information(layout: tuple[type[el.Element], ...]) -> Any:
    elements = _elements_struct(layout)
    sq1 = Struct("ioa" / Int24ul, "elements" / Array(this._.vsq & 0x7F, elements))
    sq0 = Array(this.vsq & 0x7F, Struct("ioa" / Int24ul, "elements" / elements))
    return IfThenElse(this.vsq >= 0x80, sq1, sq0)


_ASDU = Struct(
    "type_id" / Int8ul,
    "vsq" / Int8ul,
    "cot" / Int8ul,
    "originator_address" / Int8ul,
    "common_address" / Int16ul,
    # An empty VSQ (number 0) carries no information part for a known type, whatever SQ
    # says; an unknown type keeps whatever follows as raw octets.
    "information"
    / Switch(
        this.type_id,
        {int(t): IfThenElse(this.vsq & 0x7F == 0, Bytes(0), _information(lay)) for t, lay in LAYOUTS.items()},
        default=GreedyBytes,
    ),
    "end" / Tell,
)

# An APDU as one frame: APCI followed by an optional ASDU (I format only).
_APDU = Struct("apci" / _APCI, "asdu_octets" / GreedyBytes)

#: The interpreted schemas of record, for the compiled == interpreted test.
INTERPRETED: dict[str, Any] = {"APCI": _APCI, "ASDU": _ASDU, "APDU": _APDU}


def __getattr__(name: str) -> Any:
    """``APCI``, ``ASDU``, ``APDU``: the compiled schemas, compiled on first use (not at import).

    Compiling takes a tenth of a second, and only the encoder of record (:func:`encode_apdu`),
    the schema decoders and the tests use them. ``COMPILED``: all three, for the
    no-interpreted-fallback test.
    """
    if name in INTERPRETED:
        compiled = globals()[name] = INTERPRETED[name].compile()
        return compiled
    if name == "COMPILED":
        return {key: __getattr__(key) if key not in globals() else globals()[key] for key in INTERPRETED}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- element <-> schema tree (raw wire fields) --------------------------------------


def element_from_tree(cls: type[el.Element], value: Any) -> el.Element:
    """Build an element from what its schema parsed.

    Raises:
        ValueError: a segment is shorter than its LOS says.
    """
    if cls is el.CP56Time2a:
        return cls(raw=bytes((value.ms & 0xFF, value.ms >> 8, value.o2, value.o3, value.o4, value.o5, value.o6)))
    if cls is el.CP24Time2a:
        return cls(raw=bytes((value.ms & 0xFF, value.ms >> 8, value.o2)))
    if cls is el.Segment:
        if len(value.data) != value.los:
            raise ValueError(f"segment truncated: LOS {value.los}, {len(value.data)} octets present")
        return el.Segment(data=bytes(value.data))
    if cls is el.LOF:
        return el.LOF(value=value)
    if isinstance(value, dict):
        return cls.from_raw(*(v for k, v in value.items() if not k.startswith("_")))
    return cls.from_raw(value)


def element_to_tree(element: el.Element) -> Any:
    """Return the schema value of an element (the inverse of :func:`element_from_tree`)."""
    match element:
        case el.OctetElement():
            return element.octet
        case el.CP56Time2a(raw=raw):
            return {
                "ms": raw[0] | raw[1] << 8,
                "o2": raw[2],
                "o3": raw[3],
                "o4": raw[4],
                "o5": raw[5],
                "o6": raw[6],
            }
        case el.CP24Time2a(raw=raw):
            return {"ms": raw[0] | raw[1] << 8, "o2": raw[2]}
        case el.Segment(data=data):
            return {"los": len(data), "data": data}
        case el.LOF(value=value):
            return value
        case el.BCR():
            counter, flags = element.to_raw()
            return {"counter": counter, "flags": flags}
        case el.SCD(st=st, cd=cd):
            return {"st": st, "cd": cd}
    return element.to_raw()[0]
