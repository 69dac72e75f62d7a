"""The i3X client engine against h11 server connections (both ends h11, a fake clock): requests.

``Peer`` drives :class:`I3XClientEngine` like a transport would and plays the server
with one ``h11.Connection(h11.SERVER)`` per connection id the engine asks for.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

import h11
import pytest

from helpers import drain
from otwire.codecs.i3x import (
    CurrentValue,
    GetObjectValueRequest,
    Namespace,
    decode_bulk,
    decode_response,
    encode_error,
    encode_response,
)
from otwire.errors import ConnectionLost, DecodeError, LocalProtocolError, RequestTimeout
from otwire.protocols.i3x import (
    ConnState,
    I3XClientConfig,
    I3XClientEngine,
    RequestFailed,
    ResponseReceived,
)

NAMESPACES = encode_response([Namespace("urn:a", "A")])


class Peer:
    """The engine plus the server side of every connection it opened, with a fake clock."""

    def __init__(self, **config: Any) -> None:
        self.now = 0.0
        self.engine = I3XClientEngine(I3XClientConfig(seed=7, **config))
        self.servers: dict[int, h11.Connection] = {}
        self.opened: list[int] = []
        self.closed: list[int] = []

    def pump(self, *, accept: bool = True) -> None:
        """Open the connections asked for, move the client's octets to the servers, collect closes."""
        for conn_id in self.engine.connections_to_open():
            self.opened.append(conn_id)
            self.servers[conn_id] = h11.Connection(h11.SERVER)
            if accept:
                self.engine.connection_made(conn_id, self.now)
        for conn_id in self.engine.connections_with_output():
            self.servers[conn_id].receive_data(self.engine.data_to_send(conn_id))
        self.closed += self.engine.connections_to_close()

    def request_on(self, conn_id: int) -> tuple[h11.Request, bytes]:
        """The next whole request the server of ``conn_id`` received."""
        server = self.servers[conn_id]
        if server.our_state is h11.DONE and server.their_state is h11.DONE:
            server.start_next_cycle()
        head, body = None, b""
        while True:
            event = server.next_event()
            assert event is not h11.NEED_DATA, "no whole request arrived"
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return head, body

    def respond(
        self, conn_id: int, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None
    ) -> None:
        """Send a whole response (Content-Length framed unless ``headers`` say otherwise) and feed it."""
        fields = headers if headers is not None else [("Content-Type", "application/json")]
        if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in fields):
            fields = [*fields, ("Content-Length", str(len(body)))]
        server = self.servers[conn_id]
        out = server.send(h11.Response(status_code=status, headers=fields)) or b""
        if body:
            out += server.send(h11.Data(data=body)) or b""
        out += server.send(h11.EndOfMessage()) or b""
        self.feed(conn_id, out)

    def feed(self, conn_id: int, data: bytes) -> None:
        self.engine.receive_data(conn_id, data, self.now)
        self.pump()

    def events(self) -> list[Any]:
        return drain(self.engine)


def get(peer: Peer, path: str = "/namespaces") -> int:
    request_id = peer.engine.request("GET", path, None, peer.now, expect=lambda b: decode_response(b, list[Namespace]))
    peer.pump()
    return request_id


def test_get_sends_the_headers_and_reports_the_decoded_envelope() -> None:
    peer = Peer(host="plant", port=8080)
    request_id = get(peer)
    assert peer.opened == [1]
    head, body = peer.request_on(1)
    assert (head.method, head.target, body) == (b"GET", b"/v1/namespaces", b"")
    headers = dict(head.headers)
    assert headers[b"host"] == b"plant:8080"
    assert headers[b"accept"] == b"application/json"
    assert headers[b"accept-encoding"] == b"gzip"
    assert b"authorization" not in headers
    peer.respond(1, 200, NAMESPACES)
    [event] = peer.events()
    assert isinstance(event, ResponseReceived)
    assert (event.request_id, event.status, event.raw) == (request_id, 200, NAMESPACES)
    assert event.body.result == [Namespace("urn:a", "A")]


def test_post_encodes_the_body_as_json() -> None:
    peer = Peer()
    peer.engine.request("POST", "/objects/value", GetObjectValueRequest(element_ids=["a"]), peer.now)
    peer.pump()
    head, body = peer.request_on(1)
    assert head.method == b"POST"
    assert dict(head.headers)[b"content-type"] == b"application/json"
    assert body == b'{"elementIds":["a"]}'


def test_keep_alive_reuses_the_connection() -> None:
    peer = Peer()
    for _ in range(3):
        get(peer)
        peer.request_on(1)
        peer.respond(1, 200, NAMESPACES)
    assert peer.opened == [1]
    assert [type(e) for e in peer.events()] == [ResponseReceived] * 3
    assert peer.engine.connection_state(1) is ConnState.IDLE


def test_connection_close_is_honoured() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    peer.respond(1, 200, NAMESPACES, [("Connection", "close"), ("Content-Type", "application/json")])
    assert peer.closed == [1]
    get(peer)
    assert peer.opened == [1, 2]
    assert [type(e) for e in peer.events()] == [ResponseReceived]


def test_pool_is_bounded_and_queued_requests_wait_in_order() -> None:
    peer = Peer(pool_size=2)
    ids = [get(peer, f"/objects?n={n}") for n in range(3)]
    assert peer.opened == [1, 2]
    assert peer.request_on(1)[0].target == b"/v1/objects?n=0"
    assert peer.request_on(2)[0].target == b"/v1/objects?n=1"
    peer.respond(2, 200, NAMESPACES)
    assert peer.request_on(2)[0].target == b"/v1/objects?n=2"
    peer.respond(1, 200, NAMESPACES)
    peer.respond(2, 200, NAMESPACES)
    assert [e.request_id for e in peer.events()] == [ids[1], ids[0], ids[2]]
    assert peer.opened == [1, 2]


def test_request_timeout_fails_the_request_and_closes_its_connection() -> None:
    peer = Peer(request_timeout=5.0)
    request_id = get(peer)
    assert peer.engine.get_timer() == 5.0
    peer.engine.handle_timer(4.9)
    assert peer.events() == []
    peer.now = 5.0
    peer.engine.handle_timer(peer.now)
    peer.pump()
    [event] = peer.events()
    assert isinstance(event, RequestFailed) and event.request_id == request_id
    assert isinstance(event.error, RequestTimeout)
    assert peer.closed == [1]
    assert peer.engine.get_timer() is None


def test_a_queued_request_times_out_without_a_connection() -> None:
    peer = Peer(request_timeout=1.0)
    get(peer)
    peer.engine.request("GET", "/info", None, 0.5)
    peer.engine.handle_timer(1.2)
    peer.pump()
    assert [type(e) for e in peer.events()] == [RequestFailed]
    assert peer.closed == [1]


def test_gzip_body_is_decompressed() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    fields = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
    peer.respond(1, 200, gzip.compress(NAMESPACES), fields)
    [event] = peer.events()
    assert event.raw == NAMESPACES
    assert event.body.result == [Namespace("urn:a", "A")]


def test_gzip_is_not_advertised_when_disabled() -> None:
    peer = Peer(gzip=False)
    get(peer)
    assert b"accept-encoding" not in dict(peer.request_on(1)[0].headers)


def test_gzip_bomb_over_the_cap_is_a_decode_error_on_that_connection_only() -> None:
    peer = Peer(max_body_size=1000)
    first = get(peer)
    peer.request_on(1)
    bomb = gzip.compress(b" " * 100_000)
    with pytest.raises(DecodeError, match="larger than 1000"):
        peer.respond(1, 200, bomb, [("Content-Encoding", "gzip"), ("Content-Length", str(len(bomb)))])
    peer.pump()
    [event] = peer.events()
    assert isinstance(event, RequestFailed) and event.request_id == first
    assert isinstance(event.error, DecodeError)
    assert peer.closed == [1]
    get(peer)
    assert peer.opened == [1, 2]


def test_corrupt_gzip_is_a_decode_error() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    with pytest.raises(DecodeError, match="compressed"):
        peer.respond(1, 200, b"\x1f\x8bnot gzip", [("Content-Encoding", "gzip")])
    assert isinstance(peer.events()[0].error, DecodeError)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"token": "t0k"}, b"Bearer t0k"),
        ({"auth": ("ann", "s3cret")}, b"Basic " + base64.b64encode(b"ann:s3cret")),
        ({"token": "t0k", "auth": ("ann", "s3cret")}, b"Bearer t0k"),
    ],
)
def test_authorization_header(config: dict[str, Any], expected: bytes) -> None:
    peer = Peer(**config)
    get(peer)
    assert dict(peer.request_on(1)[0].headers)[b"authorization"] == expected


def test_extra_headers_from_config_and_per_request() -> None:
    peer = Peer(headers=(("X-Site", "north"),))
    peer.engine.request("GET", "/info", None, 0.0, headers=[("X-Trace", "1")])
    peer.pump()
    headers = dict(peer.request_on(1)[0].headers)
    assert (headers[b"x-site"], headers[b"x-trace"]) == (b"north", b"1")


def test_404_with_response_detail_is_a_response_with_the_failure() -> None:
    peer = Peer()
    request_id = peer.engine.request(
        "POST",
        "/objects/value",
        GetObjectValueRequest(element_ids=["x"]),
        0.0,
        expect=lambda b: decode_bulk(b, CurrentValue),
    )
    peer.pump()
    peer.request_on(1)
    peer.respond(1, 404, encode_error(404, "Not Found", "no such element"))
    [event] = peer.events()
    assert isinstance(event, ResponseReceived) and event.request_id == request_id
    assert event.status == 404
    assert event.body.failure.status == 404 and event.body.failure.detail == "no such element"


def test_error_status_with_a_non_json_body_keeps_the_raw_body() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    peer.respond(1, 502, b"<html>bad gateway</html>", [("Content-Type", "text/html")])
    [event] = peer.events()
    assert isinstance(event, ResponseReceived)
    assert (event.status, event.body, event.raw) == (502, None, b"<html>bad gateway</html>")


def test_bad_json_on_success_is_request_failed_and_the_connection_is_kept() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    peer.respond(1, 200, b'{"success": tru')
    [event] = peer.events()
    assert isinstance(event, RequestFailed) and isinstance(event.error, DecodeError)
    assert peer.closed == [] and peer.engine.connection_state(1) is ConnState.IDLE


def test_bad_http_raises_closes_that_connection_and_the_engine_goes_on() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    with pytest.raises(DecodeError, match="bad HTTP"):
        peer.feed(1, b"HTTP/1.1 banana\r\n\r\n")
    peer.pump()
    assert [type(e) for e in peer.events()] == [RequestFailed]
    assert peer.closed == [1]
    peer.engine.receive_data(1, b"more junk", 0.0)  # dropped: the engine closed it
    get(peer)
    assert peer.opened == [1, 2]


def test_server_closing_an_idle_connection_is_quiet() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    peer.respond(1, 200, NAMESPACES)
    peer.events()
    peer.feed(1, b"")
    assert peer.events() == [] and peer.closed == [1]


def test_end_of_stream_mid_response_fails_the_request() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    peer.feed(1, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    peer.feed(1, b"")
    [event] = peer.events()
    assert isinstance(event, RequestFailed) and isinstance(event.error, ConnectionLost)


def test_connection_lost_fails_the_request_in_flight() -> None:
    peer = Peer()
    get(peer)
    peer.engine.connection_lost(1, 0.0, OSError("reset"))
    peer.engine.connection_lost(1, 0.0, OSError("again"))  # nothing: already closed
    [event] = peer.events()
    assert isinstance(event, RequestFailed) and isinstance(event.error, ConnectionLost)


def test_connection_failed_fails_the_queued_requests() -> None:
    peer = Peer()
    first = peer.engine.request("GET", "/info", None, 0.0)
    [conn_id] = peer.engine.connections_to_open()
    refused = ConnectionRefusedError("refused")
    peer.engine.connection_failed(conn_id, 0.0, refused)
    [event] = peer.events()
    assert isinstance(event, RequestFailed) and event.request_id == first and event.error is refused


def test_close_fails_everything_and_then_refuses_inputs() -> None:
    peer = Peer()
    get(peer)
    peer.engine.close(1.0)
    peer.engine.close(2.0)
    peer.pump()
    assert [type(e) for e in peer.events()] == [RequestFailed]
    assert peer.closed == [1]
    peer.engine.connection_lost(1, 3.0)
    for call in (
        lambda: peer.engine.request("GET", "/info", None, 3.0),
        lambda: peer.engine.receive_data(1, b"x", 3.0),
        lambda: peer.engine.handle_timer(3.0),
        lambda: peer.engine.open_stream("s", "c", 3.0),
    ):
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            call()


def test_misuse_is_a_local_protocol_error() -> None:
    engine = I3XClientEngine()
    with pytest.raises(LocalProtocolError):
        engine.request("GET", "no-slash", None, 0.0)
    with pytest.raises(LocalProtocolError):
        engine.receive_data(99, b"x", 0.0)
    with pytest.raises(LocalProtocolError):
        engine.close_stream(5, 0.0)
    engine.request("GET", "/info", None, 0.0)
    with pytest.raises(LocalProtocolError, match="before connection_made"):
        engine.receive_data(1, b"HTTP/1.1 200 OK\r\n", 0.0)


def test_octets_on_an_idle_connection_are_a_violation() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    peer.respond(1, 200, NAMESPACES)
    with pytest.raises(DecodeError, match="idle connection"):
        peer.feed(1, b"HTTP/1.1 200 OK\r\n")
    peer.pump()
    assert [type(e) for e in peer.events()] == [ResponseReceived]
    assert peer.closed == [1]


def test_octets_after_the_gzip_body_are_a_decode_error() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    with pytest.raises(DecodeError, match="after the end of the compressed body"):
        peer.respond(1, 200, gzip.compress(NAMESPACES) + b"trailing", [("Content-Encoding", "gzip")])
    assert isinstance(peer.events()[0].error, DecodeError)


def test_unknown_content_encoding_is_a_decode_error() -> None:
    peer = Peer()
    get(peer)
    peer.request_on(1)
    with pytest.raises(DecodeError, match="Content-Encoding"):
        peer.respond(1, 200, b"xx", [("Content-Encoding", "br")])
