"""IMB3 codec tests (a package so the module names do not collide with tests/iec104)."""

from __future__ import annotations
