"""PcapRecorder: the written pcap reassembles, through otwire's own reader, into the recorded octets."""

from __future__ import annotations

import asyncio
import io
import json
import random
import threading
import time
from collections import defaultdict
from pathlib import Path

import dpkt
import pytest

from otwire.inspect.capture import (
    CaptureWarning,
    Data,
    Flow,
    Gap,
    Record,
    Retransmission,
    Sender,
    StreamEnd,
    StreamStart,
    read_capture,
)
from otwire.transports import Direction, PcapRecorder, SelectorLoop, SocketTransport, open_connection, start_server
from transports.toy import LineConnection, LineReceived

TO_SERVER, TO_CLIENT = Sender.CLIENT, Sender.SERVER


def streams(path: Path, ports: set[int]) -> tuple[dict[tuple[Flow, Sender], bytes], list[Record]]:
    """Return the reassembled octets per (flow, direction) and the other records."""
    data: dict[tuple[Flow, Sender], bytes] = defaultdict(bytes)
    others: list[Record] = []
    for record in read_capture(path, ports):
        if isinstance(record, Data):
            data[record.flow, record.sender] += record.data
        else:
            others.append(record)
    return dict(data), others


def writes(rng: random.Random) -> list[tuple[Direction, bytes]]:
    """Many small writes and some above one segment (1460 octets), both directions interleaved."""
    sizes = [rng.randint(1, 40) for _ in range(300)] + [1459, 1460, 1461, 2920, 2921, 5000, 70_000]
    rng.shuffle(sizes)
    return [(rng.choice(list(Direction)), rng.randbytes(size)) for size in sizes]


def expected(chunks: list[tuple[Direction, bytes]], direction: Direction) -> bytes:
    return b"".join(data for d, data in chunks if d is direction)


def test_round_trip_through_read_capture(tmp_path: Path) -> None:
    path = tmp_path / "session.pcap"
    chunks = writes(random.Random(1))
    with PcapRecorder(path, local=("10.0.0.1", 50123), remote=("10.0.0.2", 2404)) as recorder:
        for n, (direction, chunk) in enumerate(chunks):
            recorder.record(direction, chunk, timestamp=1_700_000_000 + n / 1000)
    data, others = streams(path, {2404})
    flow = Flow("10.0.0.1", 50123, "10.0.0.2", 2404)
    assert data == {
        (flow, TO_SERVER): expected(chunks, Direction.OUT),
        (flow, TO_CLIENT): expected(chunks, Direction.IN),
    }
    assert [type(r) for r in others] == [StreamStart, StreamEnd, StreamEnd]
    assert {r.reason for r in others if isinstance(r, StreamEnd)} == {"fin"}
    assert not any(isinstance(r, Gap | Retransmission | CaptureWarning) for r in others)


def test_segments_headers_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "segments.pcap"
    with PcapRecorder(path, local=("127.0.0.1", 40000), remote=("127.0.0.1", 2404), mss=1000) as recorder:
        recorder(Direction.OUT, b"a" * 2500)
        recorder.record(Direction.IN, b"b", timestamp=1234.5)
    with path.open("rb") as f:
        packets = [(ts, dpkt.ethernet.Ethernet(frame)) for ts, frame in dpkt.pcap.Reader(f)]
    tcp = [eth.data.data for _, eth in packets]
    flags = [t.flags for t in tcp]
    syn, fin, ack, psh = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_PUSH
    assert flags == [syn, syn | ack, ack] + [psh | ack] * 4 + [fin | ack, fin | ack, ack]
    assert [len(t.data) for t in tcp] == [0, 0, 0, 1000, 1000, 500, 1, 0, 0, 0]
    assert tcp[4].seq == tcp[3].seq + 1000 and tcp[5].seq == tcp[4].seq + 1000
    assert tcp[6].ack == tcp[5].seq + 500  # the remote acknowledges everything the local end sent
    assert packets[6][0] == pytest.approx(1234.5)
    assert abs(packets[0][0] - time.time()) < 60
    for _, eth in packets:  # checksums as a real stack computes them
        ip = eth.data
        assert dpkt.ip.IP(bytes(ip)).sum == ip.sum


def test_ipv6_and_remote_initiator(tmp_path: Path) -> None:
    path = tmp_path / "v6.pcap"
    with PcapRecorder(path, local=("::1", 2404), remote=("fe80::2", 61000), initiator="remote") as recorder:
        recorder(Direction.IN, b"request")
        recorder(Direction.OUT, b"response")
    data, others = streams(path, {2404})
    flow = Flow("fe80::2", 61000, "::1", 2404)
    assert data == {(flow, TO_SERVER): b"request", (flow, TO_CLIENT): b"response"}
    assert not any(isinstance(r, CaptureWarning) for r in others)


def test_many_sessions_in_one_file_from_many_threads(tmp_path: Path) -> None:
    path = tmp_path / "server.pcap"
    recorder = PcapRecorder(path)
    rngs = [random.Random(n) for n in range(4)]
    plans = [writes(rng)[:80] for rng in rngs]

    def client(n: int) -> None:
        session = recorder.session(("192.168.1.10", 2404), ("192.168.1.20", 50000 + n), initiator="remote")
        for direction, data in plans[n]:
            session(direction, data)
        session.close()
        assert session.closed

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    recorder.close()
    data, _ = streams(path, {2404})
    for n, plan in enumerate(plans):
        flow = Flow("192.168.1.20", 50000 + n, "192.168.1.10", 2404)
        assert data[flow, TO_CLIENT] == expected(plan, Direction.OUT)
        assert data[flow, TO_SERVER] == expected(plan, Direction.IN)


def test_file_object_errors_and_idempotent_close() -> None:
    buffer = io.BytesIO()
    recorder = PcapRecorder(buffer)
    with pytest.raises(ValueError, match="no default session"):
        recorder(Direction.OUT, b"x")
    session = recorder.session(("10.0.0.1", 1), ("10.0.0.2", 2))
    session.close()
    session.close()
    with pytest.raises(ValueError, match="session is closed"):
        session(Direction.OUT, b"x")
    recorder.close()
    recorder.close()
    assert not buffer.closed and buffer.getvalue()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")
    with pytest.raises(ValueError, match="recorder is closed"):
        recorder.session(("10.0.0.1", 1), ("10.0.0.2", 2))
    with pytest.raises(ValueError):
        PcapRecorder(io.BytesIO(), local=("10.0.0.1", 1))
    with pytest.raises(ValueError):
        PcapRecorder(io.BytesIO(), local=("10.0.0.1", 1), remote=("::1", 2))


def test_records_a_live_sync_session(tmp_path: Path) -> None:
    """A server records each accepted peer as one session of its pcap."""
    path = tmp_path / "sync.pcap"
    recorder = PcapRecorder(path)
    with SelectorLoop() as loop:

        def on_accept(transport: SocketTransport) -> None:
            local, remote = transport.socket.getsockname()[:2], transport.socket.getpeername()[:2]
            transport.observer = recorder.session(local, remote, initiator="remote")

        host, port = loop.listen("127.0.0.1", 0, lambda: LineConnection(echo=True), on_accept=on_accept)
        client = SocketTransport.connect(LineConnection(), host, port, timeout=3)
        sent = ["one", "two" * 1000, "three"]
        for line in sent:
            client.send(line)
        got: list[str] = []
        deadline = time.monotonic() + 3
        while len(got) < 3 and time.monotonic() < deadline:
            loop.run_once(timeout=0.05)
            while (event := client.next_event(timeout=0)) is not None:
                assert isinstance(event, LineReceived)
                got.append(event.line)
        assert got == sent
        client.close()
        while loop.transports and time.monotonic() < deadline:  # let the server read the EOF
            loop.run_once(timeout=0.05)
    recorder.close()
    data, _ = streams(path, {port})
    (flow,) = {flow for flow, _ in data}
    echoed = "".join(f"{line}\n" for line in sent).encode()
    assert data[flow, TO_SERVER] == echoed + b"bye\n"
    assert data[flow, TO_CLIENT] in (echoed, echoed + b"bye\n")


def test_records_a_live_asyncio_session(tmp_path: Path) -> None:
    """A client records its own connection (the recorder is the observer)."""
    path = tmp_path / "aio.pcap"
    ports: list[int] = []

    async def scenario() -> None:
        server = await start_server(lambda: LineConnection(echo=True), "127.0.0.1", 0, on_accept=lambda t: None)
        ports.append(server.sockets[0].getsockname()[1])
        with PcapRecorder(path, local=("127.0.0.1", 55555), remote=("127.0.0.1", ports[0])) as recorder:
            client = await open_connection(LineConnection(), "127.0.0.1", ports[0], timeout=3, observer=recorder)
            client.send("hi")
            assert await client.next_event(timeout=3) == LineReceived(line="hi")
            client.close()
            await asyncio.wait_for(client.wait_closed(), 3)
        server.close()
        await server.wait_closed()

    asyncio.run(asyncio.wait_for(scenario(), 10))
    data, _ = streams(path, set(ports))
    flow = Flow("127.0.0.1", 55555, "127.0.0.1", ports[0])
    assert data == {(flow, TO_SERVER): b"hi\nbye\n", (flow, TO_CLIENT): b"hi\n"}


def test_a_live_recording_is_readable_before_close(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every write is flushed: otwire inspect of a file still being written shows the session so far."""
    from otwire.cli import main
    from otwire.codecs.iec104 import UFrame, UFunction, encode_apdu

    path = tmp_path / "live.pcap"
    recorder = PcapRecorder(path, local=("10.0.0.1", 50123), remote=("10.0.0.2", 2404))
    try:
        recorder.record(Direction.OUT, encode_apdu(UFrame(UFunction.STARTDT_ACT)), timestamp=1.0)
        recorder.record(Direction.IN, encode_apdu(UFrame(UFunction.STARTDT_CON)), timestamp=2.0)
        with path.open("rb") as f:
            assert len(list(dpkt.pcap.Reader(f))) == 3 + 2  # handshake and both segments
        data, others = streams(path, {2404})
        flow = Flow("10.0.0.1", 50123, "10.0.0.2", 2404)
        assert data[flow, TO_SERVER] == encode_apdu(UFrame(UFunction.STARTDT_ACT))
        assert [type(r) for r in others] == [StreamStart]  # open: no FIN yet
        assert main(["inspect", "--format", "jsonl", "--no-summary", str(path)]) == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["u_function"] for r in records] == ["STARTDT_ACT", "STARTDT_CON"]
        session = recorder.session(("10.0.0.1", 50124), ("10.0.0.2", 2404), timestamp=3.0)
        session.record(Direction.OUT, b"\x68\x04\x43\x00\x00\x00", timestamp=4.0)
        data, _ = streams(path, {2404})
        assert data[Flow("10.0.0.1", 50124, "10.0.0.2", 2404), TO_SERVER] == b"\x68\x04\x43\x00\x00\x00"
    finally:
        recorder.close()
