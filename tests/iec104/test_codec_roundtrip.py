"""Round trips, fast path == schema path, and compiled == interpreted schemas (specs/pattern.md "Engines" rule 6).

Every type identification of ``LAYOUTS`` is a parameter with SQ=0 and SQ=1, so
each shows in the report. Those 268 tests share the profile's budget: each runs
``max_examples // 10`` examples (15 under ``ci``, 2000 under ``fuzz``).
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otwire.codecs import iec104 as c
from otwire.codecs._base import SCHEMA_ERRORS
from otwire.codecs.iec104 import _schema
from otwire.errors import DecodeError, EncodeError
from strategies.iec104 import (
    ELEMENT_SIZE,
    F_SG_NA_1,
    HEADER,
    IOA,
    apdu_frames,
    apdus,
    asdu_octets,
    asdus,
    iframe_octets,
    known_asdus,
    mutated,
    mutated_frames,
)

PER_TYPE = settings(max_examples=max(5, settings.default.max_examples // 10))
CASES = [pytest.param(t, sq, id=f"{c.TypeId(t).name}-SQ{int(sq)}") for t in sorted(c.LAYOUTS) for sq in (False, True)]
_SEQ = st.integers(0, 32767)


def assert_same(a: Any, b: Any) -> None:
    """Equal messages; NaN != NaN, so also compare ``repr`` and the encoded octets."""
    assert repr(a) == repr(b)
    assert c.encode_apdu(a) == c.encode_apdu(b)
    assert a == b or "nan" in repr(a)


def outcome(decode: Any, frame: bytes) -> Any:
    """The decoded APDU, or the DecodeError (any other exception propagates)."""
    try:
        return decode(frame)
    except DecodeError as exc:
        return exc


def assert_paths_agree(frame: bytes) -> None:
    """``decode_apdu`` and ``decode_apdu_schema``: equal results, or both DecodeError."""
    fast, slow = outcome(c.decode_apdu, frame), outcome(c.decode_apdu_schema, frame)
    if isinstance(fast, DecodeError) or isinstance(slow, DecodeError):
        assert isinstance(fast, DecodeError), (frame.hex(), fast, slow)
        assert isinstance(slow, DecodeError), (frame.hex(), fast, slow)
        assert 0 <= fast.offset <= len(frame)
    else:
        assert_same(fast, slow)


def expected_asdu_length(asdu: c.ASDU) -> int:
    """Octets of ``asdu`` from the sizes in the research notes (not from the codec)."""
    n, size = len(asdu.objects), ELEMENT_SIZE[int(asdu.type_id)]
    if n == 0:
        return HEADER
    if size is None:
        size_sum = sum(4 + len(o.elements[2].data) for o in asdu.objects)
        return HEADER + size_sum + IOA * (1 if asdu.sq else n)
    return HEADER + (IOA + n * size if asdu.sq else n * (IOA + size))


def test_layouts_cover_the_type_table() -> None:
    assert set(c.LAYOUTS) == set(ELEMENT_SIZE)
    assert F_SG_NA_1 in c.LAYOUTS


@pytest.mark.parametrize(("type_id", "sq"), CASES)
@PER_TYPE
@given(data=st.data())
def test_message_round_trip(type_id: int, sq: bool, data: st.DataObject) -> None:
    asdu = data.draw(known_asdus(type_id, sq, max_count=8), label="asdu")
    apdu = c.IFrame(data.draw(_SEQ), data.draw(_SEQ), asdu)
    frame = c.encode_apdu(apdu)
    assert len(frame) == 6 + expected_asdu_length(asdu)
    assert frame[:2] == bytes([0x68, len(frame) - 2])
    assert frame[6:8] == bytes([type_id, len(asdu.objects) | (0x80 if sq else 0)])
    decoded = c.decode_apdu(frame)
    assert isinstance(decoded.asdu.type_id, c.TypeId)
    assert type(decoded.asdu.cot) is type(asdu.cot)
    assert_same(decoded, apdu)
    assert c.encode_apdu(decoded) == frame
    assert_same(c.decode_apdu_schema(frame), apdu)
    assert c.encode_asdu(c.decode_asdu(frame[6:])) == frame[6:]


@pytest.mark.parametrize(("type_id", "sq"), CASES)
@PER_TYPE
@given(data=st.data())
def test_octets_round_trip(type_id: int, sq: bool, data: st.DataObject) -> None:
    asdu = data.draw(asdu_octets(type_id, sq), label="asdu octets")
    frame = iframe_octets(asdu, data.draw(_SEQ), data.draw(_SEQ))
    apdu = c.decode_apdu(frame)
    assert c.encode_apdu(apdu) == frame
    assert (apdu.asdu.number, apdu.asdu.sq) == (asdu[1] & 0x7F, sq)
    assert c.encode_asdu(c.decode_asdu(asdu)) == asdu
    assert_paths_agree(frame)
    assert_paths_agree(data.draw(mutated(st.just(frame)), label="mutant"))


@given(apdus())
def test_any_apdu_round_trip(apdu: c.IFrame | c.SFrame | c.UFrame) -> None:
    frame = c.encode_apdu(apdu)
    assert_same(c.decode_apdu(frame), apdu)
    assert_same(c.decode_apdu_schema(frame), apdu)
    assert c.encode_apdu(c.decode_apdu(frame)) == frame


@given(apdus())
def test_fast_apci_encoders_equal_encode_apdu(apdu: c.IFrame | c.SFrame | c.UFrame) -> None:
    """The engine's encoders (encode_iframe/sframe/uframe) build what the schema of record builds."""
    match apdu:
        case c.IFrame(ns=ns, nr=nr, asdu=asdu):
            fast = c.encode_iframe(ns, nr, c.encode_asdu(asdu))
        case c.SFrame(nr=nr):
            fast = c.encode_sframe(nr)
        case c.UFrame(function=function):
            fast = c.encode_uframe(function)
    assert fast == c.encode_apdu(apdu)


@pytest.mark.parametrize(
    "build",
    [
        lambda: c.encode_iframe(32768, 0, b"\x01" * 6),
        lambda: c.encode_iframe(0, -1, b"\x01" * 6),
        lambda: c.encode_iframe(0, 0, b""),
        lambda: c.encode_iframe(0, 0, b"\x01" * 250),
        lambda: c.encode_sframe(32768),
        lambda: c.encode_sframe(-1),
        lambda: c.encode_sframe(1.0),  # type: ignore[arg-type]
        lambda: c.encode_iframe(0, "1", b"\x01" * 6),  # type: ignore[arg-type]
        lambda: c.encode_uframe(0x05),  # type: ignore[arg-type]
        lambda: c.encode_uframe("STARTDT"),  # type: ignore[arg-type]
    ],
)
def test_fast_apci_encoders_refuse_bad_fields(build: Any) -> None:
    with pytest.raises(EncodeError):
        build()


@given(mutated_frames())
def test_paths_agree_on_mutated_frames(frame: bytes) -> None:
    assert_paths_agree(frame)


@given(st.binary(max_size=300))
def test_paths_agree_on_random_octets(frame: bytes) -> None:
    assert_paths_agree(frame)


@given(st.binary(min_size=4, max_size=253))
def test_paths_agree_on_random_bodies(body: bytes) -> None:
    assert_paths_agree(bytes([0x68, len(body)]) + body)


def test_unknown_type_number_zero_keeps_raw_information() -> None:
    """Regression: the schema path used to reject what the fast path keeps as raw octets."""
    # I-frame, type 26 (reserved), SQ=0 N=0, COT 6, CA 1, two octets of information
    frame = bytes.fromhex("680c00000000 1a00 0600 0100 aabb")
    for decode in (c.decode_apdu, c.decode_apdu_schema):
        apdu = decode(frame)
        assert isinstance(apdu, c.IFrame)
        assert (apdu.asdu.number, apdu.asdu.raw_information) == (0, b"\xaa\xbb")
        assert c.encode_apdu(apdu) == frame


@pytest.mark.parametrize(
    "hexstr",
    [
        pytest.param("680c00000000 6601 0600 0100 0100", id="SQ0-N1-2-IOA-octets"),
        pytest.param("680b00000000 6681 0600 0100 01", id="SQ1-N1-1-IOA-octet"),
        pytest.param("681100000000 6603 0600 0100 010000 020000 03", id="SQ0-N3-7-octets"),
    ],
)
def test_truncated_read_command_is_rejected_by_both_paths(hexstr: str) -> None:
    """Regression: compiled Int24ul read a cut IOA short and the schema path accepted it."""
    frame = bytes.fromhex(hexstr)
    for decode in (c.decode_apdu, c.decode_apdu_schema):
        with pytest.raises(DecodeError) as info:
            decode(frame)
        assert info.value.offset == len(frame)


def test_r32_signalling_nan_round_trip() -> None:
    # M_ME_NC_1, IOA 1, R32 octets 01 00 80 7f (signalling NaN), QDS 0: R32 keeps the raw bits
    frame = bytes.fromhex("681200000000 0d01 0300 0100 010000 0100807f 00")
    for decode in (c.decode_apdu, c.decode_apdu_schema):
        apdu = decode(frame)
        assert isinstance(apdu, c.IFrame)
        r32 = apdu.asdu.objects[0].elements[0]
        assert r32 == c.R32(bits=0x7F800001)
        assert math.isnan(r32.value)  # type: ignore[attr-defined]
        assert c.encode_apdu(apdu) == frame


@given(st.integers(0, 2**32 - 1))
def test_r32_any_bits_round_trip_both_paths(bits: int) -> None:
    obj = c.InformationObject(1, (c.R32(bits=bits), c.QDS()))
    asdu = c.ASDU(type_id=c.TypeId.M_ME_NC_1, cot=c.Cot.SPONTANEOUS, common_address=1, objects=(obj,))
    octets = c.encode_asdu(asdu)
    assert octets == c.encode_asdu_schema(asdu)
    assert octets[9:13] == bits.to_bytes(4, "little")
    assert c.decode_asdu(octets) == asdu == c.decode_asdu_schema(octets)


@given(st.floats(width=32) | st.floats(-3.4e38, 3.4e38))
def test_r32_from_a_number_rounds_to_binary32(value: float) -> None:
    r32 = c.R32(value=value)
    assert r32 == c.R32.from_value(value)
    assert r32.bits == struct.unpack("<I", struct.pack("<f", value))[0]
    rounded = struct.unpack("<f", struct.pack("<f", value))[0]
    assert r32.value == rounded or (math.isnan(value) and math.isnan(r32.value))


# --- compiled == interpreted construct schemas -------------------------------------------


def plain(tree: Any) -> Any:
    """A parse tree as plain data: no ``_io``, floats as their octets (NaN-safe)."""
    if isinstance(tree, dict):
        return {k: plain(v) for k, v in tree.items() if not k.startswith("_")}
    if isinstance(tree, list):
        return [plain(v) for v in tree]
    if isinstance(tree, float):
        return struct.pack("<d", tree)
    return tree


def parse(schema: Any, data: bytes) -> Any:
    try:
        return plain(schema.parse(data))
    except SCHEMA_ERRORS as exc:
        return exc


def schema_inputs(frame: bytes) -> dict[str, bytes]:
    return {"APCI": frame, "APDU": frame, "ASDU": frame[6:]}


@given(apdu_frames())
def test_compiled_equals_interpreted_on_valid_frames(frame: bytes) -> None:
    for key, data in schema_inputs(frame).items():
        if key == "ASDU" and len(frame) == 6:
            continue  # S- and U-frames carry no ASDU
        compiled = _schema.COMPILED[key].parse(data)
        interpreted = _schema.INTERPRETED[key].parse(data)
        assert plain(compiled) == plain(interpreted), key


@given(mutated_frames())
def test_compiled_equals_interpreted_on_mutated_frames(frame: bytes) -> None:
    for key, data in schema_inputs(frame).items():
        compiled = parse(_schema.COMPILED[key], data)
        interpreted = parse(_schema.INTERPRETED[key], data)
        if isinstance(interpreted, Exception) and not isinstance(compiled, Exception):
            # construct's compiled Bytes(n) and Int24ul return a short read instead of
            # raising; the codec must still reject the input.
            assert key == "ASDU", (key, data.hex())
            with pytest.raises(DecodeError):
                c.decode_asdu_schema(data)
        elif isinstance(compiled, Exception) or isinstance(interpreted, Exception):
            assert isinstance(compiled, Exception), (key, data.hex(), interpreted)
            assert isinstance(interpreted, Exception), (key, data.hex(), compiled)
        else:
            assert compiled == interpreted, (key, data.hex())


@pytest.mark.parametrize("key", sorted(_schema.COMPILED))
def test_no_interpreted_fallback(key: str) -> None:
    source = _schema.COMPILED[key].source
    assert "def parseall(" in source  # it is a compiled schema
    assert "linkedparsers[" not in source


def _encoded(encoder: Any, asdu: c.ASDU) -> bytes | str:
    try:
        return encoder(asdu)  # type: ignore[no-any-return]
    except EncodeError as exc:
        return f"EncodeError: {type(exc).__name__}"


@given(asdus())
def test_encoder_paths_agree(asdu: c.ASDU) -> None:
    """The struct encoder equals the construct schema of record, octets and errors."""
    assert _encoded(c.encode_asdu, asdu) == _encoded(c.encode_asdu_schema, asdu)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 3.4e38, -3.4e38])
def test_encoder_paths_agree_on_float32_range(value: float) -> None:
    asdu = c.ASDU(
        type_id=c.TypeId.M_ME_NC_1,
        cot=c.Cot.SPONTANEOUS,
        common_address=1,
        objects=(c.InformationObject(1, (c.R32(value=value), c.QDS())),),
    )
    fast, schema = _encoded(c.encode_asdu, asdu), _encoded(c.encode_asdu_schema, asdu)
    assert fast == schema
    assert isinstance(fast, bytes)


@pytest.mark.parametrize("value", [1e39, -1e39, 3.5e38])
def test_r32_beyond_binary32_is_refused_when_built(value: float) -> None:
    # R32 holds binary32 bits, so a number no binary32 holds is refused at construction
    # (it used to be refused by both encoders).
    with pytest.raises(EncodeError, match="binary32 range"):
        c.R32(value=value)
