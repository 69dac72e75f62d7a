"""A :class:`~otwire.protocols.PeerEngine` made of one single-connection engine per peer.

Servers whose peers never talk to each other (the IEC 104 outstation: one
:class:`~otwire.protocols.iec104.IEC104Connection` per client) run on the generic server
driver through :class:`ConnectionPeers`: it builds an engine per peer with a factory and
routes every tagged input to that engine. There is no routing between peers.

What the single-connection contract does not say, the adapter measures or is told:

* ``frames_received``: a per-peer frame counter built by ``frame_counter`` (a callable
  returning the number of frames each received chunk completes); without one, every
  non-empty chunk counts as one frame.
* ``is_established``: ``established(engine)`` if given, else "at least one frame received".
* ``queued``: ``queued(engine)`` octets held inside the engine (e.g. behind a send
  window); ``data_to_send`` output is drained by the driver after every input.
* ``buffered``: ``buffered(engine)`` octets received and held by the engine (its
  unframed input); 0 without one.
* ``abort(peer, now, reason)``: the engine is closed (``close(now)``), its output dropped,
  and the ``ConnectionTerminated`` it reports carries ``reason`` instead of ``LOCAL_CLOSE``.

A peer is forgotten once it is closed, its ``ConnectionTerminated`` was taken from
:meth:`ConnectionPeers.next_event` and its last octets from :meth:`ConnectionPeers.data_to_send`.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any, Generic, TypeVar

from otwire.errors import LocalProtocolError
from otwire.protocols import Buffer, Connection, ConnectionTerminated, Event, TerminationReason

__all__ = ["ConnectionPeers", "FrameCounter"]

PeerT = TypeVar("PeerT", bound=Hashable)
ConnT = TypeVar("ConnT", bound=Connection)

#: Returns how many frames one received chunk completes (state kept between calls).
FrameCounter = Callable[[Buffer], int]


def _chunks_as_frames(data: Buffer) -> int:
    return 1 if data else 0


class _Slot(Generic[ConnT]):
    __slots__ = ("abort_reason", "count", "engine", "frames", "name", "reported_end", "timer", "timer_seq")

    def __init__(self, engine: ConnT, name: str, count: FrameCounter) -> None:
        self.engine = engine
        self.name = name
        self.count = count
        self.frames = 0
        self.abort_reason: TerminationReason | None = None
        self.reported_end = False
        self.timer: float | None = None  # engine.get_timer() when last read (see ConnectionPeers.get_timer)
        self.timer_seq = -1  # its entry in the timer heap


class ConnectionPeers(Generic[PeerT, ConnT]):
    """Many peers, one engine each: the :class:`~otwire.protocols.PeerEngine` contract.

    Args:
        factory: ``factory(peer, now, name)`` builds the engine of a new peer.
        frame_counter: Builds one :data:`FrameCounter` per peer (``None``: a chunk is a frame).
        established: True once a peer's engine completed the opening exchange.
        queued: Octets held inside a peer's engine and not yet in ``data_to_send``.
        buffered: Octets received and held by a peer's engine (unframed input).
    """

    def __init__(
        self,
        factory: Callable[[PeerT, float, str], ConnT],
        *,
        frame_counter: Callable[[], FrameCounter] | None = None,
        established: Callable[[ConnT], bool] | None = None,
        queued: Callable[[ConnT], int] | None = None,
        buffered: Callable[[ConnT], int] | None = None,
    ) -> None:
        self._factory = factory
        self._frame_counter = frame_counter
        self._established = established
        self._queued = queued
        self._buffered = buffered
        self._slots: dict[PeerT, _Slot[ConnT]] = {}
        self._event_peers: deque[PeerT] = deque()
        self._event_pending: set[PeerT] = set()
        self._touched: dict[PeerT, None] = {}
        # get_timer without a pass over every peer: the timers of the peers touched since the
        # last call are re-read; a heap of (deadline, seq, peer) holds them, stale entries are
        # skipped lazily and the heap is rebuilt when they outnumber the peers.
        self._timer_dirty: dict[PeerT, None] = {}
        self._timer_heap: list[tuple[float, int, PeerT]] = []
        self._timer_seq = itertools.count()

    # -- access to one peer ----------------------------------------------------------------

    def connection(self, peer: PeerT) -> ConnT:
        """Return ``peer``'s engine.

        Raises:
            LocalProtocolError: ``peer`` is unknown (never connected or forgotten).
        """
        slot = self._slots.get(peer)
        if slot is None:
            raise LocalProtocolError(f"unknown peer {peer!r}")
        return slot.engine

    def __contains__(self, peer: object) -> bool:
        return peer in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    # -- inputs ------------------------------------------------------------------------------

    def connect(self, peer: PeerT, now: float, *, name: str = "") -> None:
        """Build ``peer``'s engine (its greeting, if any, is queued).

        Raises:
            LocalProtocolError: ``peer`` is already connected.
        """
        if peer in self._slots:
            raise LocalProtocolError(f"peer {peer!r} is already connected")
        count = self._frame_counter() if self._frame_counter is not None else _chunks_as_frames
        self._slots[peer] = _Slot(self._factory(peer, now, name), name, count)
        self._touch(peer)

    def receive_data(self, peer: PeerT, data: Buffer, now: float) -> None:
        """Feed ``peer``'s engine; ``b""`` is its end of stream.

        Raises:
            RemoteProtocolError: ``peer`` broke the protocol (that peer is closed, no other).
            LocalProtocolError: ``peer`` is unknown or closed.
        """
        slot = self._open_slot(peer, "receive data")
        self._touch(peer)
        if data:
            slot.frames += slot.count(data)
        slot.engine.receive_data(data, now)

    def send(self, peer: PeerT, message: Any, now: float) -> None:
        """Give ``message`` to ``peer``'s engine (``send(message, now)``).

        Raises:
            LocalProtocolError: ``peer`` is unknown or closed, or its engine refused the message.
        """
        slot = self._open_slot(peer, "send")
        self._touch(peer)
        slot.engine.send(message, now)

    def connection_lost(self, peer: PeerT, now: float, exc: BaseException | None = None) -> None:
        """Report that ``peer``'s transport failed (nothing when closed or unknown)."""
        slot = self._slots.get(peer)
        if slot is None or slot.engine.is_closed:
            return
        self._touch(peer)
        slot.engine.connection_lost(now, exc)

    def close(self, peer: PeerT, now: float) -> None:
        """Close ``peer``'s engine locally (its goodbye is queued); nothing when closed or unknown."""
        slot = self._slots.get(peer)
        if slot is not None and not slot.engine.is_closed:
            self._touch(peer)
            slot.engine.close(now)

    def abort(self, peer: PeerT, now: float, reason: TerminationReason) -> None:
        """Close ``peer`` at once for a driver limit: its output is dropped, its end says ``reason``."""
        slot = self._slots.get(peer)
        if slot is None or slot.engine.is_closed:
            return
        slot.abort_reason = reason
        self._touch(peer)
        slot.engine.close(now)
        slot.engine.data_to_send()

    def handle_timer(self, now: float) -> None:
        """Run the timers of every peer due at ``now``."""
        for peer, slot in list(self._slots.items()):
            engine = slot.engine
            if not engine.is_closed and (when := engine.get_timer()) is not None and when <= now:
                self._touch(peer)
                engine.handle_timer(now)

    # -- outputs -----------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """Return the earliest deadline over every open peer, or ``None``.

        Only the peers touched since the last call are asked (an engine's timer changes only
        on an input), so the cost per input does not grow with the number of peers.
        """
        slots, heap = self._slots, self._timer_heap
        for peer in self._timer_dirty:
            slot = slots.get(peer)
            if slot is None:
                continue
            when = None if slot.engine.is_closed else slot.engine.get_timer()
            if when != slot.timer:
                slot.timer, slot.timer_seq = when, next(self._timer_seq)
                if when is not None:
                    heapq.heappush(heap, (when, slot.timer_seq, peer))
        self._timer_dirty.clear()
        if len(heap) > 2 * len(slots) + 64:
            heap[:] = [entry for entry in heap if self._timer_valid(entry[2], entry[1])]
            heapq.heapify(heap)
        while heap:
            when, seq, peer = heap[0]
            if self._timer_valid(peer, seq):
                return when
            heapq.heappop(heap)
        return None

    def _timer_valid(self, peer: PeerT, seq: int) -> bool:
        slot = self._slots.get(peer)
        return slot is not None and slot.timer_seq == seq and not slot.engine.is_closed

    def next_event(self) -> tuple[PeerT, Event] | None:
        """Return the next ``(peer, event)``, or ``None``."""
        while self._event_peers:
            peer = self._event_peers[0]
            slot = self._slots.get(peer)
            event = slot.engine.next_event() if slot is not None else None
            if event is None:
                self._event_peers.popleft()
                self._event_pending.discard(peer)
                if slot is not None and slot.engine.is_closed:
                    slot.reported_end = True  # its last event was taken
                continue
            assert slot is not None
            if slot.abort_reason is not None and isinstance(event, ConnectionTerminated):
                event = replace(event, reason=slot.abort_reason)
            return peer, event
        return None

    def peers_with_output(self) -> list[PeerT]:
        """Return (and forget) the peers that got input, output or closed since the last call."""
        touched = list(self._touched)
        self._touched.clear()
        return touched

    def data_to_send(self, peer: PeerT) -> bytes:
        """Return and clear ``peer``'s octets (none after an abort); forget a finished peer."""
        slot = self._slots.get(peer)
        if slot is None:
            return b""
        data = slot.engine.data_to_send()
        if slot.engine.is_closed:
            if slot.abort_reason is not None:
                data = b""
            if slot.reported_end:
                del self._slots[peer]
        return data

    def is_closed(self, peer: PeerT) -> bool:
        """True once ``peer`` is closed, or unknown."""
        slot = self._slots.get(peer)
        return slot is None or slot.engine.is_closed

    def frames_received(self, peer: PeerT) -> int:
        """Complete frames received from ``peer`` (see the module docstring)."""
        slot = self._slots.get(peer)
        return 0 if slot is None else slot.frames

    def is_established(self, peer: PeerT) -> bool:
        """True once ``peer`` completed the opening exchange (see the module docstring)."""
        slot = self._slots.get(peer)
        if slot is None:
            return False
        if self._established is not None:
            return self._established(slot.engine)
        return slot.frames > 0

    def queued(self, peer: PeerT) -> int:
        """Octets held inside ``peer``'s engine (0 without a ``queued`` callable)."""
        slot = self._slots.get(peer)
        if slot is None or self._queued is None or slot.engine.is_closed:
            return 0
        return self._queued(slot.engine)

    def buffered(self, peer: PeerT) -> int:
        """Octets received from ``peer`` and held by its engine (0 without a ``buffered`` callable)."""
        slot = self._slots.get(peer)
        if slot is None or self._buffered is None or slot.engine.is_closed:
            return 0
        return self._buffered(slot.engine)

    def peers(self) -> list[PeerT]:
        """Every known peer, in connection order."""
        return list(self._slots)

    # -- helpers -----------------------------------------------------------------------------

    def _open_slot(self, peer: PeerT, verb: str) -> _Slot[ConnT]:
        slot = self._slots.get(peer)
        if slot is None:
            raise LocalProtocolError(f"can't {verb}: unknown peer {peer!r}")
        if slot.engine.is_closed:
            raise LocalProtocolError(f"can't {verb} in state CLOSED")
        return slot

    def _touch(self, peer: PeerT) -> None:
        self._touched[peer] = None
        self._timer_dirty[peer] = None
        if peer not in self._event_pending:
            self._event_pending.add(peer)
            self._event_peers.append(peer)
