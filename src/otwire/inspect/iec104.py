"""IEC 104 dissector: octets of each direction -> decoded APDUs or problems.

Each direction is framed on its own (:class:`IEC104StreamDissector`); :class:`IEC104Dissector`
is the conversation dissector the registry (:mod:`otwire.registry`) names (both written in
:mod:`otwire.inspect._iec104_stream`). Also the JSON and table views of decoded APDUs
(:data:`VIEW`; JSON keys in :data:`JSON_KEYS`).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable
from typing import Any, cast

from otwire.codecs.iec104 import (
    Cot,
    CP16Time2a,
    CP24Time2a,
    CP56Time2a,
    Element,
    IFrame,
    SFrame,
    TypeId,
    UFrame,
)
from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.apci import APDU
from otwire.inspect._iec104_cells import CellsOf, compile_cells_view
from otwire.inspect._iec104_json import CompiledViews, JsonFill, compile_json_view
from otwire.inspect._iec104_stream import IEC104Dissector as IEC104Dissector
from otwire.inspect._iec104_stream import IEC104StreamDissector as IEC104StreamDissector
from otwire.inspect._iec104_text import JsonText, compile_json_text
from otwire.inspect.model import Column, Finding, ProtocolView

# --- JSON and text views -------------------------------------------------------------


def apdu_json(apdu: APDU) -> dict[str, Any]:
    """Return the JSON view of an APDU (keys in :data:`JSON_KEYS`)."""
    if type(apdu) is IFrame:
        a = apdu.asdu
        return {
            "format": "I",
            "ns": apdu.ns,
            "nr": apdu.nr,
            "type_id": int(a.type_id),
            "type": _type_name(a.type_id),
            "sq": a.sq,
            "number": a.number,
            "cot": int(a.cot),
            "cot_name": _cot_name(a.cot),
            "negative": a.negative,
            "test": a.test,
            "originator_address": a.originator_address,
            "common_address": a.common_address,
            "objects": [{"ioa": o.ioa, "elements": [element_json(e) for e in o.elements]} for o in a.objects],
            "raw_information": a.raw_information.hex() if a.raw_information else None,
        }
    match apdu:
        case SFrame(nr=nr):
            return {"format": "S", "nr": nr}
        case UFrame(function=function):
            return {"format": "U", "u_function": function.name}
    raise TypeError(apdu)


def apdu_json_into(finding: Finding, out: dict[str, Any]) -> None:
    """Add the JSON view of an APDU finding's message to ``out``.

    The same as ``out.update(apdu_json(finding.message))``; I-frames of a type with a
    fixed-size layout are read from the finding's octets by a view compiled once per
    type (:func:`otwire.inspect._iec104_json.compile_json_view`), without decoding them.
    """
    raw = finding.raw
    if not raw[2] & 1:  # an I-frame (the finding's frame decodes)
        type_id = raw[6]
        fill = _FILLS.get(type_id, _UNKNOWN)
        if fill is _UNKNOWN:
            fill = _FILLS[type_id] = compile_json_view(type_id, element_json, (_type_name, _cot_name), _iso_of)
        if fill is not None:
            fill(raw, out)
            return
    out.update(apdu_json(finding.message))


def apdu_json_text(finding: Finding) -> str | None:
    """The JSON view of an APDU finding's message as JSON text (``ProtocolView.json_text``), or ``None``.

    I-frames of a type with a fixed-size layout are written from the finding's octets by a
    view compiled once per type and VSQ octet (:func:`otwire.inspect._iec104_text.compile_json_text`,
    kept by :class:`~otwire.inspect._iec104_json.CompiledViews`), S-frames directly; ``None``
    for the rest (U-frames, other types: encoded from the dict).
    """
    raw = finding.raw
    c1 = raw[2]
    if not c1 & 1:  # an I-frame (the finding's frame decodes)
        text = _TEXTS.get(raw[6] << 8 | raw[7], _UNKNOWN)
        if text is _UNKNOWN:
            text = _TEXT_VIEWS.view(raw[6], raw[7])
        return None if text is None else text(raw)
    if c1 == 0x01:
        return f'"format":"S","nr":{(raw[4] | raw[5] << 8) >> 1}'
    return None


_TEXT_VIEWS: CompiledViews[JsonText] = CompiledViews(
    lambda type_id, vsq: compile_json_text(type_id, element_json, (_type_name, _cot_name), _iso_of, vsq)
)
_TEXTS = _TEXT_VIEWS.by_key


def apdu_counted(finding: Finding) -> tuple[str, str | None]:
    """``(apdu_format(m), apdu_type_name(m))`` of an APDU finding's message ``m``, read from its octets."""
    raw = finding.raw
    if not raw[2] & 1:
        return _I_COUNTED[raw[6]]
    return _S_COUNTED if raw[2] == 0x01 else _U_COUNTED


_FILLS: dict[int, JsonFill | None] = {}


def apdu_format(apdu: APDU) -> str:
    """Return ``"I"``, ``"S"`` or ``"U"``."""
    return "I" if isinstance(apdu, IFrame) else "S" if isinstance(apdu, SFrame) else "U"


def apdu_type_name(apdu: APDU) -> str | None:
    """Return the type mnemonic of an I-frame's ASDU (or its number if unknown), else ``None``."""
    return _type_name(apdu.asdu.type_id) if type(apdu) is IFrame else None


def element_json(element: Element) -> dict[str, Any]:
    """Return ``{"element": "SIQ", <field>: <value>, ...}`` with JSON-safe values.

    Flags become lists of member names, enums their names, octets hex strings,
    non-finite floats the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
    time tags add ``iso`` (or ``null`` when the fields are not a valid time).
    ``NVA`` adds its ``value``; ``R32`` shows its ``value`` (a float) instead of its bits.
    The field names of each element type are looked up once (:func:`_plan`).
    """
    plan = _PLANS.get(type(element))
    if plan is None:
        plan = _plan(type(element))
    name, fields, extra = plan
    out: dict[str, Any] = {"element": name}
    for key in fields:
        value = getattr(element, key)
        convert = _CONVERTERS.get(type(value), _UNKNOWN)
        if convert is _UNKNOWN:
            convert = _converter(type(value))
        out[key] = value if convert is None else convert(value)
    if extra is not None:
        extra(element, out)
    return out


_Plan = tuple[str, tuple[str, ...], Callable[[Any, dict[str, Any]], None] | None]
_PLANS: dict[type, _Plan] = {}
_UNKNOWN: Any = object()
_CONVERTERS: dict[type, Callable[[Any], Any] | None] = {}
_FLAG_NAMES: dict[enum.Flag, tuple[str, ...]] = {}


def _plan(cls: type) -> _Plan:
    """Return (and remember) an element type's name, JSON fields and extra keys."""
    fields = tuple(f.name for f in dataclasses.fields(cls) if not (cls is el.R32 and f.name == "bits"))
    extra: Callable[[Any, dict[str, Any]], None] | None = None
    if issubclass(cls, el.NVA):
        extra = _nva_extra
    elif issubclass(cls, el.R32):
        extra = _r32_extra
    elif issubclass(cls, CP56Time2a):
        extra = _cp56_extra
    elif issubclass(cls, CP24Time2a):
        extra = _cp24_extra
    plan = _PLANS[cls] = (cls.__name__, fields, extra)
    return plan


def _nva_extra(element: el.NVA, out: dict[str, Any]) -> None:
    out["value"] = element.value


def _r32_extra(element: el.R32, out: dict[str, Any]) -> None:
    out["value"] = _json_value(element.value)  # the number, not its bits (non-finite: a string)


def _cp56_extra(element: CP56Time2a, out: dict[str, Any]) -> None:
    out.update(_time_fields(element), iso=_iso(element))


def _cp24_extra(element: CP24Time2a, out: dict[str, Any]) -> None:
    out.update(milliseconds=element.milliseconds, minute=element.minute, invalid=element.invalid)


def _converter(kind: type) -> Callable[[Any], Any] | None:
    """Return (and remember) how values of ``kind`` become JSON: ``None`` for as they are."""
    convert: Callable[[Any], Any] | None = None
    if issubclass(kind, enum.Flag):
        convert = _flag_json
    elif issubclass(kind, enum.Enum):
        convert = _enum_json
    elif issubclass(kind, bytes):
        convert = bytes.hex
    elif issubclass(kind, float):
        convert = _json_value
    _CONVERTERS[kind] = convert
    return convert


def _flag_json(value: enum.Flag) -> list[str]:
    names = _FLAG_NAMES.get(value)
    if names is None:
        names = _FLAG_NAMES[value] = tuple(str(m.name) for m in type(value) if m in value)
    return list(names)


def _enum_json(value: enum.Enum) -> str:
    return value.name


def _time_fields(t: CP56Time2a) -> dict[str, Any]:
    return {
        "year": t.year,
        "month": t.month,
        "day": t.day,
        "day_of_week": t.day_of_week,
        "hour": t.hour,
        "minute": t.minute,
        "milliseconds": t.milliseconds,
        "invalid": t.invalid,
        "summer_time": t.summer_time,
        "substituted": t.substituted,
    }


def _iso_of(raw: bytes) -> str | None:
    """:func:`_iso` of the CP56Time2a with these seven octets."""
    if raw in _ISO_TEXTS:
        return _ISO_TEXTS[raw]
    return _iso(CP56Time2a(raw=raw))


def _iso(t: CP56Time2a) -> str | None:
    """Return the time as ISO 8601 (milliseconds), ``None`` if not a valid time; remembered by octets (bounded)."""
    raw = t.raw
    if raw in _ISO_TEXTS:
        return _ISO_TEXTS[raw]
    try:
        iso: str | None = t.to_datetime().isoformat(timespec="milliseconds")
    except ValueError:
        iso = None
    if len(_ISO_TEXTS) >= 4096:
        _ISO_TEXTS.clear()
    _ISO_TEXTS[raw] = iso
    return iso


_ISO_TEXTS: dict[bytes, str | None] = {}


def _cp56_text(element: CP56Time2a) -> str:
    iso = _iso(element) or (
        f"year={element.year} {element.month:02d}-{element.day:02d} {element.hour:02d}:"
        f"{element.minute:02d}:{element.milliseconds / 1000:06.3f} (not a valid date)"
    )
    return iso + (" IV" if element.invalid else "") + (" SU" if element.summer_time else "")


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Flag):
        return [m.name for m in type(value) if m in value]
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _name(value: enum.IntEnum | int) -> str:
    return value.name if isinstance(value, enum.Enum) else str(value)


_TYPE_NAMES = {int(t): t.name for t in TypeId}
_COT_NAMES = {int(c): c.name for c in Cot}


def _type_name(value: TypeId | int) -> str:
    """Return the mnemonic of a type identification, or its number."""
    name = _TYPE_NAMES.get(value)
    return name if name is not None else str(int(value))


#: ``apdu_counted`` of I-frames by type identification, of S- and U-frames.
_I_COUNTED: tuple[tuple[str, str | None], ...] = tuple(("I", _type_name(t)) for t in range(256))
_S_COUNTED: tuple[str, str | None] = ("S", None)
_U_COUNTED: tuple[str, str | None] = ("U", None)


def _cot_name(value: Cot | int) -> str:
    """Return the name of a cause of transmission, or its number."""
    name = _COT_NAMES.get(value)
    return name if name is not None else str(int(value))


#: The table columns of IEC 104 rows (after time, stream and direction).
COLUMNS = (
    Column("fmt", 3),
    Column("ns/nr", 11, ">"),
    Column("type", 14),
    Column("cot", 24),
    Column("ca", 5, ">"),
    Column("objects"),
)


def apdu_cells(apdu: APDU) -> tuple[str, ...]:
    """Return the table cells of an APDU, one per column of :data:`COLUMNS`."""
    if type(apdu) is IFrame:
        a = apdu.asdu
        cot = _cot_name(a.cot) + (" NEG" if a.negative else "") + (" TEST" if a.test else "")
        if a.raw_information:
            objects = f"raw {a.raw_information.hex(' ')}"
        else:
            objects = "; ".join(f"{o.ioa}: " + " ".join([element_text(e) for e in o.elements]) for o in a.objects)
        sq = " SQ" if a.sq else ""
        return ("I", f"{apdu.ns}/{apdu.nr}", _type_name(a.type_id) + sq, cot, str(a.common_address), objects)
    match apdu:
        case SFrame(nr=nr):
            return ("S", f"-/{nr}", "", "", "", "")
        case UFrame(function=function):
            return ("U", "", function.name, "", "", "")
    raise TypeError(apdu)


def apdu_cells_of(finding: Finding) -> tuple[str, ...]:
    """Return ``apdu_cells(finding.message)`` of an APDU finding.

    I-frames of a type with a fixed-size layout are read from the finding's octets by a
    view compiled once per type and VSQ octet (:func:`otwire.inspect._iec104_cells.compile_cells_view`,
    remembered as :func:`apdu_json_text` remembers its views).
    """
    raw = finding.raw
    if not raw[2] & 1:  # an I-frame (the finding's frame decodes)
        cells = _CELLS.get(raw[6] << 8 | raw[7], _UNKNOWN)
        if cells is _UNKNOWN:
            cells = _CELL_VIEWS.view(raw[6], raw[7])
        if cells is not None:
            return cells(raw)  # type: ignore[no-any-return]
    return apdu_cells(finding.message)


_CELL_VIEWS: CompiledViews[CellsOf] = CompiledViews(
    lambda type_id, vsq: compile_cells_view(type_id, element_text, (_type_name, _cot_name), _cp56_text_of, vsq)
)
_CELLS = _CELL_VIEWS.by_key


def _cp56_text_of(raw: bytes) -> str:
    """``element_text`` of the CP56Time2a with these seven octets."""
    iso = _iso_of(raw)
    if iso is None:
        return _cp56_text(CP56Time2a(raw=raw))
    return iso + (" IV" if raw[2] > 0x7F else "") + (" SU" if raw[3] > 0x7F else "")


def element_text(element: Element) -> str:
    """Return a short human view, e.g. ``ON IV``, ``12.5``, ``2009-08-13T10:05:03.123``."""
    kind = type(element)  # the most frequent types first, by identity (the match below tries them in turn)
    if kind is el.R32 or kind is el.SVA:
        return f"{cast(el.R32, element).value:g}"
    if kind is el.QDS:
        return _quality(cast(el.QDS, element).quality).strip() or "ok"
    if kind is el.SIQ:
        siq = cast(el.SIQ, element)
        return ("ON" if siq.spi else "OFF") + _quality(siq.quality)
    if kind is CP56Time2a:
        return _cp56_text(cast(CP56Time2a, element))
    match element:
        case el.SIQ(spi=spi, quality=q):
            return ("ON" if spi else "OFF") + _quality(q)
        case el.DIQ(dpi=dpi, quality=q):
            return dpi.name + _quality(q)
        case el.QDS(quality=q) | el.QDP(quality=q):
            return _quality(q).strip() or "ok"
        case el.NVA():
            return f"{element.value:.5g}"
        case el.SVA(value=v) | el.R32(value=v):
            return f"{v:g}"
        case el.BSI(value=v):
            return f"{v:#010x}"
        case el.QOS(ql=ql, select=sel):
            return ("SELECT" if sel else "EXECUTE") + (f" ql={ql}" if ql else "")
        case el.QOI(value=v):
            return f"QOI={v}" + (" station" if v == 20 else f" group {v - 20}" if 21 <= v <= 36 else "")
        case el.SCO(scs=scs, qu=qu, select=sel):
            return ("SELECT " if sel else "") + ("ON" if scs else "OFF") + (f" qu={qu}" if qu else "")
        case el.DCO(dcs=s, qu=qu, select=sel) | el.RCO(rcs=s, qu=qu, select=sel):
            return ("SELECT " if sel else "") + s.name + (f" qu={qu}" if qu else "")
        case CP56Time2a():
            return _cp56_text(element)
        case CP24Time2a():
            return f"+{element.minute:02d}:{element.milliseconds / 1000:06.3f}" + (" IV" if element.invalid else "")
        case CP16Time2a(milliseconds=ms):
            return f"{ms}ms"
    fields = element_json(element)
    fields.pop("element")
    inner = " ".join(f"{k}={v}" for k, v in fields.items() if v not in (0, False, [], None))
    return f"{type(element).__name__}({inner})"


def _quality(q: enum.Flag) -> str:
    text = _QUALITY_TEXTS.get(q)
    if text is None:
        text = _QUALITY_TEXTS[q] = "".join(f" {m.name}" for m in type(q) if m in q)
    return text


_QUALITY_TEXTS: dict[enum.Flag, str] = {}


JSON_KEYS = """\
Common keys of every record: source (the file), time (float seconds since the
epoch, or null), packet (1-based packet/line number: the table's frame column),
stream (the flow's number in the file, 1 for the first flow with a record, "#N" in
the table; null without a flow), flow ("client:port -> server:port" or the file
name), direction ("to_server" | "to_client"),
protocol ("iec104", "imb", ...), kind ("apdu" | "error" | "junk" | "gap" |
"retransmission" | "warning" | "notice"), offset (stream offset of the first
octet) and raw (hex of the octets), when there are any.
kind "apdu" adds: format ("I" | "S" | "U"); S: nr; U: u_function; I: ns, nr,
type_id, type, sq, number, cot, cot_name, negative, test, originator_address,
common_address, objects [{ioa, elements [{element, <fields>}]}], raw_information.
kind "error" and "junk" add: error (message), error_offset (offset in raw).
kind "gap" adds: missing (octets); "retransmission": length (octets);
"warning" and "notice" (the last record of a file where nothing was decoded, saying
why): message.
"""


#: How IEC 104 APDUs are shown (named by :mod:`otwire.registry`).
VIEW = ProtocolView(apdu_json, COLUMNS, apdu_cells, apdu_format, apdu_type_name, apdu_json_into, apdu_counted,
                    apdu_cells_of, apdu_json_text)  # fmt: skip
