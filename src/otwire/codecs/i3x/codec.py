"""Decode i3X JSON bodies into models and envelopes, and encode them back (specs/i3x/notes.md §2-§6).

Decoding goes straight from bytes with one cached ``msgspec.json.Decoder`` per
type; encoding uses one ``msgspec.json.Encoder``. Unknown keys are ignored. Any
malformed body (bad JSON, a wrong type, a missing required key) raises
:class:`otwire.errors.DecodeError` whose message names the JSON path
(``$.results[3].result.value``) and whose ``offset`` is the octet where the JSON
broke (syntax errors), ``len(body)`` (truncation), or 0 (type errors: msgspec
gives no offset for those).

Which result type goes with which endpoint (notes §3):

==============================  ==========================================
``GET /info``                   :func:`decode_server_info`
``GET /namespaces``             ``decode_response(b, list[Namespace])``
``GET /objecttypes``            ``decode_response(b, list[ObjectType])``
``GET /relationshiptypes``      ``decode_response(b, list[RelationshipType])``
``GET /objects``                ``decode_response(b, list[ObjectInstance])``
``POST /objecttypes/query``     ``decode_bulk(b, ObjectType)``
``POST /relationshiptypes/...`` ``decode_bulk(b, RelationshipType)``
``POST /objects/list``          ``decode_bulk(b, ObjectInstance)``
``POST /objects/related``       ``decode_bulk(b, list[RelatedObject])``
``POST /objects/value``         ``decode_bulk(b, CurrentValue)``
``POST /objects/history``       ``decode_bulk(b, HistoricalValue)``
``PUT`` value/history,          ``decode_bulk(b, NoneType)`` (``result: null``)
register, unregister, delete
``POST /subscriptions``         ``decode_response(b, Subscription)``
``POST /subscriptions/list``    ``decode_bulk(b, Subscription)``
``POST /subscriptions/sync``    :func:`decode_sync`
==============================  ==========================================
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from otwire.codecs.i3x.envelopes import (
    BulkFailure,
    BulkResponse,
    Response,
    ResponseDetail,
    WireBulk,
    wire_bulk_item,
)
from otwire.codecs.i3x.models import VQT, CurrentValue, HistoricalValue, ServerInfo, SyncBatch, ValueChange
from otwire.errors import DecodeError

__all__ = [
    "bulk_summary",
    "decode",
    "decode_bulk",
    "decode_response",
    "decode_server_info",
    "decode_sync",
    "encode",
    "encode_bulk",
    "encode_error",
    "encode_response",
    "sync_summary",
]

T = TypeVar("T")

_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}
_ENCODER = msgspec.json.Encoder()
_BYTE = re.compile(r"\(byte (\d+)\)")
#: Types whose ``element_id`` a bulk item fills (it is not in their result JSON).
_KEYED = (CurrentValue, HistoricalValue)


def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(type_)
    if decoder is None:
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_)
    return decoder


def decode(body: bytes, type_: Any) -> Any:
    """Decode the JSON ``body`` as ``type_`` (a model, ``list[...]``, ``Response[...]``, ...).

    Args:
        body: The JSON octets (UTF-8).
        type_: Any type msgspec accepts; its decoder is built once and cached.

    Returns:
        The decoded value.

    Raises:
        DecodeError: malformed JSON, or JSON of the wrong shape; the message has the
            JSON path (``$.result[0].elementId``; map keys show as ``[...]``), ``offset``
            the octet where known (msgspec's byte position of a syntax error, the first bad
            octet of invalid UTF-8, ``len(body)`` on truncation, else 0).
    """
    try:
        return _decoder(type_).decode(body)
    except msgspec.ValidationError as exc:
        where = "" if " - at `" in str(exc) else " - at `$`"
        raise DecodeError(f"i3X body does not match {_name(type_)}: {exc}{where}", data=body) from None
    except msgspec.DecodeError as exc:
        raise DecodeError(f"i3X body is not JSON: {exc}", data=body, offset=_offset(str(exc), body)) from None


def _name(type_: Any) -> str:
    """A short name for messages: ``CurrentValue``, ``list[Namespace]``, ``Response[ServerInfo]``."""
    name = repr(type_) if getattr(type_, "__args__", None) else getattr(type_, "__name__", repr(type_))
    return (
        re.sub(r"\b[\w.]+\.(\w+)", r"\1", name).replace("WireBulk", "bulk envelope").replace("_SyncEntry", "SyncBatch")
    )


def _offset(message: str, body: bytes) -> int:
    match = _BYTE.search(message)
    if match:
        return int(match.group(1))
    if "UTF-8" in message:
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc.start
    return len(body) if "truncated" in message else 0


def decode_response(body: bytes, result_type: Any) -> Response[Any]:
    """Decode a single envelope whose ``result`` is ``result_type`` (notes §2).

    Returns:
        A :class:`Response`; check ``success`` / ``failure`` / ``partial``.

    Raises:
        DecodeError: as :func:`decode`.
    """
    response: Response[Any] = decode(body, Response[result_type])
    return response


def decode_bulk(body: bytes, result_type: Any) -> BulkResponse[Any]:
    """Decode a bulk envelope whose items' ``result`` is ``result_type`` (notes §2).

    Items keep order and count; failed items become :class:`BulkFailure`. For
    :class:`CurrentValue` and :class:`HistoricalValue` results the item's ``elementId``
    is copied into ``element_id``. A body without ``results`` (a whole-call error)
    gives an empty ``results`` list and a ``failure``.

    Raises:
        DecodeError: as :func:`decode`.
    """
    wire: WireBulk[Any] = decode(body, WireBulk[result_type])
    keyed = result_type in _KEYED
    results = [item.public(keyed) for item in wire.results or ()]
    return BulkResponse(wire.success, results, wire.response_detail, wire.error)


def bulk_summary(body: bytes) -> tuple[bool, int, int, ResponseDetail | None]:
    """``(success, items, failed items, detail)`` of a bulk envelope whose results are any JSON.

    ``detail`` is the first failed item's detail, else the whole-call failure (``None``
    when there is neither): what ``decode_bulk(body, Any)`` gives as ``failures[0].detail``
    or ``failure``, without making its items.

    Raises:
        DecodeError: as :func:`decode_bulk`.
    """
    wire: WireBulk[Any] = decode(body, WireBulk[Any])
    results = wire.results or ()
    failed = [item for item in results if not item.success]
    if failed:
        first = failed[0].public()
        assert isinstance(first, BulkFailure)
        return wire.success, len(results), len(failed), first.detail
    if results:
        return wire.success, len(results), 0, None
    return wire.success, 0, 0, BulkResponse(wire.success, [], wire.response_detail, wire.error).failure


class _SyncEntry(msgspec.Struct, frozen=True, rename="camel"):
    """A 1.0 batch ``{sequenceNumber, updates}`` or a Beta flat entry ``{sequenceNumber, elementId, ...}``."""

    sequence_number: int
    updates: list[ValueChange] | None = None
    element_id: str | None = None
    value: Any = None
    quality: str = ""
    timestamp: str = ""
    components: dict[str, VQT] | None = None


def decode_sync(body: bytes) -> Response[list[SyncBatch]]:
    """Decode a ``POST /subscriptions/sync`` envelope (notes §6).

    The 1.0 shape ``[{sequenceNumber, updates: [...]}]`` and the Beta flat shape
    ``[{sequenceNumber, elementId, value, quality, timestamp}]`` (each entry becomes a
    one-update batch whose update carries the entry's ``sequenceNumber``) are both read.
    A 206 overflow is ``partial`` with its ``response_detail``.

    Raises:
        DecodeError: as :func:`decode`, or an entry has neither ``updates`` nor ``elementId``.
    """
    wire: Response[list[_SyncEntry]] = decode(body, Response[list[_SyncEntry]])
    batches: list[SyncBatch] | None = None
    if wire.result is not None:
        batches = [_batch(entry, k, body) for k, entry in enumerate(wire.result)]
    return Response(wire.success, batches, wire.response_detail, wire.error)


def sync_summary(body: bytes) -> tuple[bool, int | None, ResponseDetail | None]:
    """``(success, batches, failure)`` of a sync envelope, as :func:`decode_sync` would give them.

    ``batches`` is ``len(result)`` (``None`` without a result); no batch is made.

    Raises:
        DecodeError: as :func:`decode_sync` (the same messages).
    """
    wire: Response[list[_SyncEntry]] = decode(body, Response[list[_SyncEntry]])
    if wire.result is None:
        return wire.success, None, wire.failure
    for k, entry in enumerate(wire.result):
        if entry.updates is None and entry.element_id is None:
            _batch(entry, k, body)  # raises its error
    return wire.success, len(wire.result), wire.failure


def _batch(entry: _SyncEntry, index: int, body: bytes) -> SyncBatch:
    if entry.updates is not None:
        return SyncBatch(entry.sequence_number, entry.updates)
    if entry.element_id is None:
        raise DecodeError(f"sync entry has neither updates nor elementId - at `$.result[{index}]`", data=body)
    change = ValueChange(
        entry.element_id, entry.value, entry.quality, entry.timestamp, entry.components, entry.sequence_number
    )
    return SyncBatch(entry.sequence_number, [change])


class _Probe(msgspec.Struct, frozen=True):
    """Just the top-level ``success`` key, to tell an envelope from a bare object."""

    success: bool | None = None


def decode_server_info(body: bytes) -> ServerInfo:
    """Decode ``GET /info``: enveloped (OpenAPI) or bare (Implementation Guide), notes §3.

    A body with a top-level ``success`` key is an envelope; otherwise it is the bare object.

    Raises:
        DecodeError: malformed JSON, neither shape, or the envelope reports a failure.
    """
    probe: _Probe = decode(body, _Probe)
    if probe.success is None:
        info: ServerInfo = decode(body, ServerInfo)
        return info
    response: Response[ServerInfo] = decode(body, Response[ServerInfo])
    if response.result is None:
        raise DecodeError(f"/info envelope without result: {response.failure}", data=body)
    return response.result


def encode(value: Any) -> bytes:
    """Encode a model, a list of models or any JSON-able value as compact JSON (camelCase keys).

    Raises:
        TypeError: ``value`` holds something that is not JSON-able.
    """
    return _ENCODER.encode(value)


def encode_response(result: Any = None, *, detail: ResponseDetail | None = None) -> bytes:
    """Encode a success envelope ``{"success": true, "result": ..., "responseDetail"?: ...}``.

    Args:
        result: The result (model, list, ``None`` ...).
        detail: The 206 detail for a partial success, if any.

    Raises:
        TypeError: a result holds something that is not JSON-able.
    """
    out: dict[str, Any] = {"success": True, "result": result}
    if detail is not None:
        out["responseDetail"] = detail
    return _ENCODER.encode(out)


def encode_error(status: int, title: str, detail: str = "") -> bytes:
    """Encode a 1.0 error envelope ``{"success": false, "responseDetail": {title, status, detail}}``."""
    return _ENCODER.encode({"success": False, "responseDetail": ResponseDetail(title, status, detail)})


def encode_bulk(response: BulkResponse[Any]) -> bytes:
    """Encode a bulk envelope in wire form (the inverse of :func:`decode_bulk`).

    ``element_id`` of :class:`CurrentValue` / :class:`HistoricalValue` results is left
    out of ``result`` when it is the item's ``elementId`` (or empty). Absent ids and details are omitted,
    and so is ``results`` for a whole-call error (no items, ``success`` false, a detail).

    Raises:
        TypeError: a result holds something that is not JSON-able.
    """
    out: dict[str, Any] = {"success": response.success}
    if response.results or response.success or (response.response_detail is None and response.error is None):
        out["results"] = [wire_bulk_item(item, _result(item)) for item in response.results]
    if response.response_detail is not None:
        out["responseDetail"] = response.response_detail
    if response.error is not None:
        out["error"] = response.error
    return _ENCODER.encode(out)


def _result(item: Any) -> Any:
    result = getattr(item, "result", None)
    if isinstance(result, _KEYED) and result.element_id in ("", item.element_id):
        builtins = msgspec.to_builtins(result)
        del builtins["elementId"]
        return builtins
    return result
