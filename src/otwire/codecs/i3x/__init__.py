"""CESMII i3X 1.0 codec: JSON bodies <-> models and envelopes, and the SSE parser (specs/i3x/notes.md).

* :mod:`~otwire.codecs.i3x.models`: ``ServerInfo``, ``Namespace``, ``ObjectType``,
  ``RelationshipType``, ``ObjectInstance``, ``ObjectInstanceMetadata``,
  ``RelatedObject``, ``VQT``, ``CurrentValue``, ``HistoricalValue``, ``ValueChange``,
  ``SyncBatch``, ``Subscription`` (the names of ``i3x-client`` 1.0.0).
* :mod:`~otwire.codecs.i3x.envelopes`: ``Response``, ``BulkResponse`` (``BulkItem`` /
  ``BulkFailure``), ``ResponseDetail``, ``BetaError``.
* :mod:`~otwire.codecs.i3x.codec`: ``decode_*`` / ``encode_*``; every malformed body is a
  :class:`otwire.errors.DecodeError` with the JSON path.
* :mod:`~otwire.codecs.i3x.requests`: the request bodies (``SyncRequest``, ``GetObjectValueRequest``, ...).
* :mod:`~otwire.codecs.i3x.sse`: ``SSEParser``, ``SSEEvent``;
  :mod:`~otwire.codecs.i3x.updates`: ``map_event`` (SSE event -> updates or close).
* :mod:`~otwire.codecs.i3x.timestamps`: ``parse_timestamp``, ``format_timestamp``.
"""

from __future__ import annotations

from otwire.codecs.i3x.codec import (
    decode,
    decode_bulk,
    decode_response,
    decode_server_info,
    decode_sync,
    encode,
    encode_bulk,
    encode_error,
    encode_response,
)
from otwire.codecs.i3x.envelopes import BetaError, BulkFailure, BulkItem, BulkResponse, Response, ResponseDetail
from otwire.codecs.i3x.models import (
    VQT,
    CurrentValue,
    HistoricalValue,
    Namespace,
    ObjectInstance,
    ObjectInstanceMetadata,
    ObjectType,
    Quality,
    RelatedObject,
    RelationshipType,
    ServerInfo,
    Subscription,
    SyncBatch,
    ValueChange,
)
from otwire.codecs.i3x.requests import (
    CreateSubscriptionRequest,
    DeleteSubscriptionsRequest,
    GetObjectHistoryRequest,
    GetObjectsRequest,
    GetObjectTypesRequest,
    GetObjectValueRequest,
    GetRelatedObjectsRequest,
    GetRelationshipTypesRequest,
    HistoryUpdateItem,
    ListSubscriptionsRequest,
    RegisterMonitoredItemsRequest,
    StreamRequest,
    SyncRequest,
    UnregisterMonitoredItemsRequest,
    UpdateHistoryRequest,
    UpdateValueRequest,
    ValueUpdateItem,
    VQTInput,
)
from otwire.codecs.i3x.sse import SSEEvent, SSEParser
from otwire.codecs.i3x.timestamps import format_timestamp, parse_timestamp
from otwire.codecs.i3x.updates import StreamClosed, StreamItem, StreamUpdates, UnknownStreamEvent, map_event

__all__ = [
    "VQT",
    "BetaError",
    "BulkFailure",
    "BulkItem",
    "BulkResponse",
    "CreateSubscriptionRequest",
    "CurrentValue",
    "DeleteSubscriptionsRequest",
    "GetObjectHistoryRequest",
    "GetObjectTypesRequest",
    "GetObjectValueRequest",
    "GetObjectsRequest",
    "GetRelatedObjectsRequest",
    "GetRelationshipTypesRequest",
    "HistoricalValue",
    "HistoryUpdateItem",
    "ListSubscriptionsRequest",
    "Namespace",
    "ObjectInstance",
    "ObjectInstanceMetadata",
    "ObjectType",
    "Quality",
    "RegisterMonitoredItemsRequest",
    "RelatedObject",
    "RelationshipType",
    "Response",
    "ResponseDetail",
    "SSEEvent",
    "SSEParser",
    "ServerInfo",
    "StreamClosed",
    "StreamItem",
    "StreamRequest",
    "StreamUpdates",
    "Subscription",
    "SyncBatch",
    "SyncRequest",
    "UnknownStreamEvent",
    "UnregisterMonitoredItemsRequest",
    "UpdateHistoryRequest",
    "UpdateValueRequest",
    "VQTInput",
    "ValueChange",
    "ValueUpdateItem",
    "decode",
    "decode_bulk",
    "decode_response",
    "decode_server_info",
    "decode_sync",
    "encode",
    "encode_bulk",
    "encode_error",
    "encode_response",
    "format_timestamp",
    "map_event",
    "parse_timestamp",
]
