"""The hub server: the shared server base running :class:`~otwire.protocols.imb.hub.IMBHub`; asyncio and threaded.

The generic driver (:class:`~otwire.transports.aio_server.PeerServer`) feeds the engine
and writes, after every input, the octets of every peer the input reached (one write
per peer and pass, however many events it held). Routing is the engine's: this layer
never writes into another connection's buffer.

Slow consumers do not block fast ones: reading is never paused for a subscriber. A
client holding more than ``limits.max_output_bytes`` (engine output plus socket buffer)
is dropped as a slow consumer, and over the global ``limits.memory_budget`` (output and
unfinished input of every client) the client holding most is dropped; the others keep
everything.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import warnings
from typing import Any, TextIO

from otwire.errors import InvalidArgument
from otwire.protocols import ConnectionTerminated, Event
from otwire.protocols.imb.config import IMBHubConfig, merge_config
from otwire.protocols.imb.events import ClientInfoReceived, ClientStatus, CommandRejected, EventInfo
from otwire.protocols.imb.hub import IMBHub
from otwire.servers._base import CLOSE_GRACE, ServerBase, check_limits
from otwire.servers._serving import AsyncServing, ThreadedServing, run_until_signal
from otwire.transports.limits import ServerLimits

__all__ = ["CLOSE_GRACE", "DEFAULT_PORT", "LOGGER", "AsyncHub", "BaseHub", "Hub", "serve"]

LOGGER = logging.getLogger("otwire.servers.imb")

#: The IMB3 hub's TCP port.
DEFAULT_PORT = 4000

_DEFAULT_CONFIG = IMBHubConfig()
#: Octets of a frame around its payload (header and trailer).
FRAME_OVERHEAD = 20


class BaseHub(ServerBase):
    """The listening socket, the routing engine and the client sockets of one hub.

    Connection and output limits come from ``limits`` alone (:class:`ServerLimits`);
    the hub's own limits (names, values, junk, heartbeat, ...) from ``config`` and the
    keyword ``options`` (:class:`~otwire.protocols.imb.config.IMBHubConfig`). The
    engine's output cap is ``limits.max_output_bytes`` (at least one frame of
    ``config.max_payload_size``): set it there, not in ``config``.

    Args:
        host: Address to listen on (``"0.0.0.0"`` for every interface).
        port: TCP port (0 picks a free one, see :attr:`port`).
        config: The hub's settings and limits (defaults when ``None``).
        record: Write every client connection into this pcap file while running.
        limits: Connection, time, output and memory limits (defaults when ``None``).
        max_queue_bytes: Deprecated: ``limits.max_output_bytes``.
        max_connections: Deprecated: ``limits.max_connections``.
        **options: Fields of ``IMBHubConfig`` replacing those of ``config``
            (``self_delivery=False``, ``notify=False``, ``heartbeat_interval=5.0``,
            ``max_name_bytes=256``, ...).

    Raises:
        InvalidArgument: ``port`` out of range, a limit or setting out of range, or
            ``config.max_output_bytes`` changed (use ``limits.max_output_bytes``).
        InvalidArgumentType: ``config`` is not an ``IMBHubConfig`` or an option is unknown.
    """

    _label = "IMB3 hub"
    _logger = LOGGER

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        config: IMBHubConfig | None = None,
        record: str | os.PathLike[str] | None = None,
        limits: ServerLimits | None = None,
        max_queue_bytes: int | None = None,
        max_connections: int | None = None,
        **options: Any,
    ) -> None:
        config = merge_config(IMBHubConfig, config, options)
        if config.max_output_bytes != _DEFAULT_CONFIG.max_output_bytes:
            raise InvalidArgument("set the hub's output cap with limits.max_output_bytes, not config.max_output_bytes")
        limits = _with_aliases(check_limits(limits), max_queue_bytes, max_connections)
        super().__init__(host, port, limits=limits, record=record)
        self.config = config
        self.engine = self._new_engine()

    @property
    def max_queue_bytes(self) -> int:
        """Most octets queued for one client (``limits.max_output_bytes``)."""
        return self.limits.max_output_bytes

    @property
    def max_connections(self) -> int:
        """Most clients at once (``limits.max_connections``)."""
        return self.limits.max_connections

    def _new_engine(self) -> IMBHub:
        # The driver enforces limits.max_output_bytes over the engine's queue and the socket
        # buffer; the engine's own cap is the same (or one whole frame when that is larger).
        cap = max(self.limits.max_output_bytes, self.config.max_payload_size + FRAME_OVERHEAD)
        self.engine = IMBHub(config=dataclasses.replace(self.config, max_output_bytes=cap))
        return self.engine

    # -- monitoring --------------------------------------------------------------------------

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

    # -- the server base's hooks -------------------------------------------------------------

    def _on_peer_event(self, peer: int, event: Event) -> None:
        sock = self.sessions.get(peer)
        name = sock.name if sock is not None else f"peer {peer}"
        if type(event) is ConnectionTerminated:
            self._log_end(peer, event)
        elif type(event) is ClientInfoReceived:
            connection = self.engine.connection_of(peer)
            uid = connection.unique_client_id if connection is not None else "?"
            LOGGER.info("%s: client %s info: owner %d %r", name, uid, event.owner_id, event.owner_name)
        elif type(event) is CommandRejected:
            LOGGER.info("%s: command %d rejected: %s", name, event.command_code, event.reason)
        else:  # subscriptions, publications, variables, ignored commands, drops, junk
            LOGGER.debug("%s: %s", name, event)

    async def _before_close(self) -> None:
        if self.driver is not None:
            self.engine.close_all(self.driver.now())  # every client gets icEndSession
            self.driver.process()

    async def _close(self) -> None:
        relayed, running = self.engine.relayed, self._driver is not None
        await super()._close()
        if running:
            LOGGER.info("%d events relayed", relayed)


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


def _with_aliases(limits: ServerLimits, max_queue_bytes: int | None, max_connections: int | None) -> ServerLimits:
    """Map the deprecated keyword aliases into ``limits``.

    Raises:
        InvalidArgument: A value out of range.
        InvalidArgumentType: A value of the wrong type.
    """
    aliases = {"max_output_bytes": max_queue_bytes, "max_connections": max_connections}
    given = {field: value for field, value in aliases.items() if value is not None}
    if not given:
        return limits
    warnings.warn(
        "BaseHub(max_queue_bytes=, max_connections=) are deprecated: pass limits=ServerLimits(...)",
        DeprecationWarning,
        stacklevel=3,
    )
    return dataclasses.replace(limits, **given)


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
        **proto_opts: More :class:`AsyncHub` arguments: ``config`` and the fields of
            :class:`~otwire.protocols.imb.config.IMBHubConfig` (``heartbeat_interval``,
            ``max_name_bytes``, ...; ``otwire serve imb-hub --help`` lists the options).

    Returns:
        0 after a clean stop, 2 when the hub cannot start (message on stderr).

    Raises:
        InvalidArgument: ``port`` is not in 0..65535, or a setting is out of range.
        InvalidArgumentType: an option is not a field of ``IMBHubConfig``.
    """
    hub = AsyncHub(host, port, record=record, limits=limits, **proto_opts)

    def banner() -> str:
        return f"otwire IMB3 hub on {hub.host}:{hub.port} (pyimb: imb.Client({hub.host!r}, {hub.port}, ...))"

    return run_until_signal(
        hub, command="otwire serve imb-hub", banner=banner, duration=duration, out=out, logger=LOGGER
    )
