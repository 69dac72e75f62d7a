"""Streams of the asyncio i3X client: callbacks, ``changes()`` iterators, resync and resubscribe (notes §11).

:class:`AsyncStreams` is the stream half of :class:`~otwire.clients.i3x.AsyncClient`;
everything here runs on the client's loop, inside or right after the engine's pump.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from otwire.clients.i3x import _api, errors
from otwire.clients.i3x._common import ClientBase
from otwire.clients.i3x._driver import AsyncDriver
from otwire.clients.i3x._streams import Action, Deliver, Fail, Gap, Report, Resubscribe, Resync, Watch, react
from otwire.codecs.i3x import Subscription, ValueChange
from otwire.protocols import Event

__all__ = ["AsyncStreams", "Inbox"]

LOGGER = logging.getLogger("otwire.clients.i3x")
T = TypeVar("T")
_END = None


class Inbox:
    """What waits for one :meth:`AsyncStreams.changes` consumer, in order, with a wake-up event.

    Items are batches (a ``list`` of changes: one SSE event or one resync), gaps, a final
    error and the end marker. ``count`` is the number of changes waiting, the batch the
    consumer is going through included (back-pressure counts changes, not items).
    """

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.count = 0
        self._loop: asyncio.AbstractEventLoop | None = None  # looked up once: each lookup may cost a getpid()
        self._waiter: asyncio.Future[None] | None = None  # the consumer waiting in get(), if any

    def put(self, item: Any) -> None:
        if type(item) is list:
            self.count += len(item)
        self.items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        """The oldest item; waits for one (without suspending when one is queued)."""
        while not self.items:
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.items.popleft()

    def drop_oldest(self, n: int) -> int:
        """Drop up to ``n`` of the oldest queued changes (never gaps or ends); returns how many."""
        dropped, items = 0, self.items
        for index in range(len(items)):
            batch = items[index]
            if type(batch) is not list:
                continue
            cut = min(n - dropped, len(batch))
            items[index] = batch[cut:]  # batches are shared with other consumers: never cut in place
            dropped += cut
            if dropped >= n:
                break
        self.count -= dropped
        return dropped


class AsyncStreams(ClientBase):
    """Stream handling of :class:`~otwire.clients.i3x.AsyncClient` (not used alone)."""

    _driver: AsyncDriver | None
    _queue_size: int
    _queues: dict[str, dict[Inbox, bool]]
    _dropping: bool
    _paused: set[str]
    _tasks: set[asyncio.Future[Any]]
    on_value_change: Callable[..., Any] | None
    on_error: Callable[..., Any] | None
    on_gap: Callable[..., Any] | None

    if TYPE_CHECKING:

        async def _run(self, step: _api.Step[T]) -> T: ...

    # -- streams ------------------------------------------------------------------------------

    def start_stream(self, subscription_id: str) -> None:
        """Open the SSE stream of a subscription (reconnected by the engine); nothing when open."""
        driver = self._driver
        if driver is None or driver.closed:
            return
        watch = self._watch(subscription_id)
        if watch.stream_id is None:
            self._paused.discard(subscription_id)  # a new stream starts reading; _offer pauses it again
            handler = partial(self._on_stream, watch)
            watch.stream_id = driver.open_stream(watch.subscription_id, self._client_id, handler)

    def stop_stream(self, subscription_id: str) -> None:
        """Close the SSE stream of a subscription (its :meth:`changes` iterators end)."""
        stream_id = self._unstream(subscription_id)
        self._paused.discard(subscription_id)
        if stream_id is not None and self._driver is not None:
            self._driver.close_stream(stream_id)
        for queue in self._queues.get(subscription_id, {}):
            self._offer(queue, _END)

    async def changes(self, subscription: Subscription | str, *, gaps: bool = False) -> AsyncIterator[Any]:
        """Yield the subscription's value changes; starts its stream when needed.

        After a reconnect the current values come as
        :class:`~otwire.clients.i3x.ResyncedChange`; with ``gaps=True`` each
        :class:`~otwire.clients.i3x.Gap` is yielded too, in order. Ends when the stream is
        stopped or the client disconnects.

        Back-pressure: when ``queue_size`` changes wait for a consumer, the client stops
        reading the stream's socket (the octets wait in the kernel, then the server holds
        them; its idle timer waits too) and reads again once the consumer is down to half.
        What one read already carried is still queued; only beyond ``2 * queue_size`` is
        the oldest change dropped (counted in :attr:`dropped_changes`). A server that
        cuts slow consumers ends the stream; it is reopened and resynced.

        Raises:
            StreamError: the stream failed for good (e.g. the subscription was deleted).
        """
        key = _api.sub_id(subscription)
        queue = Inbox()
        self._queues.setdefault(key, {})[queue] = gaps
        try:
            self.start_stream(key)
            while (item := await queue.get()) is not _END:
                if type(item) is list:
                    for change in item:
                        yield change
                    queue.count -= len(item)
                    if key in self._paused and queue.count <= self._queue_size // 2:
                        self._pause(key, False)
                elif isinstance(item, Exception):
                    raise item
                else:
                    yield item
        finally:
            self._queues[key].pop(queue, None)
            if key in self._paused and all(q.count < self._queue_size for q in self._queues[key]):
                self._pause(key, False)

    def _on_stream(self, watch: Watch, event: Event) -> None:
        """Runs inside the engine pump: queue, and defer callbacks until it has drained."""
        for action in react(watch, event, self.stats, resubscribe=self._resubscribe):
            self._act(watch, action)

    def _act(self, watch: Watch, action: Action) -> None:
        if isinstance(action, Deliver):
            self._deliver(watch, action.changes)
        elif isinstance(action, Report):
            self._gap(action.gap)
        elif isinstance(action, Resync):
            self._gap(action.gap)
            self._background(watch, self._resync(watch))
        elif isinstance(action, Resubscribe):
            self._background(watch, self._recreate(watch, action.gap))
        elif isinstance(action, Fail):
            for queue in self._queues.get(watch.key, {}):
                self._offer(queue, action.error)
            self._error(action.error)

    def _deliver(self, watch: Watch, changes: list[ValueChange], *, live: bool = True) -> None:
        """Queue and call back; live changes wait while a resync runs (at most ``queue_size``)."""
        if live and watch.busy:
            watch.held.extend(changes)
            excess = len(watch.held) - self._queue_size
            if excess > 0:
                del watch.held[:excess]
                self.stats.dropped_changes += excess
            return
        if not changes:
            return
        for queue in self._queues.get(watch.key, {}):
            self._offer(queue, changes, watch.key)
        if self.on_value_change:
            self._fire_each(self.on_value_change, changes)

    def _background(self, watch: Watch, work: Coroutine[Any, Any, list[ValueChange]]) -> None:
        """Run a resync or resubscribe; then deliver its values, then the changes held meanwhile."""
        watch.busy = True

        def release(task: asyncio.Task[list[ValueChange]]) -> None:
            self._tasks.discard(task)
            failed = None if task.cancelled() else task.exception()
            if failed is not None:
                LOGGER.error("i3X resync of %s failed", watch.key, exc_info=failed)
            found = [] if task.cancelled() or failed is not None else task.result()
            held, watch.held = watch.held, []
            watch.busy = False
            self._deliver(watch, [*found, *held], live=False)

        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(release)

    async def _resync(self, watch: Watch) -> list[ValueChange]:
        try:
            items, changes = await self._run(_api.resync(self._client_id, watch.subscription_id, watch.items))
        except errors.I3XError as exc:
            if self.is_connected:
                self._error(errors.StreamError(f"resync of {watch.key} failed: {exc}", status_code=exc.status_code))
            return []
        watch.items = items
        if watch.stream_id is None:  # stopped meanwhile
            return []
        self.stats.resyncs += 1
        return watch.fresh(changes)

    async def _recreate(self, watch: Watch, gap: Gap) -> list[ValueChange]:
        try:
            new_id = await self._run(_api.resubscribe(self._client_id, watch.display_name, watch.items))
        except errors.I3XError as exc:
            if self.is_connected:
                message = f"subscription {watch.key} is gone and could not be recreated: {exc}"
                self._act(watch, Fail(errors.StreamError(message, status_code=404)))
            return []
        self.stats.resubscribes += 1
        watch.reopened(new_id, _api.renamed(gap, new_id))
        self.start_stream(watch.key)
        return []

    def _gap(self, gap: Gap) -> None:
        for queue, wants in self._queues.get(gap.subscription_id, {}).items():
            if wants:
                self._offer(queue, gap)
        if self.on_gap:
            self._fire(self.on_gap, gap)
        else:
            LOGGER.warning("i3X subscription %s: gap (%s)", gap.subscription_id, gap.cause.value)

    def _error(self, error: Exception) -> None:
        if self.on_error:
            self._fire(self.on_error, error)
        else:
            LOGGER.error("unhandled i3X error: %s", error)

    def _offer(self, queue: Inbox, item: Any, key: str | None = None) -> None:
        """Queue without blocking; at ``queue_size`` changes pause ``key``'s stream, beyond twice drop the oldest."""
        queue.put(item)
        size = queue.count
        if key is not None and size >= self._queue_size and key not in self._paused:
            self._pause(key, True)
        excess = size - 2 * self._queue_size
        if excess > 0:
            dropped = queue.drop_oldest(excess)
            if dropped and not self._dropping:
                LOGGER.warning("a changes() consumer is behind: dropping its oldest changes")
            self._dropping = self._dropping or dropped > 0
            self.stats.dropped_changes += dropped
        elif size <= self._queue_size:
            self._dropping = False

    def _pause(self, key: str, paused: bool) -> None:
        """Stop (or resume) reading the stream of ``key`` (back-pressure from :meth:`changes`)."""
        (self._paused.add if paused else self._paused.discard)(key)
        watch = self._watches.get(key)
        driver = self._driver
        if watch is None or watch.stream_id is None or driver is None or driver.closed:
            return
        if paused:
            self.stats.pauses += 1
        driver.pause_stream(watch.stream_id, paused)

    def _fire(self, callback: Callable[..., Any] | None, *args: Any) -> None:
        """Call ``callback(self, *args)`` soon on the loop; coroutines become tasks; errors are logged."""
        if callback is not None:
            asyncio.get_running_loop().call_soon(self._call_back, callback, args)

    def _fire_each(self, callback: Callable[..., Any], changes: list[ValueChange]) -> None:
        """Call ``callback(self, change)`` for each change, in order, in one loop turn soon."""

        def run() -> None:
            for change in changes:
                self._call_back(callback, (change,))

        asyncio.get_running_loop().call_soon(run)

    def _call_back(self, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            result = callback(self, *args)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception:
            LOGGER.exception("error in an i3X client callback")
