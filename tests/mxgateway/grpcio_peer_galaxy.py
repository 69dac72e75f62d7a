"""The ``GalaxyRepository`` service of the grpcio test peer: a Galaxy of a dozen objects.

Two areas (``Area1``, ``Area2``) with five objects each, and one object under ``Area1.Pump1``.
Pages are slices of the object list; the page token is ``"<cache_sequence>:<offset>"`` and a
token of another cache sequence (after :meth:`Galaxy.deploy`) answers INVALID_ARGUMENT, as the
gateway does. ``pages_served`` counts pages so tests can prove that iteration is lazy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import grpc

DEFAULT_PAGE = 4
T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


class Galaxy:
    """Servicer of ``galaxy_repository.v1.GalaxyRepository`` (registered by ``GrpcioPeer``)."""

    def __init__(self, stubs: Any, auth: Any) -> None:
        self.g = stubs.galaxy
        self.auth = auth
        self.objects = self._build()
        self.pages_served = 0
        self.cache_sequence = 1
        self.deploy_time = T0
        self.deploy_sequence = 1
        self.watchers: set[asyncio.Queue[Any]] = set()
        self.watch_cancelled = threading.Event()

    def _build(self) -> list[Any]:
        g = self.g
        out = []
        gid = 100
        for area in ("Area1", "Area2"):
            area_id = gid
            out.append(
                g.GalaxyObject(
                    gobject_id=area_id,
                    tag_name=area,
                    browse_name=area,
                    is_area=True,
                    category_id=13,
                    contained_path=area,
                    has_children=True,
                )
            )
            for n in range(1, 6):
                gid += 1
                tag = f"{area}.Pump{n}"
                attr = g.GalaxyAttribute(attribute_name="Speed", full_tag_reference=f"{tag}.Speed", mx_data_type=4)
                out.append(
                    g.GalaxyObject(
                        gobject_id=gid,
                        tag_name=tag,
                        browse_name=f"Pump{n}",
                        parent_gobject_id=area_id,
                        contained_path=f"{area}/Pump{n}",
                        attributes=[attr],
                        has_children=tag == "Area1.Pump1",
                    )
                )
            gid += 1
        out.append(
            g.GalaxyObject(
                gobject_id=999,
                tag_name="Area1.Pump1.Valve",
                browse_name="Valve",
                parent_gobject_id=101,
                contained_path="Area1/Pump1/Valve",
            )
        )
        return out

    def _page(self, objects: list[Any], size: int, token: str, context: Any) -> tuple[list[Any], str]:
        offset = 0
        if token:
            sequence, _, start = token.partition(":")
            if sequence != str(self.cache_sequence) or not start.isdigit():
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "stale or invalid page token")
            offset = int(start)
        size = size or DEFAULT_PAGE
        page = objects[offset : offset + size]
        end = offset + len(page)
        self.pages_served += 1
        return page, f"{self.cache_sequence}:{end}" if end < len(objects) else ""

    async def TestConnection(self, request: Any, context: Any) -> Any:
        await self.auth.check(context, "TestConnection", "metadata:read")
        return self.g.TestConnectionReply(ok=True)

    async def GetLastDeployTime(self, request: Any, context: Any) -> Any:
        await self.auth.check(context, "GetLastDeployTime", "metadata:read")
        reply = self.g.GetLastDeployTimeReply()
        reply.time_of_last_deploy.FromDatetime(self.deploy_time)
        return reply

    async def DiscoverHierarchy(self, request: Any, context: Any) -> Any:
        await self.auth.check(context, "DiscoverHierarchy", "metadata:read")
        objects = self.objects
        if request.tag_name_glob:
            prefix = request.tag_name_glob.rstrip("*")
            objects = [o for o in objects if o.tag_name.startswith(prefix)]
        try:
            page, token = self._page(objects, request.page_size, request.page_token, context)
        except _Abort as abort:
            await context.abort(abort.code, abort.text)
        return self.g.DiscoverHierarchyReply(
            objects=page, next_page_token=token, total_object_count=len(objects), cache_sequence=self.cache_sequence
        )

    async def BrowseChildren(self, request: Any, context: Any) -> Any:
        await self.auth.check(context, "BrowseChildren", "metadata:read")
        parent = 0
        which = request.WhichOneof("parent")
        if which == "parent_gobject_id":
            parent = request.parent_gobject_id
        elif which == "parent_tag_name":
            parent = next((o.gobject_id for o in self.objects if o.tag_name == request.parent_tag_name), -1)
        if parent == -1 or (parent and all(o.gobject_id != parent for o in self.objects)):
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown parent")
        children = [o for o in self.objects if o.parent_gobject_id == parent]
        try:
            page, token = self._page(children, request.page_size, request.page_token, context)
        except _Abort as abort:
            await context.abort(abort.code, abort.text)
        return self.g.BrowseChildrenReply(children=page, next_page_token=token, cache_sequence=self.cache_sequence)

    def _event(self, initial: bool) -> Any:
        event = self.g.DeployEvent(
            sequence=self.deploy_sequence, is_initial_state=initial, object_count=len(self.objects)
        )
        event.time_of_last_deploy.FromDatetime(self.deploy_time)
        return event

    def deploy(self) -> None:
        """A new deploy: later time, new cache sequence, one event per watcher (call through ``GrpcioPeer.call``)."""
        self.deploy_time += dt.timedelta(minutes=5)
        self.deploy_sequence += 1
        self.cache_sequence += 1
        for queue in self.watchers:
            queue.put_nowait(self._event(False))

    def shutdown(self) -> None:
        for queue in self.watchers:
            queue.put_nowait(None)

    async def WatchDeployEvents(self, request: Any, context: Any) -> Any:
        await self.auth.check(context, "WatchDeployEvents", "metadata:read")
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.watchers.add(queue)
        try:
            yield self._event(True)
            while (event := await queue.get()) is not None:
                yield event
        except asyncio.CancelledError:
            self.watch_cancelled.set()
            raise
        finally:
            self.watchers.discard(queue)


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
