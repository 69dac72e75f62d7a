"""The hub server: listening socket, routing engine, client sockets; asyncio and threaded flavours."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from otwire.codecs.imb.types import MAX_PAYLOAD_SIZE
from otwire.errors import LocalProtocolError, TransportError
from otwire.protocols.imb.hub import HubConnection, IMBHub
from otwire.protocols.imb.hub_events import ClientStatus, EventInfo
from otwire.servers._base import check_port
from otwire.servers._serving import CALL_TIMEOUT, AsyncServing, ThreadedServing, run_in_loop, run_until_signal
from otwire.servers.imb._client import LOGGER, Client
from otwire.transports.limits import ServerLimits
from otwire.transports.record import PcapRecorder

__all__ = ["CLOSE_GRACE", "DEFAULT_PORT", "AsyncHub", "BaseHub", "Hub", "serve"]

T = TypeVar("T")

#: The IMB3 hub's TCP port.
DEFAULT_PORT = 4000
#: Seconds clients get to close in order when the hub stops, before they are aborted.
CLOSE_GRACE = 1.0
#: Seconds a foreign thread waits for the event loop to answer.
_MIB = 1024 * 1024


class BaseHub:
    """The listening socket, the routing engine and the client sockets of one hub.

    Args:
        host: Address to listen on (``"0.0.0.0"`` for every interface).
        port: TCP port (0 picks a free one, see :attr:`port`).
        max_queue_bytes: Most octets waiting to be written to one client; over it
            the client is disconnected as a slow consumer.
        max_connections: Most clients at once (0: no limit); more are refused.
        self_delivery: See :class:`~otwire.protocols.imb.hub.IMBHub`.
        notify: See :class:`~otwire.protocols.imb.hub.IMBHub`.
        heartbeat_interval: See :class:`~otwire.protocols.imb.hub.IMBHub` (seconds).
        record: Write every client connection into this pcap file while running.

    Raises:
        LocalProtocolError: an argument is out of range.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        max_queue_bytes: int = 32 * _MIB,
        max_connections: int = 1000,
        self_delivery: bool = True,
        notify: bool = True,
        heartbeat_interval: float | None = None,
        record: str | os.PathLike[str] | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        for name, value, low in (("max_queue_bytes", max_queue_bytes, 1),
                                 ("max_connections", max_connections, 0)):  # fmt: skip
            if not (isinstance(value, int) and value >= low):
                raise LocalProtocolError(f"{name}={value!r} must be an int >= {low}")
        if limits is not None:
            max_queue_bytes, max_connections = limits.max_output_bytes, limits.max_connections
        self.limits = limits
        self._host, self._port = host, check_port(port)
        self.max_queue_bytes = max_queue_bytes
        self.max_connections = max_connections
        self.record = record
        self.self_delivery, self.notify, self.heartbeat_interval = self_delivery, notify, heartbeat_interval
        self.engine = self._new_engine()
        self.lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._listener: asyncio.Server | None = None
        self._recorder: PcapRecorder | None = None
        self._clients: dict[HubConnection, Client] = {}
        self._bound_port = 0

    def _new_engine(self) -> IMBHub:
        return IMBHub(
            self_delivery=self.self_delivery,
            notify=self.notify,
            heartbeat_interval=self.heartbeat_interval,
            max_output_bytes=max(self.max_queue_bytes, MAX_PAYLOAD_SIZE + 20) + 4 * _MIB,
        )

    # -- state -----------------------------------------------------------------------

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
        """True while the hub listens."""
        return self._listener is not None

    def clients(self) -> list[ClientStatus]:
        """Return a snapshot of every connected client (thread-safe).

        Raises:
            TimeoutError: the event loop did not answer within 10 s.
        """
        return self._call(lambda: [c.status() for c in self.engine.connections]) or []

    def event_names(self) -> list[EventInfo]:
        """Return every event name in use, with hub id and member handles (thread-safe).

        Raises:
            TimeoutError: the event loop did not answer within 10 s.
        """
        return self._call(self.engine.event_names) or []

    # -- running ---------------------------------------------------------------------

    async def _open(self) -> None:
        if self._loop is not None:
            raise LocalProtocolError("the hub is already running")
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        self.engine = self._new_engine()
        try:
            self._recorder = PcapRecorder(self.record) if self.record is not None else None
            try:
                self._listener = await self._loop.create_server(lambda: Client(self), self._host, self._port)
            except OSError as exc:
                raise TransportError(f"cannot listen on {self._host}:{self._port}: {exc}") from exc
        except BaseException:
            await self._close()
            raise
        self._bound_port = self._listener.sockets[0].getsockname()[1]
        LOGGER.info("IMB3 hub listening on %s:%d", self._host, self._bound_port)

    async def _close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        clients = list(self._clients.values())
        self.engine.close(self._time())  # every client gets icEndSession
        self._flush_pending()
        if clients:
            _, pending = await asyncio.wait([c.lost for c in clients], timeout=CLOSE_GRACE)
            for client in clients:
                if client.transport is not None and not client.lost.done():
                    client.transport.abort()
            if pending:
                await asyncio.wait(pending, timeout=CLOSE_GRACE)
        if listener is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.wait_closed(), CLOSE_GRACE)
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        self._clients.clear()
        relayed = self.engine.relayed
        self._loop, self._loop_thread, self._bound_port = None, 0, 0
        LOGGER.info("IMB3 hub stopped (%d events relayed)", relayed)

    def _time(self) -> float:
        return (self._loop or asyncio.get_running_loop()).time()

    def _accept(self, client: Client) -> None:
        transport = client.transport
        assert transport is not None
        peer = transport.get_extra_info("peername") or ("?", 0)
        name = f"{peer[0]}:{peer[1]}"
        if self._listener is None or (self.max_connections and len(self._clients) >= self.max_connections):
            LOGGER.warning("%s: connection refused (max_connections=%d)", name, self.max_connections)
            transport.abort()
            return
        engine = client.engine = self.engine.connect(self._time(), name=name)
        self._clients[engine] = client
        if self._recorder is not None:
            local = transport.get_extra_info("sockname")
            client.recording = self._recorder.session(
                (str(local[0]), int(local[1])), (str(peer[0]), int(peer[1])), initiator="remote"
            )
        LOGGER.info("%s: connected as client %d (%d open)", name, engine.unique_client_id, len(self._clients))
        self._flush(client)

    def _forget(self, client: Client) -> None:
        if client.engine is not None:
            self._clients.pop(client.engine, None)

    def _flush(self, client: Client) -> None:
        """Write ``client``'s output and that of every connection its input reached."""
        client.flush()
        self._flush_pending()

    def _flush_pending(self) -> None:
        while pending := self.engine.take_pending():
            for engine in pending:
                other = self._clients.get(engine)
                if other is not None:
                    other.flush()
                else:  # not (or no longer) attached to a socket
                    engine.data_to_send()
                    while engine.next_event() is not None:
                        pass

    def _call(self, action: Callable[[], T]) -> T | None:
        """Run ``action`` in the event loop thread and return its result (``None`` if stopped)."""
        return run_in_loop(self._loop, self._loop_thread, action, CALL_TIMEOUT)


class AsyncHub(AsyncServing, BaseHub):
    """The hub in the caller's asyncio event loop (arguments as :class:`BaseHub`).

    ``stop()`` sends icEndSession to every client first.

    >>> async def main() -> None:  # doctest: +SKIP
    ...     async with AsyncHub(port=4000) as hub:
    ...         await asyncio.sleep(3600)
    """


class Hub(ThreadedServing, BaseHub):
    """The hub in a daemon thread of its own, with blocking ``start()``/``stop()`` (arguments as :class:`BaseHub`).

    ``stop()`` sends icEndSession to every client first. Usable as a context manager.
    """

    _label = "imb hub"
    _logger = LOGGER


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    duration: float | None = None,
    record: str | os.PathLike[str] | None = None,
    limits: ServerLimits | None = None,
    out: TextIO = sys.stdout,
    **proto_opts: Any,
) -> int:
    """Run an IMB3 hub until SIGINT or SIGTERM (or for ``duration`` seconds); blocking (``otwire serve imb-hub``).

    Connections, client info and disconnections are logged to ``out`` while it runs; both
    signals stop it cleanly (every client gets icEndSession, the capture is completed).

    Args:
        host: Address to listen on.
        port: TCP port (0 picks a free one; the banner shows it).
        duration: Stop after this many seconds (``None``: run until a signal).
        record: Write every connection into this pcap file (``otwire inspect`` reads it).
        limits: Connection, time and memory limits (defaults when ``None``).
        out: Where the banner and the log go.
        **proto_opts: More :class:`AsyncHub` arguments (``self_delivery``, ``notify``,
            ``heartbeat_interval``).

    Returns:
        0 after a clean stop, 2 when the hub cannot start (message on stderr).

    Raises:
        InvalidArgument: ``port`` is not in 0..65535.
    """
    hub = AsyncHub(host, port, record=record, limits=limits, **proto_opts)

    def banner() -> str:
        return f"otwire IMB3 hub on {hub.host}:{hub.port} (pyimb: imb.Client({hub.host!r}, {hub.port}, ...))"

    return run_until_signal(
        hub, command="otwire serve imb-hub", banner=banner, duration=duration, out=out, logger=LOGGER
    )
