"""The compiled JSON and table views of IEC 104 I-frames equal the general ones
(``apdu_json``/``apdu_cells`` of ``decode_apdu(frame)``), the summary's counts read from the
octets equal those of the message, and a finding decoded on demand is vouched for by
``decodes`` only when its frame decodes."""

from __future__ import annotations

import struct

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otwire.codecs.iec104 import decode_apdu
from otwire.codecs.iec104.asdu import information_length
from otwire.codecs.iec104.layouts import LAYOUTS, element_size
from otwire.errors import DecodeError
from otwire.inspect._iec104_cells import compile_cells_view
from otwire.inspect._iec104_json import FLAT_OBJECTS, FLAT_VIEWS, FSTRING_FIELDS, CompiledViews, joined_fstring
from otwire.inspect._iec104_lazy import DecodedOnDemand, decodes
from otwire.inspect._iec104_text import compile_json_text
from otwire.inspect.iec104 import (
    VIEW,
    IEC104StreamDissector,
    _cot_name,
    _cp56_text_of,
    _iso_of,
    _type_name,
    apdu_cells,
    apdu_cells_of,
    apdu_counted,
    apdu_format,
    apdu_json,
    apdu_json_into,
    apdu_type_name,
    element_json,
    element_text,
)
from otwire.inspect.model import Finding

FIXED = sorted(int(t) for t, layout in LAYOUTS.items() if element_size(layout) is not None)


@st.composite
def frames(draw: st.DrawFn, type_id: int) -> bytes:
    """An I-frame of ``type_id``: random control field, header and information octets (mostly of the right size)."""
    sq = draw(st.booleans())
    size = information_length(type_id, sq, 1) or 3
    per = size - (3 if sq else 0) if sq else size
    most = (249 - 6 - (3 if sq else 0)) // max(per, 1) if per else 127
    n = draw(st.integers(0, min(127, most)))
    info_size = information_length(type_id, sq, n)
    assert info_size is not None
    info_size = min(243, max(0, info_size + draw(st.sampled_from([0, 0, 0, 0, 0, -1, 1, 3]))))  # now and then wrong
    info = draw(st.binary(min_size=info_size, max_size=info_size))
    ns, nr = draw(st.integers(0, 32767)), draw(st.integers(0, 32767))
    c3_bit0 = draw(st.sampled_from([0, 0, 0, 0, 0, 1]))  # reserved: the frame does not decode
    cot, oa, ca = draw(st.integers(0, 255)), draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFF))
    asdu = struct.pack("<BBBBH", type_id, n | (0x80 if sq else 0), cot, oa, ca) + info
    return struct.pack("<BBHH", 0x68, 4 + len(asdu), ns << 1, nr << 1 | c3_bit0) + asdu


@pytest.mark.parametrize("type_id", FIXED)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_compiled_view_equals_general_view(type_id: int, data: st.DataObject) -> None:
    frame = data.draw(frames(type_id))
    try:
        apdu = decode_apdu(frame)
    except DecodeError:
        assert not decodes(frame)  # the dissector decodes such a frame at once (an error finding)
        return
    out: dict[str, object] = {"kind": "apdu"}
    apdu_json_into(Finding("apdu", 0, frame, apdu), out)
    expected = {"kind": "apdu", **apdu_json(apdu)}
    assert out == expected
    assert list(out) == list(expected)  # the key order is the JSON's
    assert apdu_counted(Finding("apdu", 0, frame, apdu)) == (apdu_format(apdu), apdu_type_name(apdu))
    assert apdu_cells_of(Finding("apdu", 0, frame, apdu)) == apdu_cells(apdu)
    [finding] = IEC104StreamDissector().feed(frame)
    assert (finding.kind, finding.message) == ("apdu", apdu)  # decoded on demand or at once, the same APDU
    if decodes(frame):
        assert type(finding) is DecodedOnDemand


@given(st.binary(min_size=4, max_size=253), st.sampled_from([None, *FIXED]))
def test_decodes_is_never_wrong(body: bytes, type_id: int | None) -> None:
    """Whatever the octets of a framed APDU, ``decodes`` vouches only for frames that decode."""
    if type_id is not None and len(body) > 4:
        body = body[:4] + bytes([type_id]) + body[5:]
    frame = bytes([0x68, len(body)]) + body
    if decodes(frame):
        apdu = decode_apdu(frame)
        [finding] = IEC104StreamDissector().feed(frame)
        assert finding.kind == "apdu"
        assert finding.message == apdu  # decoded on demand
        assert finding.message is finding.message  # once


@pytest.mark.parametrize(
    "frame",
    [
        bytes.fromhex("680401000200"),  # S-frame
        bytes.fromhex("680407000000"),  # STARTDT act
        bytes.fromhex("680e0000000082010300010001020304"),  # type 130: no layout, raw information
    ],
)
def test_other_frames_use_the_general_view(frame: bytes) -> None:
    apdu = decode_apdu(frame)
    [finding] = IEC104StreamDissector().feed(frame)
    assert type(finding) is Finding  # decoded at once
    assert finding.message == apdu
    out: dict[str, object] = {}
    apdu_json_into(finding, out)
    assert out == apdu_json(apdu)
    assert apdu_counted(finding) == (apdu_format(apdu), apdu_type_name(apdu))
    assert apdu_cells_of(finding) == apdu_cells(apdu)
    assert VIEW.json_into is apdu_json_into
    assert VIEW.counted is apdu_counted
    assert VIEW.cells_of is apdu_cells_of


def test_an_i_frame_of_a_fixed_type_is_decoded_on_demand() -> None:
    frame = bytes.fromhex("6812040000000d01030001001405000000c03f00")
    [finding] = IEC104StreamDissector().feed(frame)
    assert type(finding) is DecodedOnDemand
    assert finding.message == decode_apdu(frame)
    assert repr(finding).startswith("DecodedOnDemand(kind='apdu', offset=0, raw=")
    plain = Finding("apdu", 0, frame, decode_apdu(frame))
    assert finding == plain and plain == finding  # compared as the Finding it stands for, both ways
    assert finding != Finding("apdu", 1, frame, decode_apdu(frame)) and plain != Finding("junk", 0, frame)
    assert IEC104StreamDissector().feed(frame) == [plain]


def test_non_finite_r32_values_are_strings() -> None:
    for bits, text in ((0x7FC00000, "NaN"), (0x7F800000, "Infinity"), (0xFF800000, "-Infinity"), (0x7F800001, "NaN")):
        frame = bytes.fromhex("6812040000000d0103000100140500") + bits.to_bytes(4, "little") + b"\x00"
        apdu = decode_apdu(frame)
        out: dict[str, object] = {}
        apdu_json_into(Finding("apdu", 0, frame, apdu), out)
        elements = [{"element": "R32", "value": text}, {"element": "QDS", "quality": [], "reserved": 0}]
        assert out["objects"] == [{"ioa": 0x000514, "elements": elements}]
        assert out == apdu_json(apdu)


@pytest.mark.parametrize("type_id", FIXED)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_views_compiled_per_vsq_octet_equal_the_views_with_a_loop(type_id: int, data: st.DataObject) -> None:
    """The views written for one VSQ octet (no loop over the objects) give what the type's views give."""
    frame = data.draw(frames(type_id))
    try:
        apdu = decode_apdu(frame)
    except DecodeError:
        return
    vsq, names = frame[7], (_type_name, _cot_name)
    flat_text = compile_json_text(type_id, element_json, names, _iso_of, vsq)
    flat_cells = compile_cells_view(type_id, element_text, names, _cp56_text_of, vsq)
    if not 0 < vsq & 0x7F <= FLAT_OBJECTS:
        assert flat_text is None and flat_cells is None  # the views with a loop write these frames
        return
    text = compile_json_text(type_id, element_json, names, _iso_of)
    cells = compile_cells_view(type_id, element_text, names, _cp56_text_of)
    assert flat_text is not None and flat_cells is not None and text is not None and cells is not None
    assert flat_text(frame) == text(frame)
    assert ("{" + flat_text(frame) + "}").encode() == msgspec.json.encode(apdu_json(apdu))
    assert flat_cells(frame) == cells(frame) == apdu_cells(apdu)


def test_compiled_views_are_bounded_then_the_types_view_serves() -> None:
    """At most FLAT_VIEWS per-VSQ views are compiled; later keys, and keys without one, get the type's view."""
    calls: list[tuple[int, int | None]] = []

    def compiler(type_id: int, vsq: int | None) -> str | None:
        calls.append((type_id, vsq))
        return None if vsq == 0 else f"{type_id}:{vsq}"

    views: CompiledViews[str] = CompiledViews(compiler)
    got = {(t, vsq): views.view(t, vsq) for t in (1, 2, 3) for vsq in range(256)}
    flat = [key for key, view in got.items() if view == f"{key[0]}:{key[1]}"]
    assert len(flat) == FLAT_VIEWS  # the first ones asked for, in order
    assert flat == [key for key in got if key[1] != 0][:FLAT_VIEWS]
    assert all(got[key] == f"{key[0]}:None" for key in got if key not in flat)
    assert sorted(c for c in calls if c[1] is None) == [(1, None), (2, None), (3, None)]  # each type's once
    assert views.by_key[3 << 8 | 255] == "3:None" and len(views.by_key) == 3 * 256


def test_joined_fstring_is_the_same_text_in_pieces() -> None:
    """Long generated f-strings are joined from pieces of FSTRING_FIELDS fields at most: the same text."""
    body = "".join(f'{{{{"k{i}":{{v[{i}]}}}}}},' for i in range(2 * FSTRING_FIELDS + 3))  # {"ki":v[i]}, ...
    source = joined_fstring(body)
    assert source.startswith("''.join((") and source.count("f'") == 3
    v = list(range(100, 200))
    assert eval(source) == eval(f"f'{body}'") == "".join(f'{{"k{i}":{v[i]}}},' for i in range(2 * FSTRING_FIELDS + 3))
    assert joined_fstring("{v[0]}-{{x}}") == "f'{v[0]}-{{x}}'"
