"""Tests of the sans-IO TCP reassembler and frame decoder (otwire.inspect.tcp)."""

from __future__ import annotations

import itertools
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from otwire.inspect.tcp import (
    ACK,
    FIN,
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

PSH_ACK = 0x18


def delivered(events: list[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Delivered))


def feed_all(r: TCPReassembler, segments: list[tuple[int, int, bytes]]) -> list[Event]:
    events: list[Event] = []
    for seq, flags, payload in segments:
        events += r.feed(seq, flags, payload)
    return events


def test_syn_then_in_order_data() -> None:
    r = TCPReassembler()
    assert r.feed(1000, SYN, b"") == []
    assert r.isn == 1000
    assert r.feed(1001, PSH_ACK, b"abc") == [Delivered(b"abc")]
    assert r.feed(1004, PSH_ACK, b"de") == [Delivered(b"de")]
    assert r.feed(1006, ACK, b"") == []


def test_without_syn_the_first_segment_starts_the_stream() -> None:
    r = TCPReassembler()
    assert r.feed(500, PSH_ACK, b"xy") == [Delivered(b"xy")]
    assert r.isn is None
    # Octets before the first captured one can only be retransmissions.
    assert r.feed(498, PSH_ACK, b"uvxy") == [Duplicate(4)]


def test_out_of_order_is_buffered_and_delivered_merged() -> None:
    r = TCPReassembler()
    r.feed(0, SYN, b"")
    assert r.feed(4, PSH_ACK, b"def") == []
    assert r.feed(7, PSH_ACK, b"gh") == []
    assert r.buffered == 5
    assert r.feed(1, PSH_ACK, b"abc") == [Delivered(b"abcdefgh")]
    assert r.buffered == 0


def test_exact_and_overlapping_retransmissions() -> None:
    r = TCPReassembler()
    r.feed(0, SYN, b"")
    r.feed(1, PSH_ACK, b"abcd")
    assert r.feed(1, PSH_ACK, b"abcd") == [Duplicate(4)]
    assert r.feed(3, PSH_ACK, b"cdEF") == [Duplicate(2), Delivered(b"EF")]
    # Overlap between buffered segments is trimmed when they are drained.
    assert r.feed(9, PSH_ACK, b"JKL") == []
    assert r.feed(8, PSH_ACK, b"IJ") == []
    assert r.feed(9, PSH_ACK, b"JK") == [Duplicate(2)]  # same start as a longer buffered one
    assert r.feed(7, PSH_ACK, b"G") == [Delivered(b"GIJ"), Duplicate(1), Delivered(b"KL")]


def test_overlap_inside_the_buffer_is_reported_once_delivered() -> None:
    r = TCPReassembler()
    r.feed(0, SYN, b"")
    r.feed(5, PSH_ACK, b"EFG")  # octets 5..7
    r.feed(4, PSH_ACK, b"DE")  # octets 4..5, overlaps one octet
    events = r.feed(1, PSH_ACK, b"ABC")
    assert events == [Delivered(b"ABCDE"), Duplicate(1), Delivered(b"FG")]


def test_buffer_overflow_gives_up_on_the_hole() -> None:
    r = TCPReassembler(max_segments=2)
    r.feed(0, SYN, b"")
    r.feed(1, PSH_ACK, b"ab")  # next octet is 3
    assert r.feed(13, PSH_ACK, b"x") == []
    assert r.feed(15, PSH_ACK, b"y") == []
    # A third buffered segment exceeds the limit: octets 3..12 are given up.
    assert r.feed(14, PSH_ACK, b"z") == [Missing(10), Delivered(b"xzy")]
    assert r.feed(5, PSH_ACK, b"late") == [Duplicate(4)]


def test_octet_limit_also_bounds_the_buffer() -> None:
    r = TCPReassembler(max_octets=4)
    r.feed(100, PSH_ACK, b"a")
    assert r.feed(105, PSH_ACK, b"123") == []
    assert r.feed(110, PSH_ACK, b"45") == [Missing(4), Delivered(b"123")]
    assert r.buffered == 2


def test_flush_delivers_what_waits_behind_holes() -> None:
    r = TCPReassembler()
    r.feed(0, SYN, b"")
    r.feed(1, PSH_ACK, b"a")
    r.feed(5, PSH_ACK, b"e")
    r.feed(9, PSH_ACK, b"i")
    assert r.flush() == [Missing(3), Delivered(b"e"), Missing(3), Delivered(b"i")]
    assert r.flush() == []


def test_sequence_wraparound() -> None:
    r = TCPReassembler()
    r.feed(0xFFFF_FFFD, SYN, b"")
    assert r.feed(0xFFFF_FFFE, PSH_ACK, b"ab") == [Delivered(b"ab")]  # octets ..FE, ..FF
    assert r.feed(3, PSH_ACK, b"de") == []  # after a one-octet hole at seq 2
    assert r.feed(0, PSH_ACK, b"xy") == [Delivered(b"xy")]
    assert r.feed(2, PSH_ACK, b"c") == [Delivered(b"cde")]
    assert r.feed(0xFFFF_FFFF, PSH_ACK, b"bx") == [Duplicate(2)]


def test_fin_waits_for_missing_data() -> None:
    r = TCPReassembler()
    r.feed(0, SYN, b"")
    assert r.feed(4, FIN | ACK, b"de") == []
    assert not r.closed
    assert r.feed(1, PSH_ACK, b"abc") == [Delivered(b"abcde"), Closed("fin")]
    assert r.closed
    assert r.feed(4, FIN | ACK, b"de") == [Duplicate(2)]
    assert r.feed(7, ACK, b"") == []


def test_flush_reports_octets_missing_before_a_fin() -> None:
    r = TCPReassembler()
    r.feed(10, PSH_ACK, b"a")
    r.feed(20, FIN | ACK, b"")
    assert r.flush() == [Missing(9), Closed("fin")]


def test_rst_delivers_buffered_octets_then_closes() -> None:
    r = TCPReassembler()
    r.feed(0, SYN, b"")
    r.feed(1, PSH_ACK, b"a")
    r.feed(4, PSH_ACK, b"d")
    assert r.feed(5, RST, b"") == [Missing(2), Delivered(b"d"), Closed("rst")]
    assert r.abort() == []


def test_new_syn_means_a_new_connection() -> None:
    r = TCPReassembler()
    r.feed(1000, SYN, b"")
    r.feed(1001, PSH_ACK, b"abc")
    assert r.feed(1000, SYN, b"") == []  # retransmitted SYN
    assert r.feed(5000, SYN, b"") == [Restart("syn")]
    assert r.feed(1001, PSH_ACK, b"abc") == [Duplicate(3)]  # the old state is untouched


def test_new_data_after_close_means_a_new_connection() -> None:
    r = TCPReassembler()
    r.feed(0, SYN, b"")
    r.feed(1, FIN | PSH_ACK, b"ab")
    assert r.closed
    assert r.feed(1, PSH_ACK, b"ab") == [Duplicate(2)]
    assert r.feed(9000, PSH_ACK, b"new") == [Restart("data")]


def test_payload_cut_by_the_capture_is_reported_missing() -> None:
    r = TCPReassembler()
    r.feed(0, SYN, b"")
    assert r.feed(1, PSH_ACK, b"ab", length=5) == [Delivered(b"ab"), Missing(3)]
    assert r.feed(6, PSH_ACK, b"f") == [Delivered(b"f")]


@st.composite
def segmentations(draw: st.DrawFn) -> tuple[int, bytes, list[tuple[int, bytes]]]:
    """A byte string and covering, possibly overlapping, segments of it (offset, octets)."""
    data = draw(st.binary(min_size=1, max_size=300))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(data) - 1 or 1), max_size=20))))
    bounds = [0, *[c for c in cuts if 0 < c < len(data)], len(data)]
    segments = [(a, data[a:b]) for a, b in itertools.pairwise(bounds)]
    extra = draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 40)), max_size=8))
    segments += [(a, data[a : a + n]) for a, n in extra]  # overlapping duplicates
    isn = draw(st.sampled_from([0, 12345, 0xFFFF_FFFF - 150, 0xFFFF_FFFF]))
    return isn, data, segments


@settings(deadline=None)
@given(case=segmentations(), data=st.data())
def test_any_order_with_duplicates_delivers_the_original(
    case: tuple[int, bytes, list[tuple[int, bytes]]], data: st.DataObject
) -> None:
    isn, original, segments = case
    order = data.draw(st.permutations(segments))
    r = TCPReassembler()
    events = r.feed(isn, SYN, b"")
    for offset, chunk in order:
        events += r.feed((isn + 1 + offset) & 0xFFFF_FFFF, PSH_ACK, chunk)
    events += r.flush()
    assert delivered(events) == original
    assert not any(isinstance(e, Missing) for e in events)
    redundant = sum(len(c) for _, c in segments) - len(original)
    assert sum(e.length for e in events if isinstance(e, Duplicate)) == redundant


@settings(deadline=None)
@given(case=segmentations(), data=st.data())
def test_lost_segments_never_corrupt_delivered_octets(
    case: tuple[int, bytes, list[tuple[int, bytes]]], data: st.DataObject
) -> None:
    isn, original, segments = case
    kept = data.draw(st.lists(st.sampled_from(segments), max_size=len(segments)))
    r = TCPReassembler(max_segments=data.draw(st.integers(1, 8)))
    events = r.feed(isn, SYN, b"")
    for offset, chunk in kept:
        events += r.feed((isn + 1 + offset) & 0xFFFF_FFFF, PSH_ACK, chunk)
    events += r.flush()
    # Replay the events: every delivered octet sits at its original position.
    position = 0
    for event in events:
        if isinstance(event, Missing):
            position += event.count
        elif isinstance(event, Delivered):
            assert original[position : position + len(event.data)] == event.data
            position += len(event.data)
    covered = max((o + len(c) for o, c in kept), default=0)
    assert position == covered


def ipv4_tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 8192, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, b"\x01" * 4, b"\x02" * 4)
    return ip + tcp


def test_decode_frame_takes_the_payload_length_from_ip() -> None:
    frame = b"\x00" * 12 + b"\x08\x00" + ipv4_tcp(1234, 2404, 7, ACK, b"") + b"\x00" * 6
    seg = decode_frame(1, frame, {2404})
    assert seg == Segment(b"\x01" * 4, 1234, b"\x02" * 4, 2404, 7, ACK, b"", 0)
    assert decode_frame(1, frame, {502}) is None


def test_decode_frame_reports_broken_headers() -> None:
    good = ipv4_tcp(1234, 2404, 7, ACK, b"hi")
    assert decode_frame(101, b"\x4f" + good[1:], {2404}) == "bad IPv4 total length 42"
    assert decode_frame(101, b"\x44" + good[1:], {2404}) == "bad IPv4 header length 16"
    bad_offset = good[:32] + bytes([0x30]) + good[33:]  # TCP data offset 12 octets
    assert decode_frame(101, bad_offset, {2404}) == "bad TCP data offset 12"
    assert decode_frame(101, good[:30], {2404}) == "truncated TCP header"
    not_tcp = good[:9] + b"\x11" + good[10:]
    assert decode_frame(101, not_tcp, {2404}) is None
    arp = b"\x00" * 12 + b"\x08\x06" + b"\x00" * 28
    assert decode_frame(1, arp, {2404}) is None


def ipv6_tcp_with_hop_by_hop(payload: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", 51234, 2404, 99, 0, 5 << 4, 0x18, 8192, 0, 0) + payload
    hop_by_hop = bytes([6, 0]) + b"\x01\x04\x00\x00\x00\x00"  # next header TCP, PadN
    body = hop_by_hop + tcp
    header = struct.pack("!IHBB", 6 << 28, len(body), 0, 64) + b"\x01" * 16 + b"\x02" * 16
    return header + body + b"\xee" * 4  # trailing octets beyond the payload length


def test_decode_frame_walks_ipv6_extension_headers() -> None:
    seg = decode_frame(229, ipv6_tcp_with_hop_by_hop(b"apdu"), [2404])
    assert isinstance(seg, Segment)
    assert (seg.sport, seg.dport, seg.seq, seg.payload, seg.length) == (51234, 2404, 99, b"apdu", 4)


@settings(deadline=None)
@given(linktype=st.sampled_from(sorted(LINKTYPES)), frame=st.binary(max_size=120), cut=st.integers(0, 80))
def test_decode_frame_never_raises(linktype: int, frame: bytes, cut: int) -> None:
    for candidate in (frame, ipv4_tcp(1, 2404, 0, ACK, frame)[:cut] + frame, ipv6_tcp_with_hop_by_hop(frame)[:cut]):
        result = decode_frame(linktype, candidate, {2404})
        assert result is None or isinstance(result, str | Segment)
