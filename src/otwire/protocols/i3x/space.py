"""The address space an i3X server engine serves, and an in-memory one (specs/i3x/notes.md §3, §4).

:class:`AddressSpace` is the ``typing.Protocol`` of everything
:class:`~otwire.protocols.i3x.server.I3XServer` asks of the application: namespaces,
object and relationship types, objects and their relationships, current values with
compositions to a depth, history, and writes. Every call is synchronous and cheap (the
engine is sans-IO); unknown ids return ``None`` (the engine answers 404 for them).

:class:`MemorySpace` keeps everything in dictionaries. Its relationships are
``HasParent`` / ``HasChildren`` (organisational) and ``HasComponent`` / ``ComponentOf``
(composition): values recurse along ``HasComponent`` only (research §4).

Depth (``max_depth``) as on the wire: 1 is the element alone, N adds N-1 levels of
components; the engine never passes 0 (it clamps "unlimited" to its own limit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

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
    parse_timestamp,
)
from otwire.errors import DecodeError, InvalidArgument

__all__ = ["COMPONENT_OF", "HAS_CHILDREN", "HAS_COMPONENT", "HAS_PARENT", "AddressSpace", "MemorySpace"]

HAS_PARENT, HAS_CHILDREN = "HasParent", "HasChildren"
HAS_COMPONENT, COMPONENT_OF = "HasComponent", "ComponentOf"
_NO_DATA = VQT(None, "GoodNoData", "1970-01-01T00:00:00Z")


class AddressSpace(Protocol):
    """What the i3X server engine needs of the data it serves (all ids are elementIds)."""

    value_writable: bool
    """``PUT /objects/value`` is offered (``capabilities.update.current``)."""
    history_writable: bool
    """``PUT /objects/history`` is offered (else 501)."""

    def namespaces(self) -> list[Namespace]:
        """Every namespace."""
        ...

    def object_types(self, namespace_uri: str | None = None) -> list[ObjectType]:
        """Every object type (of one namespace when ``namespace_uri`` is given)."""
        ...

    def object_type(self, element_id: str) -> ObjectType | None:
        """One object type, or ``None`` when unknown."""
        ...

    def relationship_types(self, namespace_uri: str | None = None) -> list[RelationshipType]:
        """Every relationship type (of one namespace when given)."""
        ...

    def relationship_type(self, element_id: str) -> RelationshipType | None:
        """One relationship type, or ``None``."""
        ...

    def objects(
        self, *, type_element_id: str | None = None, root: bool = False, include_metadata: bool = False
    ) -> list[ObjectInstance]:
        """Every object (filtered by type; only roots with ``root``)."""
        ...

    def object(self, element_id: str, *, include_metadata: bool = False) -> ObjectInstance | None:
        """One object, or ``None``."""
        ...

    def related(
        self, element_id: str, relationship_type: str | None = None, *, include_metadata: bool = False
    ) -> list[RelatedObject] | None:
        """The objects related to ``element_id`` (by one relationship when given), or ``None`` when unknown."""
        ...

    def current_value(self, element_id: str, max_depth: int) -> CurrentValue | None:
        """The current value with ``components`` to ``max_depth`` (>= 1), or ``None`` when unknown."""
        ...

    def history(self, element_id: str, start: str | None, end: str | None, max_depth: int) -> HistoricalValue | None:
        """Recorded values between ``start`` and ``end`` (RFC 3339, inclusive), oldest first, or ``None``."""
        ...

    def write_value(self, element_id: str, vqt: VQT) -> bool:
        """Set the current value; False when ``element_id`` is unknown."""
        ...

    def write_history(self, element_id: str, vqt: VQT) -> bool:
        """Insert or replace the history record at ``vqt.timestamp``; False when unknown.

        The engine checks ``vqt`` first (RFC 3339 timestamp, one of the four qualities).
        """
        ...


@dataclass
class _Node:
    instance: ObjectInstance
    description: str = ""
    component: bool = False  # a component of its parent (HasComponent), else an organisational child
    vqt: VQT = _NO_DATA
    children: list[str] = field(default_factory=list)
    history: dict[datetime, VQT] = field(default_factory=dict)  # keyed by the parsed instant


class MemorySpace:
    """An :class:`AddressSpace` in dictionaries (see the module docstring).

    Args:
        value_writable: Offer ``PUT /objects/value``.
        history_writable: Offer ``PUT /objects/history``.
        history_limit: Most history records kept per element (oldest dropped).
    """

    def __init__(self, *, value_writable: bool = True, history_writable: bool = True, history_limit: int = 10_000):
        self.value_writable, self.history_writable, self.history_limit = value_writable, history_writable, history_limit
        self._namespaces: dict[str, Namespace] = {}
        self._types: dict[str, ObjectType] = {}
        self._relationship_types: dict[str, RelationshipType] = {}
        self._nodes: dict[str, _Node] = {}

    # -- building ------------------------------------------------------------------------------

    def add_namespace(self, namespace: Namespace) -> None:
        """Add or replace a namespace."""
        self._namespaces[namespace.uri] = namespace

    def add_object_type(self, object_type: ObjectType) -> None:
        """Add or replace an object type."""
        self._types[object_type.element_id] = object_type

    def add_relationship_type(self, relationship_type: RelationshipType) -> None:
        """Add or replace a relationship type."""
        self._relationship_types[relationship_type.element_id] = relationship_type

    def add_object(
        self,
        element_id: str,
        display_name: str,
        type_element_id: str,
        *,
        parent_id: str | None = None,
        component: bool = False,
        description: str = "",
        vqt: VQT | None = None,
    ) -> None:
        """Add an object under ``parent_id`` (a component of it when ``component``).

        Raises:
            InvalidArgument: ``element_id`` exists already, or ``parent_id`` is unknown.
        """
        if element_id in self._nodes:
            raise InvalidArgument(f"element {element_id!r} exists already")
        parent = self._nodes.get(parent_id) if parent_id is not None else None
        if parent_id is not None and parent is None:
            raise InvalidArgument(f"parent {parent_id!r} of {element_id!r} is unknown")
        instance = ObjectInstance(element_id, display_name, type_element_id, parent_id)
        self._nodes[element_id] = _Node(instance, description, component, vqt or _NO_DATA)
        if parent is not None:
            parent.children.append(element_id)

    def set_value(self, element_id: str, vqt: VQT, *, record: bool = True) -> None:
        """Set the current value of a known element (and record it in its history).

        Raises:
            InvalidArgument: ``element_id`` is unknown, or ``record`` and ``vqt.timestamp`` is not RFC 3339.
        """
        node = self._nodes.get(element_id)
        if node is None:
            raise InvalidArgument(f"element {element_id!r} is unknown")
        if record:
            try:
                self._record(node, vqt)
            except DecodeError as exc:
                raise InvalidArgument(f"{element_id!r}: {exc}") from None
        node.vqt = vqt

    def components_of(self, element_id: str) -> list[str]:
        """The direct components (``HasComponent``) of an element ([] when unknown)."""
        node = self._nodes.get(element_id)
        return [c for c in node.children if self._nodes[c].component] if node is not None else []

    def composition_of(self, element_id: str) -> str | None:
        """The element ``element_id`` is a component of, or ``None``."""
        node = self._nodes.get(element_id)
        return node.instance.parent_id if node is not None and node.component else None

    # -- AddressSpace ----------------------------------------------------------------------------

    def namespaces(self) -> list[Namespace]:
        """Every namespace."""
        return list(self._namespaces.values())

    def object_types(self, namespace_uri: str | None = None) -> list[ObjectType]:
        """Every object type (of one namespace when given)."""
        return [t for t in self._types.values() if namespace_uri is None or t.namespace_uri == namespace_uri]

    def object_type(self, element_id: str) -> ObjectType | None:
        """One object type, or ``None``."""
        return self._types.get(element_id)

    def relationship_types(self, namespace_uri: str | None = None) -> list[RelationshipType]:
        """Every relationship type (of one namespace when given)."""
        types = self._relationship_types.values()
        return [t for t in types if namespace_uri is None or t.namespace_uri == namespace_uri]

    def relationship_type(self, element_id: str) -> RelationshipType | None:
        """One relationship type, or ``None``."""
        return self._relationship_types.get(element_id)

    def objects(
        self, *, type_element_id: str | None = None, root: bool = False, include_metadata: bool = False
    ) -> list[ObjectInstance]:
        """Every object (filtered by type; only roots with ``root``)."""
        return [
            self._instance(node, include_metadata)
            for node in self._nodes.values()
            if (type_element_id is None or node.instance.type_element_id == type_element_id)
            and not (root and node.instance.parent_id is not None)
        ]

    def object(self, element_id: str, *, include_metadata: bool = False) -> ObjectInstance | None:
        """One object, or ``None``."""
        node = self._nodes.get(element_id)
        return self._instance(node, include_metadata) if node is not None else None

    def related(
        self, element_id: str, relationship_type: str | None = None, *, include_metadata: bool = False
    ) -> list[RelatedObject] | None:
        """The related objects (``HasParent``, ``HasChildren``, ``HasComponent``, ``ComponentOf``), or ``None``."""
        node = self._nodes.get(element_id)
        if node is None:
            return None
        return [
            RelatedObject(name, self._instance(self._nodes[other], include_metadata))
            for name, others in self._relationships(node).items()
            if relationship_type is None or name == relationship_type
            for other in others
        ]

    def current_value(self, element_id: str, max_depth: int) -> CurrentValue | None:
        """The current value with ``components`` to ``max_depth`` (>= 1), or ``None``."""
        node = self._nodes.get(element_id)
        if node is None:
            return None
        vqt = node.vqt
        components = self._components(element_id, max_depth - 1)
        composition = bool(self.components_of(element_id))
        return CurrentValue(element_id, composition, vqt.value, vqt.quality, vqt.timestamp, components)

    def history(self, element_id: str, start: str | None, end: str | None, max_depth: int) -> HistoricalValue | None:
        """Recorded values in ``[start, end]``, oldest first, or ``None``.

        Raises:
            DecodeError: ``start`` or ``end`` is not RFC 3339.
        """
        node = self._nodes.get(element_id)
        if node is None:
            return None
        low = parse_timestamp(start) if start else None
        high = parse_timestamp(end) if end else None
        values = [
            vqt
            for stamp, vqt in sorted(node.history.items(), key=lambda item: item[0])
            if (low is None or stamp >= low) and (high is None or stamp <= high)
        ]
        children = self.components_of(element_id)
        components = None
        if max_depth > 1 and children:
            components = {c: h for c in children if (h := self.history(c, start, end, max_depth - 1)) is not None}
        return HistoricalValue(element_id, bool(children), values, components)

    def write_value(self, element_id: str, vqt: VQT) -> bool:
        """Set the current value; False when unknown."""
        if element_id not in self._nodes:
            return False
        self.set_value(element_id, vqt)
        return True

    def write_history(self, element_id: str, vqt: VQT) -> bool:
        """Insert or replace the record at the instant ``vqt.timestamp``; False when unknown.

        Raises:
            DecodeError: ``vqt.timestamp`` is not RFC 3339 (nothing is recorded).
        """
        node = self._nodes.get(element_id)
        if node is None:
            return False
        self._record(node, vqt)
        return True

    # -- helpers ---------------------------------------------------------------------------------

    def _record(self, node: _Node, vqt: VQT) -> None:
        node.history[parse_timestamp(vqt.timestamp)] = vqt
        while len(node.history) > self.history_limit:
            del node.history[next(iter(node.history))]

    def _components(self, element_id: str, depth: int) -> dict[str, VQT] | None:
        children = self.components_of(element_id)
        if depth < 1 or not children:
            return None
        out = {}
        for child in children:
            vqt = self._nodes[child].vqt
            out[child] = VQT(vqt.value, vqt.quality, vqt.timestamp, self._components(child, depth - 1))
        return out

    def _relationships(self, node: _Node) -> dict[str, list[str]]:
        parent = node.instance.parent_id
        out: dict[str, list[str]] = {}
        if parent is not None:
            out[COMPONENT_OF if node.component else HAS_PARENT] = [parent]
        children = [c for c in node.children if not self._nodes[c].component]
        components = [c for c in node.children if self._nodes[c].component]
        if children:
            out[HAS_CHILDREN] = children
        if components:
            out[HAS_COMPONENT] = components
        return out

    def _instance(self, node: _Node, include_metadata: bool) -> ObjectInstance:
        instance = node.instance
        composition = any(self._nodes[c].component for c in node.children)
        metadata = None
        if include_metadata:
            object_type = self._types.get(instance.type_element_id)
            metadata = ObjectInstanceMetadata(
                type_namespace_uri=object_type.namespace_uri if object_type is not None else None,
                source_type_id=object_type.source_type_id if object_type is not None else None,
                description=node.description or None,
                relationships={k: v if len(v) > 1 else v[0] for k, v in self._relationships(node).items()},
            )
        return ObjectInstance(
            instance.element_id,
            instance.display_name,
            instance.type_element_id,
            instance.parent_id,
            composition,
            False,
            metadata,
        )

    def element_ids(self) -> Iterable[str]:
        """Every element id, in insertion order."""
        return iter(self._nodes)
