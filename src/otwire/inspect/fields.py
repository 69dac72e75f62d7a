"""Record fields by name: the mapping view that filters read, ``-T fields -e`` and ``--format csv``.

:func:`record_values` flattens a record's JSON object (:func:`otwire.inspect.records.row_json`)
into ``{field: value}``. A nested key is there under its path (``fields.event_name``,
``objects.ioa``, ``objects.elements.value``, ``error.type``) and, unless the record has a
top-level key of that name, under its own name too (``event_name``, ``ioa``); a key met more
than once gives the list of its occurrences (every ``ioa`` of an ASDU). So ``type`` of an
XMPP record is the stanza's type, and its fields' types are ``fields.type``; ``raw`` is the
frame's octets, the time tags' are ``objects.elements.raw``. :func:`known_fields` names every
field the protocols' ``JSON_KEYS`` document (and those paths), with its value type, so a
filter or ``-e`` naming something else is an error.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import IO, Final

from otwire.errors import InvalidArgument
from otwire.inspect.records import Row, row_json

__all__ = ["CSV_COLUMNS", "CsvWriter", "FieldsWriter", "check_fields", "known_fields", "record_values"]

#: The columns of ``--format csv`` when no ``-e`` is given.
CSV_COLUMNS: Final = (
    "source", "packet", "time", "flow", "direction", "protocol", "kind", "format", "type", "cot",
    "common_address", "ioa", "value", "command", "event_name", "method", "target", "status", "error", "message",
)  # fmt: skip

#: Keys of every record (see ``otwire.inspect.iec104.JSON_KEYS``).
_COMMON: Final[dict[str, type]] = {
    "source": str, "time": float, "packet": int, "stream": int, "flow": str, "direction": str,
    "protocol": str, "kind": str, "offset": int, "raw": str, "error": str, "error_offset": int,
    "missing": int, "length": int, "message": str,
}  # fmt: skip
_IEC104: Final[dict[str, type]] = {
    "format": str, "nr": int, "ns": int, "u_function": str, "type_id": int, "type": str, "sq": bool,
    "number": int, "cot": int, "cot_name": str, "negative": bool, "test": bool, "originator_address": int,
    "common_address": int, "ioa": int, "element": str, "raw_information": str, "iso": str,
}  # fmt: skip
_IMB: Final[dict[str, type]] = {
    "command_code": int, "command": str, "event_id": int, "tick": int, "flags": str, "event_kind": int,
    "event_kind_name": str,
}  # fmt: skip
_I3X: Final[dict[str, type]] = {
    "method": str, "target": str, "element_ids": str, "subscription_ids": str, "client_id": str,
    "body_length": int, "status": int, "reason": str, "envelope": str, "success": bool, "items": int,
    "failures": int, "code": object, "detail": object, "content_encoding": str, "subscription_id": object,
    "element_id": str, "value": object, "quality": object, "timestamp": object, "sequence_number": int,
    "event_id": object, "event": str, "data": str,
}  # fmt: skip
_XEP0323: Final[dict[str, type]] = {
    "stanza": str, "type": str, "id": str, "from": str, "to": str, "element": str, "seqnr": int, "nodes": str,
    "node": str, "timestamp": object, "name": str, "value": object, "done": bool, "condition": str, "text": str,
    "summary": str,
}  # fmt: skip
#: Modules whose message dataclasses' fields appear in records (element fields, IMB bodies).
_MESSAGE_MODULES: Final = (
    "otwire.codecs.iec104.elements",
    "otwire.codecs.imb.commands",
    "otwire.codecs.imb.events",
    "otwire.codecs.imb.admin",
)


def record_values(row: Row, source: str = "") -> dict[str, object]:
    """Return the mapping view of a row: its JSON object flattened (see the module docstring).

    Args:
        row: A dissected row.
        source: The input's name (the ``source`` field).

    Returns:
        ``{field: value}``; a field met several times maps to the list of its values.
    """
    obj = row_json(row, source)
    out: dict[str, object] = {}
    nested: dict[str, object] = {}
    _flatten(obj, "", out, nested)
    for key, value in nested.items():  # the bare names of nested keys, where no top-level key has the name
        if key not in obj:
            out[key] = value
    return out


def _put(out: dict[str, object], key: str, value: object) -> None:
    if key not in out:
        out[key] = value
        return
    have = out[key]
    merged = list(have) if isinstance(have, list) else [have]
    merged.extend(value if isinstance(value, list) else [value])
    out[key] = merged


def _flatten(obj: Mapping[str, object], path: str, out: dict[str, object], nested: dict[str, object]) -> None:
    """Put the values of ``obj`` (at ``path``: ``""`` for the record) by path in ``out``, by bare name in ``nested``."""
    for key, value in obj.items():
        at = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            _flatten(value, at, out, nested)
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            for item in value:
                if isinstance(item, dict):
                    _flatten(item, at, out, nested)
                else:
                    _put(out, at, item)
                    if path:
                        _put(nested, key, item)
        else:
            _put(out, at, value)
            if path:
                _put(nested, key, value)


#: The nested objects of records, by path (IEC 104 objects and their elements, IMB command
#: fields and stream bodies, XEP-0323 fields and the stanza error): ``path.key`` names a key inside.
_NESTED: Final = ("objects", "objects.elements", "fields", "body", "error")


@cache
def known_fields() -> Mapping[str, type]:
    """Return every documented record field and its value type (``object`` when it varies).

    A key of a nested object is known by its own name and by its path (``fields.type``).
    """
    known: dict[str, type] = {}
    for table in (_COMMON, _IEC104, _IMB, _I3X, _XEP0323, _message_fields()):
        for name, kind in table.items():
            known[name] = kind if known.get(name, kind) is kind else object
    for path in _NESTED:
        for name, kind in list(known.items()):
            if "." not in name:
                known[f"{path}.{name}"] = kind
    return known


def _message_fields() -> dict[str, type]:
    found: dict[str, type] = {}
    for module_name in _MESSAGE_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value):
                for field in dataclasses.fields(value):
                    found[field.name] = object
                    if field.type in ("bytes", bytes):
                        found[f"{field.name}_length"] = int
    times = ("year", "month", "day", "day_of_week", "hour", "minute", "milliseconds", "invalid", "summer_time")
    for time_field in (*times, "substituted"):
        found[time_field] = object
    found["value"] = object
    return found


def check_fields(names: Sequence[str]) -> None:
    """Check that every name is a known field.

    Raises:
        InvalidArgument: A name is not a documented field.
    """
    known = known_fields()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidArgument(f"unknown field(s) {', '.join(map(repr, unknown))} (fields: see JSON_KEYS)")


def cell(value: object, aggregator: str = ",") -> str:
    """Return one field's text: occurrences joined by ``aggregator``, ``true``/``false``, empty if absent."""
    if value is None:
        return ""
    if isinstance(value, list):
        return aggregator.join(cell(v, aggregator) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FieldsWriter:
    """``-T fields -e F ...``: one line per record, the named fields separated by a tab.

    Args:
        out: Where lines go.
        names: The fields, in column order.
        header: Print the field names first (``-E header=y``).
        separator: Between fields (``-E separator=``; default a tab).
        aggregator: Between occurrences of one field (``-E aggregator=``; default ``,``).

    Raises:
        InvalidArgument: A name is not a known field.
    """

    def __init__(
        self, out: IO[str], names: Sequence[str], *, header: bool = False, separator: str = "\t", aggregator: str = ","
    ) -> None:
        check_fields(names)
        self._out = out
        self._names = tuple(names)
        self._separator = separator
        self._aggregator = aggregator
        if header:
            out.write(separator.join(self._names) + "\n")

    def write(self, values: Mapping[str, object]) -> None:
        """Write one record's line."""
        cells = (cell(values.get(n), self._aggregator) for n in self._names)
        self._out.write(self._separator.join(cells) + "\n")


class CsvWriter:
    """``--format csv``: RFC 4180 lines (a header unless ``header=False``, one line per record) of the named fields.

    Raises:
        InvalidArgument: A name is not a known field.
    """

    def __init__(
        self, out: IO[str], names: Iterable[str] = CSV_COLUMNS, *, aggregator: str = ",", header: bool = True
    ) -> None:
        self._names = tuple(names)
        check_fields(self._names)
        self._writer = csv.writer(out, lineterminator="\n")
        self._aggregator = aggregator
        if header:
            self._writer.writerow(self._names)

    def write(self, values: Mapping[str, object]) -> None:
        """Write one record's line."""
        self._writer.writerow([cell(values.get(n), self._aggregator) for n in self._names])
