"""What :class:`~otwire.clients.i3x.Client` and :class:`~otwire.clients.i3x.AsyncClient` share (notes §11).

The settings, the server description, the subscriptions this client streams or
registered (:class:`~otwire.clients.i3x._streams.Watch`, keyed by the id the caller
knows, which survives a resubscribe), the sync cursors, the write routes and the counters.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

from otwire.clients.i3x import _api, _base
from otwire.clients.i3x._streams import ClientStats, Watch
from otwire.clients.i3x.results import SyncCursor
from otwire.codecs.i3x import ServerInfo, Subscription

__all__ = ["Callbacks", "ClientBase"]

LOGGER = logging.getLogger("otwire.clients.i3x")


class Callbacks:
    """The blocking client's callback thread: runs queued callables in order; exceptions are logged."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="otwire-i3x-callbacks", daemon=True)
        self._thread.start()

    def put(self, call: Callable[[], None]) -> None:
        self._queue.put(call)

    def stop(self) -> None:
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(10.0)

    def _run(self) -> None:
        while (call := self._queue.get()) is not None:
            try:
                call()
            except Exception:
                LOGGER.exception("error in an i3X client callback")


class ClientBase:
    """State shared by both clients; see :class:`~otwire.clients.i3x.Client` for the arguments.

    Raises:
        InvalidArgument: ``base_url`` is not an http(s) URL, or a time is not > 0.
        InvalidArgumentType: ``auth`` or ``backoff`` has the wrong shape.
    """

    _driver: Any

    def __init__(
        self,
        base_url: str,
        auth: Any,
        timeout: float,
        client_id: str | None,
        token: str | None,
        headers: dict[str, str] | None,
        verify: Any,
        *,
        idle_timeout: float | None,
        backoff: tuple[float, float],
        resubscribe: bool,
    ) -> None:
        options = _base.stream_options(idle_timeout, backoff)
        self._config = _base.client_config(base_url, auth, timeout, token, headers, **options)
        self._verify = verify
        self._client_id = client_id or str(uuid.uuid4())
        self._resubscribe = resubscribe
        self._driver = None
        self._watches: dict[str, Watch] = {}
        self._cursors: dict[str, SyncCursor] = {}
        self._routes = _base.WriteRoutes()
        self._server_info: ServerInfo | None = None
        self._lock = threading.RLock()
        #: Counters of reconnects, gaps, resyncs, 206 answers, failed items, dropped changes.
        self.stats = ClientStats()

    @property
    def is_connected(self) -> bool:
        """True between a successful ``connect()`` and ``disconnect()``."""
        return self._driver is not None and not self._driver.closed

    @property
    def client_id(self) -> str:
        """The id that scopes this client's subscriptions."""
        return self._client_id

    @property
    def server_info(self) -> ServerInfo | None:
        """The ``GET /info`` answer of ``connect()``, ``None`` when not connected."""
        return self._server_info

    def sync_cursor(self, subscription: Subscription | str) -> SyncCursor:
        """The :class:`~otwire.clients.i3x.SyncCursor` ``sync_changes`` uses for ``subscription`` by default."""
        return self._cursors.setdefault(_api.sub_id(subscription), SyncCursor())

    def _watch(self, key: str) -> Watch:
        """The bookkeeping of subscription ``key`` (created on first use)."""
        with self._lock:
            watch = self._watches.get(key)
            if watch is None:
                watch = self._watches[key] = Watch(key, key)
            return watch

    def _resolve(self, key: str) -> str:
        """The server's current id of the subscription the caller calls ``key``."""
        watch = self._watches.get(key)
        return watch.subscription_id if watch is not None else key

    def _forget(self, key: str) -> str:
        """Drop the bookkeeping of ``key``; return the server's current id."""
        with self._lock:
            watch = self._watches.pop(key, None)
        self._cursors.pop(key, None)
        return watch.subscription_id if watch is not None else key

    def _unstream(self, key: str) -> int | None:
        """Mark ``key`` as not streaming; return the stream id it had."""
        with self._lock:
            watch = self._watches.get(key)
            stream_id = watch.stream_id if watch is not None else None
            if watch is not None:
                watch.stream_id = None
        return stream_id
