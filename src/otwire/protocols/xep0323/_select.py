"""Which fields a request asks for: the filter both engines apply (``specs/xep0323/notes.md`` §6.3).

A request's field types are a union: a field is wanted when it carries at least one of
the requested types. A field's own types are an intersection (``status|historicalDay``
is one value that is both), so one shared type is enough for it to match; a field with
no type at all is always kept (nothing says what it is), and a request with no type asks
for everything. Field names, when the request lists some, must match exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from otwire.codecs.xep0323 import Field, FieldType, Node

__all__ = ["field_wanted", "select"]

_NONE = FieldType(0)


def field_wanted(field: Field, names: frozenset[str], types: FieldType) -> bool:
    """True when ``field`` matches the requested ``names`` (empty: any) and ``types`` (empty: any)."""
    if names and field.name not in names:
        return False
    return types == _NONE or field.types == _NONE or bool(field.types & types)


def select(nodes: Iterable[Node], names: frozenset[str], types: FieldType) -> tuple[Node, ...]:
    """Return ``nodes`` with the unwanted fields removed (and the timestamps and nodes they emptied)."""
    if not names and types == _NONE:
        return tuple(nodes)
    out = []
    for node in nodes:
        stamps = []
        for stamp in node.timestamps:
            kept = tuple(f for f in stamp.fields if field_wanted(f, names, types))
            if kept or not stamp.fields:
                stamps.append(stamp if len(kept) == len(stamp.fields) else replace(stamp, fields=kept))
        if stamps or not node.timestamps:
            out.append(node if len(stamps) == len(node.timestamps) and stamps == list(node.timestamps) else
                       Node(node_id=node.node_id, source_id=node.source_id, cache_type=node.cache_type,
                            timestamps=tuple(stamps)))  # fmt: skip
    return tuple(out)
