"""``otwire serve i3x`` options: authentication, quirk profiles, queue/depth limits, bounded memory, slow consumers."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
from typing import Any

import h11
import pytest

from helpers import wait_until
from otwire import cli
from otwire.codecs.i3x import VQT
from otwire.errors import InvalidArgument
from otwire.protocols.i3x import I3XServer, I3XServerConfig
from otwire.protocols.i3x._server_profiles import PROFILES, Profile, get_profile, rewrite_errors
from otwire.servers import i3x as i3x_servers
from otwire.servers.i3x import Server
from otwire.servers.i3x.server import parse_basic
from otwire.transports.limits import ServerLimits

from .test_server_kit import T0, Client, make_space

CLOSE = b"event: close\ndata: {}\n\n"


def make(profile: str = "1.0", **config: Any) -> I3XServer[Any]:
    return I3XServer(make_space(), I3XServerConfig(**config), wall_clock=lambda: 1_767_225_600.0, profile=profile)


def subscribe(client: Client, ids: list[str], client_id: str = "c1") -> str:
    status, body = client.call("POST", "/v1/subscriptions", {"clientId": client_id})
    assert status == 200
    sub: str = body["result"]["subscriptionId"]
    request = {"clientId": client_id, "subscriptionId": sub, "elementIds": ids}
    assert client.call("POST", "/v1/subscriptions/register", request)[0] == 200
    return sub


def open_stream(client: Client, sub: str, client_id: str = "c1") -> bytes:
    client.send("POST", "/v1/subscriptions/stream", {"clientId": client_id, "subscriptionId": sub})
    assert client.open_stream().status_code == 200
    return client.stream_data()


def sync(client: Client, sub: str, client_id: str = "c1") -> tuple[int, Any]:
    return client.call("POST", "/v1/subscriptions/sync", {"clientId": client_id, "subscriptionId": sub})


def takeover(profile: str) -> tuple[bytes, object]:
    """Open a stream, open a second one for the same subscription; return the first's last octets and h11 event."""
    server = make(profile)
    first, second = Client(server, 1), Client(server, 2)
    sub = subscribe(first, ["flow"])
    open_stream(first, sub)
    open_stream(second, sub)
    return first.stream_data(), first.last


# -- profiles as tables -------------------------------------------------------------------------


def test_profile_names_and_unknown_profile() -> None:
    assert set(PROFILES) == {"1.0", "cesmii-demo", "i3x2ua", "node-i3x", "beta"}
    assert get_profile("i3x2ua").close_event == CLOSE
    with pytest.raises(InvalidArgument, match=r"known: 1\.0, cesmii-demo"):
        make("i3x2")
    custom = Profile(name="custom", keepalive=False)
    assert I3XServer(make_space(), profile=custom).profile is custom


# -- SSE quirks ---------------------------------------------------------------------------------


def test_plain_takeover_ends_the_old_stream_without_a_close_event() -> None:
    data, last = takeover("1.0")
    assert data == b"" and isinstance(last, h11.EndOfMessage)


def test_i3x2ua_takeover_sends_event_close_then_ends() -> None:
    data, last = takeover("i3x2ua")
    assert data == CLOSE and isinstance(last, h11.EndOfMessage)


def test_i3x2ua_deleting_the_subscription_sends_event_close() -> None:
    server = make("i3x2ua")
    streamer, other = Client(server, 1), Client(server, 2)
    sub = subscribe(streamer, ["flow"])
    assert open_stream(streamer, sub) == b": connected\n\n"
    status, _ = other.call("POST", "/v1/subscriptions/delete", {"clientId": "c1", "subscriptionIds": [sub]})
    assert status == 200
    assert streamer.stream_data() == CLOSE and isinstance(streamer.last, h11.EndOfMessage)


@pytest.mark.parametrize(
    ("profile", "greeting", "keepalive"),
    [("1.0", b": connected\n\n", True), ("i3x2ua", b": connected\n\n", True),
     ("node-i3x", b": keepalive\n\n", True), ("cesmii-demo", b"", False), ("beta", b": connected\n\n", True)],
)  # fmt: skip
def test_stream_greeting_and_keepalive(profile: str, greeting: bytes, keepalive: bool) -> None:
    server = make(profile, keepalive_interval=5.0)
    client = Client(server)
    sub = subscribe(client, ["flow"])
    assert open_stream(client, sub) == greeting
    assert server.get_timer() == (5.0 if keepalive else None)
    server.handle_timer(5.0)
    assert client.stream_data() == (b": keepalive\n\n" if keepalive else b"")


@pytest.mark.parametrize(("profile", "flushed"), [("1.0", True), ("cesmii-demo", False)])
def test_queued_updates_on_stream_open(profile: str, flushed: bool) -> None:
    server = make(profile)
    client = Client(server)
    sub = subscribe(client, ["flow"])
    server.publish("flow", VQT(42.0, "Good", T0), 0.0)
    data = open_stream(client, sub)
    assert (b'"value":42.0' in data) is flushed
    server.publish("flow", VQT(43.0, "Good", T0), 0.0)
    assert b'"value":43.0' in client.stream_data()  # live updates flow in both
    watch = server.subscriptions.owned(sub, "c1")
    assert watch is not None and not watch.queue  # sent or dropped: nothing left for /sync


@pytest.mark.parametrize(
    ("profile", "status", "result"),
    [("1.0", 400, None), ("i3x2ua", 400, None), ("node-i3x", 200, []), ("cesmii-demo", 200, [])],
)
def test_sync_while_streaming(profile: str, status: int, result: Any) -> None:
    server = make(profile)
    streamer, poller = Client(server, 1), Client(server, 2)
    sub = subscribe(streamer, ["flow"])
    open_stream(streamer, sub)
    got_status, body = sync(poller, sub)
    assert got_status == status
    if status == 200:
        assert body == {"success": True, "result": result}
    else:
        assert body["success"] is False and body["responseDetail"]["detail"] == "Subscription stream is active"


# -- error envelopes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "detail", "error"),
    [("1.0", True, False), ("i3x2ua", True, True), ("beta", False, True), ("node-i3x", True, False)],
)
def test_error_keys(profile: str, detail: bool, error: bool) -> None:
    client = Client(make(profile))
    status, body = client.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": "nope"})
    assert status == 404 and body["success"] is False
    assert ("responseDetail" in body) is detail and ("error" in body) is error
    if error:
        assert body["error"]["code"] == 404 and body["error"]["message"]
    status, body = client.call("POST", "/v1/objects/list", {"elementIds": ["pump", "ghost"]})
    good, bad = body["results"]
    assert ("error" in good, "error" in bad) == (False, error)
    assert ("responseDetail" in bad) is detail
    if error:
        assert bad["error"] == {"code": 404, "message": "Element not found: ghost"}


def test_rewrite_errors_leaves_non_objects_and_successes_alone() -> None:
    keys = ("error",)
    assert rewrite_errors(b"not json", keys) == b"not json"
    assert rewrite_errors(b"[1]", keys) == b"[1]"
    ok = b'{"success":true,"result":[],"responseDetail":{"title":"t","status":206,"detail":"d"}}'
    assert json.loads(rewrite_errors(ok, keys)) == json.loads(ok)


# -- limits -------------------------------------------------------------------------------------


def test_small_queue_gives_206_and_stays_bounded() -> None:
    server = make(queue_size=3)
    client = Client(server)
    sub = subscribe(client, ["flow"])
    for n in range(1000):
        server.publish("flow", VQT(float(n), "Good", T0), 0.0)
        assert len(server.subscriptions.owned(sub, "c1").queue) <= 3  # type: ignore[union-attr]
    status, body = sync(client, sub)
    assert status == 206 and body["responseDetail"]["detail"] == "997 updates dropped"
    assert [b["updates"][0]["value"] for b in body["result"]] == [997.0, 998.0, 999.0]


def test_small_depth_limit_gives_206() -> None:
    client = Client(make(max_depth_limit=1))
    status, body = client.call("POST", "/v1/objects/value", {"elementIds": ["pump"], "maxDepth": 0})
    assert status == 206 and body["responseDetail"]["status"] == 206


def test_stream_output_is_visible_to_the_driver_cap() -> None:
    """An unread stream's octets show in ``queued(peer)``: what the driver's ``--max-output`` cap measures."""
    server = make()
    client = Client(server)
    sub = subscribe(client, ["flow"])
    open_stream(client, sub)
    for n in range(100):
        server.publish("flow", VQT("x" * 1000, "Good", T0), float(n))
    assert server.queued(client.peer) > 100_000


# -- authentication through the server options --------------------------------------------------


def test_basic_text_is_parsed_and_checked() -> None:
    assert parse_basic("user:se:cret") == ("user", "se:cret")
    for bad in ("nocolon", ":secret"):
        with pytest.raises(InvalidArgument, match="USER:PASSWORD"):
            parse_basic(bad)
    server = i3x_servers.BaseServer(port=0, basic_auth="user:secret", profile="beta")
    assert server.config.basic_auth == ("user", "secret") and server.engine.profile.name == "beta"
    client = Client(server.engine)
    assert client.call("GET", "/v1/info")[0] == 200
    assert client.call("GET", "/v1/namespaces")[0] == 401
    good = [("authorization", "Basic " + base64.b64encode(b"user:secret").decode())]
    assert client.call("GET", "/v1/namespaces", headers=good)[0] == 200


# -- command line -------------------------------------------------------------------------------


def test_cli_passes_the_i3x_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_serve(host: str, port: int, **options: Any) -> int:
        seen.update(options, host=host, port=port)
        return 0

    monkeypatch.setattr(i3x_servers, "serve", fake_serve)
    argv = ["serve", "i3x", "--port", "0", "--token", "T", "--basic", "u:p", "--profile", "i3x2ua",
            "--queue-size", "5", "--max-depth", "2"]  # fmt: skip
    assert cli.main(argv) == 0
    assert {k: seen[k] for k in ("bearer_token", "basic_auth", "profile", "queue_size", "max_depth_limit")} == {
        "bearer_token": "T", "basic_auth": "u:p", "profile": "i3x2ua", "queue_size": 5, "max_depth_limit": 2,
    }  # fmt: skip
    seen.clear()
    assert cli.main(["serve", "i3x", "--port", "0"]) == 0
    assert "profile" not in seen and "bearer_token" not in seen


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--basic", "nocolon"], "USER:PASSWORD"), (["--profile", "nope"], "unknown i3X profile"),
     (["--queue-size", "0"], "--queue-size")],
)  # fmt: skip
def test_cli_rejects_bad_values_in_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "i3x", "--port", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# -- a slow SSE consumer over loopback ----------------------------------------------------------


def post(port: int, method: str, path: str, body: Any) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_slow_sse_consumer_is_cut_off_with_a_logged_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    limits = ServerLimits(max_output_bytes=256 * 1024)
    with Server(port=0, tick=3600.0, limits=limits) as server:
        sub = post(server.port, "POST", "/v1/subscriptions", {"clientId": "slow"})[1]["result"]["subscriptionId"]
        register = {"clientId": "slow", "subscriptionId": sub, "elementIds": ["pump-101"]}
        assert post(server.port, "POST", "/v1/subscriptions/register", register)[0] == 200
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.port))
        body = json.dumps({"clientId": "slow", "subscriptionId": sub}).encode()
        head = (f"POST /v1/subscriptions/stream HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n\r\n").encode()  # fmt: skip
        slow.sendall(head + body)  # and never reads
        wait_until(lambda: server.engine.subscriptions.owned(sub, "slow").stream_peer is not None)  # type: ignore[union-attr]
        update = {"updates": [{"elementId": "pump-101", "value": {"value": {"blob": "x" * 200_000}}}]}  # type: object
        for _ in range(500):
            assert post(server.port, "PUT", "/v1/objects/value", update)[0] == 200
            if "slow consumer" in caplog.text:
                break
        wait_until(lambda: "slow consumer" in caplog.text, what="the slow consumer log line")
        assert "limit 262144" in caplog.text
        assert (
            post(server.port, "POST", "/v1/subscriptions/sync", {"clientId": "slow", "subscriptionId": sub})[0] == 200
        )
        slow.close()


# -- sync shapes and values ---------------------------------------------------------------------


def queued(profile: str, values: list[float], **config: Any) -> tuple[Client, str]:
    server = make(profile, **config)
    client = Client(server)
    sub = subscribe(client, ["flow"])
    for value in values:
        server.publish("flow", VQT(value, "Good", T0), 0.0)
    return client, sub


def test_plain_sync_is_one_batch_per_update() -> None:
    client, sub = queued("1.0", [1.0, 2.0])
    result = sync(client, sub)[1]["result"]
    assert [(b["sequenceNumber"], [u["value"] for u in b["updates"]]) for b in result] == [(1, [1.0]), (2, [2.0])]


def test_i3x2ua_rebundles_unacknowledged_updates() -> None:
    client, sub = queued("i3x2ua", [1.0, 2.0, 3.0])
    result = sync(client, sub)[1]["result"]
    assert [(b["sequenceNumber"], [u["value"] for u in b["updates"]]) for b in result] == [(3, [1.0, 2.0, 3.0])]
    client.engine.publish("flow", VQT(4.0, "Good", T0), 0.0)
    status, body = sync(client, sub)  # no ack: everything again, in one new batch
    assert status == 200
    assert [(b["sequenceNumber"], len(b["updates"])) for b in body["result"]] == [(4, 4)]
    ack = {"clientId": "c1", "subscriptionId": sub, "lastSequenceNumber": 4}
    assert client.call("POST", "/v1/subscriptions/sync", ack)[1]["result"] == []


def test_beta_sync_is_a_flat_list() -> None:
    client, sub = queued("beta", [1.0, 2.0])
    result = sync(client, sub)[1]["result"]
    assert [(u["sequenceNumber"], u["elementId"], u["value"]) for u in result] == [(1, "flow", 1.0), (2, "flow", 2.0)]


def test_node_i3x_overflow_is_silent_and_values_are_nested() -> None:
    client, sub = queued("node-i3x", [1.0, 2.0, 3.0], queue_size=2)
    status, body = sync(client, sub)
    assert status == 200 and "responseDetail" not in body
    update = body["result"][0]["updates"][0]
    assert update["value"] == {"isComposition": False, "value": 2.0, "quality": "Good", "timestamp": T0}
    assert update["quality"] == "Good" and update["elementId"] == "flow"


def test_cli_does_not_echo_a_bad_basic_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "i3x", "--port", "0", "--basic", ":hunter2"]) == 2
    err = capsys.readouterr().err
    assert "USER:PASSWORD" in err and "hunter2" not in err
