"""The i3X server: the shared server base running :class:`~otwire.protocols.i3x.server.I3XServer`.

The engine answers every request; this layer only moves octets (the generic driver),
and feeds the demo plant's new values to the engine once a second
(:meth:`~otwire.protocols.i3x.server.I3XServer.publish`), so that subscribers see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeVar

from otwire.errors import InvalidArgument
from otwire.protocols import ConnectionTerminated, Event
from otwire.protocols.i3x._server_faults import Fault, parse_faults
from otwire.protocols.i3x._server_profiles import get_profile
from otwire.protocols.i3x.config import I3XServerConfig
from otwire.protocols.i3x.events import RequestHandled
from otwire.protocols.i3x.server import I3XServer
from otwire.protocols.i3x.space import AddressSpace
from otwire.servers._base import ServerBase
from otwire.servers._serving import AsyncServing, ThreadedServing, run_until_signal
from otwire.servers.i3x.demo import DemoPlant
from otwire.transports.limits import ServerLimits

__all__ = ["DEFAULT_PORT", "LOGGER", "AsyncServer", "BaseServer", "Server", "parse_basic", "serve"]

LOGGER = logging.getLogger("otwire.servers.i3x")
T = TypeVar("T")

#: The i3X server's TCP port (HTTP).
DEFAULT_PORT = 8080


def parse_basic(text: str) -> tuple[str, str]:
    """Split ``--basic`` text ``"user:password"`` at its first colon.

    Raises:
        InvalidArgument: No colon, or an empty user.
    """
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise InvalidArgument("--basic must be USER:PASSWORD with a non-empty user (value not shown)")
    return user, password


class BaseServer(ServerBase):
    """The listening socket, the i3X engine and the HTTP connections of one server.

    Args:
        host: Address to listen on (``"0.0.0.0"`` for every interface).
        port: TCP port (0 picks a free one, see :attr:`port`).
        space: The data served; ``None`` serves the demo plant, whose values change every
            ``tick`` seconds.
        config: Engine settings (authentication, limits); keyword arguments of
            :class:`~otwire.protocols.i3x.config.I3XServerConfig` may be given instead.
        tick: Seconds between demo value changes.
        record: Write every connection into this pcap file while running.
        limits: Connection, time and memory limits (defaults when ``None``).
        profile: Quirk profile of the engine (``"1.0"``, ``"cesmii-demo"``, ``"i3x2ua"``,
            ``"node-i3x"``, ``"beta"``; specs/i3x/notes.md).
        faults: Faults injected from the start, for testing clients (notes §10): ``--fault`` text
            (``"PATH:STATUS[:RETRY_AFTER],PATH:stall"``) or ``Fault`` objects; none by default.
        **config_options: :class:`~otwire.protocols.i3x.config.I3XServerConfig` fields;
            ``basic_auth`` may also be the text ``"user:password"``.

    Raises:
        InvalidArgument: ``port`` out of range, a config value is invalid, ``basic_auth``
            text has no ``:`` or an empty user, ``profile`` is unknown, or ``faults`` is malformed.
        InvalidArgumentType: ``limits`` is not a ``ServerLimits``.
    """

    _label = "i3X server"
    _logger = LOGGER

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        space: AddressSpace | None = None,
        config: I3XServerConfig | None = None,
        tick: float = 1.0,
        record: str | os.PathLike[str] | None = None,
        limits: ServerLimits | None = None,
        profile: str = "1.0",
        faults: str | Sequence[Fault] = (),
        **config_options: Any,
    ) -> None:
        super().__init__(host, port, limits=limits, record=record)
        if isinstance(config_options.get("basic_auth"), str):
            config_options["basic_auth"] = parse_basic(config_options["basic_auth"])
        self.config = config if config is not None else I3XServerConfig(**config_options)
        self.profile = get_profile(profile)
        self.demo = DemoPlant(time.time()) if space is None else None
        self.space: AddressSpace = space if space is not None else self.demo.space  # type: ignore[union-attr]
        self.tick = tick
        self.engine: I3XServer[int] = self._new_engine()
        for fault in parse_faults(faults) if isinstance(faults, str) else faults:
            self.engine.inject_fault(fault)
        self._ticker: asyncio.Task[None] | None = None

    def _new_engine(self) -> I3XServer[int]:
        self.engine = I3XServer(self.space, self.config, profile=self.profile)
        return self.engine

    # -- faults for testing clients (notes §10); callable from any thread --------------------

    def inject_fault(
        self, path: str, status: int | None = 503, *, retry_after: int | None = None, count: int | None = None
    ) -> None:
        """Make requests to ``path`` (below the base path, or ``"*"``) answer ``status`` with ``Retry-After``.

        ``status=None`` stalls the streams opened on ``path`` after their greeting (half-open).
        ``count`` limits it to that many requests (``None``: until :meth:`clear_faults`).

        Raises:
            InvalidArgument: ``path``, ``status``, ``retry_after`` or ``count`` is out of range.
        """
        fault = Fault(path=path, status=status, retry_after=retry_after, count=count)
        self._in_loop(lambda: self.engine.inject_fault(fault))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._in_loop(self.engine.clear_faults)

    def stall_stream(self, subscription_id: str) -> bool:
        """Make the open stream of ``subscription_id`` silent without closing it; False when it has none."""
        return bool(self._in_loop(lambda: self.engine.stall_stream(subscription_id)))

    def _in_loop(self, action: Callable[[], T]) -> T | None:
        return action() if self._loop is None else self._call(action)

    # -- the server base's hooks -------------------------------------------------------------

    def _on_peer_event(self, peer: int, event: Event) -> None:
        if type(event) is ConnectionTerminated:
            self._log_end(peer, event)
        elif type(event) is RequestHandled:
            sock = self.sessions.get(peer)
            name = sock.name if sock is not None else f"peer {peer}"
            LOGGER.info("%s: %s %s -> %d", name, event.method, event.target, event.status)

    async def _after_open(self) -> None:
        if self.demo is not None:
            self._ticker = asyncio.get_running_loop().create_task(self._run_demo(self.demo))

    async def _before_close(self) -> None:
        task, self._ticker = self._ticker, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run_demo(self, demo: DemoPlant) -> None:
        while True:
            await asyncio.sleep(self.tick)
            driver = self.driver
            if driver is None:
                continue
            now = driver.now()
            self.engine.publish_many(demo.tick(time.time()), now)
            driver.process_soon()


class AsyncServer(AsyncServing, BaseServer):
    """The i3X server in the caller's asyncio event loop (arguments as :class:`BaseServer`).

    >>> async def main() -> None:  # doctest: +SKIP
    ...     async with AsyncServer(port=8080) as server:
    ...         await asyncio.sleep(3600)
    """


class Server(ThreadedServing, BaseServer):
    """The i3X server in a daemon thread, with blocking ``start()``/``stop()`` (arguments as :class:`BaseServer`)."""

    _label = "i3X server"
    _logger = LOGGER


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    duration: float | None = None,
    record: str | os.PathLike[str] | None = None,
    limits: ServerLimits | None = None,
    out: TextIO = sys.stdout,
    **options: Any,
) -> int:
    """Run the demo i3X server until SIGINT or SIGTERM (or ``duration`` seconds); blocking (``otwire serve i3x``).

    Args:
        host: Address to listen on.
        port: TCP port (0 picks a free one; the banner shows it).
        duration: Stop after this many seconds (``None``: run until a signal).
        record: Write every connection into this pcap file.
        limits: Connection, time and memory limits (defaults when ``None``).
        out: Where the banner and the log go.
        **options: More :class:`AsyncServer` arguments (``bearer_token``, ``basic_auth`` (also
            ``"user:password"`` text), ``profile``, ``queue_size``, ``max_depth_limit``, ``tick``,
            ``faults``, ...).

    Returns:
        0 after a clean stop, 2 when the server cannot start (message on stderr).

    Raises:
        InvalidArgument: ``port`` is not in 0..65535, or an option is invalid (``otwire`` exits 2).
    """
    server = AsyncServer(host, port, record=record, limits=limits, **options)

    def banner() -> str:
        return f"otwire i3X server on http://{server.host}:{server.port}{server.config.base_path}/info"

    return run_until_signal(
        server, command="otwire serve i3x", banner=banner, duration=duration, out=out, logger=LOGGER
    )
