"""Client and session lifecycle against the simulator: closing, attaching, default deadlines, scopes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from grpclib.const import Status

from helpers import async_wait_until
from otwire.clients.mxgateway import (
    GalaxyRepositoryClient,
    GatewayClient,
    MxAccessError,
    MxGatewayCommandError,
    MxGatewayDeadlineError,
    MxGatewayPermissionError,
    MxGatewayRpcError,
    MxGatewayUnavailableError,
    Session,
    pb,
)
from otwire.errors import InvalidState, RequestTimeout

from .sim_fixtures import KEY, run, simulator

F = pb.MxEventFamily


def test_client_close_closes_its_sessions_not_attached_ones() -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            assert server.model is not None
            mine = await client.open_session("mine")
            other = await client.open_session_raw(client_session_name="elsewhere")
            attached = client.attach_session(other.session_id)
            await attached.register("attached")  # attached sessions skip the handle checks but work
            assert set(server.model.sessions) == {mine.session_id, other.session_id}
            await asyncio.gather(client.close(), client.close(), client.close())
            assert list(server.model.sessions) == [other.session_id]
            await client.close()
            for call in (mine.register("late"), client.open_session("late")):
                with pytest.raises(InvalidState):
                    await call

    run(scenario())


def test_client_close_ends_a_running_stream() -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            session = await client.open_session("streaming")
            handle = await session.register("s")
            await session.advise(handle, await session.add_item(handle, "SimTags.Tag0001"))
            seen: list[int] = []

            async def consume() -> None:
                async for event in session.stream_events():
                    seen.append(event.worker_sequence)

            task = asyncio.ensure_future(consume())
            await async_wait_until(lambda: seen == [1], what="the initial event")
            await client.close()
            await asyncio.wait_for(task, 10)  # the session's close ended the stream in order (OK)
            assert server.tracker is not None and server.tracker.open == 0

    run(scenario())


def test_attached_session_resumes_the_stream_of_another_client() -> None:
    async def scenario() -> None:
        async with simulator() as (server, first):
            session = await first.open_session("handover")
            handle = await session.register("h")
            item = await session.add_item(handle, "SimTags.Tag0002")
            for value in range(3):
                await session.write(handle, item, value)
            async for event in session.stream_events():
                assert event.worker_sequence == 1
                break
            endpoint = f"127.0.0.1:{server.port}"
            async with await GatewayClient.connect(endpoint=endpoint, api_key=KEY, plaintext=True) as second:
                attached = second.attach_session(session.session_id, after_worker_sequence=1)
                sequences = []
                async for event in attached.stream_events():
                    sequences.append(event.worker_sequence)
                    if len(sequences) == 2:
                        break
                assert sequences == [2, 3]

    run(scenario())


def test_the_default_timeout_of_connect_applies_to_every_call() -> None:
    async def scenario() -> None:
        async with simulator(timeout=0.2, slow_delay=1.0) as (_, client):
            session = await client.open_session("deadline")
            handle = await session.register("d")
            with pytest.raises(MxGatewayDeadlineError) as caught:
                await session.add_item(handle, "Fault.SlowTag")
            assert isinstance(caught.value, RequestTimeout) and isinstance(caught.value, TimeoutError)
            item = await session.add_item(handle, "Fault.SlowTag", timeout=5)  # a per-call timeout wins
            with pytest.raises(MxAccessError):  # the tag answers no read within 100 ms
                await session.read(handle, "Fault.SlowTag", timeout_ms=100)
            read = await session.read_bulk(handle, ["Fault.SlowTag", "SimTags.Tag0001"], timeout_ms=100, timeout=5)
            assert [r.was_successful for r in read.results] == [False, True] and item > 0

    run(scenario())


def test_secured_writes_need_an_authenticated_user() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("secured")
            handle = await session.register("s")
            item = await session.add_item(handle, "Boiler_001.SecuredSP")
            with pytest.raises(MxAccessError) as caught:
                await session.write_secured(handle, item, 1.0, current_user_id=77)
            assert caught.value.statuses[0].category == pb.MxStatusCategory.SECURITY_ERROR
            user = await session.authenticate_user(handle, "operator", "pw")
            await session.write_secured(handle, item, 1.0, current_user_id=user)

    run(scenario())


SCOPES = {
    "session-only": ("session", True, True, True),
    "no-events": ("session,invoke:read,metadata:read", False, True, False),
    "no-metadata": ("session,invoke:read,events:read", False, False, True),
}


@pytest.mark.parametrize("name", list(SCOPES))
def test_scopes_are_enforced_per_call(name: str) -> None:
    scopes, deny_invoke, deny_events, deny_galaxy = SCOPES[name]

    async def scenario() -> None:
        async with simulator("scoped", keys=f"scoped:{scopes}") as (_, client):
            session = await client.open_session("scoped")  # every key here has the session scope

            async def invoke() -> None:  # an advise: its initial event waits for the stream
                handle = await session.register("x")
                await session.advise(handle, await session.add_item(handle, "SimTags.Tag0001"))

            async def events() -> None:
                async for _ in session.stream_events():
                    break

            async def galaxy() -> None:
                await GalaxyRepositoryClient(client.connection).test_connection()

            for call, denied in ((invoke, deny_invoke), (events, deny_events), (galaxy, deny_galaxy)):
                if denied:
                    with pytest.raises(MxGatewayPermissionError):
                        await call()
                else:
                    await call()

    run(scenario())


def test_raw_stream_killed_by_fault_is_a_typed_error() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("raw-kill")
            handle = await session.register("k")
            await session.advise(handle, await session.add_item(handle, "Fault.KillStreamRaw"))
            families = []
            with pytest.raises(MxGatewayUnavailableError):
                async for event in client.stream_events_raw(session.session_id, after_worker_sequence=0):
                    families.append(event.family)
            assert families == [F.ON_DATA_CHANGE]

    run(scenario())


async def _first(source: Any) -> Any:
    async for item in source:
        return item
    return None


RPC, UNIMPLEMENTED, EXHAUSTED, NOT_FOUND = (
    MxGatewayRpcError,
    Status.UNIMPLEMENTED,
    Status.RESOURCE_EXHAUSTED,
    Status.NOT_FOUND,
)
Call = Callable[[GatewayClient, Session, int], Awaitable[Any]]
#: What the simulator refuses, and the error the client raises for it: (call, class, gRPC status or None).
REFUSALS: dict[str, tuple[Call, type[Exception] | None, Status | None]] = {
    "acknowledge_alarm": (lambda c, s, h: c.acknowledge_alarm("Tank_001.Level.Hi"), RPC, UNIMPLEMENTED),
    "stream_alarms": (lambda c, s, h: _first(c.stream_alarms()), RPC, UNIMPLEMENTED),
    "query_active_alarms": (lambda c, s, h: _first(c.query_active_alarms()), RPC, UNIMPLEMENTED),
    "max_sessions": (lambda c, s, h: c.open_session("third"), RPC, EXHAUSTED),
    "max_items": (lambda c, s, h: s.add_item_bulk(h, ["A.a", "A.b", "A.c"]), None, None),
    "max_request_bytes": (lambda c, s, h: s.add_item_bulk(h, ["X" * 100] * 50), RPC, EXHAUSTED),
    "unknown session": (lambda c, s, h: c.attach_session("nope").register("x"), MxGatewayCommandError, None),
    "unknown session stream": (lambda c, s, h: _first(c.attach_session("nope").stream_events()), RPC, NOT_FOUND),
    "unknown item (attached)": (lambda c, s, h: c.attach_session(s.session_id).write(h, 999, 1), MxAccessError, None),
}  # fmt: skip


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusals_raise_typed_errors(name: str) -> None:
    call, error, status = REFUSALS[name]

    async def scenario() -> None:
        async with simulator(max_sessions=2, max_items=2, max_request_bytes=2000) as (_, client):
            session = await client.open_session("limits")
            await client.open_session("second")
            handle = await session.register("l")
            if error is None:  # a per-entry limit: the third entry fails, nothing is raised
                reply = await call(client, session, handle)
                assert [r.was_successful for r in reply.results] == [True, True, False]
                return
            with pytest.raises(error) as caught:
                await call(client, session, handle)
            if status is not None:
                assert caught.value.status == status  # type: ignore[attr-defined]

    run(scenario())
