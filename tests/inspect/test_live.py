"""-i IFACE: live capture on lo against otwire's own outstation and hub, run by the test.

Every APDU the server recorded (``serve(record=...)``) must be found, in order, by the
live capture. Needs root (an AF_PACKET raw socket); skipped otherwise.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import wait_until
from otwire.cli import main
from otwire.codecs.iec104 import ASDU, IFrame, InformationObject, TypeId, encode_apdu
from otwire.codecs.iec104 import elements as el
from otwire.codecs.imb import Publish, SetClientInfo, Subscribe, encode_command
from otwire.inspect.dissect import Row, dissect
from otwire.inspect.live import capture_rows

WAIT = 10.0
IS_ROOT = sys.platform.startswith("linux") and os.geteuid() == 0
pytestmark = pytest.mark.skipif(not IS_ROOT, reason="live capture needs Linux and root (an AF_PACKET raw socket)")
CHILD = "import sys; from otwire.servers.{package} import serve; sys.exit(serve('127.0.0.1', 0, record=sys.argv[1]))"


def _start(package: str, capture: Path) -> tuple[subprocess.Popen[str], int]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(package=package), str(capture)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert child.stdout is not None
    while (line := child.stdout.readline()) != "":
        found = re.search(r" on 127\.0\.0\.1:(\d+)", line)
        if found:
            return child, int(found.group(1))
    child.kill()
    raise AssertionError(f"no banner: {child.communicate()}")


def _stop(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGINT)
    try:
        child.communicate(timeout=WAIT)
    finally:
        child.kill()
    assert child.returncode == 0


def _apdus(rows: list[Row]) -> list[tuple[str, bytes]]:
    return [(str(r.sender), r.finding.raw) for r in rows if r.kind == "apdu" and r.finding is not None]


def _live_session(tmp_path: Path, package: str, protocol: str, session: Callable[[int], socket.socket]) -> None:
    """Run ``session`` against the server while capturing; its socket stays open until the server stopped."""
    recording = tmp_path / f"{package}.pcap"
    child, port = _start(package, recording)
    try:
        done = threading.Event()
        live: list[Row] = []
        rows = capture_rows("lo", {port: protocol}, stop=done.is_set)  # the socket is open from here

        def read() -> None:
            for row in rows:  # one by one, so the test sees rows as they come
                live.append(row)

        reader = threading.Thread(target=read)
        reader.start()
        client = session(port)
    finally:
        _stop(child)  # the server's goodbye still goes on the wire, as in its recording
    client.close()
    expected = _apdus(list(dissect(recording, {port: protocol})))
    assert len(expected) >= 4
    try:
        wait_until(lambda: len(_apdus(live)) >= len(expected), WAIT, what="every APDU captured live")
    finally:
        done.set()
        reader.join(WAIT)
    # Each direction in order; across directions the wire may interleave otherwise than the
    # server's recording does (it records a frame when it handles it, the capture when it passes).
    assert {who for who, _ in expected} == {"client", "server"}
    for sender in ("client", "server"):
        assert [raw for who, raw in _apdus(live) if who == sender] == [raw for who, raw in expected if who == sender]
    assert len(_apdus(live)) == len(expected)
    assert all(r.flow is not None and r.flow.server_port == port for r in live if r.kind == "apdu")


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed"
        data += chunk
    return data


def test_live_capture_finds_every_apdu_of_an_iec104_session(tmp_path: Path) -> None:
    def session(port: int) -> socket.socket:
        interrogation = ASDU(
            type_id=TypeId.C_IC_NA_1, cot=6, common_address=1,
            objects=(InformationObject(ioa=0, elements=(el.QOI(value=20),)),),
        )  # fmt: skip
        client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        client.sendall(bytes.fromhex("680407000000"))  # STARTDT act
        assert _recv_exactly(client, 6) == bytes.fromhex("68040b000000")  # STARTDT con
        client.sendall(encode_apdu(IFrame(ns=0, nr=0, asdu=interrogation)))
        client.sendall(bytes.fromhex("680443000000"))  # TESTFR act: its con comes after the answers
        received = b""
        while not received.endswith(bytes.fromhex("680483000000")):
            chunk = client.recv(65536)
            assert chunk, "the outstation closed"
            received += chunk
        return client

    _live_session(tmp_path, "iec104", "iec104", session)


def test_live_capture_finds_every_frame_of_an_imb_session(tmp_path: Path) -> None:
    def session(port: int) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        assert client.recv(1)  # the hub's greeting
        client.sendall(encode_command(SetClientInfo(owner_id=1, owner_name="live test")))
        client.sendall(encode_command(Subscribe(event_id=1, event_entry_type=0, event_name="demo.live")))
        client.sendall(encode_command(Publish(event_id=2, event_entry_type=0, event_name="demo.live")))
        return client

    _live_session(tmp_path, "imb", "imb", session)


def _cli_with_testfr(port: int, argv: list[str]) -> int:
    """Run ``otwire inspect -i lo ARGV`` in a thread, exchanging TESTFR until it stops; return its exit code."""
    result: list[int] = []
    cli = threading.Thread(target=lambda: result.append(main(["inspect", "-i", "lo", "--port", str(port), *argv])))
    cli.start()
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
        for _ in range(int(WAIT / 0.2)):  # the capture opens at some point: exchange until it stops
            client.sendall(bytes.fromhex("680443000000"))  # TESTFR act
            assert _recv_exactly(client, 6) == bytes.fromhex("680483000000")
            cli.join(0.2)
            if not cli.is_alive():
                break
    cli.join(WAIT)
    assert len(result) == 1
    return result[0]


def test_live_cli_stops_after_count(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    child, port = _start("iec104", tmp_path / "iec104.pcap")
    try:
        code = _cli_with_testfr(port, ["-c", "2", "--format", "jsonl", "--duration", "30"])
    finally:
        _stop(child)
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all('"u_function":"TESTFR_' in line for line in lines)


def test_live_cli_filters_and_writes_a_pcap(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    child, port = _start("iec104", tmp_path / "iec104.pcap")
    kept = tmp_path / "kept.pcap"
    try:
        argv = ["-Y", 'u_function == "TESTFR_CON"', "-c", "3", "-w", str(kept), "--format", "jsonl", "--no-summary"]
        code = _cli_with_testfr(port, argv)
    finally:
        _stop(child)
    live = capsys.readouterr().out.splitlines()
    assert code == 0 and len(live) == 3
    assert main(["inspect", str(kept), "--port", str(port), "--format", "jsonl", "--no-summary"]) == 0
    again = capsys.readouterr().out.splitlines()
    assert len(again) == 3 and all('"u_function":"TESTFR_CON"' in line for line in again)


def test_live_capture_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["inspect", "-i", "nosuch-if0", "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot capture there" in err and len(err.splitlines()) == 1


def test_ctrl_c_ends_a_live_capture_with_its_summary(tmp_path: Path) -> None:
    child, port = _start("iec104", tmp_path / "iec104.pcap")
    capture = subprocess.Popen(
        [sys.executable, "-m", "otwire", "inspect", "-i", "lo", "--port", str(port), "--format", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert capture.stderr is not None and capture.stdout is not None
        assert capture.stderr.readline().strip() == "capturing on lo"
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
            client.sendall(bytes.fromhex("680443000000"))  # TESTFR act
            assert _recv_exactly(client, 6) == bytes.fromhex("680483000000")
            lines = [capture.stdout.readline(), capture.stdout.readline()]  # both APDUs, printed as they came
        capture.send_signal(signal.SIGINT)
        out, err = capture.communicate(timeout=WAIT)
    finally:
        capture.kill()
        _stop(child)
    assert capture.returncode == 0, err
    assert ['"u_function":"TESTFR_ACT"' in lines[0], '"u_function":"TESTFR_CON"' in lines[1]] == [True, True]
    assert '"APDUs": 2' in err and out == ""
