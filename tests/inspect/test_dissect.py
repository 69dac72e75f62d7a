"""Dissectors see whole conversations; the table has each protocol's own columns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from otwire import registry
from otwire.cli import main
from otwire.codecs.iec104 import UFrame, UFunction, encode_apdu
from otwire.codecs.imb import SetClientInfo, encode_command
from otwire.inspect.dissect import dissect
from otwire.inspect.model import Column, Finding, ProtocolView
from otwire.inspect.records import Sender
from otwire.transports import Direction
from otwire.transports.record import PcapRecorder


class RequestResponse:
    """A toy conversation dissector: each server line is reported with the client line it answers."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.offset = {Sender.CLIENT: 0, Sender.SERVER: 0}

    def feed(self, sender: Sender, data: bytes) -> Iterator[Finding]:
        offset, self.offset[sender] = self.offset[sender], self.offset[sender] + len(data)
        if sender is Sender.CLIENT:
            self.requests.append(data)
            return iter(())
        request = self.requests.pop(0) if self.requests else b"?"
        yield Finding("apdu", 0, request, message=(request, data), sender=Sender.CLIENT)
        yield Finding("apdu", offset, data, message=(request, data))

    def end(self, sender: Sender) -> Iterator[Finding]:
        if sender is Sender.CLIENT and self.requests:
            yield Finding("junk", 0, b"".join(self.requests), error="unanswered")
            self.requests.clear()


TOY_VIEW = ProtocolView(
    json=lambda m: {"request": m[0].decode(), "response": m[1].decode()},
    columns=(Column("request", 8), Column("response")),
    cells=lambda m: (m[0].decode(), m[1].decode()),
    format=lambda m: "RR",
    type_name=lambda m: None,
)


@pytest.fixture
def toy_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = registry.ProtocolEntry(
        name="toy", title="Toy", default_port=7000, dissector=f"{__name__}:RequestResponse", view=f"{__name__}:TOY_VIEW"
    )
    monkeypatch.setattr(registry, "PROTOCOLS", MappingProxyType({**registry.PROTOCOLS, "toy": entry}))


def test_a_dissector_sees_both_directions(tmp_path: Path, toy_protocol: None) -> None:
    path = tmp_path / "toy.pcap"
    with PcapRecorder(path, local=("10.0.0.1", 50000), remote=("10.0.0.2", 7000)) as recorder:
        recorder.record(Direction.OUT, b"GET", timestamp=1.0)
        recorder.record(Direction.IN, b"200", timestamp=2.0)
        recorder.record(Direction.OUT, b"PUT", timestamp=3.0)
    rows = list(dissect(path, {7000: "toy"}))
    found = [(r.kind, r.sender, r.finding.message if r.finding else None) for r in rows]
    assert found == [
        ("apdu", Sender.CLIENT, (b"GET", b"200")),
        ("apdu", Sender.SERVER, (b"GET", b"200")),
        ("junk", Sender.CLIENT, None),  # the unanswered PUT, at the client's FIN
    ]
    assert all(r.protocol == "toy" for r in rows)


def test_each_protocol_has_its_own_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "both.pcap"
    with PcapRecorder(path) as recorder:
        iec = recorder.session(("10.0.0.1", 50000), ("10.0.0.2", 2404), timestamp=1.0)
        iec.record(Direction.OUT, encode_apdu(UFrame(UFunction.STARTDT_ACT)), timestamp=1.0)
        imb = recorder.session(("10.0.0.1", 50001), ("10.0.0.3", 4000), timestamp=2.0)
        imb.record(Direction.OUT, encode_command(SetClientInfo(owner_id=1, owner_name="x")), timestamp=2.0)
        iec.record(Direction.IN, encode_apdu(UFrame(UFunction.STARTDT_CON)), timestamp=3.0)
    assert main(["inspect", "--no-summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    headers = [line for line in lines if line.startswith("time ")]
    assert len(headers) == 3  # iec104, imb, iec104 again
    assert "ns/nr" in headers[0] and "cot" in headers[0] and "event_kind" not in headers[0]
    assert "event_kind" in headers[1] and "ns/nr" not in headers[1]
    assert headers[2] == headers[0]
    imb_row = next(line for line in lines if "SET_CLIENT_INFO" in line)
    assert imb_row.index("SET_CLIENT_INFO") == headers[1].index("command")
