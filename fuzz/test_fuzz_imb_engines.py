"""Hypothesis runs of the IMB3 engine fuzz harness (``make fuzz``: the ``fuzz`` profile)."""

from __future__ import annotations

from engine_imb import fuzz_imb_engines
from hypothesis import given
from hypothesis import strategies as st

from strategies.imb import golden_frames, mutated_frames, valid_frames


@given(st.binary(max_size=400))
def test_fuzz_imb_engines_arbitrary_octets(data: bytes) -> None:
    fuzz_imb_engines(data)


PIECES = st.one_of(valid_frames(), mutated_frames(), st.sampled_from(golden_frames()), st.binary(max_size=8))


@given(st.lists(PIECES, max_size=6))
def test_fuzz_imb_engines_streams(pieces: list[bytes]) -> None:
    fuzz_imb_engines(b"".join(pieces))
