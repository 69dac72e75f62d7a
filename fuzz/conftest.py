"""Fuzz-session setup: the shared strategies from ``tests/`` and the hypothesis profiles.

``make fuzz`` runs ``pytest fuzz --hypothesis-profile=fuzz``; ``tests/conftest.py``
is not loaded then, so this conftest registers the same profiles.
"""

from __future__ import annotations

import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
for _path in (FUZZ.parent / "tests", FUZZ):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from strategies import register_profiles  # noqa: E402 - needs the path above

register_profiles()
