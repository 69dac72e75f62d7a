"""The flow table stays bounded: closed, idle and surplus flows are evicted, their counts kept."""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from otwire.inspect import flows
from otwire.inspect.capture import CaptureStats, Data, FlowEvicted, StreamStart, read_capture
from otwire.inspect.dissect import default_ports, dissect

STARTDT_ACT = bytes.fromhex("680407000000")
SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10
Packet = tuple[float, int, int, int, int, bytes]  # time, sport, dport, seq, flags, payload


def frame(sport: int, dport: int, seq: int, flags: int, payload: bytes) -> bytes:
    src, dst = (
        (b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02") if dport == 2404 else (b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x01")
    )
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 0x50, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0, src, dst)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + payload


def write(path: Path, packets: Iterable[Packet]) -> Path:
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ts, sport, dport, seq, flags, payload in packets:
        data = frame(sport, dport, seq, flags, payload)
        parts.append(struct.pack("<IIII", int(ts), int(ts % 1 * 1e6), len(data), len(data)) + data)
    path.write_bytes(b"".join(parts))
    return path


def closed_session(port: int, ts: float) -> list[Packet]:
    """SYN, SYN/ACK, STARTDT_ACT, FIN from both ends."""
    return [
        (ts, port, 2404, 100, SYN, b""),
        (ts, 2404, port, 500, SYN | ACK, b""),
        (ts, port, 2404, 101, PSH | ACK, STARTDT_ACT),
        (ts, port, 2404, 107, FIN | ACK, b""),
        (ts, 2404, port, 501, FIN | ACK, b""),
    ]


def client_port(i: int) -> int:
    return 10000 + i


def test_closed_flows_are_evicted_and_the_table_stays_bounded(tmp_path: Path) -> None:
    count = flows.MAX_CLOSED * 3
    path = write(
        tmp_path / "many.pcap", (p for i in range(count) for p in closed_session(client_port(i), 1.0 + i / 100))
    )
    stats = CaptureStats()
    records = list(read_capture(path, [2404], stats=stats))
    evicted = [r for r in records if isinstance(r, FlowEvicted)]
    assert stats.flows == count and sum(isinstance(r, StreamStart) for r in records) == count
    assert stats.peak_live_flows <= flows.MAX_CLOSED + 1 < count
    assert len(evicted) == count - flows.MAX_CLOSED and {r.reason for r in evicted} == {"closed"}
    assert sum(isinstance(r, Data) for r in records) == count  # nothing lost on the way
    rows = list(dissect(path, default_ports()))
    assert [r.stream for r in rows if r.kind == "apdu"] == list(range(1, count + 1))


def test_idle_flows_are_evicted_by_capture_time(tmp_path: Path) -> None:
    count = 2000  # one segment each, a second apart, never closed
    path = write(
        tmp_path / "idle.pcap", ((float(i), client_port(i), 2404, 1, PSH | ACK, STARTDT_ACT) for i in range(count))
    )
    stats = CaptureStats()
    records = list(read_capture(path, [2404], stats=stats))
    reasons = Counter(r.reason for r in records if isinstance(r, FlowEvicted))
    assert stats.peak_live_flows <= flows.IDLE_SECONDS + flows.SWEEP_PACKETS + 1 < count
    assert reasons["idle"] >= count - stats.peak_live_flows and set(reasons) == {"idle"}
    assert sum(isinstance(r, Data) for r in records) == count


def test_a_full_table_evicts_the_least_recently_active_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "MAX_LIVE_FLOWS", 50)
    packets = [(1.0, client_port(i), 2404, 1, PSH | ACK, STARTDT_ACT) for i in range(200)]
    packets.append((1.0, client_port(199), 2404, 7, PSH | ACK, STARTDT_ACT))  # the newest flow is still there
    stats = CaptureStats()
    records = list(read_capture(write(tmp_path / "full.pcap", packets), [2404], stats=stats))
    evicted = [r for r in records if isinstance(r, FlowEvicted)]
    assert stats.peak_live_flows == 50 and stats.live_flows == 50 and stats.flows == 200
    assert [r.flow.client_port for r in evicted] == [client_port(i) for i in range(150)]
    assert {r.reason for r in evicted} == {"full"}
    assert sum(isinstance(r, StreamStart) for r in records) == 200  # no flow started twice


def test_an_evicted_flow_coming_back_is_a_new_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "SWEEP_PACKETS", 1)
    later = 1.0 + flows.IDLE_SECONDS + 100
    packets = [
        (1.0, 40000, 2404, 1, PSH | ACK, STARTDT_ACT),
        (later, 40001, 2404, 1, PSH | ACK, STARTDT_ACT),  # evicts 40000, idle for longer than IDLE_SECONDS
        (later + 1, 40000, 2404, 7, PSH | ACK, STARTDT_ACT),
    ]
    rows = [r for r in dissect(write(tmp_path / "back.pcap", packets), default_ports()) if r.kind == "apdu"]
    assert [(r.flow.client_port if r.flow else 0, r.stream) for r in rows] == [(40000, 1), (40001, 2), (40000, 3)]
