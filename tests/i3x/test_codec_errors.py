"""Malformed i3X bodies give ``DecodeError`` with the JSON path or the octet offset (notes §2-§6)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from otwire.codecs import i3x
from otwire.errors import DecodeError

from .vectors import body_bytes, decode_vector, load

VECTORS = [vector for name in ("info", "envelopes", "bulk", "sync") for vector in load(name)]


@pytest.mark.parametrize(
    ("body", "decode", "path"),
    [
        (
            b'{"success":true,"results":[{"success":true,"elementId":"a","result":{"isComposition":"no"}}]}',
            lambda b: i3x.decode_bulk(b, i3x.CurrentValue),
            "$.results[0].result.isComposition",
        ),
        (
            b'{"success":true,"result":[{"elementId":"a","displayName":"A"}]}',
            lambda b: i3x.decode_response(b, list[i3x.ObjectInstance]),
            "$.result[0]",
        ),
        (
            b'{"success":true,"result":[{"sequenceNumber":1,"updates":[{"elementId":"a"},{"value":1}]}]}',
            i3x.decode_sync,
            "$.result[0].updates[1]",
        ),
        (b'{"success":true,"result":[{"sequenceNumber":"1"}]}', i3x.decode_sync, "$.result[0].sequenceNumber"),
        (b'{"success":true,"result":[{"sequenceNumber":2}]}', i3x.decode_sync, "$.result[0]"),
        (b'{"success":"yes"}', lambda b: i3x.decode_response(b, Any), "$.success"),
        (b'{"specVersion":1}', i3x.decode_server_info, "$.specVersion"),
        (b"[]", lambda b: i3x.decode_bulk(b, type(None)), "$"),
        (
            b'{"success":true,"result":{"value":1,"components":{"c":{"value":2,"components":{"d":{"quality":3}}}}}}',
            lambda b: i3x.decode_response(b, i3x.VQT),
            "$.result.components[...].components[...].quality",  # msgspec hides map keys
        ),
    ],
)
def test_wrong_shape_names_the_json_path(body: bytes, decode: Any, path: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(body)
    assert f"`{path}" in str(caught.value)
    assert caught.value.data == body


@pytest.mark.parametrize(
    ("body", "offset"),
    [
        (b'{"success": x}', 12),
        (b'{"success":true}}', 17),  # msgspec points just past the trailing octet
        (b'{"success":tr', 13),
        (b"", 0),
        (b'{"success":true,"result":"\xff"}', 26),
    ],
)
def test_malformed_json_gives_the_offset(body: bytes, offset: int) -> None:
    with pytest.raises(DecodeError) as caught:
        i3x.decode_response(body, Any)
    assert caught.value.offset == offset
    assert "not JSON" in caught.value.reason


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_every_strict_prefix_of_a_vector_is_a_decode_error(vector: dict[str, Any]) -> None:
    body = body_bytes(vector)
    decode_vector(vector, body)  # the whole body decodes
    for end in range(len(body)):
        with pytest.raises(DecodeError):
            decode_vector(vector, body[:end])


def test_unknown_keys_are_ignored() -> None:
    body = b'{"success":true,"result":{"uri":"u","displayName":"d","x":{"y":[1]}},"extra":1}'
    assert i3x.decode_response(body, i3x.Namespace).result == i3x.Namespace("u", "d")


def test_info_envelope_without_result_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="without result"):
        i3x.decode_server_info(i3x.encode_error(500, "Internal Server Error"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-08T10:30:00Z", dt.datetime(2025, 1, 8, 10, 30, tzinfo=dt.UTC)),
        ("2025-01-08t10:30:00.5z", dt.datetime(2025, 1, 8, 10, 30, 0, 500000, tzinfo=dt.UTC)),
        ("2025-01-08T10:30:00.123456789Z", dt.datetime(2025, 1, 8, 10, 30, 0, 123456, tzinfo=dt.UTC)),
        ("2025-01-08T12:30:00+02:00", dt.datetime(2025, 1, 8, 10, 30, tzinfo=dt.UTC)),
        ("2025-01-08T10:30:00-00:30", dt.datetime(2025, 1, 8, 11, 0, tzinfo=dt.UTC)),
    ],
)
def test_timestamps_parse_leniently(text: str, expected: dt.datetime) -> None:
    assert i3x.parse_timestamp(text) == expected
    assert i3x.VQT(1, "Good", text).parsed_timestamp == expected


@pytest.mark.parametrize(
    "text", ["", "2025-01-08", "2025-01-08T10:30:00", "2025-13-08T10:30:00Z", "2025-01-08T10:30:00.Z", "x" * 30]
)
def test_bad_timestamps_are_decode_errors(text: str) -> None:
    with pytest.raises(DecodeError, match="timestamp"):
        i3x.parse_timestamp(text)


def test_format_timestamp_is_strict_utc() -> None:
    tz = dt.timezone(dt.timedelta(hours=2))
    assert i3x.format_timestamp(dt.datetime(2025, 1, 8, 12, 30, tzinfo=tz)) == "2025-01-08T10:30:00Z"
    assert i3x.format_timestamp(dt.datetime(2025, 1, 8, 10, 30, 0, 120)) == "2025-01-08T10:30:00.000120Z"


@pytest.mark.parametrize("data", ["5", '"x"', "[1]", "[{}]", "{not json", '{"elementId":3}'])
def test_bad_message_data_is_a_decode_error(data: str) -> None:
    with pytest.raises(DecodeError):
        i3x.map_event(i3x.SSEEvent(data))


def test_encode_rejects_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        i3x.encode({"a": object()})
    assert json.loads(i3x.encode_error(404, "Not Found", "x")) == {
        "success": False,
        "responseDetail": {"title": "Not Found", "status": 404, "detail": "x"},
    }
