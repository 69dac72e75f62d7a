"""Argument checks at the public boundary of every client (``errors.py``: nothing outside the tree escapes).

Each check returns the value (normalised where useful) or raises
:class:`~otwire.errors.InvalidArgumentType` (also a ``TypeError``) for a wrong type and
:class:`~otwire.errors.InvalidArgument` (also a ``ValueError``) for a value out of range.
Ranges the wire imposes (int32 fields, payload lengths) stay the codec's ``EncodeError``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = ["MAX_SECONDS", "check_bytes", "check_callable", "check_int", "check_seconds", "check_str", "type_name"]

C = TypeVar("C", bound=Callable[..., Any])

#: Longest wait accepted (seconds): what ``threading`` and asyncio can arm.
MAX_SECONDS = min(threading.TIMEOUT_MAX, 10.0**9)


def type_name(value: object) -> str:
    return type(value).__name__


def check_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int``.

    Raises:
        InvalidArgumentType: ``value`` is not an int (``bool`` is one, as in Python).
    """
    if not isinstance(value, int):
        raise InvalidArgumentType(f"{name} must be an int, got {type_name(value)}")
    return int(value)


def check_str(name: str, value: Any, *, optional: bool = False) -> Any:
    """Return ``value``, a ``str`` (or ``None`` when ``optional``).

    Raises:
        InvalidArgumentType: ``value`` is not a ``str``.
    """
    if not (isinstance(value, str) or (optional and value is None)):
        raise InvalidArgumentType(f"{name} must be a str{' or None' if optional else ''}, got {type_name(value)}")
    return value


def check_bytes(name: str, value: Any) -> bytes:
    """Return ``value`` (bytes, bytearray or memoryview) as ``bytes``.

    Raises:
        InvalidArgumentType: ``value`` is not bytes-like (a ``str`` is not: encode it first).
    """
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgumentType(f"{name} must be bytes, got {type_name(value)}")
    return bytes(value)


def check_seconds(name: str, value: Any, *, optional: bool = True, positive: bool = False) -> float | None:
    """Return a duration in seconds (``None`` when ``optional``: no limit).

    Raises:
        InvalidArgumentType: ``value`` is not a real number (or ``None``).
        InvalidArgument: ``value`` is NaN, negative (or zero when ``positive``) or above ``MAX_SECONDS``.
    """
    if value is None and optional:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidArgumentType(f"{name} must be a number of seconds, got {type_name(value)}")
    if math.isnan(value) or value < 0 or (positive and value == 0) or value > MAX_SECONDS:
        low = "> 0" if positive else ">= 0"
        raise InvalidArgument(f"{name}={value!r} must be {low} and <= {MAX_SECONDS:g} seconds")
    return float(value)


def check_callable(name: str, value: C) -> C:
    """Return ``value`` if it can be called (a callback).

    Raises:
        InvalidArgumentType: ``value`` is not callable.
    """
    if not callable(value):
        raise InvalidArgumentType(f"{name} must be callable, got {type_name(value)}")
    return value
