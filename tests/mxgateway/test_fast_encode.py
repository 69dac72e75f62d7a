"""The codec's fast event encoder writes exactly betterproto2's bytes (differential, hypothesis)."""

from __future__ import annotations

import datetime

from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.mxgateway import EventEncoder, pb
from otwire.codecs.mxgateway._fast_encode import CACHE_LIMIT

INT32 = st.integers(-(2**31), 2**31 - 1)
MOMENTS = st.datetimes(
    min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(2200, 1, 1), timezones=st.just(datetime.UTC)
)
VALUES = st.one_of(
    st.builds(pb.MxValue, data_type=st.sampled_from(pb.MxDataType), double_value=st.floats(allow_nan=False)),
    st.builds(pb.MxValue, variant_type=st.sampled_from(pb.VariantType), int32_value=INT32),
    st.builds(pb.MxValue, string_value=st.text(max_size=20), is_null=st.booleans()),
    st.builds(pb.MxValue, bool_value=st.booleans(), raw_data_type=INT32),
    st.builds(pb.MxValue, int64_value=st.integers(-(2**63), 2**63 - 1), raw_diagnostic=st.text(max_size=5)),
    st.builds(pb.MxValue, data_type=st.sampled_from(pb.MxDataType), is_null=st.booleans()),  # no arm
    st.builds(pb.MxValue, float_value=st.floats(width=32, allow_nan=False)),  # betterproto2's path
    st.builds(pb.MxValue, double_value=st.floats(), int32_value=INT32),  # two arms: betterproto2's path
    st.builds(pb.MxValue, bytes_value=st.binary(max_size=5), string_value=st.text(max_size=3)),
)
STATUSES = st.builds(
    pb.MxStatusProxy,
    success=INT32,
    category=st.sampled_from(pb.MxStatusCategory),
    detected_by=st.sampled_from(pb.MxStatusSource),
    detail=INT32,
    raw_category=INT32,
    raw_detected_by=INT32,
    diagnostic_text=st.text(max_size=10),
)


@st.composite
def events(draw: st.DrawFn) -> pb.MxEvent:
    moment = draw(MOMENTS)
    shared = st.one_of(st.none(), st.just(moment), MOMENTS)  # one datetime in several fields, as the model does
    return pb.MxEvent(
        session_id=draw(st.text(max_size=20)),
        worker_sequence=draw(st.integers(0, 2**64 - 1)),
        family=draw(st.sampled_from(pb.MxEventFamily)),
        server_handle=draw(INT32),
        item_handle=draw(INT32),
        value=draw(st.one_of(st.none(), VALUES)),
        quality=draw(INT32),
        source_timestamp=draw(shared),
        statuses=draw(st.lists(STATUSES, max_size=3)),
        worker_timestamp=draw(shared),
        gateway_receive_timestamp=draw(shared),
        on_data_change=pb.OnDataChangeEvent(quality=draw(INT32), source_timestamp=draw(shared)),
    )


@given(events())
def test_fast_encoding_equals_betterproto2(event: pb.MxEvent) -> None:
    encoder = EventEncoder()
    assert encoder.encode(event) == bytes(event)
    assert encoder.encode(event) == bytes(event)  # from the caches
    assert pb.MxEvent.parse(encoder.encode(event)) == event


def test_other_events_fall_back_to_betterproto2() -> None:
    gap = pb.MxEvent(session_id="s", replay_gap=pb.ReplayGap(requested_after_sequence=1, oldest_available_sequence=5))
    complete = pb.MxEvent(worker_sequence=3, hresult=0, on_write_complete=pb.OnWriteCompleteEvent())
    for event in (gap, complete, pb.MxEvent()):
        assert EventEncoder().encode(event) == bytes(event)


def test_the_cache_stays_bounded() -> None:
    encoder = EventEncoder()
    for quality in range(CACHE_LIMIT + 10):
        status = pb.MxStatusProxy(success=quality)
        event = pb.MxEvent(statuses=[status], on_data_change=pb.OnDataChangeEvent(quality=quality))
        assert encoder.encode(event) == bytes(event)
    assert len(encoder._parts) <= CACHE_LIMIT
