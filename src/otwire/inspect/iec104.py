"""IEC 104 dissector: octets of each direction -> decoded APDUs or problems.

Each direction is framed on its own (:class:`IEC104StreamDissector`); :class:`IEC104Dissector`
is the conversation dissector the registry (:mod:`otwire.registry`) names. Also the JSON and
table views of decoded APDUs (:data:`VIEW`; JSON keys in :data:`JSON_KEYS`).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterator
from typing import Any

from otwire.codecs.iec104 import (
    APDUFramer,
    CP16Time2a,
    CP24Time2a,
    CP56Time2a,
    Element,
    IFrame,
    Junk,
    LengthError,
    RawAPDU,
    SFrame,
    UFrame,
    decode_apdu,
)
from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.apci import APDU
from otwire.codecs.iec104.asdu import InformationObject
from otwire.errors import DecodeError
from otwire.inspect.model import Column, Finding, PerSender, ProtocolView


class IEC104StreamDissector:
    """Dissect one direction of one IEC 104 stream; sans-IO, bounded memory."""

    def __init__(self) -> None:
        self._framer = APDUFramer()

    def feed(self, data: bytes) -> Iterator[Finding]:
        """Consume stream octets and yield what became complete."""
        self._framer.receive_data(data)
        return self._drain()

    def close(self) -> Iterator[Finding]:
        """End of stream: report what is left over."""
        self._framer.close()
        return self._drain()

    def _drain(self) -> Iterator[Finding]:
        for item in self._framer:
            match item:
                case RawAPDU(data=data, offset=offset):
                    try:
                        yield Finding("apdu", offset, data, message=decode_apdu(data))
                    except DecodeError as exc:
                        yield Finding("error", offset, data, error=str(exc), error_offset=exc.offset)
                case Junk(data=data, offset=offset):
                    yield Finding("junk", offset, data, error=f"{len(data)} junk octets before 0x68")
                case LengthError(length=length, data=data, offset=offset):
                    yield Finding(
                        "error",
                        offset,
                        data,
                        error=f"APDU length {length} outside 4..253",
                        error_offset=1,
                    )


class IEC104Dissector(PerSender):
    """Dissect both directions of an IEC 104 conversation, each on its own."""

    stream = IEC104StreamDissector


# --- JSON and text views -------------------------------------------------------------


def apdu_json(apdu: APDU) -> dict[str, Any]:
    """Return the JSON view of an APDU (keys in :data:`JSON_KEYS`)."""
    match apdu:
        case SFrame(nr=nr):
            return {"format": "S", "nr": nr}
        case UFrame(function=function):
            return {"format": "U", "u_function": function.name}
        case IFrame(ns=ns, nr=nr, asdu=a):
            return {
                "format": "I",
                "ns": ns,
                "nr": nr,
                "type_id": int(a.type_id),
                "type": _name(a.type_id),
                "sq": a.sq,
                "number": a.number,
                "cot": int(a.cot),
                "cot_name": _name(a.cot),
                "negative": a.negative,
                "test": a.test,
                "originator_address": a.originator_address,
                "common_address": a.common_address,
                "objects": [object_json(o) for o in a.objects],
                "raw_information": a.raw_information.hex() if a.raw_information else None,
            }
    raise TypeError(apdu)


def apdu_format(apdu: APDU) -> str:
    """Return ``"I"``, ``"S"`` or ``"U"``."""
    return "I" if isinstance(apdu, IFrame) else "S" if isinstance(apdu, SFrame) else "U"


def apdu_type_name(apdu: APDU) -> str | None:
    """Return the type mnemonic of an I-frame's ASDU (or its number if unknown), else ``None``."""
    return _name(apdu.asdu.type_id) if isinstance(apdu, IFrame) else None


def object_json(obj: InformationObject) -> dict[str, Any]:
    """Return ``{"ioa": int, "elements": [...]}``."""
    return {"ioa": obj.ioa, "elements": [element_json(e) for e in obj.elements]}


def element_json(element: Element) -> dict[str, Any]:
    """Return ``{"element": "SIQ", <field>: <value>, ...}`` with JSON-safe values.

    Flags become lists of member names, enums their names, octets hex strings,
    non-finite floats the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
    time tags add ``iso`` (or ``null`` when the fields are not a valid time).
    ``NVA`` adds its ``value``; ``R32`` shows its ``value`` (a float) instead of its bits.
    """
    out: dict[str, Any] = {"element": type(element).__name__}
    for field in dataclasses.fields(element):  # type: ignore[arg-type]
        out[field.name] = _json_value(getattr(element, field.name))
    match element:
        case el.NVA():
            out["value"] = element.value
        case el.R32():
            del out["bits"]  # the number, as before R32 kept its bits (non-finite: a string)
            out["value"] = _json_value(element.value)
        case CP56Time2a():
            out.update(_time_fields(element), iso=_iso(element))
        case CP24Time2a():
            out.update(milliseconds=element.milliseconds, minute=element.minute, invalid=element.invalid)
    return out


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


def _iso(t: CP56Time2a) -> str | None:
    try:
        return t.to_datetime().isoformat(timespec="milliseconds")
    except ValueError:
        return None


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
    match apdu:
        case SFrame(nr=nr):
            return ("S", f"-/{nr}", "", "", "", "")
        case UFrame(function=function):
            return ("U", "", function.name, "", "", "")
        case IFrame(ns=ns, nr=nr, asdu=a):
            cot = _name(a.cot) + (" NEG" if a.negative else "") + (" TEST" if a.test else "")
            objects = "; ".join(_object_text(o) for o in a.objects)
            if a.raw_information:
                objects = f"raw {a.raw_information.hex(' ')}"
            sq = " SQ" if a.sq else ""
            return ("I", f"{ns}/{nr}", _name(a.type_id) + sq, cot, str(a.common_address), objects)
    raise TypeError(apdu)


def _object_text(obj: InformationObject) -> str:
    return f"{obj.ioa}: " + " ".join(element_text(e) for e in obj.elements)


def element_text(element: Element) -> str:
    """Return a short human view, e.g. ``ON IV``, ``12.5``, ``2009-08-13T10:05:03.123``."""
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
            iso = _iso(element) or (
                f"year={element.year} {element.month:02d}-{element.day:02d} {element.hour:02d}:"
                f"{element.minute:02d}:{element.milliseconds / 1000:06.3f} (not a valid date)"
            )
            return iso + (" IV" if element.invalid else "") + (" SU" if element.summer_time else "")
        case CP24Time2a():
            return f"+{element.minute:02d}:{element.milliseconds / 1000:06.3f}" + (" IV" if element.invalid else "")
        case CP16Time2a(milliseconds=ms):
            return f"{ms}ms"
    fields = element_json(element)
    fields.pop("element")
    inner = " ".join(f"{k}={v}" for k, v in fields.items() if v not in (0, False, [], None))
    return f"{type(element).__name__}({inner})"


def _quality(q: enum.Flag) -> str:
    return "".join(f" {m.name}" for m in type(q) if m in q)


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
VIEW = ProtocolView(apdu_json, COLUMNS, apdu_cells, apdu_format, apdu_type_name)
