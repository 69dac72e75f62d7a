"""Argument checks shared by the client modules (a leaf module)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from otwire.errors import InvalidArgumentType

__all__ = ["require_callable", "require_int", "require_timeout"]

C = TypeVar("C", bound=Callable[..., Any])


def require_callable(value: C, name: str = "callable") -> C:
    """Return ``value`` if it can be called.

    Raises:
        InvalidArgumentType: ``value`` is not callable (also a ``TypeError``).
    """
    if not callable(value):
        raise InvalidArgumentType(f"{name} must be callable, not {type(value).__name__}")
    return value


def require_int(value: object, name: str) -> int:
    """Return ``value`` if it is an ``int`` (addresses, keys).

    Raises:
        InvalidArgumentType: ``value`` is not an ``int`` (also a ``TypeError``).
    """
    if not isinstance(value, int):
        raise InvalidArgumentType(f"{name} must be an int, not {type(value).__name__}")
    return value


def require_timeout(value: object, name: str = "timeout") -> float | None:
    """Return ``value`` if it is ``None`` or a number of seconds.

    Raises:
        InvalidArgumentType: ``value`` is neither (also a ``TypeError``).
    """
    if value is not None and not isinstance(value, int | float):
        raise InvalidArgumentType(f"{name} must be a number of seconds or None, not {type(value).__name__}")
    return value
