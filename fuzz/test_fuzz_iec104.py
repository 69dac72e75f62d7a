"""Hypothesis runs of the IEC 104 fuzz harness; ``make fuzz`` uses the ``fuzz`` profile.

``tests/iec104/test_fuzz.py`` imports these tests so that ``make test`` runs them
under the ``ci`` profile too.
"""

from __future__ import annotations

from pathlib import Path

from harness import fuzz_one
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.iec104 import decode_apdu, encode_apdu
from strategies.iec104 import apdu_frames, golden_frames, mutated, mutated_frames

CORPUS = Path(__file__).resolve().parent / "corpus" / "iec104"


@given(st.binary(max_size=600))
def test_fuzz_arbitrary_octets(data: bytes) -> None:
    fuzz_one(data)


@given(st.one_of(mutated_frames(), mutated(golden_frames())))
def test_fuzz_mutated_frames(data: bytes) -> None:
    fuzz_one(data)


@given(st.lists(st.one_of(apdu_frames(), mutated_frames(), st.binary(max_size=8)), max_size=6))
def test_fuzz_mutated_streams(pieces: list[bytes]) -> None:
    fuzz_one(b"".join(pieces))


def test_fuzz_corpus_seeds() -> None:
    seeds = sorted(CORPUS.glob("*.bin"))
    assert len(seeds) >= 5
    for seed in seeds:
        data = seed.read_bytes()
        fuzz_one(data)
        assert encode_apdu(decode_apdu(data)) == data, seed.name  # seeds are valid APDUs
