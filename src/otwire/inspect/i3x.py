"""CESMII i3X 1.0 dissector: both directions of one HTTP/1.1 conversation -> requests, responses, updates.

HTTP is parsed by h11 only: a server-role connection is fed the client's octets (it
yields requests), a client-role connection the server's octets (it yields responses;
each is given the request it answers, so ``HEAD`` and framing are right). Each message
gets a fresh h11 connection fed the octets the last one left over, so neither direction
waits for the other. Responses answer requests in order (HTTP/1.1 never reorders).

Bodies are decoded with :mod:`otwire.codecs.i3x` (gzip through :mod:`zlib`): a request
row names its element ids, subscription ids and clientId; a response row summarises its
envelope (single or bulk, items, failures, the responseDetail or error code); a
``text/event-stream`` response gives one row per update (:class:`StreamUpdate`), per
other event and per keep-alive comment. A bad body is an ``error`` finding and the
conversation goes on; broken HTTP ends that direction with one ``error`` finding until
:meth:`I3XDissector.end`. Also the JSON and table views (:data:`VIEW`, :data:`JSON_KEYS`).
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from typing import Any

import h11

from otwire.codecs.i3x import SSEParser
from otwire.errors import DecodeError
from otwire.inspect._i3x_bodies import (
    MAX_BODY,
    MAX_RAW,
    Body,
    HTTPRequest,
    HTTPResponse,
    StreamEvent,
    StreamUpdate,
    request_fields,
    stream_findings,
    summary,
)
from otwire.inspect.model import Column, Finding, ProtocolView
from otwire.inspect.records import Sender

__all__ = ["JSON_KEYS", "VIEW", "HTTPRequest", "HTTPResponse", "I3XDissector", "StreamEvent", "StreamUpdate"]

#: Requests awaiting a response, at most (more is an error finding and ends the dissection).
MAX_PENDING = 256
#: Server octets buffered before any request to answer, at most.
MAX_UNANSWERED = 1 << 20
#: Pieces of an event stream that end at one line end (or hold the unfinished last line).
_LINES = re.compile(rb"[^\r\n]*(?:\r|\n)|[^\r\n]+")


class _Direction:
    """One sender's h11 connection, stream offsets and the current message's octets.

    ``start`` is the stream offset of the current message; ``fed == start`` means its
    connection holds no octets (h11 would answer ``NEED_DATA`` unless ``closed``).
    ``asked`` tells whether the answered request was sent into a client-role connection.
    """

    def __init__(self, role: type[h11.SERVER] | type[h11.CLIENT]) -> None:
        self.role = role
        self.conn = h11.Connection(role, max_incomplete_event_size=MAX_RAW)
        self.fed = 0
        self.start = 0
        self.raw = bytearray()
        self.broken = False
        self.closed = False
        self.asked = False

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
        self.closed = closed
        self.asked = False
        if trailing:
            self.conn.receive_data(bytes(trailing))
        if closed:
            self.conn.receive_data(b"")

    def idle(self) -> bool:
        """Whether the connection holds nothing to parse (``next_event`` would be ``NEED_DATA``)."""
        return self.fed == self.start and not self.closed


class I3XDissector:
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
        self._answered = False  # _answering's response ended, the server direction starts afresh
        self._response: h11.Response | None = None
        self._response_type = b""  # its content-type
        self._response_body: Body | None = None
        self._sse: SSEParser | None = None

    def feed(self, sender: Sender, data: bytes) -> list[Finding]:
        """Consume octets ``sender`` sent; return the findings they complete (either direction)."""
        direction = self._client if sender is Sender.CLIENT else self._server
        out: list[Finding] = []
        if direction.broken or not data:
            return out
        direction.receive(data)
        self._requests(out)
        self._responses(out)
        return out

    def end(self, sender: Sender) -> list[Finding]:
        """``sender``'s stream ended: finish a read-until-close response, report a cut message, start afresh."""
        out: list[Finding] = []
        if sender is Sender.SERVER:
            self._end_server(out)
        else:
            self._end_client(out)
        return out

    # -- requests (client octets) ---------------------------------------------------------

    def _requests(self, out: list[Finding]) -> None:
        d = self._client
        while not d.broken and not d.idle():
            try:
                event = d.conn.next_event()
            except h11.ProtocolError as exc:
                d.broken = True
                out.append(_broken(d, Sender.CLIENT, exc))
                return
            if event is h11.NEED_DATA or event is h11.PAUSED or type(event) is h11.ConnectionClosed:
                if event is h11.PAUSED:
                    d.next_message()
                    continue
                return
            self._request_event(event, out)
            if type(event) is h11.EndOfMessage and d.conn.their_state is h11.DONE:
                d.next_message()  # what PAUSED leads to, without asking h11 for it

    def _request_event(self, event: Any, out: list[Finding]) -> None:
        d = self._client
        if type(event) is h11.Request:
            content_type, encoding = _content_headers(event.headers)
            self._request = HTTPRequest(
                event.method.decode("ascii", "replace"),
                event.target.decode("ascii", "replace"),
                content_type=content_type.decode("latin-1"),
            )
            self._request_body = Body(encoding.decode("latin-1").lower())
            if len(self._pending) >= MAX_PENDING:
                d.broken = True
                out.append(
                    Finding(
                        "error", d.start, d.message_raw(), error="too many unanswered requests", sender=Sender.CLIENT
                    )
                )
                return
            self._pending.append(self._request)
        elif type(event) is h11.Data and self._request_body is not None:
            _guard(self._request_body, event.data, d, Sender.CLIENT, out)
        elif type(event) is h11.EndOfMessage and self._request is not None:
            self._request_done(self._request, self._request_body, out)

    def _request_done(self, request: HTTPRequest, body: Body | None, out: list[Finding]) -> None:
        d = self._client
        raw = d.message_raw()
        error = request_fields(request, body) if body is not None else None
        if error is not None:
            out.append(Finding("error", d.start, raw, error=error, sender=Sender.CLIENT))
        out.append(Finding("apdu", d.start, raw, message=request, sender=Sender.CLIENT))
        self._request = self._request_body = None

    # -- responses (server octets) --------------------------------------------------------

    def _responses(self, out: list[Finding]) -> None:
        d = self._server
        while not d.broken:
            if self._answered:  # the last response ended: h11 pauses once the next octets come
                if d.fed == d.start:  # none yet: NEED_DATA, or ConnectionClosed (then none to answer)
                    if d.closed:
                        self._answering, self._answered = None, False
                    return
                self._answering, self._answered = None, False
            if self._answering is None and not self._answer_next():
                if d.fed - d.start > MAX_UNANSWERED:
                    d.broken = True
                    out.append(
                        Finding("error", d.start, bytes(d.raw), error="response without request", sender=Sender.SERVER)
                    )
                return
            if d.idle():
                return
            if not d.asked:
                assert self._answering is not None
                d.conn.send(_asked(self._answering.method))
                d.conn.send(_END)
                d.asked = True
            try:
                event = d.conn.next_event()
            except h11.ProtocolError as exc:
                d.broken = True
                out.append(_broken(d, Sender.SERVER, exc))
                return
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED or type(event) is h11.ConnectionClosed:
                self._answering = None
                if event is h11.PAUSED:
                    d.next_message()
                    continue
                return
            self._response_event(event, out)
            if type(event) is h11.EndOfMessage and d.conn.their_state is h11.DONE:
                d.next_message()  # what PAUSED leads to, without asking h11 for it
                self._answered = True

    def _answer_next(self) -> bool:
        """Take the next unanswered request (False: none yet); it is sent to h11 when octets need it."""
        if not self._pending:
            return False
        self._answering = self._pending.popleft()
        return True

    def _response_event(self, event: Any, out: list[Finding]) -> None:
        d, request = self._server, self._answering
        assert request is not None
        if type(event) is h11.InformationalResponse:
            message = HTTPResponse(event.status_code, event.reason.decode("latin-1"), request.method, request.target)
            out.append(Finding("apdu", d.start, b"", message=message, sender=Sender.SERVER))
        elif type(event) is h11.Response:
            content_type, encoding = _content_headers(event.headers)
            self._response, self._response_type = event, content_type
            self._response_body = Body(encoding.decode("latin-1").lower())
            if content_type.split(b";")[0].strip().lower() == b"text/event-stream":
                self._sse = SSEParser(max_line=MAX_RAW, max_data=MAX_BODY)
                message = HTTPResponse(
                    event.status_code, event.reason.decode("latin-1"), request.method, request.target, envelope="stream"
                )
                out.append(Finding("apdu", d.start, bytes(d.raw), message=message, sender=Sender.SERVER))
        elif type(event) is h11.Data and self._response_body is not None:
            if self._sse is not None:
                self._stream_data(event.data, request, out)
            else:
                _guard(self._response_body, event.data, d, Sender.SERVER, out)
        elif type(event) is h11.EndOfMessage:
            self._response_done(request, out)

    def _response_done(self, request: HTTPRequest, out: list[Finding]) -> None:
        d, response, body = self._server, self._response, self._response_body
        self._response = self._response_body = None
        if self._sse is not None:
            self._sse = None
            return
        if response is None or body is None:
            return
        raw = d.message_raw()
        message, error = summary(
            response.status_code, response.reason.decode("latin-1"), self._response_type, request, body
        )
        if error is not None:
            out.append(Finding("error", d.start, raw, error=error, sender=Sender.SERVER))
        out.append(Finding("apdu", d.start, raw, message=message, sender=Sender.SERVER))

    def _stream_data(self, data: bytes, request: HTTPRequest, out: list[Finding]) -> None:
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
                    out.extend(stream_findings(event, subscription, offset, sender=Sender.SERVER))
                if parser.comments > comments:
                    comment = StreamEvent(subscription, "comment")
                    out.append(Finding("apdu", offset, b"", message=comment, sender=Sender.SERVER))
        except (DecodeError, zlib.error) as exc:
            d.broken = True
            out.append(Finding("error", offset, data[:MAX_RAW], error=f"SSE stream: {exc}", sender=Sender.SERVER))

    # -- ends ---------------------------------------------------------------------------

    def _end_server(self, out: list[Finding]) -> None:
        d = self._server
        cut = d.fed > d.start and self._answering is not None  # a response started: did it end?
        if cut and not d.broken and self._sse is None:  # an SSE stream just stops
            d.conn.receive_data(b"")
            d.closed = True
            self._responses(out)
            if self._answering is not None and self._response is not None and not d.broken:
                out.append(
                    Finding(
                        "error", d.start, bytes(d.raw), error="stream ended inside a response", sender=Sender.SERVER
                    )
                )
        self._server = _Direction(h11.CLIENT)
        self._answering = self._response = self._response_body = self._sse = None
        self._answered = False
        self._pending.clear()

    def _end_client(self, out: list[Finding]) -> None:
        d = self._client
        if not d.broken and self._request is not None:
            out.append(
                Finding("error", d.start, bytes(d.raw), error="stream ended inside a request", sender=Sender.CLIENT)
            )
        self._client = _Direction(h11.SERVER)
        self._request = self._request_body = None


#: The request a client-role connection is given before each response, by method (h11 reads only that).
_ASKED: dict[str, h11.Request] = {}
_END = h11.EndOfMessage()


def _asked(method: str) -> h11.Request:
    """The request standing for one with ``method`` in a client-role connection (made once per method)."""
    asked = _ASKED.get(method)
    if asked is None:
        asked = h11.Request(method=method, target="/", headers=[("host", "i3x")])
        if len(_ASKED) < 64:  # methods come off the wire: a bounded memo
            _ASKED[method] = asked
    return asked


def _content_headers(headers: Any) -> tuple[bytes, bytes]:
    """``(content-type, content-encoding)`` of h11 headers (``b""`` when absent; the last one counts)."""
    content_type = encoding = b""
    for name, value in headers.raw_items():
        name = name.lower()
        if name == b"content-type":
            content_type = value
        elif name == b"content-encoding":
            encoding = value
    return content_type, encoding


def _broken(d: _Direction, sender: Sender, exc: h11.ProtocolError) -> Finding:
    """The one error finding that ends a direction whose HTTP is broken."""
    return Finding("error", d.start, bytes(d.raw), error=f"malformed HTTP: {exc}", sender=sender)


def _guard(body: Body, data: bytes, d: _Direction, sender: Sender, out: list[Finding]) -> None:
    """Add body octets; an undecodable compressed body ends that direction with one error."""
    try:
        body.add(data)
    except zlib.error as exc:
        d.broken = True
        out.append(Finding("error", d.start, bytes(d.raw), error=f"bad {body.encoding} body: {exc}", sender=sender))


# -- views --------------------------------------------------------------------------------

#: Characters of a value shown in a table cell before it is cut.
SHOWN_CHARS = 60


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def message_json(message: Any) -> dict[str, Any]:
    """Return the JSON view of a decoded message (keys in :data:`JSON_KEYS`)."""
    if isinstance(message, HTTPRequest):
        out: dict[str, Any] = {"message": "request", "method": message.method, "target": message.target}
        out.update(element_ids=list(message.element_ids), subscription_ids=list(message.subscription_ids))
        out.update(client_id=message.client_id, body_length=message.body_length)
        return out
    if isinstance(message, HTTPResponse):
        out = {"message": "response", "status": message.status, "reason": message.reason}
        out.update(method=message.method, target=message.target, envelope=message.envelope)
        out.update(success=message.success, items=message.items, failures=message.failures, code=message.code)
        out.update(detail=message.detail, body_length=message.body_length)
        out.update(content_encoding=message.content_encoding or None)
        return out
    if isinstance(message, StreamUpdate):
        out = {"message": "update", "subscription_id": message.subscription_id, "element_id": message.element_id}
        out.update(value=message.value, quality=message.quality, timestamp=message.timestamp)
        out.update(sequence_number=message.sequence_number, event_id=message.event_id or None)
        return out
    return {
        "message": "event",
        "subscription_id": message.subscription_id,
        "event": message.event,
        "data": message.data,
    }


def message_format(message: Any) -> str:
    """Return ``"REQ"``, ``"RSP"`` or ``"SSE"``."""
    if isinstance(message, HTTPRequest):
        return "REQ"
    return "RSP" if isinstance(message, HTTPResponse) else "SSE"


def message_type_name(message: Any) -> str:
    """Return what the summary counts: ``"POST /v1/objects/value"``, ``"200"``, ``"update"``, ``"comment"``."""
    if isinstance(message, HTTPRequest):
        return f"{message.method} {message.target.split('?')[0]}"
    if isinstance(message, HTTPResponse):
        return str(message.status)
    return "update" if isinstance(message, StreamUpdate) else message.event


#: The table columns of i3X rows (after time, stream and direction).
COLUMNS = (Column("fmt", 3), Column("http", 6), Column("path", 32), Column("summary"))


def _request_summary(request: HTTPRequest) -> str:
    parts = []
    if request.element_ids:
        parts.append(f"elementIds={','.join(request.element_ids)}")
    if request.subscription_ids:
        parts.append(f"subscriptionIds={','.join(request.subscription_ids)}")
    if request.client_id is not None:
        parts.append(f"clientId={request.client_id}")
    text = " ".join(parts)
    return text if len(text) <= 2 * SHOWN_CHARS else text[: 2 * SHOWN_CHARS - 3] + "..."


def _response_summary(response: HTTPResponse) -> str:
    parts = [response.envelope]
    if response.success is not None:
        parts.append("ok" if response.success else "failed")
    if response.items is not None:
        parts.append(f"items={response.items}")
    if response.failures:
        parts.append(f"failures={response.failures}")
    if response.code is not None:
        parts.append(f"code={response.code} {response.detail!r}")
    if response.content_encoding:
        parts.append(response.content_encoding)
    return " ".join(parts)


def message_cells(message: Any) -> tuple[str, ...]:
    """Return the table cells of a message, one per column of :data:`COLUMNS`."""
    if isinstance(message, HTTPRequest):
        return ("REQ", message.method, message.target, _request_summary(message))
    if isinstance(message, HTTPResponse):
        return ("RSP", str(message.status), message.target, _response_summary(message))
    if isinstance(message, StreamUpdate):
        seq = f" seq={message.sequence_number}" if message.sequence_number is not None else ""
        text = f"{message.element_id}={_short(message.value)} {message.quality} {message.timestamp}{seq}"
        return ("SSE", "", message.subscription_id or "", text)
    return ("SSE", "", message.subscription_id or "", f"{message.event} {_short(message.data)}".strip())


JSON_KEYS = """\
i3X records (protocol "i3x") have the common keys of every record (see
otwire.inspect.iec104.JSON_KEYS). kind "apdu" adds message: "request" | "response" |
"update" | "event". request: method, target, element_ids, subscription_ids (lists of
the ids its JSON body names), client_id, body_length (octets on the wire). response:
status, reason, method and target (of the request it answers), envelope ("single" |
"bulk" | "sync" | "stream" | "empty" | "other"), success, items (bulk items, sync
batches or list length), failures (failed bulk items), code and detail (the
responseDetail status or error code of the failure or partial success),
body_length, content_encoding. update (one per value of an SSE stream):
subscription_id, element_id, value, quality, timestamp, sequence_number, event_id.
event (an SSE event carrying no update, or a keep-alive comment): subscription_id,
event ("close", "comment", "message", ...), data. raw is the message's octets (at
most 64 KiB; for SSE rows the event's data).
"""

#: How i3X messages are shown (named by :mod:`otwire.registry`).
VIEW = ProtocolView(message_json, COLUMNS, message_cells, message_format, message_type_name)
