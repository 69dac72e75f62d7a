"""``GalaxyRepositoryClient``: browse the Galaxy Repository through the gateway (notes §client "Galaxy").

The service is read-only and paged: ``DiscoverHierarchy`` and ``BrowseChildren`` answer one
page and a ``next_page_token`` (empty on the last page). :meth:`iter_hierarchy` and
:meth:`iter_children` fetch the next page only when the previous one is consumed, so memory
stays at one page whatever the Galaxy's size. A page token is bound to the cache sequence and
the filters: a deploy between pages makes the gateway answer ``INVALID_ARGUMENT``
(:class:`~.errors.MxGatewayRpcError`); start again from the first page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from otwire.codecs.mxgateway import galaxy
from otwire.errors import InvalidArgument

from ._connection import GatewayConnection

__all__ = ["GalaxyRepositoryClient"]

T = TypeVar("T")
_PARENTS = ("parent_gobject_id", "parent_tag_name", "parent_contained_path")


class GalaxyRepositoryClient:
    """A client of the ``GalaxyRepository`` service (scope ``metadata:read``).

    Make one with :meth:`connect`, or share a :class:`GatewayClient`'s channel with
    ``GalaxyRepositoryClient(client.connection)``. Every method takes ``timeout`` in seconds and
    raises the errors of ``errors.py`` only (``NOT_FOUND`` for an unknown parent or root,
    ``INVALID_ARGUMENT`` for a stale page token, both :class:`~.errors.MxGatewayRpcError`).
    Filters are the request fields (``category_ids``, ``tag_name_glob``, ``include_attributes``,
    ``root_tag_name``, ``max_depth``...), passed as keyword arguments.
    """

    def __init__(self, connection: GatewayConnection, *, owns_connection: bool = False) -> None:
        self._connection = connection
        self._owns = owns_connection
        self._stub = galaxy.GalaxyRepositoryStub(connection.channel)

    @classmethod
    async def connect(
        cls,
        *,
        endpoint: str,
        api_key: str,
        plaintext: bool = False,
        ca_file: str | None = None,
        server_name_override: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = 10.0,
    ) -> GalaxyRepositoryClient:
        """Connect on its own channel; the arguments and errors are those of ``GatewayClient.connect``."""
        connection = await GatewayConnection.opened(
            connect_timeout,
            endpoint=endpoint,
            api_key=api_key,
            plaintext=plaintext,
            ca_file=ca_file,
            server_name_override=server_name_override,
            timeout=timeout,
        )
        return cls(connection, owns_connection=True)

    def __repr__(self) -> str:
        return f"<GalaxyRepositoryClient {self._connection!r}>"

    async def __aenter__(self) -> GalaxyRepositoryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel when this client opened it (idempotent)."""
        if self._owns:
            self._connection.close()

    def _kw(self, timeout: float | None) -> dict[str, Any]:
        return {"timeout": timeout, "metadata": self._connection.metadata}

    async def _call(self, what: str, start: Callable[[float | None], Awaitable[T]], timeout: float | None) -> T:
        return await self._connection.unary(what, start, timeout)

    async def test_connection(self, *, timeout: float | None = None) -> bool:
        """``TestConnection``: True when the gateway reaches the Galaxy database."""
        request = galaxy.TestConnectionRequest()
        reply = await self._call(
            "TestConnection", lambda t: self._stub.test_connection(request, **self._kw(t)), timeout
        )
        return reply.ok

    async def get_last_deploy_time(self, *, timeout: float | None = None) -> dt.datetime | None:
        """``GetLastDeployTime``: the Galaxy's last deploy (aware UTC), or ``None`` when not set."""
        request = galaxy.GetLastDeployTimeRequest()
        reply = await self._call(
            "GetLastDeployTime", lambda t: self._stub.get_last_deploy_time(request, **self._kw(t)), timeout
        )
        return reply.time_of_last_deploy

    async def discover_hierarchy(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None, **filters: Any
    ) -> galaxy.DiscoverHierarchyReply:
        """One page of ``DiscoverHierarchy`` (``page_size`` 0 = the gateway's default).

        Raises:
            InvalidArgument: an unknown filter name or a negative ``page_size``.
        """
        request = _request(galaxy.DiscoverHierarchyRequest, page_size=page_size, page_token=page_token, **filters)
        return await self._call(
            "DiscoverHierarchy", lambda t: self._stub.discover_hierarchy(request, **self._kw(t)), timeout
        )

    async def iter_hierarchy(
        self, *, page_size: int = 500, timeout: float | None = None, **filters: Any
    ) -> AsyncIterator[galaxy.GalaxyObject]:
        """Every object of ``DiscoverHierarchy``, page by page, fetched lazily (one page in memory).

        A deploy between two pages invalidates the page token: the next page fails with
        ``MxGatewayRpcError`` (INVALID_ARGUMENT, "stale page_token") and the iteration ends there.
        It is not restarted here, because the objects already yielded would come again; call
        ``iter_hierarchy`` again (``get_last_deploy_time`` tells whether a deploy happened).
        """
        token = ""
        while True:
            reply = await self.discover_hierarchy(page_size=page_size, page_token=token, timeout=timeout, **filters)
            for obj in reply.objects:
                yield obj
            token = reply.next_page_token
            if not token:
                return

    async def browse_children(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None, **filters: Any
    ) -> galaxy.BrowseChildrenReply:
        """One page of the direct children of a parent (``parent_gobject_id``, ``parent_tag_name`` or
        ``parent_contained_path``; none: the roots).

        Raises:
            InvalidArgument: more than one parent, an unknown filter, a negative ``page_size``.
        """
        if sum(1 for name in _PARENTS if filters.get(name) is not None) > 1:
            raise InvalidArgument(f"give at most one of {', '.join(_PARENTS)}")
        request = _request(galaxy.BrowseChildrenRequest, page_size=page_size, page_token=page_token, **filters)
        return await self._call("BrowseChildren", lambda t: self._stub.browse_children(request, **self._kw(t)), timeout)

    async def iter_children(
        self, *, page_size: int = 500, timeout: float | None = None, **filters: Any
    ) -> AsyncIterator[galaxy.GalaxyObject]:
        """Every direct child of a parent (see :meth:`browse_children`), fetched page by page."""
        token = ""
        while True:
            reply = await self.browse_children(page_size=page_size, page_token=token, timeout=timeout, **filters)
            for child in reply.children:
                yield child
            token = reply.next_page_token
            if not token:
                return

    async def watch_deploy_events(
        self, *, last_seen_deploy_time: dt.datetime | None = None
    ) -> AsyncIterator[galaxy.DeployEvent]:
        """``WatchDeployEvents``: the current state first, then one event per deploy.

        With ``last_seen_deploy_time``, events whose ``time_of_last_deploy`` is not later are
        skipped (typically the initial one, when nothing changed since). ``break``,
        ``aclose()`` or cancelling the task closes the gRPC stream.

        Raises:
            InvalidArgument: a naive ``last_seen_deploy_time``.
            MxGatewayUnavailableError: the stream was cut.
        """
        if last_seen_deploy_time is not None and last_seen_deploy_time.utcoffset() is None:
            raise InvalidArgument("last_seen_deploy_time must be timezone-aware")
        request = galaxy.WatchDeployEventsRequest()
        metadata = self._connection.metadata
        source: AsyncGenerator[galaxy.DeployEvent, None] = self._connection.stream(
            "WatchDeployEvents",
            lambda: self._stub.watch_deploy_events(request, metadata=metadata),
        )
        async with contextlib.aclosing(source) as events:
            async for event in events:
                deployed = event.time_of_last_deploy
                if last_seen_deploy_time is not None and deployed is not None and deployed <= last_seen_deploy_time:
                    continue
                yield event


def _request(cls: Any, *, page_size: int, page_token: str, **filters: Any) -> Any:
    if not isinstance(page_size, int) or page_size < 0:
        raise InvalidArgument(f"page_size must be an int >= 0, got {page_size!r}")
    fields = cls.__dataclass_fields__
    unknown = sorted(set(filters) - set(fields))
    if unknown:
        raise InvalidArgument(f"unknown filter(s) for {cls.__name__}: {', '.join(unknown)}")
    given = {name: value for name, value in filters.items() if value is not None}
    try:
        return cls(page_size=page_size, page_token=page_token, **given)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{cls.__name__}: {exc}") from None
