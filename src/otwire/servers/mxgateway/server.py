"""The MXAccess Gateway simulator: grpclib server, tickers, TLS, limits, start and stop.

:class:`AsyncServer` runs in the caller's event loop; :class:`Server` in a daemon thread
with blocking ``start()``/``stop()``; :func:`serve` is ``otwire serve mxgateway``. Both
services (``MxAccessGateway`` and ``GalaxyRepository``) listen on one port, in plaintext
by default or with TLS (ALPN ``h2``) from ``tls_cert``/``tls_key``. ``specs/mxgateway/notes.md``,
"Simulator".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import ssl as _ssl
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any, ClassVar, TextIO

from grpclib.events import RecvRequest, listen

from otwire.errors import InvalidArgument, InvalidArgumentType, LocalProtocolError, TransportError
from otwire.servers._base import check_limits, check_port
from otwire.servers._serving import AsyncServing, ThreadedServing, run_in_loop, run_until_signal
from otwire.servers.mxgateway._transport import LimitedCodec, LimitedServer
from otwire.servers.mxgateway.auth import ApiKeys, parse_api_keys
from otwire.servers.mxgateway.galaxy import GalaxyRepository
from otwire.servers.mxgateway.model import GatewayModel
from otwire.servers.mxgateway.service import LOGGER, GalaxyService, GatewayService, StreamTracker, utc_now
from otwire.transports.limits import MIB, ServerLimits

__all__ = ["DEFAULT_PORT", "LOGGER", "AsyncServer", "BaseServer", "Server", "serve"]

#: The gateway's usual gRPC port.
DEFAULT_PORT = 5000


def _number(name: str, value: object, *, low: float, allow_low: bool) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidArgument(f"{name}={value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentType(f"{name}={value!r} must be a number")
    if not math.isfinite(value) or value < low or (value == low and not allow_low):
        raise InvalidArgument(f"{name}={value!r} must be finite and {'>=' if allow_low else '>'} {low}")
    return float(value)


def _count(name: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidArgument(f"{name}={value!r} must be an int >= {low}")
    return value


def tls_context(cert: str | os.PathLike[str] | None, key: str | os.PathLike[str] | None) -> _ssl.SSLContext | None:
    """A server TLS context offering ALPN ``h2`` (``None`` when neither file is given).

    Raises:
        InvalidArgument: Only one of the two given, or the files cannot be loaded.
    """
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InvalidArgument("TLS needs both tls_cert and tls_key")
    context = _ssl.create_default_context(_ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, _ssl.SSLError) as exc:
        raise InvalidArgument(f"cannot load the TLS certificate/key: {exc}") from exc
    context.set_alpn_protocols(["h2"])
    return context


class BaseServer:
    """The grpclib server, the model, the Galaxy and the tickers of one simulator.

    Args:
        host: Address to listen on.
        port: TCP port (0 picks a free one, see :attr:`port`).
        limits: ``max_connections`` and ``max_per_address`` apply (other fields belong to
            the octet-stream servers); defaults when ``None``.
        record: Not supported (grpclib owns the sockets): must be ``None``.
        api_key: ``KEY`` or ``KEY:scope,scope`` (several separated by spaces), or an
            iterable of them; ``None``: authentication off.
        rate: Value changes of every advised item per second (Hz; 0: never).
        items: Attributes of the ``SimTags`` object (``SimTags.Tag0001`` ...).
        tls_cert: PEM certificate chain file (with ``tls_key``: TLS, ALPN h2).
        tls_key: PEM private key file.
        deploy_interval: Seconds between simulated Galaxy deploys.
        slow_delay: Seconds ``Fault.Slow*`` commands wait.
        event_buffer: Events a ``StreamEvents`` subscriber may fall behind before it is dropped.
        replay_capacity: Events each session keeps for resumed streams.
        max_sessions: Sessions open at once.
        max_items: Items per session.
        max_request_bytes: Longest request message accepted (octets).
        session_idle_timeout: Seconds a session without calls and streams lives on (then it
            is closed, as if the client had crashed).

    Raises:
        InvalidArgument: A value out of range, an unknown scope, one TLS file without the
            other, an unreadable TLS file, or ``record`` given.
        InvalidArgumentType: ``limits`` is not a ``ServerLimits``.
    """

    _label: ClassVar[str] = "mxgateway simulator"
    _logger: ClassVar[logging.Logger] = LOGGER
    close_grace: float = 1.0

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        limits: ServerLimits | None = None,
        record: str | os.PathLike[str] | None = None,
        api_key: str | Iterable[str] | None = None,
        rate: float | str = 1.0,
        items: int = 100,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        deploy_interval: float = 60.0,
        slow_delay: float = 2.0,
        event_buffer: int = 10_000,
        replay_capacity: int = 4096,
        max_sessions: int = 256,
        max_items: int = 100_000,
        max_request_bytes: int = 4 * MIB,
        session_idle_timeout: float = 600.0,
    ) -> None:
        if record is not None:
            raise InvalidArgument("record= is not supported by the mxgateway simulator (grpclib owns the sockets)")
        self._host, self._port = host, check_port(port)
        self.limits = check_limits(limits)
        self.api_keys = ApiKeys(parse_api_keys(api_key))
        self.rate = _number("rate", rate, low=0.0, allow_low=True)
        self.items = _count("items", items, 0)
        self.deploy_interval = _number("deploy_interval", deploy_interval, low=0.0, allow_low=False)
        self.slow_delay = _number("slow_delay", slow_delay, low=0.0, allow_low=False)
        self.event_buffer = _count("event_buffer", event_buffer)
        self.replay_capacity = _count("replay_capacity", replay_capacity)
        self.max_sessions, self.max_items = _count("max_sessions", max_sessions), _count("max_items", max_items)
        self.max_request_bytes = _count("max_request_bytes", max_request_bytes)
        self.session_idle_timeout = _number("session_idle_timeout", session_idle_timeout, low=0.0, allow_low=False)
        self.ssl = tls_context(tls_cert, tls_key)
        self.lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._grpc: LimitedServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._bound_port = 0
        self.model: GatewayModel | None = None
        self.galaxy: GalaxyRepository | None = None
        self.gateway_service: GatewayService | None = None
        self.galaxy_service: GalaxyService | None = None
        self.tracker: StreamTracker | None = None

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
        return self._grpc is not None

    @property
    def tls(self) -> bool:
        """True when serving TLS."""
        return self.ssl is not None

    async def _open(self) -> None:
        if self._loop is not None:
            raise LocalProtocolError(f"the {self._label} is already running")
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        self.model = GatewayModel(
            max_sessions=self.max_sessions, max_items=self.max_items, replay_capacity=self.replay_capacity
        )
        self.galaxy = GalaxyRepository(utc_now(), sim_items=self.items)
        self.tracker = StreamTracker()
        self.gateway_service = GatewayService(
            self.model, self.tracker, event_buffer=self.event_buffer, slow_delay=self.slow_delay
        )
        self.galaxy_service = GalaxyService(self.galaxy, self.tracker)
        grpc = LimitedServer(
            [self.gateway_service, self.galaxy_service],
            limits=self.limits,
            codec=LimitedCodec(self.max_request_bytes),
            logger=LOGGER,
        )
        if self.api_keys.enabled:
            listen(grpc, RecvRequest, self.api_keys.on_request)
        try:
            await grpc.start(self._host, self._port, ssl=self.ssl)
        except OSError as exc:
            self._loop = None
            raise TransportError(f"cannot listen on {self._host}:{self._port}: {exc}") from exc
        self._grpc = grpc
        listener: Any = grpc._server
        sockets = listener.sockets if listener is not None else ()
        self._bound_port = int(sockets[0].getsockname()[1]) if sockets else self._port
        loop = self._loop
        if self.rate > 0:
            self._tasks.append(loop.create_task(self._tick_values()))
        self._tasks.append(loop.create_task(self._tick_deploys()))
        self._tasks.append(loop.create_task(self._expire_sessions()))
        LOGGER.info(
            "%s listening on %s:%d (%s)", self._label, self._host, self.port, "TLS" if self.tls else "plaintext"
        )

    async def _tick_values(self) -> None:
        period = 1.0 / self.rate
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while self.model is not None:
            deadline += period
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            self.model.tick(utc_now())

    async def _tick_deploys(self) -> None:
        while self.galaxy is not None and self.galaxy_service is not None:
            await asyncio.sleep(self.deploy_interval)
            event = self.galaxy.deploy(utc_now())
            LOGGER.info("galaxy deployed (cache_sequence %d)", event.sequence)
            self.galaxy_service.publish(event)

    async def _expire_sessions(self) -> None:
        period = min(self.session_idle_timeout / 4, 5.0)
        while self.model is not None:
            await asyncio.sleep(period)
            for session_id in self.model.expire(time.monotonic(), self.session_idle_timeout):
                LOGGER.warning("session %s closed: idle for %s s", session_id, self.session_idle_timeout)

    def deploy(self) -> int:
        """Simulate a Galaxy deploy now (from the server's loop, or any thread); return the new cache sequence.

        Raises:
            LocalProtocolError: The server is not running.
        """

        def run() -> int:
            if self.galaxy is None or self.galaxy_service is None:
                raise LocalProtocolError(f"the {self._label} is not running")
            event = self.galaxy.deploy(utc_now())
            self.galaxy_service.publish(event)
            return int(event.sequence)

        result = run_in_loop(self._loop, self._loop_thread, run)
        if result is None:
            raise LocalProtocolError(f"the {self._label} is not running")
        return result

    async def _close(self) -> None:
        grpc, self._grpc = self._grpc, None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.tracker is not None:
            self.tracker.closing = True
        if self.model is not None:
            self.model.close_all()  # StreamEvents end in order
        if self.galaxy_service is not None:
            self.galaxy_service.end_watches()
        if self.tracker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.tracker.idle.wait(), self.close_grace)
        if grpc is not None:
            grpc.close()
            grpc.abort_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(grpc.wait_closed(), self.close_grace)
            LOGGER.info("%s stopped", self._label)
        self._loop, self._bound_port = None, 0
        self.model = self.galaxy = None
        self.gateway_service = self.galaxy_service = None


class AsyncServer(AsyncServing, BaseServer):
    """The simulator in the caller's asyncio event loop (arguments as :class:`BaseServer`).

    >>> async def main() -> None:  # doctest: +SKIP
    ...     async with AsyncServer(port=5000) as server:
    ...         await asyncio.sleep(3600)
    """


class Server(ThreadedServing, BaseServer):
    """The simulator in a daemon thread, with blocking ``start()``/``stop()`` (arguments as :class:`BaseServer`)."""


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
    """Run the simulator until SIGINT or SIGTERM (or ``duration`` seconds); blocking (``otwire serve mxgateway``).

    Args:
        host: Address to listen on.
        port: TCP port (0 picks a free one; the banner shows it).
        duration: Stop after this many seconds (``None``: run until a signal).
        record: Not supported (``otwire`` exits 2 when given).
        limits: Connection limits (defaults when ``None``).
        out: Where the banner and the log go.
        **options: More :class:`BaseServer` arguments (``api_key``, ``rate``, ``items``,
            ``tls_cert``, ``tls_key``, ``deploy_interval``, ``slow_delay``, ``event_buffer``, ...).

    Returns:
        0 after a clean stop, 2 when the server cannot start (message on stderr).

    Raises:
        InvalidArgument: A bad option (``otwire`` exits 2).
    """
    server = AsyncServer(host, port, record=record, limits=limits, **options)

    def banner() -> str:
        scheme = "TLS" if server.tls else "plaintext"
        auth = "API keys required" if server.api_keys.enabled else "no authentication"
        return f"otwire MXAccess Gateway simulator on {server.host}:{server.port} ({scheme}, {auth})"

    return run_until_signal(
        server, command="otwire serve mxgateway", banner=banner, duration=duration, out=out, logger=LOGGER
    )
