"""One blocking socket driving one sans-IO engine; re-exported by :mod:`otwire.transports.sync`."""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from otwire.errors import ConnectionLost, ConnectTimeout, ProtocolError, RemoteProtocolError, TransportError
from otwire.protocols import Connection, Event
from otwire.transports._common import Direction, RawObserver, deadline_to_timeout, timeout_to_deadline

__all__ = ["DEFAULT_HANDSHAKE_TIMEOUT", "DEFAULT_WRITE_TIMEOUT", "RECV_SIZE", "SocketTransport", "TransportCallback"]

#: Octets asked of ``recv`` per read.
RECV_SIZE = 65536
#: Seconds one ``sendall`` may block before the peer is declared lost.
DEFAULT_WRITE_TIMEOUT = 10.0
#: Seconds an accepted TLS connection may take to complete its handshake.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

EventCallback = Callable[[Event], None]
TransportCallback = Callable[["SocketTransport"], None]


class SocketTransport:
    """Drive one sans-IO engine over one connected (optionally TLS) socket.

    Callbacks (``on_event``, ``on_close``, ``observer``) run in the thread that fed the
    input, with the transport lock held: keep them short. They may call :meth:`send`.

    Args:
        connection: The engine.
        sock: A connected socket; an ``ssl.SSLSocket`` whose handshake has not run yet is
            handshaken without blocking (server side, see :meth:`SelectorLoop.listen`).
        on_event: Called with every engine event; when ``None`` events are queued for
            :meth:`next_event`.
        on_close: Called once with this transport when it closes (see :attr:`error`).
        observer: Sees every octet received (``Direction.IN``) and sent (``Direction.OUT``).
        write_timeout: Seconds a blocked ``sendall`` may take (``None``: no limit).
        handshake_timeout: Seconds a pending TLS handshake may take (``None``: no limit).
    """

    def __init__(
        self,
        connection: Connection,
        sock: socket.socket,
        *,
        on_event: EventCallback | None = None,
        on_close: TransportCallback | None = None,
        observer: RawObserver | None = None,
        write_timeout: float | None = DEFAULT_WRITE_TIMEOUT,
        handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
    ) -> None:
        self.connection = connection
        self.on_event = on_event
        self.on_close = on_close
        self.observer = observer
        self._sock = sock
        self._write_timeout = write_timeout
        self._lock = threading.RLock()
        self._events: deque[Event] = deque()
        self._closed = False
        self._eof = False
        self._error: BaseException | None = None
        self._hooks: list[TransportCallback] = []  # SelectorLoop bookkeeping
        self._wakeup: Callable[[], None] | None = None
        self._handshaking = isinstance(sock, ssl.SSLSocket) and sock.version() is None
        self._handshake_deadline = timeout_to_deadline(handshake_timeout, time.monotonic())
        sock.settimeout(0.0)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @classmethod
    def connect(
        cls,
        connection: Connection,
        host: str,
        port: int,
        *,
        timeout: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        on_event: EventCallback | None = None,
        on_close: TransportCallback | None = None,
        observer: RawObserver | None = None,
        write_timeout: float | None = DEFAULT_WRITE_TIMEOUT,
    ) -> SocketTransport:
        """Connect to ``host:port`` (TCP, then TLS if ``ssl_context``) and start driving ``connection``.

        Args:
            connection: The engine (its queued octets are sent at once).
            host: Host name or address.
            port: TCP port.
            timeout: Seconds for the TCP connect and the TLS handshake together (``None``: no limit).
            ssl_context: Enables TLS.
            server_hostname: Name checked against the certificate (default: ``host``).
            on_event: See the class.
            on_close: See the class.
            observer: See the class.
            write_timeout: See the class.

        Returns:
            The running transport.

        Raises:
            ConnectTimeout: The connect or the handshake did not finish within ``timeout``.
            TransportError: The connection was refused, the handshake failed, or another OS error.
        """
        sock = _open_socket(host, port, timeout, ssl_context, server_hostname)
        transport = cls(
            connection, sock, on_event=on_event, on_close=on_close, observer=observer, write_timeout=write_timeout
        )
        transport.flush()
        return transport

    @property
    def closed(self) -> bool:
        """True once the socket is closed (by either side, or after an error)."""
        return self._closed

    @property
    def error(self) -> BaseException | None:
        """What ended the transport: ``RemoteProtocolError``, ``ConnectionLost``, ... or ``None``."""
        return self._error

    @property
    def socket(self) -> socket.socket:
        """The socket, for ``getpeername()``/``getsockname()``; never read or write it directly."""
        return self._sock

    def fileno(self) -> int:
        """Return the socket's file descriptor (-1 once closed), for selectors."""
        return self._sock.fileno()

    def deadline(self) -> float | None:
        """Return when :meth:`handle_deadline` is next due (monotonic seconds), or ``None``."""
        with self._lock:
            if self._closed:
                return None
            return self._handshake_deadline if self._handshaking else self.connection.get_timer()

    def flush(self) -> None:
        """Deliver the engine's queued events and send its queued octets.

        Needed only after work done on the engine outside the transport;
        :meth:`connect` and :meth:`SelectorLoop.add` call it for you.
        """
        with self._lock:
            if not self._closed:
                self._input(None)

    def send(self, message: Any) -> None:
        """Give ``message`` to the engine and send the octets it queues. Thread-safe.

        Args:
            message: A message object the engine's ``send`` accepts.

        Raises:
            LocalProtocolError: The engine refused the message.
            ConnectionLost: The transport is closed, or the write failed (it is now closed).
        """
        with self._lock:
            if self._closed:
                raise ConnectionLost("the transport is closed") from self._error
            self._input(partial(self.connection.send, message))
            if self._closed and isinstance(self._error, ConnectionLost):
                raise ConnectionLost(str(self._error)) from self._error
        if self._wakeup is not None:
            self._wakeup()  # the engine's timer may have moved

    def close(self) -> None:
        """Close the engine (its goodbye is sent), then the socket. Idempotent, thread-safe."""
        with self._lock:
            if self._closed:
                return
            if not self.connection.is_closed:
                self._input(self.connection.close)
            self._teardown(None)

    def handle_readable(self) -> None:
        """Read once and feed the engine; for a loop, when the socket is readable.

        Never raises for network or peer faults: they close the transport and are kept in
        :attr:`error`. An orderly EOF is fed to the engine as ``receive_data(b"")``; a
        failed read (reset, TLS error) as ``connection_lost(now, exc)``; then the transport
        closes.
        """
        with self._lock:
            if self._closed or (self._handshaking and not self._handshake()):
                return
            if self.connection.is_closed:
                self._teardown(None)
                return
            try:
                data = self._recv()
            except _WOULD_BLOCK:
                return
            except OSError as exc:
                self._lose("receive failed", exc)
                return
            self._eof = not data
            self._input(partial(self.connection.receive_data, data))

    def handle_deadline(self) -> None:
        """Run the engine's timers if they are due (or fail a TLS handshake that took too long)."""
        with self._lock:
            if self._closed:
                return
            now = time.monotonic()
            if self._handshaking:
                if self._handshake_deadline is not None and now >= self._handshake_deadline:
                    self._teardown(ConnectTimeout("TLS handshake timed out"))
                return
            timer = self.connection.get_timer()
            if timer is not None and timer <= now:
                self._input(self.connection.handle_timer)

    def next_event(self, timeout: float | None = None) -> Event | None:
        """Return the next event, reading and running timers until one comes (single-threaded use).

        Args:
            timeout: Seconds to wait at most (``None``: until an event or the close).

        Returns:
            The next event; ``None`` on timeout, or at once when the transport is closed and
            no event is left (with ``on_event`` set, events go there and this returns ``None``).
        """
        deadline = timeout_to_deadline(timeout, time.monotonic())
        with selectors.DefaultSelector() as selector:
            polled = False  # poll at least once, even with timeout=0
            while True:
                with self._lock:
                    if self._events:
                        return self._events.popleft()
                    if self._closed:
                        return None
                    if not polled:
                        selector.register(self._sock, selectors.EVENT_READ)
                now = time.monotonic()
                if polled and deadline is not None and now >= deadline:
                    return None
                if selector.select(deadline_to_timeout(_earliest(deadline, self.deadline()), now)):
                    self.handle_readable()
                self.handle_deadline()
                polled = True

    def __enter__(self) -> SocketTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals; the lock is held ------------------------------------------------------

    def _input(self, action: Callable[[float], None] | None) -> None:
        """Feed one input, then drain events, flush octets, and close if the engine closed."""
        try:
            if action is not None:
                action(time.monotonic())
        except RemoteProtocolError as exc:  # the engine is closed, its goodbye queued
            self._error = self._error or exc
        self._drain()
        self._flush()
        if not self._closed and (self._eof or self.connection.is_closed):
            self._teardown(None)

    def _drain(self) -> None:
        while (event := self.connection.next_event()) is not None:
            if self.on_event is None:
                self._events.append(event)
            else:
                self.on_event(event)

    def _flush(self) -> None:
        if self._closed or self._handshaking:
            return
        data = self.connection.data_to_send()
        if not data:
            return
        try:
            self._sock.settimeout(self._write_timeout)
            try:
                self._sock.sendall(data)
            finally:
                self._sock.settimeout(0.0)
        except OSError as exc:
            self._lose("send failed", exc)
            return
        if self.observer is not None:
            self.observer(Direction.OUT, data)

    def _recv(self) -> bytes:
        data = self._sock.recv(RECV_SIZE)
        if isinstance(self._sock, ssl.SSLSocket):
            while data and (pending := self._sock.pending()):  # decrypted octets select() cannot see
                data += self._sock.recv(pending)
        if data and self.observer is not None:
            self.observer(Direction.IN, data)
        return data

    def _handshake(self) -> bool:
        """Advance a server-side TLS handshake; return True once it is complete."""
        if not isinstance(self._sock, ssl.SSLSocket):
            return True
        try:
            self._sock.do_handshake()
        except _WOULD_BLOCK:
            return False
        except (OSError, ValueError) as exc:
            failed = TransportError(f"TLS handshake failed: {exc}")
            failed.__cause__ = exc
            self._teardown(failed)
            return False
        self._handshaking = False
        self._input(None)  # send what the engine queued meanwhile
        return not self._closed

    def _lose(self, what: str, exc: BaseException) -> None:
        lost = ConnectionLost(f"{what}: {exc}")
        lost.__cause__ = exc
        self._teardown(lost)

    def _teardown(self, error: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._error = self._error or error
        if error is not None and not self.connection.is_closed:
            # A failure is its own input (STYLE.md 3.3 rule 11): the engine reports
            # CONNECTION_LOST, not the peer's orderly close that receive_data(b"") means.
            with contextlib.suppress(ProtocolError):
                self.connection.connection_lost(time.monotonic(), error)
            self.connection.data_to_send()  # nowhere to send it
        self._drain()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for hook in list(self._hooks):
            hook(self)
        if self.on_close is not None:
            self.on_close(self)


def _open_socket(
    host: str, port: int, timeout: float | None, ssl_context: ssl.SSLContext | None, server_hostname: str | None
) -> socket.socket:
    deadline = timeout_to_deadline(timeout, time.monotonic())
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as exc:
        raise ConnectTimeout(f"connecting to {where} timed out after {timeout} s") from exc
    except OSError as exc:
        raise TransportError(f"cannot connect to {where}: {exc}") from exc
    if ssl_context is None:
        return sock
    try:
        left = deadline_to_timeout(deadline, time.monotonic())
        if left == 0.0:
            raise TimeoutError("no time left for the TLS handshake")
        sock.settimeout(left)
        return ssl_context.wrap_socket(sock, server_hostname=server_hostname or host)
    except TimeoutError as exc:
        sock.close()
        raise ConnectTimeout(f"TLS handshake with {where} timed out after {timeout} s") from exc
    except (OSError, ValueError) as exc:  # ssl.SSLError and certificate errors are OSErrors
        sock.close()
        raise TransportError(f"TLS handshake with {where} failed: {exc}") from exc


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
