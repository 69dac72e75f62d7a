"""``otwire.inspect.read``: the library API, and ``python -m otwire``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

import otwire.inspect
from otwire.cli import main
from otwire.codecs.iec104 import R32, IFrame, UFrame, UFunction, encode_apdu
from otwire.errors import InvalidArgument, InvalidArgumentType
from otwire.inspect.capture import CaptureError
from otwire.inspect.files import SAMPLES
from otwire.inspect.iec104 import element_json
from otwire.transports import Direction
from otwire.transports.record import PcapRecorder

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"


@pytest.mark.parametrize("name", SAMPLES)
def test_read_gives_the_records_of_the_json_output(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with resources.as_file(SAMPLE_DIR / name) as path:
        rows = list(otwire.inspect.read(path))
        assert main(["inspect", "--format", "jsonl", "--no-summary", str(path)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [otwire.inspect.row_json(row, str(path)) for row in rows] == printed
    assert Counter(r.kind for r in rows)["apdu"] >= 10  # the XEP-0323 sample has 10 stanzas


def test_read_samples_decode() -> None:
    with resources.as_file(SAMPLE_DIR / "iti_090813_diverse.pcap") as path:
        rows = list(otwire.inspect.read(path))
    messages = [row.finding.message for row in rows if row.finding and row.kind == "apdu"]
    assert sum(isinstance(m, IFrame) for m in messages) > 40
    assert all(isinstance(row, otwire.inspect.Row) for row in rows)


def test_short_float_elements_show_their_value() -> None:
    """M_ME_NC_1's R32 shows the float ``value`` in the JSON (not its bits), as before R32 kept bits."""
    with resources.as_file(SAMPLE_DIR / "iti_090813_diverse.pcap") as path:
        rows = [otwire.inspect.row_json(row, str(path)) for row in otwire.inspect.read(path)]
    first = next(r for r in rows if r.get("type") == "M_ME_NC_1")
    assert first["objects"][0] == {
        "ioa": 1300,
        "elements": [{"element": "R32", "value": 30.0}, {"element": "QDS", "quality": [], "reserved": 0}],
    }
    assert first["objects"][1]["elements"][0] == {"element": "R32", "value": 708.0}
    assert element_json(R32(bits=0x7FC00001)) == {"element": "R32", "value": "NaN"}
    assert element_json(R32(value=-12.5)) == {"element": "R32", "value": -12.5}


def test_read_ports_and_proto(tmp_path: Path) -> None:
    path = tmp_path / "moved.pcap"
    with PcapRecorder(path, local=("10.0.0.1", 50000), remote=("10.0.0.2", 2405)) as recorder:
        recorder.record(Direction.OUT, encode_apdu(UFrame(UFunction.TESTFR_ACT)), timestamp=1.0)
    assert [r.kind for r in otwire.inspect.read(path)] == ["notice"]
    rows = list(otwire.inspect.read(path, ports={2405: "iec104"}))
    assert [(r.kind, r.protocol) for r in rows] == [("apdu", "iec104")]
    raw = tmp_path / "stream.bin"
    raw.write_bytes(encode_apdu(UFrame(UFunction.TESTFR_ACT)))
    with pytest.raises(CaptureError, match="--proto"):
        list(otwire.inspect.read(raw))
    assert [r.finding.message for r in otwire.inspect.read(raw, proto="iec104") if r.finding] == [
        UFrame(UFunction.TESTFR_ACT)
    ]


def test_python_dash_m_otwire() -> None:
    with resources.as_file(SAMPLE_DIR / "otwire_imb_hub.pcap") as path:
        done = subprocess.run(
            [sys.executable, "-m", "otwire", "inspect", "--no-summary", str(path)], capture_output=True, text=True
        )
    assert done.returncode == 0 and "SET_CLIENT_INFO" in done.stdout and done.stderr == ""
    version = subprocess.run([sys.executable, "-m", "otwire", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("otwire ")


@pytest.mark.parametrize(
    ("ports", "error"),
    [
        ({-1: "iec104"}, InvalidArgument),
        ({0: "iec104"}, InvalidArgument),
        ({65536: "iec104"}, InvalidArgument),
        ({2405: "nope"}, InvalidArgument),
        ({"2405": "iec104"}, InvalidArgumentType),
        ({True: "iec104"}, InvalidArgumentType),
        ([2405], InvalidArgumentType),
    ],
)
def test_read_validates_ports(tmp_path: Path, ports: object, error: type[Exception]) -> None:
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    with pytest.raises(error):
        otwire.inspect.read(path, ports=ports)  # type: ignore[arg-type]
