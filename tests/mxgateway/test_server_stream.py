"""The simulator's event streams: resume with ``after_worker_sequence``, ReplayGap, overflow, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from helpers import async_wait_until
from otwire.codecs.mxgateway import galaxy as gpb
from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway import AsyncServer

from .sim_support import K, RawClient, run, take


async def _subscribe_many(client: RawClient, count: int) -> None:
    """Subscribe ``count`` tags in one command: ``count`` initial OnDataChange events at once."""
    sh = await client.register()
    tags = [f"SimTags.Tag{n:04d}" for n in range(1, count + 1)]
    reply = await client.invoke(K.SUBSCRIBE_BULK, pb.AddItemBulkCommand(server_handle=sh, tag_addresses=tags))
    assert reply.bulk_subscribe is not None and all(r.was_successful for r in reply.bulk_subscribe.results)


def test_resume_after_a_sequence_and_replay_gap() -> None:
    async def main() -> None:
        async with AsyncServer(port=0, rate=0, replay_capacity=8, items=20) as server, RawClient(server.port) as client:
            await client.open()
            await _subscribe_many(client, 12)  # worker_sequence 1..12; the ring keeps 5..12
            stream = client.gateway.stream_events
            resumed = await take(
                stream(pb.StreamEventsRequest(session_id=client.session_id, after_worker_sequence=9)), 3
            )
            assert [e.worker_sequence for e in resumed] == [10, 11, 12]
            request = pb.StreamEventsRequest(session_id=client.session_id, after_worker_sequence=2)
            async with contextlib.aclosing(stream(request)) as events:
                head = await take(events, 2)
            gap = head[0].replay_gap
            assert gap is not None and head[0].family == pb.MxEventFamily.UNSPECIFIED and head[0].on_data_change is None
            assert (gap.requested_after_sequence, gap.oldest_available_sequence) == (2, 5)
            assert head[1].worker_sequence == 5
            gap_free = pb.StreamEventsRequest(session_id=client.session_id, after_worker_sequence=4)
            again = await take(stream(gap_free), 1)
            assert again[0].replay_gap is None and again[0].worker_sequence == 5

    run(main())


def test_unset_resume_point_continues_after_the_last_delivered() -> None:
    async def main() -> None:
        async with AsyncServer(port=0, rate=0, items=5) as server, RawClient(server.port) as client:
            await client.open()
            await _subscribe_many(client, 2)
            request = pb.StreamEventsRequest(session_id=client.session_id)
            first = await take(client.gateway.stream_events(request), 2)
            assert [e.worker_sequence for e in first] == [1, 2]
            await _subscribe_many(client, 1)  # worker_sequence 3, emitted while no stream is open
            rest = await take(client.gateway.stream_events(request), 1)
            assert [e.worker_sequence for e in rest] == [3]

    run(main())


def test_overflowing_subscriber_is_disconnected(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with AsyncServer(port=0, rate=0, event_buffer=4, items=10) as server, RawClient(server.port) as client:
            await client.open()
            received: list[pb.MxEvent] = []
            request = pb.StreamEventsRequest(session_id=client.session_id)
            stream = client.gateway.stream_events(request)
            task = asyncio.ensure_future(take(stream, 100))
            await async_wait_until(lambda: server.model is not None and any(
                s.subscribers for s in server.model.sessions.values()), what="the subscriber")  # fmt: skip
            await _subscribe_many(client, 10)  # ten events at once into a queue of four
            with pytest.raises(GRPCError) as caught:
                received.extend(await task)
            assert caught.value.status == Status.RESOURCE_EXHAUSTED

    with caplog.at_level("WARNING", logger="otwire.servers.mxgateway"):
        run(main())
    assert any("event buffer overflow" in record.getMessage() for record in caplog.records)


def test_stop_ends_open_streams_in_order() -> None:
    async def main() -> None:
        server = AsyncServer(port=0, rate=20)
        await server.start()
        try:
            async with RawClient(server.port) as client:
                await client.open()
                opened = asyncio.Event()

                async def events() -> int:
                    count = 0
                    opened.set()
                    async for _ in client.gateway.stream_events(pb.StreamEventsRequest(session_id=client.session_id)):
                        count += 1
                    return count

                async def deploys() -> int:
                    return len([e async for e in client.galaxy.watch_deploy_events(gpb.WatchDeployEventsRequest())])

                tasks = [asyncio.ensure_future(events()), asyncio.ensure_future(deploys())]
                await opened.wait()
                assert server.tracker is not None
                await async_wait_until(lambda: server.tracker is not None and server.tracker.open == 2)
                await server.stop()
                results = await asyncio.wait_for(asyncio.gather(*tasks), 5)  # no exception: ended with OK
                assert results[1] == 1
        finally:
            await server.stop()
        assert not server.is_running

    run(main())
