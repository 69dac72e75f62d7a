"""``stream_events``: cancellation three ways, a stream killed mid-way, resuming, ReplayGap."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from helpers import async_wait_until
from otwire.clients.mxgateway import MxGatewayUnavailableError, Session, from_mx_value, pb

from .grpcio_peer import GrpcioPeer
from .grpcio_peer_gateway import RING
from .grpcio_peer_kit import connect, peer, run

__all__ = ["peer"]


async def _opened(peer: GrpcioPeer, events: int = 0) -> tuple[object, Session]:
    client = await connect(peer)
    session = await client.open_session("streams")
    if events:
        peer.call(lambda: peer.gateway.emit_data_changes(session.session_id, events))
        await async_wait_until(lambda: peer.gateway.sessions[session.session_id].sequence == events)
    return client, session


def test_break_closes_the_grpc_stream(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        client, session = await _opened(peer, 3)
        async for event in session.stream_events():
            assert event.worker_sequence == 1
            break
        await async_wait_until(lambda: peer.gateway.streams_cancelled == 1, what="server saw the cancel")
        assert peer.gateway.streams_open == 0
        await client.close()  # type: ignore[attr-defined]

    run(scenario())


def test_aclose_closes_the_grpc_stream(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        client, session = await _opened(peer, 2)
        events = session.stream_events()
        first = await anext(events)
        assert first.worker_sequence == 1
        await events.aclose()  # type: ignore[attr-defined]
        await async_wait_until(lambda: peer.gateway.streams_cancelled == 1, what="server saw the cancel")
        await client.close()  # type: ignore[attr-defined]

    run(scenario())


def test_cancelling_the_task_closes_the_grpc_stream(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        client, session = await _opened(peer, 1)
        received = asyncio.Event()

        async def consume() -> None:
            async for _ in session.stream_events():
                received.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(received.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await async_wait_until(lambda: peer.gateway.streams_cancelled == 1, what="server saw the cancel")
        await client.close()  # type: ignore[attr-defined]

    run(scenario())


def test_stream_killed_midway_then_resumed(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        client, session = await _opened(peer, 3)
        seen: list[int] = []
        with pytest.raises(MxGatewayUnavailableError, match="UNAVAILABLE event stream killed"):
            async for event in session.stream_events():
                seen.append(event.worker_sequence)
                if len(seen) == 3:
                    peer.call(peer.gateway.kill_streams)
        assert seen == [1, 2, 3] and session.last_worker_sequence == 3
        peer.call(lambda: peer.gateway.emit_data_changes(session.session_id, 2))
        async with contextlib.aclosing(session.stream_events()) as events:
            resumed = [await anext(events), await anext(events)]
        assert [e.worker_sequence for e in resumed] == [4, 5]
        assert [from_mx_value(e.value) for e in resumed] == [0, 1]
        requests = peer.auth.seen
        assert sum(1 for method, _ in requests if method == "StreamEvents") == 2
        await client.close()  # type: ignore[attr-defined]

    run(scenario())


def test_replay_gap_sentinel_then_gap_free_resume(peer: GrpcioPeer) -> None:
    total = RING + 5
    oldest = total - RING + 1

    async def scenario() -> list[pb.MxEvent]:
        client, session = await _opened(peer, total)
        out: list[pb.MxEvent] = []
        async with contextlib.aclosing(session.stream_events(after_worker_sequence=1)) as events:
            async for event in events:
                out.append(event)
                if event.worker_sequence == total:
                    break
        assert session.logic.sequence.lost == 0
        await client.close()  # type: ignore[attr-defined]
        return out

    events = run(scenario())
    sentinel = events[0]
    assert sentinel.replay_gap is not None and sentinel.family == pb.MxEventFamily.UNSPECIFIED
    assert (sentinel.replay_gap.requested_after_sequence, sentinel.replay_gap.oldest_available_sequence) == (1, oldest)
    assert [e.worker_sequence for e in events[1:]] == list(range(oldest, total + 1))


def test_raw_stream_of_any_session(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        client, session = await _opened(peer, 2)
        async with contextlib.aclosing(client.stream_events_raw(session.session_id, after_worker_sequence=1)) as events:  # type: ignore[attr-defined]
            event = await anext(events)
        assert event.worker_sequence == 2 and session.last_worker_sequence is None
        await client.close()  # type: ignore[attr-defined]

    run(scenario())
