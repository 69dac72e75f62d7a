"""Helpers shared by every codec: the decode boundary and enum mapping (STYLE.md 3.5)."""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Callable
from typing import TypeVar

E = TypeVar("E", bound=enum.IntEnum)
T = TypeVar("T")

#: Exceptions a compiled construct parse may raise on bad input (STYLE.md 3.5 rule 5). Made on
#: first access (module ``__getattr__``): the fast paths that never parse a schema import no construct.
SCHEMA_ERRORS: tuple[type[Exception], ...]


def __getattr__(name: str) -> object:
    """Make :data:`SCHEMA_ERRORS` (importing construct) on first access.

    Raises:
        AttributeError: ``name`` is not :data:`SCHEMA_ERRORS`.
    """
    if name != "SCHEMA_ERRORS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from construct import ConstructError

    errors: tuple[type[Exception], ...] = (ConstructError, struct.error, UnicodeDecodeError, ValueError)
    errors += (IndexError, KeyError, TypeError, OverflowError)
    globals()[name] = errors
    return errors


def enum_or_int(enum_type: type[E], value: int) -> E | int:
    """Return ``enum_type(value)``, or the plain ``int`` when it is not a member.

    Unknown is not malformed: a well-formed but unassigned code decodes to ``int``.
    """
    try:
        return enum_type(value)
    except ValueError:
        return value


def enum_table(enum_type: type[E], size: int) -> tuple[E | int, ...]:
    """Precompute :func:`enum_or_int` for ``0..size-1`` (a fast lookup for hot paths)."""
    return tuple(enum_or_int(enum_type, i) for i in range(size))


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """Return ``make(*fields)`` building a slotted dataclass without ``__init__``.

    For decoders whose values are valid by construction (masked bit fields,
    ``struct`` ranges): it skips ``__post_init__`` validation and the frozen
    ``__setattr__`` detour, which together cost about 1 µs per object. The
    differential tests prove the results equal to validated construction.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    setters = {f"_s{i}": getattr(cls, name).__set__ for i, name in enumerate(names)}
    args = ", ".join(names)
    body = "".join(f"    _s{i}(o, {name})\n" for i, name in enumerate(names))
    source = f"def make({args}):\n    o = _new(_cls)\n{body}    return o\n"
    namespace: dict[str, object] = {"_new": object.__new__, "_cls": cls, **setters}
    exec(source, namespace)
    return namespace["make"]  # type: ignore[return-value]
