"""Sans-IO protocol engines: one contract for every protocol (STYLE.md 3.3).

Every engine (IEC 104 connection, IMB client and hub, ...) implements :class:`Connection`.
Transports in :mod:`otwire.transports` depend only on this contract, never on a protocol.

Rules of the contract:

1. Inputs take ``now`` (monotonic seconds, supplied by the caller): ``receive_data``,
   ``send``, ``close``, ``handle_timer``. Outputs are drains: ``next_event``,
   ``data_to_send``, ``get_timer``. After every input a driver drains events, flushes
   bytes and re-arms its timer.
2. Nothing here blocks, sleeps, reads a clock, starts a thread or touches a socket.
3. ``receive_data(b"")`` means end of stream (EOF), as ``socket.recv`` reports it.
4. Peer violations raise :class:`~otwire.errors.RemoteProtocolError` from
   ``receive_data`` only, after any goodbye bytes are queued and the engine is closed.
   Caller misuse raises :class:`~otwire.errors.LocalProtocolError`.
5. Once ``is_closed`` is true every input raises ``LocalProtocolError``; the drains
   still return what was queued before the close.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, runtime_checkable

__all__ = ["Buffer", "Connection", "Event"]

#: Octets accepted by ``receive_data``.
Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of every event an engine reports through ``next_event()``."""


@runtime_checkable
class Connection(Protocol):
    """The sans-IO contract every otwire protocol engine implements."""

    @property
    def state(self) -> Enum:
        """The lifecycle state (an enum member of the engine's own state type)."""
        ...

    @property
    def is_closed(self) -> bool:
        """True once the engine is closed: no input is accepted any more."""
        ...

    def receive_data(self, data: Buffer, now: float) -> None:
        """Feed received octets; ``b""`` is end of stream.

        Raises:
            RemoteProtocolError: the peer broke the protocol (the engine is closed).
            LocalProtocolError: the engine is already closed.
        """
        ...

    def send(self, message: Any, now: float) -> None:
        """Queue one protocol message for sending.

        Raises:
            LocalProtocolError: the message is invalid or not allowed in this state.
        """
        ...

    def close(self, now: float) -> None:
        """Close the connection locally (queues any goodbye bytes)."""
        ...

    def handle_timer(self, now: float) -> None:
        """Run the timers that are due at ``now``."""
        ...

    def next_event(self) -> Event | None:
        """Return the next queued event, or ``None`` when there is none."""
        ...

    def data_to_send(self) -> bytes:
        """Return and clear the queued outgoing octets."""
        ...

    def get_timer(self) -> float | None:
        """Return the earliest deadline (same clock as ``now``), or ``None``."""
        ...
