"""Argument checks shared by the client modules (a leaf module)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from otwire.errors import InvalidArgumentType

__all__ = ["require_callable"]

C = TypeVar("C", bound=Callable[..., Any])


def require_callable(value: C, name: str = "callable") -> C:
    """Return ``value`` if it can be called.

    Raises:
        InvalidArgumentType: ``value`` is not callable (also a ``TypeError``).
    """
    if not callable(value):
        raise InvalidArgumentType(f"{name} must be callable, not {type(value).__name__}")
    return value
