"""slixmpp's plugin interface on otwire's typed values: requester callback arguments and device blocks.

Requester side, slixmpp calls ``callback(from_jid=..., result=..., nodeId=..., timestamp=...,
fields=[...], error_msg=...)``; each entry of ``fields`` is a dict ``{"name", "typename",
"value", "unit"?, "dataType"?, "flags"?}`` whose ``value`` is the exact string from the wire
(the ``lexical`` of the typed field) and whose ``flags`` maps every set flag to ``"true"``.

Sensor side, a device reports ``timestamp_block = {"timestamp": str, "fields": [{"type",
"name", "value", "unit", "dataType", "flags"}]}``; :func:`block_to_fields` turns it into a
typed ``Fields`` message by building the ``<fields/>`` element and decoding it with the
codec, so a device value that is not a valid lexical form is a ``DecodeError`` (reported as a
node failure by the plugin) instead of a stalled send queue (research xep0323.md §2.6 B8).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from otwire.codecs import xep0323 as codec
from otwire.codecs.xep0323.values import format_datetime
from otwire.errors import DecodeError

__all__ = ["block_to_fields", "field_dict", "fields_callbacks", "flags_dict", "lexical"]

_TYPENAMES = {
    "Numeric": "numeric",
    "String": "string",
    "Boolean": "boolean",
    "DateTime": "dateTime",
    "Duration": "timeSpan",
    "Enum": "enum",
    "Date": "date",
    "Time": "time",
    "Int": "int",
    "Long": "long",
}


def typename(field: Any) -> str:
    """The element name of a typed field as slixmpp reports it (``timeSpan`` for durations)."""
    return _TYPENAMES.get(type(field).__name__, type(field).__name__.lower())


def flag_names(item: Any) -> list[str]:
    """Names of the field-type and QoS flags set on a typed field (or a request's types), in the codec's order."""
    names: list[str] = []
    for flags in (getattr(item, "types", None), getattr(item, "qos", None)):
        if flags:
            names.extend(str(member.name) for member in type(flags) if member in flags)
    return names


def field_dict(field: Any) -> dict[str, Any]:
    """One entry of slixmpp's ``fields`` callback argument for a typed field."""
    block: dict[str, Any] = {"name": field.name, "typename": typename(field), "value": field.lexical}
    unit = getattr(field, "unit", None)
    if unit:
        block["unit"] = unit
    data_type = getattr(field, "data_type", None)
    if data_type:
        block["dataType"] = data_type
    flags = flag_names(field)
    if flags:
        block["flags"] = {name: "true" for name in flags}
    return block


def fields_callbacks(nodes: Iterable[codec.Node]) -> Iterator[dict[str, Any]]:
    """slixmpp's ``result="fields"`` keyword arguments: one per (node, timestamp) of a ``fields`` message."""
    for node in nodes:
        for stamp in node.timestamps:
            yield {
                "nodeId": node.node_id,
                "timestamp": stamp.lexical,
                "fields": [field_dict(field) for field in stamp.fields],
            }


def flags_dict(req: codec.Req) -> dict[str, str]:
    """A request's flags as slixmpp hands them to devices: ``{"momentary": "true", "when": "...", ...}``."""
    flags = {name: "true" for name in flag_names(req)}
    if req.all_types:
        flags["all"] = "true"
    if req.historical:
        flags["historical"] = "true"
    for key, value in (("from", req.from_), ("to", req.to), ("when", req.when)):
        if value is not None:
            flags[key] = format_datetime(value)
    return flags


def lexical(value: object) -> str:
    """A device value as its wire string (``True`` -> ``"true"``, ``23.5`` -> ``"23.5"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def block_to_fields(seqnr: int, node_id: str, block: Mapping[str, Any]) -> codec.Fields:
    """Decode a device's ``timestamp_block`` into a typed ``Fields`` message for ``node_id``.

    Raises:
        DecodeError: a field has an unknown type or a value that is not its type's lexical form.
        KeyError, TypeError: the block does not have slixmpp's shape.
    """
    prefix = "{" + codec.NS + "}"
    fields = ET.Element(prefix + "fields", {"seqnr": str(seqnr)})
    node = ET.SubElement(fields, prefix + "node", {"nodeId": node_id})
    stamp = ET.SubElement(node, prefix + "timestamp", {"value": str(block["timestamp"])})
    for entry in block.get("fields") or ():
        attributes = {"name": str(entry["name"]), "value": lexical(entry["value"])}
        if entry["type"] == "numeric" or entry.get("unit") is not None:
            attributes["unit"] = str(entry.get("unit") or "")
        if entry.get("dataType") is not None:
            attributes["dataType"] = str(entry["dataType"])
        for flag, value in (entry.get("flags") or {}).items():
            attributes[str(flag)] = lexical(value)
        ET.SubElement(stamp, prefix + str(entry["type"]), attributes)
    message = codec.decode(fields)
    if not isinstance(message, codec.Fields):  # pragma: no cover - a <fields/> element decodes to Fields
        raise DecodeError("not a fields element")
    return message
