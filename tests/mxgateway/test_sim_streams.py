"""``stream_events`` against the simulator: resume, the ReplayGap sentinel, cancellation three ways."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from helpers import async_wait_until
from otwire.clients.mxgateway import Session, pb

from .sim_fixtures import run, simulator

F = pb.MxEventFamily


async def _writes(session: Session, count: int) -> tuple[int, int]:
    """``count`` writes to an unadvised item: one ``OnWriteComplete`` event each."""
    handle = await session.register("streams")
    item = await session.add_item(handle, "SimTags.Tag0003")
    for value in range(count):
        await session.write(handle, item, value)
    return handle, item


async def _sequences(events: Any, count: int) -> list[int]:
    found = []
    async for event in events:
        found.append(event.worker_sequence)
        if len(found) == count:
            break
    return found


def test_resume_after_break_is_gap_free() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("resume")
            handle, item = await _writes(session, 3)
            assert await _sequences(session.stream_events(), 2) == [1, 2]
            assert session.last_worker_sequence == 2
            await session.write(handle, item, 99)
            assert await _sequences(session.stream_events(), 2) == [3, 4]  # resumes after 2 on its own
            assert await _sequences(session.stream_events(after_worker_sequence=1), 1) == [2]

    run(scenario())


def test_replay_gap_sentinel_then_gap_free_resume() -> None:
    async def scenario() -> None:
        async with simulator(replay_capacity=4) as (_, client):
            session = await client.open_session("gap")
            handle, item = await _writes(session, 8)
            events = []
            async for event in session.stream_events(after_worker_sequence=0):
                events.append(event)
                if len(events) == 5:
                    break
            gap = events[0]
            assert gap.replay_gap is not None and gap.family == F.UNSPECIFIED
            assert (gap.replay_gap.requested_after_sequence, gap.replay_gap.oldest_available_sequence) == (0, 5)
            assert [e.worker_sequence for e in events[1:]] == [5, 6, 7, 8]
            assert session.last_worker_sequence == 8
            await session.write(handle, item, 1)
            assert await _sequences(session.stream_events(), 1) == [9]

    run(scenario())


async def _by_break(session: Session, started: asyncio.Event) -> None:
    async for _ in session.stream_events():
        started.set()
        break


async def _by_aclose(session: Session, started: asyncio.Event) -> None:
    events = session.stream_events()
    await anext(events)
    started.set()
    await events.aclose()  # type: ignore[attr-defined]


async def _by_cancel(session: Session, started: asyncio.Event) -> None:
    async def consume() -> None:
        async for _ in session.stream_events():
            started.set()

    task = asyncio.ensure_future(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


Leave = Callable[[Session, asyncio.Event], Awaitable[None]]


@pytest.mark.parametrize("leave", [_by_break, _by_aclose, _by_cancel], ids=["break", "aclose", "cancel"])
def test_leaving_a_stream_ends_it_on_the_simulator(leave: Leave) -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            session = await client.open_session("cancel")
            await _writes(session, 1)
            started = asyncio.Event()
            await leave(session, started)
            assert started.is_set()
            assert server.model is not None and server.tracker is not None
            sim_session = server.model.sessions[session.session_id]
            await async_wait_until(lambda: server.tracker.open == 0, what="the simulator saw the stream end")  # type: ignore[union-attr]
            assert sim_session.subscribers == set()

    run(scenario())


def test_closing_the_session_ends_its_stream_in_order() -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            session = await client.open_session("close")
            await _writes(session, 2)
            received: list[int] = []

            async def consume() -> None:
                async for event in session.stream_events():
                    received.append(event.worker_sequence)

            task = asyncio.ensure_future(consume())
            await async_wait_until(lambda: received == [1, 2], what="both events")
            await session.close()
            await task  # ends without an error: the simulator closed the stream with OK
            assert server.tracker is not None and server.tracker.open == 0

    run(scenario())
