"""Faults injected on demand for client tests: 5xx with Retry-After, half-open streams (notes §10)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from otwire.codecs.i3x import VQT
from otwire.errors import InvalidArgument
from otwire.protocols.i3x._server_faults import Fault, parse_faults
from otwire.servers import i3x as i3x_servers

from .test_server_engine import subscribe
from .test_server_kit import T0, Client, engine

VALUES = {"elementIds": ["flow"]}


def stream_open(client: Client, sub: str) -> bytes:
    client.send("POST", "/v1/subscriptions/stream", {"clientId": "c1", "subscriptionId": sub})
    assert client.open_stream().status_code == 200
    return client.stream_data()


def test_no_fault_by_default() -> None:
    server = engine()
    assert server.faults.active == []
    assert Client(server).call("POST", "/v1/objects/value", VALUES)[0] == 200


def test_a_fault_answers_its_status_with_retry_after_on_its_path_only() -> None:
    server = engine()
    server.inject_fault(Fault(path="/objects/value", status=503, retry_after=2))
    client = Client(server)
    client.send("POST", "/v1/objects/value", VALUES)
    response, body = client.response()
    assert response.status_code == 503 and dict(response.headers)[b"retry-after"] == b"2"
    assert json.loads(body)["responseDetail"] == {"title": "Service Unavailable", "status": 503,
                                                  "detail": "injected fault on /objects/value"}  # fmt: skip
    assert client.call("POST", "/v1/objects/list", VALUES)[0] == 200  # other paths answer
    assert client.call("POST", "/v1/objects/value", VALUES)[0] == 503  # until cleared
    server.clear_faults()
    assert client.call("POST", "/v1/objects/value", VALUES)[0] == 200


def test_a_counted_fault_applies_that_many_times_and_star_spares_info() -> None:
    server = engine()
    server.inject_fault(Fault(path="*", status=500, count=2))
    client = Client(server)
    assert client.call("GET", "/v1/info")[0] == 200
    assert [client.call("GET", "/v1/namespaces")[0] for _ in range(3)] == [500, 500, 200]
    assert server.faults.active == []


def test_a_fault_keeps_404_and_405_for_unknown_paths_and_methods() -> None:
    server = engine()
    server.inject_fault(Fault(path="*", status=503))
    client = Client(server)
    assert client.call("GET", "/v1/nowhere")[0] == 404
    assert client.call("GET", "/v1/objects/value")[0] == 405


def test_a_fault_in_the_beta_error_shape() -> None:
    server = i3x_servers.BaseServer(port=0, profile="beta", faults="/namespaces:500").engine
    status, body = Client(server).call("GET", "/v1/namespaces")
    assert status == 500
    assert body == {"success": False, "error": {"code": 500, "message": "injected fault on /namespaces"}}


def test_a_stalled_stream_path_gives_head_and_greeting_then_silence() -> None:
    server = engine(keepalive_interval=5.0)
    server.inject_fault(Fault(path="/subscriptions/stream", status=None, count=1))
    client = Client(server)
    sub = subscribe(client, ["flow"])
    assert stream_open(client, sub) == b": connected\n\n"
    server.publish("flow", VQT(42.0, "Good", T0), 1.0)
    server.handle_timer(5.0)  # a keep-alive is due
    assert server.data_to_send(1) == b"" and not server.is_closed(1)
    watch = server.subscriptions.owned(sub, "c1")
    assert watch is not None and watch.stream_peer == 1  # still the stream, as far as the server knows
    server.close(1, 6.0)
    assert server.data_to_send(1) == b"" and server.peers() == []  # closed and forgotten, nothing sent


def test_stall_stream_silences_an_open_stream() -> None:
    server = engine()
    client = Client(server)
    sub = subscribe(client, ["flow"])
    stream_open(client, sub)
    assert server.stall_stream("sub-404") is False
    server.publish("flow", VQT(41.0, "Good", T0), 1.0)
    assert server.stall_stream(sub) is True  # what was queued before the stall still goes out
    server.publish("flow", VQT(42.0, "Good", T0), 1.0)
    data = server.data_to_send(1)
    assert b'"value":41.0' in data and b'"value":42.0' not in data
    server.publish("flow", VQT(43.0, "Good", T0), 2.0)
    assert server.data_to_send(1) == b""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("/objects/value:503", [Fault(path="/objects/value", status=503)]),
     (" /a:500:3 , *:stall ", [Fault(path="/a", status=500, retry_after=3), Fault(path="*", status=None)]),
     ("", [])],
)  # fmt: skip
def test_parse_faults(text: str, expected: list[Fault]) -> None:
    assert parse_faults(text) == expected


@pytest.mark.parametrize("text", ["/a", "/a:abc", "/a:503:x", "a:503", "/a:200", "/a:599", "/a:503:-1"])
def test_parse_faults_refuses(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_faults(text)


def test_fault_count_must_be_an_int() -> None:
    with pytest.raises(InvalidArgument, match="count"):
        Fault(path="/a", count=1.5)  # type: ignore[arg-type]


def http_request(port: int, method: str, path: str, body: Any) -> tuple[int, dict[str, str]]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, json.dumps(body), {"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def test_server_faults_from_another_thread() -> None:
    with i3x_servers.Server(port=0, tick=3600.0) as server:
        server.inject_fault("/objects/value", 503, retry_after=7, count=1)
        status, headers = http_request(server.port, "POST", "/v1/objects/value", {"elementIds": ["tank-1-level"]})
        assert (status, headers["retry-after"]) == (503, "7")
        assert http_request(server.port, "POST", "/v1/objects/value", {"elementIds": ["tank-1-level"]})[0] == 200
        sub = {"clientId": "c", "subscriptionId": "sub-1"}
        assert http_request(server.port, "POST", "/v1/subscriptions", {"clientId": "c"})[0] == 200
        body = json.dumps({**sub, "elementIds": ["tank-1-level"]})
        assert http_request(server.port, "POST", "/v1/subscriptions/register", json.loads(body))[0] == 200
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stream:
            data = json.dumps(sub).encode()
            stream.sendall(b"POST /v1/subscriptions/stream HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
                           b"content-length: %d\r\n\r\n%s" % (len(data), data))  # fmt: skip
            head = b""
            while b": connected" not in head:
                head += stream.recv(4096)
            assert server.stall_stream("sub-1") is True
            update = {"updates": [{"elementId": "tank-1-level", "value": {"value": 5.5}}]}
            assert http_request(server.port, "PUT", "/v1/objects/value", update)[0] == 200
            server.stop()  # closes the connection: the client sees the end, and nothing after the greeting
            rest = b""
            while chunk := stream.recv(4096):
                rest += chunk
            assert b"data:" not in rest and b"5.5" not in rest
