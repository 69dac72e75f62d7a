"""asyncio driver for any sans-IO :class:`~otwire.protocols.Connection` (STYLE.md 3.4).

:class:`AioTransport` is an :class:`asyncio.Protocol`: every input (received octets, EOF,
a timer, a user's :meth:`~AioTransport.send`) is fed to the engine with ``now =
loop.time()``, then the engine's events are delivered, its octets written and its timer
re-armed with ``loop.call_at(get_timer(), ...)``. No parsing, retries or reconnects here.
Use it from the event loop thread only.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, cast

from otwire.errors import (
    ConnectionLost,
    ConnectTimeout,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
)
from otwire.protocols import Connection, Event
from otwire.transports._common import Direction, RawObserver, timeout_to_deadline

__all__ = ["AioTransport", "open_connection", "start_server"]

EventCallback = Callable[[Event], None]
TransportCallback = Callable[["AioTransport"], None]


class AioTransport(asyncio.Protocol):
    """Drive one sans-IO engine over an asyncio stream transport.

    Args:
        connection: The engine.
        on_event: Called with every engine event; when ``None`` events are queued for
            :meth:`next_event` and :meth:`events`.
        on_close: Called once with this object after the connection is lost (see :attr:`error`).
        observer: Sees every octet received (``Direction.IN``) and written (``Direction.OUT``).
    """

    def __init__(
        self,
        connection: Connection,
        *,
        on_event: EventCallback | None = None,
        on_close: TransportCallback | None = None,
        observer: RawObserver | None = None,
    ) -> None:
        self.connection = connection
        self.on_event = on_event
        self.on_close = on_close
        self.observer = observer
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._closed_event = asyncio.Event()
        self._closed = False
        self._error: BaseException | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._accept_hook: TransportCallback | None = None
        self._flush_pending = False

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start driving: send what the engine queued and arm its timer."""
        self._transport = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()
        if self._accept_hook is not None:
            self._accept_hook(self)
        self._input(None)

    def data_received(self, data: bytes) -> None:
        """Feed received octets to the engine."""
        if self._closed or self.connection.is_closed:
            return
        if self.observer is not None:
            self.observer(Direction.IN, bytes(data))
        self._input(partial(self.connection.receive_data, data))

    def eof_received(self) -> bool:
        """Feed EOF (``b""``) to the engine; the transport then closes."""
        if not self._closed and not self.connection.is_closed:
            self._input(partial(self.connection.receive_data, b""))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the engine the stream ended (if it is still open) and wake every waiter."""
        if exc is not None and self._error is None:
            lost = ConnectionLost(str(exc) or type(exc).__name__)
            lost.__cause__ = exc
            self._error = lost
        if not self.connection.is_closed:
            try:
                self._report_end(exc)
            except LocalProtocolError:
                pass
            except RemoteProtocolError as error:
                self._error = self._error or error
            self.connection.data_to_send()  # nowhere to send it
        self._process_events()
        self._closed = True
        self._arm_timer()
        self._wakeup.set()
        self._closed_event.set()
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        if self.on_close is not None:
            self.on_close(self)

    def _report_end(self, exc: Exception | None) -> None:
        """A failure is ``connection_lost(now, exc)``; a plain close is end of stream (STYLE.md 3.3 rule 11)."""
        if exc is not None:
            self.connection.connection_lost(self._time(), exc)
        else:
            self.connection.receive_data(b"", self._time())

    def pause_writing(self) -> None:
        """Record that the write buffer is above its high-water mark (see :meth:`drain`)."""
        self._paused = True

    def resume_writing(self) -> None:
        """Record that the write buffer drained below its low-water mark; wake :meth:`drain`."""
        self._paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    # -- public API -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection is lost (after ``connection_lost``)."""
        return self._closed

    @property
    def error(self) -> BaseException | None:
        """What ended the connection: ``RemoteProtocolError``, ``ConnectionLost``, ... or ``None``."""
        return self._error

    @property
    def transport(self) -> asyncio.Transport | None:
        """The asyncio transport (for ``get_extra_info``), once connected."""
        return self._transport

    def get_write_buffer_size(self) -> int:
        """Return the octets written but not yet handed to the kernel (pending sends included)."""
        if self._flush_pending:
            self._flush()
        return self._transport.get_write_buffer_size() if self._transport is not None else 0

    def send(self, message: Any) -> None:
        """Give ``message`` to the engine and write the octets it queues.

        Args:
            message: A message object the engine's ``send`` accepts.

        Raises:
            LocalProtocolError: The engine refused the message.
            ConnectionLost: The connection is closed or closing.
        """
        if self._closed or (self._transport is not None and self._transport.is_closing()):
            raise ConnectionLost("the transport is closed") from self._error
        if self._loop is None:
            self._input(partial(self.connection.send, message))
            return
        # Coalesce: a burst of sends in one loop iteration becomes one write (one syscall,
        # one wake-up of the peer) at the end of the iteration, not one write per message.
        self.connection.send(message, self._time())
        self._process_events()
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def close(self) -> None:
        """Close the engine (its goodbye is written), then the transport after its buffer drains."""
        if self._closed:
            return
        if not self.connection.is_closed:
            self._input(self.connection.close)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    async def wait_closed(self) -> None:
        """Wait until the connection is lost."""
        await self._closed_event.wait()

    async def drain(self) -> None:
        """Wait until the write buffer is below its high-water mark.

        Raises:
            ConnectionLost: The connection was lost (not closed in order).
        """
        if self._flush_pending:
            self._flush()
        if self._paused and not self._closed:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            await waiter
        if self._closed and isinstance(self._error, TransportError):
            raise ConnectionLost(str(self._error)) from self._error

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """Return the next queued event, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait (``None``: until an event or the close).

        Returns:
            The next event; ``None`` on timeout, or at once when the connection is closed
            and no event is left.
        """
        deadline = timeout_to_deadline(timeout, asyncio.get_running_loop().time())
        while not self._events and not self._closed:
            self._wakeup.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._wakeup.wait()
            except TimeoutError:
                break
        return self._events.popleft() if self._events else None

    async def events(self) -> AsyncIterator[Event]:
        """Yield queued events until the connection is closed and every event was taken."""
        while (event := await self.next_event()) is not None:
            yield event

    # -- internals ------------------------------------------------------------------------

    def _time(self) -> float:
        return (self._loop or asyncio.get_running_loop()).time()

    def _input(self, action: Callable[[float], None] | None) -> None:
        """Feed one input, then deliver events, write octets and re-arm the timer."""
        if self._closed:
            return
        try:
            if action is not None:
                action(self._time())
        except RemoteProtocolError as exc:  # the engine is closed, its goodbye queued
            self._error = self._error or exc
        self._process_events()
        self._transmit()
        if self.connection.is_closed and self._transport is not None and not self._transport.is_closing():
            self._transport.close()  # buffered octets (the goodbye) are still written

    def _flush(self) -> None:
        self._flush_pending = False
        self._input(None)

    def _process_events(self) -> None:
        while (event := self.connection.next_event()) is not None:
            if self.on_event is None:
                self._events.append(event)
                self._wakeup.set()
            else:
                self.on_event(event)

    def _transmit(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            data = self.connection.data_to_send()
            if data:
                self._transport.write(data)
                if self.observer is not None:
                    self.observer(Direction.OUT, data)
        self._arm_timer()

    def _arm_timer(self) -> None:
        when = None if self._closed or self.connection.is_closed else self.connection.get_timer()
        if when == self._timer_at and (when is None or self._timer is not None):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, when
        if when is not None and self._loop is not None:
            self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, None
        if not self.connection.is_closed:
            self._input(self.connection.handle_timer)


async def open_connection(
    connection: Connection,
    host: str,
    port: int,
    *,
    ssl: _ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    timeout: float | None = None,
    on_event: EventCallback | None = None,
    on_close: TransportCallback | None = None,
    observer: RawObserver | None = None,
) -> AioTransport:
    """Connect to ``host:port`` (TCP, then TLS if ``ssl``) and start driving ``connection``.

    Args:
        connection: The engine (its queued octets are written at once).
        host: Host name or address.
        port: TCP port.
        ssl: Enables TLS.
        server_hostname: Name checked against the certificate (default: ``host``).
        timeout: Seconds for the TCP connect and the TLS handshake together (``None``: no limit).
        on_event: See :class:`AioTransport`.
        on_close: See :class:`AioTransport`.
        observer: See :class:`AioTransport`.

    Returns:
        The connected transport.

    Raises:
        ConnectTimeout: The connect or handshake did not finish within ``timeout``.
        TransportError: The connection was refused, the handshake failed, or another OS error.
    """
    loop = asyncio.get_running_loop()
    where = f"{host}:{port}"

    def factory() -> AioTransport:
        return AioTransport(connection, on_event=on_event, on_close=on_close, observer=observer)

    try:
        async with asyncio.timeout(timeout):
            if ssl is None:
                _, protocol = await loop.create_connection(factory, host, port)
            else:
                _, protocol = await loop.create_connection(
                    factory, host, port, ssl=ssl, server_hostname=server_hostname or host
                )
    except TimeoutError as exc:
        raise ConnectTimeout(f"connecting to {where} timed out after {timeout} s") from exc
    except OSError as exc:  # refused, unreachable, ssl.SSLError, certificate errors
        raise TransportError(f"cannot connect to {where}: {exc}") from exc
    return protocol


async def start_server(
    connection_factory: Callable[[], Connection],
    host: str,
    port: int,
    *,
    on_accept: TransportCallback,
    ssl: _ssl.SSLContext | None = None,
    backlog: int = 100,
) -> asyncio.Server:
    """Accept connections, each driving a fresh engine in a new :class:`AioTransport`.

    Args:
        connection_factory: Builds the engine of each accepted connection.
        host: Address to bind.
        port: TCP port; 0 picks a free one (see ``server.sockets[0].getsockname()``).
        on_accept: Called with each new transport in ``connection_made``, before its first
            octet is read or written (set ``on_event``, ``observer``, ``on_close`` there).
        ssl: A server-side context enables TLS.
        backlog: Listen queue length.

    Returns:
        The serving :class:`asyncio.Server` (close it with ``close()`` and ``wait_closed()``).

    Raises:
        TransportError: The address cannot be bound.
    """
    loop = asyncio.get_running_loop()

    def factory() -> AioTransport:
        transport = AioTransport(connection_factory())
        transport._accept_hook = on_accept
        return transport

    try:
        return await loop.create_server(factory, host, port, ssl=ssl, backlog=backlog)
    except OSError as exc:
        raise TransportError(f"cannot listen on {host}:{port}: {exc}") from exc
