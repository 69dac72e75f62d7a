"""Hypothesis runs of the IMB3 fuzz harness; ``make fuzz`` uses the ``fuzz`` profile.

``tests/imb/test_fuzz.py`` imports these tests so that ``make test`` runs them
under the ``ci`` profile too. Seeds in ``corpus/imb/`` are the golden vectors of
``specs/imb/vectors/`` as raw octets (``<vector file>-<vector name>.bin``).
"""

from __future__ import annotations

from pathlib import Path

from harness import fuzz_one
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.imb import decode_command, encode_command
from strategies.imb import JUNK, MAGIC, TRAILER, golden_frames, mutated, mutated_frames, valid_frames

CORPUS = Path(__file__).resolve().parent / "corpus" / "imb"
#: Octets that steer random input towards the framer's decisions.
_FRAGMENTS = st.sampled_from([MAGIC, MAGIC[:4], TRAILER, b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x2f"])


@given(st.binary(max_size=600))
def test_fuzz_arbitrary_octets(data: bytes) -> None:
    fuzz_one(data, "imb")


@given(st.lists(st.one_of(_FRAGMENTS, st.binary(max_size=12)), max_size=12))
def test_fuzz_magic_laden_octets(pieces: list[bytes]) -> None:
    fuzz_one(b"".join(pieces), "imb")


@given(st.one_of(mutated_frames(), mutated(st.sampled_from(golden_frames()))))
def test_fuzz_mutated_frames(data: bytes) -> None:
    fuzz_one(data, "imb")


@given(st.lists(st.one_of(valid_frames(), mutated_frames(), JUNK, _FRAGMENTS), max_size=6))
def test_fuzz_mutated_streams(pieces: list[bytes]) -> None:
    fuzz_one(b"".join(pieces), "imb")


def test_fuzz_corpus_seeds() -> None:
    seeds = sorted(CORPUS.glob("*.bin"))
    assert len(seeds) == len(golden_frames())
    for seed in seeds:
        data = seed.read_bytes()
        fuzz_one(data, "imb")
        assert encode_command(decode_command(data)) == data, seed.name  # seeds are valid frames
