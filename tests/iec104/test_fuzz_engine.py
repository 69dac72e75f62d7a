"""The engine fuzz harness under the ``ci`` profile, so ``make test`` covers it (see ``fuzz/``)."""

from __future__ import annotations

from test_fuzz_iec104_engine import (  # fuzz/ is on sys.path (tests/conftest.py)
    test_fuzz_engine_arbitrary_octets,
    test_fuzz_engine_corpus_seeds,
    test_fuzz_engine_streams,
)

__all__ = ["test_fuzz_engine_arbitrary_octets", "test_fuzz_engine_corpus_seeds", "test_fuzz_engine_streams"]
