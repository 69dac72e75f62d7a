"""Golden vectors (specs/i3x/vectors/): each body decodes to the expected model and re-encodes equal as JSON.

"Equal as JSON" ignores ``null`` members (absent = null, notes §4) and the keys a vector
lists under ``ignored`` (server extras the models drop, or defaults the encoder adds); a
vector with ``reencoded`` (Beta shapes, converted to 1.0) re-encodes to that.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from otwire.codecs import i3x
from otwire.codecs.i3x import VQT, BulkFailure, BulkItem, BulkResponse, CurrentValue, Response, ResponseDetail

from .vectors import body_bytes, decode_vector, load, normalized

TS = "2025-01-08T10:30:00Z"
NOT_FOUND = ResponseDetail("Not Found", 404, "Element not found: bad-id")
PUMP = i3x.ObjectInstance("pump-101", "Pump 101", "PumpType", "line-1", True, False)
SPEED = "pump-101-speed"

EXPECTED: dict[str, Any] = {
    "info-enveloped": i3x.ServerInfo(
        "1.0",
        "1.0.0",
        "Demo",
        {"query": {"history": True}, "update": {"current": True, "history": False}, "subscribe": {"stream": True}},
    ),
    "info-bare": i3x.ServerInfo("1.0", None, "Demo", {"query": {"history": True}}),
    "namespaces": Response(True, [i3x.Namespace("https://cesmii.org/i3x", "i3X")]),
    "error-404": Response(False, None, ResponseDetail("Not Found", 404, "Element not found: pump-101")),
    "error-beta": Response(False, None, None, i3x.BetaError(404, "Element not found: pump-101")),
    "error-401-node-i3x": Response(
        False, None, ResponseDetail("Unauthorized", 401, "Missing or invalid Bearer token.")
    ),
    "create-subscription": Response(True, i3x.Subscription("sub-1", "c-1", "line 1")),
    "value-leaf-and-failure": BulkResponse(
        False,
        [
            BulkItem("pump-101", None, CurrentValue("pump-101", False, 67.1, "Good", "2025-10-28T10:15:30Z")),
            BulkFailure("bad-id", None, NOT_FOUND),
        ],
    ),
    "value-composition": BulkResponse(
        True,
        [
            BulkItem(
                "pump-101",
                None,
                CurrentValue(
                    "pump-101",
                    True,
                    None,
                    "GoodNoData",
                    TS,
                    {
                        "pump-101-bearing-temperature": VQT(
                            70.34,
                            "Good",
                            TS,
                            {"pump-101-bearing-sensor": VQT("ok", "Uncertain", "2025-01-08T10:30:00.123456Z")},
                        )
                    },
                ),
            )
        ],
        ResponseDetail("Partial Content", 206, "maxDepth limited to 2"),
    ),
    "value-i3x2ua-extras": BulkResponse(
        True, [BulkItem("pump-101", None, CurrentValue("pump-101", True, None, "Bad", "2025-01-08T10:30:00.000000Z"))]
    ),
    "history": BulkResponse(
        True,
        [
            BulkItem(
                SPEED,
                None,
                i3x.HistoricalValue(SPEED, False, [VQT(1480, "Good", "2025-01-08T10:31:00Z"), VQT(1475.5, "Good", TS)]),
            )
        ],
    ),
    "objects-list-metadata": BulkResponse(
        True,
        [
            BulkItem(
                "pump-101",
                None,
                i3x.ObjectInstance(
                    "pump-101",
                    "Pump 101",
                    "PumpType",
                    "line-1",
                    True,
                    False,
                    i3x.ObjectInstanceMetadata(
                        "https://example.com/pumps",
                        "PumpType",
                        "Feed pump",
                        {"HasParent": "/", "HasComponent": [SPEED, "pump-101-bearing-temperature"]},
                    ),
                ),
            )
        ],
    ),
    "related": BulkResponse(True, [BulkItem("line-1", None, [i3x.RelatedObject("HasChildren", PUMP)])]),
    "object-types": BulkResponse(
        True,
        [
            BulkItem(
                "PumpType",
                None,
                i3x.ObjectType(
                    "PumpType",
                    "Pump",
                    "https://example.com/pumps",
                    "PumpType",
                    "1.0.0",
                    {"type": "object", "properties": {"speed": {"type": "number"}}},
                    {"relationshipType": "InheritsFrom", "types": ["BaseType"]},
                ),
            )
        ],
    ),
    "relationship-types": BulkResponse(
        True,
        [
            BulkItem(
                "HasParent",
                None,
                i3x.RelationshipType("HasParent", "HasParent", "https://cesmii.org/i3x", "HasParent", "HasChildren"),
            )
        ],
    ),
    "write-beta-item-error": BulkResponse(
        False, [BulkItem(SPEED, None, None), BulkFailure("bad-id", None, ResponseDetail("404", 404, NOT_FOUND.detail))]
    ),
    "subscriptions-list": BulkResponse(
        True,
        [
            BulkItem(
                None, "sub-1", i3x.Subscription("sub-1", None, "line 1", [{"elementId": "pump-101", "maxDepth": 1}])
            )
        ],
    ),
    "whole-call-404": BulkResponse(False, [], ResponseDetail("Not Found", 404, "Subscription not found: sub-9")),
    "sync-batch": Response(True, [i3x.SyncBatch(1, [i3x.ValueChange(SPEED, 1480, "Good", TS)])]),
    "sync-overflow-206": Response(
        True,
        [i3x.SyncBatch(151, [i3x.ValueChange(SPEED, 1481, "Good", TS, None, 151)])],
        ResponseDetail("Updates dropped due to queue overflow", 206, "50 updates dropped"),
    ),
    "sync-empty": Response(True, []),
    "sync-beta-flat": Response(True, [i3x.SyncBatch(5, [i3x.ValueChange(SPEED, 1479, "Good", TS, None, 5)])]),
}

VECTORS = [vector for name in ("info", "envelopes", "bulk", "sync") for vector in load(name)]


def test_every_vector_has_an_expectation() -> None:
    assert sorted(v["name"] for v in VECTORS) == sorted(EXPECTED)


def reencode(vector: dict[str, Any], decoded: Any) -> bytes:
    if vector["decoder"] == "bulk":
        return i3x.encode_bulk(decoded)
    return i3x.encode(decoded)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_vector_decodes_to_expected_model(vector: dict[str, Any]) -> None:
    assert decode_vector(vector) == EXPECTED[vector["name"]]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_vector_reencodes_equal_as_json(vector: dict[str, Any]) -> None:
    decoded = decode_vector(vector)
    ignored = frozenset(vector.get("ignored", ()))
    expected = vector.get("reencoded", vector["body"])
    if vector["decoder"] == "info":
        expected = expected.get("result", expected)
    assert normalized(json.loads(reencode(vector, decoded)), ignored) == normalized(expected, ignored)
    assert decode_vector(vector, reencode(vector, decoded)) == decoded


def test_bulk_failure_kept_in_order() -> None:
    vector = next(v for v in VECTORS if v["name"] == "value-leaf-and-failure")
    response = decode_vector(vector)
    assert [item.element_id for item in response.results] == ["pump-101", "bad-id"]
    assert response.failures[0].detail.status == 404 and response.failures[0].key == "bad-id"
    assert not response.success and response.failure is None


def test_partial_and_failure_flags() -> None:
    by_name = {v["name"]: decode_vector(v) for v in VECTORS}
    assert by_name["sync-overflow-206"].partial
    assert not by_name["sync-batch"].partial
    assert by_name["error-beta"].failure == ResponseDetail("404", 404, "Element not found: pump-101")
    assert by_name["whole-call-404"].failure.status == 404


def test_timestamps_parse() -> None:
    vector = next(v for v in VECTORS if v["name"] == "value-composition")
    value = decode_vector(vector).items[0].result
    sensor = value.components["pump-101-bearing-temperature"].components["pump-101-bearing-sensor"]
    assert sensor.parsed_timestamp.microsecond == 123456
    assert value.parsed_timestamp.isoformat() == "2025-01-08T10:30:00+00:00"


def test_body_bytes_are_compact_json() -> None:
    assert body_bytes({"body": {"a": [1, None]}}) == b'{"a":[1,null]}'
