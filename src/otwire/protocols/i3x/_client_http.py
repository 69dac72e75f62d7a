"""One client HTTP/1.1 connection of the i3X client engine, on h11, plus body decoding (notes §2).

:class:`HTTPConnection` wraps one ``h11.Connection`` (client role) with the lifecycle
of :data:`otwire.protocols.i3x._state.CONN_TRANSITIONS`. It never parses HTTP
itself: h11 frames requests and responses; h11's ``RemoteProtocolError`` becomes
:class:`otwire.errors.DecodeError`. :class:`BodyDecoder` undoes
``Content-Encoding: gzip`` (or ``deflate``) with :mod:`zlib`, within a size cap.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import h11

from otwire.errors import DecodeError, LocalProtocolError
from otwire.protocols import TerminationReason
from otwire.protocols._base import EngineBase
from otwire.protocols.i3x._state import (
    CONN_END_INPUTS,
    CONN_LOCAL_INPUTS,
    CONN_TRANSITIONS,
    ConnInput,
    ConnState,
)
from otwire.protocols.i3x.config import I3XClientConfig
from otwire.protocols.i3x.events import RequestFailed, ResponseReceived

__all__ = ["BodyDecoder", "Decoder", "HTTPConnection", "PendingRequest", "base_headers", "header", "request_head"]

#: Turns a response body into the reported value (``lambda b: decode_bulk(b, CurrentValue)``).
Decoder = Callable[[bytes], Any]

#: Largest response head h11 buffers (octets).
MAX_HEAD = 64 * 1024
#: Largest piece decompressed at a time (octets).
_PIECE = 64 * 1024
_WBITS = {b"gzip": 31, b"x-gzip": 31, b"deflate": 15}


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The last value of header ``name`` (lower case) in h11's normalized ``headers``, or ``None``."""
    found = None
    for key, value in headers:
        if key == name:
            found = value
    return found


class BodyDecoder:
    """Undo ``Content-Encoding`` piecewise, refusing more than ``cap`` octets in total.

    Args:
        encoding: The ``Content-Encoding`` value (``None``/``identity``: no change).
        cap: Most octets of decoded body; ``None``: no total cap (streams).

    Raises:
        DecodeError: an unknown encoding (from the constructor).
    """

    __slots__ = ("_cap", "_raw", "_size", "_zlib")

    def __init__(self, encoding: bytes | None, cap: int | None) -> None:
        self._cap = cap
        self._size = 0
        self._raw = 0
        self._zlib: zlib._Decompress | None = None
        coding = (encoding or b"identity").strip().lower()
        if coding != b"identity":
            wbits = _WBITS.get(coding)
            if wbits is None:
                raise DecodeError(f"unsupported Content-Encoding {coding!r}", data=coding)
            self._zlib = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterable[bytes]:
        """The decoded octets of ``data``: itself without an encoding, else pieces of at most 64 KiB.

        Without an encoding ``(data,)`` comes back at once (no generator: a stream's every
        read takes this path).

        Raises:
            DecodeError: corrupt compressed data, octets after its end, or more than
                ``cap`` octets (compressed or decoded).
        """
        if self._zlib is None:
            self._count(len(data), data)
            return (data,)
        return self._inflate(data, self._zlib)

    def _inflate(self, data: bytes, inflater: zlib._Decompress) -> Iterator[bytes]:
        self._raw += len(data)
        if self._cap is not None and self._raw > self._cap:
            raise DecodeError(f"compressed response body larger than {self._cap} octets", data=data[:64])
        if inflater.eof and data:
            raise DecodeError("octets after the end of the compressed body", data=data[:64])
        pending = data
        while pending:
            try:
                piece = inflater.decompress(pending, _PIECE)
            except zlib.error as exc:
                raise DecodeError(f"bad compressed body: {exc}", data=pending) from None
            pending = inflater.unconsumed_tail
            self._count(len(piece), data)
            if piece:
                yield piece
            if inflater.eof:
                if inflater.unused_data:
                    raise DecodeError("octets after the end of the compressed body", data=inflater.unused_data[:64])
                return

    def end(self) -> None:
        """Check that a compressed body was complete.

        Raises:
            DecodeError: the compressed stream was cut short.
        """
        if self._zlib is not None and not self._zlib.eof:
            raise DecodeError("compressed body ended early")

    def _count(self, size: int, data: bytes) -> None:
        self._size += size
        if self._cap is not None and self._size > self._cap:
            raise DecodeError(f"response body larger than {self._cap} octets", data=data)


class HTTPConnection(EngineBase[ConnState, ConnInput]):
    """One h11 client connection: lifecycle, output buffer, the request it serves.

    Attributes:
        conn_id: The engine-chosen id.
        kind: ``"request"`` (pooled, keep-alive) or ``"stream"`` (one SSE stream, never reused).
        owner: ``("request", request_id)``, ``("stream", stream_id)`` or ``None`` when idle.
    """

    __slots__ = ("conn_id", "h11", "kind", "owner")

    CLOSED: ClassVar[ConnState] = ConnState.CLOSED
    LOCAL_INPUTS = CONN_LOCAL_INPUTS
    END_INPUTS = CONN_END_INPUTS

    def __init__(self, conn_id: int, kind: str) -> None:
        super().__init__(ConnState.CONNECTING, CONN_TRANSITIONS)
        self.conn_id = conn_id
        self.kind = kind
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.owner: tuple[str, int] | None = None

    def _describe(self) -> str:
        return f"{self.kind} connection {self.conn_id}"

    def made(self) -> None:
        """The driver connected it."""
        self._move(ConnInput.MADE)

    def failed(self) -> None:
        """The driver could not connect it."""
        self._move(ConnInput.FAILED)

    def send_request(self, owner: tuple[str, int], request: h11.Request, body: bytes) -> None:
        """Queue one whole request (head, body, end) and mark it BUSY."""
        self._move(ConnInput.SEND)
        self.owner = owner
        for event in (request, h11.Data(data=body), h11.EndOfMessage()):
            if isinstance(event, h11.Data) and not body:
                continue
            self._out += self.h11.send(event) or b""

    def feed(self, data: bytes | bytearray | memoryview) -> list[h11.Event]:
        """Give h11 the octets (``b""``: end of stream) and return the events it completed.

        Raises:
            DecodeError: h11 refused the response (the message says why).
        """
        try:
            self.h11.receive_data(data)  # type: ignore[arg-type]  # h11 takes any bytes-like object (and copies it)
            events: list[h11.Event] = []
            while True:
                event = self.h11.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return events
                if isinstance(event, h11.InformationalResponse):
                    continue
                events.append(event)  # type: ignore[arg-type]
                if isinstance(event, h11.ConnectionClosed):
                    return events
        except h11.RemoteProtocolError as exc:
            raise DecodeError(f"bad HTTP response: {exc}", data=bytes(data)) from None

    def next_cycle(self) -> bool:
        """After a complete response: reuse the connection (True) or not (``Connection: close``).

        Raises:
            DecodeError: the server sent octets beyond the response (nothing was asked).
        """
        self.owner = None
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            self._move(ConnInput.RESPONSE_DONE)
            junk = self.h11.trailing_data[0]
            if junk:
                raise DecodeError("octets after the response on an idle connection", data=bytes(junk[:64]))
            return True
        return False

    @property
    def has_output(self) -> bool:
        """True while octets wait in the output buffer."""
        return bool(self._out)

    def abandon(self) -> None:
        """Give up a connection before or after it was made (the driver closes or abandons it)."""
        self.owner = None
        if self._state is ConnState.CONNECTING:
            self._move(ConnInput.CLOSE)
        else:
            self._terminate(TerminationReason.LOCAL_CLOSE, None)

    def end(self, reason: TerminationReason, error: BaseException | None = None) -> None:
        """End through the table (does nothing when already closed)."""
        self.owner = None
        self._terminate(reason, error)


def base_headers(config: I3XClientConfig) -> list[tuple[str, str]]:
    """The headers of every request: Host, User-Agent, Accept-Encoding, Authorization, extras (notes §2)."""
    headers = [("Host", config.authority)]
    if config.user_agent:
        headers.append(("User-Agent", config.user_agent))
    if config.gzip:
        headers.append(("Accept-Encoding", "gzip"))
    if config.token is not None:
        headers.append(("Authorization", f"Bearer {config.token}"))
    elif config.auth is not None:
        user, secret = config.auth
        basic = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        headers.append(("Authorization", f"Basic {basic}"))
    headers.extend(config.headers)
    return headers


def request_head(target: str, method: str, headers: list[tuple[str, str]]) -> h11.Request:
    """An h11 request head.

    Raises:
        LocalProtocolError: h11 refused the method, target or a header.
    """
    try:
        return h11.Request(method=method, target=target, headers=headers)
    except h11.LocalProtocolError as exc:
        raise LocalProtocolError(f"bad request: {exc}") from None


@dataclass(slots=True)
class PendingRequest:
    """One request from :meth:`request` until its outcome is reported."""

    request_id: int
    head: h11.Request
    body: bytes
    expect: Decoder | None
    deadline: float | None
    conn_id: int | None = None
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    decoder: BodyDecoder | None = None
    chunks: list[bytes] = field(default_factory=list)

    def outcome(self) -> ResponseReceived | RequestFailed:
        """The event for the complete response.

        A body ``expect`` cannot decode fails the request when the status is below
        400; an error status keeps ``body=None`` and the raw octets.
        """
        raw = b"".join(self.chunks)
        body = None
        if self.expect is not None and raw:
            try:
                body = self.expect(raw)
            except DecodeError as exc:
                if self.status < 400:
                    return RequestFailed(request_id=self.request_id, error=exc)
        return ResponseReceived(
            request_id=self.request_id, status=self.status, headers=self.headers, body=body, raw=raw
        )
