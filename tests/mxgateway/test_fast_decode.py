"""The codec's fast decoder gives exactly betterproto2's objects, or fails where it fails (hypothesis)."""

from __future__ import annotations

import datetime
import math
from typing import Any

import betterproto2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.mxgateway import _fast_decode, fast_parse, fast_parser, galaxy, pb
from otwire.codecs.mxgateway._fast_decode import TIMESTAMP_CACHE_LIMIT, _plan

from .test_fast_encode import events
from .test_values_wire import MESSAGES, any_message, messages

HOT = [pb.MxEvent, pb.MxValue, pb.MxCommandReply, pb.OnDataChangeEvent, pb.MxStatusProxy]


def _outcome(parse: Any, cls: type[betterproto2.Message], data: bytes) -> tuple[str, Any]:
    try:
        message = parse(cls, data)
    except Exception as error:
        return "error", type(error)
    return "ok", message


def _same(cls: type[betterproto2.Message], data: bytes) -> None:
    fast, slow = _outcome(fast_parse, cls, data), _outcome(_slow, cls, data)
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "ok":
        assert type(fast[1]) is cls
        assert fast[1] == slow[1]
        assert _state(fast[1]) == _state(slow[1])  # every attribute, _unknown_fields too
    else:
        assert fast[1] is slow[1]


def _state(message: betterproto2.Message) -> dict[str, Any]:
    """``vars(message)`` with NaN floats made comparable (betterproto2's ``==`` treats NaNs as equal)."""
    return {k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in vars(message).items()}


def _slow(cls: type[betterproto2.Message], data: bytes) -> betterproto2.Message:
    return cls.parse(data)


@given(any_message)
def test_any_message_decodes_equal(message: betterproto2.Message) -> None:
    _same(type(message), bytes(message))


@given(events())
def test_simulator_events_decode_equal(event: pb.MxEvent) -> None:
    data = bytes(event)
    assert fast_parse(pb.MxEvent, data) == event
    _same(pb.MxEvent, data)


@given(st.sampled_from(HOT), st.binary(max_size=64))
def test_random_octets_decode_equal_or_fail_alike(cls: type[betterproto2.Message], data: bytes) -> None:
    _same(cls, data)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[type[betterproto2.Message], bytes]:
    """A real message's octets with a few octets changed, cut or inserted."""
    message = draw(st.sampled_from(HOT).flatmap(messages))
    data = bytearray(bytes(message))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["set", "cut", "insert"]))
        if action == "set" and where < len(data):
            data[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[where:]
        else:
            data[where:where] = draw(st.binary(min_size=1, max_size=3))
    return type(message), bytes(data)


@given(mutated())
def test_damaged_messages_decode_equal_or_fail_alike(case: tuple[type[betterproto2.Message], bytes]) -> None:
    _same(*case)


@pytest.mark.parametrize(
    "data",
    [
        b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # 10-octet varint over 64 bits
        b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # 11 octets: betterproto2 refuses
        b"\x0a\x05ab",  # truncated string: betterproto2 takes the short value
        b"\x0a\x02\xff\xfe",  # bad UTF-8
        b"\xf8\x07\x01",  # unknown field 127 (two-octet tag): kept in _unknown_fields
        b"\x10",  # a tag without its value
        b"\x42\x02\x08\x01\x42\x00",  # a message field twice: the last one wins
        b"\x12\x02\x08\x01",  # a known varint field sent length-delimited
        b"\x43\x44",  # a group (wire types 3 and 4)
        b"\x88\x00\x05",  # a non-minimal tag
        b"\x42\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # Timestamp seconds out of datetime's range
        b"\xa2\x01\x00\xaa\x01\x00",  # two arms of the body oneof
    ],
)
def test_odd_octets_decode_as_betterproto2(data: bytes) -> None:
    _same(pb.MxEvent, data)


def test_nan_floats_decode_as_betterproto2() -> None:
    data = b"\x6d\x01\x00\x80\x7f"  # float_value = NaN (binary32)
    assert math.isnan(fast_parse(pb.MxValue, data).float_value or 0.0)
    _same(pb.MxValue, data)


def test_unknown_fields_are_kept_through_the_fallback() -> None:
    message = fast_parse(pb.MxEvent, b"\x10\x05\xf8\x07\x01")
    assert message.worker_sequence == 5 and message._unknown_fields == b"\xf8\x07\x01"


def test_decoded_messages_own_their_lists() -> None:
    first, second = (fast_parse(pb.MxEvent, b"") for _ in range(2))
    first.statuses.append(pb.MxStatusProxy(success=1))
    assert second.statuses == [] and pb.MxEvent().statuses == []


def test_unknown_enum_values_decode_like_betterproto2() -> None:
    message = fast_parse(pb.MxValue, b"\x08\x63")
    assert message.data_type == 99 and message == pb.MxValue.parse(b"\x08\x63")


def test_the_bound_parser_and_every_class_compile() -> None:
    parse = fast_parser(pb.MxEvent)
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=datetime.UTC)
    event = pb.MxEvent(worker_sequence=9, source_timestamp=moment, on_data_change=pb.OnDataChangeEvent(quality=192))
    assert parse(bytes(event)) == event
    assert all(_plan(cls).cls is cls for cls in MESSAGES)
    assert _plan(galaxy.DeployEvent).supported


def test_the_timestamp_cache_stays_bounded_and_shares_only_equal_moments() -> None:
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for second in range(TIMESTAMP_CACHE_LIMIT + 5):
        moment = base + datetime.timedelta(seconds=second, microseconds=second)
        assert fast_parse(pb.OnDataChangeEvent, bytes(pb.OnDataChangeEvent(source_timestamp=moment))) == (
            pb.OnDataChangeEvent(source_timestamp=moment)
        )
    assert 0 < len(_fast_decode._TIMESTAMPS) <= TIMESTAMP_CACHE_LIMIT


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_any_buffer_type_decodes(wrap: Any) -> None:
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    event = pb.MxEvent(source_timestamp=moment, worker_timestamp=moment, value=pb.MxValue(string_value="x"))
    for _ in range(2):  # the second time from the timestamp cache
        assert fast_parse(pb.MxEvent, wrap(bytes(event))) == event
    assert fast_parse(pb.MxEvent, wrap(b"\x10\x05\xf8\x07\x01")).worker_sequence == 5  # through the fallback
