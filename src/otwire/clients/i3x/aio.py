"""The asyncio i3X client: :class:`Client`'s methods as coroutines on the caller's loop (notes §11).

Every connection and stream lives on the loop that called :meth:`AsyncClient.connect`.
Callbacks (plain functions or coroutine functions) run on that loop after the engine's
events were drained, so they never interleave with socket reading;
``async for change in client.changes(subscription)`` is the pull-style alternative.

>>> import otwire.clients.i3x as i3x
>>> async def main() -> None:  # doctest: +SKIP
...     async with i3x.AsyncClient("http://127.0.0.1:8080/v1") as client:
...         sub = await client.subscribe(["pump-101-flow"])
...         async for change in client.changes(sub):
...             print(change.value)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from otwire.clients.i3x import _api, _base, errors
from otwire.clients.i3x._aio_streams import AsyncStreams, Inbox
from otwire.clients.i3x._driver import AsyncDriver
from otwire.clients.i3x._streams import (
    Gap,
)
from otwire.clients.i3x.results import Results, SyncBatches, SyncCursor, SyncResult, ValueResults, account
from otwire.codecs.i3x import (
    CurrentValue,
    HistoricalValue,
    Namespace,
    ObjectInstance,
    ObjectType,
    RelatedObject,
    RelationshipType,
    ServerInfo,
    Subscription,
    ValueChange,
)

__all__ = ["AsyncClient"]

LOGGER = logging.getLogger("otwire.clients.i3x")
T = TypeVar("T")
_END = None


class AsyncClient(AsyncStreams):
    """An asyncio i3X 1.0 client; the arguments, attributes and errors of :class:`~otwire.clients.i3x.Client`.

    Args:
        base_url: The API root, ``http(s)://host[:port]/v1``.
        auth: ``(user, secret)`` for HTTP Basic, or ``None``.
        timeout: Longest wait for one answer, seconds.
        client_id: Scopes subscriptions; a UUID when ``None``.
        token: Bearer token (``Authorization: Bearer``).
        headers: Extra request headers.
        verify: TLS: ``True`` checks the certificate, ``False`` does not, a str is a CA file.
        idle_timeout: As :class:`~otwire.clients.i3x.Client`.
        backoff: As :class:`~otwire.clients.i3x.Client`.
        resubscribe: As :class:`~otwire.clients.i3x.Client`.
        queue_size: Changes waiting for a :meth:`changes` consumer at which the stream's
            socket is no longer read (back-pressure); twice as many at most, then the
            oldest are dropped (counted in :attr:`dropped_changes`, logged once per burst).

    Attributes:
        on_connect, on_disconnect, on_value_change, on_subscribe, on_error, on_gap, stats: As
            :class:`~otwire.clients.i3x.Client`; callbacks may be coroutine functions.

    Raises:
        InvalidArgument: ``base_url`` is not an http(s) URL, or ``timeout`` is not > 0.
    """

    def __init__(
        self,
        base_url: str,
        auth: Any = None,
        timeout: float = 30.0,
        client_id: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        verify: Any = True,
        *,
        idle_timeout: float | None = 60.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        resubscribe: bool = True,
        queue_size: int = 10_000,
    ) -> None:
        super().__init__(
            base_url, auth, timeout, client_id, token, headers, verify,
            idle_timeout=idle_timeout, backoff=backoff, resubscribe=resubscribe,
        )  # fmt: skip
        self._driver: AsyncDriver | None = None
        self._queue_size = queue_size
        self._queues: dict[str, dict[Inbox, bool]] = {}
        self._dropping = False
        self._paused: set[str] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self.on_connect: Callable[[AsyncClient], Any] | None = None
        self.on_disconnect: Callable[[AsyncClient], Any] | None = None
        self.on_value_change: Callable[[AsyncClient, ValueChange], Any] | None = None
        self.on_subscribe: Callable[[AsyncClient, Subscription], Any] | None = None
        self.on_error: Callable[[AsyncClient, Exception], Any] | None = None
        self.on_gap: Callable[[AsyncClient, Gap], Any] | None = None

    @property
    def dropped_changes(self) -> int:
        """Changes dropped because a :meth:`changes` consumer fell ``queue_size`` behind."""
        return self.stats.dropped_changes

    async def connect(self) -> None:
        """Check ``GET /info`` on the running loop; raises as :meth:`Client.connect`."""
        if self.is_connected:
            return
        self._driver = AsyncDriver(self._config, _base.ssl_context(self._config, self._verify))
        try:
            self._server_info = await self._run(_api.get_info())
        except errors.NotFoundError as exc:
            self._driver.close()
            raise errors.UnsupportedVersionError(_base.NO_INFO, status_code=404) from exc
        except BaseException:
            self._driver.close()
            raise
        self._fire(self.on_connect)

    async def disconnect(self) -> None:
        """Stop every stream (ending :meth:`changes` iterators) and close every connection."""
        driver, self._driver = self._driver, None
        for watch in self._watches.values():
            watch.stream_id = None
        self._server_info = None
        if driver is not None:
            driver.close()
            self._fire(self.on_disconnect)
        for queues in self._queues.values():
            for queue in queues:
                self._offer(queue, _END)

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    async def _call(self, method: str, path: str, body: msgspec.Struct | None) -> bytes:
        driver = self._driver
        if driver is None or driver.closed:
            raise errors.ConnectionError("not connected: call connect() first")
        try:
            answer = await driver.request(method, path, body)
        except Exception as exc:
            raise _base.map_failure(exc) from exc
        return _base.check(answer)

    async def _run(self, step: _api.Step[T]) -> T:
        """Run one :mod:`._api` generator with awaited requests (errors are thrown into it)."""
        try:
            call = next(step)
            while True:
                try:
                    body = await self._call(*call)
                except errors.I3XError as exc:
                    call = step.throw(exc)
                else:
                    call = step.send(body)
        except StopIteration as stop:
            result: T = stop.value
            account(self.stats, result)
            return result

    async def get_info(self) -> ServerInfo:
        """``GET /info``: the server's versions and capabilities."""
        return await self._run(_api.get_info())

    async def get_namespaces(self) -> list[Namespace]:
        """``GET /namespaces``."""
        return await self._run(_api.get_list("/namespaces", Namespace))

    async def get_object_types(self, namespace_uri: str | None = None) -> list[ObjectType]:
        """``GET /objecttypes``, optionally of one namespace."""
        return await self._run(_api.get_list("/objecttypes" + _api.query(namespaceUri=namespace_uri), ObjectType))

    async def query_object_types(self, element_ids: list[str]) -> Results[ObjectType]:
        """``POST /objecttypes/query``: the types found; unknown ids in ``failures``."""
        return await self._run(_api.query_object_types(element_ids))

    async def get_relationship_types(self, namespace_uri: str | None = None) -> list[RelationshipType]:
        """``GET /relationshiptypes``, optionally of one namespace."""
        path = "/relationshiptypes" + _api.query(namespaceUri=namespace_uri)
        return await self._run(_api.get_list(path, RelationshipType))

    async def query_relationship_types(self, element_ids: list[str]) -> Results[RelationshipType]:
        """``POST /relationshiptypes/query``: the types found; unknown ids in ``failures``."""
        return await self._run(_api.query_relationship_types(element_ids))

    async def get_objects(
        self, type_element_id: str | None = None, include_metadata: bool = False, root: bool | None = None
    ) -> list[ObjectInstance]:
        """``GET /objects``, filtered by type and/or to the roots."""
        return await self._run(_api.get_objects(type_element_id, include_metadata, root))

    async def get_object(self, element_id: str, include_metadata: bool = False) -> ObjectInstance:
        """One object (``POST /objects/list``). Raises: NotFoundError: unknown id."""
        return await self._run(_api.get_object(element_id, include_metadata))

    async def list_objects(self, element_ids: list[str], include_metadata: bool = False) -> Results[ObjectInstance]:
        """``POST /objects/list``: the objects found; unknown ids in ``failures``."""
        return await self._run(_api.list_objects(element_ids, include_metadata))

    async def get_related_objects(
        self, element_ids: list[str], relationship_type: str | None = None, include_metadata: bool = False
    ) -> Results[RelatedObject]:
        """``POST /objects/related``: the related objects of every id, flattened; unknown ids in ``failures``."""
        return await self._run(_api.get_related_objects(element_ids, relationship_type, include_metadata))

    async def get_value(self, element_id: str, max_depth: int = 1) -> CurrentValue:
        """The current value of one element (``max_depth`` 0: whole composition). Raises: NotFoundError."""
        return await self._run(_api.get_value(element_id, max_depth))

    async def get_values(self, element_ids: list[str], max_depth: int = 1) -> ValueResults:
        """Current values by element id; unknown ids in ``failures``, a 206 in ``response_detail``."""
        return await self._run(_api.get_values(element_ids, max_depth))

    async def get_history(
        self, element_id: str, start_time: str | None = None, end_time: str | None = None, max_depth: int = 1
    ) -> HistoricalValue:
        """Historical values of one element between RFC 3339 times. Raises: NotFoundError."""
        return await self._run(_api.get_history(element_id, start_time, end_time, max_depth))

    async def update_value(
        self, element_id: str, value: Any, quality: str | None = None, timestamp: str | None = None
    ) -> None:
        """Write one value (raw or a VQT dict). Raises: NotFoundError (or other) for a failed item."""
        await self._run(_api.update_values({element_id: _base.as_vqt(value, quality, timestamp)}, True, self._routes))

    async def update_values(self, updates: dict[str, Any]) -> list[dict[str, Any]]:
        """Write several values; returns the per-element result dicts (check ``success``)."""
        vqts = {element_id: _base.as_vqt(value) for element_id, value in updates.items()}
        return await self._run(_api.update_values(vqts, False, self._routes))

    async def update_history(self, element_id: str, values: Any) -> None:
        """Write historical VQTs (a dict or a list). Raises: NotSupportedError when the server has none."""
        await self._run(_api.update_history(element_id, values))

    # -- subscriptions ----------------------------------------------------------------------

    async def create_subscription(self, display_name: str | None = None) -> str:
        """``POST /subscriptions``; returns the new subscription id."""
        subscription_id = await self._run(_api.create_subscription(self._client_id, display_name))
        self._watch(subscription_id).display_name = display_name
        return subscription_id

    async def register_items(
        self, subscription_id: str, element_ids: list[str], max_depth: int = 1
    ) -> list[dict[str, Any]]:
        """``POST /subscriptions/register``; returns the per-element result dicts."""
        watch = self._watch(subscription_id)
        results = await self._run(_api.register_items(self._client_id, watch.subscription_id, element_ids, max_depth))
        watch.items.update(_api.registered(results, element_ids, max_depth))
        return results

    async def unregister_items(self, subscription_id: str, element_ids: list[str]) -> list[dict[str, Any]]:
        """``POST /subscriptions/unregister``; returns the per-element result dicts."""
        watch = self._watch(subscription_id)
        for element_id in element_ids:
            watch.items.pop(element_id, None)
        return await self._run(_api.unregister_items(self._client_id, watch.subscription_id, element_ids))

    async def subscribe(
        self, element_ids: list[str], max_depth: int = 1, display_name: str | None = None
    ) -> Subscription:
        """Create a subscription, register ``element_ids`` and start its stream (``on_value_change``).

        Items the server refused are reported to ``on_error`` (:class:`SubscriptionError`).
        """
        subscription_id = await self.create_subscription(display_name)
        refused = _api.refused(await self.register_items(subscription_id, element_ids, max_depth))
        if refused is not None:
            self._error(refused)
        self.start_stream(subscription_id)
        subscription = _api.subscription(subscription_id, self._client_id, display_name, element_ids, max_depth)
        if self.on_subscribe:
            self._fire(self.on_subscribe, subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription | str) -> None:
        """Stop the stream and delete the subscription (``POST /subscriptions/delete``)."""
        key = _api.sub_id(subscription)
        self.stop_stream(key)
        await self._run(_api.delete_subscription(self._client_id, self._forget(key)))

    async def get_subscription(self, subscription_id: str) -> Subscription:
        """One subscription (``POST /subscriptions/list``). Raises: NotFoundError: unknown id."""
        return await self._run(_api.get_subscription(self._client_id, self._resolve(subscription_id)))

    async def list_subscriptions(self, subscription_ids: list[str]) -> Results[Subscription]:
        """``POST /subscriptions/list``: the subscriptions found; unknown ids in ``failures``."""
        current = [self._resolve(subscription_id) for subscription_id in subscription_ids]
        return await self._run(_api.list_subscriptions(self._client_id, current))

    async def sync_subscription(
        self, subscription: Subscription | str, last_sequence_number: int | None = None
    ) -> SyncBatches:
        """As :meth:`Client.sync_subscription <otwire.clients.i3x.Client.sync_subscription>`."""
        key = _api.sub_id(subscription)
        step = _api.sync_subscription(self._client_id, self._resolve(key), last_sequence_number, key)
        batches = await self._run(step)
        if batches.gap is not None:
            self._gap(batches.gap)
        return batches

    async def sync_changes(
        self, subscription: Subscription | str, *, cursor: SyncCursor | None = None, clear: bool = False
    ) -> SyncResult:
        """As :meth:`Client.sync_changes <otwire.clients.i3x.Client.sync_changes>`."""
        key = _api.sub_id(subscription)
        cursor = cursor if cursor is not None else self.sync_cursor(key)
        if clear:
            cursor.clear()
        response = await self._run(_api.sync_envelope(self._client_id, self._resolve(key), cursor.ack))
        result = cursor.accept(key, response.result or [], response.response_detail if response.partial else None)
        if result.gap is not None:
            self.stats.partial_responses += 1
            self._gap(result.gap)
        return result
