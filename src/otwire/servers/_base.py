"""The base every otwire server shares: driver, limits, session registry, recording, start and stop.

A server subclasses :class:`ServerBase` and supplies four hooks:

* :meth:`ServerBase._new_engine`: the :class:`~otwire.protocols.PeerEngine` it runs (a fresh
  one per start);
* :meth:`ServerBase._new_session`: its object for an accepted socket (``None`` refuses it);
* :meth:`ServerBase._on_peer_event`: one ``(peer, event)`` of the engine;
* :meth:`ServerBase._on_session_closed`: a socket is gone (its session is forgotten).

The generic driver (:class:`~otwire.transports.aio_server.PeerServer`) enforces the
:class:`~otwire.transports.limits.ServerLimits`; ``record=`` writes every connection into
one pcap file (one synthetic TCP session per connection). The asyncio and threaded
flavours come from :mod:`otwire.servers._serving`: ``class AsyncX(AsyncServing, XBase)``
and ``class X(ThreadedServing, XBase)``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl as _ssl
import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from otwire.errors import InvalidArgument, InvalidArgumentType, LocalProtocolError
from otwire.protocols import ConnectionTerminated, Event, PeerEngine, TerminationReason
from otwire.servers._serving import CALL_TIMEOUT, run_in_loop
from otwire.transports.aio_server import PeerServer, PeerSocket
from otwire.transports.limits import ServerLimits
from otwire.transports.record import PcapRecorder, PcapSession

__all__ = ["CLOSE_GRACE", "ServerBase", "check_limits", "check_port"]

T = TypeVar("T")

#: Seconds peers get to close in order when a server stops, before their sockets are aborted.
CLOSE_GRACE = 1.0


def check_port(port: object) -> int:
    """Return ``port`` if it is a TCP port number (0 picks a free one).

    Raises:
        InvalidArgument: Not an int in 0..65535.
    """
    if not (isinstance(port, int) and not isinstance(port, bool) and 0 <= port <= 0xFFFF):
        raise InvalidArgument(f"port={port!r} must be an int in 0..65535")
    return port


def check_limits(limits: object) -> ServerLimits:
    """Return ``limits``, or the default :class:`ServerLimits` for ``None``.

    Raises:
        InvalidArgumentType: Neither a ``ServerLimits`` nor ``None``.
    """
    if limits is None:
        return ServerLimits()
    if not isinstance(limits, ServerLimits):
        raise InvalidArgumentType(f"limits={limits!r} must be a ServerLimits or None")
    return limits


def open_recorder(record: str | os.PathLike[str] | None) -> PcapRecorder | None:
    """Create the pcap file of ``record`` (nothing for ``None``).

    Raises:
        InvalidArgument: The file cannot be created (the ``OSError`` is the cause).
    """
    if record is None:
        return None
    try:
        return PcapRecorder(record)
    except OSError as exc:
        raise InvalidArgument(f"record={os.fspath(record)!r}: cannot create the file: {exc}") from exc


class ServerBase:
    """Listening socket, engine, sessions and capture of one server (see the module docstring).

    Args:
        host: Address to listen on (``"0.0.0.0"`` for every interface).
        port: TCP port (0 picks a free one, see :attr:`port`).
        limits: Connection, time and memory limits (defaults when ``None``).
        record: Write every connection into this pcap file while running.
        ssl: A server-side TLS context, or ``None``.

    Raises:
        InvalidArgument: ``port`` out of range.
        InvalidArgumentType: ``limits`` is not a ``ServerLimits``.
    """

    #: Used in log lines and the thread name, e.g. ``"iec104 server"``.
    _label: ClassVar[str] = "server"
    _logger: ClassVar[logging.Logger] = logging.getLogger("otwire.servers")
    close_grace: float = CLOSE_GRACE

    def __init__(
        self,
        host: str,
        port: int,
        *,
        limits: ServerLimits | None = None,
        record: str | os.PathLike[str] | None = None,
        ssl: _ssl.SSLContext | None = None,
    ) -> None:
        self._host, self._port = host, check_port(port)
        self.limits = check_limits(limits)
        self.record = record
        self.ssl = ssl
        self.lock = threading.RLock()
        self.sessions: dict[int, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._driver: PeerServer | None = None
        self._recorder: PcapRecorder | None = None
        self._bound_port = 0
        self._listening = False  # "listening" was logged: "stopped" is logged on close

    # -- hooks -------------------------------------------------------------------------------

    def _new_engine(self) -> PeerEngine[Any]:
        raise NotImplementedError

    def _new_session(self, sock: PeerSocket) -> Any | None:
        """Return the server's object for a new socket, or ``None`` to refuse it (log why).

        The default logs the connection and uses the socket itself as the session.
        """
        self._logger.info("%s: connected (%d open)", sock.name, len(self.sessions) + 1)
        return sock

    #: Ends logged at INFO; the others are WARNINGs.
    _orderly_ends: ClassVar[frozenset[TerminationReason]] = frozenset(
        {TerminationReason.LOCAL_CLOSE, TerminationReason.PEER_CLOSED, TerminationReason.END_SESSION}
    )

    def _log_end(self, peer: int, event: ConnectionTerminated) -> None:
        """Log a peer's end in one line, unless the driver already logged it (a limit it enforced)."""
        sock = self.sessions.get(peer)
        if sock is not None and getattr(sock, "dropped", None) is not None:
            return
        name = getattr(sock, "name", None) or f"peer {peer}"
        level = logging.INFO if event.reason in self._orderly_ends else logging.WARNING
        detail = f": {event.error}" if event.error is not None else ""
        self._logger.log(level, "%s: disconnected (%s)%s", name, event.reason.value, detail)

    def _on_peer_event(self, peer: int, event: Event) -> None:
        """Handle one engine event (replies go through the engine; the driver writes them)."""

    def _on_session_closed(self, sock: PeerSocket, session: Any) -> None:
        """A socket is gone; ``session`` was already removed from :attr:`sessions`."""

    async def _after_open(self) -> None:
        """Start the server's own tasks (e.g. a scheduler); runs after listening started."""

    async def _before_close(self) -> None:
        """Stop the server's own tasks; runs before the peers are closed."""

    # -- state -------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The listening address."""
        return self._host

    @property
    def port(self) -> int:
        """The listening port (the one the system picked when started with port 0)."""
        return self._bound_port or self._port

    @property
    def is_running(self) -> bool:
        """True while the server listens."""
        return self._driver is not None and self._driver.listening

    @property
    def driver(self) -> PeerServer | None:
        """The running driver (``None`` when stopped)."""
        return self._driver

    # -- running -----------------------------------------------------------------------------

    async def _open(self) -> None:
        if self._loop is not None:
            raise LocalProtocolError(f"the {self._label} is already running")
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        try:
            self._recorder = open_recorder(self.record)
            self._driver = PeerServer(
                self._new_engine(),
                limits=self.limits,
                on_event=self._on_peer_event,
                on_accept=self._accept_socket,
                on_close=self._socket_closed,
                logger=self._logger,
            )
            self._bound_port = await self._driver.listen(self._host, self._port, ssl=self.ssl)
            await self._after_open()
        except BaseException:
            await self._close()
            raise
        self._listening = True
        self._logger.info("%s listening on %s:%d", self._label, self._host, self._bound_port)

    async def _close(self) -> None:
        driver, listening, self._listening = self._driver, self._listening, False
        try:
            await self._before_close()
        finally:
            if driver is not None:
                await driver.close(self.close_grace)
            if self._recorder is not None:
                self._recorder.close()
                self._recorder = None
            self.sessions.clear()
            self._driver = None
            self._loop, self._loop_thread, self._bound_port = None, 0, 0
        if driver is not None and listening:  # not after a failed start
            self._logger.info("%s stopped", self._label)

    def _accept_socket(self, sock: PeerSocket) -> bool:
        session = self._new_session(sock)
        if session is None:
            return False
        if self._recorder is not None:
            sock.observer = self._recorder.session(sock.local, (sock.ip, sock.port), initiator="remote")
        sock.context = session
        self.sessions[sock.peer] = session
        return True

    def _socket_closed(self, sock: PeerSocket) -> None:
        session = self.sessions.pop(sock.peer, None)
        if isinstance(sock.observer, PcapSession):
            sock.observer.close()
        self._on_session_closed(sock, session)

    def _call(self, action: Callable[[], T]) -> T | None:
        """Run ``action`` in the event loop thread and return its result (``None`` if stopped).

        Raises:
            RequestTimeout: The event loop did not run it within ``CALL_TIMEOUT`` seconds (also a
                ``TimeoutError``).
        """
        return run_in_loop(self._loop, self._loop_thread, action, CALL_TIMEOUT)
