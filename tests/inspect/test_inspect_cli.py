"""otwire inspect end to end: real captures, output formats, exit codes."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from otwire.cli import main
from otwire.codecs.iec104 import (
    ASDU,
    IFrame,
    InformationObject,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
    encode_apdu,
)
from otwire.codecs.iec104 import elements as el
from otwire.inspect.dissect import Row, dissect
from otwire.inspect.files import SAMPLES

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"
DATA = Path(__file__).parent.parent / "data"


def _rows(path: Path | str, ports: dict[int, str] | None = None, proto: str | None = None) -> list[Row]:
    return list(dissect(path, ports or {2404: "iec104"}, proto=proto))


def _kinds(rows: list[Row]) -> Counter[str]:
    return Counter(row.kind for row in rows)


@pytest.mark.parametrize(
    ("name", "apdus"),
    [("iti_090813_diverse.pcap", 86), ("iti_JavaRMI_and_IEC_Misc.pcap", 235)],
)
def test_iti_captures_decode_completely(name: str, apdus: int) -> None:
    with resources.as_file(SAMPLE_DIR / name) as path:
        kinds = _kinds(_rows(path))
    assert kinds["apdu"] == apdus
    assert kinds["error"] == 0
    assert kinds["junk"] == 0


def test_torture_capture_reports_junk_and_length_errors_and_goes_on() -> None:
    with resources.as_file(SAMPLE_DIR / "iti_TestDissectIec104.pcap") as path:
        rows = _rows(path)
    kinds = _kinds(rows)
    errors = [r.finding.error for r in rows if r.kind == "error" and r.finding]
    assert kinds["junk"] > 0
    assert any("length 2 outside 4..253" in e for e in errors)
    assert any("length 1 outside" in e for e in errors)
    assert any("I-frame without ASDU" in e for e in errors)
    # decoding carries on after each problem: APDUs follow the last error
    last_error = max(i for i, r in enumerate(rows) if r.kind == "error")
    assert any(r.kind == "apdu" for r in rows[last_error:])
    # the undefined type 26 and negative/test COTs are not lost
    asdus = [r.finding.message.asdu for r in rows if r.kind == "apdu" and isinstance(r.finding.message, IFrame)]
    assert any(a.negative and a.test for a in asdus)


def test_pcapng_with_sq1_sequence() -> None:
    rows = _rows(DATA / "automayt_IEC104_SQ.pcapng")
    asdus = [r.finding.message.asdu for r in rows if r.kind == "apdu" and isinstance(r.finding.message, IFrame)]
    assert asdus and all(a.sq and a.type_id == TypeId.M_SP_NA_1 for a in asdus)
    assert any(a.number == 16 for a in asdus)
    assert all(len(a.objects) == a.number for a in asdus)


def _sample_frames() -> list[bytes]:
    asdu = ASDU(
        type_id=TypeId.M_SP_NA_1,
        cot=3,
        common_address=7,
        objects=(InformationObject(5, (el.SIQ(spi=True),)),),
    )
    return [
        encode_apdu(UFrame(UFunction.STARTDT_ACT)),
        encode_apdu(IFrame(0, 0, asdu)),
        encode_apdu(SFrame(1)),
    ]


def test_hex_dump_one_apdu_per_line_with_a_bad_line(tmp_path: Path) -> None:
    frames = _sample_frames()
    lines = [
        "# a comment",
        frames[0].hex(" "),
        "68 02 01 00",
        frames[1].hex(),
        "",
        frames[2].hex(":"),
    ]
    path = tmp_path / "dump.txt"
    path.write_text("\n".join(lines) + "\n")
    rows = _rows(path, proto="iec104")
    decoded = [r.finding.message for r in rows if r.kind == "apdu"]
    assert decoded == [UFrame(UFunction.STARTDT_ACT), IFrame(0, 0, decoded[1].asdu), SFrame(1)]
    assert _kinds(rows)["error"] == 1


def test_raw_stream_file(tmp_path: Path) -> None:
    path = tmp_path / "stream.bin"
    path.write_bytes(b"".join(_sample_frames()) * 3)
    assert _kinds(_rows(path, proto="iec104"))["apdu"] == 9


def test_jsonl_keys_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stream.bin"
    path.write_bytes(b"".join(_sample_frames()))
    assert main(["inspect", "--format", "jsonl", "--proto", "iec104", str(path)]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["format"] for r in records] == ["U", "I", "S"]
    i_frame = records[1]
    assert i_frame["type"] == "M_SP_NA_1" and i_frame["type_id"] == 1
    assert i_frame["cot"] == 3 and i_frame["cot_name"] == "SPONTANEOUS" and i_frame["common_address"] == 7
    assert i_frame["objects"] == [
        {"ioa": 5, "elements": [{"element": "SIQ", "spi": True, "quality": [], "reserved": 0}]}
    ]
    assert records[0]["u_function"] == "STARTDT_ACT" and records[2]["nr"] == 1
    summary = json.loads(err)["summary"][str(path)]
    assert summary["counts"]["APDUs"] == 3


def test_default_runs_on_bundled_samples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect"]) == 0
    out = capsys.readouterr().out
    for name in SAMPLES:
        assert f"== {name}" in out
    assert "C_SC_TA_1" in out and "year=109" in out
    assert "summary: iti_090813_diverse.pcap" in out


def test_extra_port(tmp_path: Path) -> None:
    dpkt = pytest.importorskip("dpkt")  # a runtime dependency; always present
    path = tmp_path / "port.pcap"
    frame = encode_apdu(UFrame(UFunction.TESTFR_ACT))
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        tcp = dpkt.tcp.TCP(sport=40000, dport=2405, seq=1, flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, data=frame)
        ip = dpkt.ip.IP(src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", p=dpkt.ip.IP_PROTO_TCP, data=tcp)
        ip.len = len(bytes(ip))
        writer.writepkt(bytes(dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6, data=ip)), ts=1.0)
    assert _kinds(_rows(path))["apdu"] == 0  # and a notice says which port was seen
    assert _kinds(_rows(path, {2404: "iec104", 2405: "iec104"}))["apdu"] == 1


def test_missing_file_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path / "nope.pcap")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.pcap" in err
