"""i3X message rows and body decoding for :mod:`otwire.inspect.i3x` (the h11 side lives there).

Request bodies give the ids they name; complete response bodies give an envelope summary
(:func:`summary`); SSE events give update rows (:func:`stream_findings`). Bodies are
decompressed (gzip, deflate) by :class:`Body`, bounded by :data:`MAX_BODY`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import msgspec

from otwire.codecs.i3x import (
    StreamClosed,
    StreamUpdates,
    decode,
    decode_response,
    map_event,
)
from otwire.codecs.i3x.codec import bulk_summary, sync_summary
from otwire.errors import DecodeError
from otwire.inspect.model import Finding
from otwire.inspect.records import Sender

#: Largest decoded body kept for decoding, octets (a larger one is an error finding).
MAX_BODY = 4 << 20
#: Octets of a message kept as the finding's ``raw``.
MAX_RAW = 1 << 16


class HTTPRequest(msgspec.Struct):
    """One request: ``method``, ``target`` and what its JSON body names (empty when absent)."""

    method: str
    target: str
    element_ids: tuple[str, ...] = ()
    subscription_ids: tuple[str, ...] = ()
    client_id: str | None = None
    body_length: int = 0
    content_type: str = ""


class HTTPResponse(msgspec.Struct, frozen=True):
    """One response, with the request it answers and a summary of its envelope.

    ``envelope`` is ``"single"``, ``"bulk"``, ``"sync"``, ``"stream"`` (SSE; the rows
    follow), ``"empty"`` or ``"other"`` (not JSON); ``items``/``failures`` count bulk
    items (sync: batches), ``code`` is the failure's responseDetail status or error code.
    """

    status: int
    reason: str
    method: str
    target: str
    envelope: str = "empty"
    success: bool | None = None
    items: int | None = None
    failures: int = 0
    code: str | None = None
    detail: str = ""
    body_length: int = 0
    content_encoding: str = ""


class StreamUpdate(msgspec.Struct, frozen=True):
    """One value update of an SSE stream (notes §5)."""

    subscription_id: str | None
    element_id: str
    value: Any
    quality: str
    timestamp: str
    sequence_number: int | None
    event_id: str = ""


class StreamEvent(msgspec.Struct, frozen=True):
    """An SSE event that carries no update: ``close``, another type, an empty message, or a comment."""

    subscription_id: str | None
    event: str
    data: str = ""


class Body(msgspec.Struct):
    """A body being received: decompressed (gzip/deflate) and bounded."""

    encoding: str
    octets: bytearray = msgspec.field(default_factory=bytearray)
    length: int = 0
    too_large: bool = False
    inflater: Any = None

    def __post_init__(self) -> None:
        if self.encoding in ("gzip", "x-gzip", "deflate"):
            self.inflater = zlib.decompressobj(47 if self.encoding != "deflate" else 15)

    def add(self, data: bytes) -> bytes:
        """Add wire octets; return the decoded octets they give (raises zlib.error)."""
        self.length += len(data)
        if self.inflater is not None:
            data = self.inflater.decompress(data, MAX_BODY + 1 - len(self.octets))
            if self.inflater.unconsumed_tail:
                self.too_large = True
        if len(self.octets) + len(data) > MAX_BODY:
            self.too_large = True
        elif not self.too_large:
            self.octets += data
        return data


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def request_fields(request: HTTPRequest, body: Body) -> str | None:
    """Fill the ids a request body names; return an error text when it is not the JSON expected."""
    request.body_length = body.length
    if body.too_large:
        return f"request body larger than {MAX_BODY} octets"
    if not body.octets.strip():
        return None
    try:
        fields = decode(bytes(body.octets), dict[str, Any])
    except DecodeError as exc:
        return f"request body: {exc}"
    request.element_ids = _strings(fields.get("elementIds")) or _strings(fields.get("elementId"))
    request.subscription_ids = _strings(fields.get("subscriptionIds")) or _strings(fields.get("subscriptionId"))
    client_id = fields.get("clientId")
    request.client_id = client_id if isinstance(client_id, str) else None
    return None


def summary(
    status: int, reason: str, content_type: bytes, request: HTTPRequest, body: Body
) -> tuple[HTTPResponse, str | None]:
    """The response row of a complete (non-stream) response, and an error text if its body is bad.

    ``status`` and ``reason`` are the response's, ``content_type`` its header value (``b""``
    when absent). The row is made once, with its envelope's fields.
    """
    method, target, length, encoding = request.method, request.target, body.length, body.encoding
    if body.too_large:
        row = HTTPResponse(status, reason, method, target, body_length=length, content_encoding=encoding)
        return row, f"response body larger than {MAX_BODY} octets"
    octets = bytes(body.octets)
    if not octets.strip():
        return HTTPResponse(status, reason, method, target, body_length=length, content_encoding=encoding), None
    error = None
    if b"json" not in content_type.lower() and octets.lstrip()[:1] not in (b"{", b"["):
        envelope: tuple[str, bool | None, int | None, int, str | None, str] = ("other", None, None, 0, None, "")
    else:
        try:
            envelope = _envelope(octets, target.split("?")[0])
        except DecodeError as exc:
            envelope, error = ("other", None, None, 0, None, ""), f"response body: {exc}"
    return HTTPResponse(status, reason, method, target, *envelope, length, encoding), error


def _envelope(body: bytes, path: str) -> tuple[str, bool | None, int | None, int, str | None, str]:
    """Decode an i3X envelope (bulk when it has ``results``, sync by path, else single).

    Returns ``(envelope, success, items, failures, code, detail)``: the fields of
    :class:`HTTPResponse` after ``target``.
    """
    if path.rstrip("/").endswith("/subscriptions/sync"):
        success, batches, failure = sync_summary(body)
        return ("sync", success, batches, 0, *_failure_fields(failure))
    if b'"results"' in body:
        success, count, failures, first = bulk_summary(body)
        return ("bulk", success, count, failures, *_failure_fields(first))
    single = decode_response(body, Any)
    result = single.result
    items = len(result) if isinstance(result, list) else None
    detail = single.failure or (single.response_detail if single.partial else None)
    return ("single", single.success, items, 0, *_failure_fields(detail))


def _failure_fields(detail: Any) -> tuple[str | None, str]:
    """``(code, detail)`` of a responseDetail or error (``(None, "")`` when there is none)."""
    if detail is None:
        return None, ""
    code = detail.status if detail.status is not None else (detail.title or None)
    return None if code is None else str(code), detail.detail or detail.title


def stream_findings(event: Any, subscription: str | None, offset: int, *, sender: Sender) -> Iterator[Finding]:
    """The findings of one SSE event: an update each, or one event row, or an error."""
    raw = event.data.encode("utf-8")[:MAX_RAW]
    try:
        item = map_event(event)
    except DecodeError as exc:
        yield Finding("error", offset, raw, error=f"SSE event: {exc}", sender=sender)
        return
    if isinstance(item, StreamUpdates) and item.changes:
        for change in item.changes:
            update = StreamUpdate(
                subscription,
                change.element_id,
                change.value,
                change.quality,
                change.timestamp,
                change.sequence_number,
                event.last_event_id,
            )
            yield Finding("apdu", offset, raw, message=update, sender=sender)
        return
    name = "close" if isinstance(item, StreamClosed) else event.event
    yield Finding("apdu", offset, raw, message=StreamEvent(subscription, name, event.data[:200]), sender=sender)
