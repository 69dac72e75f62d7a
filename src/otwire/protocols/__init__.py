"""Sans-IO protocol engines: one contract for every protocol (STYLE.md 3.3).

Three shapes of the same contract, declared here as ``typing.Protocol`` classes;
transports and servers depend only on these, never on a protocol:

* :class:`Connection`: one byte-stream connection (IEC 104 connection, IMB client).
* :class:`MessageConnection`: one connection over a carrier that owns framing
  (gRPC messages, XMPP stanzas): ``receive_message``/``messages_to_send``.
* :class:`PeerEngine`: one engine serving many peers, where input from peer A can
  produce output for peer B (IMB hub, i3X server, XEP-0323 sensor).

Rules of the contract:

1. Inputs take ``now`` (monotonic seconds, supplied by the caller): ``receive_data``,
   ``send``, ``close``, ``connection_lost``, ``handle_timer``. Outputs are drains:
   ``next_event``, ``data_to_send``, ``get_timer``. After every input a driver drains
   events, flushes bytes and re-arms its timer.
2. Nothing here blocks, sleeps, reads a clock, starts a thread or touches a socket.
3. ``receive_data(b"")`` means end of stream (EOF, the peer closed in order);
   ``connection_lost(now, exc)`` means the transport failed. Events say which
   (``TerminationReason.PEER_CLOSED`` or ``CONNECTION_LOST``).
4. Peer violations raise :class:`~otwire.errors.RemoteProtocolError` from
   ``receive_data`` only, after any goodbye bytes are queued and the engine is closed.
   Caller misuse raises :class:`~otwire.errors.LocalProtocolError`.
5. Once ``is_closed`` is true every input raises ``LocalProtocolError`` (except
   ``close`` and ``connection_lost``, which do nothing); the drains still return what
   was queued before the close.

The shared parts (event queue, output buffer, table-driven lifecycle) are in
:mod:`otwire.protocols._base`; each protocol's only transition table is in its
``_state.py``.
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import Enum
from typing import Any, Protocol, TypeVar, runtime_checkable

from otwire.protocols._base import ConnectionTerminated, Event, TerminationReason

__all__ = [
    "Buffer",
    "Connection",
    "ConnectionTerminated",
    "Event",
    "MessageConnection",
    "PeerEngine",
    "TerminationReason",
]

#: Octets accepted by ``receive_data``.
Buffer = bytes | bytearray | memoryview

PeerT = TypeVar("PeerT", bound=Hashable)
MessageT = TypeVar("MessageT")


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

    def connection_lost(self, now: float, exc: BaseException | None = None) -> None:
        """Report that the transport failed; ends with ``CONNECTION_LOST`` (nothing when closed)."""
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


@runtime_checkable
class MessageConnection(Protocol[MessageT]):
    """The contract for carriers that own framing (STYLE.md 3.3 rule 9): messages, not octets."""

    @property
    def state(self) -> Enum:
        """The lifecycle state."""
        ...

    @property
    def is_closed(self) -> bool:
        """True once the engine is closed."""
        ...

    def receive_message(self, message: MessageT, now: float) -> None:
        """Feed one message from the peer.

        Raises:
            RemoteProtocolError: the message breaks the protocol (the engine is closed).
            LocalProtocolError: the engine is already closed.
        """
        ...

    def send(self, message: Any, now: float) -> None:
        """Queue one message (raises ``LocalProtocolError`` when not allowed)."""
        ...

    def close(self, now: float) -> None:
        """Close locally (queues any goodbye message)."""
        ...

    def connection_lost(self, now: float, exc: BaseException | None = None) -> None:
        """Report that the carrier failed; ends with ``CONNECTION_LOST``."""
        ...

    def handle_timer(self, now: float) -> None:
        """Run the timers that are due at ``now``."""
        ...

    def next_event(self) -> Event | None:
        """Return the next queued event, or ``None``."""
        ...

    def messages_to_send(self) -> list[MessageT]:
        """Return and clear the queued outgoing messages, oldest first."""
        ...

    def get_timer(self) -> float | None:
        """Return the earliest deadline (same clock as ``now``), or ``None``."""
        ...


@runtime_checkable
class PeerEngine(Protocol[PeerT]):
    """One engine serving many peers (STYLE.md 3.3 rule 10).

    The driver picks a hashable id per accepted connection and tags every input with
    it. Routing between peers happens inside the engine: a driver never writes into
    another peer's buffer, it asks :meth:`peers_with_output` whom to write to.
    """

    def connect(self, peer: PeerT, now: float, *, name: str = "") -> None:
        """Admit a new peer (its greeting, if any, is queued for it).

        Raises:
            LocalProtocolError: ``peer`` is already connected, or the engine refuses more peers.
        """
        ...

    def receive_data(self, peer: PeerT, data: Buffer, now: float) -> None:
        """Feed octets from ``peer``; ``b""`` is its end of stream.

        Raises:
            RemoteProtocolError: ``peer`` broke the protocol (that peer is closed, no other).
            LocalProtocolError: ``peer`` is unknown or closed.
        """
        ...

    def connection_lost(self, peer: PeerT, now: float, exc: BaseException | None = None) -> None:
        """Report that ``peer``'s transport failed (nothing when it is already closed or unknown)."""
        ...

    def close(self, peer: PeerT, now: float) -> None:
        """Close ``peer`` locally, queuing any goodbye (nothing when closed)."""
        ...

    def abort(self, peer: PeerT, now: float, reason: TerminationReason) -> None:
        """Close ``peer`` at once for a driver limit (idle, slow consumer, ...): its output is dropped."""
        ...

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now``."""
        ...

    def get_timer(self) -> float | None:
        """Return the earliest deadline over all peers, or ``None``."""
        ...

    def next_event(self) -> tuple[PeerT, Event] | None:
        """Return the next ``(peer, event)``, or ``None``."""
        ...

    def peers_with_output(self) -> list[PeerT]:
        """Return (and forget) the peers that got output or closed since the last call."""
        ...

    def data_to_send(self, peer: PeerT) -> bytes:
        """Return and clear the octets queued for ``peer``."""
        ...

    def is_closed(self, peer: PeerT) -> bool:
        """True once ``peer`` is closed (or unknown): its socket should be closed."""
        ...

    def frames_received(self, peer: PeerT) -> int:
        """Complete frames received from ``peer`` so far (drivers measure idleness with it)."""
        ...

    def is_established(self, peer: PeerT) -> bool:
        """True once ``peer`` completed the protocol's opening exchange (handshake deadline)."""
        ...

    def queued(self, peer: PeerT) -> int:
        """Octets queued for ``peer`` and not yet taken by ``data_to_send``."""
        ...

    def buffered(self, peer: PeerT) -> int:
        """Octets received from ``peer`` and still held: unfinished frames, reassembly buffers.

        Drivers count it with :meth:`queued` against their global memory budget (0 for an
        unknown or closed peer).
        """
        ...
