"""An independent MXAccess Gateway written on grpcio (grpc.aio), for testing otwire's client.

It speaks the service from stubs that grpcio-tools generates at test time
(``grpcio_peer_stubs``), shares no code with otwire, and runs its own event loop in a thread so
that it never depends on the client's loop. What it serves lives in ``grpcio_peer_gateway``
(sessions, handles, writes, events) and ``grpcio_peer_galaxy`` (pages, deploy events).

Keys: :data:`KEY` has every scope, :data:`READER` lacks ``invoke:write`` (writes answer
PERMISSION_DENIED), anything else is UNAUTHENTICATED (the message echoes the presented key,
so that tests can prove the client redacts it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import grpc

from .grpcio_peer_stubs import load_stubs

KEY = "mxgw_testkey_S3cr3tV4lue"
READER = "mxgw_reader_R34d0nly"
SCOPES = {KEY: {"session", "invoke:read", "invoke:write", "events:read", "metadata:read"}}
SCOPES[READER] = SCOPES[KEY] - {"invoke:write"}


class Auth:
    """Bearer-key checks and a record of the metadata every call carried."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    async def check(self, context: grpc.aio.ServicerContext, method: str, scope: str) -> None:
        metadata = dict(context.invocation_metadata() or ())
        header = metadata.get("authorization")
        self.seen.append((method, header))
        key = header.removeprefix("Bearer ") if isinstance(header, str) and header.startswith("Bearer ") else None
        if key not in SCOPES:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"invalid API key {key!r}")
        if scope not in SCOPES[key]:  # type: ignore[index]
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"scope {scope} missing")


class GrpcioPeer:
    """The grpcio gateway on ``127.0.0.1:<port>`` in its own thread; use as a context manager."""

    def __init__(self, *, tls: tuple[bytes, bytes] | None = None) -> None:
        from .grpcio_peer_galaxy import Galaxy
        from .grpcio_peer_gateway import Gateway

        self.stubs = load_stubs()
        self.auth = Auth()
        # The generated servicers answer UNIMPLEMENTED for what the peer does not serve (alarms).
        gateway = type("PeerGateway", (Gateway, self.stubs.mx_grpc.MxAccessGatewayServicer), {})
        galaxy = type("PeerGalaxy", (Galaxy, self.stubs.galaxy_grpc.GalaxyRepositoryServicer), {})
        self.gateway: Gateway = gateway(self.stubs, self.auth)
        self.galaxy: Galaxy = galaxy(self.stubs, self.auth)
        self.port = 0
        self._tls = tls
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grpcio-peer", daemon=True)
        self._error: BaseException | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> GrpcioPeer:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"grpcio peer did not start: {self._error!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def call(self, function: Callable[[], Any]) -> None:
        """Run ``function`` in the peer's loop (thread-safe), e.g. ``peer.call(peer.galaxy.deploy)``."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(function)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # pragma: no cover - reported by __enter__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = grpc.aio.server()
        self.stubs.mx_grpc.add_MxAccessGatewayServicer_to_server(self.gateway, server)
        self.stubs.galaxy_grpc.add_GalaxyRepositoryServicer_to_server(self.galaxy, server)
        if self._tls is None:
            self.port = server.add_insecure_port("127.0.0.1:0")
        else:
            key, chain = self._tls
            credentials = grpc.ssl_server_credentials([(key, chain)])
            self.port = server.add_secure_port("127.0.0.1:0", credentials)
        await server.start()
        self._ready.set()
        await self._stop.wait()
        self.gateway.shutdown()
        self.galaxy.shutdown()
        await server.stop(grace=0.5)
