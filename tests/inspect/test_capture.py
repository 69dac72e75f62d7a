"""Tests of otwire.inspect.capture: file kinds, link types, TCP streams, errors.

Synthetic captures are written into ``tmp_path`` with dpkt's writers (and by hand
for a big-endian pcap); the headers below them are packed with ``struct`` so the
tests do not share code with the decoder under test.
"""

from __future__ import annotations

import ipaddress
import json
import struct
from collections import defaultdict
from collections.abc import Iterable, Sequence
from importlib.resources import as_file, files
from pathlib import Path

import dpkt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otwire.errors import OTWireError
from otwire.inspect.capture import (
    CaptureError,
    CaptureWarning,
    Data,
    Flow,
    Gap,
    Record,
    Retransmission,
    Sender,
    StreamEnd,
    StreamStart,
    capture_kind,
    capture_size,
    read_capture,
    read_plain,
)
from otwire.registry import default_ports

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::2"
TO_SERVER, TO_CLIENT = Sender.CLIENT, Sender.SERVER
T0 = 1_250_000_000.0
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


# --- frame builders -------------------------------------------------------------


def tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes = b"") -> bytes:
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, 5 << 4, flags, 65535, 0, 0)
    return header + payload


def ip(src: str, dst: str, segment: bytes, *, proto: int = 6, frag: int = 0) -> bytes:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 6:
        return struct.pack("!IHBB", 6 << 28, len(segment), proto, 64) + s.packed + d.packed + segment
    head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(segment), 0, frag, 64, proto, 0)
    return head + s.packed + d.packed + segment


def link(packet: bytes, kind: str, *, pad: int = 0) -> bytes:
    ethertype = b"\x86\xdd" if packet[0] >> 4 == 6 else b"\x08\x00"
    macs = bytes.fromhex("020000000002 020000000001")
    if kind == "eth":
        return macs + ethertype + packet + b"\x00" * pad
    if kind == "vlan":  # 802.1ad outer tag, 802.1Q inner tag
        return macs + b"\x88\xa8\x00\x64\x81\x00\x00\x0a" + ethertype + packet + b"\x00" * pad
    if kind == "sll":
        return struct.pack("!HHH8s", 0, 1, 6, macs[:6]) + ethertype + packet
    if kind == "sll2":
        return ethertype + struct.pack("!HiHBB8s", 0, 2, 1, 0, 6, macs[:6]) + packet
    if kind == "null":  # host byte order family (AF_INET, or AF_INET6 as on BSD)
        return struct.pack("<I", 2 if packet[0] >> 4 == 4 else 24) + packet
    if kind == "loop":
        return struct.pack("!I", 2 if packet[0] >> 4 == 4 else 24) + packet
    assert kind == "raw"
    return packet


LINKTYPES = {"eth": 1, "vlan": 1, "sll": 113, "sll2": 276, "null": 0, "loop": 108, "raw": 101}

Pkt = tuple[str, int, str, int, int, int, bytes]  # src, sport, dst, dport, seq, flags, payload


def c2s(seq: int, payload: bytes = b"", flags: int = PSH | ACK, sport: int = 51234) -> Pkt:
    return (CLIENT, sport, SERVER, 2404, seq, flags, payload)


def s2c(seq: int, payload: bytes = b"", flags: int = PSH | ACK, dport: int = 51234) -> Pkt:
    return (SERVER, 2404, CLIENT, dport, seq, flags, payload)


def frames(packets: Iterable[Pkt], kind: str = "eth", *, pad_to_60: bool = True) -> list[bytes]:
    out = []
    for src, sport, dst, dport, seq, flags, payload in packets:
        packet = ip(src, dst, tcp(sport, dport, seq, flags, payload))
        pad = max(0, 46 - len(packet)) if pad_to_60 and kind in ("eth", "vlan") else 0
        out.append(link(packet, kind, pad=pad))
    return out


def write_pcap(path: Path, data: Sequence[bytes], linktype: int = 1, *, nano: bool = False) -> Path:
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=65535, linktype=linktype, nano=nano)
        for i, frame in enumerate(data):
            writer.writepkt(frame, ts=T0 + i * 0.25)
    return path


def write_pcapng(path: Path, data: Sequence[bytes], linktype: int = 1) -> Path:
    with path.open("wb") as f:
        writer = dpkt.pcapng.Writer(f, snaplen=65535, linktype=linktype)
        for i, frame in enumerate(data):
            writer.writepkt(frame, ts=T0 + i * 0.25)
    return path


def write_pcap_big_endian(path: Path, data: Sequence[bytes], caplens: Sequence[int] = ()) -> Path:
    """A big-endian microsecond pcap; ``caplens`` cut frames short (snaplen)."""
    out = [struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, frame in enumerate(data):
        caplen = caplens[i] if i < len(caplens) else len(frame)
        out.append(struct.pack(">IIII", int(T0) + i, 500_000, caplen, len(frame)) + frame[:caplen])
    path.write_bytes(b"".join(out))
    return path


def streams(records: Iterable[Record]) -> dict[tuple[str, str], bytes]:
    out: dict[tuple[str, str], bytes] = defaultdict(bytes)
    for r in records:
        if isinstance(r, Data):
            out[str(r.flow), r.sender.direction] += r.data
    return dict(out)


def handshake(isn_c: int = 1000, isn_s: int = 5000) -> list[Pkt]:
    return [c2s(isn_c, flags=SYN), s2c(isn_s, flags=SYN | ACK), c2s(isn_c + 1, flags=ACK)]


FLOW = f"{CLIENT}:51234 -> {SERVER}:2404"
STARTDT_ACT = bytes.fromhex("680407000000")
STARTDT_CON = bytes.fromhex("68040b000000")


# --- link layers, file formats -------------------------------------------------


def session(client: str = CLIENT, server: str = SERVER) -> list[Pkt]:
    def c(seq: int, payload: bytes = b"", flags: int = PSH | ACK) -> Pkt:
        return (client, 51234, server, 2404, seq, flags, payload)

    def s(seq: int, payload: bytes = b"", flags: int = PSH | ACK) -> Pkt:
        return (server, 2404, client, 51234, seq, flags, payload)

    return [
        c(1000, flags=SYN),
        s(5000, flags=SYN | ACK),
        c(1001, flags=ACK),
        c(1001, STARTDT_ACT),
        s(5001, flags=ACK),  # bare ACK: padded to 60 octets on Ethernet
        s(5001, STARTDT_CON),
        c(1007, flags=ACK),
        c(1007, flags=FIN | ACK),
        s(5007, flags=FIN | ACK),
        c(1008, flags=ACK),
    ]


@pytest.mark.parametrize("kind", sorted(LINKTYPES))
@pytest.mark.parametrize("family", [4, 6])
def test_link_types_and_padding(tmp_path: Path, kind: str, family: int) -> None:
    client, server = (CLIENT, SERVER) if family == 4 else (CLIENT6, SERVER6)
    path = write_pcap(tmp_path / "c.pcap", frames(session(client, server), kind), LINKTYPES[kind])
    records = list(read_capture(path, [2404]))
    flow = Flow(client, 51234, server, 2404)
    assert records == [
        StreamStart(flow, T0, 1),
        Data(flow, TO_SERVER, T0 + 0.75, STARTDT_ACT, 4),
        Data(flow, TO_CLIENT, T0 + 1.25, STARTDT_CON, 6),
        StreamEnd(flow, TO_SERVER, T0 + 1.75, 8, "fin"),
        StreamEnd(flow, TO_CLIENT, T0 + 2.0, 9, "fin"),
    ]


def test_ethernet_padding_after_bare_acks_is_not_payload(tmp_path: Path) -> None:
    packets = [c2s(1, STARTDT_ACT), s2c(1, flags=ACK), s2c(1, STARTDT_CON), c2s(7, flags=ACK)]
    data = frames(packets)
    assert len(data[1]) == 60 and data[1].endswith(b"\x00" * 6)  # the padding is there
    records = list(read_capture(write_pcap(tmp_path / "p.pcap", data), [2404]))
    assert streams(records) == {(FLOW, "to_server"): STARTDT_ACT, (FLOW, "to_client"): STARTDT_CON}
    assert [type(r) for r in records] == [StreamStart, Data, Data]


@pytest.mark.parametrize("fmt", ["pcap-le-micro", "pcap-le-nano", "pcap-be-micro", "pcapng"])
def test_file_formats_are_detected_by_content(tmp_path: Path, fmt: str) -> None:
    data = frames(session())
    path = tmp_path / "capture.bin"  # the extension says nothing
    if fmt == "pcapng":
        write_pcapng(path, data)
    elif fmt == "pcap-be-micro":
        write_pcap_big_endian(path, data)
    else:
        write_pcap(path, data, nano=fmt.endswith("nano"))
    records = list(read_capture(path, [2404]))
    assert streams(records) == {(FLOW, "to_server"): STARTDT_ACT, (FLOW, "to_client"): STARTDT_CON}
    first = records[0]
    assert isinstance(first, StreamStart)
    expected = int(T0) + 0.5 if fmt == "pcap-be-micro" else T0
    assert first.timestamp == pytest.approx(expected, abs=1e-6)
    assert isinstance(first.timestamp, float)


def test_nanosecond_timestamps_keep_their_precision(tmp_path: Path) -> None:
    path = tmp_path / "ns.pcap"
    with path.open("wb") as f:
        dpkt.pcap.Writer(f, linktype=1, nano=True).writepkt(frames([c2s(1, b"x")])[0], ts=T0 + 5e-7)
    (_start, data) = read_capture(path, [2404])
    assert isinstance(data, Data)
    assert data.timestamp == pytest.approx(T0 + 5e-7, abs=2e-7)  # below a microsecond
    assert data.timestamp != T0


# --- TCP reassembly through a capture ------------------------------------------


def read(tmp_path: Path, packets: list[Pkt], ports: Iterable[int] = (2404,)) -> list[Record]:
    return list(read_capture(write_pcap(tmp_path / "t.pcap", frames(packets)), ports))


def test_out_of_order_segments_are_delivered_in_sequence(tmp_path: Path) -> None:
    packets = [*handshake(), c2s(1004, b"def"), c2s(1007, b"ghi"), c2s(1001, b"abc")]
    records = read(tmp_path, packets)
    assert records[1:] == [Data(Flow(CLIENT, 51234, SERVER, 2404), TO_SERVER, T0 + 1.25, b"abcdefghi", 6)]


def test_exact_retransmission_is_reported_not_delivered(tmp_path: Path) -> None:
    records = read(tmp_path, [*handshake(), c2s(1001, b"abc"), c2s(1001, b"abc"), c2s(1004, b"d")])
    assert streams(records) == {(FLOW, "to_server"): b"abcd"}
    retrans = [r for r in records if isinstance(r, Retransmission)]
    assert [(r.length, r.packet_number, r.sender) for r in retrans] == [(3, 5, TO_SERVER)]


def test_overlapping_retransmission_delivers_only_new_octets(tmp_path: Path) -> None:
    records = read(tmp_path, [*handshake(), c2s(1001, b"abcd"), c2s(1003, b"cdEFG")])
    assert streams(records) == {(FLOW, "to_server"): b"abcdEFG"}
    assert [(type(r).__name__, r.packet_number) for r in records[-2:]] == [
        ("Retransmission", 5),
        ("Data", 5),
    ]
    assert records[-2] == Retransmission(Flow(CLIENT, 51234, SERVER, 2404), TO_SERVER, T0 + 1.0, 2, 5)
    assert isinstance(records[-1], Data) and records[-1].data == b"EFG"


def test_gap_when_the_buffer_overflows_then_resync(tmp_path: Path) -> None:
    # 10 octets (seq 1004..1013) never arrive; 65 later segments overflow the 64-segment buffer.
    later = [c2s(1014 + i, bytes([65 + i % 26])) for i in range(65)]
    records = read(tmp_path, [*handshake(), c2s(1001, b"abc"), *later])
    gaps = [r for r in records if isinstance(r, Gap)]
    assert [(g.missing, g.packet_number) for g in gaps] == [(10, 4 + 65)]
    after = records[records.index(gaps[0]) + 1]
    assert isinstance(after, Data) and after.packet_number == 69
    assert after.data == bytes(65 + i % 26 for i in range(65))
    assert streams(records)[FLOW, "to_server"] == b"abc" + after.data


def test_gap_found_at_the_end_of_the_capture(tmp_path: Path) -> None:
    records = read(tmp_path, [*handshake(), c2s(1001, b"ab"), c2s(1006, b"fg"), c2s(1008, b"h")])
    kinds = [(type(r).__name__, getattr(r, "missing", None)) for r in records]
    assert kinds[-3:] == [("Data", None), ("Gap", 3), ("Data", None)]
    assert records[-1] == Data(Flow(CLIENT, 51234, SERVER, 2404), TO_SERVER, T0 + 1.25, b"fgh", 6)


def test_sequence_number_wraparound(tmp_path: Path) -> None:
    isn = 0xFFFF_FFF0
    packets = [c2s(isn, flags=SYN), c2s(isn + 1, b"A" * 10), c2s(isn + 11, b"B" * 10)]
    packets += [c2s(isn + 31, b"D" * 10), c2s(isn + 21, b"C" * 10), c2s(isn + 1, b"A" * 10)]
    records = read(tmp_path, packets)
    assert streams(records) == {(FLOW, "to_server"): b"A" * 10 + b"B" * 10 + b"C" * 10 + b"D" * 10}
    assert sum(isinstance(r, Retransmission) for r in records) == 1
    assert not any(isinstance(r, Gap | CaptureWarning) for r in records)


def test_two_connections_on_the_same_ports(tmp_path: Path) -> None:
    first = [*handshake(1000, 5000), c2s(1001, b"one"), s2c(5001, b"1")]
    first += [c2s(1004, flags=FIN | ACK), s2c(5002, flags=FIN | ACK), c2s(1005, flags=ACK)]
    second = [*handshake(90000, 70000), c2s(90001, b"two"), s2c(70001, b"2")]
    records = read(tmp_path, [*first, *second])
    starts = [i for i, r in enumerate(records) if isinstance(r, StreamStart)]
    assert [records[i].packet_number for i in starts] == [1, 9]
    assert streams(records[: starts[1]]) == {(FLOW, "to_server"): b"one", (FLOW, "to_client"): b"1"}
    assert streams(records[starts[1] :]) == {(FLOW, "to_server"): b"two", (FLOW, "to_client"): b"2"}
    assert not any(isinstance(r, Gap | Retransmission) for r in records)


def test_new_syn_without_a_captured_fin_starts_a_new_stream(tmp_path: Path) -> None:
    packets = [*handshake(1000), c2s(1001, b"old"), c2s(1010, b"lost-tail")]
    packets += [*handshake(777), c2s(778, b"new")]
    records = read(tmp_path, packets)
    kinds = [type(r).__name__ for r in records]
    # The old stream's buffered octets are delivered (after a gap) before the new start.
    assert kinds == ["StreamStart", "Data", "Gap", "Data", "StreamStart", "Data"]
    assert records[2] == Gap(Flow(CLIENT, 51234, SERVER, 2404), TO_SERVER, T0 + 1.25, 6, 6)
    assert isinstance(records[-1], Data) and records[-1].data == b"new"


def test_rst_ends_both_directions(tmp_path: Path) -> None:
    records = read(tmp_path, [*handshake(), c2s(1001, b"x"), s2c(5001, flags=RST | ACK)])
    ends = [(r.sender, r.reason, r.packet_number) for r in records if isinstance(r, StreamEnd)]
    assert ends == [(TO_CLIENT, "rst", 5), (TO_SERVER, "rst", 5)]


def test_mid_stream_capture_without_syn(tmp_path: Path) -> None:
    records = read(tmp_path, [s2c(777, flags=ACK), s2c(777, b"late"), c2s(40, b"start")])
    assert records[0] == StreamStart(Flow(CLIENT, 51234, SERVER, 2404), T0 + 0.25, 2)
    assert streams(records) == {(FLOW, "to_client"): b"late", (FLOW, "to_server"): b"start"}


def test_only_listed_ports_are_followed(tmp_path: Path) -> None:
    other = (CLIENT, 40000, SERVER, 80, 1, PSH | ACK, b"GET /")
    records = read(tmp_path, [other, c2s(1, b"iec")], ports=[2404])
    assert streams(records) == {(FLOW, "to_server"): b"iec"}
    assert read(tmp_path, [other, c2s(1, b"iec")], ports=[]) == []


def test_orientation_when_both_ports_are_listed(tmp_path: Path) -> None:
    # Different ports: the lower one is the server, whichever side sends first.
    packets = [
        (CLIENT, 2405, SERVER, 2404, 1, PSH | ACK, b"a"),
        (SERVER, 2404, CLIENT, 2405, 1, 0x18, b"b"),
    ]
    records = read(tmp_path, packets, ports=[2404, 2405])
    flow = Flow(CLIENT, 2405, SERVER, 2404)
    assert [(r.flow, r.sender) for r in records if isinstance(r, Data)] == [
        (flow, TO_SERVER),
        (flow, TO_CLIENT),
    ]
    # Equal ports: the lower address is the server.
    packets = [
        ("10.0.0.9", 2404, "10.0.0.3", 2404, 1, 0x18, b"c"),
        ("10.0.0.3", 2404, "10.0.0.9", 2404, 1, 0x18, b"d"),
    ]
    records = read(tmp_path, packets, ports=[2404])
    flow = Flow("10.0.0.9", 2404, "10.0.0.3", 2404)
    assert [(r.flow, r.sender, r.data) for r in records if isinstance(r, Data)] == [
        (flow, TO_SERVER, b"c"),
        (flow, TO_CLIENT, b"d"),
    ]


def test_flow_and_direction_forms() -> None:
    assert str(Flow(CLIENT, 51234, SERVER, 2404)) == "10.0.0.1:51234 -> 10.0.0.2:2404"
    assert str(Flow(CLIENT6, 1, SERVER6, 2404)) == "[2001:db8::1]:1 -> [2001:db8::2]:2404"
    assert str(Flow.pseudo("dump.hex")) == "dump.hex"
    assert Flow.pseudo("dump.hex").is_pseudo
    assert json.dumps({"s": Sender.SERVER}) == '{"s": "server"}'
    assert Sender("client") is Sender.CLIENT and Sender.CLIENT.receiver is Sender.SERVER
    assert (Sender.CLIENT.direction, Sender.SERVER.direction) == ("to_server", "to_client")


# --- hex dumps and raw streams -------------------------------------------------


def test_hex_dump_one_record_per_line(tmp_path: Path) -> None:
    path = tmp_path / "frames.txt"
    path.write_text(
        "# IEC 104 frames typed by hand\n68 04 07 00 00 00   # STARTDT act\n\n68:04:0b:00:00:00\r\n   680443000000\n"
    )
    flow = Flow.pseudo("frames.txt")
    assert list(read_capture(path, [2404])) == [
        StreamStart(flow, 0.0, 2),
        Data(flow, TO_SERVER, 0.0, STARTDT_ACT, 2),
        Data(flow, TO_SERVER, 0.0, STARTDT_CON, 4),
        Data(flow, TO_SERVER, 0.0, bytes.fromhex("680443000000"), 5),
    ]


@pytest.mark.parametrize(
    "content",
    [
        STARTDT_ACT * 3,  # binary stream
        b"68 04 07 00 00 0\n",  # odd number of hex digits: not a hex dump
        b"6804\nnot hex at all\n",
        b"\xe2\x82\xac 68\n",  # not ASCII
    ],
)
def test_anything_else_is_a_raw_stream(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "stream.bin"
    path.write_bytes(content)
    flow = Flow.pseudo("stream.bin")
    assert list(read_capture(path, [2404])) == [
        StreamStart(flow, 0.0, 1),
        Data(flow, TO_SERVER, 0.0, content, 1),
    ]


def test_big_raw_stream_is_streamed_in_chunks(tmp_path: Path) -> None:
    content = bytes(range(256)) * 1000  # 256,000 octets
    path = tmp_path / "big.raw"
    path.write_bytes(content)
    data = [r for r in read_capture(path, []) if isinstance(r, Data)]
    assert len(data) > 1
    assert b"".join(r.data for r in data) == content
    assert [r.packet_number for r in data] == list(range(1, len(data) + 1))


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert list(read_capture(path, [2404])) == []


# --- damaged captures and errors -----------------------------------------------


def test_pcap_truncated_inside_the_last_packet(tmp_path: Path) -> None:
    packets = [c2s(1, b"first"), c2s(6, b"second"), c2s(12, b"0123456789abcdefghij")]
    path = write_pcap(tmp_path / "cut.pcap", frames(packets))
    path.write_bytes(path.read_bytes()[:-10])  # the last 10 payload octets are gone
    records = list(read_capture(path, [2404]))
    assert streams(records) == {(FLOW, "to_server"): b"firstsecond0123456789"}
    warnings = [r for r in records if isinstance(r, CaptureWarning)]
    assert [(w.packet_number, w.message) for w in warnings] == [
        (3, "only 10 of 20 payload octets captured"),
        (3, "capture truncated: the last packet lacks 10 octets"),
    ]
    assert records[-1] is warnings[-1]


def test_pcap_truncated_inside_a_record_header(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "cut.pcap", frames([c2s(1, b"ok"), c2s(3, b"lost")]))
    whole = path.read_bytes()
    first_end = 24 + 16 + len(frames([c2s(1, b"ok")])[0])
    path.write_bytes(whole[: first_end + 5])
    records = list(read_capture(path, [2404]))
    assert streams(records) == {(FLOW, "to_server"): b"ok"}
    assert isinstance(records[-1], CaptureWarning)
    assert records[-1].packet_number == 2
    assert "truncated" in records[-1].message


@pytest.mark.parametrize("cut", [5, 20, 40])
def test_pcapng_truncated(tmp_path: Path, cut: int) -> None:
    path = write_pcapng(tmp_path / "cut.pcapng", frames([c2s(1, b"ok"), c2s(3, b"lost" * 10)]))
    path.write_bytes(path.read_bytes()[:-cut])
    records = list(read_capture(path, [2404]))
    assert streams(records)[FLOW, "to_server"].startswith(b"ok")
    assert isinstance(records[-1], CaptureWarning)
    assert "truncated" in records[-1].message


def test_corrupt_record_length_is_a_warning(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "bad.pcap", frames([c2s(1, b"ok"), c2s(3, b"more")]))
    whole = bytearray(path.read_bytes())
    second = 24 + 16 + len(frames([c2s(1, b"ok")])[0])
    whole[second + 8 : second + 12] = struct.pack("<I", 0x7FFF_FFFF)  # caplen
    path.write_bytes(bytes(whole))
    records = list(read_capture(path, [2404]))
    assert streams(records) == {(FLOW, "to_server"): b"ok"}
    assert isinstance(records[-1], CaptureWarning) and records[-1].packet_number == 2


def test_undecodable_packet_is_reported_and_skipped(tmp_path: Path) -> None:
    good = frames([c2s(1, b"ab"), c2s(3, b"cd")])
    bad_ihl = good[0][:14] + b"\x43" + good[0][15:]
    records = list(read_capture(write_pcap(tmp_path / "b.pcap", [good[0], bad_ihl, good[1]]), [2404]))
    assert streams(records) == {(FLOW, "to_server"): b"abcd"}
    assert [r for r in records if isinstance(r, CaptureWarning)] == [
        CaptureWarning(T0 + 0.25, 2, "bad IPv4 header length 12")
    ]


def test_snaplen_cut_packet_becomes_a_gap(tmp_path: Path) -> None:
    data = frames([c2s(1, b"0123456789"), c2s(11, b"next")], pad_to_60=False)
    path = write_pcap_big_endian(tmp_path / "snap.pcap", data, caplens=[len(data[0]) - 6])
    records = list(read_capture(path, [2404]))
    flow = Flow(CLIENT, 51234, SERVER, 2404)
    assert records == [
        StreamStart(flow, int(T0) + 0.5, 1),
        Data(flow, TO_SERVER, int(T0) + 0.5, b"0123", 1),
        Gap(flow, TO_SERVER, int(T0) + 0.5, 6, 1),
        CaptureWarning(int(T0) + 0.5, 1, "only 4 of 10 payload octets captured"),
        Data(flow, TO_SERVER, int(T0) + 1.5, b"next", 2),
    ]


def test_ip_fragment_is_reported(tmp_path: Path) -> None:
    segment = tcp(51234, 2404, 1, PSH | ACK, b"fragmented")
    frame = link(ip(CLIENT, SERVER, segment, frag=0x2000), "eth")  # MF set, offset 0
    later = link(ip(CLIENT, SERVER, b"rest", frag=0x0003), "eth")  # a later fragment
    records = list(read_capture(write_pcap(tmp_path / "f.pcap", [frame, later]), [2404]))
    assert [(type(r), r.packet_number) for r in records] == [(CaptureWarning, 1)]


@pytest.mark.parametrize(
    "content",
    [
        bytes.fromhex("d4c3b2a1") + b"\x02",  # pcap magic, truncated header
        bytes.fromhex("d4c3b2a1") + bytes(range(60)),  # pcap magic, garbage header
        bytes.fromhex("a1b2c3d4") + b"\xff" * 60,
        bytes.fromhex("0a0d0d0a") + b"garbage garbage garbage garbage",  # pcapng magic
        bytes.fromhex("0a0d0d0a") + struct.pack("<I", 4) + b"\x4d\x3c\x2b\x1a" + b"\x00" * 20,
    ],
)
def test_garbage_with_a_capture_magic_is_an_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as info:
        read_capture(path, [2404])
    assert "\n" not in str(info.value)
    assert isinstance(info.value, OTWireError)


def test_unsupported_link_type_is_an_error(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "wifi.pcap", [b"\x00" * 40], linktype=105)
    with pytest.raises(CaptureError, match="link type 105"):
        read_capture(path, [2404])


def test_missing_or_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot open"):
        read_capture(tmp_path / "nope.pcap", [2404])
    with pytest.raises(CaptureError):
        read_capture(tmp_path, [2404])  # a directory
    with pytest.raises(CaptureError):
        capture_size(tmp_path / "nope.pcap")


def test_capture_size_and_lazy_reading(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "s.pcap", frames(session()))
    assert capture_size(path) == path.stat().st_size
    records = read_capture(path, [2404])
    assert iter(records) is records  # an iterator, not a list
    assert isinstance(next(records), StreamStart)


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.binary(max_size=200), cut=st.integers(0, 400))
def test_damaged_captures_never_raise_while_reading(tmp_path: Path, fmt: str, tail: bytes, cut: int) -> None:
    data = frames([c2s(1, b"abc"), s2c(1, b"xyz"), c2s(4, b"def")])
    path = tmp_path / f"fuzz.{fmt}"
    (write_pcap if fmt == "pcap" else write_pcapng)(path, data)
    whole = path.read_bytes()
    header = 24 if fmt == "pcap" else 60  # dpkt writes a 28-octet SHB and a 32-octet IDB
    path.write_bytes(whole[: header + cut] + tail)
    for record in read_capture(path, [2404]):  # any damage is a record, never an exception
        assert isinstance(record, Data | Gap | Retransmission | StreamStart | StreamEnd | CaptureWarning)


def test_capture_kind(tmp_path: Path) -> None:
    data = frames(session())
    assert capture_kind(write_pcap(tmp_path / "a.txt", data)) == "pcap"
    assert capture_kind(write_pcapng(tmp_path / "b.pcap", data)) == "pcapng"
    (tmp_path / "c.pcap").write_text("# comment\n68 04 07 00 00 00\n")
    assert capture_kind(tmp_path / "c.pcap") == "hex"
    (tmp_path / "d.hex").write_bytes(STARTDT_ACT)
    assert capture_kind(tmp_path / "d.hex") == "raw"
    with pytest.raises(CaptureError):
        capture_kind(tmp_path / "missing")


# --- real captures -------------------------------------------------------------


def sample(name: str) -> Path:
    with as_file(files("otwire.inspect") / "samples" / name) as path:
        return Path(path)


def expected_streams(path: Path, port: int) -> dict[tuple[str, str], bytes]:
    """Reassemble independently with dpkt: unique segments by sequence number, in order."""
    segments: dict[tuple[str, str], dict[int, bytes]] = defaultdict(dict)
    with path.open("rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            packet = dpkt.ethernet.Ethernet(buf).data
            if not isinstance(packet, dpkt.ip.IP) or not isinstance(packet.data, dpkt.tcp.TCP):
                continue
            seg = packet.data
            if port not in (seg.sport, seg.dport):
                continue
            length = packet.len - packet.hl * 4 - seg.off * 4
            if length:
                to_server = seg.dport == port
                client, server = (packet.src, packet.dst) if to_server else (packet.dst, packet.src)
                client_port = seg.sport if to_server else seg.dport
                flow = f"{ipaddress.ip_address(client)}:{client_port} -> {ipaddress.ip_address(server)}:{port}"
                direction = "to_server" if to_server else "to_client"
                segments[flow, direction][seg.seq] = bytes(seg.data[:length])
    return {key: b"".join(s[seq] for seq in sorted(s)) for key, s in segments.items()}


def test_real_capture_iti_090813_diverse() -> None:
    path = sample("iti_090813_diverse.pcap")
    records = list(read_capture(path, [2404]))
    got = streams(records)
    expected = expected_streams(path, 2404)
    assert got == expected
    assert sum(map(len, got.values())) == sum(map(len, expected.values())) > 1000
    for data in got.values():
        assert data[0] == 0x68
        assert b"\x00" * 6 not in data
    assert not any(isinstance(r, Gap | CaptureWarning | Retransmission) for r in records)
    # Each APDU chains to the next: 0x68, length, body, ... exactly to the end.
    for data in got.values():
        offset = 0
        while offset < len(data):
            assert data[offset] == 0x68
            offset += 2 + data[offset + 1]
        assert offset == len(data)


@pytest.mark.parametrize(
    "name",
    ["iti_090813_diverse.pcap", "iti_JavaRMI_and_IEC_Misc.pcap", "iti_TestDissectIec104.pcap"],
)
def test_bundled_samples_read_cleanly(name: str) -> None:
    records = list(read_capture(sample(name), [2404]))
    assert not any(isinstance(r, Gap | CaptureWarning) for r in records)
    assert sum(isinstance(r, StreamStart) for r in records) >= 1
    for data in streams(records).values():
        assert data[0] == 0x68


def test_automayt_pcapng() -> None:
    records = list(read_capture(DATA_DIR / "automayt_IEC104_SQ.pcapng", [2404]))
    assert [type(r) for r in records] == [StreamStart, Data]
    data = records[1]
    assert isinstance(data, Data)
    assert str(data.flow) == "10.104.99.22:4446 -> 10.204.70.90:2404"
    assert data.sender is TO_CLIENT
    assert len(data.data) == 124 and data.data[0] == 0x68


@pytest.mark.parametrize(
    "sample", sorted((Path(__file__).parents[2] / "src/otwire/inspect/samples").glob("*.pcap")), ids=lambda p: p.name
)
def test_read_plain_is_read_capture_with_tuples(sample: Path) -> None:
    """``read_plain`` (dissect's reader) gives ``read_capture``'s records, some as plain tuples."""
    ports = list(default_ports())
    plain = list(read_plain(sample, ports))
    assert any(type(r) is tuple for r in plain)
    assert [Data(*r) if type(r) is tuple else r for r in plain] == list(read_capture(sample, ports))
