"""Read a capture file as reassembled, per-direction TCP byte streams.

:func:`read_capture` recognises the file by its content, not its name
(:func:`capture_kind` tells which kind it found):

* pcap (either byte order, micro- or nanosecond timestamps) and pcapng, read with
  dpkt. Link types: Ethernet (with 802.1Q/802.1ad tags), Linux cooked capture v1
  and v2, raw IPv4/IPv6, BSD loopback (NULL and LOOP). IPv4 and IPv6, TCP only.
  The TCP payload length comes from the IP header, so Ethernet padding after a
  short segment is never taken for payload. In a pcapng file every packet is
  decoded with the link type of the first interface (dpkt reads only that one).
* hex dump text: one frame per line, hex digits with optional spaces or colons;
  ``#`` starts a comment; blank lines are ignored. Each line is one :class:`Data`.
* anything else: a raw stream, the whole file is one stream.

Any of these may be gzip-compressed (recognised by the gzip magic, not the ``.gz`` name).

Flow orientation: the *server* is the endpoint whose port is in ``ports``. When
both ports are listed, the lower port number is the server; when both ports are
equal, the endpoint with the lower address (IPv4 before IPv6, then by octets) is.
The rule depends only on the packet, never on what was captured first.

Records come in capture order. :class:`StreamStart` announces a connection before
its first record, on its first SYN or payload; a SYN with a new initial sequence
number, or new payload after both sides closed, starts a new stream on the same
:class:`Flow` (the consumer must reset its state). At the end of the capture the
octets still waiting behind a hole are delivered after a :class:`Gap`; a
connection still open then gets no :class:`StreamEnd`.
"""

from __future__ import annotations

import os
import socket
import struct
from collections import OrderedDict
from collections.abc import Collection, Iterator
from typing import Any, Final, Literal, TypeAlias

import dpkt

from otwire.inspect.files import Source, Truncated, is_hex_text, read_hex, read_raw
from otwire.inspect.records import (  # re-exported: the public names of this module
    CaptureError,
    CaptureKind,
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
    LINKTYPES,
    RST,
    SYN,
    Closed,
    Delivered,
    Duplicate,
    Event,
    Missing,
    Restart,
    Segment,
    TCPReassembler,
    decode_frame,
)

__all__ = [
    "CaptureError",
    "CaptureKind",
    "CaptureStats",
    "CaptureWarning",
    "Data",
    "Flow",
    "FlowEvicted",
    "Gap",
    "Record",
    "Retransmission",
    "Sender",
    "StreamEnd",
    "StreamStart",
    "capture_kind",
    "capture_size",
    "read_capture",
]

#: First four octets of a pcap file, read big-endian (micro, nano, modified).
_PCAP_MAGICS: Final = {0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34, 0xD4C3B2A1, 0x4D3CB2A1, 0x34CDB2A1}
_PCAP_BIG_ENDIAN: Final = {0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34}
_PCAPNG_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
#: Longest plausible pcap/pcapng record, in octets; longer ones are corruption.
_MAX_RECORD: Final = 1 << 24
#: Closed connections remembered (to recognise late retransmissions).
_MAX_CLOSED: Final = 1024


def capture_size(path: str | os.PathLike[str]) -> int:
    """Return the size of a capture file, for a progress bar.

    Args:
        path: The capture file.

    Returns:
        The file size in octets.

    Raises:
        CaptureError: The file does not exist or cannot be examined.
    """
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise CaptureError(f"cannot read {os.fsdecode(path)}: {exc.strerror or exc}") from exc


def capture_kind(path: str | os.PathLike[str]) -> CaptureKind:
    """Return the kind of a capture file, judged by its content, never its name.

    Args:
        path: The capture file.

    Returns:
        ``"pcap"`` or ``"pcapng"`` by magic number, ``"hex"`` for ASCII text whose
        every line is hex, blank or a comment, else ``"raw"`` (judged after
        decompression for a gzip file).

    Raises:
        CaptureError: The file does not exist or cannot be read.
    """
    with Source(path) as source:
        return _sniff(source)


def read_capture(
    path: str | os.PathLike[str], ports: Collection[int], *, stats: CaptureStats | None = None
) -> Iterator[Record]:
    """Read a capture file as reassembled TCP streams (see the module docstring).

    The file kind is detected and a pcap/pcapng header checked at once; the
    records are then streamed, packet by packet: memory stays bounded by the
    out-of-order buffers (64 segments or 1 MiB per direction) and the table of
    open connections.

    Args:
        path: A pcap, pcapng, hex dump or raw stream file (a regular file), gzip-compressed or not.
        ports: TCP ports of the servers to follow; other segments are skipped.
            Ignored for hex dumps and raw streams.
        stats: Filled in while the records are read (packets, other ports, progress).

    Returns:
        An iterator of records in capture order.

    Raises:
        CaptureError: The file is missing or unreadable, or has a pcap/pcapng
            magic number but dpkt cannot parse its header, or its link type is
            not supported. Problems inside the capture (truncation, corrupt
            compressed data) are yielded as :class:`CaptureWarning` records instead.
    """
    with Source(path) as source:
        kind = _sniff(source)
        if kind == "pcap" or kind == "pcapng":
            _open_reader(_TrackedFile(source), kind, source.name)
    return _read(path, kind, frozenset(ports), stats or CaptureStats())


def _read(
    path: str | os.PathLike[str], kind: CaptureKind, ports: frozenset[int], stats: CaptureStats
) -> Iterator[Record]:
    with Source(path) as source:
        if kind == "hex":
            yield from read_hex(source, stats)
        elif kind == "raw":
            yield from read_raw(source, stats)
        else:
            yield from _read_packets(source, kind, ports, stats)


def _sniff(source: Source) -> CaptureKind:
    """Return the kind of the open file, leaving it at its start."""
    try:
        head = source.read(4)
    except Truncated as exc:
        raise CaptureError(f"{source.name}: {exc}") from exc
    source.rewind()
    if len(head) == 4 and int.from_bytes(head, "big") in _PCAP_MAGICS:
        return "pcap"
    if head == _PCAPNG_MAGIC:
        return "pcapng"
    is_hex = is_hex_text(source)
    source.rewind()
    return "hex" if is_hex else "raw"


class _CorruptRecord(Exception):
    """A pcap/pcapng record claims an implausible length."""


class _TrackedFile:
    """File wrapper for dpkt that notices short reads and rejects absurd lengths."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self.name = source.name
        self.got = 0  # octets returned by the last read
        self.missing = 0  # octets the last read came short of

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > _MAX_RECORD:
            raise _CorruptRecord(f"record length {size} is implausible")
        try:
            data = self._source.read(size)
        except Truncated as exc:
            raise _CorruptRecord(str(exc)) from exc
        self.got = len(data)
        self.missing = size - len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise _CorruptRecord("only rewinding is supported")
        self._source.rewind()
        return 0


_READER_ERRORS: Final = (
    dpkt.Error,
    ValueError,
    struct.error,
    IndexError,
    TypeError,
    OverflowError,
    _CorruptRecord,
)


def _open_reader(f: _TrackedFile, kind: CaptureKind, name: str) -> tuple[Any, int]:
    """Return a dpkt reader positioned at the first packet, and the link type."""
    try:
        if kind == "pcap":
            head = f.read(24)
            if len(head) < 24:
                raise CaptureError(f"{name}: truncated pcap file header")
            magic = int.from_bytes(head[:4], "big")
            order: Literal["big", "little"] = "big" if magic in _PCAP_BIG_ENDIAN else "little"
            major = int.from_bytes(head[4:6], order)
            if major != 2:
                raise CaptureError(f"{name}: not a pcap file (version {major})")
            f.seek(0)
            reader: Any = dpkt.pcap.Reader(f)
        else:
            reader = dpkt.pcapng.Reader(f)
        linktype = int(reader.datalink()) & 0xFFFF
    except _READER_ERRORS as exc:
        raise CaptureError(f"{name}: not a readable {kind} file ({exc})") from exc
    except OSError as exc:
        raise CaptureError(f"cannot read {name}: {exc.strerror or exc}") from exc
    if linktype not in LINKTYPES:
        raise CaptureError(f"{name}: unsupported {kind} link type {linktype}")
    return reader, linktype


def _read_packets(source: Source, kind: CaptureKind, ports: frozenset[int], stats: CaptureStats) -> Iterator[Record]:
    f = _TrackedFile(source)
    reader, linktype = _open_reader(f, kind, source.name)
    packets = iter(reader)
    tracker = _Tracker(ports, stats)
    number, ts = 0, 0.0
    trailer: CaptureWarning | None = None
    while trailer is None:
        try:
            stamp, frame = next(packets)
        except StopIteration:
            if f.missing and f.got:
                message = f"capture truncated: {f.got} octets of an incomplete record"
                trailer = CaptureWarning(None, number + 1, message)
            break
        except _READER_ERRORS as exc:
            trailer = CaptureWarning(None, number + 1, f"capture truncated or corrupt ({exc})")
            break
        except OSError as exc:
            raise CaptureError(f"cannot read {source.name}: {exc.strerror or exc}") from exc
        number, ts = number + 1, float(stamp)
        stats.packets = number
        if not number % 256:
            stats.advance(source.position)
        records = tracker.packet(linktype, bytes(frame), ts, number)
        if records:
            yield from records
        if f.missing:
            message = f"capture truncated: the last packet lacks {f.missing} octets"
            trailer = CaptureWarning(ts, number, message)
    yield from tracker.finish(ts, number)
    stats.advance(source.position)
    if trailer is not None:
        yield trailer


_Key: TypeAlias = tuple[bytes, int, bytes, int]  # client, client port, server, server port


class _Conn:
    """Both directions of one TCP connection."""

    __slots__ = ("announced", "flow", "sides")

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.announced = False
        self.sides = {s: TCPReassembler() for s in Sender}

    @property
    def started(self) -> bool:
        return any(side.started for side in self.sides.values())

    @property
    def closed(self) -> bool:
        sides = self.sides.values()
        return any(s.closed for s in sides) and all(s.closed or not s.started for s in sides)


class _Tracker:
    """Flow table: orients segments and feeds them to their reassemblers."""

    def __init__(self, ports: frozenset[int], stats: CaptureStats) -> None:
        self._ports = ports
        self._stats = stats
        self._conns: dict[_Key, _Conn] = {}
        self._closed: OrderedDict[_Key, None] = OrderedDict()

    def packet(self, linktype: int, frame: bytes, ts: float, number: int) -> list[Record]:
        """Return the records one captured frame produces."""
        seg = decode_frame(linktype, frame, self._ports, self._stats.other_ports)
        if seg is None:
            return []
        if isinstance(seg, str):
            return [CaptureWarning(ts, number, seg)]
        self._stats.segments += 1
        out: list[Record] = []
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

    def _segment(self, key: _Key, sender: Sender, seg: Segment, ts: float, n: int, out: list[Record]) -> None:
        conn = self._conns.get(key)
        if conn is None:
            flow = Flow(_address(key[0]), key[1], _address(key[2]), key[3])
            conn = self._conns[key] = _Conn(flow)
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
            self._closed[key] = None
            self._closed.move_to_end(key)
            while len(self._closed) > _MAX_CLOSED:
                old, _ = self._closed.popitem(last=False)
                if self._conns[old].closed:
                    del self._conns[old]
        if not conn.announced:
            if not (seg.flags & SYN or seg.length):
                return  # a connection is announced by its first SYN or payload
            conn.announced = True
            out.append(StreamStart(conn.flow, ts, n))
        _records(events, conn.flow, sender, ts, n, out)
        _records(others, conn.flow, opposite, ts, n, out)

    def _restart(self, key: _Key, conn: _Conn, ts: float, n: int, out: list[Record]) -> _Conn:
        """Flush the old connection on ``key`` and return a fresh one."""
        if conn.announced:
            for sender, side in conn.sides.items():
                _records(side.flush(), conn.flow, sender, ts, n, out)
        fresh = self._conns[key] = _Conn(conn.flow)
        self._closed.pop(key, None)
        return fresh


def _records(events: list[Event], flow: Flow, sender: Sender, ts: float, n: int, out: list[Record]) -> None:
    """Append the records for reassembler ``events`` to ``out``."""
    for event in events:
        if isinstance(event, Delivered):
            out.append(Data(flow, sender, ts, event.data, n))
        elif isinstance(event, Missing):
            out.append(Gap(flow, sender, ts, event.count, n))
        elif isinstance(event, Duplicate):
            out.append(Retransmission(flow, sender, ts, event.length, n))
        elif isinstance(event, Closed):
            out.append(StreamEnd(flow, sender, ts, n, event.reason))


def _address(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


def _orient(seg: Segment, ports: frozenset[int]) -> tuple[_Key, Sender]:
    """Return the flow key (client first) and sender of a segment (module docstring)."""
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
