"""The i3X server engine, driven by h11 client connections on a fake clock (both ends h11)."""

from __future__ import annotations

import base64
import json
from typing import Any

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import splits
from otwire.codecs.i3x import VQT, SSEParser, decode_bulk, decode_sync
from otwire.codecs.i3x.models import CurrentValue
from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols import ConnectionTerminated, PeerEngine, TerminationReason
from otwire.protocols.i3x import I3XServer, I3XServerConfig, RequestHandled
from otwire.protocols.i3x._routes import ROUTES

from .test_server_kit import T0, Client, engine, make_space


def events(server: I3XServer[Any]) -> list[Any]:
    out = []
    while (item := server.next_event()) is not None:
        out.append(item)
    return out


@pytest.fixture
def client() -> Client:
    return Client(engine())


def subscribe(client: Client, ids: list[str], client_id: str = "c1", depth: int = 1) -> str:
    status, body = client.call("POST", "/v1/subscriptions", {"clientId": client_id, "displayName": "t"})
    assert status == 200
    sub: str = body["result"]["subscriptionId"]
    request = {"clientId": client_id, "subscriptionId": sub, "elementIds": ids, "maxDepth": depth}
    status, _ = client.call("POST", "/v1/subscriptions/register", request)
    assert status == 200
    return sub


# -- reads --------------------------------------------------------------------------------------


def test_info_reports_the_spec_version_and_capabilities(client: Client) -> None:
    status, body = client.call("GET", "/v1/info")
    assert status == 200 and body["success"] is True
    assert body["result"]["specVersion"] == "1.0"
    assert body["result"]["capabilities"]["subscribe"] == {"stream": True}


def test_namespaces_and_types(client: Client) -> None:
    assert client.call("GET", "/v1/namespaces")[1]["result"] == [{"uri": "urn:test:plant", "displayName": "Test plant"}]
    status, body = client.call("GET", "/v1/objecttypes?namespaceUri=urn:test:plant")
    assert status == 200 and len(body["result"]) == 5
    assert client.call("GET", "/v1/objecttypes?namespaceUri=urn:other")[1]["result"] == []
    status, body = client.call("POST", "/v1/objecttypes/query", {"elementIds": ["Pump", "Nope"]})
    assert status == 200 and body["success"] is False
    assert [r["success"] for r in body["results"]] == [True, False]
    assert body["results"][1]["responseDetail"]["status"] == 404
    assert client.call("GET", "/v1/relationshiptypes")[1]["result"][0]["reverseOf"] == "ComponentOf"
    status, body = client.call("POST", "/v1/relationshiptypes/query", {"elementIds": ["HasComponent"]})
    assert body["success"] is True and body["results"][0]["result"]["elementId"] == "HasComponent"


def test_objects_filters_and_metadata(client: Client) -> None:
    assert [o["elementId"] for o in client.call("GET", "/v1/objects?root=true")[1]["result"]] == ["plant"]
    sensors = client.call("GET", "/v1/objects?typeElementId=Sensor")[1]["result"]
    assert {o["elementId"] for o in sensors} == {"speed", "flow"}
    everything = client.call("GET", "/v1/objects?includeMetadata=true")[1]["result"]
    pump = next(o for o in everything if o["elementId"] == "pump")
    assert pump["isComposition"] is True
    assert pump["metadata"]["relationships"] == {"HasParent": "line", "HasComponent": ["motor", "flow"]}
    status, body = client.call("GET", "/v1/objects?root=maybe")
    assert status == 400 and "root" in body["responseDetail"]["detail"]


def test_objects_list_and_related(client: Client) -> None:
    status, body = client.call("POST", "/v1/objects/list", {"elementIds": ["pump", "ghost"]})
    assert status == 200 and [r["success"] for r in body["results"]] == [True, False]
    assert body["results"][0]["result"]["parentId"] == "line"
    status, body = client.call(
        "POST", "/v1/objects/related", {"elementIds": ["pump"], "relationshipType": "HasComponent"}
    )
    assert [r["object"]["elementId"] for r in body["results"][0]["result"]] == ["motor", "flow"]
    assert {r["sourceRelationship"] for r in body["results"][0]["result"]} == {"HasComponent"}


def test_values_decode_with_the_codec(client: Client) -> None:
    client.send("POST", "/v1/objects/value", {"elementIds": ["flow", "pump"]})
    bulk = decode_bulk(client.response()[1], CurrentValue)
    assert [(v.result.element_id, v.result.value) for v in bulk.items if v.result] == [
        ("flow", 12.0),
        ("pump", "running"),
    ]


def test_value_depths(client: Client) -> None:
    one = client.call("POST", "/v1/objects/value", {"elementIds": ["pump"], "maxDepth": 1})[1]["results"][0]["result"]
    assert one["isComposition"] is True and one.get("components") is None and one["value"] == "running"
    two = client.call("POST", "/v1/objects/value", {"elementIds": ["pump"], "maxDepth": 2})[1]["results"][0]["result"]
    assert set(two["components"]) == {"motor", "flow"} and two["components"]["motor"]["components"] is None
    status, body = client.call("POST", "/v1/objects/value", {"elementIds": ["pump"], "maxDepth": 0})
    assert status == 200 and body["results"][0]["result"]["components"]["motor"]["components"]["speed"]["value"] == 1450


def test_value_depth_over_the_limit_is_206_and_negative_is_400() -> None:
    client = Client(engine(max_depth_limit=2))
    status, body = client.call("POST", "/v1/objects/value", {"elementIds": ["pump"], "maxDepth": 0})
    assert status == 206 and body["responseDetail"]["status"] == 206
    assert body["results"][0]["result"]["components"]["motor"]["components"] is None
    status, body = client.call("POST", "/v1/objects/value", {"elementIds": ["flow"], "maxDepth": 0})
    assert status == 200  # a leaf is not truncated
    status, body = client.call("POST", "/v1/objects/value", {"elementIds": ["pump"], "maxDepth": -1})
    assert status == 400 and body["success"] is False


def test_history_range_and_bad_time(client: Client) -> None:
    request = {"elementIds": ["flow"], "startTime": "2026-01-01T00:00:01Z", "endTime": "2026-01-01T00:00:02Z"}
    values = client.call("POST", "/v1/objects/history", request)[1]["results"][0]["result"]["values"]
    assert [v["value"] for v in values] == [11.0, 12.0]
    status, body = client.call("POST", "/v1/objects/history", {"elementIds": ["flow"], "startTime": "yesterday"})
    assert status == 400 and "startTime" in body["responseDetail"]["detail"]


# -- writes -------------------------------------------------------------------------------------


def test_value_write_defaults_and_reaches_subscribers(client: Client) -> None:
    sub = subscribe(client, ["flow"])
    status, body = client.call("PUT", "/v1/objects/value", {"updates": [
        {"elementId": "flow", "value": {"value": 99}}, {"elementId": "ghost", "value": {"value": 1}}]})  # fmt: skip
    assert status == 200 and [r["success"] for r in body["results"]] == [True, False]
    current = client.call("POST", "/v1/objects/value", {"elementIds": ["flow"]})[1]["results"][0]["result"]
    assert (current["value"], current["quality"], current["timestamp"]) == (99, "Good", "2026-01-01T00:00:00Z")
    batches = client.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub})[1]["result"]
    assert batches[0]["updates"][0]["value"] == 99


def test_history_write_and_501_when_read_only() -> None:
    client = Client(engine())
    vqt = {"value": 1.5, "quality": "Good", "timestamp": "2025-12-31T23:59:59Z"}
    status, body = client.call("PUT", "/v1/objects/history", {"updates": [{"elementId": "flow", "value": vqt}]})
    assert status == 200 and body["success"] is True
    values = client.call("POST", "/v1/objects/history", {"elementIds": ["flow"]})[1]["results"][0]["result"]["values"]
    assert values[0] == {**vqt, "components": None}
    space = make_space()
    space.history_writable = space.value_writable = False
    ro = Client(I3XServer(space))
    assert ro.call("PUT", "/v1/objects/history", {"updates": []})[0] == 501
    status, body = ro.call("PUT", "/v1/objects/value", {"updates": []})
    assert status == 501 and body["responseDetail"]["title"] == "Not Implemented"


# -- HTTP-level errors --------------------------------------------------------------------------


def test_unknown_path_404_and_wrong_method_405(client: Client) -> None:
    status, body = client.call("GET", "/v1/nothing")
    assert status == 404 and body["success"] is False
    assert client.call("GET", "/info")[0] == 404  # no version prefix
    client.send("DELETE", "/v1/objects/value")
    response, _ = client.response()
    assert response.status_code == 405
    assert dict(response.headers)[b"allow"] == b"POST, PUT"


def test_malformed_json_is_400_with_detail(client: Client) -> None:
    status, body = client.call("POST", "/v1/objects/list", raw=b"{not json")
    assert status == 400 and "not JSON" in body["responseDetail"]["detail"]
    status, body = client.call("POST", "/v1/objects/list", {"elementIds": "pump"})
    assert status == 400 and "elementIds" in body["responseDetail"]["detail"]


def test_body_over_the_limit_is_413_and_closes() -> None:
    server = engine(max_body_size=64)
    client = Client(server)
    client.send("POST", "/v1/objects/list", {"elementIds": ["x" * 100]})
    response, body = client.response()
    assert response.status_code == 413 and json.loads(body)["responseDetail"]["status"] == 413
    assert server.is_closed(1)
    assert events(server)[-1] == (1, ConnectionTerminated(reason=TerminationReason.LIMIT_EXCEEDED))


def test_chunked_body_over_the_limit_is_413() -> None:
    server = engine(max_body_size=64)
    conn = h11.Connection(h11.CLIENT)
    server.connect(7, 0.0)
    head = conn.send(h11.Request(method="POST", target="/v1/objects/list",
                                 headers=[("host", "t"), ("transfer-encoding", "chunked")])) or b""  # fmt: skip
    server.receive_data(7, head + (conn.send(h11.Data(data=b"x" * 100)) or b""), 0.0)
    conn.receive_data(server.data_to_send(7))
    response = conn.next_event()
    assert isinstance(response, h11.Response) and response.status_code == 413


def test_broken_http_is_400_then_remote_protocol_error() -> None:
    server = engine()
    server.connect(1, 0.0)
    with pytest.raises(RemoteProtocolError):
        server.receive_data(1, b"NOT HTTP AT ALL\r\n\r\n", 0.0)
    assert server.data_to_send(1).startswith(b"HTTP/1.1 400 ")
    assert server.is_closed(1)
    with pytest.raises(LocalProtocolError):
        server.receive_data(1, b"GET / HTTP/1.1\r\n\r\n", 0.0)


def test_pipelined_requests_get_responses_in_order(client: Client) -> None:
    raw = b"".join(f"GET /v1/{p} HTTP/1.1\r\nhost: t\r\n\r\n".encode() for p in ("namespaces", "info", "nothing"))
    client.engine.receive_data(1, raw, 0.0)
    out = client.engine.data_to_send(1)
    statuses = [int(part[:3]) for part in out.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [200, 200, 404]
    assert client.engine.frames_received(1) == 3
    assert [e.status for _, e in events(client.engine) if isinstance(e, RequestHandled)] == [200, 200, 404]


def test_established_after_the_first_complete_request() -> None:
    server = engine()
    server.connect(1, 0.0)
    server.receive_data(1, b"GET /v1/info HTTP/1.1\r\nho", 0.0)
    assert not server.is_established(1) and server.frames_received(1) == 0
    server.receive_data(1, b"st: t\r\n\r\n", 0.0)
    assert server.is_established(1) and server.frames_received(1) == 1
    assert server.queued(1) > 0 and server.buffered(1) == 0


def test_expect_100_continue_is_answered_before_the_body() -> None:
    server = engine()
    server.connect(1, 0.0)
    head = b"POST /v1/objects/list HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: 20\r\n\r\n"
    server.receive_data(1, head + b"{", 0.0)
    assert server.data_to_send(1) == b"HTTP/1.1 100 \r\n\r\n"
    assert server.buffered(1) == 0  # the "{" went into the request body
    server.receive_data(1, b'"elementIds":["x"]}', 0.0)
    assert server.data_to_send(1).startswith(b"HTTP/1.1 200 ")


def test_connection_close_and_eof() -> None:
    server = engine()
    client = Client(server)
    client.send("GET", "/v1/info", headers=[("connection", "close")])
    assert client.response()[0].status_code == 200
    assert server.is_closed(1)
    other = Client(server, 2)
    server.receive_data(2, b"", 1.0)
    assert (2, ConnectionTerminated(reason=TerminationReason.PEER_CLOSED)) in events(server)
    assert other.engine.is_closed(2)


def test_gzip_when_accepted(client: Client) -> None:
    client.send("GET", "/v1/namespaces", headers=[("accept-encoding", "gzip, deflate")])
    response, body = client.response()
    assert dict(response.headers)[b"content-encoding"] == b"gzip" and body[:2] == b"\x1f\x8b"
    assert client.call("GET", "/v1/namespaces", headers=[("accept-encoding", "gzip")])[1]["success"] is True
    client.send("GET", "/v1/namespaces", headers=[("accept-encoding", "gzip;q=0")])
    response, _ = client.response()
    assert b"content-encoding" not in dict(response.headers)


# -- authentication -----------------------------------------------------------------------------


def test_bearer_token() -> None:
    client = Client(engine(bearer_token="s3cret"))
    assert client.call("GET", "/v1/info")[0] == 200  # open
    client.send("GET", "/v1/namespaces")
    response, body = client.response()
    assert response.status_code == 401 and dict(response.headers)[b"www-authenticate"] == b"Bearer"
    assert json.loads(body)["responseDetail"]["status"] == 401
    assert client.call("GET", "/v1/namespaces", headers=[("authorization", "Bearer wrong")])[0] == 401
    assert client.call("GET", "/v1/namespaces", headers=[("authorization", "Bearer s3cret")])[0] == 200


def test_basic_auth() -> None:
    client = Client(engine(basic_auth=("user", "pw")))
    good = "Basic " + base64.b64encode(b"user:pw").decode()
    bad = "Basic " + base64.b64encode(b"user:nope").decode()
    assert client.call("GET", "/v1/objects", headers=[("authorization", good)])[0] == 200
    assert client.call("GET", "/v1/objects", headers=[("authorization", bad)])[0] == 401
    assert client.call("GET", "/v1/objects", headers=[("authorization", "Basic !!!")])[0] == 401


# -- subscriptions ------------------------------------------------------------------------------


def test_client_id_is_required_and_scopes_subscriptions(client: Client) -> None:
    status, body = client.call("POST", "/v1/subscriptions", {"displayName": "x"})
    assert status == 400 and "clientId" in body["responseDetail"]["detail"]
    sub = subscribe(client, ["flow"], "alice")
    register = {"subscriptionId": sub, "elementIds": ["pump"]}
    assert client.call("POST", "/v1/subscriptions/register", register)[0] == 400
    assert client.call("POST", "/v1/subscriptions/register", {**register, "clientId": "bob"})[0] == 404
    assert client.call("POST", "/v1/subscriptions/sync", {"clientId": "bob", "subscriptionId": sub})[0] == 404
    assert client.call("POST", "/v1/subscriptions/stream", {"clientId": "bob", "subscriptionId": sub})[0] == 404
    listed = client.call("POST", "/v1/subscriptions/list", {"clientId": "bob", "subscriptionIds": [sub]})[1]
    assert listed["results"][0]["success"] is False and listed["results"][0]["subscriptionId"] == sub
    deleted = client.call("POST", "/v1/subscriptions/delete", {"clientId": "bob", "subscriptionIds": [sub]})[1]
    assert deleted["results"][0]["responseDetail"]["status"] == 404
    assert client.call("POST", "/v1/subscriptions/sync", {"clientId": "alice", "subscriptionId": sub})[0] == 200


def test_register_list_unregister_delete(client: Client) -> None:
    sub = subscribe(client, ["flow", "ghost"])
    listed = client.call("POST", "/v1/subscriptions/list", {"clientId": "c1", "subscriptionIds": [sub]})[1]
    assert listed["results"][0]["result"]["monitoredObjects"] == [{"elementId": "flow", "maxDepth": 1}]
    again = {"clientId": "c1", "subscriptionId": sub, "elementIds": ["flow"], "maxDepth": 3}
    assert client.call("POST", "/v1/subscriptions/register", again)[1]["success"] is True  # idempotent
    gone = {"clientId": "c1", "subscriptionId": "sub-99", "elementIds": ["flow"]}
    assert client.call("POST", "/v1/subscriptions/register", gone)[0] == 404
    body = client.call(
        "POST", "/v1/subscriptions/unregister", {**gone, "subscriptionId": sub, "elementIds": ["flow", "pump"]}
    )[1]
    assert [r["success"] for r in body["results"]] == [True, False]
    body = client.call("POST", "/v1/subscriptions/delete", {"clientId": "c1", "subscriptionIds": [sub]})[1]
    assert body == {"success": True, "results": [{"success": True, "subscriptionId": sub, "result": None}]}
    assert client.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub})[0] == 404


def sync(client: Client, sub: str, last: int | None = None) -> tuple[int, Any]:
    request: dict[str, Any] = {"clientId": "c1", "subscriptionId": sub}
    if last is not None:
        request["lastSequenceNumber"] = last
    client.send("POST", "/v1/subscriptions/sync", request)
    response, body = client.response()
    return response.status_code, decode_sync(body)


def test_sync_ack_redelivers_until_acknowledged(client: Client) -> None:
    sub = subscribe(client, ["flow"])
    assert sync(client, sub)[1].result == []
    for value in (1, 2, 3):
        client.engine.publish("flow", VQT(value, "Good", T0), 1.0)
    first = sync(client, sub)[1].result
    assert [b.sequence_number for b in first] == [1, 2, 3]
    assert [b.updates[0].value for b in first] == [1, 2, 3]
    assert [b.sequence_number for b in sync(client, sub)[1].result] == [1, 2, 3]  # no ack: duplicates
    assert [b.sequence_number for b in sync(client, sub, 2)[1].result] == [3]
    assert [b.sequence_number for b in sync(client, sub, 99)[1].result] == [3]  # out of range: nothing cleared
    client.engine.publish("flow", VQT(4, "Good", T0), 2.0)
    assert sync(client, sub, -1)[1].result == []


def test_sync_overflow_is_206_once() -> None:
    client = Client(engine(queue_size=2))
    sub = subscribe(client, ["flow"])
    for value in range(5):
        client.engine.publish("flow", VQT(value, "Good", T0), 1.0)
    status, response = sync(client, sub)
    assert status == 206 and response.partial
    assert response.response_detail is not None and "3" in response.response_detail.detail
    assert [b.sequence_number for b in response.result or []] == [4, 5]
    status, response = sync(client, sub, 5)
    assert status == 200 and response.result == []


def test_composition_subscribers_get_component_changes(client: Client) -> None:
    deep = subscribe(client, ["pump"], depth=0)
    shallow = subscribe(client, ["pump"], depth=1)
    assert client.engine.publish("speed", VQT(7, "Good", T0), 1.0) == 1
    assert [b.updates[0].element_id for b in sync(client, deep)[1].result or []] == ["speed"]
    assert sync(client, shallow)[1].result == []


def test_subscriptions_expire_after_the_ttl() -> None:
    client = Client(engine(subscription_ttl=30.0))
    sub = subscribe(client, ["flow"])
    assert client.engine.get_timer() == 30.0
    client.engine.handle_timer(30.0)
    assert client.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub}, now=31.0)[0] == 404


# -- SSE ----------------------------------------------------------------------------------------


def open_stream(client: Client, sub: str, client_id: str = "c1", now: float = 0.0) -> h11.Response:
    client.send("POST", "/v1/subscriptions/stream", {"clientId": client_id, "subscriptionId": sub}, now=now)
    return client.open_stream()


def test_stream_flushes_the_queue_then_pushes_and_keeps_alive() -> None:
    client = Client(engine(keepalive_interval=10.0))
    sub = subscribe(client, ["flow"])
    client.engine.publish("flow", VQT(1, "Good", T0), 0.5)
    head = open_stream(client, sub, now=1.0)
    assert head.status_code == 200 and dict(head.headers)[b"content-type"] == b"text/event-stream"
    assert dict(head.headers)[b"transfer-encoding"] == b"chunked"
    parser = SSEParser()
    first = parser.feed(client.stream_data())
    assert [json.loads(e.data)[0]["value"] for e in first] == [1]
    client.engine.publish("flow", VQT(2, "Good", T0), 2.0)
    raw = client.stream_data()
    assert raw.startswith(b"data: [") and raw.endswith(b"\n\n")
    update = json.loads(parser.feed(raw)[0].data)[0]
    assert (update["elementId"], update["value"], update["sequenceNumber"]) == ("flow", 2, 2)
    assert client.engine.get_timer() == 11.0
    client.engine.handle_timer(11.0)
    assert client.stream_data() == b": keepalive\n\n"
    assert client.engine.get_timer() == 21.0


def test_octets_piling_up_behind_a_stream_are_bounded() -> None:
    server = engine(max_body_size=100, max_header_size=100)
    client = Client(server)
    sub = subscribe(client, ["flow"])
    open_stream(client, sub)
    server.receive_data(1, b"GET /v1/info HTTP/1.1\r\nhost: t\r\n\r\n", 1.0)
    waiting = b"GET /v1/info HTTP/1.1\r\nhost: t\r\n\r\n"
    assert not server.is_closed(1) and server.buffered(1) == len(waiting)  # it waits for the stream to end
    server.receive_data(1, b"x" * 200, 1.0)
    assert server.is_closed(1)
    assert events(server)[-1] == (1, ConnectionTerminated(reason=TerminationReason.LIMIT_EXCEEDED))


def test_sync_while_streaming_is_400() -> None:
    server = engine()
    streamer, poller = Client(server, 1), Client(server, 2)
    sub = subscribe(poller, ["flow"])
    open_stream(streamer, sub)
    status, body = poller.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub})
    assert status == 400 and body["responseDetail"]["detail"] == "Subscription stream is active"


def test_a_new_stream_ends_the_old_one_and_delete_ends_it_too() -> None:
    server = engine()
    first, second, admin = Client(server, 1), Client(server, 2), Client(server, 3)
    sub = subscribe(admin, ["flow"])
    open_stream(first, sub)
    first.stream_data()
    open_stream(second, sub)
    first.stream_data()
    assert isinstance(first.last, h11.EndOfMessage)  # a clean end, no error
    assert not server.is_closed(1)
    admin.call("POST", "/v1/subscriptions/delete", {"clientId": "c1", "subscriptionIds": [sub]})
    second.stream_data()
    assert isinstance(second.last, h11.EndOfMessage)


def test_stream_peer_loss_releases_the_subscription() -> None:
    server = engine()
    streamer, poller = Client(server, 1), Client(server, 2)
    sub = subscribe(poller, ["flow"])
    open_stream(streamer, sub)
    server.connection_lost(1, 5.0, ConnectionResetError())
    ends = [e for p, e in events(server) if p == 1 and isinstance(e, ConnectionTerminated)]
    assert [e.reason for e in ends] == [TerminationReason.CONNECTION_LOST]
    assert isinstance(ends[0].error, ConnectionResetError)
    server.publish("flow", VQT(3, "Good", T0), 6.0)
    batches = poller.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub})[1]["result"]
    assert [b["updates"][0]["value"] for b in batches] == [3]


def test_abort_drops_output_and_reports_the_reason() -> None:
    server = engine()
    client = Client(server)
    client.send("GET", "/v1/info")
    server.abort(1, 1.0, TerminationReason.SLOW_CONSUMER)
    assert server.data_to_send(1) == b""
    assert events(server)[-1] == (1, ConnectionTerminated(reason=TerminationReason.SLOW_CONSUMER))
    assert server.is_closed(1) and server.peers() == []


def test_a_failing_address_space_gives_500_and_the_peer_stays_open() -> None:
    space = make_space()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("historian offline")

    space.history = broken  # type: ignore[method-assign]
    client = Client(I3XServer(space))
    status, body = client.call("POST", "/v1/objects/history", {"elementIds": ["flow"]})
    assert status == 500 and body["responseDetail"]["detail"] == "RuntimeError: historian offline"
    assert client.call("GET", "/v1/info")[0] == 200


def test_the_engine_meets_the_peer_engine_contract() -> None:
    assert isinstance(engine(), PeerEngine)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        I3XServerConfig(max_body_size=0)
    with pytest.raises(ValueError):
        I3XServerConfig(base_path="v1/")


# -- robustness ---------------------------------------------------------------------------------

_PATHS = [path for _, path in ROUTES]


@given(data=st.binary(max_size=600), points=st.lists(st.integers(0, 600), max_size=8))
def test_random_octets_raise_only_remote_protocol_error(data: bytes, points: list[int]) -> None:
    server = engine(max_body_size=256, max_header_size=256)
    server.connect(1, 0.0)
    for chunk in splits(data, points):
        try:
            server.receive_data(1, chunk, 0.0)
        except RemoteProtocolError:
            assert server.is_closed(1)
            break
        if server.is_closed(1):
            break
    assert server.queued(1) < 4096


@given(path=st.sampled_from(_PATHS), body=st.binary(max_size=300), points=st.lists(st.integers(0, 400), max_size=6))
def test_any_body_on_any_endpoint_gets_a_json_answer(path: str, body: bytes, points: list[int]) -> None:
    server = engine(max_body_size=256)
    client = Client(server)
    method = "PUT" if ("POST", path) not in ROUTES else "POST"
    if (method, path) not in ROUTES:
        method = "GET"
    head = f"{method} /v1{path} HTTP/1.1\r\nhost: t\r\ncontent-length: {len(body)}\r\n\r\n".encode()
    for chunk in splits(head + body, points):
        server.receive_data(1, chunk, 0.0)
    response, data = client.response()
    assert response.status_code in (200, 206, 400, 404, 413)
    reply = json.loads(data)
    assert reply["success"] is (response.status_code < 300) or "results" in reply
