"""i3X response envelopes (specs/i3x/notes.md §2).

Single (``GET`` lists, ``/info``, ``POST /subscriptions``, ``/subscriptions/sync``)::

    {"success": true, "result": X}
    {"success": true, "result": X, "responseDetail": {"title", "status": 206, "detail"}}   # partial
    {"success": false, "responseDetail": {"title", "status", "detail"}}                    # 1.0 error
    {"success": false, "error": {"code", "message"}}                                       # Beta error

Bulk (``POST`` taking ``elementIds`` or ``subscriptionIds``, ``PUT`` value/history)::

    {"success": bool, "results": [
        {"success": true, "elementId": "a", "result": X},
        {"success": false, "elementId": "b", "responseDetail": {...}}]}

A bulk response keeps the items' order and count; a failed item is a
:class:`BulkFailure`, never dropped. Decode with :mod:`otwire.codecs.i3x.codec`.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

__all__ = ["BetaError", "BulkFailure", "BulkItem", "BulkResponse", "Response", "ResponseDetail"]

T = TypeVar("T")


class ResponseDetail(msgspec.Struct, frozen=True, rename="camel"):
    """RFC 9457-like detail: ``{title, status, detail}`` (notes §2).

    ``status`` is the HTTP status it describes (``206`` on a partial success), or
    ``None`` when the server left it out. Extra keys (``type``, ``instance``) are ignored.
    """

    title: str = ""
    status: int | None = None
    detail: str = ""


class BetaError(msgspec.Struct, frozen=True, rename="camel"):
    """Beta (April 2026) error object: ``{code, message}`` (notes §2)."""

    code: int | str | None = None
    message: str = ""

    def as_detail(self) -> ResponseDetail:
        """This error as a :class:`ResponseDetail` (``status`` = ``code`` when it is an integer)."""
        status = self.code if isinstance(self.code, int) and not isinstance(self.code, bool) else None
        return ResponseDetail(title=str(self.code) if self.code is not None else "", status=status, detail=self.message)


def _failure(success: bool, response_detail: ResponseDetail | None, error: BetaError | None) -> ResponseDetail | None:
    if success:
        return None
    if response_detail is not None:
        return response_detail
    if error is not None:
        return error.as_detail()
    return ResponseDetail()


class Response(msgspec.Struct, Generic[T], frozen=True, rename="camel"):
    """Single envelope ``{success, result?, responseDetail?, error?}`` (notes §2).

    Attributes:
        success: The top-level ``success`` flag.
        result: The decoded ``result`` (``None`` when absent or on failure).
        response_detail: The 1.0 detail: a partial success (206) or the error.
        error: The Beta error object, when the server sent one.
    """

    success: bool
    result: T | None = None
    response_detail: ResponseDetail | None = None
    error: BetaError | None = None

    @property
    def failure(self) -> ResponseDetail | None:
        """The error as a :class:`ResponseDetail` (from ``responseDetail`` or the Beta ``error``), or ``None``."""
        return _failure(self.success, self.response_detail, self.error)

    @property
    def partial(self) -> bool:
        """True on a success that carries a ``responseDetail`` (HTTP 206: truncated depth or sync overflow)."""
        return self.success and self.response_detail is not None


class BulkItem(msgspec.Struct, Generic[T], frozen=True):
    """A successful bulk item ``{"success": true, "elementId"|"subscriptionId", "result"}``.

    ``result`` is ``None`` for writes and registrations (``"result": null``).
    """

    element_id: str | None
    subscription_id: str | None
    result: T | None


class BulkFailure(msgspec.Struct, frozen=True):
    """A failed bulk item ``{"success": false, "elementId"|"subscriptionId", "responseDetail"|"error"}``.

    ``detail`` is the item's ``responseDetail``, or its Beta ``error`` converted
    (:meth:`BetaError.as_detail`), or an empty detail when the server sent neither.
    """

    element_id: str | None
    subscription_id: str | None
    detail: ResponseDetail

    @property
    def key(self) -> str | None:
        """The item's ``elementId``, else its ``subscriptionId``."""
        return self.element_id if self.element_id is not None else self.subscription_id


class BulkResponse(msgspec.Struct, Generic[T], frozen=True):
    """Bulk envelope: items in request order, failures kept (notes §2).

    Encode it with :func:`~otwire.codecs.i3x.codec.encode_bulk` (the wire form), not
    with ``encode`` (which would give this struct's own field layout).

    Attributes:
        success: The top-level flag (false when any item failed, or the whole call failed).
        results: One :class:`BulkItem` or :class:`BulkFailure` per requested id.
        response_detail: Top-level detail: a 206 partial success or a whole-call error.
        error: Top-level Beta error, when sent.
    """

    success: bool
    results: list[BulkItem[T] | BulkFailure] = msgspec.field(default_factory=list)
    response_detail: ResponseDetail | None = None
    error: BetaError | None = None

    @property
    def failure(self) -> ResponseDetail | None:
        """The whole-call error (no ``results`` and ``success`` false), else ``None``."""
        if self.results:
            return None
        return _failure(self.success, self.response_detail, self.error)

    @property
    def items(self) -> list[BulkItem[T]]:
        """The successful items, in order."""
        return [item for item in self.results if isinstance(item, BulkItem)]

    @property
    def failures(self) -> list[BulkFailure]:
        """The failed items, in order."""
        return [item for item in self.results if isinstance(item, BulkFailure)]


class WireBulkItem(msgspec.Struct, Generic[T], frozen=True, rename="camel"):
    """A bulk item as it is on the wire (decoder internal; use :class:`BulkResponse`)."""

    success: bool = False
    element_id: str | None = None
    subscription_id: str | None = None
    result: T | None = None
    response_detail: ResponseDetail | None = None
    error: BetaError | None = None

    def public(self, keyed: bool = False) -> BulkItem[T] | BulkFailure:
        """This item as a :class:`BulkItem` or a :class:`BulkFailure`.

        Args:
            keyed: Copy the item's ``elementId`` into the result's ``element_id`` (for
                results whose JSON lacks it: ``CurrentValue``, ``HistoricalValue``).
        """
        if self.success:
            result = self.result
            if keyed and self.element_id is not None and result is not None:
                result = msgspec.structs.replace(result, element_id=self.element_id)  # type: ignore[type-var]
            return BulkItem(self.element_id, self.subscription_id, result)
        detail = _failure(False, self.response_detail, self.error)
        return BulkFailure(self.element_id, self.subscription_id, detail or ResponseDetail())


class WireBulk(msgspec.Struct, Generic[T], frozen=True, rename="camel"):
    """A bulk envelope as it is on the wire (decoder internal)."""

    success: bool
    results: list[WireBulkItem[T]] | None = None
    response_detail: ResponseDetail | None = None
    error: BetaError | None = None


def wire_bulk_item(item: BulkItem[Any] | BulkFailure, result: Any) -> dict[str, Any]:
    """The JSON object (as a dict) of one bulk item, ``result`` already in wire form."""
    out: dict[str, Any] = {"success": isinstance(item, BulkItem)}
    if item.element_id is not None:
        out["elementId"] = item.element_id
    if item.subscription_id is not None:
        out["subscriptionId"] = item.subscription_id
    if isinstance(item, BulkItem):
        out["result"] = result
    else:
        out["responseDetail"] = item.detail
    return out
