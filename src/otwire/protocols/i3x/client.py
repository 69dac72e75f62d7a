"""Sans-IO i3X 1.0 client engine on h11: requests on a keep-alive pool, SSE streams (notes §2-§5).

Shape: like aioquic's HTTP/3 layer on its QUIC engine, :class:`I3XClientEngine` owns
several h11 client connections; the client-side twin of :class:`otwire.protocols.PeerEngine`
(the **engine** chooses connection ids). No I/O, no clock: inputs take ``now`` (seconds).

Driver loop (notes §8): open :meth:`connections_to_open` and answer :meth:`connection_made`
or :meth:`connection_failed`; feed :meth:`receive_data` (``b""``: end of stream) and
:meth:`connection_lost`; send :meth:`data_to_send` of :meth:`connections_with_output`; close
:meth:`connections_to_close`; drain :meth:`next_event`; run :meth:`handle_timer` at :meth:`get_timer`.

Requests (:meth:`request`) go on an idle keep-alive connection, or a new one while
fewer than ``pool_size`` request connections exist, else wait in order. One request
per connection at a time (no pipelining); h11's ``start_next_cycle`` reuses it unless
either side said ``Connection: close``. Each stream (:meth:`open_stream`) has its own
connection and reconnects by itself (exponential backoff with seeded jitter,
``Retry-After``, SSE ``retry:``) until it ends for good (``event: close``, a 4xx, a
takeover, or :meth:`close_stream`); :meth:`pause_stream` holds its idle timer.

Errors: a peer violation on one connection (bad HTTP, bad gzip, a body over
``max_body_size``, octets on an idle connection, a bad SSE stream) closes that connection, is reported as
:class:`~otwire.protocols.i3x.events.RequestFailed` /
:class:`~otwire.protocols.i3x.events.StreamEnded`, and is raised from
:meth:`receive_data` as :class:`~otwire.errors.DecodeError`; the engine goes on. A
body that is not the expected JSON is only reported. Misuse raises
:class:`~otwire.errors.LocalProtocolError`; after :meth:`close` every input does,
except :meth:`close` and :meth:`connection_lost`. Input for a connection the engine
already closed is dropped (the driver's race, not an error). Notes §8 has the shape.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable

import h11
import msgspec

from otwire.codecs.i3x import encode
from otwire.errors import ConnectionLost, DecodeError, LocalProtocolError, RemoteProtocolError, RequestTimeout
from otwire.protocols import Event, TerminationReason
from otwire.protocols.i3x._client_http import (
    BodyDecoder,
    Decoder,
    HTTPConnection,
    PendingRequest,
    base_headers,
    header,
    request_head,
)
from otwire.protocols.i3x._client_stream import StreamRecord, retry_after
from otwire.protocols.i3x._state import ConnState, StreamInput, StreamState
from otwire.protocols.i3x.config import I3XClientConfig
from otwire.protocols.i3x.events import RequestFailed, StreamEndReason

__all__ = ["I3XClientEngine"]

R = TerminationReason
E = StreamEndReason


class I3XClientEngine:
    """The i3X client engine: many connections, requests and SSE streams, no I/O.

    Args:
        config: Settings (:class:`~otwire.protocols.i3x.config.I3XClientConfig`).
        rng: Source of reconnect jitter (default ``random.Random(config.seed)``).
    """

    def __init__(self, config: I3XClientConfig | None = None, *, rng: random.Random | None = None) -> None:
        self.config = config or I3XClientConfig()
        self._rng = rng or random.Random(self.config.seed)
        self._conns: dict[int, HTTPConnection] = {}
        self._to_open: list[int] = []
        self._to_close: dict[int, None] = {}
        self._events: deque[Event] = deque()
        self._queue: deque[PendingRequest] = deque()
        self._requests: dict[int, PendingRequest] = {}
        self._streams: dict[int, StreamRecord] = {}
        self._ids = {"conn": 0, "request": 0, "stream": 0}
        self._closed = False
        self._base_headers = base_headers(self.config)

    # -- local inputs ------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: msgspec.Struct | None,
        now: float,
        *,
        expect: Decoder | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Queue one request; its answer comes as ``ResponseReceived`` or ``RequestFailed``.

        Args:
            method: ``GET``, ``POST``, ``PUT``, ``DELETE``.
            path: Path below ``base_path`` starting with ``/`` (``/objects/value``), query included.
            body: A request model encoded as JSON, or ``None`` for no body.
            now: Monotonic time, seconds; the request timeout runs from here.
            expect: Decodes the body (e.g. ``lambda b: decode_bulk(b, CurrentValue)``);
                ``None`` keeps only the raw octets.
            headers: Extra headers for this request.

        Returns:
            The request id.

        Raises:
            LocalProtocolError: the engine is closed, or ``method``/``path`` is malformed.
        """
        self._check_open("send a request")
        if not method.isalpha() or not path.startswith("/"):
            raise LocalProtocolError(f"bad request line {method!r} {path!r}")
        payload = b"" if body is None else encode(body)
        extra = [("Content-Type", "application/json")] if body is not None else []
        fields = [*extra, ("Content-Length", str(len(payload))), ("Accept", "application/json"), *headers]
        head = request_head(self.config.base_path + path, method, [*self._base_headers, *fields])
        timeout = self.config.request_timeout
        request = PendingRequest(
            self._new_id("request"), head, payload, expect, None if timeout is None else now + timeout
        )
        self._requests[request.request_id] = request
        self._queue.append(request)
        self._dispatch()
        return request.request_id

    def open_stream(self, subscription_id: str, client_id: str | None, now: float) -> int:
        """Open an SSE stream of ``subscription_id`` on its own connection (notes §5).

        Returns:
            The stream id; ``StreamOpened`` follows once the server answers 2xx.

        Raises:
            LocalProtocolError: the engine is closed.
        """
        self._check_open("open a stream")
        stream = StreamRecord(self._new_id("stream"), subscription_id, client_id, self.config)
        self._streams[stream.stream_id] = stream
        stream.connecting(self._open_conn("stream", stream.stream_id), now)
        return stream.stream_id

    def close_stream(self, stream_id: int, now: float) -> None:
        """End a stream for good (``StreamEnded(LOCAL_CLOSE)``); nothing when it is already over.

        Raises:
            LocalProtocolError: an id :meth:`open_stream` never returned.
        """
        stream = self._stream(stream_id)
        if stream is not None:
            self._end_stream(stream, E.LOCAL_CLOSE, now)

    def pause_stream(self, stream_id: int, paused: bool, now: float) -> int | None:
        """Hold (or restart) a stream's idle timer while its driver stops reading (back-pressure).

        Returns the stream's current connection id (the one not to read), or ``None``.
        Raises LocalProtocolError for an id :meth:`open_stream` never returned.
        """
        stream = self._stream(stream_id)
        if stream is None:
            return None
        stream.pause(paused, now)
        return stream.conn_id

    def close(self, now: float) -> None:
        """Close everything: queued and in-flight requests fail, streams end (LOCAL_CLOSE)."""
        if self._closed:
            return
        for stream in list(self._streams.values()):
            self._end_stream(stream, E.LOCAL_CLOSE, now)
        for request in list(self._requests.values()):
            self._fail_request(request, ConnectionLost("client engine closed"))
        for conn in self._conns.values():
            self._close_conn(conn, R.LOCAL_CLOSE)
        self._closed = True

    # -- driver inputs -----------------------------------------------------------------

    def connection_made(self, conn_id: int, now: float) -> None:
        """The driver opened connection ``conn_id`` (ignored when the engine closed it meanwhile).

        Raises:
            LocalProtocolError: closed engine, an id never issued, or not CONNECTING.
        """
        conn = self._conn(conn_id, "make a connection")
        if conn is None:
            return
        conn.made()
        if conn.kind == "stream" and conn.owner is not None:
            self._send_stream_request(conn, self._streams[conn.owner[1]])
        else:
            conn.owner = None
            self._dispatch()

    def connection_failed(self, conn_id: int, now: float, exc: BaseException | None = None) -> None:
        """The driver could not open ``conn_id`` (refused, DNS, TLS, connect timeout).

        Ignored when the engine closed it meanwhile.

        Raises:
            LocalProtocolError: closed engine, an id never issued, or not CONNECTING.
        """
        conn = self._conn(conn_id, "fail a connection")
        if conn is None:
            return
        owner = conn.owner
        conn.failed()
        self._conns.pop(conn_id, None)
        error = exc if exc is not None else ConnectionLost(f"connection {conn_id} could not be opened")
        if owner is not None and owner[0] == "stream":
            self._end_stream(self._streams[owner[1]], E.CONNECTION_LOST, now, error=error)
            return
        if not any(c.kind == "request" for c in self._conns.values()):
            for request in list(self._queue):
                self._fail_request(request, error)
        self._dispatch()

    def receive_data(self, conn_id: int, data: bytes | bytearray | memoryview, now: float) -> None:
        """Octets from the server on ``conn_id``; ``b""`` is its end of stream.

        Octets for a connection the engine already closed are dropped. ``data`` is only
        read during the call (a view of a reused read buffer is fine).

        Raises:
            DecodeError: the server broke HTTP (h11), sent bad gzip, a body over
                ``max_body_size`` or a bad SSE stream on this connection; the connection
                is closed and the request/stream reported first.
            LocalProtocolError: closed engine, an id never issued, data before
                ``connection_made``.
        """
        conn = self._conn(conn_id, "receive data")
        if conn is None:
            return
        if conn.state is ConnState.CONNECTING:
            raise LocalProtocolError(f"can't receive data on connection {conn_id} before connection_made")
        owner = conn.owner
        if owner is None and data:
            error = DecodeError("octets on an idle connection (no request was sent)", data=bytes(data[:64]))
            self._violation(conn, now, error)
            raise error
        stream = self._streams[owner[1]] if owner is not None and owner[0] == "stream" else None
        if stream is not None:
            stream.touch(now)
        try:
            events = conn.feed(data)  # h11 copies the octets into its own buffer
        except DecodeError as exc:
            if not data:
                self._lost(conn, now, ConnectionLost(str(exc)), R.PEER_CLOSED)
                return
            self._violation(conn, now, exc)
            raise
        try:
            for event in events:
                if conn.is_closed:
                    break
                self._on_http(conn, event, now)
        except DecodeError as exc:
            self._violation(conn, now, exc)
            raise

    def connection_lost(self, conn_id: int, now: float, exc: BaseException | None = None) -> None:
        """The transport of ``conn_id`` failed; nothing when unknown or already closed."""
        conn = self._conns.get(conn_id)
        if conn is None or conn.is_closed:
            return
        self._lost(conn, now, ConnectionLost(f"connection {conn_id} lost: {exc}"), R.CONNECTION_LOST)

    def handle_timer(self, now: float) -> None:
        """Expire request timeouts, stream response/idle timeouts and reconnect times.

        Raises:
            LocalProtocolError: the engine is closed.
        """
        self._check_open("handle a timer")
        for request in [r for r in self._requests.values() if r.deadline is not None and r.deadline <= now]:
            conn = self._conns.get(request.conn_id) if request.conn_id is not None else None
            self._fail_request(request, RequestTimeout("no response in time", request=request.head.target))
            if conn is not None:
                self._close_conn(conn, R.IDLE_TIMEOUT)
        for stream in [s for s in self._streams.values() if s.deadline is not None and s.deadline <= now]:
            self._stream_timer(stream, now)
        self._dispatch()

    # -- outputs -----------------------------------------------------------------------

    def connections_to_open(self) -> list[int]:
        """Return and clear the ids of connections the driver must open now."""
        out, self._to_open = self._to_open, []
        return out

    def connections_to_close(self) -> list[int]:
        """Return and clear the ids of connections the driver must close (the engine forgot them)."""
        out = list(self._to_close)
        self._to_close.clear()
        for conn_id in out:
            self._conns.pop(conn_id, None)
        return out

    def connections_with_output(self) -> list[int]:
        """Ids of open connections with octets to send."""
        return [c.conn_id for c in self._conns.values() if c.has_output and not c.is_closed]

    def data_to_send(self, conn_id: int) -> bytes:
        """Return and clear the octets for ``conn_id`` (``b""`` for none or an unknown id)."""
        conn = self._conns.get(conn_id)
        return b"" if conn is None else conn.data_to_send()

    def next_event(self) -> Event | None:
        """Return the next event, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest deadline (monotonic seconds) for :meth:`handle_timer`, or ``None``."""
        times = [r.deadline for r in self._requests.values() if r.deadline is not None]
        times += [s.deadline for s in self._streams.values() if s.deadline is not None]
        return min(times) if times else None

    @property
    def is_closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def stream_state(self, stream_id: int) -> StreamState:
        """The lifecycle state of a stream (``CLOSED`` once over).

        Raises:
            LocalProtocolError: an id :meth:`open_stream` never returned.
        """
        stream = self._stream(stream_id)
        return StreamState.CLOSED if stream is None else stream.state

    def connection_state(self, conn_id: int) -> ConnState:
        """The lifecycle state of a connection (``CLOSED`` once forgotten)."""
        conn = self._conns.get(conn_id)
        return ConnState.CLOSED if conn is None else conn.state

    # -- HTTP events -------------------------------------------------------------------

    def _on_http(self, conn: HTTPConnection, event: h11.Event, now: float) -> None:
        owner = conn.owner
        if isinstance(event, h11.ConnectionClosed):
            self._lost(conn, now, ConnectionLost("server closed the connection"), R.PEER_CLOSED)
        elif owner is None:
            raise DecodeError(f"response without a request on connection {conn.conn_id}")
        elif owner[0] == "stream":
            self._on_stream_http(conn, self._streams[owner[1]], event, now)
        else:
            self._on_request_http(conn, self._requests[owner[1]], event)

    def _on_request_http(self, conn: HTTPConnection, request: PendingRequest, event: h11.Event) -> None:
        if isinstance(event, h11.Response):
            request.status = event.status_code
            request.headers = list(event.headers)
            encoding = header(request.headers, b"content-encoding")
            request.decoder = BodyDecoder(encoding, self.config.max_body_size)
        elif isinstance(event, h11.Data) and request.decoder is not None:
            request.chunks.extend(request.decoder.feed(bytes(event.data)))
        elif isinstance(event, h11.EndOfMessage) and request.decoder is not None:
            request.decoder.end()
            self._requests.pop(request.request_id, None)
            self._events.append(request.outcome())
            if not conn.next_cycle():
                self._close_conn(conn, R.PEER_CLOSED)
            self._dispatch()

    def _on_stream_http(self, conn: HTTPConnection, stream: StreamRecord, event: h11.Event, now: float) -> None:
        if type(event) is h11.Data:  # the usual event first
            events, closed = stream.feed(event.data)  # h11 gives a fresh bytearray
            self._events.extend(events)
            if closed:
                self._end_stream(stream, E.CLOSE_EVENT, now)
        elif isinstance(event, h11.Response):
            status = event.status_code
            if 200 <= status < 300:
                self._events.append(stream.opened(status, list(event.headers), now))
            else:
                self._end_stream(
                    stream, E.HTTP_ERROR, now, status=status, server_delay=retry_after(list(event.headers))
                )
        elif isinstance(event, h11.EndOfMessage):
            self._end_stream(stream, E.CLEAN_END, now)

    # -- ends --------------------------------------------------------------------------

    def _violation(self, conn: HTTPConnection, now: float, exc: RemoteProtocolError) -> None:
        owner = conn.owner
        if owner is not None and owner[0] == "stream":
            stream = self._streams[owner[1]]
            if not stream.is_closed and stream.conn_id == conn.conn_id:
                self._end_stream(stream, E.PROTOCOL_ERROR, now, error=exc)
        elif owner is not None and owner[1] in self._requests:
            self._fail_request(self._requests[owner[1]], exc)
        self._close_conn(conn, R.PROTOCOL_ERROR, exc)
        self._dispatch()

    def _lost(self, conn: HTTPConnection, now: float, error: BaseException, reason: TerminationReason) -> None:
        owner = conn.owner
        if owner is not None and owner[0] == "stream":
            self._end_stream(self._streams[owner[1]], E.CONNECTION_LOST, now, error=error)
        elif owner is not None and owner[1] in self._requests:
            self._fail_request(self._requests[owner[1]], error)
        self._close_conn(conn, reason, error)
        self._dispatch()

    def _stream_timer(self, stream: StreamRecord, now: float) -> None:
        if stream.state is StreamState.BACKOFF:
            stream.move(StreamInput.RETRY_DUE)
            stream.reconnects += 1
            stream.connecting(self._open_conn("stream", stream.stream_id), now)
        elif stream.state is StreamState.OPEN:
            self._end_stream(stream, E.IDLE_TIMEOUT, now)
        else:
            timeout = RequestTimeout("stream not answered in time", request="/subscriptions/stream")
            self._end_stream(stream, E.CONNECTION_LOST, now, error=timeout)

    def _end_stream(
        self,
        stream: StreamRecord,
        reason: StreamEndReason,
        now: float,
        *,
        error: BaseException | None = None,
        status: int | None = None,
        server_delay: float | None = None,
    ) -> None:
        conn = self._conns.get(stream.conn_id) if stream.conn_id is not None else None
        stream.conn_id = None
        if conn is not None:
            self._close_conn(conn, R.LOCAL_CLOSE)
        self._events.append(stream.end(reason, now, self._rng, error=error, status=status, server_delay=server_delay))
        if stream.is_closed:
            del self._streams[stream.stream_id]  # forgotten: nothing grows with closed streams

    def _fail_request(self, request: PendingRequest, error: BaseException) -> None:
        self._requests.pop(request.request_id, None)
        if request in self._queue:
            self._queue.remove(request)
        self._events.append(RequestFailed(request_id=request.request_id, error=error))

    def _close_conn(self, conn: HTTPConnection, reason: TerminationReason, error: BaseException | None = None) -> None:
        if conn.state is ConnState.CONNECTING:
            conn.abandon()
        else:
            conn.end(reason, error)
        self._to_close[conn.conn_id] = None

    # -- helpers -----------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Send queued requests on idle connections; ask for new ones within ``pool_size``."""
        if self._closed:
            return
        pool = [c for c in self._conns.values() if c.kind == "request" and not c.is_closed]
        idle = [c for c in pool if c.state is ConnState.IDLE]
        while self._queue and idle:
            request = self._queue.popleft()
            conn = idle.pop(0)
            request.conn_id = conn.conn_id
            conn.send_request(("request", request.request_id), request.head, request.body)
        connecting = sum(1 for c in pool if c.state is ConnState.CONNECTING)
        for _ in range(min(len(self._queue) - connecting, self.config.pool_size - len(pool))):
            self._open_conn("request", None)

    def _open_conn(self, kind: str, stream_id: int | None) -> int:
        conn = HTTPConnection(self._new_id("conn"), kind)
        conn.owner = None if stream_id is None else ("stream", stream_id)
        self._conns[conn.conn_id] = conn
        self._to_open.append(conn.conn_id)
        return conn.conn_id

    def _send_stream_request(self, conn: HTTPConnection, stream: StreamRecord) -> None:
        body, fields = stream.request()
        head = request_head(self.config.base_path + "/subscriptions/stream", "POST", [*self._base_headers, *fields])
        conn.send_request(("stream", stream.stream_id), head, body)

    def _conn(self, conn_id: int, verb: str) -> HTTPConnection | None:
        """The open connection ``conn_id``; ``None`` when the engine already closed it."""
        self._check_open(verb)
        conn = self._conns.get(conn_id)
        if conn is None and not 0 < conn_id <= self._ids["conn"]:
            raise LocalProtocolError(f"can't {verb} on unknown connection {conn_id}")
        return None if conn is None or conn.is_closed else conn

    def _stream(self, stream_id: int) -> StreamRecord | None:
        """The live stream ``stream_id`` or ``None`` once over; LocalProtocolError for an id never issued."""
        stream = self._streams.get(stream_id)
        if stream is None and not 0 < stream_id <= self._ids["stream"]:
            raise LocalProtocolError(f"unknown stream {stream_id}")
        return stream

    def _check_open(self, verb: str) -> None:
        if self._closed:
            raise LocalProtocolError(f"can't {verb} in state CLOSED")

    def _new_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]
