"""Engine-level regressions for what the real i3x-client 1.0.0 found (specs/i3x/notes.md, "Conformance with
i3x-client 1.0.0"); the client itself runs in tests/i3x_peer/."""

from __future__ import annotations

from typing import Any

import pytest

from otwire.codecs.i3x import VQT
from otwire.errors import InvalidArgument

from .test_server_engine import subscribe
from .test_server_kit import Client, engine, make_space


def history(client: Client, element_id: str = "flow", **times: str) -> tuple[int, Any]:
    return client.call("POST", "/v1/objects/history", {"elementIds": [element_id], **times})


def put(client: Client, what: str, element_id: str, vqt: dict[str, Any]) -> dict[str, Any]:
    status, body = client.call("PUT", f"/v1/objects/{what}", {"updates": [{"elementId": element_id, "value": vqt}]})
    assert status == 200, body
    item: dict[str, Any] = body["results"][0]
    return item


@pytest.mark.parametrize(
    "vqt",
    [
        {"value": 1.0},  # update_history(id, {"value": ...}) without quality and timestamp
        {"value": 1.0, "quality": "Good"},
        {"value": 1.0, "quality": "Good", "timestamp": "yesterday"},
        {"value": 1.0, "quality": "Weird", "timestamp": "2026-01-01T00:00:05Z"},
    ],
)
def test_a_bad_history_write_is_a_400_item_and_history_stays_readable(vqt: dict[str, Any]) -> None:
    client = Client(engine())
    item = put(client, "history", "flow", vqt)
    assert item["success"] is False and item["responseDetail"]["status"] == 400, item
    status, body = history(client, startTime="2026-01-01T00:00:00Z")
    assert status == 200, body  # was 400 "startTime/endTime: timestamp '' is not RFC 3339" for every later read
    assert [v["value"] for v in body["results"][0]["result"]["values"]] == [10.0, 11.0, 12.0]


@pytest.mark.parametrize(("field", "bad"), [("timestamp", "yesterday"), ("quality", "Weird")])
def test_a_bad_value_write_is_a_400_item_changes_nothing_and_is_not_published(field: str, bad: str) -> None:
    client = Client(engine())
    sub = subscribe(client, ["flow"])
    client.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub})
    item = put(client, "value", "flow", {"value": 99.0, field: bad})
    assert item["success"] is False and item["responseDetail"]["status"] == 400, item
    assert bad in item["responseDetail"]["detail"]
    current = client.call("POST", "/v1/objects/value", {"elementIds": ["flow"]})[1]["results"][0]["result"]
    assert current["value"] == 12.0
    batches = client.call("POST", "/v1/subscriptions/sync", {"clientId": "c1", "subscriptionId": sub})[1]["result"]
    assert all(u["value"] != 99.0 for b in batches for u in b["updates"]), batches
    assert history(client, startTime="2026-01-01T00:00:00Z")[0] == 200


def test_a_good_write_beside_a_bad_one_succeeds() -> None:
    client = Client(engine())
    status, body = client.call("PUT", "/v1/objects/value", {"updates": [
        {"elementId": "flow", "value": {"value": 1.0, "timestamp": "nope"}},
        {"elementId": "speed", "value": {"value": 1500, "quality": "Uncertain", "timestamp": "2026-01-01T00:00:09Z"}},
        {"elementId": "ghost", "value": {"value": 1.0, "timestamp": "nope"}}]})  # fmt: skip
    assert status == 200
    assert [(r["success"], r.get("responseDetail", {}).get("status")) for r in body["results"]] == [
        (False, 400), (True, None), (False, 400)]  # fmt: skip


def test_history_records_are_keyed_by_instant_not_by_spelling() -> None:
    client = Client(engine())
    for stamp, value in (("2026-01-01T00:00:05Z", 1.0), ("2026-01-01T01:00:05.000+01:00", 2.0)):
        assert put(client, "history", "flow", {"value": value, "quality": "Good", "timestamp": stamp})["success"]
    values = history(client, startTime="2026-01-01T00:00:04Z")[1]["results"][0]["result"]["values"]
    assert [v["value"] for v in values] == [2.0]


def test_memory_space_refuses_to_record_a_bad_timestamp() -> None:
    space = make_space()
    with pytest.raises(InvalidArgument, match="flow"):
        space.set_value("flow", VQT(1.0, "Good", "not a time"))
    current = space.current_value("flow", 1)
    assert current is not None and current.value == 12.0
