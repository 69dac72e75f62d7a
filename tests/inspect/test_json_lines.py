"""JSON lines written as text (``_json_lines.TextLines``, ``apdu_json_text``) are byte-equal to
msgspec's encoding of the same rows' dicts, which stays the definition of ``--format jsonl``."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from contextlib import nullcontext
from importlib import resources
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_iec104_json import FIXED, frames

from otwire.codecs.iec104 import decode_apdu
from otwire.errors import DecodeError
from otwire.inspect import read, row_json
from otwire.inspect._iec104_text import float_text, json_text
from otwire.inspect._json_lines import TextLines
from otwire.inspect.dissect import default_ports, dissect, dissect_parts, found_rows
from otwire.inspect.files import SAMPLES
from otwire.inspect.iec104 import apdu_json, apdu_json_text
from otwire.inspect.model import Finding
from otwire.inspect.records import Flow, Row, Sender
from otwire.inspect.render import Summary, write_jsonl, write_jsonl_parts

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
_encode = msgspec.json.encode


@pytest.mark.parametrize("type_id", FIXED)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_compiled_text_equals_the_encoded_general_view(type_id: int, data: st.DataObject) -> None:
    frame = data.draw(frames(type_id))
    try:
        apdu = decode_apdu(frame)
    except DecodeError:
        return  # the dissector makes such a frame an error finding: never written as text
    text = apdu_json_text(Finding("apdu", 0, frame, apdu))
    assert text is not None
    assert ("{" + text + "}").encode() == _encode(apdu_json(apdu))


@given(st.integers(0, 32767), st.booleans())
def test_s_frames_as_text_and_u_frames_left_to_the_dict(nr: int, u_frame: bool) -> None:
    frame = bytes([0x68, 4, 0x03 if u_frame else 0x01, 0]) + struct.pack("<H", nr << 1)
    if u_frame:
        frame = bytes([0x68, 4, 0x43, 0, 0, 0])  # STARTDT act
    finding = Finding("apdu", 0, frame, decode_apdu(frame))
    text = apdu_json_text(finding)
    if u_frame:
        assert text is None
    else:
        assert ("{" + str(text) + "}").encode() == _encode(apdu_json(finding.message))


@given(st.floats(allow_nan=False, allow_infinity=False) | st.floats(width=32) | st.sampled_from([1e16, 1e-5, -0.0]))
def test_float_text_is_msgspec_text(value: float) -> None:
    assert float_text(value).encode() == _encode(value)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_text_line_equals_the_encoded_row(name: str) -> None:
    with resources.as_file(SAMPLE_DIR / name) as path:
        rows = list(read(path))
    lines = TextLines("sample.pcap")
    written = 0
    for row in rows:
        line = lines.line(row)
        if line is not None:
            written += 1
            assert line.encode() == _encode(row_json(row, "sample.pcap")), row
    if any(r.protocol == "iec104" and r.kind == "apdu" for r in rows):
        assert written  # the IEC 104 samples do go through the text path


def test_rows_without_time_or_with_a_source_beyond_ascii() -> None:
    flow = Flow("10.0.0.1", 2404, "10.0.0.2", 50000)
    frame = bytes([0x68, 4, 0x01, 0, 0x0A, 0])
    finding = Finding("apdu", 0, frame, decode_apdu(frame))
    row = Row("apdu", None, None, flow, Sender.SERVER, "iec104", finding, stream=None)
    lines = TextLines("f.pcap")
    timed = Row("apdu", 1.5, 7, flow, Sender.SERVER, "iec104", finding, stream=None)
    same_time = Row("apdu", 1.5, 8, flow, Sender.SERVER, "iec104", finding, stream=None)
    other = Row("apdu", None, None, flow, Sender.CLIENT, "iec104", finding, stream=2)
    for each in (row, timed, same_time, row, other):
        line = lines.line(each)  # the lead follows every change of time, packet, sender and stream
        assert line is not None and line.encode() == _encode(row_json(each, "f.pcap"))
    assert TextLines("\u00e9t\u00e9.pcap").line(row) is None  # json.dumps escapes it: the dict path writes it
    out = io.StringIO()
    write_jsonl([row, row], "\u00e9t\u00e9.pcap", out, batch=2)
    assert out.getvalue().splitlines()[0].startswith('{"source":"\\u00e9t\\u00e9.pcap"')
    assert json_text("x") == '"x"'


def _bench_capture(tmp_path: Path) -> Path:
    """A small capture of the benchmark's mixed kind: IEC 104 with several APDUs per segment, IMB, i3X, XMPP."""
    path = tmp_path / "mixed.pcap"
    code = f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import inspect_tshark; inspect_tshark.write_mixed("
    subprocess.run([sys.executable, "-c", f"{code}__import__('pathlib').Path({str(path)!r}), 600)"], check=True)
    return path


@pytest.mark.parametrize("name", [*SAMPLES, "mixed"])
def test_parts_write_the_lines_and_counts_of_the_rows(name: str, tmp_path: Path) -> None:
    """``dissect_parts`` + ``write_jsonl_parts`` (the CLI's path) write what the rows one by one write, and count it."""
    with resources.as_file(SAMPLE_DIR / name) if name != "mixed" else nullcontext(_bench_capture(tmp_path)) as path:
        ports = default_ports()
        by_rows, by_parts = io.StringIO(), io.StringIO()
        rows_summary, parts_summary = Summary(), Summary()
        write_jsonl(dissect(path, ports), "s", by_rows, batch=256, summary=rows_summary)
        parts = list(dissect_parts(path, ports))
        write_jsonl_parts(iter(parts), "s", by_parts, batch=256, summary=parts_summary)
    assert by_parts.getvalue() == by_rows.getvalue()
    assert parts_summary.as_json() == rows_summary.as_json()
    assert [row for part in parts for row in (part if isinstance(part, list) else found_rows(part))] == list(
        dissect(path, ports)
    )
    if name == "mixed":  # segments of several APDUs come as one part
        assert any(isinstance(part, tuple) and len(part[6]) > 1 for part in parts)
