"""The Parquet tables of ``otwire inspect --format parquet``: columns, types and row builders.

Documented (and versioned) in ``specs/inspect/parquet.md``; change :data:`SCHEMA_VERSION`
with any change of a column's name, type or meaning. Rows are built from
:func:`~otwire.inspect.records.record_values` (the ``--format jsonl`` view), so a Parquet row
holds the same values as the jsonl record it comes from; keys without a column (or whose
value does not fit its column's type) go to the ``extra`` column as a JSON object.

Columns are described without importing pyarrow (:data:`COMMON`, :data:`TABLES`: name and
type code); :mod:`otwire.inspect.parquet` turns them into an Arrow schema.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Literal, TypeAlias

import msgspec

from otwire.codecs.iec104 import CP56Time2a, IFrame
from otwire.codecs.iec104 import elements as el
from otwire.inspect.records import Row, record_values

#: Version of the table layout, written as ``otwire.schema_version`` in every file's metadata.
SCHEMA_VERSION = "1"

#: Type codes: ``str``, ``i16``/``i32``/``i64`` (signed integers), ``f64``, ``bool``,
#: ``bin`` (octets, from a hex string), ``strs`` (list of strings), ``json`` (JSON text),
#: ``utc_us`` (timestamp, microseconds, UTC, from float seconds), ``local_ms``
#: (timestamp, milliseconds, no time zone).
TypeCode: TypeAlias = Literal["str", "i16", "i32", "i64", "f64", "bool", "bin", "strs", "json", "utc_us", "local_ms"]
Columns: TypeAlias = tuple[tuple[str, TypeCode], ...]

#: Columns of every table, in order (``extra`` is always last).
COMMON: Columns = (
    ("source", "str"),
    ("record", "i64"),
    ("time", "utc_us"),
    ("packet", "i64"),
    ("stream", "i32"),
    ("flow", "str"),
    ("direction", "str"),
    ("protocol", "str"),
    ("kind", "str"),
    ("offset", "i64"),
    ("raw", "bin"),
    ("error", "str"),
    ("error_offset", "i64"),
    ("missing", "i64"),
    ("length", "i64"),
    ("message", "str"),
)

_IEC104: Columns = (
    ("format", "str"),
    ("ns", "i32"),
    ("nr", "i32"),
    ("u_function", "str"),
    ("type_id", "i16"),
    ("type", "str"),
    ("sq", "bool"),
    ("number", "i16"),
    ("cot", "i16"),
    ("cot_name", "str"),
    ("negative", "bool"),
    ("test", "bool"),
    ("originator_address", "i16"),
    ("common_address", "i32"),
    ("raw_information", "bin"),
    ("object_index", "i16"),
    ("ioa", "i32"),
    ("value", "f64"),
    ("value_element", "str"),
    ("quality", "strs"),
    ("time_tag", "local_ms"),
    ("elements", "json"),
)

_IMB: Columns = (
    ("command_code", "i32"),
    ("command", "str"),
    ("event_id", "i64"),
    ("tick", "i64"),
    ("flags", "strs"),
    ("event_kind", "i32"),
    ("event_kind_name", "str"),
    ("body", "json"),
    ("fields", "json"),
)

_I3X: Columns = (
    ("method", "str"),
    ("target", "str"),
    ("element_ids", "strs"),
    ("subscription_ids", "strs"),
    ("client_id", "str"),
    ("body_length", "i64"),
    ("status", "i32"),
    ("reason", "str"),
    ("envelope", "str"),
    ("success", "bool"),
    ("items", "i64"),
    ("failures", "i64"),
    ("code", "json"),
    ("detail", "str"),
    ("content_encoding", "str"),
    ("subscription_id", "str"),
    ("element_id", "str"),
    ("value", "json"),
    ("quality", "str"),
    ("timestamp", "str"),
    ("sequence_number", "i64"),
    ("event_id", "str"),
    ("event", "str"),
    ("data", "str"),
)

#: Table name -> its own columns (after :data:`COMMON`). Any other protocol gets
#: :data:`COMMON` and ``extra`` only; records without a protocol go to table ``capture_notes``.
_XMPP: Columns = (
    ("stanza", "str"),
    ("type", "str"),
    ("id", "str"),
    ("from", "str"),
    ("to", "str"),
    ("element", "str"),
    ("seqnr", "i64"),
    ("nodes", "strs"),
    ("done", "bool"),
    ("stanza_error", "json"),
    ("summary", "str"),
    ("field_index", "i32"),
    ("field_node", "str"),
    ("field_timestamp", "str"),
    ("field_name", "str"),
    ("field_type", "str"),
    ("field_value", "str"),
)

TABLES: dict[str, Columns] = {"iec104": _IEC104, "imb": _IMB, "i3x": _I3X, "xmpp": _XMPP}
#: The table of records that belong to no protocol (capture warnings and notices).
NOTES_TABLE = "capture_notes"

_INT_RANGES = {"i16": 1 << 15, "i32": 1 << 31, "i64": 1 << 63}


def table_of(row: Row) -> str:
    """Return the name of the table ``row`` goes to (its protocol, or :data:`NOTES_TABLE`)."""
    return row.protocol or NOTES_TABLE


def columns_of(table: str) -> Columns:
    """Return every column of ``table`` in order: :data:`COMMON`, its own, then ``extra``."""
    return COMMON + TABLES.get(table, ()) + (("extra", "json"),)


def rows_of(row: Row, source: str, number: int) -> Iterator[dict[str, Any]]:
    """Yield the Parquet rows of one record (column -> value, ready for the column's type).

    An IEC 104 I-frame gives one row per information object (``object_index`` 0, 1, ...,
    with the ASDU's columns repeated), an XEP-0323 stanza one row per field (``field_index``,
    the stanza's columns repeated); an I-frame without objects, a stanza without fields and
    every other record give one row.

    Args:
        row: The record.
        source: The capture file, as ``--format jsonl`` writes it.
        number: The record's 1-based number in its capture (column ``record``).
    """
    values = record_values(row)
    values["source"] = source
    values["record"] = number
    table = table_of(row)
    if table == "xmpp":
        yield from _stanza_rows(values)
        return
    objects = values.get("objects")
    if not objects:  # an I-frame without objects keeps "objects": [] (in extra)
        yield _fit(values, table)
        return
    del values["objects"]
    asdu = _fit(values, table)  # the ASDU's columns, converted once for all its objects
    frame: IFrame = row.finding.message  # type: ignore[union-attr]  # an I-frame with objects
    for index, (shown, obj) in enumerate(zip(objects, frame.asdu.objects, strict=True)):
        out = _element_columns(obj.elements)
        out.update(object_index=index, ioa=shown["ioa"], elements=shown["elements"])
        yield _joined(asdu, _fit(out, table))


def _stanza_rows(values: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield the rows of an XEP-0323 record: one per field (``field_<key>`` columns), or one."""
    if values["kind"] == "apdu" and "error" in values:  # the stanza's error object, not a message
        values["stanza_error"] = values.pop("error")
    fields = values.get("fields")
    if fields == []:  # no field: field_index is null (and extra stays empty)
        del values["fields"]
    if not fields or not all(type(f) is dict for f in fields):
        yield _fit(values, "xmpp")
        return
    del values["fields"]
    stanza = _fit(values, "xmpp")
    for index, shown in enumerate(fields):
        out = {f"field_{key}": value for key, value in shown.items()}
        out["field_index"] = index
        yield _joined(stanza, _fit(out, "xmpp"))


def _joined(whole: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Return the row of one part (object, field) of a record: both column sets, ``extra`` merged."""
    out = {**whole, **part}
    if "extra" in whole and "extra" in part:
        out["extra"] = _json_text({**json.loads(whole["extra"]), **json.loads(part["extra"])})
    return out


def _fit(values: dict[str, Any], table: str) -> dict[str, Any]:
    """Return column -> converted value (absent columns are null); keys without a fitting column go to ``extra``."""
    converters = _converters(table)
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in values.items():
        convert = converters.get(key)
        if convert is None:
            extra[key] = value
        elif value is not None:
            fitted = convert(value)
            if fitted is _MISFIT:
                extra[key] = value
            else:
                out[key] = fitted
    if extra:
        out["extra"] = _json_text(extra)
    return out


_MISFIT: Any = object()
_CONVERTERS: dict[str, dict[str, Callable[[Any], Any]]] = {}


def _converters(table: str) -> dict[str, Callable[[Any], Any]]:
    """Return (and remember) column -> converter of a non-null value (:data:`_MISFIT` when it does not fit)."""
    converters = _CONVERTERS.get(table)
    if converters is None:
        by_code = {code: _converter(code) for code in _INT_RANGES.keys() | {"str", "json", "bool", "f64", "bin"}}
        by_code.update(strs=_strings, utc_us=_microseconds, local_ms=_datetime)
        columns = columns_of(table)[:-1]
        converters = _CONVERTERS[table] = {name: by_code[code] for name, code in columns}
    return converters


def _converter(code: str) -> Callable[[Any], Any]:
    if code in _INT_RANGES:
        low, high = -_INT_RANGES[code], _INT_RANGES[code]
        return lambda v: v if type(v) is int and low <= v < high else _MISFIT
    simple: dict[str, Callable[[Any], Any]] = {
        "str": lambda v: v if type(v) is str else _MISFIT,
        "json": _json_text,
        "bool": lambda v: v if type(v) is bool else _MISFIT,
        "f64": lambda v: float(v) if type(v) is float or type(v) is int else _MISFIT,
        "bin": _octets,
    }
    return simple[code]


def _strings(value: Any) -> Any:
    ok = type(value) is list and all(type(v) is str for v in value)
    return value if ok else _MISFIT


def _microseconds(value: Any) -> Any:
    return round(value * 1_000_000) if type(value) is float or type(value) is int else _MISFIT


def _datetime(value: Any) -> Any:
    return value if isinstance(value, datetime) else _MISFIT


_ENCODE = msgspec.json.Encoder(order="sorted").encode


def _json_text(value: Any) -> str:
    """Return ``value`` as JSON text, object keys sorted (as jsonl, with :func:`json.dumps` as fallback)."""
    try:
        return _ENCODE(value).decode()
    except (TypeError, OverflowError, msgspec.EncodeError):
        return json.dumps(value, sort_keys=True)


def _octets(value: Any) -> Any:
    if type(value) is not str:
        return _MISFIT
    try:
        return bytes.fromhex(value)
    except ValueError:
        return _MISFIT


# --- IEC 104 information objects: value, quality and time tag columns ----------------


def _element_columns(elements: tuple[el.Element, ...]) -> dict[str, Any]:
    """Return ``value``, ``value_element``, ``quality`` and ``time_tag`` of one object."""
    out: dict[str, Any] = {}
    for element in elements:
        if "value" not in out:
            value = _element_value(element)
            if value is not None:
                out["value"], out["value_element"] = value, type(element).__name__
        quality = getattr(element, "quality", None)
        if isinstance(quality, enum.Flag) and "quality" not in out:
            out["quality"] = [str(m.name) for m in type(quality) if m in quality]
        if isinstance(element, el.BCR) and "quality" not in out:
            out["quality"] = ["IV"] if element.invalid else []
        if isinstance(element, CP56Time2a) and "time_tag" not in out:
            out["time_tag"] = _time_tag(element)
    return out


def _element_value(element: el.Element) -> float | None:
    """Return the number an element carries (a state, a measured value, a counter), or ``None``."""
    match element:
        case el.SIQ(spi=state) | el.SCO(scs=state):
            return float(state)
        case el.DIQ(dpi=state) | el.SEP(es=state) | el.DCO(dcs=state) | el.RCO(rcs=state):
            return float(int(state))
        case el.NVA() | el.SVA() | el.R32() | el.VTI() | el.BSI():
            return float(element.value)
        case el.BCR(counter=counter):
            return float(counter)
    return None


def _time_tag(element: CP56Time2a) -> datetime | None:
    try:
        return element.to_datetime().replace(tzinfo=None)
    except ValueError:
        return None
