"""Load the golden vectors of ``specs/i3x/vectors/`` and compare JSON values (shared by the i3X tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from otwire.codecs import i3x

VECTORS = Path(__file__).resolve().parents[2] / "specs" / "i3x" / "vectors"

#: ``type`` strings of the vector files -> result types.
TYPES: dict[str, Any] = {
    "Any": Any,
    "None": type(None),
    "list[Namespace]": list[i3x.Namespace],
    "list[RelatedObject]": list[i3x.RelatedObject],
    **{name: getattr(i3x, name) for name in ("CurrentValue", "HistoricalValue", "ObjectInstance", "ObjectType")},
    **{name: getattr(i3x, name) for name in ("RelationshipType", "Subscription")},
}


def load(name: str) -> list[dict[str, Any]]:
    """The vectors of ``specs/i3x/vectors/<name>.json``."""
    vectors: list[dict[str, Any]] = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))["vectors"]
    return vectors


def body_bytes(vector: dict[str, Any]) -> bytes:
    """The vector's body as compact JSON octets."""
    return json.dumps(vector["body"], separators=(",", ":"), ensure_ascii=False).encode()


def decode_vector(vector: dict[str, Any], data: bytes | None = None) -> Any:
    """Decode a vector's body (or ``data``) the way its ``decoder`` says."""
    data = body_bytes(vector) if data is None else data
    decoder = vector["decoder"]
    if decoder == "info":
        return i3x.decode_server_info(data)
    if decoder == "sync":
        return i3x.decode_sync(data)
    if decoder == "bulk":
        return i3x.decode_bulk(data, TYPES[vector["type"]])
    return i3x.decode_response(data, TYPES[vector["type"]])


def normalized(value: Any, ignored: frozenset[str] = frozenset()) -> Any:
    """``value`` without ``null`` object members and without the ``ignored`` keys (at any depth).

    The notes (§4) make an absent nullable key mean the same as ``null``; ``ignored``
    lists the extra keys a vector carries that the models do not keep.
    """
    if isinstance(value, dict):
        return {k: normalized(v, ignored) for k, v in value.items() if v is not None and k not in ignored}
    if isinstance(value, list):
        return [normalized(v, ignored) for v in value]
    return value
