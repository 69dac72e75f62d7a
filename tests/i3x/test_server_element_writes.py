"""Beta's per-element writes in the server's quirk profiles (notes §10; research §3 "Beta deltas", §9).

``beta`` routes ``PUT /objects/{elementId}/value`` and ``/history`` and not the 1.0 bulk
``PUT`` (405 there: the paths still take ``POST``); ``i3x2ua`` routes both; ``1.0`` only the bulk one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from otwire.protocols.i3x import I3XServer, I3XServerConfig

from .test_server_kit import Client, make_space

STAMP = "2026-01-01T00:00:07Z"


def make(profile: str) -> I3XServer[Any]:
    return I3XServer(make_space(), I3XServerConfig(), wall_clock=lambda: 1_767_225_600.0, profile=profile)


def put(client: Client, path: str, body: Any) -> tuple[int, Any, dict[bytes, bytes]]:
    client.send("PUT", path, body)
    response, data = client.response()
    return response.status_code, json.loads(data), dict(response.headers)


def current(client: Client, element_id: str = "flow") -> dict[str, Any]:
    status, body = client.call("POST", "/v1/objects/value", {"elementIds": [element_id]})
    assert status == 200
    result: dict[str, Any] = body["results"][0]["result"]
    return result


def vqt(result: dict[str, Any]) -> tuple[Any, str, str]:
    return result["value"], result["quality"], result["timestamp"]


def history(client: Client) -> list[Any]:
    request = {"elementIds": ["flow"], "startTime": STAMP, "endTime": "2026-01-01T00:00:09Z"}
    status, body = client.call("POST", "/v1/objects/history", request)
    assert status == 200
    return [(v["value"], v["timestamp"]) for v in body["results"][0]["result"]["values"]]


def test_beta_refuses_the_bulk_writes_with_405() -> None:
    client = Client(make("beta"))
    update = {"updates": [{"elementId": "flow", "value": {"value": 1.0, "quality": "Good", "timestamp": STAMP}}]}
    for path in ("/v1/objects/value", "/v1/objects/history"):
        status, body, headers = put(client, path, update)
        assert status == 405 and headers[b"allow"] == b"POST"
        assert body == {"success": False, "error": {"code": 405, "message": f"PUT {path}"}}
    assert current(client)["value"] == 12.0  # nothing written


@pytest.mark.parametrize("profile", ["beta", "i3x2ua"])
def test_per_element_value_write_takes_a_vqt_or_a_bare_value(profile: str) -> None:
    server = make(profile)
    client = Client(server)
    status, body, _ = put(client, "/v1/objects/flow/value", {"value": 2.5, "quality": "Uncertain", "timestamp": STAMP})
    assert (status, body["success"], body.get("result")) == (200, True, None)
    assert vqt(current(client)) == (2.5, "Uncertain", STAMP)
    assert put(client, "/v1/objects/flow/value", 3.5)[0] == 200  # a bare value: Good, the server's clock
    assert vqt(current(client)) == (3.5, "Good", "2026-01-01T00:00:00Z")
    assert put(client, "/v1/objects/%66low/value", {"value": 4.5})[0] == 200  # the id is percent-decoded
    assert current(client)["value"] == 4.5


def test_per_element_value_write_refusals_in_the_profile_error_keys() -> None:
    client = Client(make("beta"))
    status, body, _ = put(client, "/v1/objects/nope/value", 1.0)
    assert status == 404 and body["error"]["code"] == 404 and "nope" in body["error"]["message"]
    assert "responseDetail" not in body
    assert put(client, "/v1/objects/flow/value", {"value": 1.0, "quality": "Weird"})[0] == 400
    assert put(client, "/v1/objects/flow/value", {"value": 1.0, "timestamp": "yesterday"})[0] == 400
    assert put(client, "/v1/objects/flow/value", {"value": "fast"})[0] == 400  # the Sensor schema: a number
    assert put(client, "/v1/objects/flow/value", {"value": 1.0, "quality": 7})[0] == 400  # not a VQT
    client.send("PUT", "/v1/objects/flow/value", raw=b"{nope")
    assert client.response()[0].status_code == 400
    assert current(client)["value"] == 12.0


def test_per_element_history_write_checks_every_record_first() -> None:
    client = Client(make("beta"))
    good = {"value": 1.5, "quality": "Good", "timestamp": STAMP}
    later = {"value": 2.5, "quality": "Good", "timestamp": "2026-01-01T00:00:08Z"}
    assert put(client, "/v1/objects/flow/history", [good, {"value": 9.0, "quality": "Good"}])[0] == 400
    assert history(client) == []  # the good record was not written either
    assert put(client, "/v1/objects/flow/history", [good, later])[0] == 200
    assert put(client, "/v1/objects/flow/history", {"value": 3.5, "quality": "Bad", "timestamp": STAMP})[0] == 200
    assert history(client) == [(3.5, STAMP), (2.5, "2026-01-01T00:00:08Z")]  # one record per instant
    assert put(client, "/v1/objects/nope/history", good)[0] == 404
    assert put(client, "/v1/objects/flow/history", 1.0)[0] == 400
    assert put(client, "/v1/objects/flow/history", [])[0] == 400


def test_per_element_routes_take_only_put_and_exist_only_where_routed() -> None:
    client = Client(make("beta"))
    client.send("GET", "/v1/objects/flow/value")
    response, _ = client.response()
    assert response.status_code == 405 and dict(response.headers)[b"allow"] == b"PUT"
    plain = Client(make("1.0"))
    assert put(plain, "/v1/objects/flow/value", 1.0)[0] == 404
    update = {"updates": [{"elementId": "flow", "value": {"value": 5.5}}]}
    assert put(plain, "/v1/objects/value", update)[0] == 200
    both = Client(make("i3x2ua"))
    assert put(both, "/v1/objects/value", update)[0] == 200
    assert put(both, "/v1/objects/flow/history", {"value": 6.5, "quality": "Good", "timestamp": STAMP})[0] == 200
    assert history(both) == [(6.5, STAMP)]


def test_a_per_element_write_is_published_to_subscribers() -> None:
    server = make("beta")
    client = Client(server)
    status, body = client.call("POST", "/v1/subscriptions", {"clientId": "c1"})
    sub = body["result"]["subscriptionId"]
    register = {"clientId": "c1", "subscriptionId": sub, "elementIds": ["flow"]}
    assert client.call("POST", "/v1/subscriptions/register", register)[0] == 200
    assert put(client, "/v1/objects/flow/value", {"value": 7.5, "quality": "Good", "timestamp": STAMP})[0] == 200
    status, updates = client.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub})
    assert status == 200 and [(u["elementId"], u["value"]) for u in updates["result"]] == [("flow", 7.5)]
