"""Hypothesis runs of the i3X server engine fuzz harness (``engine_i3x_server.py``); ``make fuzz`` uses the
``fuzz`` profile, ``tests/i3x/test_server_engine_fuzz.py`` runs them under ``ci`` for ``make test``."""

from __future__ import annotations

import json
from typing import Any

from engine_i3x_server import CONVERSATION, fuzz_i3x_server
from hypothesis import given
from hypothesis import strategies as st

JSON_KEYS = st.sampled_from(
    ["clientId", "subscriptionId", "elementIds", "maxDepth", "updates", "elementId", "value", "quality",
     "timestamp", "startTime", "endTime", "lastSequenceNumber", "subscriptionIds", "relationshipType",
     "includeMetadata", "displayName"]
)  # fmt: skip
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["flow", "pump", "sub-1", "fuzz", "Good", "2026-01-01T00:00:00Z", "", "nope"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_KEYS, inner, max_size=5),
    max_leaves=12,
)


@st.composite
def mutated_requests(draw: st.DrawFn) -> bytes:
    """Some of the valid requests, joined, with a few octets cut, flipped or inserted."""
    picked = draw(st.lists(st.sampled_from(CONVERSATION), min_size=1, max_size=3))
    data = bytearray(b"".join(picked))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "flip", "insert"]))
        if kind == "cut":
            del data[pos:]
        elif kind == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        else:
            data[pos:pos] = draw(st.sampled_from([b"\r\n", b"\r\n\r\n", b"9", b"{", b"\x00", b"content-length: 5\r\n"]))
    return bytes(data)


@given(st.binary(max_size=300))
def test_fuzz_i3x_server_arbitrary_octets(data: bytes) -> None:
    fuzz_i3x_server(data)


@given(st.integers(0, 255), JSON_VALUES)
def test_fuzz_i3x_server_json_bodies(endpoint: int, body: Any) -> None:
    fuzz_i3x_server(bytes([endpoint]) + json.dumps(body).encode())


@given(mutated_requests())
def test_fuzz_i3x_server_mutated_requests(data: bytes) -> None:
    fuzz_i3x_server(data)


def test_fuzz_i3x_server_seeds() -> None:
    for seed in [b"", *CONVERSATION, b"".join(CONVERSATION), b"GET / HTTP/1.0\r\n\r\n", b"\r\n" * 20]:
        fuzz_i3x_server(seed)
