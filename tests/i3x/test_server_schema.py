"""Written values checked against their object type's JSON Schema (research §3, §4; notes §9)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from otwire.codecs.i3x import VQT, ObjectType
from otwire.protocols.i3x.config import I3XServerConfig
from otwire.protocols.i3x.server import I3XServer
from otwire.protocols.i3x.space import MemorySpace

from .test_server_engine import subscribe
from .test_server_kit import NS, T0, Client, engine, make_space

STAMP = "2026-01-01T00:00:09Z"
GAUGE = {
    "type": "object",
    "properties": {"speed": {"type": "number"}, "rates": {"type": "array", "items": {"type": "integer"}}},
    "required": ["speed"],
}


def put(client: Client, what: str, updates: list[tuple[str, Any]], quality: str = "Good") -> list[dict[str, Any]]:
    body = {"updates": [{"elementId": e, "value": {"value": v, "quality": quality, "timestamp": STAMP}}
                        for e, v in updates]}  # fmt: skip
    status, reply = client.call("PUT", f"/v1/objects/{what}", body)
    assert status == 200, reply
    results: list[dict[str, Any]] = reply["results"]
    return results


def outcome(item: dict[str, Any]) -> tuple[bool, int | None, str]:
    detail = item.get("responseDetail") or {}
    return item["success"], detail.get("status"), detail.get("detail", "")


def current(client: Client, element_id: str) -> Any:
    return client.call("POST", "/v1/objects/value", {"elementIds": [element_id]})[1]["results"][0]["result"]["value"]


def gauge_engine(schema: Any = None, **config: Any) -> I3XServer[Any]:
    space = make_space()
    space.add_object_type(ObjectType("Gauge", "Gauge", NS, "Gauge", "1", GAUGE if schema is None else schema))
    space.add_object("gauge", "Gauge", "Gauge", parent_id="line", vqt=VQT({"speed": 1.0}, "Good", T0))
    return I3XServer(space, I3XServerConfig(**config))


def test_a_value_of_the_wrong_type_is_a_400_item_and_changes_nothing() -> None:
    client = Client(engine())
    sub = subscribe(client, ["flow"])
    [item] = put(client, "value", [("flow", "fast")])
    ok, status, detail = outcome(item)
    assert (ok, status) == (False, 400)
    assert detail == "flow: value at $ does not match the schema of type Sensor: 'fast' is not of type 'number'"
    assert current(client, "flow") == 12.0
    batches = client.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub})[1]["result"]
    assert batches == []  # not published either


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [({"speed": "fast"}, "$.speed", "'fast' is not of type 'number'"),
     ({"rates": [1, 2]}, "$", "'speed' is a required property"),
     ({"speed": 1, "rates": [1, 2.5]}, "$.rates[1]", "2.5 is not of type 'integer'"),
     (3, "$", "3 is not of type 'object'")],
)  # fmt: skip
def test_the_refusal_names_the_json_path_of_the_mismatch(value: Any, path: str, reason: str) -> None:
    client = Client(gauge_engine())
    [item] = put(client, "value", [("gauge", value)])
    assert outcome(item) == (False, 400, f"gauge: value at {path} does not match the schema of type Gauge: {reason}")
    assert current(client, "gauge") == {"speed": 1.0}


def test_a_matching_value_is_written() -> None:
    client = Client(gauge_engine())
    [item] = put(client, "value", [("gauge", {"speed": 2, "rates": [1], "extra": "kept"})])
    assert item["success"] is True
    assert current(client, "gauge") == {"speed": 2, "rates": [1], "extra": "kept"}


def test_bulk_writes_report_each_item() -> None:
    client = Client(engine())
    results = put(client, "value", [("flow", 1.5), ("speed", "x"), ("pump", "stopped"), ("pump", 7), ("ghost", 1)])
    assert [outcome(r)[:2] for r in results] == [(True, None), (False, 400), (True, None), (False, 400), (False, 404)]
    assert current(client, "flow") == 1.5 and current(client, "pump") == "stopped" and current(client, "speed") == 1450


def test_history_writes_are_checked_too() -> None:
    client = Client(engine())
    [bad, good] = put(client, "history", [("flow", [1]), ("flow", 2.5)])
    assert outcome(bad) == (False, 400, "flow: value at $ does not match the schema of type Sensor: "
                                        "[1] is not of type 'number'")  # fmt: skip
    assert good["success"] is True
    body = {"elementIds": ["flow"], "startTime": STAMP, "endTime": STAMP}
    values = client.call("POST", "/v1/objects/history", body)[1]["results"][0]["result"]["values"]
    assert [v["value"] for v in values] == [2.5]


@pytest.mark.parametrize(("quality", "checked"), [("Good", True), ("Uncertain", True), ("Bad", False),
                                                  ("GoodNoData", False)])  # fmt: skip
def test_only_qualities_that_carry_a_value_are_checked(quality: str, checked: bool) -> None:
    client = Client(engine())
    [item] = put(client, "value", [("flow", None)], quality=quality)
    assert outcome(item)[:2] == ((False, 400) if checked else (True, None))


def test_beta_profile_reports_the_mismatch_in_its_error_shape() -> None:
    space = make_space()
    client = Client(I3XServer(space, profile="beta"))
    [item] = put(client, "value", [("flow", "fast")])
    assert "responseDetail" not in item and item["error"]["code"] == 400
    assert item["error"]["message"].startswith("flow: value at $ does not match")


def test_a_changed_schema_takes_effect() -> None:
    server = gauge_engine()
    client = Client(server)
    assert put(client, "value", [("gauge", {"speed": 2})])[0]["success"] is True
    space = server.space
    assert isinstance(space, MemorySpace)
    space.add_object_type(ObjectType("Gauge", "Gauge", NS, "Gauge", "2", {"type": "string"}))
    assert outcome(put(client, "value", [("gauge", {"speed": 2})])[0])[:2] == (False, 400)
    assert put(client, "value", [("gauge", "now a string")])[0]["success"] is True


@pytest.mark.parametrize("schema", [{"type": 5}, "number", {"minimum": "low"}])
def test_an_invalid_schema_is_the_servers_fault(schema: Any) -> None:
    client = Client(gauge_engine(schema))
    ok, status, detail = outcome(put(client, "value", [("gauge", 1)])[0])
    assert (ok, status) == (False, 500) and "the schema of type Gauge is not a" in detail


@pytest.mark.parametrize(("schema", "accepted"), [(True, True), (False, False)])
def test_boolean_schemas(schema: bool, accepted: bool) -> None:
    client = Client(gauge_engine(schema))
    assert put(client, "value", [("gauge", "anything")])[0]["success"] is accepted


def test_an_unknown_meta_schema_falls_back_to_the_latest_draft_silently() -> None:
    client = Client(gauge_engine({"$schema": "urn:nowhere", "type": "number"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = put(client, "value", [("gauge", 1), ("gauge", "x")])
    assert [r["success"] for r in results] == [True, False]


def test_a_long_value_is_cut_in_the_message() -> None:
    client = Client(engine())
    ok, status, detail = outcome(put(client, "value", [("flow", "x" * 10_000)])[0])
    assert (ok, status) == (False, 400) and detail.endswith("...") and len(detail) < 400
