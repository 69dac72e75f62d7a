"""Argument checks at the public boundary of both IMB clients (``errors.py``: nothing outside the tree escapes).

Each check returns the value (normalised where useful) or raises
:class:`~otwire.errors.InvalidArgumentType` (also a ``TypeError``) for a wrong type and
:class:`~otwire.errors.InvalidArgument` (also a ``ValueError``) for a value out of range.
Ranges the wire imposes (int32 fields, payload lengths) stay the codec's ``EncodeError``.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = ["check_bytes", "check_int", "check_port", "check_readable", "check_seconds", "check_str"]

#: Longest wait accepted (seconds): what ``threading`` and asyncio can arm.
MAX_SECONDS = min(threading.TIMEOUT_MAX, 10.0**9)


def _type_name(value: object) -> str:
    return type(value).__name__


def check_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int``.

    Raises:
        InvalidArgumentType: ``value`` is not an int (``bool`` is one, as in Python).
    """
    if not isinstance(value, int):
        raise InvalidArgumentType(f"{name} must be an int, got {_type_name(value)}")
    return int(value)


def check_str(name: str, value: Any, *, optional: bool = False) -> Any:
    """Return ``value``, a ``str`` (or ``None`` when ``optional``).

    Raises:
        InvalidArgumentType: ``value`` is not a ``str``.
    """
    if not (isinstance(value, str) or (optional and value is None)):
        raise InvalidArgumentType(f"{name} must be a str{' or None' if optional else ''}, got {_type_name(value)}")
    return value


def check_bytes(name: str, value: Any) -> bytes:
    """Return ``value`` (bytes, bytearray or memoryview) as ``bytes``.

    Raises:
        InvalidArgumentType: ``value`` is not bytes-like (a ``str`` is not: encode it first).
    """
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgumentType(f"{name} must be bytes, got {_type_name(value)}")
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
        raise InvalidArgumentType(f"{name} must be a number of seconds, got {_type_name(value)}")
    if math.isnan(value) or value < 0 or (positive and value == 0) or value > MAX_SECONDS:
        low = "> 0" if positive else ">= 0"
        raise InvalidArgument(f"{name}={value!r} must be {low} and <= {MAX_SECONDS:g} seconds")
    return float(value)


def check_port(value: Any) -> int:
    """Return a TCP port to connect to.

    Raises:
        InvalidArgumentType: ``value`` is not an int.
        InvalidArgument: ``value`` is not in 1..65535.
    """
    port = check_int("port", value)
    if isinstance(value, bool) or not 1 <= port <= 65535:
        raise InvalidArgument(f"port={value!r} not in 1..65535")
    return port


def check_readable(value: Any) -> Any:
    """Return ``value`` when it has a callable ``read`` (a binary file-like object).

    Raises:
        InvalidArgumentType: it has none.
    """
    if not callable(getattr(value, "read", None)):
        raise InvalidArgumentType(f"stream must have a read(size) method, got {_type_name(value)}")
    return value


def check_client_args(
    host: Any, port: Any, owner_id: Any, owner_name: Any, federation: Any, timeout: Any, send_timeout: Any
) -> None:
    """Check the constructor arguments both clients share (see ``Client``).

    Raises:
        InvalidArgumentType: an argument has the wrong type.
        InvalidArgument: ``port`` is not in 1..65535, or a timeout is not positive.
    """
    check_str("host", host)
    check_port(port)
    if owner_id is not None:
        check_int("owner_id", owner_id)
    check_str("owner_name", owner_name, optional=True)
    check_str("federation", federation, optional=True)
    check_seconds("timeout", timeout, positive=True)
    check_seconds("send_timeout", send_timeout, positive=True)


def check_stream_args(name: Any, stream: Any, chunk_size: Any, max_chunk_size: int) -> None:
    """Check the arguments of ``signal_stream`` before anything is sent.

    Raises:
        InvalidArgumentType: ``name`` is not a str, ``stream`` has no ``read``, ``chunk_size`` is not an int.
        InvalidArgument: ``chunk_size`` is not in 1..``max_chunk_size``.
    """
    check_str("name", name)
    check_readable(stream)
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool):
        raise InvalidArgumentType(f"chunk_size must be an int, got {_type_name(chunk_size)}")
    if not 1 <= chunk_size <= max_chunk_size:
        raise InvalidArgument(f"chunk_size={chunk_size!r} not in 1..{max_chunk_size}")
