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
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import msgspec

from otwire.clients.i3x import _api, _base, errors
from otwire.clients.i3x._driver import AsyncDriver
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
    SyncBatch,
    ValueChange,
)
from otwire.protocols import Event
from otwire.protocols.i3x.events import StreamEnded, StreamEndReason, ValuesChanged

__all__ = ["AsyncClient"]

LOGGER = logging.getLogger("otwire.clients.i3x")
T = TypeVar("T")
_END = None


class AsyncClient:
    """An asyncio i3X 1.0 client; the arguments, attributes and errors of :class:`~otwire.clients.i3x.Client`.

    Args:
        base_url: The API root, ``http(s)://host[:port]/v1``.
        auth: ``(user, secret)`` for HTTP Basic, or ``None``.
        timeout: Longest wait for one answer, seconds.
        client_id: Scopes subscriptions; a UUID when ``None``.
        token: Bearer token (``Authorization: Bearer``).
        headers: Extra request headers.
        verify: TLS: ``True`` checks the certificate, ``False`` does not, a str is a CA file.
        queue_size: Most changes buffered per :meth:`changes` iterator; when a consumer falls
            behind, the oldest is dropped, counted in :attr:`dropped_changes` and logged once
            per burst.

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
        queue_size: int = 10_000,
    ) -> None:
        self._config = _base.client_config(base_url, auth, timeout, token, headers)
        self._verify = verify
        self._client_id = client_id or str(uuid.uuid4())
        self._queue_size = queue_size
        self._driver: AsyncDriver | None = None
        self._streams: dict[str, int] = {}
        self._queues: dict[str, set[asyncio.Queue[ValueChange | Exception | None]]] = {}
        #: Changes dropped because a :meth:`changes` consumer fell ``queue_size`` behind.
        self.dropped_changes = 0
        self._dropping = False
        self._server_info: ServerInfo | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.on_connect: Callable[[AsyncClient], Any] | None = None
        self.on_disconnect: Callable[[AsyncClient], Any] | None = None
        self.on_value_change: Callable[[AsyncClient, ValueChange], Any] | None = None
        self.on_subscribe: Callable[[AsyncClient, Subscription], Any] | None = None
        self.on_error: Callable[[AsyncClient, Exception], Any] | None = None

    @property
    def is_connected(self) -> bool:
        """True between a successful :meth:`connect` and :meth:`disconnect`."""
        return self._driver is not None and not self._driver.closed

    @property
    def client_id(self) -> str:
        """The id that scopes this client's subscriptions."""
        return self._client_id

    @property
    def server_info(self) -> ServerInfo | None:
        """The ``GET /info`` answer of :meth:`connect`, ``None`` when not connected."""
        return self._server_info

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
        self._streams.clear()
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
        """Run one :mod:`._api` generator with awaited requests."""
        try:
            call = next(step)
            while True:
                call = step.send(await self._call(*call))
        except StopIteration as stop:
            result: T = stop.value
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

    async def query_object_types(self, element_ids: list[str]) -> list[ObjectType]:
        """``POST /objecttypes/query``: the types found (unknown ids left out)."""
        return await self._run(_api.query_object_types(element_ids))

    async def get_relationship_types(self, namespace_uri: str | None = None) -> list[RelationshipType]:
        """``GET /relationshiptypes``, optionally of one namespace."""
        path = "/relationshiptypes" + _api.query(namespaceUri=namespace_uri)
        return await self._run(_api.get_list(path, RelationshipType))

    async def query_relationship_types(self, element_ids: list[str]) -> list[RelationshipType]:
        """``POST /relationshiptypes/query``: the types found (unknown ids left out)."""
        return await self._run(_api.query_relationship_types(element_ids))

    async def get_objects(
        self, type_element_id: str | None = None, include_metadata: bool = False, root: bool | None = None
    ) -> list[ObjectInstance]:
        """``GET /objects``, filtered by type and/or to the roots."""
        return await self._run(_api.get_objects(type_element_id, include_metadata, root))

    async def get_object(self, element_id: str, include_metadata: bool = False) -> ObjectInstance:
        """One object (``POST /objects/list``). Raises: NotFoundError: unknown id."""
        return await self._run(_api.get_object(element_id, include_metadata))

    async def list_objects(self, element_ids: list[str], include_metadata: bool = False) -> list[ObjectInstance]:
        """``POST /objects/list``: the objects found (unknown ids left out)."""
        return await self._run(_api.list_objects(element_ids, include_metadata))

    async def get_related_objects(
        self, element_ids: list[str], relationship_type: str | None = None, include_metadata: bool = False
    ) -> list[RelatedObject]:
        """``POST /objects/related``: the related objects of every id, flattened."""
        return await self._run(_api.get_related_objects(element_ids, relationship_type, include_metadata))

    async def get_value(self, element_id: str, max_depth: int = 1) -> CurrentValue:
        """The current value of one element (``max_depth`` 0: whole composition). Raises: NotFoundError."""
        return await self._run(_api.get_value(element_id, max_depth))

    async def get_values(self, element_ids: list[str], max_depth: int = 1) -> dict[str, CurrentValue]:
        """Current values by element id (unknown ids left out)."""
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
        await self._run(_api.update_values({element_id: _base.as_vqt(value, quality, timestamp)}, checked=True))

    async def update_values(self, updates: dict[str, Any]) -> list[dict[str, Any]]:
        """Write several values; returns the per-element result dicts (check ``success``)."""
        vqts = {element_id: _base.as_vqt(value) for element_id, value in updates.items()}
        return await self._run(_api.update_values(vqts, checked=False))

    async def update_history(self, element_id: str, values: Any) -> None:
        """Write historical VQTs (a dict or a list). Raises: NotSupportedError when the server has none."""
        await self._run(_api.update_history(element_id, values))

    # -- subscriptions ----------------------------------------------------------------------

    async def create_subscription(self, display_name: str | None = None) -> str:
        """``POST /subscriptions``; returns the new subscription id."""
        return await self._run(_api.create_subscription(self._client_id, display_name))

    async def register_items(
        self, subscription_id: str, element_ids: list[str], max_depth: int = 1
    ) -> list[dict[str, Any]]:
        """``POST /subscriptions/register``; returns the per-element result dicts."""
        return await self._run(_api.register_items(self._client_id, subscription_id, element_ids, max_depth))

    async def unregister_items(self, subscription_id: str, element_ids: list[str]) -> list[dict[str, Any]]:
        """``POST /subscriptions/unregister``; returns the per-element result dicts."""
        return await self._run(_api.unregister_items(self._client_id, subscription_id, element_ids))

    async def subscribe(
        self, element_ids: list[str], max_depth: int = 1, display_name: str | None = None
    ) -> Subscription:
        """Create a subscription, register ``element_ids`` and start its stream (``on_value_change``)."""
        subscription = await self._run(_api.subscribe(self._client_id, element_ids, max_depth, display_name))
        self.start_stream(subscription.subscription_id)
        if self.on_subscribe:
            self._fire(self.on_subscribe, subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription | str) -> None:
        """Stop the stream and delete the subscription (``POST /subscriptions/delete``)."""
        subscription_id = _api.sub_id(subscription)
        self.stop_stream(subscription_id)
        await self._run(_api.delete_subscription(self._client_id, subscription_id))

    async def get_subscription(self, subscription_id: str) -> Subscription:
        """One subscription (``POST /subscriptions/list``). Raises: NotFoundError: unknown id."""
        return await self._run(_api.get_subscription(self._client_id, subscription_id))

    async def list_subscriptions(self, subscription_ids: list[str]) -> list[Subscription]:
        """``POST /subscriptions/list``: the subscriptions found (unknown ids left out)."""
        return await self._run(_api.list_subscriptions(self._client_id, subscription_ids))

    async def sync_subscription(
        self, subscription: Subscription | str, last_sequence_number: int | None = None
    ) -> list[SyncBatch]:
        """``POST /subscriptions/sync``: queued batches after ``last_sequence_number`` (-1 clears the queue)."""
        return await self._run(_api.sync_subscription(self._client_id, _api.sub_id(subscription), last_sequence_number))

    # -- streams ------------------------------------------------------------------------------

    def start_stream(self, subscription_id: str) -> None:
        """Open the SSE stream of a subscription (reconnected by the engine); nothing when open."""
        driver = self._driver
        if driver is None or driver.closed or subscription_id in self._streams:
            return
        handler = lambda event: self._on_stream(subscription_id, event)  # noqa: E731
        self._streams[subscription_id] = driver.open_stream(subscription_id, self._client_id, handler)

    def stop_stream(self, subscription_id: str) -> None:
        """Close the SSE stream of a subscription (its :meth:`changes` iterators end)."""
        stream_id = self._streams.pop(subscription_id, None)
        if stream_id is not None and self._driver is not None:
            self._driver.close_stream(stream_id)
        for queue in self._queues.get(subscription_id, ()):
            self._offer(queue, _END)

    async def changes(self, subscription: Subscription | str) -> AsyncIterator[ValueChange]:
        """Yield the subscription's value changes; starts its stream when needed.

        Ends when the stream is stopped or the client disconnects. At most ``queue_size``
        changes wait for the consumer; beyond that the oldest are dropped and counted in
        :attr:`dropped_changes` (the stream itself is never held up).

        Raises:
            StreamError: the stream failed for good (e.g. the subscription was deleted).
        """
        subscription_id = _api.sub_id(subscription)
        queue: asyncio.Queue[ValueChange | Exception | None] = asyncio.Queue(self._queue_size)
        self._queues.setdefault(subscription_id, set()).add(queue)
        try:
            self.start_stream(subscription_id)
            while (item := await queue.get()) is not _END:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._queues[subscription_id].discard(queue)

    def _on_stream(self, subscription_id: str, event: Event) -> None:
        """Runs inside the engine pump: queue, and defer callbacks until it has drained."""
        queues = self._queues.get(subscription_id, ())
        if isinstance(event, ValuesChanged):
            for queue in queues:
                for change in event.changes:
                    self._offer(queue, change)
            for change in event.changes if self.on_value_change else ():
                self._fire(self.on_value_change, change)
        elif isinstance(event, StreamEnded) and event.retry_in is None and event.reason != StreamEndReason.LOCAL_CLOSE:
            self._streams.pop(subscription_id, None)
            message = f"stream of {subscription_id} ended: {event.reason.value}"
            error = errors.StreamError(message, status_code=event.status)
            for queue in queues:
                self._offer(queue, error)
            if self.on_error:
                self._fire(self.on_error, error)
            else:
                LOGGER.error("unhandled i3X error: %s", error)

    def _offer(self, queue: asyncio.Queue[Any], item: Any) -> None:
        """Put without blocking; a full queue drops its oldest entry (counted, logged once per burst)."""
        if queue.full():
            if isinstance(queue.get_nowait(), ValueChange):
                if not self._dropping:
                    LOGGER.warning("a changes() consumer is behind: dropping its oldest changes")
                self._dropping = True
                self.dropped_changes += 1
        elif queue.qsize() == 0:
            self._dropping = False
        queue.put_nowait(item)

    def _fire(self, callback: Callable[..., Any] | None, *args: Any) -> None:
        """Call ``callback(self, *args)`` soon on the loop; coroutines become tasks; errors are logged."""
        if callback is None:
            return

        def run() -> None:
            try:
                result = callback(self, *args)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                LOGGER.exception("error in an i3X client callback")

        asyncio.get_running_loop().call_soon(run)
