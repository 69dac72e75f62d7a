"""The i3X codec fuzz harness under the ``ci`` profile, so ``make test`` covers it (see ``fuzz/``)."""

from __future__ import annotations

from test_fuzz_i3x import (  # fuzz/ is on sys.path (tests/conftest.py)
    test_fuzz_i3x_arbitrary_octets,
    test_fuzz_i3x_mutated_vectors,
    test_fuzz_i3x_random_json,
    test_fuzz_i3x_seeds,
    test_fuzz_i3x_sse_streams,
)

__all__ = [
    "test_fuzz_i3x_arbitrary_octets",
    "test_fuzz_i3x_mutated_vectors",
    "test_fuzz_i3x_random_json",
    "test_fuzz_i3x_seeds",
    "test_fuzz_i3x_sse_streams",
]
