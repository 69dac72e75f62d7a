"""The simulator's codec passes pre-encoded events through and refuses bad or long requests."""

from __future__ import annotations

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway._transport import LimitedCodec
from otwire.servers.mxgateway._wire import EventEncoder, Preencoded


def test_the_simulator_encoder_wraps_the_codec_bytes() -> None:
    event = pb.MxEvent(worker_sequence=7, item_handle=3, on_data_change=pb.OnDataChangeEvent(quality=192))
    encoded = EventEncoder().encode(event)
    assert isinstance(encoded, Preencoded) and encoded.data == bytes(event)


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
