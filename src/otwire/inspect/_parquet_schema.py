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
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, TypeAlias

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
TABLES: dict[str, Columns] = {"iec104": _IEC104, "imb": _IMB, "i3x": _I3X}
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
    with the ASDU's columns repeated); an I-frame without objects and every other record
    give one row.

    Args:
        row: The record.
        source: The capture file, as ``--format jsonl`` writes it.
        number: The record's 1-based number in its capture (column ``record``).
    """
    values = record_values(row)
    values["source"] = source
    values["record"] = number
    objects = values.pop("objects", None)
    table = table_of(row)
    if not objects:
        yield _fit(values, columns_of(table))
        return
    assert row.finding is not None  # an I-frame with objects
    frame: IFrame = row.finding.message
    for index, (shown, obj) in enumerate(zip(objects, frame.asdu.objects, strict=True)):
        out = dict(values, object_index=index, ioa=shown["ioa"], elements=shown["elements"])
        out.update(_element_columns(obj.elements))
        yield _fit(out, columns_of(table))


def _fit(values: dict[str, Any], columns: Columns) -> dict[str, Any]:
    """Return column -> converted value; keys without a fitting column go to ``extra``."""
    out: dict[str, Any] = {}
    for name, code in columns[:-1]:
        if name not in values:
            out[name] = None
            continue
        value = values.pop(name)
        fitted = _convert(value, code)
        if fitted is _MISFIT:
            values[name] = value
            fitted = None
        out[name] = fitted
    out["extra"] = json.dumps(values, sort_keys=True) if values else None
    return out


_MISFIT: Any = object()


def _convert(value: Any, code: TypeCode) -> Any:
    """Return ``value`` as the column type wants it, or :data:`_MISFIT`."""
    if value is None:
        return None
    if code == "json":
        return json.dumps(value, sort_keys=True)
    if code in _INT_RANGES:
        ok = type(value) is int and -_INT_RANGES[code] <= value < _INT_RANGES[code]
        return value if ok else _MISFIT
    if code == "str":
        return value if isinstance(value, str) else _MISFIT
    if code == "bool":
        return value if type(value) is bool else _MISFIT
    if code == "f64":
        return float(value) if isinstance(value, int | float) and type(value) is not bool else _MISFIT
    if code == "bin":
        return _octets(value)
    if code == "strs":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return value if ok else _MISFIT
    if code == "utc_us":
        return round(value * 1_000_000) if isinstance(value, int | float) else _MISFIT
    return value if isinstance(value, datetime) else _MISFIT  # local_ms


def _octets(value: Any) -> Any:
    if not isinstance(value, str):
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
