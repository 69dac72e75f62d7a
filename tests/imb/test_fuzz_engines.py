"""The IMB engine fuzz harness under the ``ci`` profile, so ``make test`` covers it (see ``fuzz/``)."""

from __future__ import annotations

from test_fuzz_imb_engines import (  # fuzz/ is on sys.path (tests/conftest.py)
    test_fuzz_imb_engines_arbitrary_octets,
    test_fuzz_imb_engines_streams,
)

__all__ = ["test_fuzz_imb_engines_arbitrary_octets", "test_fuzz_imb_engines_streams"]
