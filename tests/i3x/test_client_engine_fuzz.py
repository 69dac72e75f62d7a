"""The i3X client engine fuzz harness (``fuzz/engine_i3x.py``) under hypothesis, plus its regressions."""

from __future__ import annotations

import gzip

import pytest
from engine_i3x import fuzz_i3x_engine  # fuzz/ is on sys.path (tests/conftest.py)
from hypothesis import given
from hypothesis import strategies as st

RESPONSE = b'HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{"success":true}'
SSE = b': keepalive\n\ndata: [{"elementId":"a","sequenceNumber":1}]\n\nevent: close\ndata: {}\n\n'


@given(st.binary(max_size=300))
def test_arbitrary_octets(data: bytes) -> None:
    fuzz_i3x_engine(data)


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    def mutate(cut: int, flip: int, junk: bytes) -> bytes:
        octets = bytearray(seed[: max(cut, 1)])
        octets[flip % len(octets)] ^= 0x20
        return bytes(octets) + junk

    return st.builds(mutate, st.integers(0, len(seed)), st.integers(0, 1000), st.binary(max_size=16))


@given(st.one_of(_mutations(RESPONSE), _mutations(SSE), _mutations(gzip.compress(SSE))))
def test_mutated_valid_input(data: bytes) -> None:
    fuzz_i3x_engine(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        RESPONSE,
        SSE,
        gzip.compress(SSE),
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
        b"\x1f\x8b" * 40,
        # first fuzz findings: octets after a complete response were an error only when
        # they came in the same read (now always: nothing was asked on an idle connection)
        RESPONSE + b"!",
        RESPONSE[:-6] + b"\0" * 6 + b"\0",
    ],
)
def test_seeds(data: bytes) -> None:
    fuzz_i3x_engine(data)
