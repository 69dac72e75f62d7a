"""One background I/O thread running an asyncio loop that drives an :class:`I3XClientEngine`.

The engine chooses connection ids; this driver opens one socket per id with
``loop.create_connection`` (TLS through ``ssl_context``), feeds octets in, flushes
output, closes what the engine forgets and re-arms one timer from ``get_timer``.
Request answers resolve :class:`concurrent.futures.Future` objects; stream events go
to a per-stream handler called on the I/O thread (handlers must not block: the
client queues its callbacks to a worker thread). Notes §9.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ssl
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from otwire.errors import DecodeError, InvalidState
from otwire.protocols import Event
from otwire.protocols.i3x.client import I3XClientEngine
from otwire.protocols.i3x.config import I3XClientConfig
from otwire.protocols.i3x.events import RequestFailed, ResponseReceived

__all__ = ["Driver", "StreamHandler"]

StreamHandler = Callable[[Event], None]


class _Protocol(asyncio.Protocol):
    """Feeds one engine connection from one asyncio transport."""

    def __init__(self, driver: Driver, conn_id: int) -> None:
        self.driver = driver
        self.conn_id = conn_id

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.driver.made(self.conn_id, transport)

    def data_received(self, data: bytes) -> None:
        self.driver.received(self.conn_id, data)

    def eof_received(self) -> bool:
        self.driver.received(self.conn_id, b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.driver.lost(self.conn_id, exc)


class Driver:
    """Runs ``engine`` on its own daemon thread; thread-safe ``request``/``open_stream``/``close``.

    Args:
        config: The engine settings (host, port, timeouts, credentials).
        ssl_context: TLS settings for ``https``; ``None`` for plain TCP.
    """

    def __init__(self, config: I3XClientConfig, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.engine = I3XClientEngine(config)
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._transports: dict[int, asyncio.BaseTransport] = {}
        self._opening: dict[int, asyncio.Task[Any]] = {}
        self._requests: dict[int, concurrent.futures.Future[ResponseReceived]] = {}
        self._streams: dict[int, StreamHandler] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="otwire-i3x-io", daemon=True)
        self._thread.start()

    # -- thread-safe API -------------------------------------------------------------------

    def request(self, method: str, path: str, body: msgspec.Struct | None) -> ResponseReceived:
        """Send one request and block until its whole answer (any status) arrived.

        Raises:
            RequestTimeout: no answer within ``request_timeout`` (from the engine).
            OSError: the connection could not be opened or failed.
            ConnectionLost, DecodeError: the answer was cut short or malformed.
            InvalidState: the driver is closed.
        """
        future: concurrent.futures.Future[ResponseReceived] = concurrent.futures.Future()
        self._call(self._start_request, method, path, body, future)
        limit = self.config.request_timeout
        return future.result(None if limit is None else limit + 5.0)

    def open_stream(self, subscription_id: str, client_id: str | None, handler: StreamHandler) -> int:
        """Open an SSE stream; ``handler`` gets its events on the I/O thread. Returns the stream id."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._call(self._start_stream, subscription_id, client_id, handler, future)
        return future.result(10.0)

    def close_stream(self, stream_id: int) -> None:
        """End a stream for good (no more handler calls after its ``StreamEnded``)."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop_stream, stream_id)

    def close(self) -> None:
        """Close the engine and every socket, then stop the thread (idempotent)."""
        if self._loop.is_closed() or not self._thread.is_alive():
            return
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop.call_soon_threadsafe(self._shutdown, future)
        future.result(10.0)
        self._thread.join(10.0)
        self._loop.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._loop.is_closed()

    # -- I/O thread --------------------------------------------------------------------------

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop.is_closed() or self.engine.is_closed:
            raise InvalidState("the i3X client is disconnected")
        self._loop.call_soon_threadsafe(fn, *args)

    def _start_request(self, method: str, path: str, body: Any, future: concurrent.futures.Future[Any]) -> None:
        try:
            request_id = self.engine.request(method, path, body, self._loop.time())
        except Exception as exc:
            future.set_exception(exc)
            return
        self._requests[request_id] = future
        self._pump()

    def _start_stream(
        self,
        subscription_id: str,
        client_id: str | None,
        handler: StreamHandler,
        future: concurrent.futures.Future[Any],
    ) -> None:
        try:
            stream_id = self.engine.open_stream(subscription_id, client_id, self._loop.time())
        except Exception as exc:
            future.set_exception(exc)
            return
        self._streams[stream_id] = handler
        future.set_result(stream_id)
        self._pump()

    def _stop_stream(self, stream_id: int) -> None:
        if not self.engine.is_closed:
            self.engine.close_stream(stream_id, self._loop.time())
            self._pump()
        self._streams.pop(stream_id, None)

    def _shutdown(self, future: concurrent.futures.Future[None]) -> None:
        self.engine.close(self._loop.time())
        self._pump()
        for transport in self._transports.values():
            transport.close()
        for task in self._opening.values():
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
        self._loop.call_soon(self._loop.stop)
        future.set_result(None)

    async def _open(self, conn_id: int) -> None:
        try:
            await self._loop.create_connection(
                lambda: _Protocol(self, conn_id), self.config.host, self.config.port, ssl=self._ssl
            )
        except OSError as exc:
            self._opening.pop(conn_id, None)
            if not self.engine.is_closed:
                self.engine.connection_failed(conn_id, self._loop.time(), exc)
                self._pump()

    def made(self, conn_id: int, transport: asyncio.BaseTransport) -> None:
        """A socket of ``conn_id`` is open (closed at once if the engine gave it up)."""
        self._opening.pop(conn_id, None)
        if self.engine.is_closed:
            transport.close()
            return
        self._transports[conn_id] = transport
        self.engine.connection_made(conn_id, self._loop.time())
        self._pump()

    def received(self, conn_id: int, data: bytes) -> None:
        """Octets (``b""``: end of stream) on ``conn_id``."""
        if conn_id not in self._transports or self.engine.is_closed:
            return
        with contextlib.suppress(DecodeError):  # the engine closed that connection and reported it
            self.engine.receive_data(conn_id, data, self._loop.time())
        self._pump()

    def lost(self, conn_id: int, exc: Exception | None) -> None:
        """The socket of ``conn_id`` closed (by us, the peer or an error)."""
        if self._transports.pop(conn_id, None) is not None:
            self.engine.connection_lost(conn_id, self._loop.time(), exc)
            self._pump()

    def _on_timer(self) -> None:
        self._timer = None
        if not self.engine.is_closed:
            self.engine.handle_timer(self._loop.time())
        self._pump()

    def _pump(self) -> None:
        """Open, flush and close what the engine asks for; dispatch events; re-arm the timer."""
        engine = self.engine
        for conn_id in engine.connections_to_open():
            self._opening[conn_id] = self._loop.create_task(self._open(conn_id))
        for conn_id in engine.connections_with_output():
            transport = self._transports.get(conn_id)
            data = engine.data_to_send(conn_id)
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(data)
        for conn_id in engine.connections_to_close():
            self._close_conn(conn_id)
        while (event := engine.next_event()) is not None:
            self._dispatch(event)
        self._arm_timer()

    def _close_conn(self, conn_id: int) -> None:
        transport = self._transports.pop(conn_id, None)
        if transport is not None:
            transport.close()
        task = self._opening.pop(conn_id, None)
        if task is not None:
            task.cancel()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, ResponseReceived | RequestFailed):
            future = self._requests.pop(event.request_id, None)
            if future is None or future.done():
                return
            if isinstance(event, ResponseReceived):
                future.set_result(event)
            else:
                future.set_exception(event.error)
            return
        handler = self._streams.get(getattr(event, "stream_id", -1))
        if handler is not None:
            handler(event)

    def _arm_timer(self) -> None:
        deadline = None if self.engine.is_closed else self.engine.get_timer()
        if self._timer is not None and (deadline is None or self._timer.when() != deadline):
            self._timer.cancel()
            self._timer = None
        if deadline is not None and self._timer is None:
            self._timer = self._loop.call_at(deadline, self._on_timer)
