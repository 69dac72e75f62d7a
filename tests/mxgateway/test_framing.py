"""gRPC message framing: ``MessageFramer`` equals grpclib's reading for every split; batches equal messages."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import pytest
from grpclib.const import Cardinality
from grpclib.protocol import Buffer
from grpclib.stream import recv_message
from hypothesis import given
from hypothesis import strategies as st

from helpers import async_wait_until
from otwire.clients.mxgateway import MxGatewayUnavailableError
from otwire.clients.mxgateway._stream import message_batches, reads_buffer
from otwire.codecs.mxgateway import fast_parser, pb
from otwire.codecs.mxgateway.framing import MessageFramer, frame_message
from otwire.errors import DecodeError

from .sim_fixtures import run, simulator

bodies = st.lists(st.binary(max_size=300), max_size=12)


class _Raw:
    """A grpclib codec that hands message octets through (to compare framing only)."""

    def decode(self, data: bytes, message_type: Any) -> bytes:
        return data


class _BufferStream:
    """The part of grpclib's protocol stream that ``grpclib.stream.recv_message`` reads from."""

    def __init__(self, buffer: Buffer) -> None:
        self.buffer = buffer

    async def recv_data(self, size: int) -> bytes:
        return await self.buffer.read(size)


async def _grpclib_reads(chunks: list[bytes]) -> list[bytes]:
    """What grpclib's general path reads from ``chunks`` (DATA frames), message by message."""
    buffer = Buffer(lambda size: None)
    for chunk in chunks:
        buffer.add(chunk, len(chunk))
    buffer.eof()
    stream, out = _BufferStream(buffer), []
    while (message := await recv_message(stream, _Raw(), bytes)) is not None:  # type: ignore[arg-type]
        out.append(message)
    return out


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


@given(bodies, st.lists(st.integers(min_value=0, max_value=4000), max_size=20))
def test_framer_equals_grpclib_for_every_split(messages: list[bytes], cuts: list[int]) -> None:
    data = b"".join(frame_message(message) for message in messages)
    chunks = _split(data, cuts)
    framer, found = MessageFramer(), []
    for chunk in chunks:
        found.extend(framer.feed(chunk))
    assert found == messages
    assert framer.pending == 0
    assert run(_grpclib_reads(chunks)) == messages


@given(bodies, st.integers(min_value=1, max_value=4))
def test_an_unfinished_message_is_held(messages: list[bytes], missing: int) -> None:
    data = b"".join(frame_message(message) for message in [*messages, b"tail"])
    framer = MessageFramer()
    assert framer.feed(data[:-missing]) == messages
    assert framer.pending == 9 - missing
    assert framer.feed(data[-missing:]) == [b"tail"]


def test_compressed_and_oversized_messages_are_decode_errors() -> None:
    with pytest.raises(DecodeError, match="compressed"):
        MessageFramer().feed(b"\x01\x00\x00\x00\x01x")
    with pytest.raises(DecodeError, match="of 100 octets"):
        MessageFramer(max_message_bytes=99).feed(b"\x00\x00\x00\x00\x64")


async def _read(client: Any, session_id: str, fast: bool, into: list[list[pb.MxEvent]]) -> bool:
    """Read a whole ``StreamEvents`` call with ``message_batches`` (fast or general) into ``into``."""
    request = pb.StreamEventsRequest(session_id=session_id, after_worker_sequence=0)
    path = "/mxaccess_gateway.v1.MxAccessGateway/StreamEvents"
    channel, metadata = client.connection.channel, client.connection.metadata
    types = (pb.StreamEventsRequest, pb.MxEvent)
    async with channel.request(path, Cardinality.UNARY_STREAM, *types, metadata=metadata) as stream:
        await stream.send_message(request, end=True)
        async with contextlib.aclosing(message_batches(stream, fast_parser(pb.MxEvent), fast=fast)) as source:
            async for batch in source:
                into.append(batch)
        return reads_buffer(stream)


def test_batches_equal_grpclib_messages_against_the_simulator() -> None:
    async def scenario() -> None:
        async with simulator(items=300) as (_, client):
            session = await client.open_session("framing")
            handle = await session.register("framing")
            await session.subscribe_bulk(handle, [f"SimTags.Tag{i:04d}" for i in range(1, 301)])
            fast: list[list[pb.MxEvent]] = []
            general: list[list[pb.MxEvent]] = []
            tasks = [
                asyncio.create_task(_read(client, session.session_id, True, fast)),
                asyncio.create_task(_read(client, session.session_id, False, general)),
            ]
            await async_wait_until(lambda: sum(map(len, fast)) == sum(map(len, general)) == 300)
            await session.close()  # ends both streams in order (status OK)
            used_buffer, _ = await asyncio.gather(*tasks)
            assert used_buffer  # the installed grpclib has what the fast path reads
            assert [event for batch in fast for event in batch] == [event for batch in general for event in batch]
            assert [event.worker_sequence for batch in fast for event in batch] == list(range(1, 301))
            assert {len(batch) for batch in general} == {1}

    run(scenario())


def test_a_dropped_connection_wakes_a_waiting_fast_reader() -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            session = await client.open_session("dropped")
            handle = await session.register("dropped")
            item = await session.add_item(handle, "SimTags.Tag0001")
            await session.advise(handle, item)
            events = session.stream_events()
            first = await anext(events)  # the advise's initial OnDataChange; the reader then waits
            assert first.worker_sequence == 1
            waiting = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0)
            assert server._grpc is not None
            for guard in list(server._grpc.guards):  # drop the TCP connection under the waiting reader
                guard.transport.abort()  # type: ignore[union-attr]
            with pytest.raises(MxGatewayUnavailableError, match="unavailable"):
                await asyncio.wait_for(waiting, 10)
            await events.aclose()  # type: ignore[attr-defined]

    run(scenario())
