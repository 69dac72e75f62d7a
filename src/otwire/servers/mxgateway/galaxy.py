"""The Galaxy Repository side of the simulator: queries, filters, paging and deploys, without I/O.

:class:`GalaxyRepository` answers ``DiscoverHierarchy`` and ``BrowseChildren`` from the fixed
objects of :mod:`.galaxy_data`, and counts deploys (:meth:`GalaxyRepository.deploy`: the cache
sequence and ``time_of_last_deploy`` move on). Filters (AND-combined, research §3): subtree
root (``root_gobject_id`` | ``root_tag_name`` | ``root_contained_path``), ``max_depth`` (0 =
the root only), ``category_ids`` (any of), ``template_chain_contains`` (any of, exact template
names), ``tag_name_glob`` (``*`` and ``?``, anchored, case-insensitive), ``alarm_bearing_only``,
``historized_only`` (objects with such an attribute) and ``include_attributes`` (default true).

Page tokens (``"<cache_sequence>.<offset>.<filter digest>"``, opaque to clients) are bound
to the cache sequence and the filters: a token from before a deploy, or used with other
filters, is refused with INVALID_ARGUMENT (:class:`GalaxyError`). ``page_size`` 0 means
500; at most 5000.
"""

from __future__ import annotations

import datetime
import re
import zlib
from collections.abc import Sequence

import betterproto2
from grpclib.const import Status

from otwire.codecs.mxgateway import galaxy as gpb
from otwire.servers.mxgateway.galaxy_data import GObject, build_galaxy

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "GalaxyError", "GalaxyRepository", "glob_pattern"]

DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000


class GalaxyError(Exception):
    """A refused Galaxy request: the gRPC ``status`` and a message."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def glob_pattern(glob: str) -> re.Pattern[str]:
    """The anchored, case-insensitive regular expression of a ``*``/``?`` glob."""
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


class GalaxyRepository:
    """The simulated Galaxy Repository.

    Args:
        now: The time of the initial deploy (UTC).
        sim_items: Attributes of ``SimTags``.
    """

    def __init__(self, now: datetime.datetime, *, sim_items: int = 100) -> None:
        self.objects = build_galaxy(sim_items)
        self.by_id = {obj.gobject_id: obj for obj in self.objects}
        self.by_tag = {obj.tag_name.lower(): obj for obj in self.objects}
        self.by_path = {obj.contained_path.lower(): obj for obj in self.objects}
        self.children: dict[int, list[GObject]] = {}
        for obj in self.objects:
            self.children.setdefault(obj.parent_gobject_id, []).append(obj)
        self.cache_sequence = 1
        self.time_of_last_deploy = now

    def deploy(self, now: datetime.datetime) -> gpb.DeployEvent:
        """Record a new deploy at ``now`` and return its event."""
        self.cache_sequence += 1
        self.time_of_last_deploy = now
        return self.deploy_event(now, initial=False)

    def deploy_event(self, now: datetime.datetime, *, initial: bool) -> gpb.DeployEvent:
        """The current state as a ``DeployEvent`` (``initial``: the first one of a watch)."""
        return gpb.DeployEvent(
            sequence=self.cache_sequence,
            time_of_last_deploy=self.time_of_last_deploy,
            observed_at=now,
            is_initial_state=initial,
            object_count=len(self.objects),
            attribute_count=sum(len(obj.attributes) for obj in self.objects),
        )

    # -- objects -----------------------------------------------------------------------------

    def depth(self, obj: GObject) -> int:
        """Levels below a root (roots are 0)."""
        level = 0
        while obj.parent_gobject_id:
            obj, level = self.by_id[obj.parent_gobject_id], level + 1
        return level

    def to_message(self, obj: GObject, *, include_attributes: bool) -> gpb.GalaxyObject:
        """The ``GalaxyObject`` of ``obj`` (attributes only when ``include_attributes``)."""
        attributes = []
        for attribute in obj.attributes if include_attributes else ():
            mx_data_type, type_name = attribute.data_type()
            attributes.append(
                gpb.GalaxyAttribute(
                    attribute_name=attribute.name,
                    full_tag_reference=f"{obj.tag_name}.{attribute.name}",
                    mx_data_type=mx_data_type,
                    data_type_name=type_name,
                    mx_attribute_category=2 if attribute.is_built_in else 10,
                    security_classification=attribute.security_classification,
                    is_built_in=attribute.is_built_in,
                    is_historized=attribute.is_historized,
                    is_alarm=attribute.is_alarm,
                )
            )
        return gpb.GalaxyObject(
            gobject_id=obj.gobject_id,
            tag_name=obj.tag_name,
            contained_name=obj.contained_name,
            browse_name=obj.browse_name,
            parent_gobject_id=obj.parent_gobject_id,
            is_area=obj.is_area,
            category_id=obj.category_id,
            hosted_by_gobject_id=obj.hosted_by_gobject_id,
            template_chain=list(obj.template_chain),
            contained_path=obj.contained_path,
            attributes=attributes,
            has_children=obj.gobject_id in self.children,
        )

    def find(self, which: str, key: object) -> GObject:
        """The object selected by ``root_*``/``parent_*`` field ``which`` with value ``key``.

        Raises:
            GalaxyError: NOT_FOUND.
        """
        if which.endswith("gobject_id"):
            obj = self.by_id.get(key) if isinstance(key, int) else None
        elif which.endswith("tag_name"):
            obj = self.by_tag.get(str(key).lower())
        else:
            obj = self.by_path.get(str(key).strip("/").lower())
        if obj is None:
            raise GalaxyError(Status.NOT_FOUND, f"no object with {which}={key!r}")
        return obj

    # -- queries -----------------------------------------------------------------------------

    def discover(self, request: gpb.DiscoverHierarchyRequest) -> gpb.DiscoverHierarchyReply:
        """Answer one ``DiscoverHierarchy`` page.

        Raises:
            GalaxyError: NOT_FOUND (unknown root), INVALID_ARGUMENT (bad page size, stale or
                foreign page token).
        """
        which, key = betterproto2.which_one_of(request, "root")
        root = self.find(which, key) if which else None
        candidates = self._subtree(root) if root is not None else self.objects
        base = self.depth(root) if root is not None else 0
        matched = [
            obj
            for obj in candidates
            if (request.max_depth is None or self.depth(obj) - base <= request.max_depth) and _matches(obj, request)
        ]
        digest = _digest(request, ("root", which, key))
        page, token = self._page(matched, request.page_size, request.page_token, digest)
        include = request.include_attributes is not False
        return gpb.DiscoverHierarchyReply(
            objects=[self.to_message(obj, include_attributes=include) for obj in page],
            next_page_token=token,
            total_object_count=len(matched),
            cache_sequence=self.cache_sequence,
            time_of_last_deploy=self.time_of_last_deploy,
        )

    def browse(self, request: gpb.BrowseChildrenRequest) -> gpb.BrowseChildrenReply:
        """Answer one ``BrowseChildren`` page: direct children (roots without a parent), areas first.

        Raises:
            GalaxyError: NOT_FOUND (unknown parent), INVALID_ARGUMENT (page size or token).
        """
        which, key = betterproto2.which_one_of(request, "parent")
        parent_id = self.find(which, key).gobject_id if which else 0
        children = sorted(self.children.get(parent_id, ()), key=lambda o: (not o.is_area, o.browse_name.lower()))
        matched = [obj for obj in children if _matches(obj, request)]
        page, token = self._page(matched, request.page_size, request.page_token, _digest(request, (which, key)))
        include = request.include_attributes is not False
        return gpb.BrowseChildrenReply(
            children=[self.to_message(obj, include_attributes=include) for obj in page],
            next_page_token=token,
            cache_sequence=self.cache_sequence,
        )

    def _subtree(self, root: GObject) -> list[GObject]:
        found, stack = [], [root]
        while stack:
            obj = stack.pop()
            found.append(obj)
            stack.extend(reversed(self.children.get(obj.gobject_id, [])))
        return sorted(found, key=lambda o: o.gobject_id)

    def _page(
        self, matched: Sequence[GObject], page_size: int, token: str, digest: str
    ) -> tuple[Sequence[GObject], str]:
        if page_size < 0:
            raise GalaxyError(Status.INVALID_ARGUMENT, f"page_size={page_size} is negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        offset = self._offset(token, digest) if token else 0
        end = offset + size
        next_token = f"{self.cache_sequence}.{end}.{digest}" if end < len(matched) else ""
        return matched[offset:end], next_token

    def _offset(self, token: str, digest: str) -> int:
        sequence, _, rest = token.partition(".")
        offset, _, token_digest = rest.partition(".")
        if not (sequence.isdigit() and offset.isdigit()) or token_digest != digest:
            raise GalaxyError(Status.INVALID_ARGUMENT, "page_token does not belong to this query (restart paging)")
        if int(sequence) != self.cache_sequence:
            raise GalaxyError(
                Status.INVALID_ARGUMENT,
                f"stale page_token: the Galaxy was deployed since (cache_sequence {self.cache_sequence}); restart",
            )
        return int(offset)


def _matches(obj: GObject, request: gpb.DiscoverHierarchyRequest | gpb.BrowseChildrenRequest) -> bool:
    if request.category_ids and obj.category_id not in request.category_ids:
        return False
    if request.template_chain_contains and not set(request.template_chain_contains) & set(obj.template_chain):
        return False
    if request.tag_name_glob and not glob_pattern(request.tag_name_glob).fullmatch(obj.tag_name):
        return False
    if request.alarm_bearing_only and not any(a.is_alarm for a in obj.attributes):
        return False
    return not (request.historized_only and not any(a.is_historized for a in obj.attributes))


def _digest(request: gpb.DiscoverHierarchyRequest | gpb.BrowseChildrenRequest, selector: tuple[object, ...]) -> str:
    parts = (
        selector,
        getattr(request, "max_depth", None),
        sorted(request.category_ids),
        sorted(request.template_chain_contains),
        request.tag_name_glob,
        request.include_attributes,
        request.alarm_bearing_only,
        request.historized_only,
    )
    return f"{zlib.crc32(repr(parts).encode()):08x}"
