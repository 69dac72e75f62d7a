"""Hypothesis runs of the i3X codec fuzz harness; ``make fuzz`` uses the ``fuzz`` profile.

``tests/i3x/test_fuzz.py`` imports these tests so that ``make test`` runs them under
the ``ci`` profile too. Seeds are the golden vectors of ``specs/i3x/vectors/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codec_i3x import fuzz_i3x
from hypothesis import given
from hypothesis import strategies as st

from strategies.i3x import JSON_SCALAR, sse_streams

VECTORS = Path(__file__).resolve().parent.parent / "specs" / "i3x" / "vectors"
#: Keys of the i3X shapes, so random JSON often looks like a real body.
KEYS = st.sampled_from(
    [
        "success", "result", "results", "responseDetail", "error", "elementId", "subscriptionId", "value",
        "quality", "timestamp", "components", "isComposition", "values", "sequenceNumber", "updates",
        "specVersion", "displayName", "typeElementId", "metadata", "object", "sourceRelationship", "status",
    ]
)  # fmt: skip
I3X_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def seeds() -> list[bytes]:
    """Every vector body (compact JSON) and SSE stream."""
    found: list[bytes] = []
    for path in sorted(VECTORS.glob("*.json")):
        for vector in json.loads(path.read_text(encoding="utf-8"))["vectors"]:
            if "body" in vector:
                found.append(json.dumps(vector["body"], separators=(",", ":")).encode())
            else:
                found.append(vector["stream"].encode())
    return found


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
        if kind == "cut":
            del data[pos:]
        elif kind == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[pos:pos] = draw(st.sampled_from([b"null", b"{}", b"[]", b'"', b",", b"1e999", b"\r", b"\xff"]))
        elif pos < len(data):
            del data[pos]
    return bytes(data)


@given(st.binary(max_size=300))
def test_fuzz_i3x_arbitrary_octets(data: bytes) -> None:
    fuzz_i3x(data)


@given(I3X_JSON)
def test_fuzz_i3x_random_json(value: Any) -> None:
    fuzz_i3x(json.dumps(value).encode())


@given(mutated())
def test_fuzz_i3x_mutated_vectors(data: bytes) -> None:
    fuzz_i3x(data)


@given(sse_streams())
def test_fuzz_i3x_sse_streams(data: bytes) -> None:
    fuzz_i3x(data)


def test_fuzz_i3x_seeds() -> None:
    assert len(seeds()) >= 25
    for seed in seeds():
        fuzz_i3x(seed)
