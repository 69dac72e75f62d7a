"""Test-session setup: import paths for shared strategies and the fuzz harness, profiles.

``tests/`` goes on ``sys.path`` so ``from strategies import iec104`` works in any
import mode, and ``fuzz/`` so ``tests/iec104/test_fuzz.py`` can run ``harness``.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
for _path in (TESTS, TESTS.parent / "fuzz"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from strategies import register_profiles  # noqa: E402 - needs the path above

register_profiles()
