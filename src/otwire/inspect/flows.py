"""The flow table of the capture reader: orients TCP segments, reassembles them, forgets flows.

:class:`FlowTable` is fed captured frames in order and answers with the records of
:func:`~otwire.inspect.capture.read_capture`. Memory stays flat over any number of flows:
a flow is evicted (its buffered octets delivered, then a
:class:`~otwire.inspect.records.FlowEvicted` record) when

* it closed (FIN or RST on both sides) and :data:`MAX_CLOSED` flows closed after it
  (closed flows are remembered a while to recognise late retransmissions);
* no segment came for :data:`IDLE_SECONDS` of capture time (checked every
  :data:`SWEEP_PACKETS` packets, and at least every 4096 new flows);
* the table holds :data:`MAX_LIVE_FLOWS` flows and a new one starts: the least
  recently active goes.

What is counted about flows (:attr:`CaptureStats.flows`, ``peak_live_flows``) is kept.
"""

from __future__ import annotations

import socket
import struct
from collections import OrderedDict
from typing import Final, Literal, TypeAlias

from otwire.codecs._base import fast_constructor
from otwire.inspect.frames import Segment, decode_frame
from otwire.inspect.records import (
    SENDERS,
    CaptureStats,
    CaptureWarning,
    Data,
    Flow,
    FlowEvicted,
    Gap,
    Record,
    Retransmission,
    Sender,
    StreamEnd,
    StreamStart,
)
from otwire.inspect.tcp import (
    ACK,
    FIN,
    RST,
    SYN,
    Closed,
    Delivered,
    Duplicate,
    Event,
    Missing,
    Restart,
    TCPReassembler,
)

#: Closed connections remembered (to recognise late retransmissions) before they are evicted.
MAX_CLOSED: Final = 1024
#: Capture seconds without a segment after which a flow is evicted.
IDLE_SECONDS: Final = 600.0
#: Flows held at most; the least recently active one is evicted to make room.
MAX_LIVE_FLOWS: Final = 1 << 16
#: Packets between two checks for idle flows.
SWEEP_PACKETS: Final = 256

#: ``Data(flow, sender, timestamp, data, packet_number)`` without the frozen dataclass's checks (one per segment).
_make_data = fast_constructor(Data)
#: The senders, read once (an enum member lookup costs a call per packet).
_CLIENT: Final = Sender.CLIENT
_SERVER: Final = Sender.SERVER
#: TCP flags that keep a segment off the fast lane.
_NOT_PLAIN: Final = SYN | FIN | RST
#: The fields of a :class:`Data` record as a tuple: ``(flow, sender, timestamp, data, packet_number)``.
PlainData: TypeAlias = tuple[Flow, Sender, float, bytes, int]
_Key: TypeAlias = tuple[bytes, int, bytes, int]  # client, client port, server, server port
_Reason: TypeAlias = Literal["closed", "idle", "full"]
#: The fast lane of one direction of an announced flow: its key, connection, reassembler and sender.
_Lane: TypeAlias = "tuple[_Key, _Conn, TCPReassembler, Sender]"
#: From octet 16 of an Ethernet II + IPv4 frame: total length, fragment field, protocol, sequence
#: number, data offset and flags (the fields of ``frames.ETH_IPV4_TCP`` but the addresses and ports).
_LANE: Final = struct.Struct("!H2xH1xB14xI4xH")
#: From octet 26: the addresses and ports.
_ENDPOINTS: Final = struct.Struct("!4s4sHH")


class _Conn:
    """Both directions of one TCP connection."""

    __slots__ = ("announced", "flow", "last", "sides")

    def __init__(self, flow: Flow, ts: float) -> None:
        self.flow = flow
        self.announced = False
        self.last = ts  # capture time of the last segment
        self.sides = {s: TCPReassembler() for s in SENDERS}

    @property
    def started(self) -> bool:
        return any(side.started for side in self.sides.values())

    @property
    def closed(self) -> bool:
        sides = self.sides.values()
        return any(s.closed for s in sides) and all(s.closed or not s.started for s in sides)


class FlowTable:
    """Orient segments, feed them to their reassemblers and evict flows (module docstring).

    The common packet (an untagged Ethernet II frame with IPv4 without options, carrying
    the next in-order octets of an announced flow, nothing buffered, no SYN, FIN or RST)
    takes a fast lane: one ``struct`` read, the flow's direction looked up by the frame's
    address and port octets (remembered until a flow is added, replaced or evicted) and its
    octets delivered, skipping the general decoding and reassembly;
    ``tests/inspect/test_flows_fastlane.py`` proves the records equal with and without it.

    Args:
        ports: TCP ports of the servers to follow.
        stats: Counts packets' segments, flows and the table's size.
        fast_lane: Take the fast lane (``False``: the general path only, for the differential test).
        plain: The fast lane answers a :class:`PlainData` tuple instead of a :class:`Data` record
            (for a consumer that reads the fields once and builds no record: ``dissect``).
    """

    def __init__(
        self, ports: frozenset[int], stats: CaptureStats, *, fast_lane: bool = True, plain: bool = False
    ) -> None:
        self._ports = ports
        self._stats = stats
        self._fast_lane = fast_lane
        self._plain = plain
        self._conns: OrderedDict[_Key, _Conn] = OrderedDict()  # least recently active first
        self._closed: OrderedDict[_Key, None] = OrderedDict()
        self._until_sweep = SWEEP_PACKETS
        #: Addresses and ports octets (IPv4 header octets 12..23) -> the lane of an announced flow's
        #: direction; forgotten whenever a flow is added, replaced or evicted.
        self._lanes: dict[bytes, _Lane] = {}

    def packet(self, linktype: int, frame: bytes, ts: float, number: int) -> list[Record] | list[PlainData]:
        """Return the records one captured frame produces (the fast lane, else :meth:`_general`)."""
        self._until_sweep -= 1
        if self._until_sweep and linktype == 1 and frame[12:15] == b"\x08\x00\x45" and len(frame) >= 54:
            total, frag, proto, seq, off_flags = _LANE.unpack_from(frame, 16)
            doff = off_flags >> 10 & 0x3C
            if (
                proto == 6
                and not frag & 0x3FFF
                and not off_flags & _NOT_PLAIN
                and 20 <= doff <= total - 20
                and 14 + total <= len(frame)
                and self._fast_lane
            ):
                lane = self._lanes.get(frame[26:38]) or self._lane(frame)
                size = total - 20 - doff
                if lane is not None and lane[2].in_order(seq, size):
                    key, conn, _, sender = lane
                    conn.last = ts
                    self._conns.move_to_end(key)
                    self._stats.segments += 1
                    if not size:
                        return []
                    if self._plain:
                        return [(conn.flow, sender, ts, frame[34 + doff : 14 + total], number)]
                    data: Record = _make_data(conn.flow, sender, ts, frame[34 + doff : 14 + total], number)
                    return [data]
        return self._general(linktype, frame, ts, number)

    def _lane(self, frame: bytes) -> _Lane | None:
        """The lane of a plain frame's announced flow and direction (remembered), or ``None``."""
        src, dst, sport, dport = _ENDPOINTS.unpack_from(frame, 26)
        ports = self._ports
        if sport in ports:
            key, sender = (dst, dport, src, sport), _SERVER
            conn = None if dport in ports else self._conns.get(key)
        else:
            key, sender = (src, sport, dst, dport), _CLIENT
            conn = self._conns.get(key) if dport in ports else None
        if conn is None or not conn.announced:
            return None
        if len(self._lanes) >= 2 * MAX_LIVE_FLOWS:
            self._lanes.clear()
        lane = self._lanes[frame[26:38]] = (key, conn, conn.sides[sender], sender)
        return lane

    def _general(self, linktype: int, frame: bytes, ts: float, number: int) -> list[Record]:
        """The records of a frame, decoded and reassembled in full (no fast lane)."""
        out: list[Record] = []
        if not self._until_sweep:
            self._until_sweep = SWEEP_PACKETS
            self._sweep(ts, number, out)
        seg = decode_frame(linktype, frame, self._ports, self._stats.other_ports)
        if seg is None:
            return out
        if isinstance(seg, str):
            out.append(CaptureWarning(ts, number, seg))
            return out
        self._stats.segments += 1
        key, sender = _orient(seg, self._ports)
        self._segment(key, sender, seg, ts, number, out)
        if seg.length > len(seg.payload):
            message = f"only {len(seg.payload)} of {seg.length} payload octets captured"
            out.append(CaptureWarning(ts, number, message))
        return out

    def finish(self, ts: float, number: int) -> list[Record]:
        """Return the records of the octets still buffered at the end of the capture."""
        out: list[Record] = []
        for conn in self._conns.values():
            if conn.announced:
                for sender, side in conn.sides.items():
                    _records(side.flush(), conn.flow, sender, ts, number, out)
        return out

    def _sweep(self, ts: float, number: int, out: list[Record]) -> None:
        """Evict the flows idle for :data:`IDLE_SECONDS`."""
        conns = self._conns
        while conns:
            key, conn = next(iter(conns.items()))
            if ts - conn.last < IDLE_SECONDS:
                break
            self._evict(key, "closed" if conn.closed else "idle", ts, number, out)

    def _evict(self, key: _Key, reason: _Reason, ts: float, n: int, out: list[Record]) -> None:
        """Forget a flow: deliver what it buffered, then say so (if it was ever announced)."""
        conn = self._conns.pop(key)
        self._lanes.clear()
        self._closed.pop(key, None)
        self._stats.live_flows = len(self._conns)
        if conn.announced:
            for sender, side in conn.sides.items():
                _records(side.flush(), conn.flow, sender, ts, n, out)
            out.append(FlowEvicted(conn.flow, ts, n, reason))

    def _new(self, key: _Key, ts: float, n: int, out: list[Record]) -> _Conn:
        """Add a flow to the table, evicting the least recently active one when it is full."""
        if len(self._conns) >= MAX_LIVE_FLOWS:
            self._sweep(ts, n, out)
            while len(self._conns) >= MAX_LIVE_FLOWS:
                oldest = next(iter(self._conns))
                self._evict(oldest, "closed" if self._conns[oldest].closed else "full", ts, n, out)
        flow = Flow(_address(key[0]), key[1], _address(key[2]), key[3])
        conn = self._conns[key] = _Conn(flow, ts)
        self._lanes.clear()
        stats = self._stats
        stats.live_flows = len(self._conns)
        stats.peak_live_flows = max(stats.peak_live_flows, stats.live_flows)
        return conn

    def _segment(self, key: _Key, sender: Sender, seg: Segment, ts: float, n: int, out: list[Record]) -> None:
        conn = self._conns.get(key)
        if conn is None:
            conn = self._new(key, ts, n, out)
        else:
            conn.last = ts
            self._conns.move_to_end(key)
        opposite = sender.receiver
        syn_only = seg.flags & (SYN | ACK) == SYN
        if syn_only and conn.started and conn.sides[sender].isn != seg.seq:  # a new connection
            conn = self._restart(key, conn, ts, n, out)
        events = conn.sides[sender].feed(seg.seq, seg.flags, seg.payload, seg.length)
        if events and isinstance(events[0], Restart):
            other = conn.sides[opposite]
            if events[0].cause == "data" and other.started and not other.closed:
                out.append(CaptureWarning(ts, n, f"{seg.length} octets after FIN ignored"))
                return
            conn = self._restart(key, conn, ts, n, out)
            events = conn.sides[sender].feed(seg.seq, seg.flags, seg.payload, seg.length)
        others = conn.sides[opposite].abort() if seg.flags & RST else []
        if (others or (events and isinstance(events[-1], Closed))) and conn.closed:
            self._remember_closed(key, ts, n, out)
        if not conn.announced:
            if not (seg.flags & SYN or seg.length):
                return  # a connection is announced by its first SYN or payload
            conn.announced = True
            self._stats.flows += 1
            out.append(StreamStart(conn.flow, ts, n))
        if events:
            _records(events, conn.flow, sender, ts, n, out)
        if others:
            _records(others, conn.flow, opposite, ts, n, out)

    def _remember_closed(self, key: _Key, ts: float, n: int, out: list[Record]) -> None:
        """Keep a closed flow among the last :data:`MAX_CLOSED`; evict the oldest beyond them."""
        self._closed[key] = None
        self._closed.move_to_end(key)
        while len(self._closed) > MAX_CLOSED:
            old, _ = self._closed.popitem(last=False)
            if old in self._conns and self._conns[old].closed:
                self._evict(old, "closed", ts, n, out)

    def _restart(self, key: _Key, conn: _Conn, ts: float, n: int, out: list[Record]) -> _Conn:
        """Flush the old connection on ``key`` and return a fresh one."""
        if conn.announced:
            for sender, side in conn.sides.items():
                _records(side.flush(), conn.flow, sender, ts, n, out)
        fresh = self._conns[key] = _Conn(conn.flow, ts)
        self._lanes.clear()
        self._closed.pop(key, None)
        return fresh


def _records(events: list[Event], flow: Flow, sender: Sender, ts: float, n: int, out: list[Record]) -> None:
    """Append the records for reassembler ``events`` to ``out``."""
    for event in events:
        kind = type(event)
        if kind is Delivered:
            out.append(_make_data(flow, sender, ts, event.data, n))  # type: ignore[union-attr]
        elif kind is Missing:
            out.append(Gap(flow, sender, ts, event.count, n))  # type: ignore[union-attr]
        elif kind is Duplicate:
            out.append(Retransmission(flow, sender, ts, event.length, n))  # type: ignore[union-attr]
        elif kind is Closed:
            out.append(StreamEnd(flow, sender, ts, n, event.reason))  # type: ignore[union-attr]


def _address(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


def _orient(seg: Segment, ports: frozenset[int]) -> tuple[_Key, Sender]:
    """Return the flow key (client first) and sender of a segment (see :mod:`otwire.inspect.capture`)."""
    src_listed, dst_listed = seg.sport in ports, seg.dport in ports
    if src_listed and dst_listed:
        if seg.sport != seg.dport:
            server_is_src = seg.sport < seg.dport
        else:
            server_is_src = (len(seg.src), seg.src) < (len(seg.dst), seg.dst)
    else:
        server_is_src = src_listed
    if server_is_src:
        return (seg.dst, seg.dport, seg.src, seg.sport), Sender.SERVER
    return (seg.src, seg.sport, seg.dst, seg.dport), Sender.CLIENT
