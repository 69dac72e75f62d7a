"""Differential test: the fast lane of :class:`otwire.inspect.flows.FlowTable` gives the records,
and counts, of the general path (decode_frame, orientation and TCPReassembler.feed) on any
sequence of segments: handshakes, in-order data, retransmissions, holes, FIN, RST, restarts,
truncated frames, IP options, TCP options, other ports.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otwire.inspect import flows
from otwire.inspect.flows import FlowTable
from otwire.inspect.records import CaptureStats, Data

SERVER, OTHER = 2404, 8080
FLAGS = [0x18, 0x18, 0x18, 0x10, 0x02, 0x12, 0x11, 0x19, 0x04, 0x14, 0x00]

segments = st.lists(
    st.tuples(
        st.integers(0, 2),  # flow: 0 and 1 on the followed port, 2 on another
        st.booleans(),  # from the server
        st.sampled_from(FLAGS),
        st.sampled_from([0, 0, 0, 0, -3, 5, 1 << 31, -(1 << 20)]),  # sequence offset from the next octet
        st.integers(0, 24),  # payload octets
        st.sampled_from([0, 0, 0, 4, 12]),  # TCP options octets
        st.sampled_from([0, 0, 0, 0, 4]),  # IP options octets
        st.sampled_from([None, None, None, None, 2, 60]),  # captured length cut
    ),
    max_size=60,
)


def frame(sport: int, dport: int, seq: int, flags: int, payload: bytes, tcp_opts: int, ip_opts: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, (5 + tcp_opts // 4) << 4, flags, 512, 0, 0)
    tcp += b"\x01" * tcp_opts + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45 + ip_opts // 4, 0, 20 + ip_opts + len(tcp), 0, 0x4000, 64, 6, 0,
                     b"\x0a\x00\x00\x01" if sport < dport else b"\x0a\x00\x00\x02",
                     b"\x0a\x00\x00\x02" if sport < dport else b"\x0a\x00\x00\x01")  # fmt: skip
    return b"\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00" + ip + b"\x01" * ip_opts + tcp


def run(
    fast: bool, packets: list[bytes], *, plain: bool = False, step: float = 1.0
) -> tuple[list[object], CaptureStats]:
    """The records (a plain lane's tuples made :class:`Data` records) and the counts; ``step`` s between packets."""
    stats = CaptureStats()
    table = FlowTable(frozenset({SERVER}), stats, fast_lane=fast, plain=plain)
    records: list[object] = []
    for number, packet in enumerate(packets, 1):
        for record in table.packet(1, packet, 1000.0 + number * step, number):
            records.append(Data(*record) if type(record) is tuple else record)
    records += table.finish(1000.0 + len(packets), len(packets))
    return records, stats


@settings(max_examples=400, deadline=None)
@given(segments)
def test_fast_lane_equals_general_path(specs: list[tuple[int, bool, int, int, int, int, int, int | None]]) -> None:
    packets = build(specs)
    fast, fast_stats = run(True, packets)
    general, general_stats = run(False, packets)
    assert fast == general
    assert fast_stats == general_stats
    assert run(True, packets, plain=True) == (fast, fast_stats)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=segments)
def test_fast_lane_equals_general_path_with_evictions(
    specs: list[tuple[int, bool, int, int, int, int, int, int | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle flows swept every third packet (350 s apart: idle after two): the lanes are forgotten with them."""
    monkeypatch.setattr(flows, "SWEEP_PACKETS", 3)
    packets = build(specs)
    fast = run(True, packets, step=350.0)
    assert fast == run(False, packets, step=350.0)
    assert run(True, packets, plain=True, step=350.0) == fast


def build(specs: list[tuple[int, bool, int, int, int, int, int, int | None]]) -> list[bytes]:
    """The frames of drawn segments (see :data:`segments`)."""
    nexts: dict[tuple[int, int], int] = {}
    packets = []
    for flow, from_server, flags, offset, size, tcp_opts, ip_opts, cut in specs:
        client, server = 50000 + flow, OTHER if flow == 2 else SERVER
        sport, dport = (server, client) if from_server else (client, server)
        at = nexts.get((sport, dport), 1000 * flow + (7 if from_server else 3))
        seq = at + offset
        payload = bytes(range(size))
        nexts[(sport, dport)] = seq + size + (1 if flags & 0x03 else 0)
        packet = frame(sport, dport, seq, flags, payload, tcp_opts, ip_opts)
        packets.append(packet if cut is None else packet[: len(packet) - cut])
    return packets


def test_the_fast_lane_is_taken() -> None:
    """Not a vacuous comparison: in-order data on an announced flow goes through the lane."""
    packets = [frame(50000, SERVER, 0, 0x02, b"", 0, 0), frame(SERVER, 50000, 9, 0x12, b"", 0, 0)]
    packets += [frame(50000, SERVER, 1 + 4 * i, 0x18, b"abcd", 0, 0) for i in range(3)]
    table = FlowTable(frozenset({SERVER}), CaptureStats())
    for number, packet in enumerate(packets[:2], 1):
        table.packet(1, packet, 1.0, number)
    general = table._general
    taken: list[int] = []

    def counted(linktype: int, packet: bytes, ts: float, number: int) -> list[object]:
        taken.append(number)
        return general(linktype, packet, ts, number)  # type: ignore[return-value]

    table._general = counted  # type: ignore[method-assign]
    assert table.packet(1, packets[2], 2.0, 3)  # announced flow: the lane answers
    assert table.packet(1, packets[3], 3.0, 4)
    assert taken == []
    table.packet(1, frame(50000, SERVER, 99, 0x18, b"abcd", 0, 0), 4.0, 5)  # a hole: general path
    assert taken == [5]


def test_a_lane_is_forgotten_with_its_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-order data after the flow was evicted (idle) or restarted (a SYN whose ISN makes the old next
    octet the new first) starts a new stream: the remembered lane of the old connection is not taken."""
    monkeypatch.setattr(flows, "SWEEP_PACKETS", 3)
    start = [frame(50000, SERVER, 0, 0x02, b"", 0, 0), frame(SERVER, 50000, 9, 0x12, b"", 0, 0)]
    start += [frame(50000, SERVER, 1, 0x18, b"abcd", 0, 0), frame(50000, SERVER, 5, 0x18, b"abcd", 0, 0)]
    later = [frame(50000, SERVER, 9, 0x18, b"abcd", 0, 0), frame(50000, SERVER, 13, 0x18, b"abcd", 0, 0)]
    later.append(frame(50000, SERVER, 17, 0x11, b"", 0, 0))  # the general path reads the reassembler's state
    idle = [frame(50001, OTHER, 0, 0x18, b"x", 0, 0)] * 2
    restart = [frame(50000, SERVER, 8, 0x02, b"", 0, 0), frame(SERVER, 50000, 99, 0x12, b"", 0, 0)]
    for packets in (start + idle + later, start + restart + later):
        fast = run(True, packets, step=350.0)
        assert fast == run(False, packets, step=350.0)
        assert [type(r).__name__ for r in fast[0]].count("StreamStart") == 2
