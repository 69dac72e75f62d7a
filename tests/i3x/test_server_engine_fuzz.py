"""The i3X server engine fuzz harness (``fuzz/engine_i3x_server.py``) under the ``ci`` profile, for ``make test``."""

from __future__ import annotations

from test_fuzz_i3x_server import (  # fuzz/ is on sys.path (tests/conftest.py)
    test_fuzz_i3x_server_arbitrary_octets,
    test_fuzz_i3x_server_json_bodies,
    test_fuzz_i3x_server_mutated_requests,
    test_fuzz_i3x_server_seeds,
)

__all__ = [
    "test_fuzz_i3x_server_arbitrary_octets",
    "test_fuzz_i3x_server_json_bodies",
    "test_fuzz_i3x_server_mutated_requests",
    "test_fuzz_i3x_server_seeds",
]
