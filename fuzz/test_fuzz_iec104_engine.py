"""Hypothesis runs of the IEC 104 engine fuzz harness (``make fuzz``: the ``fuzz`` profile)."""

from __future__ import annotations

from pathlib import Path

from engine_iec104 import fuzz_engine
from hypothesis import given
from hypothesis import strategies as st

from strategies.iec104 import apdu_frames, mutated_frames

CORPUS = Path(__file__).resolve().parent / "corpus" / "iec104"


@given(st.binary(max_size=400))
def test_fuzz_engine_arbitrary_octets(data: bytes) -> None:
    fuzz_engine(data)


@given(st.lists(st.one_of(apdu_frames(), mutated_frames(), st.binary(max_size=6)), max_size=8))
def test_fuzz_engine_streams(pieces: list[bytes]) -> None:
    fuzz_engine(b"".join(pieces))


def test_fuzz_engine_corpus_seeds() -> None:
    seeds = sorted(CORPUS.glob("*.bin"))
    assert seeds
    fuzz_engine(b"".join(seed.read_bytes() for seed in seeds))
