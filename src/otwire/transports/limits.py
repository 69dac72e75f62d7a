"""The limits every otwire server enforces, on by default (``specs/pattern.md``, "Servers").

One :class:`ServerLimits` is given to a server (``limits=``) and enforced by the shared
asyncio server driver (:mod:`otwire.transports.aio_server`), whatever the protocol; it lives
in the transport layer so that the driver does not import upwards, and
:mod:`otwire.servers.limits` re-exports it. A peer that breaks a limit is disconnected
with one logged line; the others never notice. ``otwire serve`` has an option for each
field (``--max-connections``, ``--max-per-address``, ``--handshake-timeout``,
``--idle-timeout``, ``--frame-timeout``, ``--max-output``, ``--memory-budget``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = ["MIB", "ServerLimits"]

#: One mebibyte, octets.
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """Connection, time and memory limits of one server.

    Raises:
        InvalidArgument: a count below 1, a time not positive or not finite, or a size below 64 KiB.
        InvalidArgumentType: a field that is not a number (``bool`` is not one here).
    """

    max_connections: int = 1000
    """Most connections at once; further ones are refused at accept (closed at once, logged once)."""
    max_per_address: int = 64
    """Most connections at once from one remote IP address."""
    handshake_timeout: float = 30.0
    """Seconds a new connection has to complete the protocol's opening exchange."""
    idle_timeout: float | None = None
    """Seconds without one complete frame from the peer before it is closed (``None``: never)."""
    frame_timeout: float = 30.0
    """Seconds a frame that has begun arriving may take to complete: a byte trickle cannot keep a
    connection alive."""
    max_output_bytes: int = 16 * MIB
    """Most octets queued for one connection (engine and socket buffers); over it: slow consumer."""
    memory_budget: int = 256 * MIB
    """Most octets queued over all connections; over it the connection holding most is dropped."""

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_per_address"):
            value = _int(self, name)
            if value < 1:
                raise InvalidArgument(f"{name}={value!r} must be an int >= 1")
        for name in ("handshake_timeout", "idle_timeout", "frame_timeout"):
            value = getattr(self, name)
            if value is None and name == "idle_timeout":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidArgumentType(f"{name}={value!r} must be a number of seconds")
            if not (math.isfinite(value) and value > 0):
                raise InvalidArgument(f"{name}={value!r} must be a positive, finite number of seconds")
        for name in ("max_output_bytes", "memory_budget"):
            value = _int(self, name)
            if value < 64 * 1024:
                raise InvalidArgument(f"{name}={value!r} must be an int >= 65536 (octets)")
        if self.memory_budget < self.max_output_bytes:
            raise InvalidArgument(
                f"memory_budget={self.memory_budget} is below max_output_bytes={self.max_output_bytes}"
            )


def _int(limits: ServerLimits, name: str) -> int:
    value = getattr(limits, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentType(f"{name}={value!r} must be an int")
    return value
