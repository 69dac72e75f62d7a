"""The i3X server over loopback (http.client, both blocking and SSE) and ``otwire serve i3x`` on SIGTERM."""

from __future__ import annotations

import gzip
import http.client
import json
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import OtwireProcess
from otwire.servers.i3x import DEFAULT_PORT, Server

TIMEOUT = 30.0


@pytest.fixture
def server() -> Iterator[Server]:
    with Server(port=0, tick=0.05) as running:
        yield running


def post(port: int, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_default_port() -> None:
    assert DEFAULT_PORT == 8080


def test_info_and_values_over_loopback(server: Server) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/v1/info", timeout=TIMEOUT) as response:
        assert response.status == 200
        assert json.loads(response.read())["result"]["specVersion"] == "1.0"
    status, body = post(server.port, "/v1/objects/value", {"elementIds": ["pump-101"], "maxDepth": 0})
    assert status == 200
    pump = body["results"][0]["result"]
    assert pump["isComposition"] is True
    assert pump["components"]["motor-101"]["components"]["motor-101-speed"]["quality"] == "Good"
    history = post(server.port, "/v1/objects/history", {"elementIds": ["pump-101-flow"]})[1]
    assert len(history["results"][0]["result"]["values"]) >= 60  # seeded


def test_keep_alive_and_gzip(server: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        for _ in range(2):  # one connection, two requests
            conn.request("GET", "/v1/namespaces", headers={"Accept-Encoding": "gzip"})
            response = conn.getresponse()
            assert response.getheader("Content-Encoding") == "gzip"
            assert json.loads(gzip.decompress(response.read()))["result"][0]["uri"] == "urn:otwire:i3x:demo"
    finally:
        conn.close()


def test_bearer_token_over_loopback() -> None:
    with Server(port=0, bearer_token="t0k") as server:
        assert post(server.port, "/v1/objects/list", {"elementIds": ["plant"]})[0] == 401
        ok = post(server.port, "/v1/objects/list", {"elementIds": ["plant"]}, {"Authorization": "Bearer t0k"})
        assert ok[0] == 200 and ok[1]["results"][0]["result"]["displayName"] == "Demo plant"


def test_sse_stream_delivers_the_demo_values(server: Server) -> None:
    status, body = post(server.port, "/v1/subscriptions", {"clientId": "t"})
    assert status == 200
    sub = body["result"]["subscriptionId"]
    register = {"clientId": "t", "subscriptionId": sub, "elementIds": ["motor-101-speed"]}
    assert post(server.port, "/v1/subscriptions/register", register)[0] == 200
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/v1/subscriptions/stream", json.dumps({"clientId": "t", "subscriptionId": sub}),
                     {"Content-Type": "application/json", "Accept": "text/event-stream"})  # fmt: skip
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
        line = response.readline()
        while not line.startswith(b"data: "):
            line = response.readline()
        update = json.loads(line[6:])[0]
        assert update["elementId"] == "motor-101-speed" and update["quality"] == "Good"
        assert isinstance(update["value"], float) and update["sequenceNumber"] >= 1
    finally:
        conn.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_i3x_stops_on_sigterm() -> None:
    command = OtwireProcess("serve", "i3x", "--port", "0")
    try:
        port = int(command.wait_for(r"on http://127\.0\.0\.1:(\d+)/v1/info")[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/info", timeout=TIMEOUT) as response:
            assert response.status == 200
        command.wait_for(r"GET /v1/info -> 200")
        assert command.terminate(TIMEOUT) == 0
        assert "stopped" in command.rest()
    finally:
        command.kill()
