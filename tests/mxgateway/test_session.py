"""``otwire.protocols.mxgateway``: session logic driven by messages, without a network."""

from __future__ import annotations

import itertools

import pytest

from otwire.codecs.mxgateway import pb
from otwire.errors import InvalidArgument, InvalidState, LocalProtocolError, RemoteProtocolError
from otwire.protocols.mxgateway import (
    CommandCompleted,
    CommandFailed,
    EventReceived,
    EventsLost,
    GatewaySession,
    ItemAdded,
    ItemAdvised,
    ItemRemoved,
    ItemUnadvised,
    Outcome,
    ReplayGapReported,
    SequenceRegressed,
    ServerRegistered,
    ServerUnregistered,
    SessionClosed,
    SessionLost,
    SessionOpened,
    SessionOpenRefused,
    WriteAccepted,
    WriteCompleted,
    judge_reply,
    status_failed,
)
from otwire.protocols.mxgateway._state import LOCAL_INPUTS, TRANSITIONS, Input, State

K = pb.MxCommandKind
C = pb.MxStatusCategory
OK = pb.ProtocolStatus(code=pb.ProtocolStatusCode.OK)


def opened(**kwargs: object) -> GatewaySession:
    session = GatewaySession(client_session_name="t", correlation_prefix="c", **kwargs)  # type: ignore[arg-type]
    request = session.open_request()
    assert request.client_session_name == "t" and request.client_correlation_id == "c-1"
    events = session.open_reply_received(
        pb.OpenSessionReply(session_id="s1", gateway_protocol_version=3, protocol_status=OK)
    )
    assert events == [SessionOpened(session_id="s1", gateway_protocol_version=3)]
    return session


def run(session: GatewaySession, command: pb.MxCommand, reply: pb.MxCommandReply) -> list[object]:
    request = session.command_request(command)
    reply.correlation_id = request.client_correlation_id
    reply.session_id = "s1"
    return list(session.reply_received(request.client_correlation_id, reply))


def register(session: GatewaySession, handle: int = 7) -> None:
    events = run(
        session,
        pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand(client_name="me")),
        pb.MxCommandReply(kind=K.REGISTER, protocol_status=OK, register=pb.RegisterReply(server_handle=handle)),
    )
    assert events[1:] == [ServerRegistered(server_handle=handle, client_name="me")]


def add_item(session: GatewaySession, item: int, server: int = 7, name: str = "Obj.Attr") -> None:
    events = run(
        session,
        pb.MxCommand(kind=K.ADD_ITEM, add_item=pb.AddItemCommand(server_handle=server, item_definition=name)),
        pb.MxCommandReply(protocol_status=OK, add_item=pb.AddItemReply(item_handle=item)),
    )
    assert events[1:] == [ItemAdded(server_handle=server, item_handle=item, item_definition=name)]


def item_command(kind: pb.MxCommandKind, arm: str, server: int, item: int) -> pb.MxCommand:
    return pb.MxCommand(kind=kind, **{arm: pb.ItemHandleCommand(server_handle=server, item_handle=item)})


# -- the lifecycle table ----------------------------------------------------------------


@pytest.mark.parametrize(("state", "what"), list(itertools.product(State, Input)))
def test_every_state_input_pair(state: State, what: Input) -> None:
    session = GatewaySession()
    session._state = state
    expected = TRANSITIONS.get((state, what))
    if expected is not None:
        session._move(what)
        assert session.state is expected
    else:
        error = LocalProtocolError if what in LOCAL_INPUTS else RemoteProtocolError
        with pytest.raises(error, match="not allowed in state"):
            session._move(what)
        assert session.state is state


def test_every_open_state_can_end() -> None:
    for state in State:
        assert TRANSITIONS.get((state, Input.LOST)) is State.CLOSED


# -- open, attach, close ------------------------------------------------------------------


def test_open_refused() -> None:
    session = GatewaySession()
    session.open_request()
    status = pb.ProtocolStatus(code=pb.ProtocolStatusCode.WORKER_UNAVAILABLE, message="no worker")
    events = session.open_reply_received(pb.OpenSessionReply(protocol_status=status))
    assert isinstance(events[0], SessionOpenRefused) and "WORKER_UNAVAILABLE no worker" in events[0].reason
    assert session.is_closed


def test_attach_uses_an_existing_session_without_handle_checks() -> None:
    session = GatewaySession(check_handles=False)
    assert session.attach("s9") == [SessionOpened(session_id="s9")]
    request = session.command_request(item_command(K.ADVISE, "advise", 3, 4))
    assert request.session_id == "s9"
    with pytest.raises(InvalidArgument):
        GatewaySession().attach("")


def test_close_is_idempotent_and_ends_the_session() -> None:
    session = opened()
    request = session.close_request()
    assert request == pb.CloseSessionRequest(session_id="s1")
    assert session.close_request() is None
    events = session.close_reply_received(pb.CloseSessionReply(final_state=pb.SessionState.CLOSED))
    assert events == [SessionClosed(session_id="s1", final_state=pb.SessionState.CLOSED)]
    assert session.close_request() is None
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        session.command_request(pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand()))


def test_commands_need_an_open_session() -> None:
    with pytest.raises(LocalProtocolError, match="NEW"):
        GatewaySession().command_request(pb.MxCommand(kind=K.REGISTER))


# -- handles and advise state ------------------------------------------------------------


def test_register_add_advise_unadvise_remove() -> None:
    session = opened()
    register(session)
    add_item(session, 30)
    events = run(session, item_command(K.ADVISE, "advise", 7, 30), pb.MxCommandReply(protocol_status=OK))
    assert events[1:] == [ItemAdvised(server_handle=7, item_handle=30)]
    assert session.is_advised(7, 30)
    events = run(session, item_command(K.UN_ADVISE, "un_advise", 7, 30), pb.MxCommandReply(protocol_status=OK))
    assert events[1:] == [ItemUnadvised(server_handle=7, item_handle=30)] and not session.is_advised(7, 30)
    events = run(session, item_command(K.REMOVE_ITEM, "remove_item", 7, 30), pb.MxCommandReply(protocol_status=OK))
    assert events[1:] == [ItemRemoved(server_handle=7, item_handle=30)]
    assert session.handles.item(7, 30) is None


def test_register_handle_from_return_value() -> None:
    session = opened()
    events = run(
        session,
        pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand(client_name="me")),
        pb.MxCommandReply(return_value=pb.MxValue(int32_value=5)),
    )
    assert events[1:] == [ServerRegistered(server_handle=5, client_name="me")]


def test_unregister_invalidates_its_items_only() -> None:
    session = opened()
    register(session, 7)
    register(session, 8)
    add_item(session, 1, server=7)
    add_item(session, 2, server=7)
    add_item(session, 1, server=8)
    events = run(
        session, pb.MxCommand(kind=K.UNREGISTER, unregister=pb.UnregisterCommand(server_handle=7)), pb.MxCommandReply()
    )
    assert events[1:] == [ServerUnregistered(server_handle=7, item_handles=(1, 2))]
    with pytest.raises(InvalidState, match="server handle 7"):
        session.command_request(item_command(K.ADVISE, "advise", 7, 1))
    session.command_request(item_command(K.ADVISE, "advise", 8, 1))


@pytest.mark.parametrize(
    ("command", "match"),
    [
        (pb.MxCommand(kind=K.ADD_ITEM, add_item=pb.AddItemCommand(server_handle=99)), "server handle 99"),
        (item_command(K.ADVISE, "advise", 7, 99), "item handle 99"),
        (pb.MxCommand(kind=K.WRITE, write=pb.WriteCommand(server_handle=7, item_handle=98)), "item handle 98"),
        (pb.MxCommand(kind=K.WRITE_BULK, write_bulk=pb.WriteBulkCommand(server_handle=6)), "server handle 6"),
    ],
)
def test_unknown_handles_are_refused_before_sending(command: pb.MxCommand, match: str) -> None:
    session = opened()
    register(session)
    with pytest.raises(InvalidState, match=match):
        session.command_request(command)
    assert session.pending == {}


def test_kind_and_payload_must_agree() -> None:
    session = opened()
    with pytest.raises(InvalidArgument, match="kind must be set"):
        session.command_request(pb.MxCommand(register=pb.RegisterCommand()))
    with pytest.raises(InvalidArgument, match="does not match"):
        session.command_request(pb.MxCommand(kind=K.UNREGISTER, register=pb.RegisterCommand()))


# -- correlation ------------------------------------------------------------------------


def test_correlation_ids_are_unique_and_replies_must_match() -> None:
    session = opened()
    a = session.command_request(pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand()))
    b = session.command_request(pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand()))
    assert (a.client_correlation_id, b.client_correlation_id) == ("c-2", "c-3")
    assert set(session.pending) == {"c-2", "c-3"}
    with pytest.raises(RemoteProtocolError, match="does not match"):
        session.reply_received("c-2", pb.MxCommandReply(correlation_id="c-3"))
    with pytest.raises(RemoteProtocolError, match="session id"):
        session.reply_received("c-3", pb.MxCommandReply(session_id="other"))
    with pytest.raises(LocalProtocolError, match="no command pending"):
        session.reply_received("c-3", pb.MxCommandReply())


def test_reply_kind_must_answer_the_command() -> None:
    session = opened()
    request = session.command_request(pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand()))
    with pytest.raises(RemoteProtocolError, match="answers a REGISTER"):
        session.reply_received(request.client_correlation_id, pb.MxCommandReply(kind=K.WRITE))


def test_abandon_forgets_a_pending_command() -> None:
    session = opened()
    request = session.command_request(pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand()), timeout=2.5)
    assert request.timeout is not None and request.timeout.total_seconds() == 2.5
    session.abandon(request.client_correlation_id)
    assert session.pending == {}


# -- failure detection -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (pb.MxCommandReply(), Outcome.OK),
        (pb.MxCommandReply(protocol_status=OK, statuses=[pb.MxStatusProxy()]), Outcome.OK),
        (pb.MxCommandReply(statuses=[pb.MxStatusProxy(category=C.PENDING)]), Outcome.OK),
        (pb.MxCommandReply(statuses=[pb.MxStatusProxy(category=C.OK)]), Outcome.OK),
        (pb.MxCommandReply(statuses=[pb.MxStatusProxy(success=1, category=C.SECURITY_ERROR)]), Outcome.OK),
        (
            pb.MxCommandReply(statuses=[pb.MxStatusProxy(category=C.SECURITY_ERROR, detail=321)]),
            Outcome.MXACCESS_FAILED,
        ),
        (pb.MxCommandReply(statuses=[pb.MxStatusProxy(category=pb.MxStatusCategory(42))]), Outcome.MXACCESS_FAILED),
        (pb.MxCommandReply(hresult=-2147220992), Outcome.MXACCESS_FAILED),
        (
            pb.MxCommandReply(protocol_status=pb.ProtocolStatus(code=pb.ProtocolStatusCode.MXACCESS_FAILURE)),
            Outcome.MXACCESS_FAILED,
        ),
        (
            pb.MxCommandReply(protocol_status=pb.ProtocolStatus(code=pb.ProtocolStatusCode.TIMEOUT)),
            Outcome.COMMAND_FAILED,
        ),
    ],
)
def test_failure_detection(reply: pb.MxCommandReply, outcome: Outcome) -> None:
    assert judge_reply(reply).outcome is outcome


def test_proto3_default_status_is_not_a_failure() -> None:
    assert not status_failed(pb.MxStatusProxy())
    assert status_failed(pb.MxStatusProxy(category=C.COMMUNICATION_ERROR, detail=1003))


def test_mxaccess_failure_keeps_the_raw_reply_and_describes_it() -> None:
    session = opened()
    register(session)
    add_item(session, 30)
    reply = pb.MxCommandReply(
        protocol_status=pb.ProtocolStatus(code=pb.ProtocolStatusCode.MXACCESS_FAILURE),
        hresult=-2147220992,
        statuses=[pb.MxStatusProxy(category=C.SECURITY_ERROR, detail=321)],
    )
    events = run(session, pb.MxCommand(kind=K.WRITE, write=pb.WriteCommand(server_handle=7, item_handle=30)), reply)
    (failed,) = events
    assert isinstance(failed, CommandFailed) and failed.reply is reply and failed.outcome is Outcome.MXACCESS_FAILED
    assert failed.reason == "WRITE failed: protocol=MXACCESS_FAILURE hresult=0x80040200 status=SECURITY_ERROR/321"
    assert session.handles.item(7, 30).pending_writes == 0  # type: ignore[union-attr]


def test_session_not_found_ends_the_session() -> None:
    session = opened()
    status = pb.ProtocolStatus(code=pb.ProtocolStatusCode.SESSION_NOT_FOUND, message="gone")
    events = run(
        session, pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand()), pb.MxCommandReply(protocol_status=status)
    )
    assert isinstance(events[0], CommandFailed) and events[0].outcome is Outcome.COMMAND_FAILED
    assert isinstance(events[1], SessionLost) and session.is_closed


# -- bulk --------------------------------------------------------------------------------


def test_subscribe_bulk_applies_successful_entries_only() -> None:
    session = opened()
    register(session)
    results = [
        pb.SubscribeResult(tag_address="A.x", item_handle=1, was_successful=True),
        pb.SubscribeResult(tag_address="B.y", error_message="no such tag"),
    ]
    events = run(
        session,
        pb.MxCommand(
            kind=K.SUBSCRIBE_BULK, subscribe_bulk=pb.AddItemBulkCommand(server_handle=7, tag_addresses=["A.x", "B.y"])
        ),
        pb.MxCommandReply(bulk_subscribe=pb.BulkSubscribeReply(results=results)),
    )
    assert isinstance(events[0], CommandCompleted)
    assert events[1:] == [
        ItemAdded(server_handle=7, item_handle=1, item_definition="A.x"),
        ItemAdvised(server_handle=7, item_handle=1),
    ]
    events = run(
        session,
        pb.MxCommand(
            kind=K.UNSUBSCRIBE_BULK, unsubscribe_bulk=pb.ItemHandleBulkCommand(server_handle=7, item_handles=[1])
        ),
        pb.MxCommandReply(
            bulk_subscribe=pb.BulkSubscribeReply(results=[pb.SubscribeResult(item_handle=1, was_successful=True)])
        ),
    )
    assert events[1:] == [ItemUnadvised(server_handle=7, item_handle=1), ItemRemoved(server_handle=7, item_handle=1)]


# -- writes and events -------------------------------------------------------------------


def write_complete(sequence: int, item: int = 30, **kwargs: object) -> pb.MxEvent:
    return pb.MxEvent(
        worker_sequence=sequence,
        family=pb.MxEventFamily.ON_WRITE_COMPLETE,
        server_handle=7,
        item_handle=item,
        on_write_complete=pb.OnWriteCompleteEvent(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_write_then_on_write_complete() -> None:
    session = opened()
    register(session)
    add_item(session, 30)
    events = run(
        session, pb.MxCommand(kind=K.WRITE, write=pb.WriteCommand(server_handle=7, item_handle=30)), pb.MxCommandReply()
    )
    assert events[1:] == [WriteAccepted(server_handle=7, item_handle=30)]
    first = session.event_received(write_complete(1))
    assert first[0] == WriteCompleted(server_handle=7, item_handle=30, statuses=(), failed=False, expected=True)
    assert isinstance(first[1], EventReceived) and first[1].known_item and not first[1].failed
    bad = pb.MxStatusProxy(category=C.OPERATIONAL_ERROR)
    second = session.event_received(write_complete(2, statuses=[bad]))
    assert second[0] == WriteCompleted(server_handle=7, item_handle=30, statuses=(bad,), failed=True, expected=False)


def test_bulk_write_accepts_successful_entries() -> None:
    session = opened()
    register(session)
    add_item(session, 30)
    results = [
        pb.BulkWriteResult(item_handle=30, was_successful=True),
        pb.BulkWriteResult(item_handle=31, error_message="x"),
    ]
    events = run(
        session,
        pb.MxCommand(kind=K.WRITE_BULK, write_bulk=pb.WriteBulkCommand(server_handle=7)),
        pb.MxCommandReply(bulk_write=pb.BulkWriteReply(results=results)),
    )
    assert events[1:] == [WriteAccepted(server_handle=7, item_handle=30)]


def data_change(sequence: int) -> pb.MxEvent:
    return pb.MxEvent(worker_sequence=sequence, family=pb.MxEventFamily.ON_DATA_CHANGE, server_handle=7, item_handle=1)


def test_sequence_gaps_regressions_and_resume_point() -> None:
    session = opened()
    assert session.stream_request().after_worker_sequence is None
    assert [type(e) for e in session.event_received(data_change(5))] == [EventReceived]
    assert [type(e) for e in session.event_received(data_change(6))] == [EventReceived]
    lost = session.event_received(data_change(9))
    assert lost[0] == EventsLost(expected_sequence=7, received_sequence=9) and lost[0].count == 2
    assert session.sequence.lost == 2
    assert session.event_received(data_change(9))[0] == SequenceRegressed(last_sequence=9, received_sequence=9)
    assert session.stream_request().after_worker_sequence == 9


def test_replay_gap_sentinel_moves_the_resume_point() -> None:
    session = opened(after_worker_sequence=3)
    assert session.stream_request().after_worker_sequence == 3
    sentinel = pb.MxEvent(replay_gap=pb.ReplayGap(requested_after_sequence=3, oldest_available_sequence=40))
    assert session.event_received(sentinel) == [
        ReplayGapReported(requested_after_sequence=3, oldest_available_sequence=40)
    ]
    assert session.sequence.resume_after == 39
    assert [type(e) for e in session.event_received(data_change(40))] == [EventReceived]
    assert session.stream_request(after_worker_sequence=100).after_worker_sequence == 100
    assert session.sequence.resume_after == 100


def test_events_for_unknown_items_and_failed_events() -> None:
    session = opened()
    (received,) = session.event_received(pb.MxEvent(worker_sequence=1, server_handle=1, item_handle=2, hresult=-1))
    assert isinstance(received, EventReceived) and not received.known_item and received.failed
    assert received.worker_sequence == 1


def test_events_refused_once_closed() -> None:
    session = opened()
    session.lost("carrier failed")
    assert session.lost("again") == []
    with pytest.raises(RemoteProtocolError, match="CLOSED"):
        session.event_received(data_change(1))
