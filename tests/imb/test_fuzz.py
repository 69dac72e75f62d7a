"""The IMB3 fuzz harness under the ``ci`` profile, so ``make test`` covers it (see ``fuzz/``)."""

from __future__ import annotations

from test_fuzz_imb import (  # fuzz/ is on sys.path (tests/conftest.py)
    test_fuzz_arbitrary_octets,
    test_fuzz_corpus_seeds,
    test_fuzz_magic_laden_octets,
    test_fuzz_mutated_frames,
    test_fuzz_mutated_streams,
)

__all__ = [
    "test_fuzz_arbitrary_octets",
    "test_fuzz_corpus_seeds",
    "test_fuzz_magic_laden_octets",
    "test_fuzz_mutated_frames",
    "test_fuzz_mutated_streams",
]
