"""``serve()`` of every server package: SIGTERM and SIGINT stop it cleanly and keep the ``--record`` capture.

Each test runs ``serve`` in a child process, reads its stdout until the banner names the
port, talks to it, sends the signal, and checks the exit status and the capture.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from otwire.errors import InvalidArgument
from otwire.inspect.dissect import dissect

WAIT = 10.0
CHILD = "import sys; from otwire.servers.{package} import serve; sys.exit(serve('127.0.0.1', 0, record=sys.argv[1]))"


def start(package: str, capture: Path) -> tuple[subprocess.Popen[str], int, list[str]]:
    """Start ``serve`` of ``package`` in a child; return it, its port and the banner lines read."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(package=package), str(capture)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert child.stdout is not None
    lines: list[str] = []
    while (line := child.stdout.readline()) != "":
        lines.append(line)
        found = re.search(r" on 127\.0\.0\.1:(\d+)", line)
        if found:
            return child, int(found.group(1)), lines
    child.kill()
    raise AssertionError(f"no banner: {lines} {child.communicate()}")


def stop(child: subprocess.Popen[str], signum: signal.Signals) -> str:
    child.send_signal(signum)
    try:
        out, err = child.communicate(timeout=WAIT)
    finally:
        child.kill()
    assert child.returncode == 0, err
    return out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_iec104_serve_stops_on_a_signal_and_keeps_the_capture(tmp_path: Path, signum: signal.Signals) -> None:
    capture = tmp_path / "iec104.pcap"
    child, port, _ = start("iec104", capture)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
        client.sendall(bytes.fromhex("680407000000"))  # STARTDT act
        assert client.recv(6) == bytes.fromhex("68040b000000")  # STARTDT con
        out = stop(child, signum)
    assert "stopped" in out
    rows = [r for r in dissect(capture, {port: "iec104"}) if r.kind == "apdu"]
    assert len(rows) >= 2 and "STARTDT" in " ".join(str(r.finding) for r in rows)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_imb_serve_stops_on_a_signal_and_keeps_the_capture(tmp_path: Path, signum: signal.Signals) -> None:
    capture = tmp_path / "imb.pcap"
    child, port, _ = start("imb", capture)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
        assert client.recv(1)  # the hub's greeting (unique client id)
        out = stop(child, signum)
    assert "stopped" in out
    rows = [r for r in dissect(capture, {port: "imb"}) if r.kind not in {"error", "junk", "gap"}]
    assert rows, "the capture holds the session"


@pytest.mark.parametrize("package", ["iec104", "imb"])
def test_serve_refuses_a_port_out_of_range(package: str) -> None:
    module = __import__(f"otwire.servers.{package}", fromlist=["serve"])
    for port in (-1, 65536):
        with pytest.raises(InvalidArgument):
            module.serve("127.0.0.1", port, duration=0.01)
