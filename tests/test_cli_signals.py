"""``otwire serve`` and ``otwire client --record`` stop cleanly on SIGTERM, as on Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from otwire.inspect.capture import Data, StreamEnd, StreamStart, read_capture
from otwire.inspect.dissect import dissect

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
TIMEOUT = 60.0


class Command:
    """A running ``python -m otwire`` whose stdout lines are read in a thread."""

    def __init__(self, *argv: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "otwire", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str) -> re.Match[str]:
        """Return the match of the first stdout line matching ``pattern``."""
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            assert line is not None, f"exited before {pattern!r}: {self.seen} {self.stderr()}"
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=TIMEOUT)

    def stderr(self) -> str:
        return self.process.stderr.read() if self.process.stderr and self.process.poll() is not None else ""

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


@pytest.fixture
def commands() -> Iterator[list[Command]]:
    started: list[Command] = []
    yield started
    for command in started:
        command.kill()


def test_serve_stops_on_sigterm_and_closes_the_recording(tmp_path: Path, commands: list[Command]) -> None:
    record = tmp_path / "hub.pcap"
    hub = Command("serve", "imb-hub", "--port", "0", "--record", str(record))
    commands.append(hub)
    port = int(hub.wait_for(r"on 127\.0\.0\.1:(\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
        hub.wait_for(r": connected \(")
        assert hub.terminate() == 0
    assert "stopped" in "".join(hub.seen) + "".join(iter(hub.lines.get, None))
    records = [r for r in read_capture(record, {port}) if not isinstance(r, Data)]
    assert [type(r) for r in records] == [StreamStart, StreamEnd, StreamEnd]  # the recorder closed the session
    assert {r.reason for r in records if isinstance(r, StreamEnd)} == {"fin"}


def test_client_stops_on_sigterm_and_closes_the_recording(tmp_path: Path, commands: list[Command]) -> None:
    outstation = Command("serve", "iec104", "--port", "0")
    commands.append(outstation)
    port = int(outstation.wait_for(r"on 127\.0\.0\.1:(\d+)")[1])
    record = tmp_path / "client.pcap"
    client = Command("client", "iec104", "127.0.0.1", "--port", str(port), "--record", str(record))
    commands.append(client)
    client.wait_for(r"^ca=\d+ ioa=")  # the interrogation answers arrive
    assert client.terminate() == 0
    rows = list(dissect(record, {port: "iec104"}))
    assert sum(r.kind == "apdu" for r in rows) > 0
    assert any(isinstance(r, StreamEnd) and r.reason == "fin" for r in read_capture(record, {port}))
    assert outstation.terminate() == 0
