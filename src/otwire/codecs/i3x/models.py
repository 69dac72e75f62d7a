"""i3X 1.0 models as frozen ``msgspec.Struct`` types (specs/i3x/notes.md §3, §4, §6).

Class and attribute names are those of ``i3x-client`` 1.0.0 (``ServerInfo``,
``ObjectType``, ``VQT``, ...). Every struct maps its snake_case attributes to the
camelCase JSON keys of the wire (``element_id`` <-> ``elementId``). Unknown keys in
a body are ignored. What ``i3x-client`` drops is kept here: ``components`` nested
at any depth (on ``VQT``, ``CurrentValue``, ``HistoricalValue``, ``ValueChange``)
and ``sequence_number`` on ``ValueChange``.

Timestamps stay the wire string (RFC 3339, UTC ``Z``); ``parsed_timestamp`` gives a
timezone-aware ``datetime`` (see :func:`otwire.codecs.i3x.timestamps.parse_timestamp`).

Decode and encode with :mod:`otwire.codecs.i3x.codec`, not with these classes.
"""

from __future__ import annotations

import datetime as _dt
from enum import StrEnum
from typing import Any

import msgspec

from otwire.codecs.i3x.timestamps import parse_timestamp

__all__ = [
    "VQT",
    "CurrentValue",
    "HistoricalValue",
    "Namespace",
    "ObjectInstance",
    "ObjectInstanceMetadata",
    "ObjectType",
    "Quality",
    "RelatedObject",
    "RelationshipType",
    "ServerInfo",
    "Subscription",
    "SyncBatch",
    "ValueChange",
]


class Quality(StrEnum):
    """The four i3X quality strings (notes §4). Model fields keep ``str`` so unknown strings decode."""

    Good = "Good"
    GoodNoData = "GoodNoData"
    Bad = "Bad"
    Uncertain = "Uncertain"


class _Model(msgspec.Struct, frozen=True, rename="camel"):
    """Base of every model: frozen, camelCase JSON keys, unknown keys ignored."""


class ServerInfo(_Model, frozen=True):
    """``GET /info`` result: ``{specVersion, serverVersion?, serverName?, capabilities}`` (notes §3 #1).

    ``capabilities`` is kept as JSON, e.g. ``{"query": {"history": true}, "update": {...},
    "subscribe": {"stream": true}}``.
    """

    spec_version: str
    server_version: str | None = None
    server_name: str | None = None
    capabilities: dict[str, Any] = msgspec.field(default_factory=dict)


class Namespace(_Model, frozen=True):
    """``GET /namespaces`` item: ``{uri, displayName}``."""

    uri: str
    display_name: str


class ObjectType(_Model, frozen=True):
    """Object type: ``{elementId, displayName, namespaceUri, sourceTypeId, version, schema, related}``.

    ``schema`` is a JSON Schema object; ``related`` is e.g.
    ``{"relationshipType": "InheritsFrom", "types": [...]}`` or ``None`` (notes §3).
    """

    element_id: str
    display_name: str
    namespace_uri: str
    source_type_id: str = ""
    version: str | None = None
    schema: dict[str, Any] = msgspec.field(default_factory=dict)
    related: dict[str, Any] | None = None


class RelationshipType(_Model, frozen=True):
    """Relationship type: ``{elementId, displayName, namespaceUri, relationshipId, reverseOf}``."""

    element_id: str
    display_name: str
    namespace_uri: str
    relationship_id: str = ""
    reverse_of: str = ""


class ObjectInstanceMetadata(_Model, frozen=True):
    """``metadata`` of an instance (only with ``includeMetadata``; notes §3).

    Keys: ``typeNamespaceUri``, ``sourceTypeId``, ``description``, ``relationships``
    (relationship name -> elementId or list of elementIds), ``schemaExtensions``
    (Beta name ``extendedAttributes`` is not mapped), ``system`` (opaque).
    """

    type_namespace_uri: str | None = None
    source_type_id: str | None = None
    description: str | None = None
    relationships: dict[str, Any] | None = None
    schema_extensions: dict[str, Any] | None = None
    system: dict[str, Any] | None = None


class ObjectInstance(_Model, frozen=True):
    """Object instance: ``{elementId, displayName, typeElementId, parentId, isComposition, isExtended, metadata?}``.

    ``parent_id`` is ``None`` for roots; ``metadata`` is ``None`` unless requested.
    """

    element_id: str
    display_name: str
    type_element_id: str
    parent_id: str | None = None
    is_composition: bool = False
    is_extended: bool = False
    metadata: ObjectInstanceMetadata | None = None


class VQT(_Model, frozen=True):
    """Value, quality, timestamp: ``{value, quality, timestamp, components?}`` (notes §4).

    ``value`` is any JSON value (``None`` goes with ``Bad`` or ``GoodNoData``);
    ``quality`` is one of :class:`Quality` (other strings are kept as they are);
    ``timestamp`` is RFC 3339 UTC. ``components`` maps a child elementId to its
    VQT, nested at any depth, or is ``None``.
    """

    value: Any
    quality: str = ""
    timestamp: str = ""
    components: dict[str, VQT] | None = None

    @property
    def parsed_timestamp(self) -> _dt.datetime:
        """``timestamp`` as an aware UTC ``datetime`` (microseconds; finer digits are truncated).

        Raises:
            DecodeError: ``timestamp`` is not RFC 3339.
        """
        return parse_timestamp(self.timestamp)


class CurrentValue(_Model, frozen=True):
    """``POST /objects/value`` result: ``{isComposition, value, quality, timestamp, components?}`` (notes §4).

    ``element_id`` is not part of the result JSON: the bulk decoder fills it from the
    item's ``elementId`` (and encoding a bulk response leaves it out of ``result``).
    """

    element_id: str = ""
    is_composition: bool = False
    value: Any = None
    quality: str = ""
    timestamp: str = ""
    components: dict[str, VQT] | None = None

    @property
    def parsed_timestamp(self) -> _dt.datetime:
        """``timestamp`` as an aware UTC ``datetime`` (microseconds; finer digits are truncated).

        Raises:
            DecodeError: ``timestamp`` is not RFC 3339.
        """
        return parse_timestamp(self.timestamp)


class HistoricalValue(_Model, frozen=True):
    """``POST /objects/history`` result: ``{isComposition, values: [VQT], components?}`` (notes §4).

    ``components`` (shape undefined by the spec) is read as child elementId -> history.
    ``element_id`` is filled from the bulk item, as for :class:`CurrentValue`.
    """

    element_id: str = ""
    is_composition: bool = False
    values: list[VQT] = msgspec.field(default_factory=list)
    components: dict[str, HistoricalValue] | None = None


class RelatedObject(_Model, frozen=True):
    """``POST /objects/related`` result item: ``{sourceRelationship, object: ObjectInstance}``."""

    source_relationship: str
    object: ObjectInstance


class ValueChange(_Model, frozen=True, gc=False):
    """One subscription update (SSE or sync): ``{elementId, value, quality, timestamp, ...}`` (notes §5, §6).

    Kept beyond ``i3x-client``: ``components`` (any depth) and ``sequence_number``
    (i3x2ua and node-i3x send one per update; ``None`` when absent). node-i3x puts a
    whole current-value object in ``value``; it is kept as JSON.

    Not tracked by the garbage collector (``msgspec`` ``gc=False``; streams make them by
    the hundred thousand): being frozen, a change can only sit in a reference cycle if a
    container in its ``value`` or ``components`` is later made to hold the change itself;
    such a cycle is never freed.
    """

    element_id: str
    value: Any = None
    quality: str = ""
    timestamp: str = ""
    components: dict[str, VQT] | None = None
    sequence_number: int | None = None

    @property
    def parsed_timestamp(self) -> _dt.datetime:
        """``timestamp`` as an aware UTC ``datetime`` (microseconds; finer digits are truncated).

        Raises:
            DecodeError: ``timestamp`` is not RFC 3339.
        """
        return parse_timestamp(self.timestamp)


class SyncBatch(_Model, frozen=True):
    """``POST /subscriptions/sync`` result item: ``{sequenceNumber, updates: [ValueChange]}`` (notes §6).

    ``sequence_number`` is signed 64-bit on the wire (the ack ``-1`` clears the queue).
    """

    sequence_number: int
    updates: list[ValueChange] = msgspec.field(default_factory=list)


class Subscription(_Model, frozen=True):
    """Subscription: ``{subscriptionId, clientId, displayName, monitoredObjects: [{elementId, maxDepth}]}``.

    Returned by ``POST /subscriptions`` (no ``monitoredObjects``) and as
    ``/subscriptions/list`` item results. ``monitored_objects`` stays JSON objects.
    """

    subscription_id: str
    client_id: str | None = None
    display_name: str | None = None
    monitored_objects: list[dict[str, Any]] = msgspec.field(default_factory=list)
