"""The pyimb helpers: same names, arguments and results as pyimb, strict on bad input (notes §3, §7)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs import imb
from otwire.errors import DecodeError, EncodeError
from strategies.imb import INT32, VECTORS, read_vectors

PRIMITIVES = {v.name: v.octets for v in read_vectors(VECTORS / "primitives.hex")}


def test_golden_primitives() -> None:
    assert imb.encode_string("hello") == PRIMITIVES["string_hello"]
    assert imb.encode_string("") == PRIMITIVES["string_empty"]
    assert imb.encode_string("é") == PRIMITIVES["string_e_acute"]
    assert imb.encode_int32(-45) == PRIMITIVES["int32_minus_45"]
    assert imb.decode_string(PRIMITIVES["string_hello"]) == "hello"
    assert imb.decode_string(PRIMITIVES["string_empty"]) == ""
    assert imb.decode_string(PRIMITIVES["string_e_acute"]) == "é"
    assert imb.decode_int(PRIMITIVES["int32_minus_45"]) == -45
    assert set(PRIMITIVES) == {"string_hello", "string_empty", "string_e_acute", "int32_minus_45"}


def test_pyimb_doc_examples() -> None:
    assert imb.encode_string("foo") == b"\x03\x00\x00\x00foo"
    assert imb.decode_string(imb.encode_string("bar")) == "bar"
    buf = imb.encode_string("foo") + imb.encode_string("bar")
    assert imb.decode_string(buf, nextpos=True) == ("foo", 7)
    assert imb.decode_string(buf, start=7) == "bar"
    assert imb.decode_string(buf, 7, True) == ("bar", 14)


@given(st.text(st.characters(codec="utf-8")), st.binary(max_size=8), st.binary(max_size=8))
def test_string_round_trip_with_start_and_nextpos(text: str, before: bytes, after: bytes) -> None:
    encoded = imb.encode_string(text)
    assert encoded == struct.pack("<i", len(text.encode())) + text.encode()
    buf = before + encoded + after
    assert imb.decode_string(buf, len(before), nextpos=True) == (text, len(before) + len(encoded))
    assert imb.decode_string(bytearray(buf), start=len(before)) == text
    assert imb.decode_string(memoryview(buf), start=len(before)) == text


@given(INT32)
def test_int32_round_trip(value: int) -> None:
    assert imb.encode_int32(value) == struct.pack("<i", value)
    assert imb.decode_int(imb.encode_int32(value)) == value
    assert imb.decode_uint(imb.encode_int32(value)) == value & 0xFFFFFFFF


@given(st.integers(0, 2**32 - 1))
def test_uint32_round_trip(value: int) -> None:
    assert imb.encode_uint32(value) == struct.pack("<I", value)
    assert imb.decode_uint(imb.encode_uint32(value)) == value


def test_decode_int_takes_any_length_like_pyimb() -> None:
    assert imb.decode_int(b"") == 0
    assert imb.decode_int(b"\xff") == -1
    assert imb.decode_uint(b"\xff") == 255
    assert imb.decode_int(b"\x01\x02") == 0x0201
    assert imb.decode_int(b"\x00" * 7 + b"\x80") == -(2**63)
    assert imb.decode_uint(bytearray(b"\x00\x00\x00\x80")) == 2**31


@pytest.mark.parametrize(
    ("encode", "value"),
    [
        pytest.param(imb.encode_int32, 2**31, id="int32-high"),
        pytest.param(imb.encode_int32, -(2**31) - 1, id="int32-low"),
        pytest.param(imb.encode_int32, 1.5, id="int32-float"),
        pytest.param(imb.encode_uint32, -1, id="uint32-negative"),
        pytest.param(imb.encode_uint32, 2**32, id="uint32-high"),
        pytest.param(imb.encode_string, b"bytes", id="string-bytes"),
        pytest.param(imb.encode_string, "\udc80", id="string-lone-surrogate"),
    ],
)
def test_encode_errors(encode: object, value: object) -> None:
    with pytest.raises(EncodeError):
        encode(value)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("hexstr", "start", "fragment", "offset"),
    [
        pytest.param("", 0, "int32 needs 4 octets, 0 left", 0, id="empty"),
        pytest.param("0300", 0, "int32 needs 4 octets, 2 left", 2, id="short-prefix"),
        pytest.param("ffffffff", 0, "negative string length -1", 0, id="negative"),
        pytest.param("03000000 6162", 0, "string length 3 needs 3 octets, 2 left", 0, id="too-long"),
        pytest.param("aa 02000000 c328", 1, "invalid UTF-8", 5, id="bad-utf8"),
        pytest.param("02000000 eda080", 0, "invalid UTF-8", 4, id="encoded-surrogate"),
        pytest.param("00000000", 5, "start 5 outside the 4 octets", 4, id="start-beyond"),
    ],
)
def test_decode_string_errors(hexstr: str, start: int, fragment: str, offset: int) -> None:
    """pyimb returns a short string or raises UnicodeDecodeError here; otwire raises DecodeError."""
    data = bytes.fromhex(hexstr.replace(" ", ""))
    with pytest.raises(DecodeError) as info:
        imb.decode_string(data, start)
    assert fragment in info.value.reason
    assert info.value.offset == offset
