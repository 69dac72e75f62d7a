"""Differential test: :func:`otwire.inspect.tcp.decode_frame` (its fast path and its general
path) reads Ethernet, VLAN tags, IPv4 with options, IPv6 and TCP exactly as dpkt parses them.

Well-formed frames must give dpkt's addresses, ports, sequence number, flags and payload;
truncated or broken ones may give a warning (a string) or nothing, never a segment that
dpkt reads differently, and never an exception.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass

import dpkt
from hypothesis import given
from hypothesis import strategies as st

from otwire.inspect.tcp import Segment, decode_frame


@dataclass(frozen=True)
class Spec:
    tags: tuple[tuple[int, int], ...]
    version: int
    ip_options: bytes
    hop_by_hop: bool
    frag: int
    zero_total: bool
    tcp_options: bytes
    flags: int
    seq: int
    sport: int
    dport: int
    payload: bytes
    padding: int


specs = st.builds(
    Spec,
    tags=st.lists(st.tuples(st.sampled_from([0x8100, 0x88A8, 0x9100]), st.integers(0, 0xFFFF)), max_size=2).map(tuple),
    version=st.sampled_from([4, 6]),
    ip_options=st.integers(0, 10).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
    hop_by_hop=st.booleans(),
    frag=st.sampled_from([0, 0, 0, 0x4000, 0x2000, 0x0001]),
    zero_total=st.booleans(),
    tcp_options=st.integers(0, 10).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
    flags=st.integers(0, 0xFF),
    seq=st.integers(0, 0xFFFFFFFF),
    sport=st.integers(1, 0xFFFF),
    dport=st.integers(1, 0xFFFF),
    payload=st.binary(max_size=64),
    padding=st.integers(0, 24),
)


def build(spec: Spec) -> bytes:
    """An Ethernet frame as ``spec`` says (``zero_total`` and padding only where they stay unambiguous)."""
    tcp = struct.pack("!HHIIBBHHH", spec.sport, spec.dport, spec.seq, 7, (5 + len(spec.tcp_options) // 4) << 4,
                      spec.flags, 65535, 0, 0) + spec.tcp_options + spec.payload  # fmt: skip
    if spec.version == 4:
        ihl = 5 + len(spec.ip_options) // 4
        total = 0 if spec.zero_total and not spec.padding else 4 * ihl + len(tcp)
        ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, spec.frag, 64, 6, 0, b"\x0a\x00\x00\x01",
                         b"\xc0\xa8\x01\x02") + spec.ip_options + tcp  # fmt: skip
        ethertype = 0x0800
    else:
        ext = b"\x06\x00" + b"\x01\x04\x00\x00\x00\x00" if spec.hop_by_hop else b""  # hop-by-hop: PadN
        src, dst = bytes(range(16)), bytes(range(16, 32))
        ip = struct.pack("!IHBB", 6 << 28, len(ext) + len(tcp), 0 if ext else 6, 64) + src + dst + ext + tcp
        ethertype = 0x86DD
    tags = b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in spec.tags)
    return (
        b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
        + tags
        + struct.pack("!H", ethertype)
        + ip
        + b"\x00" * spec.padding
    )


def dpkt_segment(frame: bytes) -> Segment | None:
    """dpkt's reading of the frame, as a segment (length = the payload dpkt found), or ``None``."""
    try:
        eth = dpkt.ethernet.Ethernet(frame)
    except (dpkt.UnpackError, struct.error):
        return None
    ip = eth.data
    if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) or not isinstance(ip.data, dpkt.tcp.TCP):
        return None
    tcp = ip.data
    return Segment(ip.src, tcp.sport, ip.dst, tcp.dport, tcp.seq, tcp.flags & 0xFF, bytes(tcp.data), len(tcp.data))


def fragmented(spec: Spec) -> bool:
    return spec.version == 4 and bool(spec.frag & 0x3FFF)


@given(specs)
def test_whole_frames_decode_as_dpkt_parses_them(spec: Spec) -> None:
    frame = build(spec)
    ours = decode_frame(1, frame, {spec.sport, spec.dport})
    if fragmented(spec):
        later_fragment = bool(spec.frag & 0x1FFF)  # no TCP header in it: not TCP as far as we can tell
        assert ours is None if later_fragment else ours == "fragmented IP packet skipped (no IP reassembly)"
        return
    assert ours == dpkt_segment(frame)


@given(specs, st.data())
def test_truncated_frames_never_decode_differently(spec: Spec, data: st.DataObject) -> None:
    whole = build(spec)
    frame = whole[: data.draw(st.integers(0, len(whole) - 1))]
    ours = decode_frame(1, frame, {spec.sport, spec.dport})
    if not isinstance(ours, Segment):
        assert ours is None or isinstance(ours, str)
        return
    theirs = dpkt_segment(frame)
    assert theirs is not None and not fragmented(spec)
    assert ours._replace(length=len(ours.payload)) == theirs  # the same fields and captured payload
    zero_total = spec.version == 4 and spec.zero_total and not spec.padding  # offload: the frame gives the length
    assert ours.length == (len(ours.payload) if zero_total else len(spec.payload))  # else the IP header's length


@given(specs)
def test_other_ports_are_skipped_and_counted(spec: Spec) -> None:
    skipped: Counter[int] = Counter()
    frame = build(spec)
    ports = {p for p in range(1, 4) if p not in (spec.sport, spec.dport)}
    assert decode_frame(1, frame, ports, skipped) is None or fragmented(spec)
    if not fragmented(spec):
        assert skipped == Counter({min(spec.sport, spec.dport): 1})
