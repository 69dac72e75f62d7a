"""What the simulator adds to grpclib's server: connection limits, a request size cap, forced close.

grpclib owns HTTP/2; :class:`LimitedServer` wraps each connection's protocol in a
:class:`Guard` that refuses connections over ``ServerLimits.max_connections`` and
``max_per_address`` (closed at once, logged once) and lets the simulator close every
connection when it stops (grpclib's own ``close()`` leaves open connections alone).
:class:`LimitedCodec` refuses request messages over a size with RESOURCE_EXHAUSTED and sends
pre-encoded events (:mod:`._wire`) as they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Collection
from typing import Any

from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError
from grpclib.protocol import H2Protocol
from grpclib.server import Server

from otwire.servers.mxgateway._wire import Preencoded
from otwire.transports.limits import ServerLimits

__all__ = ["Guard", "LimitedCodec", "LimitedServer"]


class LimitedCodec(ProtoCodec):
    """grpclib's protobuf codec, refusing messages over ``max_bytes`` octets."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def decode(self, data: bytes, message_type: Any) -> Any:
        """Decode one message.

        Raises:
            GRPCError: RESOURCE_EXHAUSTED when ``data`` is longer than ``max_bytes``,
                INVALID_ARGUMENT when it is not a valid message.
        """
        if len(data) > self.max_bytes:
            raise GRPCError(Status.RESOURCE_EXHAUSTED, f"request of {len(data)} octets over {self.max_bytes}")
        try:
            return super().decode(data, message_type)
        except Exception as exc:  # betterproto2 raises EOFError, UnicodeDecodeError, ValueError ...
            name = getattr(message_type, "__name__", "message")
            raise GRPCError(Status.INVALID_ARGUMENT, f"undecodable {name}: {type(exc).__name__}") from exc

    def encode(self, message: Any, message_type: Any) -> bytes:
        """Encode one message; :class:`~._wire.Preencoded` bytes go out as they are."""
        if isinstance(message, Preencoded):
            return message.data
        return super().encode(message, message_type)


class Guard(asyncio.Protocol):
    """One connection: admitted (then grpclib's ``H2Protocol`` runs it) or refused at once."""

    def __init__(self, inner: H2Protocol, server: LimitedServer) -> None:
        self.inner, self.server = inner, server
        self.transport: asyncio.BaseTransport | None = None
        self.address = ""
        self.admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        reason = self.server.refusal(self.address)
        if reason is not None:
            self.server.logger.warning("%s: connection refused (%s)", self.address, reason)
            self.inner.handler.close()
            transport.close()
            return
        self.admitted = True
        self.server.admit(self)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.admitted:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None

    def pause_writing(self) -> None:
        if self.admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.admitted:
            self.admitted = False
            self.server.release(self)
            self.inner.connection_lost(exc)

    def abort(self) -> None:
        """Close the connection now (its streams end as cancelled)."""
        if self.admitted:
            self.inner.processor.close("server stopped")
        if self.transport is not None:
            self.transport.close()


class LimitedServer(Server):
    """grpclib's ``Server`` with connection limits and a forced close of every connection."""

    def __init__(
        self, handlers: Collection[Any], *, limits: ServerLimits, codec: ProtoCodec, logger: logging.Logger
    ) -> None:
        super().__init__(handlers, codec=codec)
        self.limits, self.logger = limits, logger
        self.guards: set[Guard] = set()
        self.per_address: Counter[str] = Counter()

    def _protocol_factory(self) -> Any:
        return Guard(super()._protocol_factory(), self)

    def refusal(self, address: str) -> str | None:
        """Why a new connection from ``address`` is refused (``None``: admitted)."""
        if len(self.guards) >= self.limits.max_connections:
            return f"{self.limits.max_connections} connections open (max_connections)"
        if self.per_address[address] >= self.limits.max_per_address:
            return f"{self.limits.max_per_address} connections from this address (max_per_address)"
        return None

    def admit(self, guard: Guard) -> None:
        """Count an admitted connection."""
        self.guards.add(guard)
        self.per_address[guard.address] += 1

    def release(self, guard: Guard) -> None:
        """Forget a closed connection."""
        self.guards.discard(guard)
        self.per_address[guard.address] -= 1
        if self.per_address[guard.address] <= 0:
            del self.per_address[guard.address]

    def abort_all(self) -> None:
        """Close every open connection (after the streams were ended in order)."""
        for guard in list(self.guards):
            guard.abort()
