"""Argument checks of the IMB clients; the generic ones are in :mod:`otwire.clients._checks`."""

from __future__ import annotations

from typing import Any

from otwire.clients._checks import check_int, check_seconds, check_str, type_name
from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = ["check_client_args", "check_port", "check_readable", "check_stream_args"]


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
        raise InvalidArgumentType(f"stream must have a read(size) method, got {type_name(value)}")
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
        raise InvalidArgumentType(f"chunk_size must be an int, got {type_name(chunk_size)}")
    if not 1 <= chunk_size <= max_chunk_size:
        raise InvalidArgument(f"chunk_size={chunk_size!r} not in 1..{max_chunk_size}")
