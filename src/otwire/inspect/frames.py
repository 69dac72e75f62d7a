"""Captured link-layer frames to TCP segments: the header slicing of ``otwire inspect``.

:func:`decode_frame` reads the link layer (Ethernet with 802.1Q/802.1ad tags, Linux
cooked v1/v2, BSD loopback, raw IP), IPv4 (with options) or IPv6 (with extension
headers) and TCP, taking the payload length from the IP header. Untagged Ethernet II
with IPv4 without options goes through a shorter path. Both are checked against dpkt's
parse by a differential test (``tests/inspect/test_tcp_fastpath.py``).
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Collection
from typing import Final, NamedTuple

#: Link types :func:`decode_frame` understands: NULL, Ethernet, raw IP (12, 14, 101),
#: LOOP, Linux cooked v1, raw IPv4, raw IPv6, Linux cooked v2.
LINKTYPES: Final = frozenset({0, 1, 12, 14, 101, 108, 113, 228, 229, 276})
_VLAN_TYPES: Final = frozenset({0x8100, 0x88A8, 0x9100})
_IP_TYPES: Final = frozenset({b"\x08\x00", b"\x86\xdd"})


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


#: The fields of Ethernet II + IPv4 without options + TCP read by :func:`_fast_ipv4_tcp` (and the
#: fast lane of :class:`otwire.inspect.flows.FlowTable`), from
#: octet 16: total length, fragment field, protocol, addresses, ports, sequence number, data offset and flags.
ETH_IPV4_TCP: Final = struct.Struct("!H2xH1xB2x4s4sHHI4xH")
_FAST: Final = ETH_IPV4_TCP
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
