"""Sans-IO TCP/IP layer of ``otwire inspect``: frames to segments, segments to streams.

:func:`decode_frame` (from :mod:`otwire.inspect.frames`, re-exported here) extracts the
TCP segment from one captured link-layer frame, taking the payload length from the IP
header (never from the frame length, which may include Ethernet padding).

:class:`TCPReassembler` is fed the segments one side sent, in capture order, as
``(seq, flags, payload)``, and answers with events: octets delivered in sequence
order, octets that will never arrive, retransmitted octets, the end of the
direction, or the news that the segment belongs to a new connection.

Sequence numbers are unwrapped against the next expected octet (the nearest
value modulo 2**32 wins), so a stream may cross the 32-bit wraparound any number
of times. Out-of-order segments wait in a bounded buffer; when it overflows, the
reassembler stops waiting, reports the missing octets and continues from the
next buffered segment, so a consumer can resynchronise.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from otwire.inspect.frames import LINKTYPES, Segment, decode_frame  # re-exported

__all__ = [
    "ACK",
    "FIN",
    "LINKTYPES",
    "RST",
    "SYN",
    "Closed",
    "Delivered",
    "Duplicate",
    "Event",
    "Missing",
    "Restart",
    "Segment",
    "TCPReassembler",
    "decode_frame",
]

#: TCP header flag bits (RFC 9293, section 3.1).
FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10

_MASK: Final = 0xFFFF_FFFF
_HALF: Final = 1 << 31
_MOD: Final = 1 << 32


@dataclass(frozen=True, slots=True)
class Delivered:
    """New octets, in sequence order, directly after the previous ones.

    Attributes:
        data: The octets (never empty).
    """

    data: bytes


@dataclass(frozen=True, slots=True)
class Missing:
    """Octets that will never arrive; the next :class:`Delivered` follows a hole.

    Attributes:
        count: Number of missing octets (at least 1).
    """

    count: int


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Octets received again (an exact or partially overlapping retransmission).

    Attributes:
        length: Number of repeated octets that were dropped (at least 1).
    """

    length: int


@dataclass(frozen=True, slots=True)
class Closed:
    """The direction ended; nothing more is delivered.

    Attributes:
        reason: ``"fin"`` (every octet up to the FIN was accounted for) or ``"rst"``.
    """

    reason: Literal["fin", "rst"]


@dataclass(frozen=True, slots=True)
class Restart:
    """The segment belongs to a new connection; it was not consumed.

    The caller should start a fresh reassembler (for both directions) and feed the
    segment to it. Always the only event of its :meth:`TCPReassembler.feed` call.

    Attributes:
        cause: ``"syn"`` for a SYN with a new initial sequence number, ``"data"``
            for new octets after the direction was closed.
    """

    cause: Literal["syn", "data"]


#: Everything :meth:`TCPReassembler.feed` may answer.
Event: TypeAlias = Delivered | Missing | Duplicate | Closed | Restart


class TCPReassembler:
    """Reassemble the octets one side of a TCP connection sent.

    The first segment fixes the stream start: a SYN's sequence number plus one,
    or, when the SYN was not captured, the first segment's sequence number (octets
    before it are then reported as retransmissions).

    Args:
        max_segments: Out-of-order segments buffered before giving up on a hole.
        max_octets: Out-of-order octets buffered before giving up on a hole.
    """

    __slots__ = (
        "_closed",
        "_fin",
        "_isn",
        "_next",
        "_pending",
        "_pending_octets",
        "_starts",
        "max_octets",
        "max_segments",
    )

    def __init__(self, *, max_segments: int = 64, max_octets: int = 1 << 20) -> None:
        self.max_segments = max_segments
        self.max_octets = max_octets
        self._isn: int | None = None  # sequence number of the SYN, 32-bit
        self._next: int | None = None  # unwrapped sequence number of the next octet
        self._fin: int | None = None  # unwrapped sequence number of the FIN
        self._closed = False
        self._pending: dict[int, bytes] = {}  # unwrapped start -> octets
        self._starts: list[int] = []  # sorted keys of _pending
        self._pending_octets = 0

    @property
    def started(self) -> bool:
        """Whether any segment fixed the stream start yet."""
        return self._next is not None

    @property
    def closed(self) -> bool:
        """Whether the direction ended (FIN reached, RST, or :meth:`abort`)."""
        return self._closed

    @property
    def isn(self) -> int | None:
        """The initial sequence number (from the SYN), or ``None`` if no SYN was seen."""
        return self._isn

    @property
    def buffered(self) -> int:
        """Out-of-order octets waiting for a hole to be filled."""
        return self._pending_octets

    def feed(self, seq: int, flags: int, payload: bytes, length: int | None = None) -> list[Event]:
        """Process one segment sent by this side.

        Args:
            seq: The segment's 32-bit sequence number.
            flags: The TCP flags octet (see :data:`FIN`, :data:`SYN`, :data:`RST`).
            payload: The captured payload octets.
            length: The payload length per the IP header when the capture holds
                fewer octets than were sent (snaplen); the rest is reported missing.

        Returns:
            The events, in order.
        """
        seq &= _MASK
        at = self._next
        if (  # the common case: the next in-order segment, nothing buffered, no SYN/FIN/RST
            at is not None
            and not flags & (SYN | FIN | RST)
            and seq == at & _MASK
            and not self._starts
            and self._fin is None
            and not self._closed
            and (length is None or length == len(payload))
        ):
            if not payload:
                return []
            self._next = at + len(payload)
            return [Delivered(payload)]
        if flags & SYN:
            if (self._next is not None or self._closed) and seq != self._isn:
                return [Restart("syn")]
            if self._next is None:
                self._isn = seq
                self._next = seq + 1
            seq = (seq + 1) & _MASK
        elif self._next is None:
            self._next = seq
        start = self._unwrap(seq)
        if self._closed:
            if len(payload) and start + len(payload) > self._at():
                return [Restart("data")]
            return [Duplicate(len(payload))] if payload else []
        if flags & RST:
            return self.abort()
        events: list[Event] = []
        if payload:
            self._accept(start, payload, events)
        if length is not None and length > len(payload):
            self._lose_tail(start + len(payload), start + length, events)
        if flags & FIN and self._fin is None:
            self._fin = start + (length if length is not None else len(payload))
        self._check_fin(events)
        return events

    def in_order(self, seq: int, size: int) -> bool:
        """Take a plain segment on the fast lane, if it is the next in order and nothing waits.

        A plain segment has no SYN, FIN or RST and all its ``size`` payload octets were
        captured. When it starts at the next expected octet, no out-of-order octets are
        buffered and no FIN was seen, it is taken (its octets are the next ones
        delivered) and this returns ``True``: what :meth:`feed` would answer is
        ``[Delivered(payload)]``, or ``[]`` for an empty one. Otherwise nothing changes
        and this returns ``False``: call :meth:`feed`.

        Args:
            seq: The segment's 32-bit sequence number.
            size: Its payload length in octets.
        """
        at = self._next
        if at is None or seq != at & _MASK or self._starts or self._fin is not None or self._closed:
            return False
        self._next = at + size
        return True

    def flush(self) -> list[Event]:
        """Give up on every hole: deliver the buffered octets (end of the capture).

        A FIN already seen closes the direction, after reporting the octets
        missing before it.

        Returns:
            The events, in order.
        """
        events: list[Event] = []
        if self._closed or self._next is None:
            return events
        while self._starts:
            self._skip_hole(events)
        if self._fin is not None and self._fin > self._next:
            events.append(Missing(self._fin - self._next))
            self._next = self._fin
        self._check_fin(events)
        return events

    def abort(self) -> list[Event]:
        """Close the direction as by a RST, delivering the buffered octets first.

        Returns:
            The events, in order; empty if the direction was already closed.
        """
        events: list[Event] = []
        if self._closed:
            return events
        if self._next is not None:
            while self._starts:
                self._skip_hole(events)
        self._closed = True
        events.append(Closed("rst"))
        return events

    def _at(self) -> int:
        assert self._next is not None
        return self._next

    def _unwrap(self, seq: int) -> int:
        """Map a 32-bit ``seq`` to the unwrapped value nearest the next octet."""
        at = self._at()
        diff = (seq - at) & _MASK
        if diff >= _HALF:
            diff -= _MOD
        return at + diff

    def _new_part(self, start: int, data: bytes, events: list[Event]) -> bytes:
        """Return the octets of ``data`` (at ``start``) not yet delivered; report the rest as a duplicate."""
        at = self._at()
        if start + len(data) <= at:
            events.append(Duplicate(len(data)))
            return b""
        if start < at:
            events.append(Duplicate(at - start))
            return data[at - start :]
        return data

    def _accept(self, start: int, data: bytes, events: list[Event]) -> None:
        end = start + len(data)
        fresh = self._new_part(start, data, events)
        if not fresh:
            return
        if len(fresh) < len(data) or start == self._at():
            _deliver(events, fresh)
            self._next = end
            self._drain(events)
            return
        old = self._pending.get(start)
        if old is not None:
            if len(old) >= len(data):
                events.append(Duplicate(len(data)))
                return
            events.append(Duplicate(len(old)))
            self._pending_octets -= len(old)
        else:
            insort(self._starts, start)
        self._pending[start] = data
        self._pending_octets += len(data)
        while len(self._starts) > self.max_segments or self._pending_octets > self.max_octets:
            self._skip_hole(events)

    def _lose_tail(self, cut: int, end: int, events: list[Event]) -> None:
        """Report the uncaptured octets ``cut..end`` of a segment, if they are next."""
        at = self._at()
        if cut <= at < end:
            stop = min(end, self._starts[0]) if self._starts else end
            if stop > at:
                events.append(Missing(stop - at))
                self._next = stop
                self._drain(events)

    def _skip_hole(self, events: list[Event]) -> None:
        """Stop waiting for the octets before the first buffered segment."""
        first = self._starts[0]
        if first > self._at():
            events.append(Missing(first - self._at()))
            self._next = first
        self._drain(events)

    def _drain(self, events: list[Event]) -> None:
        """Deliver the buffered segments that now start at or before the next octet."""
        while self._starts and self._starts[0] <= self._at():
            first = self._starts.pop(0)
            data = self._pending.pop(first)
            self._pending_octets -= len(data)
            fresh = self._new_part(first, data, events)
            if fresh:
                _deliver(events, fresh)
                self._next = first + len(data)

    def _check_fin(self, events: list[Event]) -> None:
        if self._fin is not None and not self._closed and self._at() >= self._fin:
            self._closed = True
            self._pending.clear()
            self._starts.clear()
            self._pending_octets = 0
            events.append(Closed("fin"))


def _deliver(events: list[Event], data: bytes) -> None:
    """Append ``data``, merging it into a directly preceding :class:`Delivered`."""
    if events and isinstance(events[-1], Delivered):
        events[-1] = Delivered(events[-1].data + data)
    else:
        events.append(Delivered(data))
