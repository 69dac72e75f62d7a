"""Blocking-socket driver for any sans-IO :class:`~otwire.protocols.Connection` (STYLE.md 3.4).

:class:`SocketTransport` drives one engine over one connected socket. After every input it
drains the engine's events, sends its queued octets with ``sendall`` and re-arms from
``get_timer()``; the clock is :func:`time.monotonic`. It serves two styles:

* single-threaded: :meth:`SocketTransport.next_event` blocks until an event or a timeout;
* many connections in one thread: :class:`SelectorLoop` calls the non-blocking steps
  (:meth:`~SocketTransport.handle_readable`, :meth:`~SocketTransport.handle_deadline`).

Every engine call happens under the transport's lock, so a user thread may call
:meth:`~SocketTransport.send` while the loop thread reads. Reads never block (the socket is
non-blocking); a write blocks for at most ``write_timeout`` seconds, after which the peer is
declared lost. An orderly end of stream from the peer is fed to the engine as
``receive_data(b"")``; a failed socket (reset, send or receive error, TLS failure, TLS
handshake timeout) as ``connection_lost(now, exc)`` (STYLE.md 3.3 rule 11), so the engine's
events say which one happened. No parsing, retries or reconnects here: policy belongs to
``otwire.clients``.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial

from otwire.errors import TransportError
from otwire.protocols import Connection
from otwire.transports._common import deadline_to_timeout, timeout_to_deadline
from otwire.transports._socket import (
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT,
    SocketTransport,
    TransportCallback,
    _earliest,
)

__all__ = ["DEFAULT_HANDSHAKE_TIMEOUT", "DEFAULT_WRITE_TIMEOUT", "SelectorLoop", "SocketTransport", "TimerHandle"]

_ACCEPT_BATCH = 16


class TimerHandle:
    """A callback scheduled with :meth:`SelectorLoop.call_at`; :meth:`cancel` withdraws it."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Withdraw the callback (no effect once it ran)."""
        self.cancelled = True


class _Listener:
    __slots__ = ("factory", "handshake_timeout", "on_accept", "sock", "ssl_context")

    def __init__(
        self,
        sock: socket.socket,
        factory: Callable[[], Connection],
        on_accept: TransportCallback,
        ssl_context: ssl.SSLContext | None,
        handshake_timeout: float | None,
    ) -> None:
        self.sock = sock
        self.factory = factory
        self.on_accept = on_accept
        self.ssl_context = ssl_context
        self.handshake_timeout = handshake_timeout


_WAKE = object()


class SelectorLoop:
    """Drive many :class:`SocketTransport` objects and listening sockets from one thread.

    Only :meth:`call_soon_threadsafe` and :meth:`stop` may be called from other threads
    (and :meth:`SocketTransport.send` / :meth:`SocketTransport.close` on the transports);
    do everything else in the loop thread, e.g. through :meth:`call_soon_threadsafe`.
    Closed transports leave the loop by themselves. Each round asks every transport for its
    deadline, which suits tens to hundreds of connections.
    """

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._transports: set[SocketTransport] = set()
        self._listeners: list[_Listener] = []
        self._timers: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._callbacks: deque[Callable[[], object]] = deque()
        self._callbacks_lock = threading.Lock()
        self._thread: int | None = None
        self._stopping = False
        self._closed = False

    @property
    def transports(self) -> frozenset[SocketTransport]:
        """The transports currently driven."""
        return frozenset(self._transports)

    def add(self, transport: SocketTransport) -> None:
        """Drive ``transport`` from this loop (its queued events and octets are flushed now).

        Args:
            transport: An open transport; a closed one is ignored.
        """
        with transport._lock:  # no close from another thread in between
            if transport.closed or transport in self._transports:
                return
            stale = self._selector.get_map().get(transport.fileno())
            if stale is not None and isinstance(stale.data, SocketTransport):
                self.remove(stale.data)  # closed by another thread, its removal still queued
            self._selector.register(transport, selectors.EVENT_READ, transport)
            self._transports.add(transport)
            transport._hooks.append(self._transport_closed)
            transport._wakeup = self._wake_if_foreign
        transport.flush()

    def remove(self, transport: SocketTransport) -> None:
        """Stop driving ``transport`` without closing it.

        Args:
            transport: A transport added before (others are ignored).
        """
        if transport not in self._transports:
            return
        self._transports.discard(transport)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(transport)
        transport._hooks.remove(self._transport_closed)
        transport._wakeup = None

    def listen(
        self,
        host: str,
        port: int,
        connection_factory: Callable[[], Connection],
        *,
        on_accept: TransportCallback,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
    ) -> tuple[str, int]:
        """Accept TCP (or TLS) connections, each driving a fresh engine in a new transport.

        Args:
            host: Address to bind (``"127.0.0.1"``, ``"::1"``, ``""`` for all IPv4).
            port: TCP port; 0 picks a free one.
            connection_factory: Builds the engine of each accepted connection.
            on_accept: Called with each new transport before its first octet is read or sent
                (set ``on_event``, ``observer``, ``on_close`` there).
            ssl_context: A server-side context enables TLS (handshaken without blocking).
            backlog: Listen queue length.
            handshake_timeout: Seconds a client may take to finish the TLS handshake.

        Returns:
            The bound ``(host, port)``.

        Raises:
            TransportError: The address cannot be bound.
        """
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sock = socket.create_server((host, port), family=family, backlog=backlog)
        except OSError as exc:
            raise TransportError(f"cannot listen on {host}:{port}: {exc}") from exc
        sock.setblocking(False)
        listener = _Listener(sock, connection_factory, on_accept, ssl_context, handshake_timeout)
        self._listeners.append(listener)
        self._selector.register(sock, selectors.EVENT_READ, listener)
        bound = sock.getsockname()
        return bound[0], bound[1]

    def call_soon_threadsafe(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` in the loop thread during the next round; callable from any thread.

        Args:
            callback: Called without arguments.
        """
        with self._callbacks_lock:
            self._callbacks.append(callback)
        self._wake()

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` in the loop thread once ``time.monotonic() >= when`` (loop thread only).

        Args:
            when: Absolute monotonic time in seconds.
            callback: Called without arguments.

        Returns:
            A handle whose ``cancel()`` withdraws the callback.
        """
        handle = TimerHandle(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), handle))
        return handle

    def run_once(self, timeout: float | None = None) -> None:
        """Run one round: wait for I/O, then run due deadlines, timers and queued callbacks.

        Args:
            timeout: Seconds to wait at most for something to do (``None``: until something happens).
        """
        self._thread = threading.get_ident()
        now = time.monotonic()
        deadline = timeout_to_deadline(timeout, now)
        for transport in self._transports:
            deadline = _earliest(deadline, transport.deadline())
        if self._next_timer() is not None:
            deadline = _earliest(deadline, self._timers[0][0])
        wait = 0.0 if self._callbacks else deadline_to_timeout(deadline, now)
        for key, _ in self._selector.select(wait):
            if key.data is _WAKE:
                self._drain_wakeups()
            elif isinstance(key.data, _Listener):
                self._accept(key.data)
            elif isinstance(key.data, SocketTransport):
                key.data.handle_readable()
        for transport in list(self._transports):
            transport.handle_deadline()
        self._run_timers()
        with self._callbacks_lock:
            batch = list(self._callbacks)
            self._callbacks.clear()
        for callback in batch:
            callback()

    def run_forever(self) -> None:
        """Run rounds until :meth:`stop` is called."""
        try:
            while not self._stopping:
                self.run_once()
        finally:
            self._stopping = False
            self._thread = None

    def stop(self) -> None:
        """Make :meth:`run_forever` return after the current round; callable from any thread."""
        self._stopping = True
        self._wake()

    def close(self) -> None:
        """Close every transport (graceful) and listening socket, then the loop. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for transport in list(self._transports):
            transport.close()
            self.remove(transport)
        for listener in self._listeners:
            self._selector.unregister(listener.sock)
            listener.sock.close()
        self._listeners.clear()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> SelectorLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self, listener: _Listener) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, _address = listener.sock.accept()
            except OSError:  # nothing left (BlockingIOError) or out of descriptors: next round
                return
            try:
                if listener.ssl_context is not None:
                    sock = listener.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                transport = SocketTransport(listener.factory(), sock, handshake_timeout=listener.handshake_timeout)
            except BaseException:
                sock.close()
                raise
            try:
                listener.on_accept(transport)
            except BaseException:
                transport.close()
                raise
            self.add(transport)

    def _next_timer(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def _run_timers(self) -> None:
        now = time.monotonic()
        while (when := self._next_timer()) is not None and when <= now:
            handle = heapq.heappop(self._timers)[2]
            handle.cancelled = True
            handle.callback()

    def _transport_closed(self, transport: SocketTransport) -> None:
        if self._thread is None or self._thread == threading.get_ident():
            self.remove(transport)
        else:
            self.call_soon_threadsafe(partial(self.remove, transport))

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (a wakeup is pending anyway) or closed
            self._wake_w.send(b"\0")

    def _wake_if_foreign(self) -> None:
        if self._thread is not None and self._thread != threading.get_ident():
            self._wake()

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass
