"""An i3X 1.0 client with i3x-client 1.0.0's API on otwire's sans-IO engine (specs/i3x/notes.md §11).

Replace ``import i3x`` by ``import otwire.clients.i3x as i3x``: the same ``Client``, the
same models (otwire's codec models, same class and attribute names) and the same error
names, placed in otwire's error tree (``I3XError`` is an
:class:`~otwire.errors.RequestError`, ``TimeoutError`` a
:class:`~otwire.errors.RequestTimeout`, ``ConnectionError`` a
:class:`~otwire.errors.TransportError`).

Beyond i3x-client (notes §11): streams reopen after a clean end, an idle timeout or a
lost connection, report an ``on_gap`` :class:`Gap` and deliver the current values as
:class:`ResyncedChange`; a subscription the server forgot is recreated; bulk reads keep
their failures and 206 details (:class:`Results`, :class:`ValueResults`,
:class:`SyncBatches`); ``sync_changes`` with a :class:`SyncCursor` acknowledges and
de-duplicates; ``client.stats`` (:class:`ClientStats`) counts it all.
"""

from __future__ import annotations

from otwire.clients.i3x._streams import ClientStats, Gap, GapCause, ResyncedChange
from otwire.clients.i3x.aio import AsyncClient
from otwire.clients.i3x.client import Client
from otwire.clients.i3x.errors import (
    AuthenticationError,
    ConnectionError,  # noqa: A004 - i3x-client's name
    I3XError,
    InvalidServerResponseError,
    NotFoundError,
    NotSupportedError,
    ServerError,
    StreamError,
    SubscriptionError,
    TimeoutError,  # noqa: A004 - i3x-client's name
    UnsupportedVersionError,
)
from otwire.clients.i3x.results import Results, SyncBatches, SyncCursor, SyncResult, ValueResults
from otwire.codecs.i3x import (
    VQT,
    CurrentValue,
    HistoricalValue,
    Namespace,
    ObjectInstance,
    ObjectInstanceMetadata,
    ObjectType,
    RelatedObject,
    RelationshipType,
    ServerInfo,
    Subscription,
    SyncBatch,
    ValueChange,
)

__all__ = [
    "VQT",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ClientStats",
    "ConnectionError",
    "CurrentValue",
    "Gap",
    "GapCause",
    "HistoricalValue",
    "I3XError",
    "InvalidServerResponseError",
    "Namespace",
    "NotFoundError",
    "NotSupportedError",
    "ObjectInstance",
    "ObjectInstanceMetadata",
    "ObjectType",
    "RelatedObject",
    "RelationshipType",
    "Results",
    "ResyncedChange",
    "ServerError",
    "ServerInfo",
    "StreamError",
    "Subscription",
    "SubscriptionError",
    "SyncBatch",
    "SyncBatches",
    "SyncCursor",
    "SyncResult",
    "TimeoutError",
    "UnsupportedVersionError",
    "ValueChange",
    "ValueResults",
]
