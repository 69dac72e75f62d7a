"""The gRPC channel shared by both clients: endpoint, TLS, bearer key, timeouts, error mapping.

Notes §client "Connection". Every call carries ``authorization: Bearer <key>`` in its own
metadata (a stub's per-call metadata replaces its default, so it is always passed per call).
Every exception leaving a call is one of ``errors.py``; the key is removed from every text,
and from the DEBUG records of ``hpack`` (grpclib's header codec logs every header it encodes).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import logging
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import betterproto2
from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.const import Cardinality, Status
from grpclib.encoding.base import StatusDetailsCodecBase
from grpclib.encoding.proto import ProtoCodec, ProtoStatusDetailsCodec
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

from otwire.codecs.mxgateway import fast_parse, fast_parser
from otwire.errors import InvalidArgument, InvalidArgumentType, InvalidState

from ._stream import message_batches
from .errors import (
    MxGatewayAuthenticationError,
    MxGatewayDeadlineError,
    MxGatewayError,
    MxGatewayPermissionError,
    MxGatewayRpcError,
    MxGatewayUnavailableError,
)

__all__ = ["DEFAULT_PORT", "FastProtoCodec", "GatewayConnection", "parse_endpoint"]

log = logging.getLogger("otwire.clients.mxgateway")
T = TypeVar("T")
M = TypeVar("M", bound=betterproto2.Message)
#: Port used when the endpoint names none.
DEFAULT_PORT = 5000
REDACTED = "***"

_BY_STATUS: dict[Status, type[MxGatewayError]] = {
    Status.UNAUTHENTICATED: MxGatewayAuthenticationError,
    Status.PERMISSION_DENIED: MxGatewayPermissionError,
    Status.UNAVAILABLE: MxGatewayUnavailableError,
    Status.DEADLINE_EXCEEDED: MxGatewayDeadlineError,
}


class _KeyFilter(logging.Filter):
    """Redacts the keys of open connections from third-party log records (hpack logs headers at DEBUG)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: collections.Counter[str] = collections.Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.keys:
            return True
        try:
            text = record.getMessage()
        except Exception:
            return True
        if any(key in text for key in self.keys):
            for key in self.keys:
                text = text.replace(key, REDACTED)
            record.msg, record.args = text, ()
        return True


_KEY_FILTER = _KeyFilter()
for _name in ("hpack.hpack", "hpack.table"):
    logging.getLogger(_name).addFilter(_KEY_FILTER)


class FastProtoCodec(ProtoCodec):
    """grpclib's protobuf codec, decoding betterproto2 replies with the codec's :func:`fast_parse`.

    The objects are equal to ``message_type.FromString(data)`` (notes §"Fast path"); requests
    are encoded by betterproto2 as before.
    """

    def decode(self, data: bytes, message_type: Any) -> Any:
        """Decode one reply or event (as ``message_type.FromString``, faster)."""
        if isinstance(message_type, type) and issubclass(message_type, betterproto2.Message):
            return fast_parse(message_type, data)
        return super().decode(data, message_type)


def _status_details_codec() -> StatusDetailsCodecBase | None:
    """What grpclib's ``Channel`` picks without a codec argument: rich status details when googleapis is there."""
    try:
        found = importlib.util.find_spec("google.rpc.status_pb2") is not None
    except ImportError:
        found = False
    return ProtoStatusDetailsCodec() if found else None


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Split ``"host:port"`` (also ``"[v6]:port"``, ``"http(s)://host:port"``, bare ``"host"``).

    Raises:
        InvalidArgument: empty host or one with spaces, a port that is not 1..65535, an unclosed ``[`` or
            anything but ``:port`` after ``]``.
    """
    text = endpoint.strip()
    for scheme in ("http://", "https://", "grpc://", "grpcs://", "dns:///"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    text = text.rstrip("/")
    host, port_text = text, ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise InvalidArgument(f"endpoint {endpoint!r}: '[' without a closing ']'")
        if rest and not rest.startswith(":"):
            raise InvalidArgument(f"endpoint {endpoint!r}: {rest!r} after ']' (expected ':port')")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        port = int(port_text) if port_text else DEFAULT_PORT
    except ValueError:
        raise InvalidArgument(f"endpoint {endpoint!r}: port {port_text!r} is not a number") from None
    if not host or any(ch.isspace() for ch in host) or not 0 < port < 65536:
        raise InvalidArgument(f"endpoint {endpoint!r} is not host:port")
    return host, port


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context: the system roots, or only ``ca_file``; ALPN ``h2`` for gRPC.

    Raises:
        InvalidArgument: ``ca_file`` cannot be read as PEM certificates.
    """
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"ca_file {ca_file!r} cannot be loaded: {exc}") from None
    context.set_alpn_protocols(["h2"])
    return context


class GatewayConnection:
    """One grpclib channel with the key, TLS and default timeout; the base of both clients.

    Args:
        endpoint: ``"host:port"``.
        api_key: The gateway API key (``mxgw_<id>_<secret>``); never shown anywhere.
        plaintext: No TLS (h2c). TLS is the default.
        ca_file: PEM file of the CA(s) to trust instead of the system roots.
        server_name_override: Name to verify the certificate against and send as SNI.
        timeout: Default per-call timeout in seconds for unary calls (``None``: no deadline).

    Raises:
        InvalidArgumentType: ``api_key`` not a ``str``.
        InvalidArgument: bad endpoint, a key with characters not allowed in metadata,
            ``ca_file``/``server_name_override`` with ``plaintext``, an unreadable ``ca_file``.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str,
        plaintext: bool = False,
        ca_file: str | None = None,
        server_name_override: str | None = None,
        timeout: float | None = None,
    ) -> None:
        if not isinstance(api_key, str):
            raise InvalidArgumentType("api_key must be a str")
        if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in api_key):
            raise InvalidArgument("api_key contains characters that cannot be sent in gRPC metadata")
        if plaintext and (ca_file or server_name_override):
            raise InvalidArgument("ca_file and server_name_override need TLS (plaintext=False)")
        self.endpoint = endpoint
        self.host, self.port = parse_endpoint(endpoint)
        self.plaintext = plaintext
        self.ca_file = ca_file
        self.server_name_override = server_name_override
        self.timeout = timeout
        self.__api_key = api_key
        context = None if plaintext else tls_context(ca_file)
        config = Configuration(ssl_target_name_override=server_name_override) if server_name_override else None
        self.channel = Channel(
            self.host,
            self.port,
            ssl=context,
            config=config,
            codec=FastProtoCodec(),
            status_details_codec=_status_details_codec(),
        )
        self._closed = False
        if api_key:
            _KEY_FILTER.keys[api_key] += 1

    def __repr__(self) -> str:
        tls = "plaintext" if self.plaintext else "tls"
        return f"<{type(self).__name__} {self.endpoint} {tls} api_key={REDACTED}>"

    @property
    def metadata(self) -> dict[str, str]:
        """The per-call metadata: ``authorization: Bearer <key>`` (when a key is set)."""
        return {"authorization": f"Bearer {self.__api_key}"} if self.__api_key else {}

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        return text.replace(self.__api_key, REDACTED) if self.__api_key else text

    @classmethod
    async def opened(cls, connect_timeout: float | None, **options: Any) -> GatewayConnection:
        """A connection built from ``options`` (the constructor's keywords) and opened; closed again on failure.

        Raises:
            InvalidArgument: bad options (see the class).
            InvalidArgumentType: ``api_key`` not a ``str``.
            MxGatewayUnavailableError: no connection (refused, DNS, TLS handshake).
            MxGatewayDeadlineError: not connected within ``connect_timeout`` seconds.
        """
        connection = cls(**options)
        try:
            await connection.open(connect_timeout)
        except BaseException:
            connection.close()
            raise
        return connection

    async def open(self, timeout: float | None) -> None:
        """Connect now (grpclib connects lazily) so that an unreachable gateway fails here.

        Raises:
            MxGatewayUnavailableError: no connection (refused, DNS, TLS handshake).
            MxGatewayDeadlineError: not connected within ``timeout`` seconds.
        """
        await self.call("connect", self.channel.__connect__, timeout=None, deadline=timeout)

    def close(self) -> None:
        """Close the channel (idempotent); streams still open end with ``MxGatewayUnavailableError``."""
        if not self._closed:
            self._closed = True
            self.channel.close()
            if self.__api_key:
                _KEY_FILTER.keys[self.__api_key] -= 1
                if _KEY_FILTER.keys[self.__api_key] <= 0:
                    del _KEY_FILTER.keys[self.__api_key]

    def _timeout(self, timeout: float | None) -> float | None:
        if timeout is not None and timeout <= 0:
            raise InvalidArgument(f"timeout must be > 0 seconds, got {timeout}")
        return self.timeout if timeout is None else timeout

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidState("the client is closed")

    async def unary(self, what: str, start: Callable[[float | None], Awaitable[T]], timeout: float | None) -> T:
        """Run one unary call, ``start(effective_timeout)``, with the default timeout and error mapping.

        Raises:
            InvalidArgument: ``timeout`` <= 0.
        """
        effective = self._timeout(timeout)
        return await self.call(what, lambda: start(effective), timeout=effective)

    async def call(
        self, what: str, start: Callable[[], Awaitable[T]], *, timeout: float | None, deadline: float | None = None
    ) -> T:
        """Run one gRPC call (``start()``), mapping every failure into ``errors.py``.

        ``deadline`` is an extra local bound (seconds), used where grpclib has no timeout.
        """
        self._check_open()
        log.debug("mxgateway %s", what)
        try:
            if deadline is not None:
                return await asyncio.wait_for(start(), deadline)
            return await start()
        except Exception as exc:
            raise self.map_error(what, exc, timeout) from None

    async def stream(self, what: str, source: Callable[[], AsyncIterator[T]]) -> AsyncGenerator[T, None]:
        """Iterate a server stream with error mapping; closes the gRPC stream when left early.

        ``break``, ``aclose()`` or cancelling the consuming task closes ``source`` at once
        (``contextlib.aclosing``), which resets the HTTP/2 stream and cancels the server side.
        """
        self._check_open()
        log.debug("mxgateway %s stream opened", what)
        try:
            async with contextlib.aclosing(cast("AsyncGenerator[T, None]", source())) as messages:
                async for message in messages:
                    yield message
        except Exception as exc:
            raise self.map_error(what, exc, None) from None
        finally:
            log.debug("mxgateway %s stream closed", what)

    def stream_batches(
        self, what: str, path: str, request: betterproto2.Message, reply_type: type[M]
    ) -> AsyncGenerator[list[M], None]:
        """Call the server-streaming method ``path`` (``"/package.Service/Method"``); its replies, a list per read.

        The key goes out as in every call; the replies are decoded by :func:`fast_parse` a whole
        read at a time (:func:`._stream.message_batches`); errors are mapped and leaving early
        resets the HTTP/2 stream, as in :meth:`stream` (which drives it).
        """

        async def batches() -> AsyncGenerator[list[M], None]:
            async with self.channel.request(
                path, Cardinality.UNARY_STREAM, type(request), reply_type, metadata=self.metadata
            ) as stream:
                await stream.send_message(request, end=True)
                async for batch in message_batches(stream, fast_parser(reply_type)):
                    yield batch

        return self.stream(what, batches)

    def map_error(self, what: str, exc: BaseException, timeout: float | None) -> BaseException:
        """The client error for ``exc`` (already a client error: returned as is)."""
        if isinstance(exc, MxGatewayError | InvalidArgument | InvalidArgumentType | InvalidState):
            return exc
        if isinstance(exc, GRPCError):
            cls = _BY_STATUS.get(exc.status, MxGatewayRpcError)
            text = self.redact(f"{what}: {exc.status.name} {exc.message or ''}".strip())
            return cls(text, code=exc.status.value, status=exc.status)
        if isinstance(exc, asyncio.TimeoutError | TimeoutError):
            return MxGatewayDeadlineError(f"{what}: no answer within {timeout} s", status=Status.DEADLINE_EXCEEDED)
        if isinstance(exc, StreamTerminatedError | ProtocolError | OSError | ConnectionError):
            detail = self.redact(f"{type(exc).__name__}: {exc}")
            return MxGatewayUnavailableError(f"{what}: gateway {self.host}:{self.port} unavailable ({detail})")
        return MxGatewayError(self.redact(f"{what}: {type(exc).__name__}: {exc}"))
