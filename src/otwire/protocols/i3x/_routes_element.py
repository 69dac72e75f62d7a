"""Route lookup of the server engine, with Beta's per-element writes (notes §10; research §3 "Beta deltas", §9).

The 1.0 routes are the fixed table :data:`~otwire.protocols.i3x._routes.ROUTES`. A profile may
change it (:class:`~otwire.protocols.i3x._server_profiles.Profile`):

* ``element_writes``: ``PUT /objects/{elementId}/value`` and ``PUT /objects/{elementId}/history``
  (the id percent-encoded in one path segment), as Beta servers had them and i3x2ua still
  routes them. The value body is any JSON: an object with a ``value`` key is a VQT
  (``quality`` defaults to Good, ``timestamp`` to the server's clock), anything else is the
  bare value (research §11.8: the Beta demo took ``Any``). The history body is one VQT or a
  list of them, each with value, quality and timestamp. Each write is checked like a 1.0
  bulk item (quality, RFC 3339 timestamp, the type's JSON Schema); the answer is a plain
  envelope: 200 ``{"success": true, "result": null}``, or the first item's refusal as the
  whole answer (400, 404, 500; for history nothing is written then).
* ``bulk_writes=False`` (Beta): the 1.0 bulk ``PUT /objects/value`` and ``PUT /objects/history``
  are not routed; the paths still take ``POST`` (reads), so a ``PUT`` there answers 405.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import unquote

import msgspec

from otwire.codecs.i3x import VQT, BulkFailure, format_timestamp
from otwire.protocols.i3x._routes import PATHS, ROUTES, Call, Handler, Refusal, Reply, _ok, _write_item
from otwire.protocols.i3x._server_profiles import Profile

__all__ = ["BULK_WRITES", "find_route"]

#: The 1.0 bulk write routes a profile may leave out (``Profile.bulk_writes``).
BULK_WRITES = frozenset({("PUT", "/objects/value"), ("PUT", "/objects/history")})


def find_route(method: str, local: str, profile: Profile) -> tuple[Handler | None, tuple[str, ...]]:
    """The handler of ``method`` on ``local`` (a path below the base path) under ``profile``.

    Returns:
        ``(handler, allowed)``: the handler or ``None``, and the methods the path takes
        (empty for an unknown path: 404; else 405 when ``handler`` is ``None``).
    """
    if local in PATHS:
        allowed = tuple(m for m, p in ROUTES if p == local and (profile.bulk_writes or (m, p) not in BULK_WRITES))
        return (ROUTES[(method, local)] if method in allowed else None), allowed
    target = _element_target(local) if profile.element_writes else None
    if target is None:
        return None, ()
    element_id, what = target
    if method != "PUT":
        return None, ("PUT",)
    return partial(write_element_value if what == "value" else write_element_history, element_id), ("PUT",)


def _element_target(local: str) -> tuple[str, str] | None:
    """``/objects/{id}/value`` or ``/objects/{id}/history`` -> ``(id, "value"|"history")``, else ``None``."""
    head, _, rest = local.partition("/objects/")
    segment, slash, what = rest.partition("/")
    if head or not slash or not segment or what not in ("value", "history"):
        return None
    return unquote(segment), what


def _json(call: Call) -> Any:
    try:
        return msgspec.json.decode(call.body)
    except msgspec.DecodeError as exc:
        raise Refusal(400, "Bad Request", f"body is not JSON: {exc}") from None


def _vqt(raw: Any) -> VQT:
    """A VQT from a JSON object with a ``value`` key (missing quality/timestamp stay ``""``).

    Raises:
        Refusal: 400, the object's fields have the wrong types.
    """
    try:
        return msgspec.convert(raw, VQT)
    except msgspec.ValidationError as exc:
        raise Refusal(400, "Bad Request", f"not a VQT: {exc}") from None


def _refuse(item: BulkFailure) -> Refusal:
    detail = item.detail
    return Refusal(detail.status or 400, detail.title or "Bad Request", detail.detail or "")


def write_element_value(element_id: str, call: Call) -> Reply:
    """Beta ``PUT /objects/{elementId}/value``: one value, a VQT object or a bare JSON value.

    Raises:
        Refusal: 501 (the space takes no value writes), 400 (not JSON, a bad VQT, quality,
            timestamp or a value off its type's schema), 404 (unknown element), 500 (a
            broken type schema).
    """
    server = call.server
    if not server.space.value_writable:
        raise Refusal(501, "Not Implemented", "this server does not accept value writes")
    raw = _json(call)
    given = _vqt(raw) if isinstance(raw, dict) and "value" in raw else VQT(raw)
    stamp = given.timestamp or format_timestamp(datetime.fromtimestamp(server.wall_clock(), UTC))
    vqt = VQT(given.value, given.quality or "Good", stamp, given.components)
    item = _write_item(call, element_id, vqt, server.space.write_value)
    if isinstance(item, BulkFailure):
        raise _refuse(item)
    server.publish(element_id, vqt, call.now)
    return _ok(None)


def write_element_history(element_id: str, call: Call) -> Reply:
    """Beta ``PUT /objects/{elementId}/history``: one VQT object or a list of them (all three fields).

    Every record is checked before any is written.

    Raises:
        Refusal: 501 (the space takes no history writes), 400 (not a VQT or a list of them,
            a missing field, a bad quality, timestamp or value), 404 (unknown element), 500.
    """
    space = call.server.space
    if not space.history_writable:
        raise Refusal(501, "Not Implemented", "this server does not accept history writes")
    raw = _json(call)
    records = raw if isinstance(raw, list) else [raw]
    if not records or not all(isinstance(r, dict) and "value" in r for r in records):
        raise Refusal(400, "Bad Request", "the body is not a VQT or a non-empty list of VQTs")
    vqts = [_vqt(r) for r in records]
    known = space.object(element_id) is not None
    for vqt in vqts:  # check all, then write all
        item = _write_item(call, element_id, vqt, lambda _id, _vqt: known)
        if isinstance(item, BulkFailure):
            raise _refuse(item)
    for vqt in vqts:
        space.write_history(element_id, vqt)
    return _ok(None)
