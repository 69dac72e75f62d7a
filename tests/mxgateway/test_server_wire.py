"""The simulator's fast event encoder writes exactly betterproto2's bytes (differential, hypothesis)."""

from __future__ import annotations

import datetime

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway._transport import LimitedCodec
from otwire.servers.mxgateway._wire import EventEncoder, Preencoded

INT32 = st.integers(-(2**31), 2**31 - 1)
MOMENTS = st.datetimes(
    min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(2200, 1, 1), timezones=st.just(datetime.UTC)
)
VALUES = st.one_of(
    st.builds(pb.MxValue, data_type=st.sampled_from(pb.MxDataType), double_value=st.floats(allow_nan=False)),
    st.builds(pb.MxValue, variant_type=st.sampled_from(pb.VariantType), int32_value=INT32),
    st.builds(pb.MxValue, string_value=st.text(max_size=20), is_null=st.booleans()),
    st.builds(pb.MxValue, bool_value=st.booleans(), raw_data_type=INT32),
)
STATUSES = st.builds(
    pb.MxStatusProxy,
    success=INT32,
    category=st.sampled_from(pb.MxStatusCategory),
    detail=INT32,
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
    assert encoder.encode(event).data == bytes(event)
    assert encoder.encode(event).data == bytes(event)  # from the caches
    assert pb.MxEvent.parse(encoder.encode(event).data) == event


def test_other_events_fall_back_to_betterproto2() -> None:
    gap = pb.MxEvent(session_id="s", replay_gap=pb.ReplayGap(requested_after_sequence=1, oldest_available_sequence=5))
    complete = pb.MxEvent(worker_sequence=3, hresult=0, on_write_complete=pb.OnWriteCompleteEvent())
    for event in (gap, complete, pb.MxEvent()):
        assert EventEncoder().encode(event).data == bytes(event)


def test_codec_passes_preencoded_bytes() -> None:
    codec = LimitedCodec(1024)
    assert codec.encode(Preencoded(b"\x08\x01"), pb.MxEvent) == b"\x08\x01"
    assert codec.encode(pb.MxEvent(worker_sequence=1), pb.MxEvent) == b"\x10\x01"


def test_codec_refuses_undecodable_and_long_requests() -> None:
    codec = LimitedCodec(8)
    for data, status in ((b"\x0a\x02\xff\xfe", Status.INVALID_ARGUMENT), (b"\x0a\xff\xff", Status.INVALID_ARGUMENT),
                         (b"\x08" * 9, Status.RESOURCE_EXHAUSTED)):  # fmt: skip
        with pytest.raises(GRPCError) as caught:
            codec.decode(data, pb.MxCommandRequest)
        assert caught.value.status == status
    assert codec.decode(b"\x0a\x01a", pb.MxCommandRequest).session_id == "a"
