"""``otwire serve`` and ``otwire client --record`` stop cleanly on SIGTERM, as on Ctrl-C."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import OtwireProcess
from otwire.inspect.capture import Data, StreamEnd, StreamStart, read_capture
from otwire.inspect.dissect import dissect

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
TIMEOUT = 60.0


@pytest.fixture
def commands() -> Iterator[list[OtwireProcess]]:
    started: list[OtwireProcess] = []
    yield started
    for command in started:
        command.kill()


def test_serve_stops_on_sigterm_and_closes_the_recording(tmp_path: Path, commands: list[OtwireProcess]) -> None:
    record = tmp_path / "hub.pcap"
    hub = OtwireProcess("serve", "imb-hub", "--port", "0", "--record", str(record))
    commands.append(hub)
    port = int(hub.wait_for(r"on 127\.0\.0\.1:(\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
        hub.wait_for(r": connected \(")
        assert hub.terminate() == 0
    assert "stopped" in hub.rest()
    records = [r for r in read_capture(record, {port}) if not isinstance(r, Data)]
    assert [type(r) for r in records] == [StreamStart, StreamEnd, StreamEnd]  # the recorder closed the session
    assert {r.reason for r in records if isinstance(r, StreamEnd)} == {"fin"}


def test_client_stops_on_sigterm_and_closes_the_recording(tmp_path: Path, commands: list[OtwireProcess]) -> None:
    outstation = OtwireProcess("serve", "iec104", "--port", "0")
    commands.append(outstation)
    port = int(outstation.wait_for(r"on 127\.0\.0\.1:(\d+)")[1])
    record = tmp_path / "client.pcap"
    client = OtwireProcess("client", "iec104", "127.0.0.1", "--port", str(port), "--record", str(record))
    commands.append(client)
    client.wait_for(r"^ca=\d+ ioa=")  # the interrogation answers arrive
    assert client.terminate() == 0
    rows = list(dissect(record, {port: "iec104"}))
    assert sum(r.kind == "apdu" for r in rows) > 0
    assert any(isinstance(r, StreamEnd) and r.reason == "fin" for r in read_capture(record, {port}))
    assert outstation.terminate() == 0
