"""otwire's ``mxgateway`` client against otwire's simulator: every method, bulk failures, faults, auth."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from helpers import async_wait_until
from otwire.clients.mxgateway import (
    GatewayClient,
    MxAccessError,
    MxGatewayAuthenticationError,
    MxGatewayDeadlineError,
    MxGatewayPermissionError,
    MxGatewayUnavailableError,
    Session,
    SparseArray,
    from_mx_value,
    pb,
)
from otwire.errors import InvalidState

from .sim_fixtures import KEY, READ_ONLY, run, simulator

K = pb.MxCommandKind
F = pb.MxEventFamily
STAMP = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
DENIED_HRESULT = -2147220992  # 0x80040200


async def take(session: Session, count: int, **kwargs: Any) -> list[pb.MxEvent]:
    found: list[pb.MxEvent] = []
    async for event in session.stream_events(**kwargs):
        found.append(event)
        if len(found) == count:
            break
    return found


def test_every_item_method_and_a_concurrent_close() -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            session = await client.open_session(client_session_name="conf")
            assert server.model is not None and list(server.model.sessions) == [session.session_id]
            handle = await session.register("conf")
            first = await session.add_item(handle, "SimTags.Tag0001")
            second = await session.add_item2(handle, "SimTags.Tag0002", "ctx")
            assert first != second
            await session.advise(handle, first)
            await session.advise_supervisory(handle, second)
            events = await take(session, 2)
            assert [(e.family, e.item_handle) for e in events] == [
                (F.ON_DATA_CHANGE, first),
                (F.ON_DATA_CHANGE, second),
            ]
            assert [e.worker_sequence for e in events] == [1, 2] and session.last_worker_sequence == 2
            await session.unadvise(handle, first)
            await session.remove_item(handle, first)
            with pytest.raises(InvalidState):  # the client knows the handle is gone: nothing is sent
                await session.advise(handle, first)
            await session.unregister(handle)
            replies = await asyncio.gather(*(session.close() for _ in range(5)))
            assert all(reply is replies[0] for reply in replies) and replies[0] is not None
            assert server.model.sessions == {}
            assert await session.close() is replies[0]

    run(scenario())


async def _written(session: Session, how: str, handle: int, item: int, value: object) -> None:
    if how == "write":
        await session.write(handle, item, value, user_id=0)
    elif how == "write2":
        await session.write2(handle, item, value, STAMP)
    else:
        user = await session.authenticate_user(handle, "operator", "secret")
        verifier = await session.authenticate_user(handle, "supervisor", "secret")
        if how == "write_secured":
            await session.write_secured(handle, item, value, user, verifier)
        else:
            await session.write_secured2(handle, item, value, STAMP, user, verifier)


@pytest.mark.parametrize("how", ["write", "write2", "write_secured", "write_secured2"])
def test_writes_complete_and_read_back(how: str) -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("writes")
            handle = await session.register("w")
            item = await session.add_item(handle, "Boiler_001.SP")
            await _written(session, how, handle, item, 42.5)
            [done] = await take(session, 1)
            assert (done.family, done.item_handle) == (F.ON_WRITE_COMPLETE, item)
            result = await session.read(handle, "Boiler_001.SP")
            assert from_mx_value(result.value) == 42.5 and result.was_successful

    run(scenario())


def test_a_sparse_write_reads_back_as_the_full_default_filled_array() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("sparse")
            handle = await session.register("s")
            item = await session.add_item(handle, "Boiler_001.SP")
            await session.write(handle, item, SparseArray(5, {1: 2.5, 3: -1.0}))
            [done] = await take(session, 1)
            assert done.family == F.ON_WRITE_COMPLETE
            result = await session.read(handle, "Boiler_001.SP")
            assert from_mx_value(result.value) == [0.0, 2.5, 0.0, -1.0, 0.0]
            assert result.value.array_value.element_variant_type == pb.VariantType.VT_R8

    run(scenario())


@pytest.mark.parametrize("how", ["write", "write2", "write_secured", "write_secured2"])
def test_denied_writes_raise_mxaccess_error_with_the_raw_reply(how: str) -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("denied")
            handle = await session.register("d")
            item = await session.add_item(handle, "Fault.WriteDeniedSetpoint")
            with pytest.raises(MxAccessError) as caught:
                await _written(session, how, handle, item, 1)
            error = caught.value
            assert error.hresult == DENIED_HRESULT and error.reply.hresult == DENIED_HRESULT
            assert error.reply.protocol_status.code == pb.ProtocolStatusCode.MXACCESS_FAILURE
            assert [(s.category, s.detail) for s in error.statuses] == [(pb.MxStatusCategory.SECURITY_ERROR, 321)]
            assert await session.drain_events() == []  # no OnWriteComplete for a refused write

    run(scenario())


def test_read_of_a_missing_tag_raises() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("read")
            handle = await session.register("r")
            with pytest.raises(MxAccessError) as caught:
                await session.read(handle, "Fault.MissingTag")
            assert caught.value.reply.bulk_read.results[0].was_successful is False
            with pytest.raises(MxAccessError):
                await session.add_item(handle, "Fault.MissingTag")

    run(scenario())


def _entries(reply: Any) -> list[bool]:
    return [result.was_successful for result in reply.results]


def test_bulk_methods_report_failed_entries_without_raising() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("bulk")
            handle = await session.register("b")
            added = await session.add_item_bulk(handle, ["SimTags.Tag0001", "Fault.MissingA", "Fault.WriteDeniedX"])
            assert _entries(added) == [True, False, True] and "Fault.MissingA" in added.results[1].error_message
            good, denied = added.results[0].item_handle, added.results[2].item_handle
            assert _entries(await session.advise_item_bulk(handle, [good, 999])) == [True, False]
            assert _entries(await session.unadvise_item_bulk(handle, [good, 998])) == [True, False]
            subscribed = await session.subscribe_bulk(handle, ["SimTags.Tag0002", "Fault.MissingB"])
            assert _entries(subscribed) == [True, False]
            user = await session.authenticate_user(handle, "operator", "pw")
            writes = [
                await session.write_bulk(handle, [(good, 1), (denied, 2)]),
                await session.write2_bulk(handle, [(good, 3, STAMP), (denied, 4, STAMP, 0)]),
                await session.write_secured_bulk(handle, [(good, 5, user, 0), (denied, 6, user, 0)]),
                await session.write_secured2_bulk(handle, [(good, 7, STAMP, user, 0), (denied, 8, STAMP, user, 0)]),
            ]
            for reply in writes:
                assert _entries(reply) == [True, False] and reply.results[1].hresult == DENIED_HRESULT
            read = await session.read_bulk(handle, ["SimTags.Tag0001", "Fault.MissingC"], timeout_ms=100)
            assert _entries(read) == [True, False] and from_mx_value(read.results[0].value) == 7
            assert _entries(await session.remove_item_bulk(handle, [good, 997])) == [True, False]
            unsubscribed = await session.unsubscribe_bulk(handle, [subscribed.results[0].item_handle, 996])
            assert _entries(unsubscribed) == [True, False]

    run(scenario())


def test_invoke_and_the_raw_calls() -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            session = await client.open_session("invoke")
            handle = await session.register("i")
            item = await session.add_item(handle, "Fault.WriteDeniedRaw")
            write = pb.MxCommand(
                kind=K.WRITE, write=pb.WriteCommand(server_handle=handle, item_handle=item, value=pb.MxValue())
            )
            raw = await session.invoke_raw(write)  # no failure detection
            assert raw.protocol_status.code == pb.ProtocolStatusCode.MXACCESS_FAILURE
            with pytest.raises(MxAccessError):
                await session.invoke(write)
            drained = await session.invoke(pb.MxCommand(kind=K.DRAIN_EVENTS, drain_events=pb.DrainEventsCommand()))
            assert drained.drain_events is not None and drained.drain_events.events == []

            opened = await client.open_session_raw(client_session_name="raw")
            request = pb.MxCommandRequest(
                session_id=opened.session_id,
                command=pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand(client_name="raw")),
            )
            registered = await client.invoke_raw(request)
            assert registered.register is not None and registered.register.server_handle >= 1
            events = client.stream_events_raw(opened.session_id, after_worker_sequence=0)
            stream = asyncio.ensure_future(anext(events))
            await async_wait_until(lambda: server.tracker is not None and server.tracker.open == 1, what="stream")
            closed = await client.close_session_raw(opened.session_id)
            assert closed.protocol_status is None or closed.protocol_status.code == pb.ProtocolStatusCode.OK
            with pytest.raises(StopAsyncIteration):  # the close ends the session's stream in order
                await stream
            gone = await client.invoke_raw(request)
            assert gone.protocol_status.code == pb.ProtocolStatusCode.SESSION_NOT_FOUND

    run(scenario())


def test_auth_failures_by_key_and_scope() -> None:
    async def scenario() -> None:
        async with simulator(key="not-a-key") as (server, wrong):
            with pytest.raises(MxGatewayAuthenticationError) as caught:
                await wrong.open_session("x")
            assert "not-a-key" not in str(caught.value)
            reader = await GatewayClient.connect(endpoint=f"127.0.0.1:{server.port}", api_key=READ_ONLY, plaintext=True)
            async with reader:
                session = await reader.open_session("ro")
                handle = await session.register("ro")
                item = await session.add_item(handle, "SimTags.Tag0001")
                assert (await session.read(handle, "SimTags.Tag0001")).was_successful
                with pytest.raises(MxGatewayPermissionError) as denied:
                    await session.write(handle, item, 1)
                assert READ_ONLY not in str(denied.value) and KEY not in str(denied.value)

    run(scenario())


def test_slow_tag_hits_the_per_call_deadline() -> None:
    async def scenario() -> None:
        async with simulator(slow_delay=0.5) as (_, client):
            session = await client.open_session("slow")
            handle = await session.register("s")
            item = await session.add_item(handle, "Fault.SlowValue", timeout=10)
            with pytest.raises(MxGatewayDeadlineError):
                await session.advise(handle, item, timeout=0.1)
            with pytest.raises(TimeoutError):  # the deadline error is a TimeoutError too
                await session.write(handle, item, 1, timeout=0.1)
            reply = await session.write(handle, item, 2, timeout=10)  # a long enough deadline passes
            assert reply.protocol_status.code == pb.ProtocolStatusCode.OK

    run(scenario())


def test_kill_stream_fault_raises_a_typed_error_mid_stream() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            session = await client.open_session("kill")
            handle = await session.register("k")
            item = await session.add_item(handle, "Fault.KillStreamValue")
            await session.advise(handle, item)
            seen: list[pb.MxEvent] = []
            with pytest.raises(MxGatewayUnavailableError, match="killed"):
                async for event in session.stream_events():
                    seen.append(event)
            assert [(e.family, e.worker_sequence) for e in seen] == [(F.ON_DATA_CHANGE, 1)]
            await session.write(handle, item, 3)  # the session lives on; a resumed stream is not killed again
            assert [e.family for e in await take(session, 2)] == [F.ON_WRITE_COMPLETE, F.ON_DATA_CHANGE]

    run(scenario())
