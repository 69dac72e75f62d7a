"""The gateway simulator driven by the raw betterproto2/grpclib stubs: sessions, every command kind, events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from helpers import async_wait_until
from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway import DEFAULT_PORT, Server
from otwire.servers.mxgateway.faults import HRESULT_INVALIDARG, HRESULT_SECURITY, SECURITY_DETAIL

from .sim_support import K, RawClient, code, run, take

OK = pb.ProtocolStatusCode.OK
FAILURE = pb.ProtocolStatusCode.MXACCESS_FAILURE


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(port=0, rate=50, slow_delay=0.5, items=5) as running:
        yield running


def events_of(reply: pb.MxCommandReply) -> list[pb.MxEvent]:
    assert reply.drain_events is not None
    return reply.drain_events.events


def test_default_port() -> None:
    assert DEFAULT_PORT == 5000


def test_open_and_close_session(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            opened = await client.gateway.open_session(pb.OpenSessionRequest(client_session_name="demo"))
            assert code(opened) == OK and opened.session_id and opened.gateway_protocol_version == 3
            closed = await client.gateway.close_session(pb.CloseSessionRequest(session_id=opened.session_id))
            assert code(closed) == OK and closed.final_state == pb.SessionState.CLOSED
            again = await client.gateway.close_session(pb.CloseSessionRequest(session_id=opened.session_id))
            assert code(again) == pb.ProtocolStatusCode.SESSION_NOT_FOUND
            client.session_id = opened.session_id
            reply = await client.invoke(K.REGISTER, pb.RegisterCommand(client_name="x"))
            assert code(reply) == pb.ProtocolStatusCode.SESSION_NOT_FOUND and reply.kind == K.REGISTER

    run(main())


def test_handles_and_item_commands(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            reply = await client.invoke(
                K.ADD_ITEM2, pb.AddItem2Command(server_handle=sh, item_definition="Pump_001.SP", item_context="ctx")
            )
            assert code(reply) == OK and reply.add_item is not None and reply.correlation_id == "c1"
            ih = reply.add_item.item_handle
            buffered = await client.invoke(
                K.ADD_BUFFERED_ITEM, pb.AddItem2Command(server_handle=sh, item_definition="Pump_001.PV")
            )
            assert buffered.add_item is not None and buffered.add_item.item_handle != ih
            handle = pb.ItemHandleCommand(server_handle=sh, item_handle=ih)
            for kind in (K.ADVISE_SUPERVISORY, K.SUSPEND, K.ACTIVATE, K.UN_ADVISE, K.ADVISE, K.UN_ADVISE):
                assert code(await client.invoke(kind, handle)) == OK, kind
            interval = pb.SetBufferedUpdateIntervalCommand(server_handle=sh, update_interval_ms=100)
            assert code(await client.invoke(K.SET_BUFFERED_UPDATE_INTERVAL, interval)) == OK
            assert code(await client.invoke(K.REMOVE_ITEM, handle)) == OK
            gone = await client.invoke(K.ADVISE, handle)
            assert code(gone) == FAILURE and gone.hresult == HRESULT_INVALIDARG
            assert code(await client.invoke(K.UNREGISTER, pb.UnregisterCommand(server_handle=sh))) == OK
            unknown = await client.invoke(K.ADD_ITEM, pb.AddItemCommand(server_handle=sh, item_definition="A.B"))
            assert code(unknown) == FAILURE and unknown.statuses[0].success == 0

    run(main())


def test_bad_requests(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            unspecified = await client.invoke(K.UNSPECIFIED)
            assert code(unspecified) == pb.ProtocolStatusCode.INVALID_REQUEST
            command = pb.MxCommand(kind=K.ADVISE, register=pb.RegisterCommand())
            mismatched = await client.gateway.invoke(pb.MxCommandRequest(session_id=client.session_id, command=command))
            assert code(mismatched) == pb.ProtocolStatusCode.INVALID_REQUEST
            no_payload = await client.invoke(K.REGISTER)  # read as an empty RegisterCommand
            assert code(no_payload) == OK and no_payload.register is not None

    run(main())


def test_missing_item_fails_add(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            reply = await client.invoke(
                K.ADD_ITEM, pb.AddItemCommand(server_handle=sh, item_definition="Fault.MissingX")
            )
            assert code(reply) == FAILURE and reply.add_item is None
            assert reply.statuses[0].category == pb.MxStatusCategory.CONFIGURATION_ERROR

    run(main())


def test_writes_complete_with_events(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            ih = await client.add(sh, "Boiler_001.SecuredSP")
            value = pb.MxValue(data_type=pb.MxDataType.DOUBLE, double_value=21.5)
            stamp = pb.MxValue(data_type=pb.MxDataType.TIME)
            auth = await client.invoke(
                K.AUTHENTICATE_USER, pb.AuthenticateUserCommand(server_handle=sh, user_name="op", password="pw")
            )
            assert auth.authenticate_user is not None and auth.authenticate_user.user_id > 0
            user = auth.authenticate_user.user_id
            by_name = await client.invoke(
                K.ARCHESTRA_USER_TO_ID, pb.ArchestrAUserToIdCommand(server_handle=sh, archestra_user_name="eng")
            )
            assert by_name.authenticate_user is not None and by_name.authenticate_user.user_id not in (0, user)
            writes = [
                (K.WRITE, pb.WriteCommand(server_handle=sh, item_handle=ih, value=value)),
                (K.WRITE2, pb.Write2Command(server_handle=sh, item_handle=ih, value=value, timestamp_value=stamp)),
                (K.WRITE_SECURED, pb.WriteSecuredCommand(server_handle=sh, item_handle=ih, value=value,
                                                          current_user_id=user)),
                (K.WRITE_SECURED2, pb.WriteSecured2Command(server_handle=sh, item_handle=ih, value=value,
                                                            current_user_id=user, verifier_user_id=user)),
            ]  # fmt: skip
            for kind, payload in writes:
                assert code(await client.invoke(kind, payload)) == OK, kind
            drained = events_of(await client.invoke(K.DRAIN_EVENTS, pb.DrainEventsCommand()))
            completes = [e for e in drained if e.family == pb.MxEventFamily.ON_WRITE_COMPLETE]
            assert len(completes) == 4 and all(e.item_handle == ih and e.statuses[0].success for e in completes)
            assert [e.worker_sequence for e in drained] == list(range(1, len(drained) + 1))
            anonymous = pb.WriteSecuredCommand(server_handle=sh, item_handle=ih, value=value, current_user_id=999)
            refused = await client.invoke(K.WRITE_SECURED, anonymous)
            assert code(refused) == FAILURE and refused.statuses[0].category == pb.MxStatusCategory.SECURITY_ERROR

    run(main())


def test_write_denied_is_an_mxaccess_failure(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            ih = await client.add(sh, "Fault.WriteDeniedSetpoint")
            write = pb.WriteCommand(server_handle=sh, item_handle=ih, value=pb.MxValue(int32_value=1))
            reply = await client.invoke(K.WRITE, write)
            assert code(reply) == FAILURE and reply.hresult == HRESULT_SECURITY == -0x7FFBFE00
            status = reply.statuses[0]
            assert (status.success, status.category, status.detail) == (
                0,
                pb.MxStatusCategory.SECURITY_ERROR,
                SECURITY_DETAIL,
            )
            drained = events_of(await client.invoke(K.DRAIN_EVENTS, pb.DrainEventsCommand()))
            assert not [e for e in drained if e.family == pb.MxEventFamily.ON_WRITE_COMPLETE]

    run(main())


def test_bulk_commands_report_per_entry(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            tags = ["Tank_001.Level", "Fault.MissingTag", "Fault.WriteDeniedSetpoint"]
            added = await client.invoke(K.ADD_ITEM_BULK, pb.AddItemBulkCommand(server_handle=sh, tag_addresses=tags))
            assert code(added) == OK and added.bulk_subscribe is not None
            results = added.bulk_subscribe.results
            assert [r.was_successful for r in results] == [True, False, True] and results[1].error_message
            handles = [results[0].item_handle, 9999, results[2].item_handle]
            bulk = pb.ItemHandleBulkCommand(server_handle=sh, item_handles=handles)
            advised = await client.invoke(K.ADVISE_ITEM_BULK, bulk)
            assert advised.bulk_subscribe is not None
            assert [r.was_successful for r in advised.bulk_subscribe.results] == [True, False, True]
            value = pb.MxValue(double_value=3.0)
            entries = [pb.WriteBulkEntry(item_handle=h, value=value) for h in handles]
            written = await client.invoke(K.WRITE_BULK, pb.WriteBulkCommand(server_handle=sh, entries=entries))
            assert written.bulk_write is not None
            outcome = [(r.item_handle, r.was_successful) for r in written.bulk_write.results]
            assert outcome == [(handles[0], True), (9999, False), (handles[2], False)]
            assert written.bulk_write.results[2].hresult == HRESULT_SECURITY
            for kind in (K.UN_ADVISE_ITEM_BULK, K.REMOVE_ITEM_BULK):
                reply = await client.invoke(kind, pb.ItemHandleBulkCommand(server_handle=sh, item_handles=handles[:1]))
                assert reply.bulk_subscribe is not None and reply.bulk_subscribe.results[0].was_successful, kind
            subscribed = await client.invoke(
                K.SUBSCRIBE_BULK, pb.AddItemBulkCommand(server_handle=sh, tag_addresses=["Valve_001.Position"])
            )
            assert subscribed.bulk_subscribe is not None
            new_handle = subscribed.bulk_subscribe.results[0].item_handle
            unsub = pb.ItemHandleBulkCommand(server_handle=sh, item_handles=[new_handle])
            reply = await client.invoke(K.UNSUBSCRIBE_BULK, unsub)
            assert reply.bulk_subscribe is not None and reply.bulk_subscribe.results[0].was_successful
            again = await client.invoke(K.UNSUBSCRIBE_BULK, unsub)
            assert again.bulk_subscribe is not None and not again.bulk_subscribe.results[0].was_successful
            unknown = await client.invoke(K.ADD_ITEM_BULK, pb.AddItemBulkCommand(server_handle=77, tag_addresses=tags))
            assert code(unknown) == FAILURE

    run(main())


@pytest.mark.parametrize(
    ("kind", "command", "entry"),
    [
        (K.WRITE2_BULK, pb.Write2BulkCommand, pb.Write2BulkEntry),
        (K.WRITE_SECURED_BULK, pb.WriteSecuredBulkCommand, pb.WriteSecuredBulkEntry),
        (K.WRITE_SECURED2_BULK, pb.WriteSecured2BulkCommand, pb.WriteSecured2BulkEntry),
    ],
)
def test_other_bulk_writes(server: Server, kind: pb.MxCommandKind, command: type, entry: type) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            ih = await client.add(sh, "Pump_002.SP")
            secured = kind != K.WRITE2_BULK
            user = 0
            if secured:
                auth = await client.invoke(
                    K.AUTHENTICATE_USER, pb.AuthenticateUserCommand(server_handle=sh, user_name="u")
                )
                assert auth.authenticate_user is not None
                user = auth.authenticate_user.user_id
            ids = {"current_user_id": user} if secured else {}
            entries = [entry(item_handle=ih, value=pb.MxValue(double_value=1.0), **ids)]
            if secured:  # no authenticated user: refused per entry
                entries.append(entry(item_handle=ih, value=pb.MxValue(double_value=1.0), current_user_id=0))
            reply = await client.invoke(kind, command(server_handle=sh, entries=entries))
            assert reply.bulk_write is not None
            assert [r.was_successful for r in reply.bulk_write.results] == [True, False][: len(entries)]

    run(main())


def test_read_bulk_cached_fresh_and_timed_out(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            ih = await client.add(sh, "Compressor_001.Pressure")
            await client.advise(sh, ih)
            tags = ["Compressor_001.Pressure", "Chiller_001.Temperature", "Fault.SlowValue", "Fault.MissingX"]
            read = pb.ReadBulkCommand(server_handle=sh, tag_addresses=tags, timeout_ms=50)
            reply = await client.invoke(K.READ_BULK, read)
            assert reply.bulk_read is not None
            results = reply.bulk_read.results
            assert [r.tag_address for r in results] == tags
            assert [r.was_successful for r in results] == [True, True, False, False]
            assert results[0].was_cached and results[0].item_handle == ih and not results[1].was_cached
            assert results[1].quality == 192 and results[1].value is not None and results[1].timestamp is not None
            assert "timeout_ms=50" in results[2].error_message
            patient = pb.ReadBulkCommand(server_handle=sh, tag_addresses=["Fault.SlowValue"])
            slow = await client.invoke(K.READ_BULK, patient)
            assert slow.bulk_read is not None and slow.bulk_read.results[0].was_successful

    run(main())


def test_slow_reply_meets_the_client_deadline(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            ih = await client.add(sh, "Fault.SlowValue")  # the add itself is slow, within the default deadline
            with pytest.raises((asyncio.TimeoutError, GRPCError)) as caught:
                await client.invoke(K.ADVISE, pb.ItemHandleCommand(server_handle=sh, item_handle=ih), timeout=0.1)
            if isinstance(caught.value, GRPCError):
                assert caught.value.status == Status.DEADLINE_EXCEEDED

    run(main())


def test_stream_delivers_initial_and_changing_values(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            ih = await client.add(sh, "SimTags.Tag0001")
            await client.advise(sh, ih)
            request = pb.StreamEventsRequest(session_id=client.session_id)
            async with contextlib.aclosing(client.gateway.stream_events(request)) as stream:
                events = await take(stream, 5)
            assert [e.worker_sequence for e in events] == [1, 2, 3, 4, 5]
            assert all(e.family == pb.MxEventFamily.ON_DATA_CHANGE and e.item_handle == ih for e in events)
            assert all(e.quality == 192 and e.source_timestamp is not None and e.value is not None for e in events)
            assert events[0].on_data_change is not None and events[0].on_data_change.quality == 192
            assert len({e.value.double_value for e in events if e.value is not None}) > 1
            assert events[-1].source_timestamp > events[0].source_timestamp  # type: ignore[operator]

    run(main())


def test_stream_of_unknown_session_is_not_found(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            with pytest.raises(GRPCError) as caught:
                await take(client.gateway.stream_events(pb.StreamEventsRequest(session_id="nope")), 1)
            assert caught.value.status == Status.NOT_FOUND

    run(main())


def test_stream_ends_when_the_session_closes(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            received: list[pb.MxEvent] = []
            started = asyncio.Event()

            async def consume() -> None:
                request = pb.StreamEventsRequest(session_id=client.session_id)
                started.set()
                async for event in client.gateway.stream_events(request):
                    received.append(event)

            task = asyncio.create_task(consume())
            await started.wait()
            sh = await client.register()
            await client.advise(sh, await client.add(sh, "Pump_003.PV"))
            await async_wait_until(lambda: received, what="the initial OnDataChange")
            await client.gateway.close_session(pb.CloseSessionRequest(session_id=client.session_id))
            await asyncio.wait_for(task, 5)  # ended with status OK: no exception
            assert received[0].worker_sequence == 1

    run(main())


def test_kill_stream_fault(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            await client.advise(sh, await client.add(sh, "Fault.KillStreamValue"))
            received: list[pb.MxEvent] = []
            with pytest.raises(GRPCError) as caught:
                async for event in client.gateway.stream_events(pb.StreamEventsRequest(session_id=client.session_id)):
                    received.append(event)
            assert caught.value.status == Status.UNAVAILABLE
            assert [e.worker_sequence for e in received] == [1]

    run(main())


def test_alarm_rpcs_are_unimplemented(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            with pytest.raises(GRPCError) as caught:
                await client.gateway.acknowledge_alarm(pb.AcknowledgeAlarmRequest(alarm_full_reference="A.B"))
            assert caught.value.status == Status.UNIMPLEMENTED
            with pytest.raises(GRPCError) as streamed:
                await take(client.gateway.query_active_alarms(pb.QueryActiveAlarmsRequest()), 1)
            assert streamed.value.status == Status.UNIMPLEMENTED

    run(main())
