"""Stateless codecs: bytes <-> typed messages, one subpackage per protocol."""

from __future__ import annotations
