"""The server's SSE and sync queues under a fast producer and a stalled consumer (issue 9 §4; notes §10).

Sync: a subscription keeps at most ``queue_size`` batches whatever is published, so its memory
stops growing once full (measured with tracemalloc). SSE: the engine hands every update to the
driver at once; a consumer that does not read is cut off by the driver's ``max_output_bytes``
with a logged reason, after which its subscription queues (bounded) for ``/sync`` again.
Also :meth:`I3XServer.publish_many`: one SSE event per call and subscription.
"""

from __future__ import annotations

import gc
import json
import logging
import socket
import tracemalloc

import pytest

from helpers import wait_until
from otwire.codecs.i3x import VQT
from otwire.protocols.i3x.server import I3XServer
from otwire.servers.i3x import Server
from otwire.transports.limits import ServerLimits

from .test_server_engine import subscribe
from .test_server_kit import T0, Client, engine, make_space

SYNC = "/v1/subscriptions/sync"


def values(start: int, n: int) -> list[tuple[str, VQT]]:
    return [("flow", VQT(float(i), "Good", T0)) for i in range(start, start + n)]


def test_a_sync_queue_stops_growing_when_full() -> None:
    server = engine(queue_size=100)
    client = Client(server)
    sub = subscribe(client, ["flow"])
    server.publish_many(values(0, 200), 0.0)  # full, and the first allocations made
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in range(200, 5_200, 1000):
            server.publish_many(values(start, 1000), 0.0)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    watch = server.subscriptions.owned(sub, "c1")
    assert watch is not None and len(watch.queue) == 100 and watch.dropped == 5_100
    assert grown < 64 * 1024, f"{grown} octets more after 5,000 updates into a full queue"
    status, body = client.call("POST", SYNC, {"clientId": "c1", "subscriptionId": sub})
    assert status == 206 and body["responseDetail"]["detail"] == "5100 updates dropped"
    assert [b["sequenceNumber"] for b in body["result"]] == list(range(5_101, 5_201))


def open_stream(client: Client, sub: str) -> bytes:
    client.send("POST", "/v1/subscriptions/stream", {"clientId": "c1", "subscriptionId": sub})
    assert client.open_stream().status_code == 200
    return client.stream_data()


@pytest.mark.parametrize(("profile", "events"), [("1.0", 1), ("cesmii-demo", 3)])
def test_publish_many_sends_one_event_per_call(profile: str, events: int) -> None:
    server = I3XServer(make_space(), profile=profile)
    client = Client(server)
    sub = subscribe(client, ["flow", "speed"])
    open_stream(client, sub)
    assert server.publish_many([*values(1, 2), ("speed", VQT(9, "Good", T0)), ("pump", VQT("x", "Good", T0))], 0.0) == 3
    frames = [f for f in client.stream_data().split(b"\n\n") if f]
    assert len(frames) == events
    updates = [u for f in frames for u in json.loads(f.removeprefix(b"data: "))]
    assert [(u["elementId"], u["sequenceNumber"]) for u in updates] == [("flow", 1), ("flow", 2), ("speed", 3)]


def test_publish_many_queues_one_batch_per_update_without_a_stream() -> None:
    server = engine()
    client = Client(server)
    sub = subscribe(client, ["flow"])
    server.publish_many(values(0, 3), 0.0)
    batches = client.call("POST", SYNC, {"clientId": "c1", "subscriptionId": sub})[1]["result"]
    assert [(b["sequenceNumber"], len(b["updates"])) for b in batches] == [(1, 1), (2, 1), (3, 1)]


def post(port: int, path: str, body: object) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        data = json.dumps(body).encode()
        sock.sendall(b"POST %s HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: %d\r\n\r\n%s" % (path.encode(), len(data), data))  # fmt: skip
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def test_a_stalled_stream_consumer_is_cut_off_with_its_reason_then_the_queue_bounds_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="otwire")
    limits = ServerLimits(max_output_bytes=256 * 1024)
    with Server(port=0, tick=3600.0, limits=limits, queue_size=50) as server:
        assert post(server.port, "/v1/subscriptions", {"clientId": "c1"}) == 200
        register = {"clientId": "c1", "subscriptionId": "sub-1", "elementIds": ["tank-1-level"]}
        assert post(server.port, "/v1/subscriptions/register", register) == 200
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        body = json.dumps({"clientId": "c1", "subscriptionId": "sub-1"}).encode()
        stalled.sendall(b"POST /v1/subscriptions/stream HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
                        b"content-length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip  # and never reads
        watch = server.engine.subscriptions.owned("sub-1", "c1")
        assert watch is not None
        wait_until(lambda: watch.stream_peer is not None, what="the stream to open")
        queued: list[int] = []

        def burst() -> None:  # a fast producer: 2,000 updates per call, in the server's loop
            now = server.driver.now()  # type: ignore[union-attr]
            server.engine.publish_many([("tank-1-level", VQT(float(i), "Good", T0)) for i in range(2000)], now)
            queued.extend(server.engine.queued(p) for p in server.engine.peers())
            server.driver.process_soon()  # type: ignore[union-attr]

        for _ in range(200):
            server._call(burst)
            if watch.stream_peer is None:
                break
        wait_until(lambda: "slow consumer" in caplog.text, what="the slow consumer log line")
        assert "octets queued, limit 262144" in caplog.text
        assert max(queued) < 1 << 20  # the cap plus at most one burst: never more
        assert watch.stream_peer is None  # the subscription survives its stream
        server._call(burst)  # now queued for /sync, bounded
        assert len(watch.queue) == 50
        assert post(server.port, SYNC, {"clientId": "c1", "subscriptionId": "sub-1"}) == 206
        stalled.close()
