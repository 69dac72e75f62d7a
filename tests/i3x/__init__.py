"""i3X codec tests (a package so the module names do not collide with the other protocols)."""

from __future__ import annotations
