"""Drivers of :class:`I3XClientEngine` on asyncio: one loop thread (blocking client) or the caller's loop.

:class:`Core` runs on one event loop: it opens one socket per engine-chosen connection id
with ``loop.create_connection`` (TLS through ``ssl_context``), feeds octets in, flushes
output, closes what the engine forgets and re-arms one timer from ``get_timer``. Request
answers resolve futures (``concurrent.futures`` or ``asyncio``: anything with
``set_result``/``set_exception``/``done``); stream events go to a per-stream handler
called on the loop (handlers must not block). :class:`Driver` runs a core on its own
daemon thread with blocking calls; :class:`AsyncDriver` runs one on the caller's loop.
Notes §11.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ssl
import threading
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from otwire.errors import DecodeError, InvalidState
from otwire.protocols import Event
from otwire.protocols.i3x.client import I3XClientEngine
from otwire.protocols.i3x.config import I3XClientConfig
from otwire.protocols.i3x.events import RequestFailed, ResponseReceived

__all__ = ["AsyncDriver", "Core", "Driver", "StreamHandler"]

StreamHandler = Callable[[Event], None]
READ_SIZE = 256 * 1024  # octets per socket read at most


class _Future(Protocol):
    def done(self) -> bool: ...
    def set_result(self, result: Any, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...


class _Protocol(asyncio.BufferedProtocol):
    """Feeds one engine connection from one asyncio transport.

    Reads go into the core's one reusable buffer (``recv_into``) and reach the engine as a
    view of it (h11 copies the octets into its own buffer; nothing keeps the view): a plain
    ``Protocol`` gets a fresh 256 KiB ``bytes`` per read from asyncio, whose allocation and
    page faults cost about 20 us per read (benchmarks/README.md, i3x).
    """

    def __init__(self, core: Core, conn_id: int) -> None:
        self.core = core
        self.conn_id = conn_id

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.core.made(self.conn_id, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.core.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.core.received(self.conn_id, self.core.read_buffer[:nbytes])  # the engine copies what it keeps

    def eof_received(self) -> bool:
        self.core.received(self.conn_id, b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.core.lost(self.conn_id, exc)


class Core:
    """The engine and its sockets on one loop; every method must run on that loop.

    Args:
        config: The engine settings (host, port, timeouts, credentials).
        ssl_context: TLS settings for ``https``; ``None`` for plain TCP.
        loop: The loop the sockets live on.
    """

    def __init__(
        self, config: I3XClientConfig, ssl_context: ssl.SSLContext | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.config = config
        self.engine = I3XClientEngine(config)
        self._ssl = ssl_context
        self._loop = loop
        self._transports: dict[int, asyncio.BaseTransport] = {}
        self._opening: dict[int, asyncio.Task[Any]] = {}
        self._requests: dict[int, _Future] = {}
        self._streams: dict[int, StreamHandler] = {}
        self._paused: set[int] = set()
        self._timer: asyncio.TimerHandle | None = None
        self.read_buffer = memoryview(bytearray(READ_SIZE))
        """Where every socket of this core reads into (one loop thread; each read is copied out at once)."""
        self.on_drained: Callable[[], None] | None = None
        """Called on the loop after a pump dispatched stream events (one hand-off per read)."""

    def start_request(self, method: str, path: str, body: msgspec.Struct | None, future: _Future) -> None:
        """Queue a request; ``future`` gets its ``ResponseReceived`` or the failure."""
        try:
            request_id = self.engine.request(method, path, body, self._loop.time())
        except Exception as exc:
            future.set_exception(exc)
            return
        self._requests[request_id] = future
        self._pump()

    def start_stream(self, subscription_id: str, client_id: str | None, handler: StreamHandler) -> int:
        """Open a stream; ``handler`` gets its events. Raises: LocalProtocolError: engine closed."""
        stream_id = self.engine.open_stream(subscription_id, client_id, self._loop.time())
        self._streams[stream_id] = handler
        self._pump()
        return stream_id

    def stop_stream(self, stream_id: int) -> None:
        """End a stream for good (its handler gets the final ``StreamEnded``)."""
        if not self.engine.is_closed and stream_id in self._streams:
            self.engine.close_stream(stream_id, self._loop.time())
            self._pump()
        self._streams.pop(stream_id, None)
        self._paused.discard(stream_id)

    def pause_stream(self, stream_id: int, paused: bool) -> None:
        """Stop (or resume) reading a stream's socket; the kernel holds the octets (TCP back-pressure).

        A reconnect of a paused stream starts paused; its idle timer waits meanwhile.
        """
        if self.engine.is_closed or stream_id not in self._streams:
            return
        (self._paused.add if paused else self._paused.discard)(stream_id)
        conn_id = self.engine.pause_stream(stream_id, paused, self._loop.time())
        transport = self._transports.get(conn_id) if conn_id is not None else None
        if isinstance(transport, asyncio.ReadTransport):
            if paused:
                transport.pause_reading()
            else:
                transport.resume_reading()
        self._pump()

    def shutdown(self) -> None:
        """Close the engine (pending requests fail) and every socket."""
        if not self.engine.is_closed:
            self.engine.close(self._loop.time())
            self._pump()
        for transport in self._transports.values():
            transport.close()
        for task in self._opening.values():
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

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
        for stream_id in self._paused:
            if self.engine.pause_stream(stream_id, True, self._loop.time()) == conn_id:
                transport.pause_reading()  # type: ignore[attr-defined]
        self._pump()

    def received(self, conn_id: int, data: bytes | memoryview) -> None:
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
        dispatched = False
        while (event := engine.next_event()) is not None:
            self._dispatch(event)
            dispatched = True
        if dispatched and self.on_drained is not None:
            self.on_drained()
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
        """Keep one loop timer at or before the engine's earliest deadline.

        A later deadline (the idle timer each received chunk pushes back) keeps the armed
        handle instead of replacing it per chunk: it fires early, ``handle_timer`` finds
        nothing due, and the pump re-arms it at the deadline then in force.
        """
        deadline = None if self.engine.is_closed else self.engine.get_timer()
        timer = self._timer
        if timer is not None:
            if deadline is not None and timer.when() <= deadline:
                return
            timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)


class Driver:
    """A :class:`Core` on its own daemon I/O thread, with thread-safe blocking calls.

    Args:
        config: The engine settings.
        ssl_context: TLS settings for ``https``; ``None`` for plain TCP.
    """

    def __init__(self, config: I3XClientConfig, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self._loop = asyncio.new_event_loop()
        self.core = Core(config, ssl_context, self._loop)
        self._thread = threading.Thread(target=self._loop.run_forever, name="otwire-i3x-io", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._loop.is_closed()

    def request(self, method: str, path: str, body: msgspec.Struct | None) -> ResponseReceived:
        """Send one request and block until its whole answer (any status) arrived.

        Raises:
            RequestTimeout: no answer within ``request_timeout`` (from the engine).
            OSError: the connection could not be opened.
            ConnectionLost, DecodeError: the answer was cut short or malformed.
            InvalidState: the driver is closed.
        """
        future: concurrent.futures.Future[ResponseReceived] = concurrent.futures.Future()
        self._submit(self.core.start_request, method, path, body, future)
        limit = self.config.request_timeout
        return future.result(None if limit is None else limit + 5.0)

    def open_stream(self, subscription_id: str, client_id: str | None, handler: StreamHandler) -> int:
        """Open an SSE stream; ``handler`` gets its events on the I/O thread. Returns the stream id."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()

        def start() -> None:
            try:
                future.set_result(self.core.start_stream(subscription_id, client_id, handler))
            except Exception as exc:
                future.set_exception(exc)

        self._submit(start)
        return future.result(10.0)

    def close_stream(self, stream_id: int) -> None:
        """End a stream for good (no handler calls after its ``StreamEnded``)."""
        with contextlib.suppress(RuntimeError, InvalidState):  # the loop is already gone
            self._submit(self.core.stop_stream, stream_id)

    def close(self) -> None:
        """Close the engine and every socket, then stop the thread (idempotent)."""
        if self._loop.is_closed():
            return
        future: concurrent.futures.Future[None] = concurrent.futures.Future()

        def stop() -> None:
            self.core.shutdown()
            self._loop.call_soon(self._loop.stop)
            future.set_result(None)

        self._loop.call_soon_threadsafe(stop)
        future.result(10.0)
        self._thread.join(10.0)
        self._loop.close()

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop.is_closed() or self.core.engine.is_closed:
            raise InvalidState("the i3X client is disconnected")
        self._loop.call_soon_threadsafe(fn, *args)


class AsyncDriver:
    """A :class:`Core` on the running loop of the caller, with coroutine calls.

    Raises:
        RuntimeError: constructed outside a running loop.
    """

    def __init__(self, config: I3XClientConfig, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self._loop = asyncio.get_running_loop()
        self.core = Core(config, ssl_context, self._loop)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self.core.engine.is_closed

    async def request(self, method: str, path: str, body: msgspec.Struct | None) -> ResponseReceived:
        """As :meth:`Driver.request`, awaited."""
        if self.closed:
            raise InvalidState("the i3X client is disconnected")
        future: asyncio.Future[ResponseReceived] = self._loop.create_future()
        self.core.start_request(method, path, body, future)
        return await future

    def open_stream(self, subscription_id: str, client_id: str | None, handler: StreamHandler) -> int:
        """Open an SSE stream; ``handler`` gets its events on this loop. Returns the stream id."""
        return self.core.start_stream(subscription_id, client_id, handler)

    def close_stream(self, stream_id: int) -> None:
        """End a stream for good."""
        self.core.stop_stream(stream_id)

    def pause_stream(self, stream_id: int, paused: bool) -> None:
        """Stop (or resume) reading a stream (see :meth:`Core.pause_stream`)."""
        self.core.pause_stream(stream_id, paused)

    def close(self) -> None:
        """Close the engine and every socket (idempotent)."""
        self.core.shutdown()
