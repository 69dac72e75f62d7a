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
import struct
from collections.abc import Collection, Iterator
from typing import Any, Final, Literal

import dpkt

from otwire.inspect.files import (
    READ_ERRORS,
    CaptureInput,
    Source,
    Truncated,
    input_name,
    is_hex_text,
    read_hex,
    read_raw,
)
from otwire.inspect.flows import FlowTable, PlainData
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
from otwire.inspect.tcp import LINKTYPES

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
    "read_plain",
]

#: First four octets of a pcap file, read big-endian (micro, nano, modified).
_PCAP_MAGICS: Final = {0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34, 0xD4C3B2A1, 0x4D3CB2A1, 0x34CDB2A1}
_PCAP_BIG_ENDIAN: Final = {0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34}
_PCAPNG_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
#: Longest plausible pcap/pcapng record, in octets; longer ones are corruption.
_MAX_RECORD: Final = 1 << 24


def capture_size(path: CaptureInput) -> int:
    """Return the size of a capture file, for a progress bar.

    Args:
        path: The capture file, or a seekable binary file object.

    Returns:
        The file size in octets.

    Raises:
        CaptureError: The file does not exist or cannot be examined.
    """
    try:
        if isinstance(path, str | os.PathLike):
            return os.stat(path).st_size
        return path.seek(0, os.SEEK_END)
    except (OSError, ValueError) as exc:
        raise CaptureError(f"cannot read {input_name(path)}: {getattr(exc, 'strerror', None) or exc}") from exc


def capture_kind(path: CaptureInput) -> CaptureKind:
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


def read_capture(path: CaptureInput, ports: Collection[int], *, stats: CaptureStats | None = None) -> Iterator[Record]:
    """Read a capture file as reassembled TCP streams (see the module docstring).

    The file kind is detected and a pcap/pcapng header checked at once; the
    records are then streamed, packet by packet: memory stays bounded by the
    out-of-order buffers (64 segments or 1 MiB per direction) and the flow table,
    whose closed and idle flows are evicted (:mod:`otwire.inspect.flows`; a
    :class:`FlowEvicted` record follows their last octets).

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
    return _read(path, _checked_kind(path), frozenset(ports), stats or CaptureStats(), plain=False)  # type: ignore[return-value]


def read_plain(
    path: CaptureInput, ports: Collection[int], *, stats: CaptureStats | None = None
) -> Iterator[Record | PlainData]:
    """:func:`read_capture`, except that the fast lane's :class:`Data` records come as :data:`PlainData` tuples.

    For a consumer that reads a record's fields once (``dissect``): a tuple is built for a
    fraction of a frozen record's cost. Arguments, errors and every other record as
    :func:`read_capture`.
    """
    return _read(path, _checked_kind(path), frozenset(ports), stats or CaptureStats(), plain=True)


def _checked_kind(path: CaptureInput) -> CaptureKind:
    """The kind of a capture whose pcap/pcapng header, if any, was checked (errors as :func:`read_capture`)."""
    with Source(path) as source:
        kind = _sniff(source)
        if kind == "pcap" or kind == "pcapng":
            _open_reader(_TrackedFile(source), kind, source.name)
    return kind


def _read(
    path: CaptureInput, kind: CaptureKind, ports: frozenset[int], stats: CaptureStats, *, plain: bool
) -> Iterator[Record | PlainData]:
    if kind == "hex" or kind == "raw":
        return _read_file(path, kind, stats)
    return _read_packets(path, kind, FlowTable(ports, stats, plain=plain), stats)


def _read_file(path: CaptureInput, kind: CaptureKind, stats: CaptureStats) -> Iterator[Record]:
    """The records of a hex dump or raw stream file."""
    with Source(path) as source:
        yield from read_hex(source, stats) if kind == "hex" else read_raw(source, stats)


def packet_capture_kind(head: bytes) -> CaptureKind | None:
    """``"pcap"`` or ``"pcapng"`` for the first four octets of such a capture, else ``None``."""
    if len(head) == 4 and int.from_bytes(head, "big") in _PCAP_MAGICS:
        return "pcap"
    return "pcapng" if head == _PCAPNG_MAGIC else None


def _sniff(source: Source) -> CaptureKind:
    """Return the kind of the open file, leaving it at its start."""
    try:
        head = source.read(4)
    except Truncated as exc:
        raise CaptureError(f"{source.name}: {exc}") from exc
    source.rewind()
    kind = packet_capture_kind(head)
    if kind is not None:
        return kind
    is_hex = is_hex_text(source)
    source.rewind()
    return "hex" if is_hex else "raw"


class _CorruptRecord(Exception):
    """A pcap/pcapng record claims an implausible length."""


class _TrackedFile:
    """File wrapper for dpkt that notices short reads and rejects absurd lengths."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._read = source.file.read  # Source.read without its frame (two calls per packet)
        self.name = source.name
        self.got = 0  # octets returned by the short read (the last: only the end of a file reads short)
        self.missing = 0  # octets it came short of

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > _MAX_RECORD:
            raise _CorruptRecord(f"record length {size} is implausible")
        try:
            data = self._read(size)
        except READ_ERRORS as exc:
            error = self._source.read_error(exc)
            if isinstance(error, Truncated):
                raise _CorruptRecord(str(error)) from exc
            raise error from exc
        if len(data) < size:  # at the end of the file only: the last read tells
            self.got, self.missing = len(data), size - len(data)
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


def _open_reader(f: _TrackedFile, kind: CaptureKind, name: str) -> tuple[Iterator[tuple[Any, bytes]], int]:
    """Return the ``(timestamp, frame)`` pairs from the first packet on, and the link type."""
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
        packets = iter(reader)
        linktype = int(reader.datalink()) & 0xFFFF
    except _READER_ERRORS as exc:
        raise CaptureError(f"{name}: not a readable {kind} file ({exc})") from exc
    except OSError as exc:
        raise CaptureError(f"cannot read {name}: {exc.strerror or exc}") from exc
    if linktype not in LINKTYPES:
        raise CaptureError(f"{name}: unsupported {kind} link type {linktype}")
    return packets, linktype


def _read_packets(
    path: CaptureInput, kind: CaptureKind, tracker: FlowTable, stats: CaptureStats
) -> Iterator[Record | PlainData]:
    """The records of a pcap or pcapng file, packet by packet through ``tracker``."""
    with Source(path) as source:
        f = _TrackedFile(source)
        packets, linktype = _open_reader(f, kind, source.name)
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
