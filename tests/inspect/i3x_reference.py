"""The i3X dissector as it was before its h11 fast paths: the general path they are proven against.

Each message gets a fresh h11 connection only once h11 says ``PAUSED``; every response
is preceded by the request it answers, sent into the client-role connection as soon as
it is taken. :mod:`tests.inspect.test_i3x_fast` feeds it and
:class:`otwire.inspect.i3x.I3XDissector` the same octets and wants the same findings.
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from collections.abc import Iterator
from typing import Any

import h11

from otwire.codecs.i3x import SSEParser, decode_bulk, decode_response, decode_sync
from otwire.errors import DecodeError
from otwire.inspect._i3x_bodies import (
    MAX_BODY,
    MAX_RAW,
    Body,
    HTTPRequest,
    HTTPResponse,
    StreamEvent,
    request_fields,
    stream_findings,
)
from otwire.inspect.i3x import MAX_PENDING, MAX_UNANSWERED
from otwire.inspect.model import Finding
from otwire.inspect.records import Sender

_LINES = re.compile(rb"[^\r\n]*(?:\r|\n)|[^\r\n]+")


class _Direction:
    """One sender's h11 connection, stream offsets and the current message's octets."""

    def __init__(self, role: type[h11.SERVER] | type[h11.CLIENT]) -> None:
        self.role = role
        self.conn = h11.Connection(role, max_incomplete_event_size=MAX_RAW)
        self.fed = 0
        self.start = 0
        self.raw = bytearray()
        self.broken = False

    def receive(self, data: bytes) -> None:
        self.fed += len(data)
        if len(self.raw) < MAX_RAW:
            self.raw += data[: MAX_RAW - len(self.raw)]
        self.conn.receive_data(data)

    def message_raw(self) -> bytes:
        """The octets of the message just completed (at most :data:`MAX_RAW`)."""
        trailing, _ = self.conn.trailing_data
        return bytes(self.raw[: self.fed - self.start - len(trailing)])

    def next_message(self) -> None:
        """Start a fresh connection fed what the finished message left over."""
        trailing, closed = self.conn.trailing_data
        self.conn = h11.Connection(self.role, max_incomplete_event_size=MAX_RAW)
        self.start = self.fed - len(trailing)
        self.raw = bytearray(trailing[:MAX_RAW])
        if trailing:
            self.conn.receive_data(bytes(trailing))
        if closed:
            self.conn.receive_data(b"")


class ReferenceI3XDissector:
    """Dissect both directions of an i3X HTTP/1.1 conversation (see the module docstring).

    Sans-IO with bounded memory: bodies up to :data:`MAX_BODY`, :data:`MAX_PENDING`
    unanswered requests, :data:`MAX_UNANSWERED` server octets ahead of any request.
    """

    def __init__(self) -> None:
        self._client = _Direction(h11.SERVER)  # parses what the client sends
        self._server = _Direction(h11.CLIENT)  # parses what the server sends
        self._pending: deque[HTTPRequest] = deque()
        self._request: HTTPRequest | None = None
        self._request_body: Body | None = None
        self._answering: HTTPRequest | None = None  # sent into the server direction's connection
        self._response: h11.Response | None = None
        self._response_body: Body | None = None
        self._sse: SSEParser | None = None

    def feed(self, sender: Sender, data: bytes) -> Iterator[Finding]:
        """Consume octets ``sender`` sent; yield the findings they complete (either direction)."""
        direction = self._client if sender is Sender.CLIENT else self._server
        if direction.broken or not data:
            return iter(())
        direction.receive(data)
        return self._pump()

    def end(self, sender: Sender) -> Iterator[Finding]:
        """``sender``'s stream ended: finish a read-until-close response, report a cut message, start afresh."""
        if sender is Sender.SERVER:
            return self._end_server()
        return self._end_client()

    def _pump(self) -> Iterator[Finding]:
        yield from self._requests()
        yield from self._responses()

    # -- requests (client octets) ---------------------------------------------------------

    def _requests(self) -> Iterator[Finding]:
        d = self._client
        while not d.broken:
            try:
                event = d.conn.next_event()
            except h11.ProtocolError as exc:
                d.broken = True
                yield _broken(d, Sender.CLIENT, exc)
                return
            if event is h11.NEED_DATA or event is h11.PAUSED or type(event) is h11.ConnectionClosed:
                if event is h11.PAUSED:
                    d.next_message()
                    continue
                return
            yield from self._request_event(event)

    def _request_event(self, event: Any) -> Iterator[Finding]:
        d = self._client
        if type(event) is h11.Request:
            headers = dict(event.headers)
            self._request = HTTPRequest(
                event.method.decode("ascii", "replace"),
                event.target.decode("ascii", "replace"),
                content_type=headers.get(b"content-type", b"").decode("latin-1"),
            )
            self._request_body = Body(headers.get(b"content-encoding", b"").decode("latin-1").lower())
            if len(self._pending) >= MAX_PENDING:
                d.broken = True
                yield Finding(
                    "error", d.start, d.message_raw(), error="too many unanswered requests", sender=Sender.CLIENT
                )
                return
            self._pending.append(self._request)
        elif type(event) is h11.Data and self._request_body is not None:
            yield from _guard(self._request_body, event.data, d, Sender.CLIENT)
        elif type(event) is h11.EndOfMessage and self._request is not None:
            yield from self._request_done(self._request, self._request_body)

    def _request_done(self, request: HTTPRequest, body: Body | None) -> Iterator[Finding]:
        d = self._client
        raw = d.message_raw()
        error = request_fields(request, body) if body is not None else None
        if error is not None:
            yield Finding("error", d.start, raw, error=error, sender=Sender.CLIENT)
        yield Finding("apdu", d.start, raw, message=request, sender=Sender.CLIENT)
        self._request = self._request_body = None

    # -- responses (server octets) --------------------------------------------------------

    def _responses(self) -> Iterator[Finding]:
        d = self._server
        while not d.broken:
            if self._answering is None and not self._answer_next():
                if d.fed - d.start > MAX_UNANSWERED:
                    d.broken = True
                    yield Finding(
                        "error", d.start, bytes(d.raw), error="response without request", sender=Sender.SERVER
                    )
                return
            try:
                event = d.conn.next_event()
            except h11.ProtocolError as exc:
                d.broken = True
                yield _broken(d, Sender.SERVER, exc)
                return
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED or type(event) is h11.ConnectionClosed:
                self._answering = None
                if event is h11.PAUSED:
                    d.next_message()
                    continue
                return
            yield from self._response_event(event)

    def _answer_next(self) -> bool:
        """Give the next unanswered request to the server direction's connection (False: none yet)."""
        d = self._server
        if not self._pending:
            return False
        request = self._answering = self._pending.popleft()
        d.conn.send(h11.Request(method=request.method, target=request.target, headers=[("host", "i3x")]))
        d.conn.send(h11.EndOfMessage())
        return True

    def _response_event(self, event: Any) -> Iterator[Finding]:
        d, request = self._server, self._answering
        assert request is not None
        if type(event) is h11.InformationalResponse:
            message = HTTPResponse(event.status_code, event.reason.decode("latin-1"), request.method, request.target)
            yield Finding("apdu", d.start, b"", message=message, sender=Sender.SERVER)
        elif type(event) is h11.Response:
            headers = dict(event.headers)
            self._response = event
            self._response_body = Body(headers.get(b"content-encoding", b"").decode("latin-1").lower())
            if headers.get(b"content-type", b"").split(b";")[0].strip().lower() == b"text/event-stream":
                self._sse = SSEParser(max_line=MAX_RAW, max_data=MAX_BODY)
                message = HTTPResponse(
                    event.status_code, event.reason.decode("latin-1"), request.method, request.target, envelope="stream"
                )
                yield Finding("apdu", d.start, bytes(d.raw), message=message, sender=Sender.SERVER)
        elif type(event) is h11.Data and self._response_body is not None:
            if self._sse is not None:
                yield from self._stream_data(event.data, request)
            else:
                yield from _guard(self._response_body, event.data, d, Sender.SERVER)
        elif type(event) is h11.EndOfMessage:
            yield from self._response_done(request)

    def _response_done(self, request: HTTPRequest) -> Iterator[Finding]:
        d, response, body = self._server, self._response, self._response_body
        self._response = self._response_body = None
        if self._sse is not None:
            self._sse = None
            return
        if response is None or body is None:
            return
        raw = d.message_raw()
        message, error = summary(response, request, body)
        if error is not None:
            yield Finding("error", d.start, raw, error=error, sender=Sender.SERVER)
        yield Finding("apdu", d.start, raw, message=message, sender=Sender.SERVER)

    def _stream_data(self, data: bytes, request: HTTPRequest) -> Iterator[Finding]:
        parser, body, d = self._sse, self._response_body, self._server
        assert parser is not None and body is not None
        subscription = request.subscription_ids[0] if request.subscription_ids else None
        offset = d.fed - len(data)
        try:
            decoded = body.add(data)
            body.octets.clear()
            for line in _LINES.findall(decoded):  # one line at a time: comments keep their place
                comments = parser.comments
                for event in parser.feed(line):
                    yield from stream_findings(event, subscription, offset, sender=Sender.SERVER)
                if parser.comments > comments:
                    comment = StreamEvent(subscription, "comment")
                    yield Finding("apdu", offset, b"", message=comment, sender=Sender.SERVER)
        except (DecodeError, zlib.error) as exc:
            d.broken = True
            yield Finding("error", offset, data[:MAX_RAW], error=f"SSE stream: {exc}", sender=Sender.SERVER)

    # -- ends ---------------------------------------------------------------------------

    def _end_server(self) -> Iterator[Finding]:
        d = self._server
        cut = d.fed > d.start and self._answering is not None  # a response started: did it end?
        if cut and not d.broken and self._sse is None:  # an SSE stream just stops
            d.conn.receive_data(b"")
            yield from self._responses()
            if self._answering is not None and self._response is not None and not d.broken:
                yield Finding(
                    "error", d.start, bytes(d.raw), error="stream ended inside a response", sender=Sender.SERVER
                )
        self._server = _Direction(h11.CLIENT)
        self._answering = self._response = self._response_body = self._sse = None
        self._pending.clear()

    def _end_client(self) -> Iterator[Finding]:
        d = self._client
        if not d.broken and self._request is not None:
            yield Finding("error", d.start, bytes(d.raw), error="stream ended inside a request", sender=Sender.CLIENT)
        self._client = _Direction(h11.SERVER)
        self._request = self._request_body = None


def _broken(d: _Direction, sender: Sender, exc: h11.ProtocolError) -> Finding:
    """The one error finding that ends a direction whose HTTP is broken."""
    return Finding("error", d.start, bytes(d.raw), error=f"malformed HTTP: {exc}", sender=sender)


def _guard(body: Body, data: bytes, d: _Direction, sender: Sender) -> Iterator[Finding]:
    """Add body octets; an undecodable compressed body ends that direction with one error."""
    try:
        body.add(data)
    except zlib.error as exc:
        d.broken = True
        yield Finding("error", d.start, bytes(d.raw), error=f"bad {body.encoding} body: {exc}", sender=sender)


# -- the former response summary ------------------------------------------------------


def summary(response: h11.Response, request: HTTPRequest, body: Body) -> tuple[HTTPResponse, str | None]:
    """The response row of a complete (non-stream) response, and an error text if its body is bad."""
    headers = dict(response.headers)
    base = HTTPResponse(
        response.status_code,
        response.reason.decode("latin-1"),
        request.method,
        request.target,
        body_length=body.length,
        content_encoding=body.encoding,
    )
    if body.too_large:
        return base, f"response body larger than {MAX_BODY} octets"
    octets = bytes(body.octets)
    if not octets.strip():
        return base, None
    if b"json" not in headers.get(b"content-type", b"").lower() and octets.lstrip()[:1] not in (b"{", b"["):
        return _replace(base, envelope="other"), None
    try:
        return _envelope(base, octets, request.target.split("?")[0]), None
    except DecodeError as exc:
        return _replace(base, envelope="other"), f"response body: {exc}"


def _replace(base: HTTPResponse, **changes: Any) -> HTTPResponse:
    fields = {name: getattr(base, name) for name in HTTPResponse.__slots__}
    return HTTPResponse(**(fields | changes))


def _envelope(base: HTTPResponse, body: bytes, path: str) -> HTTPResponse:
    """Decode an i3X envelope (bulk when it has ``results``, sync by path, else single)."""
    if path.rstrip("/").endswith("/subscriptions/sync"):
        sync = decode_sync(body)
        failure = sync.failure
        items = len(sync.result) if sync.result is not None else None
        return _replace(base, envelope="sync", success=sync.success, items=items, **_failure_fields(failure))
    if b'"results"' in body:
        bulk = decode_bulk(body, Any)
        failures = bulk.failures
        first = failures[0].detail if failures else bulk.failure
        return _replace(
            base,
            envelope="bulk",
            success=bulk.success,
            items=len(bulk.results),
            failures=len(failures),
            **_failure_fields(first),
        )
    single = decode_response(body, Any)
    result = single.result
    items = len(result) if isinstance(result, list) else None
    detail = single.failure or (single.response_detail if single.partial else None)
    return _replace(base, envelope="single", success=single.success, items=items, **_failure_fields(detail))


def _failure_fields(detail: Any) -> dict[str, Any]:
    if detail is None:
        return {}
    code = detail.status if detail.status is not None else (detail.title or None)
    return {"code": None if code is None else str(code), "detail": detail.detail or detail.title}
