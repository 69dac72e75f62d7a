"""i3X 1.0 request bodies (specs/i3x/notes.md §3; OpenAPI ``*Request`` schemas).

Frozen ``msgspec.Struct`` types, keyword-only, camelCase JSON keys. Fields left at
their default are omitted when encoding (``maxDepth`` 1, ``includeMetadata`` false
and ``null`` are the servers' defaults), so ``SyncRequest`` without
``last_sequence_number`` is the first sync call (notes §6). Encode with
:func:`otwire.codecs.i3x.codec.encode`; a server decodes with
``decode(body, SyncRequest)`` and so on (``DecodeError`` with the JSON path on a bad body;
a missing ``clientId`` decodes as ``None`` so that the server can answer 400 itself).
"""

from __future__ import annotations

from typing import Any

import msgspec

from otwire.codecs.i3x.models import VQT

__all__ = [
    "CreateSubscriptionRequest",
    "DeleteSubscriptionsRequest",
    "GetObjectHistoryRequest",
    "GetObjectTypesRequest",
    "GetObjectValueRequest",
    "GetObjectsRequest",
    "GetRelatedObjectsRequest",
    "GetRelationshipTypesRequest",
    "HistoryUpdateItem",
    "ListSubscriptionsRequest",
    "RegisterMonitoredItemsRequest",
    "StreamRequest",
    "SyncRequest",
    "UnregisterMonitoredItemsRequest",
    "UpdateHistoryRequest",
    "UpdateValueRequest",
    "VQTInput",
    "ValueUpdateItem",
]


class _Request(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """Base of the request bodies: keyword-only, camelCase, defaults omitted on encode."""


class GetObjectTypesRequest(_Request, frozen=True, kw_only=True):
    """``POST /objecttypes/query``: ``{elementIds}``."""

    element_ids: list[str]


class GetRelationshipTypesRequest(_Request, frozen=True, kw_only=True):
    """``POST /relationshiptypes/query``: ``{elementIds}``."""

    element_ids: list[str]


class GetObjectsRequest(_Request, frozen=True, kw_only=True):
    """``POST /objects/list``: ``{elementIds, includeMetadata?}``."""

    element_ids: list[str]
    include_metadata: bool = False


class GetRelatedObjectsRequest(_Request, frozen=True, kw_only=True):
    """``POST /objects/related``: ``{elementIds, relationshipType?, includeMetadata?}``."""

    element_ids: list[str]
    relationship_type: str | None = None
    include_metadata: bool = False


class GetObjectValueRequest(_Request, frozen=True, kw_only=True):
    """``POST /objects/value``: ``{elementIds, maxDepth?}`` (``maxDepth`` 0 = unlimited, 1 = no recursion)."""

    element_ids: list[str]
    max_depth: int = 1


class GetObjectHistoryRequest(_Request, frozen=True, kw_only=True):
    """``POST /objects/history``: ``{elementIds, startTime, endTime, maxDepth?}`` (RFC 3339 times)."""

    element_ids: list[str]
    start_time: str | None = None
    end_time: str | None = None
    max_depth: int = 1


class VQTInput(_Request, frozen=True, kw_only=True):
    """A value to write: ``{value, quality?, timestamp?}`` (the server defaults ``Good`` and its own time)."""

    value: Any
    quality: str | None = None
    timestamp: str | None = None


class ValueUpdateItem(_Request, frozen=True, kw_only=True):
    """One item of ``PUT /objects/value``: ``{elementId, value: VQTInput}``."""

    element_id: str
    value: VQTInput


class UpdateValueRequest(_Request, frozen=True, kw_only=True):
    """``PUT /objects/value``: ``{updates: [ValueUpdateItem]}``."""

    updates: list[ValueUpdateItem]


class HistoryUpdateItem(_Request, frozen=True, kw_only=True):
    """One item of ``PUT /objects/history``: ``{elementId, value: VQT}`` (all three VQT fields required)."""

    element_id: str
    value: VQT


class UpdateHistoryRequest(_Request, frozen=True, kw_only=True):
    """``PUT /objects/history``: ``{updates: [HistoryUpdateItem]}``."""

    updates: list[HistoryUpdateItem]


class CreateSubscriptionRequest(_Request, frozen=True, kw_only=True):
    """``POST /subscriptions``: ``{clientId, displayName?}``."""

    client_id: str | None = None
    display_name: str | None = None


class RegisterMonitoredItemsRequest(_Request, frozen=True, kw_only=True):
    """``POST /subscriptions/register``: ``{clientId, subscriptionId, elementIds, maxDepth?}``."""

    client_id: str | None = None
    subscription_id: str
    element_ids: list[str]
    max_depth: int = 1


class UnregisterMonitoredItemsRequest(_Request, frozen=True, kw_only=True):
    """``POST /subscriptions/unregister``: ``{clientId, subscriptionId, elementIds}``."""

    client_id: str | None = None
    subscription_id: str
    element_ids: list[str]


class ListSubscriptionsRequest(_Request, frozen=True, kw_only=True):
    """``POST /subscriptions/list``: ``{clientId, subscriptionIds}``."""

    client_id: str | None = None
    subscription_ids: list[str]


class DeleteSubscriptionsRequest(_Request, frozen=True, kw_only=True):
    """``POST /subscriptions/delete``: ``{clientId, subscriptionIds}``."""

    client_id: str | None = None
    subscription_ids: list[str]


class StreamRequest(_Request, frozen=True, kw_only=True):
    """``POST /subscriptions/stream``: ``{clientId, subscriptionId}``."""

    client_id: str | None = None
    subscription_id: str


class SyncRequest(_Request, frozen=True, kw_only=True):
    """``POST /subscriptions/sync``: ``{clientId, subscriptionId, lastSequenceNumber?}``.

    ``last_sequence_number`` is the cumulative ack (``None``: first call, nothing
    cleared; ``-1``: clear the whole queue), notes §6.
    """

    client_id: str | None = None
    subscription_id: str
    last_sequence_number: int | None = None
