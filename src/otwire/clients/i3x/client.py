"""The blocking i3X client with i3x-client 1.0.0's API, on otwire's engine (notes §11).

One background thread runs an asyncio loop that owns every connection and SSE stream
(:class:`~otwire.clients.i3x._driver.Driver`); each public call blocks until its answer,
at most ``timeout`` seconds. Callbacks run on a separate callback thread, in order, so
a slow callback never stalls socket reading.

>>> import otwire.clients.i3x as i3x
>>> client = i3x.Client("http://127.0.0.1:8080/v1", timeout=5.0)
>>> client.is_connected
False
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import msgspec

from otwire.clients.i3x import _api, _base, errors
from otwire.clients.i3x._common import Callbacks, ClientBase
from otwire.clients.i3x._driver import Driver
from otwire.clients.i3x._streams import (
    Action,
    Deliver,
    Fail,
    Gap,
    Report,
    Resubscribe,
    Resync,
    Watch,
    react,
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
from otwire.protocols import Event
from otwire.protocols.i3x.events import StreamEnded, StreamEndReason

__all__ = ["Client"]

LOGGER = logging.getLogger("otwire.clients.i3x")
T = TypeVar("T")


class Client(ClientBase):
    """An i3X 1.0 client (the API of i3x-client 1.0.0).

    Args:
        base_url: The API root, ``http(s)://host[:port]/v1``.
        auth: ``(user, secret)`` for HTTP Basic, or ``None``.
        timeout: Longest wait for one answer, seconds.
        client_id: Scopes subscriptions; a UUID when ``None``.
        token: Bearer token (``Authorization: Bearer``).
        headers: Extra request headers.
        verify: TLS: ``True`` checks the certificate, ``False`` does not, a str is a CA file.
        idle_timeout: Reconnect a stream after this many seconds without one octet (keep-alive
            comments count); ``None``: never (a half-open connection then hangs).
        backoff: ``(min, max)`` seconds between stream reconnects (doubling, with jitter).
        resubscribe: Recreate a subscription the server forgot (404 on a reconnect).

    Attributes:
        on_connect, on_disconnect: ``fn(client)`` after :meth:`connect` / :meth:`disconnect`.
        on_value_change: ``fn(client, change)`` per :class:`ValueChange` of a stream; after a
            reconnect the current values come as :class:`~otwire.clients.i3x.ResyncedChange`.
        on_subscribe: ``fn(client, subscription)`` after :meth:`subscribe`.
        on_error: ``fn(client, exc)`` when a stream fails for good (:class:`StreamError`).
        on_gap: ``fn(client, gap)`` per :class:`~otwire.clients.i3x.Gap` (reconnect, sequence
            jump, sync overflow, resubscribe).
        stats: :class:`~otwire.clients.i3x.ClientStats` counters.

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
    ) -> None:
        super().__init__(
            base_url, auth, timeout, client_id, token, headers, verify,
            idle_timeout=idle_timeout, backoff=backoff, resubscribe=resubscribe,
        )  # fmt: skip
        self._driver: Driver | None = None
        self._callbacks: Callbacks | None = None
        self._ended: set[int] = set()
        self._starting = threading.Lock()
        self.on_connect: Callable[[Client], None] | None = None
        self.on_disconnect: Callable[[Client], None] | None = None
        self.on_value_change: Callable[[Client, ValueChange], None] | None = None
        self.on_subscribe: Callable[[Client, Subscription], None] | None = None
        self.on_error: Callable[[Client, Exception], None] | None = None
        self.on_gap: Callable[[Client, Gap], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def connect(self) -> None:
        """Start the I/O thread and check ``GET /info``.

        Raises:
            ConnectionError: the server cannot be reached.
            TimeoutError: no answer within ``timeout``.
            AuthenticationError: 401/403.
            UnsupportedVersionError: ``/info`` answered 404.
            InvalidServerResponseError: ``/info`` is not an i3X server description.
        """
        if self.is_connected:
            return
        self._driver = Driver(self._config, _base.ssl_context(self._config, self._verify))
        try:
            self._server_info = self._fetch_info()
        except BaseException:
            self._driver.close()
            raise
        self._callbacks = Callbacks()
        if self.on_connect:
            self.on_connect(self)

    def _fetch_info(self) -> ServerInfo:
        try:
            return self._run(_api.get_info())
        except errors.NotFoundError as exc:
            raise errors.UnsupportedVersionError(_base.NO_INFO, status_code=404) from exc

    def disconnect(self) -> None:
        """Stop every stream, close every connection and the I/O thread (idempotent)."""
        driver, self._driver = self._driver, None
        with self._lock:
            for watch in self._watches.values():
                watch.stream_id = None
        self._server_info = None
        if driver is not None:
            driver.close()
        callbacks, self._callbacks = self._callbacks, None
        if callbacks is not None:
            callbacks.stop()
        if driver is not None and self.on_disconnect:
            self.on_disconnect(self)

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    # -- requests ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: msgspec.Struct | None) -> bytes:
        """One request; the 2xx body octets.

        Raises:
            I3XError: a subclass per status or failure (see :func:`_base.map_failure`).
        """
        driver = self._driver
        if driver is None or driver.closed:
            raise errors.ConnectionError("not connected: call connect() first")
        try:
            answer = driver.request(method, path, body)
        except Exception as exc:
            raise _base.map_failure(exc) from exc
        return _base.check(answer)

    def _run(self, step: _api.Step[T]) -> T:
        """Run one :mod:`._api` generator with blocking requests (errors are thrown into it)."""
        try:
            call = next(step)
            while True:
                try:
                    body = self._call(*call)
                except errors.I3XError as exc:
                    call = step.throw(exc)
                else:
                    call = step.send(body)
        except StopIteration as stop:
            result: T = stop.value
            account(self.stats, result)
            return result

    def get_info(self) -> ServerInfo:
        """``GET /info``: the server's versions and capabilities."""
        return self._run(_api.get_info())

    def get_namespaces(self) -> list[Namespace]:
        """``GET /namespaces``."""
        return self._run(_api.get_list("/namespaces", Namespace))

    def get_object_types(self, namespace_uri: str | None = None) -> list[ObjectType]:
        """``GET /objecttypes``, optionally of one namespace."""
        return self._run(_api.get_list("/objecttypes" + _api.query(namespaceUri=namespace_uri), ObjectType))

    def query_object_types(self, element_ids: list[str]) -> Results[ObjectType]:
        """``POST /objecttypes/query``: the types found; unknown ids in ``failures``."""
        return self._run(_api.query_object_types(element_ids))

    def get_relationship_types(self, namespace_uri: str | None = None) -> list[RelationshipType]:
        """``GET /relationshiptypes``, optionally of one namespace."""
        path = "/relationshiptypes" + _api.query(namespaceUri=namespace_uri)
        return self._run(_api.get_list(path, RelationshipType))

    def query_relationship_types(self, element_ids: list[str]) -> Results[RelationshipType]:
        """``POST /relationshiptypes/query``: the types found; unknown ids in ``failures``."""
        return self._run(_api.query_relationship_types(element_ids))

    def get_objects(
        self, type_element_id: str | None = None, include_metadata: bool = False, root: bool | None = None
    ) -> list[ObjectInstance]:
        """``GET /objects``, filtered by type and/or to the roots."""
        return self._run(_api.get_objects(type_element_id, include_metadata, root))

    def get_object(self, element_id: str, include_metadata: bool = False) -> ObjectInstance:
        """One object (``POST /objects/list``). Raises: NotFoundError: unknown id."""
        return self._run(_api.get_object(element_id, include_metadata))

    def list_objects(self, element_ids: list[str], include_metadata: bool = False) -> Results[ObjectInstance]:
        """``POST /objects/list``: the objects found; unknown ids in ``failures``."""
        return self._run(_api.list_objects(element_ids, include_metadata))

    def get_related_objects(
        self, element_ids: list[str], relationship_type: str | None = None, include_metadata: bool = False
    ) -> Results[RelatedObject]:
        """``POST /objects/related``: the related objects of every id, flattened; unknown ids in ``failures``."""
        return self._run(_api.get_related_objects(element_ids, relationship_type, include_metadata))

    def get_value(self, element_id: str, max_depth: int = 1) -> CurrentValue:
        """The current value of one element (``max_depth`` 0: whole composition). Raises: NotFoundError."""
        return self._run(_api.get_value(element_id, max_depth))

    def get_values(self, element_ids: list[str], max_depth: int = 1) -> ValueResults:
        """Current values by element id; unknown ids in ``failures``, a 206 in ``response_detail``."""
        return self._run(_api.get_values(element_ids, max_depth))

    def get_history(
        self, element_id: str, start_time: str | None = None, end_time: str | None = None, max_depth: int = 1
    ) -> HistoricalValue:
        """Historical values of one element between RFC 3339 times. Raises: NotFoundError."""
        return self._run(_api.get_history(element_id, start_time, end_time, max_depth))

    def update_value(
        self, element_id: str, value: Any, quality: str | None = None, timestamp: str | None = None
    ) -> None:
        """Write one value (raw or a VQT dict). Raises: NotFoundError (or other) for a failed item."""
        self._run(_api.update_values({element_id: _base.as_vqt(value, quality, timestamp)}, True, self._routes))

    def update_values(self, updates: dict[str, Any]) -> list[dict[str, Any]]:
        """Write several values; returns the per-element result dicts (check ``success``)."""
        vqts = {element_id: _base.as_vqt(value) for element_id, value in updates.items()}
        return self._run(_api.update_values(vqts, False, self._routes))

    def update_history(self, element_id: str, values: Any) -> None:
        """Write historical VQTs (a dict or a list). Raises: NotSupportedError when the server has none."""
        self._run(_api.update_history(element_id, values))

    # -- subscriptions ----------------------------------------------------------------------

    def create_subscription(self, display_name: str | None = None) -> str:
        """``POST /subscriptions``; returns the new subscription id."""
        subscription_id = self._run(_api.create_subscription(self._client_id, display_name))
        self._watch(subscription_id).display_name = display_name
        return subscription_id

    def register_items(self, subscription_id: str, element_ids: list[str], max_depth: int = 1) -> list[dict[str, Any]]:
        """``POST /subscriptions/register``; returns the per-element result dicts."""
        watch = self._watch(subscription_id)
        results = self._run(_api.register_items(self._client_id, watch.subscription_id, element_ids, max_depth))
        watch.items.update(_api.registered(results, element_ids, max_depth))
        return results

    def unregister_items(self, subscription_id: str, element_ids: list[str]) -> list[dict[str, Any]]:
        """``POST /subscriptions/unregister``; returns the per-element result dicts."""
        watch = self._watch(subscription_id)
        for element_id in element_ids:
            watch.items.pop(element_id, None)
        return self._run(_api.unregister_items(self._client_id, watch.subscription_id, element_ids))

    def subscribe(self, element_ids: list[str], max_depth: int = 1, display_name: str | None = None) -> Subscription:
        """Create a subscription, register ``element_ids`` and start its stream (``on_value_change``).

        Items the server refused are reported to ``on_error`` (:class:`SubscriptionError`).
        """
        subscription_id = self.create_subscription(display_name)
        results = self.register_items(subscription_id, element_ids, max_depth)
        refused = _api.refused(results)
        if refused is not None:
            self._soon(partial(self._report, refused))
        self.start_stream(subscription_id)
        subscription = _api.subscription(subscription_id, self._client_id, display_name, element_ids, max_depth)
        if self.on_subscribe:
            self.on_subscribe(self, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription | str) -> None:
        """Stop the stream and delete the subscription (``POST /subscriptions/delete``)."""
        key = _api.sub_id(subscription)
        self.stop_stream(key)
        self._run(_api.delete_subscription(self._client_id, self._forget(key)))

    def get_subscription(self, subscription_id: str) -> Subscription:
        """One subscription (``POST /subscriptions/list``). Raises: NotFoundError: unknown id."""
        return self._run(_api.get_subscription(self._client_id, self._resolve(subscription_id)))

    def list_subscriptions(self, subscription_ids: list[str]) -> Results[Subscription]:
        """``POST /subscriptions/list``: the subscriptions found; unknown ids in ``failures``."""
        current = [self._resolve(subscription_id) for subscription_id in subscription_ids]
        return self._run(_api.list_subscriptions(self._client_id, current))

    def sync_subscription(
        self, subscription: Subscription | str, last_sequence_number: int | None = None
    ) -> SyncBatches:
        """``POST /subscriptions/sync``: queued batches after ``last_sequence_number`` (-1 clears the queue).

        A list of :class:`SyncBatch`; after a queue overflow (206) its ``response_detail``
        and ``gap`` are set and ``on_gap`` is called.
        """
        key = _api.sub_id(subscription)
        batches = self._run(_api.sync_subscription(self._client_id, self._resolve(key), last_sequence_number, key))
        if batches.gap is not None:
            self._soon(partial(self._gap, batches.gap))
        return batches

    def sync_changes(
        self, subscription: Subscription | str, *, cursor: SyncCursor | None = None, clear: bool = False
    ) -> SyncResult:
        """One ``/sync`` with the ack helper: acknowledges what the previous call returned.

        Args:
            subscription: The subscription (or its id).
            cursor: The :class:`SyncCursor` to use (e.g. restored from storage); default:
                the client's cursor of this subscription (:meth:`sync_cursor`).
            clear: Send ``-1``: the server drops its whole queue first.

        Returns:
            The new changes (duplicates removed), the next ack, and the overflow gap of a 206.

        Raises:
            I3XError: as :meth:`sync_subscription`; the cursor is unchanged, so the next call
                resends the same ack.
        """
        key = _api.sub_id(subscription)
        cursor = cursor if cursor is not None else self.sync_cursor(key)
        if clear:
            cursor.clear()
        response = self._run(_api.sync_envelope(self._client_id, self._resolve(key), cursor.ack))
        result = cursor.accept(key, response.result or [], response.response_detail if response.partial else None)
        if result.gap is not None:
            self.stats.partial_responses += 1
            self._soon(partial(self._gap, result.gap))
        return result

    def start_stream(self, subscription_id: str) -> None:
        """Open the SSE stream of a subscription (reconnected by the engine); nothing when open."""
        driver = self._driver
        if driver is None or driver.closed:
            return
        with self._starting:  # never taken by the I/O thread (open_stream waits for it)
            watch = self._watch(subscription_id)
            if watch.stream_id is None:
                self._open(driver, watch)

    def stop_stream(self, subscription_id: str) -> None:
        """Close the SSE stream of a subscription; nothing when there is none."""
        stream_id = self._unstream(subscription_id)
        if stream_id is not None and self._driver is not None:
            self._driver.close_stream(stream_id)

    def _open(self, driver: Driver, watch: Watch) -> None:
        """Open a stream of ``watch`` (it may even end before ``open_stream`` returns here)."""
        handler = partial(self._on_stream, watch)
        stream_id = driver.open_stream(watch.subscription_id, self._client_id, handler)
        with self._lock:
            if stream_id in self._ended:
                self._ended.discard(stream_id)
            else:
                watch.stream_id = stream_id

    def _on_stream(self, watch: Watch, event: Event) -> None:
        """Runs on the I/O thread: hand the work to the callback thread, in order."""
        if (
            isinstance(event, StreamEnded)
            and event.retry_in is None
            and event.reason is not StreamEndReason.LOCAL_CLOSE
        ):
            with self._lock:
                if watch.stream_id != event.stream_id:  # ended before _open saw its id
                    self._ended.add(event.stream_id)
        for action in react(watch, event, self.stats, resubscribe=self._resubscribe):
            self._soon(partial(self._act, watch, action))

    def _soon(self, call: Callable[[], None]) -> None:
        callbacks = self._callbacks
        if callbacks is not None:
            callbacks.put(call)

    def _act(self, watch: Watch, action: Action) -> None:
        """Runs on the callback thread; a resync blocks it, so later changes wait behind it."""
        if isinstance(action, Deliver):
            self._deliver(action.changes)
        elif isinstance(action, Report):
            self._gap(action.gap)
        elif isinstance(action, Resync):
            self._gap(action.gap)
            self._resync(watch)
        elif isinstance(action, Resubscribe):
            self._recreate(watch, action.gap)
        elif isinstance(action, Fail):
            self._report(action.error)

    def _resync(self, watch: Watch) -> None:
        try:
            items, changes = self._run(_api.resync(self._client_id, watch.subscription_id, watch.items))
        except errors.I3XError as exc:
            if self.is_connected:
                self._report(errors.StreamError(f"resync of {watch.key} failed: {exc}", status_code=exc.status_code))
            return
        watch.items = items
        if watch.stream_id is None:  # stopped meanwhile
            return
        self.stats.resyncs += 1
        self._deliver(watch.fresh(changes))

    def _recreate(self, watch: Watch, gap: Gap) -> None:
        try:
            new_id = self._run(_api.resubscribe(self._client_id, watch.display_name, watch.items))
        except errors.I3XError as exc:
            if self.is_connected:
                message = f"subscription {watch.key} is gone and could not be recreated: {exc}"
                self._report(errors.StreamError(message, status_code=404))
            return
        self.stats.resubscribes += 1
        watch.reopened(new_id, _api.renamed(gap, new_id))
        driver = self._driver
        with self._starting:
            if driver is not None and not driver.closed and watch.key in self._watches:
                self._open(driver, watch)

    def _deliver(self, changes: list[ValueChange]) -> None:
        callback = self.on_value_change
        for change in changes if callback else ():
            try:
                callback(self, change)  # type: ignore[misc]
            except Exception:
                LOGGER.exception("error in on_value_change")

    def _gap(self, gap: Gap) -> None:
        if self.on_gap:
            self.on_gap(self, gap)
        else:
            LOGGER.warning("i3X subscription %s: gap (%s)", gap.subscription_id, gap.cause.value)

    def _report(self, error: Exception) -> None:
        if self.on_error:
            self.on_error(self, error)
        else:
            LOGGER.error("unhandled i3X error: %s", error)
