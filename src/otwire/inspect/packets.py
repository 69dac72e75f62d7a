"""Captures as a stream of link-layer packets: stdin (``otwire inspect -``), live capture, ``-w``.

A file read by path goes through :func:`otwire.inspect.dissect.dissect`. A pipe cannot be
sniffed and rewound, and a live interface is no file at all, so these are read here as
:class:`Packet` objects, in one pass and without seeking (dpkt reads pcap and pcapng
sequentially), and dissected by :func:`packet_rows` with the same reassembly and
dissectors. Every packet passes through here whole, so ``-w`` can write the packets of
the records a filter kept (:mod:`otwire.inspect.pcapout`).
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Final

import dpkt

from otwire.inspect.capture import CaptureError, CaptureStats, CaptureWarning, packet_capture_kind
from otwire.inspect.dissect import Row, _Streams, check_ports, stream_rows, traffic_notice
from otwire.inspect.flows import FlowTable
from otwire.inspect.tcp import LINKTYPES

__all__ = ["Packet", "packet_rows", "read_packets"]

_READER_ERRORS: Final = (
    dpkt.Error,
    ValueError,
    struct.error,
    IndexError,
    TypeError,
    OverflowError,
    EOFError,
    zlib.error,
)


@dataclass(frozen=True, slots=True)
class Packet:
    """One captured link-layer frame.

    Attributes:
        number: 1-based packet number in the capture.
        timestamp: Capture time, in seconds since the epoch.
        linktype: pcap link type (``LINKTYPE_*``, e.g. 1 for Ethernet).
        frame: The frame's octets as captured.
    """

    number: int
    timestamp: float
    linktype: int
    frame: bytes


class _Replay:
    """A read-only file giving back octets already read (the sniffed magic) before the rest."""

    def __init__(self, head: bytes, rest: IO[bytes], name: str) -> None:
        self._head = head
        self._rest = rest
        self.name = name

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size < 0:
            data, self._head = self._head + self._rest.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data


def read_packets(stream: IO[bytes], name: str = "-") -> Iterator[Packet | CaptureWarning]:
    """Read a pcap or pcapng capture from a stream, in one pass, without seeking.

    The header is read at once (so a bad stream fails before any output); packets are
    then read as they arrive (a pipe from ``tcpdump -U -w -`` is dissected live).

    Args:
        stream: A binary stream (``sys.stdin.buffer``, a pipe, an open file).
        name: Its name in messages.

    Returns:
        The packets, and a last :class:`CaptureWarning` if the capture is truncated or corrupt.

    Raises:
        CaptureError: The stream is empty, not pcap or pcapng, or of an unsupported link type.
    """
    head = stream.read(4)
    kind = packet_capture_kind(head)
    if kind == "pcap":
        factory: Any = dpkt.pcap.Reader
    elif kind == "pcapng":
        factory = dpkt.pcapng.Reader
    else:
        what = "empty" if not head else "not a pcap or pcapng capture (needed for stdin, -w and live capture)"
        raise CaptureError(f"{name}: {what}")
    try:
        reader = factory(_Replay(head, stream, name))
        linktype = int(reader.datalink()) & 0xFFFF
    except _READER_ERRORS as exc:
        raise CaptureError(f"{name}: not a readable capture ({exc})") from exc
    if linktype not in LINKTYPES:
        raise CaptureError(f"{name}: unsupported link type {linktype}")
    return _packets(iter(reader), linktype)


def _packets(reader: Iterator[tuple[float, bytes]], linktype: int) -> Iterator[Packet | CaptureWarning]:
    number = 0
    while True:
        try:
            stamp, frame = next(reader)
        except StopIteration:
            return
        except _READER_ERRORS as exc:
            yield CaptureWarning(None, number + 1, f"capture truncated or corrupt ({exc})")
            return
        number += 1
        yield Packet(number, float(stamp), linktype, bytes(frame))


def packet_rows(
    packets: Iterable[Packet | CaptureWarning],
    ports: Mapping[int, str],
    *,
    name: str = "-",
    stats: CaptureStats | None = None,
) -> Iterator[Row]:
    """Dissect packets as they come: the rows :func:`otwire.inspect.dissect.dissect` gives for a file.

    Args:
        packets: Packets in capture order (and warnings, passed on as ``warning`` rows).
        ports: Server port -> protocol name.
        name: The capture's name, for the last ``notice`` when nothing was decoded.
        stats: Filled in while reading.

    Raises:
        InvalidArgument: A protocol name is unknown, or a port is not in 1..65535.
        InvalidArgumentType: ``ports`` is not a mapping of int ports.
    """
    check_ports(ports)
    stats = stats or CaptureStats()
    kinds: Counter[str] = Counter()
    records = _records(packets, FlowTable(frozenset(ports), stats), stats)
    yield from stream_rows(records, _Streams(ports, "", per_record=False), kinds)
    if not kinds["apdu"]:
        yield Row("notice", None, None, message=f"{name}: {traffic_notice(ports, stats, kinds)}")


def _records(packets: Iterable[Packet | CaptureWarning], tracker: FlowTable, stats: CaptureStats) -> Iterator[Any]:
    """The capture records of ``packets`` (warnings passed on), as ``read_capture`` gives them for a file."""
    number, ts = 0, 0.0
    for packet in packets:
        if isinstance(packet, CaptureWarning):
            yield packet
            continue
        number, ts = packet.number, packet.timestamp
        stats.packets = number
        yield from tracker.packet(packet.linktype, packet.frame, ts, number)
    yield from tracker.finish(ts, number)
