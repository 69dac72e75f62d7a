"""Sans-IO TCP/IP layer of ``otwire inspect``: frames to segments, segments to streams.

:func:`decode_frame` extracts the TCP segment from one captured link-layer frame,
taking the payload length from the IP header (never from the frame length, which
may include Ethernet padding).

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

import struct
from bisect import insort
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple, TypeAlias

#: TCP header flag bits (RFC 9293, section 3.1).
FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10

#: Link types :func:`decode_frame` understands: NULL, Ethernet, raw IP (12, 14, 101),
#: LOOP, Linux cooked v1, raw IPv4, raw IPv6, Linux cooked v2.
LINKTYPES: Final = frozenset({0, 1, 12, 14, 101, 108, 113, 228, 229, 276})
_VLAN_TYPES: Final = frozenset({0x8100, 0x88A8, 0x9100})
_IP_TYPES: Final = frozenset({b"\x08\x00", b"\x86\xdd"})
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


class Segment(NamedTuple):
    """One TCP segment, as found in a frame.

    Attributes:
        src: Source address, packed (4 octets for IPv4, 16 for IPv6).
        sport: Source port.
        dst: Destination address, packed.
        dport: Destination port.
        seq: Sequence number (32-bit).
        flags: The TCP flags octet.
        payload: The captured payload octets.
        length: Payload length in octets per the IP header; more than
            ``len(payload)`` when the capture cut the packet short.
    """

    src: bytes
    sport: int
    dst: bytes
    dport: int
    seq: int
    flags: int
    payload: bytes
    length: int


def decode_frame(
    linktype: int, frame: bytes, ports: Collection[int], skipped: Counter[int] | None = None
) -> Segment | str | None:
    """Extract the TCP segment from a captured frame.

    Args:
        linktype: The capture's link type, one of :data:`LINKTYPES`.
        frame: The captured octets of the frame.
        ports: Keep only segments from or to one of these TCP ports.
        skipped: If given, counts each TCP segment skipped for its ports under the
            lower of its two ports (most often the server's).

    Returns:
        The segment; a one-line warning when the frame is an IP packet whose
        headers are broken, or a fragmented TCP segment for ``ports``; ``None``
        for anything else (not IP, not TCP, other ports, later IP fragments).
    """
    if linktype == 1 and frame[12:15] == b"\x08\x00\x45" and len(frame) >= 54:
        seg = _fast_ipv4_tcp(frame, ports, skipped)
        if seg is not _GENERAL:
            return seg
    off = _network_offset(linktype, frame)
    if off is None or len(frame) <= off:
        return None
    version = frame[off] >> 4
    if version == 4:
        ip = _ipv4(frame, off)
    elif version == 6:
        ip = _ipv6(frame, off)
    else:
        return None
    if ip is None or isinstance(ip, str):
        return ip
    src, dst, t, end, fragment = ip
    if len(frame) < t + 4:
        return "truncated TCP header"
    sport, dport = struct.unpack_from("!HH", frame, t)
    if sport not in ports and dport not in ports:
        if skipped is not None:
            skipped[min(sport, dport)] += 1
        return None
    if fragment:
        return "fragmented IP packet skipped (no IP reassembly)"
    if end - t < 20:
        return f"TCP segment of {end - t} octets is shorter than its header"
    if len(frame) < t + 20:
        return "truncated TCP header"
    seq, _ack, off_flags = struct.unpack_from("!IIH", frame, t + 4)
    doff = (off_flags >> 12) * 4
    if doff < 20 or t + doff > end:
        return f"bad TCP data offset {doff}"
    return Segment(src, sport, dst, dport, seq, off_flags & 0xFF, frame[t + doff : end], end - t - doff)


#: The fields of Ethernet II + IPv4 without options + TCP read by :func:`_fast_ipv4_tcp`, from
#: octet 16: total length, fragment field, protocol, addresses, ports, sequence number, data offset and flags.
_FAST: Final = struct.Struct("!H2xH1xB2x4s4sHHI4xH")
#: :func:`_fast_ipv4_tcp` leaves the frame to the general path.
_GENERAL: Final = "general"


def _fast_ipv4_tcp(frame: bytes, ports: Collection[int], skipped: Counter[int] | None) -> Segment | str | None:
    """Decode the common case, an untagged Ethernet II frame with IPv4 (no options) and TCP.

    Returns :data:`_GENERAL` for anything else (fragments, IP options, truncation, a bad
    length or data offset): the general path decodes those. Equal to dpkt's parse where it
    answers (``tests/inspect/test_tcp_fastpath.py``).
    """
    total, frag, proto, src, dst, sport, dport, seq, off_flags = _FAST.unpack_from(frame, 16)
    if proto != 6 or frag & 0x3FFF or total < 40 or 14 + total > len(frame):
        return _GENERAL
    if sport not in ports and dport not in ports:
        if skipped is not None:
            skipped[min(sport, dport)] += 1
        return None
    doff = (off_flags >> 12) * 4
    if doff < 20 or doff > total - 20:
        return _GENERAL
    return Segment(src, sport, dst, dport, seq, off_flags & 0xFF, frame[34 + doff : 14 + total], total - 20 - doff)


def _network_offset(linktype: int, frame: bytes) -> int | None:
    """Return where the IP header starts, or ``None`` for a non-IP frame."""
    if linktype == 1:  # Ethernet, possibly VLAN-tagged
        off = 12
        while frame[off : off + 2] and int.from_bytes(frame[off : off + 2], "big") in _VLAN_TYPES:
            off += 4
        return off + 2 if frame[off : off + 2] in _IP_TYPES else None
    if linktype == 113:  # Linux cooked v1: protocol after a 14-octet header
        return 16 if frame[14:16] in _IP_TYPES else None
    if linktype == 276:  # Linux cooked v2: protocol first, 20-octet header
        return 20 if frame[0:2] in _IP_TYPES else None
    if linktype in (0, 108):  # BSD loopback: 4-octet family, then IP
        return 4
    return 0  # raw IP


def _ipv4(frame: bytes, o: int) -> tuple[bytes, bytes, int, int, bool] | str | None:
    """Return (src, dst, TCP offset, TCP end, fragmented) of a TCP/IPv4 packet."""
    if len(frame) < o + 20:
        return "truncated IPv4 header"
    vihl, _tos, total, _ident, frag, _ttl, proto = struct.unpack_from("!BBHHHBB", frame, o)
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        return f"bad IPv4 header length {ihl}"
    if proto != 6 or frag & 0x1FFF:  # not TCP, or a fragment without the TCP header
        return None
    if total == 0:  # segmentation offload: the length was never filled in
        total = len(frame) - o
    if total < ihl:
        return f"bad IPv4 total length {total}"
    if len(frame) < o + ihl:
        return "truncated IPv4 header"
    return frame[o + 12 : o + 16], frame[o + 16 : o + 20], o + ihl, o + total, bool(frag & 0x2000)


def _ipv6(frame: bytes, o: int) -> tuple[bytes, bytes, int, int, bool] | str | None:
    """Return (src, dst, TCP offset, TCP end, fragmented) of a TCP/IPv6 packet."""
    if len(frame) < o + 40:
        return "truncated IPv6 header"
    length = int.from_bytes(frame[o + 4 : o + 6], "big")
    nh, p = frame[o + 6], o + 40
    end = p + length if length else len(frame)  # 0: jumbogram or offload
    fragment = False
    while nh != 6:
        if len(frame) < p + 8:
            return None if nh == 59 else "truncated IPv6 extension header"
        if nh in (0, 43, 60):  # hop-by-hop, routing, destination options
            size = (frame[p + 1] + 1) * 8
        elif nh == 51:  # authentication header
            size = (frame[p + 1] + 2) * 4
        elif nh == 44:  # fragment header
            offset_flags = int.from_bytes(frame[p + 2 : p + 4], "big")
            if offset_flags & 0xFFF8:
                return None
            fragment, size = bool(offset_flags & 1), 8
        else:
            return None
        nh, p = frame[p], p + size
        if p > end:
            return "bad IPv6 extension header length"
    return frame[o + 8 : o + 24], frame[o + 24 : o + 40], p, end, fragment
