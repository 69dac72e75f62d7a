"""otwire's ``mxgateway`` client against the independent grpcio gateway: sessions and commands."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from otwire.clients.mxgateway import (
    MxAccessError,
    MxGatewayCommandError,
    Session,
    from_mx_value,
    pb,
)
from otwire.errors import InvalidArgument, InvalidArgumentType, InvalidState, RequestError

from .grpcio_peer import KEY, GrpcioPeer
from .grpcio_peer_kit import connect, peer, run

__all__ = ["peer"]
UTC = dt.UTC
WHEN = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def _events(session: Session, count: int) -> list[pb.MxEvent]:
    out: list[pb.MxEvent] = []
    async for event in session.stream_events():
        out.append(event)
        if len(out) == count:
            break
    return out


def test_seed_readme_flow(peer: GrpcioPeer) -> None:
    async def scenario() -> list[pb.MxEvent]:
        async with await connect(peer) as client:
            session = await client.open_session(client_session_name="demo")
            server = await session.register("demo")
            item = await session.add_item(server, "Obj.Attr")
            await session.advise(server, item)
            await session.write(server, item, 42, user_id=0)
            events = await _events(session, 3)
            await session.close()
            return events

    initial, written, changed = run(scenario())
    assert initial.family == pb.MxEventFamily.ON_DATA_CHANGE and from_mx_value(initial.value) == 0
    assert written.family == pb.MxEventFamily.ON_WRITE_COMPLETE
    assert changed.family == pb.MxEventFamily.ON_DATA_CHANGE and from_mx_value(changed.value) == 42
    assert [e.worker_sequence for e in (initial, written, changed)] == [1, 2, 3]
    assert peer.gateway.closed_sessions == ["sess-1"]
    assert {header for _, header in peer.auth.seen} == {f"Bearer {KEY}"}
    correlation_ids = [request.client_correlation_id for request in peer.gateway.requests]
    assert len(set(correlation_ids)) == len(correlation_ids) == 4 and all(correlation_ids)


def test_every_single_item_method(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await connect(peer) as client:
            session = await client.open_session("all")
            server = await session.register("all")
            first = await session.add_item2(server, "Obj.A", "ctx")
            second = await session.add_item(server, "Obj.B")
            assert first != second
            await session.advise_supervisory(server, first)
            assert session.logic.handles.item(server, first).supervisory  # type: ignore[union-attr]
            await session.unadvise(server, first)
            assert not session.logic.is_advised(server, first)
            await session.write2(server, first, 1.5, WHEN)
            user = await session.authenticate_user(server, "op", "pw")
            assert user == 77
            await session.write_secured(server, first, "text", user, user)
            await session.write_secured2(server, first, True, WHEN, user, user)
            read = await session.read(server, "Obj.A", timeout_ms=500)
            assert read.was_cached and from_mx_value(read.value) is True
            drained = await session.drain_events()
            assert [e.family for e in drained] == [pb.MxEventFamily.ON_DATA_CHANGE] + [
                pb.MxEventFamily.ON_WRITE_COMPLETE
            ] * 3
            await session.remove_item(server, second)
            with pytest.raises(InvalidState, match="item handle"):
                await session.advise(server, second)
            await session.unregister(server)
            with pytest.raises(InvalidState, match="server handle"):
                await session.write(server, first, 1)
            assert peer.gateway.requests[-1].command.kind == pb.MxCommandKind.UNREGISTER

    run(scenario())


def test_mxaccess_failure_keeps_the_raw_reply(peer: GrpcioPeer) -> None:
    async def scenario() -> tuple[MxAccessError, MxAccessError]:
        async with await connect(peer) as client:
            session = await client.open_session()
            server = await session.register("x")
            item = await session.add_item(server, "Denied.Attr")
            with pytest.raises(MxAccessError) as write_error:
                await session.write(server, item, 5)
            with pytest.raises(MxAccessError) as add_error:
                await session.add_item(server, "Missing.Attr")
            raw = await session.invoke_raw(
                pb.MxCommand(kind=pb.MxCommandKind.WRITE, write=pb.WriteCommand(server_handle=server, item_handle=item))
            )
            assert raw.hresult == -2147220992
            return write_error.value, add_error.value

    write_error, add_error = run(scenario())
    assert isinstance(write_error, MxGatewayCommandError) and isinstance(write_error, RequestError)
    reply = write_error.reply
    assert reply.protocol_status.code == pb.ProtocolStatusCode.MXACCESS_FAILURE
    assert write_error.hresult == write_error.code == reply.hresult == -2147220992
    assert [(s.category, s.detail) for s in write_error.statuses] == [(pb.MxStatusCategory.SECURITY_ERROR, 321)]
    assert str(write_error) == "WRITE failed: protocol=MXACCESS_FAILURE hresult=0x80040200 status=SECURITY_ERROR/321"
    assert add_error.reply.diagnostic_message == "no such tag Missing.Attr"


def test_bulk_family_reports_per_entry_failures(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await connect(peer) as client:
            session = await client.open_session()
            server = await session.register("bulk")
            added = await session.add_item_bulk(server, ["A.x", "Missing.y", "Denied.z"])
            assert [r.was_successful for r in added.results] == [True, False, True]
            assert added.results[1].error_message == "no such tag Missing.y"
            ax, denied = added.results[0].item_handle, added.results[2].item_handle
            advised = await session.advise_item_bulk(server, [ax, 9999])
            assert [r.was_successful for r in advised.results] == [True, False]
            assert session.logic.is_advised(server, ax)
            written = await session.write_bulk(server, [(ax, 1), (denied, 2, 0)])
            assert [r.was_successful for r in written.results] == [True, False]
            assert written.results[1].hresult == -2147220992
            w2 = await session.write2_bulk(server, [(ax, 2, WHEN), (denied, 3, WHEN, 0)])
            ws = await session.write_secured_bulk(server, [(ax, 3, 1, 1), (denied, 4, 1, 1)])
            ws2 = await session.write_secured2_bulk(server, [(ax, 4, WHEN, 1, 1), (denied, 5, WHEN, 1, 1)])
            for reply in (w2, ws, ws2):
                assert [r.was_successful for r in reply.results] == [True, False]
            read = await session.read_bulk(server, ["A.x", "Missing.y"], timeout_ms=250)
            assert [r.was_successful for r in read.results] == [True, False]
            assert from_mx_value(read.results[0].value) == 4 and read.results[0].was_cached
            assert peer.gateway.requests[-1].command.read_bulk.timeout_ms == 250
            subscribed = await session.subscribe_bulk(server, ["B.x", "Missing.q"])
            bx = subscribed.results[0].item_handle
            assert session.logic.is_advised(server, bx) and not subscribed.results[1].was_successful
            unadvised = await session.unadvise_item_bulk(server, [ax])
            assert unadvised.results[0].was_successful and not session.logic.is_advised(server, ax)
            removed = await session.remove_item_bulk(server, [ax, 4242])
            assert [r.was_successful for r in removed.results] == [True, False]
            unsubscribed = await session.unsubscribe_bulk(server, [bx])
            assert unsubscribed.results[0].was_successful and session.logic.handles.item(server, bx) is None

    run(scenario())


def test_bad_arguments_are_refused_before_sending(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await connect(peer) as client:
            session = await client.open_session()
            server = await session.register("args")
            item = await session.add_item(server, "A.x")
            sent = len(peer.gateway.requests)
            with pytest.raises(InvalidArgument, match="non-finite"):
                await session.write(server, item, float("nan"))
            with pytest.raises(InvalidArgumentType):
                await session.write(server, "1", 1)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument, match="tuples of 2 or 3"):
                await session.write_bulk(server, [(item,)])
            with pytest.raises(InvalidArgumentType, match="list of str"):
                await session.add_item_bulk(server, "A.x")
            with pytest.raises(InvalidArgument, match="naive"):
                await session.write2(server, item, 1, dt.datetime(2026, 1, 1))
            with pytest.raises(InvalidArgument, match="timeout must be > 0"):
                await session.register("x", timeout=0)
            assert len(peer.gateway.requests) == sent

    run(scenario())


def test_invoke_and_the_raw_calls(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await connect(peer) as client:
            opened = await client.open_session_raw("raw")
            assert opened.session_id == "sess-1" and opened.gateway_protocol_version == 3
            command = pb.MxCommand(kind=pb.MxCommandKind.REGISTER, register=pb.RegisterCommand(client_name="r"))
            reply = await client.invoke_raw(pb.MxCommandRequest(session_id="sess-1", command=command))
            assert reply.register is not None and reply.register.server_handle == 1
            unknown = await client.invoke_raw(pb.MxCommandRequest(session_id="nope", command=command))
            assert unknown.protocol_status.code == pb.ProtocolStatusCode.SESSION_NOT_FOUND
            session = client.attach_session("sess-1")
            replied = await session.invoke(
                pb.MxCommand(
                    kind=pb.MxCommandKind.ADD_ITEM, add_item=pb.AddItemCommand(server_handle=1, item_definition="A.x")
                )
            )
            assert replied.add_item is not None and replied.correlation_id.endswith("-1")
            closed = await client.close_session_raw("sess-1")
            assert closed.final_state == pb.SessionState.CLOSED
            with pytest.raises(MxGatewayCommandError, match="SESSION_NOT_FOUND") as lost:
                await session.register("late")
            assert session.logic.is_closed and lost.value.reply.protocol_status.code == 3

    run(scenario())


def test_open_session_refused(peer: GrpcioPeer) -> None:
    async def scenario() -> MxGatewayCommandError:
        async with await connect(peer) as client:
            with pytest.raises(MxGatewayCommandError) as refused:
                await client.open_session("refuse")
            return refused.value

    error = run(scenario())
    assert "WORKER_UNAVAILABLE" in str(error) and isinstance(error.reply, pb.OpenSessionReply)


def test_close_is_idempotent_under_concurrency(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        client = await connect(peer)
        session = await client.open_session()
        other = await client.open_session()
        replies = await asyncio.gather(session.close(), session.close(), session.close())
        assert replies[0] is replies[1] is replies[2] and replies[0].final_state == pb.SessionState.CLOSED
        assert await session.close() is replies[0]
        await asyncio.gather(client.close(), client.close())
        await client.close()
        assert other.logic.is_closed
        with pytest.raises(InvalidState, match="closed"):
            await client.open_session()

    run(scenario())
    closes = [method for method, _ in peer.auth.seen if method == "CloseSession"]
    assert len(closes) == 2 and sorted(peer.gateway.closed_sessions) == ["sess-1", "sess-2"]
