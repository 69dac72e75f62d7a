"""``to_mx_value``/``from_mx_value``: round trips, the type table, and every refusal."""

from __future__ import annotations

import datetime as dt
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.mxgateway import pb
from otwire.codecs.mxgateway.values import SparseArray, from_mx_value, to_mx_value
from otwire.errors import InvalidArgument, InvalidArgumentType

UTC = dt.UTC
int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1)
doubles = st.floats(allow_nan=False, allow_infinity=False)
aware = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=9, minutes=30))]
    ),
)
# Negative durations only in whole seconds: betterproto2 0.10 corrupts negative fractions (see values.py).
durations = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=10000)) | st.integers(-(10**9), 0).map(
    lambda s: dt.timedelta(seconds=s)
)
scalars = st.one_of(st.booleans(), int64s, doubles, st.text(), aware, durations, st.binary())
arrays = st.one_of(
    st.lists(st.booleans(), max_size=5),
    st.lists(int64s, max_size=5),
    st.lists(doubles, max_size=5),
    st.lists(st.text(), max_size=5),
    st.lists(aware, max_size=5),
    st.lists(st.binary(), max_size=5),
)
sparse = st.integers(1, 50).flatmap(
    lambda n: st.dictionaries(st.integers(0, n - 1), int32s, max_size=5).map(lambda v: SparseArray(n, v))
)


def _wire(value: pb.MxValue) -> pb.MxValue:
    return pb.MxValue.parse(bytes(value))


@given(st.one_of(st.none(), scalars, arrays, sparse))
def test_round_trip_through_the_wire(value: object) -> None:
    assert from_mx_value(_wire(to_mx_value(value))) == value


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_round_trip(value: float) -> None:
    message = to_mx_value(value, float32=True)
    assert (message.data_type, message.variant_type) == (pb.MxDataType.FLOAT, pb.VariantType.VT_R4)
    assert from_mx_value(_wire(message)) == value


@given(doubles.filter(lambda v: abs(v) <= 3.4028234663852886e38))
def test_float32_rounds_doubles_to_binary32(value: float) -> None:
    expected = struct.unpack("<f", struct.pack("<f", value))[0]
    assert from_mx_value(_wire(to_mx_value(value, float32=True))) == expected


@pytest.mark.parametrize(
    ("value", "arm", "data_type", "variant_type"),
    [
        (True, "bool_value", pb.MxDataType.BOOLEAN, pb.VariantType.VT_BOOL),
        (2**31 - 1, "int32_value", pb.MxDataType.INTEGER, pb.VariantType.VT_I4),
        (-(2**31), "int32_value", pb.MxDataType.INTEGER, pb.VariantType.VT_I4),
        (2**31, "int64_value", pb.MxDataType.INTEGER, pb.VariantType.VT_I8),
        (-(2**31) - 1, "int64_value", pb.MxDataType.INTEGER, pb.VariantType.VT_I8),
        (1.5, "double_value", pb.MxDataType.DOUBLE, pb.VariantType.VT_R8),
        ("x", "string_value", pb.MxDataType.STRING, pb.VariantType.VT_BSTR),
        (dt.datetime(2026, 1, 1, tzinfo=UTC), "timestamp_value", pb.MxDataType.TIME, pb.VariantType.VT_DATE),
        (dt.timedelta(seconds=3), "duration_value", pb.MxDataType.ELAPSED_TIME, pb.VariantType.VT_R8),
        (b"\x00\x01", "bytes_value", pb.MxDataType.UNKNOWN, pb.VariantType.VT_RECORD),
        (bytearray(b"\x02"), "bytes_value", pb.MxDataType.UNKNOWN, pb.VariantType.VT_RECORD),
    ],
)
def test_type_table(value: object, arm: str, data_type: pb.MxDataType, variant_type: pb.VariantType) -> None:
    message = to_mx_value(value)
    assert (message.data_type, message.variant_type) == (data_type, variant_type)
    assert getattr(message, arm) == value


def test_none_is_a_null_value() -> None:
    message = to_mx_value(None)
    assert message.is_null and message.data_type == pb.MxDataType.NO_DATA
    assert from_mx_value(pb.MxValue(is_null=True, int32_value=3)) is None
    assert from_mx_value(pb.MxValue()) is None


def test_arrays_carry_the_element_types() -> None:
    message = to_mx_value([1, 2**40])
    assert message.variant_type == pb.VariantType.VT_ARRAY
    assert message.array_value is not None
    assert message.array_value.element_variant_type == pb.VariantType.VT_I8
    assert [e.int64_value for e in message.array_value.elements] == [1, 2**40]
    mixed = to_mx_value((1, 2.5))
    assert mixed.array_value is not None and mixed.array_value.element_data_type == pb.MxDataType.DOUBLE
    assert from_mx_value(mixed) == [1.0, 2.5]
    empty = to_mx_value([])
    assert empty.array_value is not None and from_mx_value(empty) == []


def test_sparse_arrays() -> None:
    message = to_mx_value(SparseArray(10, {7: "b", 2: "a"}))
    assert message.sparse_array_value is not None
    assert message.sparse_array_value.length == 10
    assert message.sparse_array_value.element_data_type == pb.MxDataType.STRING
    assert [e.index for e in message.sparse_array_value.entries] == [2, 7]


def test_an_mx_value_passes_through() -> None:
    message = pb.MxValue(int32_value=4)
    assert to_mx_value(message) is message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, [1.0, math.nan]])
def test_non_finite_floats_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        to_mx_value(value)


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (2**63, {}, "int64"),
        (-(2**63) - 1, {}, "int64"),
        (1e39, {"float32": True}, "binary32"),
        (dt.datetime(2026, 1, 1), {}, "naive datetime"),
        ([[1]], {}, "1-D"),
        ([None], {}, "1-D"),
        ([1, "a"], {}, "mixed"),
        ([True, 1], {}, "mixed"),
        (SparseArray(3, {3: 1}), {}, "index"),
        (SparseArray(3, {-1: 1}), {}, "index"),
        (SparseArray(-1), {}, "length"),
        (dt.timedelta(microseconds=-1), {}, "negative duration"),
        (dt.timedelta(days=10**6), {}, "2\\*\\*53"),
    ],
)
def test_invalid_values(value: object, kwargs: dict[str, bool], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        to_mx_value(value, **kwargs)


@pytest.mark.parametrize("value", [object(), {"a": 1}, {1, 2}, 1j])
def test_unmapped_types(value: object) -> None:
    with pytest.raises(InvalidArgumentType, match="no MXAccess mapping"):
        to_mx_value(value)


def test_from_mx_value_needs_an_mx_value() -> None:
    with pytest.raises(TypeError, match="expected an MxValue"):
        from_mx_value(3)  # type: ignore[arg-type]


def test_timestamps_come_back_in_utc() -> None:
    local = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    back = from_mx_value(_wire(to_mx_value(local)))
    assert back == local and back.utcoffset() == dt.timedelta(0)
