"""JSON lines written as text (``_json_lines.TextLines``, ``apdu_json_text``) are byte-equal to
msgspec's encoding of the same rows' dicts, which stays the definition of ``--format jsonl``."""

from __future__ import annotations

import io
import struct
from importlib import resources

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
from otwire.inspect.files import SAMPLES
from otwire.inspect.iec104 import apdu_json, apdu_json_text
from otwire.inspect.model import Finding
from otwire.inspect.records import Flow, Row, Sender
from otwire.inspect.render import write_jsonl

SAMPLE_DIR = resources.files("otwire.inspect") / "samples"
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
