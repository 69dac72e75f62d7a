"""The sans-IO IMB3 hub engine: lifecycle table, routing, translation, notifications, limits.

Raw frames in, raw frames out, a fake clock (plain floats); no sockets.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from helpers import drain
from otwire.codecs.imb import (
    AllVariables,
    EndSession,
    EventCommand,
    EventNames,
    Frame,
    HeartBeat,
    IMBFramer,
    LogWriteLn,
    NormalEvent,
    Publish,
    RequestEventNames,
    SetClientInfo,
    SetEventIDTranslation,
    SetState,
    SetVariable,
    SetVariablePrefixed,
    StreamBody,
    Subscribe,
    UniqueClientID,
    UnknownCommand,
    Unpublish,
    Unsubscribe,
    decode_command,
    encode_command,
)
from otwire.errors import DecodeError, InvalidArgumentType, LocalProtocolError
from otwire.protocols import ConnectionTerminated, TerminationReason
from otwire.protocols.imb import HubConnection, HubInput, HubPeerState, IMBHub
from otwire.protocols.imb._state import HUB_TRANSITIONS
from otwire.protocols.imb.events import (
    ClientInfoReceived,
    CommandIgnored,
    CommandRejected,
    EventsDropped,
    EventSubscribed,
    JunkSkipped,
    VariableChanged,
)
from strategies.imb import MAGIC, TRAILER

BAD_TRAILER = MAGIC + struct.pack("<ii", -31, 4) + b"\0\0\0\0" + b"\0\0\0\0"


def wire(*commands: Any) -> bytes:
    return b"".join(encode_command(c) for c in commands)


def event(client_id: int, data: bytes = b"x") -> bytes:
    return encode_command(EventCommand(event_id=client_id, body=NormalEvent(data=data)))


def inbox(conn: HubConnection) -> list[Any]:
    """Decode everything queued for ``conn``."""
    framer = IMBFramer()
    framer.receive_data(conn.data_to_send())
    out = []
    while (frame := framer.next_frame()) is not None:
        out.append(decode_command(frame))
    return out


def new(hub: IMBHub, peer: Any, now: float = 0.0) -> HubConnection:
    """Connect ``peer`` (the PeerEngine verb) and return its per-peer state object."""
    hub.connect(peer, now, name=str(peer))
    connection = hub.connection_of(peer)
    assert connection is not None
    return connection


PEER_IDS = itertools.count()


def fresh(hub: IMBHub, n: int = 1) -> list[HubConnection]:
    """``n`` new peers whose greeting was read."""
    conns = [new(hub, f"c{next(PEER_IDS)}") for _ in range(n)]
    for c in conns:
        inbox(c)  # the greeting
    return conns


# --- the lifecycle table: every (state, input) pair ------------------------------------------

INPUTS = {
    HubInput.RECV_CLIENT_INFO: lambda hub, c: hub.receive_data(
        c.peer, wire(SetClientInfo(owner_id=1, owner_name="m")), 1.0
    ),
    HubInput.RECV_COMMAND: lambda hub, c: hub.receive_data(c.peer, wire(Subscribe(event_id=0, event_name="a")), 1.0),
    HubInput.RECV_END_SESSION: lambda hub, c: hub.receive_data(c.peer, wire(EndSession()), 1.0),
    HubInput.EOF: lambda hub, c: hub.receive_data(c.peer, b"", 1.0),
    HubInput.PROTOCOL_ERROR: lambda hub, c: hub.receive_data(c.peer, BAD_TRAILER, 1.0),
    HubInput.SEND: lambda hub, c: hub.send(c.peer, SetVariable(var_name="v", var_value=b"1"), 1.0),
    HubInput.TIMER: lambda hub, c: hub.handle_timer(1.0),
    HubInput.CLOSE: lambda hub, c: hub.close(c.peer, 1.0),
    HubInput.OVERFLOW: lambda hub, c: hub.abort(c.peer, 1.0, TerminationReason.SLOW_CONSUMER),
    HubInput.CONNECTION_LOST: lambda hub, c: hub.connection_lost(c.peer, 1.0, ConnectionResetError("reset")),
    HubInput.TIMEOUT: lambda hub, c: hub.abort(c.peer, 1.0, TerminationReason.IDLE_TIMEOUT),
    HubInput.LIMIT: lambda hub, c: hub.abort(c.peer, 1.0, TerminationReason.LIMIT_EXCEEDED),
}
REASONS = {
    HubInput.RECV_END_SESSION: TerminationReason.END_SESSION,
    HubInput.EOF: TerminationReason.PEER_CLOSED,
    HubInput.PROTOCOL_ERROR: TerminationReason.PROTOCOL_ERROR,
    HubInput.CLOSE: TerminationReason.LOCAL_CLOSE,
    HubInput.OVERFLOW: TerminationReason.SLOW_CONSUMER,
    HubInput.CONNECTION_LOST: TerminationReason.CONNECTION_LOST,
    HubInput.TIMEOUT: TerminationReason.IDLE_TIMEOUT,
    HubInput.LIMIT: TerminationReason.LIMIT_EXCEEDED,
}


def enter(hub: IMBHub, state: HubPeerState) -> HubConnection:
    conn = fresh(hub)[0]
    if state is HubPeerState.IDENTIFIED:
        INPUTS[HubInput.RECV_CLIENT_INFO](hub, conn)
    elif state is HubPeerState.CLOSED:
        hub.close(conn.peer, 0.5)
    drain(conn)
    inbox(conn)
    assert conn.state is state
    return conn


def test_table_covers_open_states_only() -> None:
    open_states = {HubPeerState.CONNECTED, HubPeerState.IDENTIFIED}
    assert set(HUB_TRANSITIONS) == {(s, i) for s in open_states for i in HubInput}
    assert INPUTS.keys() == set(HubInput)


@pytest.mark.parametrize("state", list(HubPeerState), ids=lambda s: s.name)
@pytest.mark.parametrize("event_", list(HubInput), ids=lambda i: i.name)
def test_every_state_input_pair(state: HubPeerState, event_: HubInput) -> None:
    hub = IMBHub(heartbeat_interval=0.5)
    conn = enter(hub, state)
    expected = HUB_TRANSITIONS.get((state, event_))
    if expected is None:  # CLOSED: close, loss, aborts and the hub's timer are no-ops, other inputs are refused
        no_ops = (HubInput.CLOSE, HubInput.OVERFLOW, HubInput.CONNECTION_LOST, HubInput.TIMEOUT, HubInput.LIMIT)
        if event_ in (*no_ops, HubInput.TIMER):
            INPUTS[event_](hub, conn)
        else:
            with pytest.raises(LocalProtocolError):
                INPUTS[event_](hub, conn)
        assert conn.state is HubPeerState.CLOSED
        assert drain(conn) == [] and conn.data_to_send() == b""
        return
    if event_ is HubInput.PROTOCOL_ERROR:
        with pytest.raises(DecodeError):
            INPUTS[event_](hub, conn)
    else:
        INPUTS[event_](hub, conn)
    assert conn.state is expected
    seen = drain(conn)
    out = inbox(conn)
    if expected is HubPeerState.CLOSED:
        assert isinstance(seen[-1], ConnectionTerminated) and seen[-1].reason is REASONS[event_]
        assert conn not in hub.connections and hub.get_timer() is None
        assert out == ([EndSession()] if event_ is HubInput.CLOSE else [])
    else:
        assert conn in hub.connections
        if event_ is HubInput.TIMER:
            assert out == [HeartBeat()] and hub.get_timer() == 1.5  # its only peer
        if event_ is HubInput.SEND:
            assert out == [SetVariable(var_name="v", var_value=b"1")]


# --- ids --------------------------------------------------------------------------------------


def test_greeting_ids_are_unique_and_handles_reused() -> None:
    hub = IMBHub()
    a, b = new(hub, "a"), new(hub, "b")
    assert inbox(a) == [UniqueClientID(unique_client_id=1, client_id=1)]
    assert inbox(b) == [UniqueClientID(unique_client_id=2, client_id=2)]
    hub.receive_data(a.peer, b"", 1.0)
    c = new(hub, "c", 2.0)
    assert (c.unique_client_id, c.handle) == (3, 1)  # unique ids are never reused, handles are
    hub.receive_data(c.peer, wire(UniqueClientID()), 3.0)  # pyimb's request (0, 0)
    assert inbox(c) == [UniqueClientID(unique_client_id=3, client_id=1)] * 2
    assert hub.connection(3) is c and hub.connection(1) is None


def test_client_info_and_status() -> None:
    hub = IMBHub()
    (a,) = fresh(hub)
    hub.receive_data(a.peer, wire(SetClientInfo(owner_id=7, owner_name="model"), SetState(state=2)), 1.0)
    assert drain(a) == [ClientInfoReceived(owner_id=7, owner_name="model")]
    status = a.status()
    assert (status.owner_id, status.owner_name, status.state, status.client_state) == (7, "model", a.state, 2)
    assert status.commands_in == 2 and status.bytes_in > 0 and a.state is HubPeerState.IDENTIFIED


# --- routing ------------------------------------------------------------------------------------


def test_translation_then_events_with_hub_id_and_payload_untouched() -> None:
    hub = IMBHub()
    pub, sub = fresh(hub, 2)
    hub.receive_data(sub.peer, wire(Subscribe(event_id=9, event_name="fed.x")), 1.0)
    assert inbox(sub) == [SetEventIDTranslation(hub_event_id=0, client_event_id=9)]
    hub.receive_data(pub.peer, wire(Publish(event_id=4, event_name="fed.x")), 1.0)
    sent = event(4, b"payload \x67\x34\xf1\x10 with trailer and " + MAGIC)
    hub.receive_data(pub.peer, sent, 1.0)
    received = sub.data_to_send()
    publish_note = encode_command(Publish(event_id=9, event_name="fed.x"))
    assert received == publish_note + sent[:16] + struct.pack("<i", 0) + sent[20:]
    assert hub.relayed == 1 and pub.data_to_send() == encode_command(Subscribe(event_id=4, event_name="fed.x"))


def test_fan_out_and_self_delivery() -> None:
    hub = IMBHub(notify=False)
    a, b, c = fresh(hub, 3)
    for conn, cid in ((a, 1), (b, 2), (c, 3)):
        hub.receive_data(conn.peer, wire(Subscribe(event_id=cid, event_name="e")), 0.0)
        inbox(conn)
    hub.receive_data(a.peer, wire(Publish(event_id=0, event_name="e")) + event(0, b"hi"), 0.0)
    for conn in (a, b, c):
        assert inbox(conn) == [EventCommand(event_id=0, body=NormalEvent(data=b"hi"))]
    assert set(hub.peers_with_output()) == {a.peer, b.peer, c.peer}


def test_no_self_delivery_option() -> None:
    hub = IMBHub(self_delivery=False, notify=False)
    a, b = fresh(hub, 2)
    for conn in (a, b):
        hub.receive_data(conn.peer, wire(Subscribe(event_id=0, event_name="e")), 0.0)
        inbox(conn)
    hub.receive_data(a.peer, wire(Publish(event_id=0, event_name="e")) + event(0), 0.0)
    assert inbox(a) == [] and len(inbox(b)) == 1


def test_client_ids_reused_after_unsubscribe_and_unpublish() -> None:
    hub = IMBHub(notify=False)
    pub, sub = fresh(hub, 2)
    hub.receive_data(sub.peer, wire(Subscribe(event_id=0, event_name="a"), Subscribe(event_id=1, event_name="b")), 0.0)
    assert inbox(sub) == [SetEventIDTranslation(hub_event_id=0, client_event_id=0),
                          SetEventIDTranslation(hub_event_id=1, client_event_id=1)]  # fmt: skip
    hub.receive_data(pub.peer, wire(Publish(event_id=0, event_name="a"), Publish(event_id=1, event_name="b")), 0.0)
    hub.receive_data(sub.peer, wire(Unsubscribe(event_name="a")), 0.0)
    assert inbox(sub) == [SetEventIDTranslation(hub_event_id=0, client_event_id=-1)]
    hub.receive_data(pub.peer, event(0), 0.0)
    assert inbox(sub) == []  # routing stopped as soon as the unsubscribe was read
    # the subscriber re-binds its id 0 to "c"; the publisher re-binds its id 0 from "a" to "c"
    hub.receive_data(sub.peer, wire(Subscribe(event_id=0, event_name="c")), 0.0)
    assert inbox(sub) == [SetEventIDTranslation(hub_event_id=2, client_event_id=0)]
    hub.receive_data(pub.peer, wire(Unpublish(event_name="a"), Publish(event_id=0, event_name="c")), 0.0)
    assert [e.name for e in hub.event_names()] == ["b", "c"]  # "a" is gone, its hub id 0 is free
    hub.receive_data(pub.peer, event(0, b"c") + event(1, b"b"), 0.0)
    assert inbox(sub) == [
        EventCommand(event_id=2, body=NormalEvent(data=b"c")),
        EventCommand(event_id=1, body=NormalEvent(data=b"b")),
    ]
    hub.receive_data(sub.peer, wire(Subscribe(event_id=5, event_name="new")), 0.0)
    assert inbox(sub) == [SetEventIDTranslation(hub_event_id=0, client_event_id=5)]  # smallest free hub id


def test_publish_rebinds_an_id_in_use() -> None:
    hub = IMBHub(notify=False)
    pub, sub = fresh(hub, 2)
    hub.receive_data(sub.peer, wire(Subscribe(event_id=0, event_name="a"), Subscribe(event_id=1, event_name="b")), 0.0)
    inbox(sub)
    hub.receive_data(pub.peer, wire(Publish(event_id=0, event_name="a"), Publish(event_id=0, event_name="b")), 0.0)
    assert pub.status().publications == {"b": 0}
    hub.receive_data(pub.peer, wire(Publish(event_id=3, event_name="b")) + event(0) + event(3, b"3"), 0.0)
    assert inbox(sub) == [EventCommand(event_id=1, body=NormalEvent(data=b"3"))]
    assert drain(pub)[-1] == EventsDropped(count=1, client_event_ids=(0,))


def test_resubscribe_is_idempotent_and_updates_the_client_id() -> None:
    hub = IMBHub()
    (a,) = fresh(hub)
    hub.receive_data(a.peer, wire(Subscribe(event_id=1, event_name="e"), Subscribe(event_id=2, event_name="e")), 0.0)
    assert inbox(a) == [SetEventIDTranslation(hub_event_id=0, client_event_id=1),
                        SetEventIDTranslation(hub_event_id=0, client_event_id=2)]  # fmt: skip
    assert a.status().subscriptions == {"e": 2}


def test_unknown_and_refused_commands_keep_the_connection() -> None:
    hub = IMBHub()
    (a,) = fresh(hub)
    data = wire(UnknownCommand(command_code=-999, payload=b"zz"), UnknownCommand(command_code=7))
    hub.receive_data(a.peer, data + encode_command(SetEventIDTranslation(hub_event_id=1, client_event_id=2)), 0.0)
    hub.receive_data(a.peer, wire(Unsubscribe(event_name="never"), Unpublish(event_name="never")), 0.0)
    seen = drain(a)
    assert [type(e) for e in seen] == [CommandIgnored] * 3 + [CommandRejected] * 2
    assert [e.command_code for e in seen] == [-999, 7, -49, -46, -48]
    assert not a.is_closed and inbox(a) == []


@pytest.mark.parametrize(
    "payload",
    [
        (-45, struct.pack("<iii", 0, 0, 2) + b"\xff\xfe"),  # icSubscribe, invalid UTF-8
        (-45, struct.pack("<iii", 0, 0, 99) + b"ab"),  # icSubscribe, string longer than the payload
        (-15, bytes(8)),  # icEvent shorter than its 12-octet head
    ],
    ids=["bad utf-8", "short string", "short event"],
)
def test_malformed_payload_is_a_decode_error_after_closing(payload: tuple[int, bytes]) -> None:
    """A framed command whose payload is malformed closes that peer, then raises (notes "Peer violations")."""
    hub = IMBHub()
    a, b = fresh(hub, 2)
    code, body = payload
    with pytest.raises(DecodeError) as info:
        hub.receive_data(
            a.peer,
            wire(SetClientInfo(owner_id=1, owner_name="m"))
            + MAGIC
            + struct.pack("<ii", code, len(body))
            + body
            + TRAILER,
            0.0,
        )
    seen = drain(a)
    assert [type(e) for e in seen] == [ClientInfoReceived, ConnectionTerminated]  # the frame before it was applied
    assert seen[-1] == ConnectionTerminated(reason=TerminationReason.PROTOCOL_ERROR, error=info.value)
    assert a.is_closed and not b.is_closed


def test_framing_error_closes_only_that_connection_after_earlier_frames() -> None:
    hub = IMBHub(notify=False)
    bad, sub = fresh(hub, 2)
    hub.receive_data(sub.peer, wire(Subscribe(event_id=0, event_name="e")), 0.0)
    inbox(sub)
    with pytest.raises(DecodeError, match="trailer"):
        hub.receive_data(bad.peer, wire(Publish(event_id=0, event_name="e")) + event(0) + BAD_TRAILER + event(0), 0.0)
    assert len(inbox(sub)) == 1 and bad.is_closed and not sub.is_closed
    assert drain(bad)[-1].reason is TerminationReason.PROTOCOL_ERROR
    assert hub.event_names()[0].publishers == ()


def test_oversize_and_negative_lengths_close() -> None:
    hub = IMBHub(max_payload_size=100)
    a, b = fresh(hub, 2)
    with pytest.raises(DecodeError, match="exceeds 100"):
        hub.receive_data(a.peer, MAGIC + struct.pack("<ii", -15, 101), 0.0)
    with pytest.raises(DecodeError, match="negative"):
        hub.receive_data(b.peer, MAGIC + struct.pack("<ii", -15, -1), 0.0)
    assert a.is_closed and b.is_closed


def test_junk_is_skipped_and_a_cut_frame_at_eof_is_junk() -> None:
    hub = IMBHub()
    (a,) = fresh(hub)
    hub.receive_data(a.peer, b"garbage" + wire(UniqueClientID()) + b"\x2f\x47" + b"more", 0.0)
    hub.receive_data(a.peer, wire(UniqueClientID())[:10], 0.0)
    assert inbox(a) == [UniqueClientID(unique_client_id=1, client_id=1)]
    hub.receive_data(a.peer, b"", 0.0)
    assert drain(a) == [
        JunkSkipped(size=7),  # "garbage"
        JunkSkipped(size=6),  # "\x2f\x47more", reported once the next magic arrived
        JunkSkipped(size=10),  # the frame cut short by the end of stream
        ConnectionTerminated(reason=TerminationReason.PEER_CLOSED),
    ]


def test_log_write_ln_gets_the_sender_id() -> None:
    hub = IMBHub(notify=False)
    pub, sub = fresh(hub, 2)
    hub.receive_data(sub.peer, wire(Subscribe(event_id=0, event_name="log")), 0.0)
    hub.receive_data(pub.peer, wire(Publish(event_id=0, event_name="log")), 0.0)
    inbox(sub)
    hub.receive_data(
        pub.peer, encode_command(EventCommand(event_id=0, body=LogWriteLn(unique_client_id=0, line="hi", level=2))), 0.0
    )
    assert inbox(sub) == [
        EventCommand(event_id=0, body=LogWriteLn(unique_client_id=pub.unique_client_id, line="hi", level=2))
    ]


# --- notifications --------------------------------------------------------------------------------


def test_notifications_on_first_and_last_members() -> None:
    hub = IMBHub()
    p, s1, s2 = fresh(hub, 3)
    hub.receive_data(p.peer, wire(Publish(event_id=5, event_name="e")), 0.0)
    assert inbox(p) == []
    hub.receive_data(s1.peer, wire(Subscribe(event_id=1, event_name="e")), 0.0)
    assert inbox(p) == [Subscribe(event_id=5, event_name="e")]
    assert inbox(s1) == [SetEventIDTranslation(hub_event_id=0, client_event_id=1), Publish(event_id=1, event_name="e")]
    hub.receive_data(s2.peer, wire(Subscribe(event_id=2, event_name="e")), 0.0)
    assert inbox(p) == []  # not the first subscriber
    hub.receive_data(s1.peer, wire(Unsubscribe(event_name="e")), 0.0)
    assert inbox(p) == []
    hub.receive_data(s2.peer, b"", 0.0)  # the last subscriber leaves by EOF
    assert inbox(p) == [Unsubscribe(event_name="e")]
    hub.receive_data(s1.peer, wire(Subscribe(event_id=1, event_name="e")), 0.0)
    inbox(s1)
    assert inbox(p) == [Subscribe(event_id=5, event_name="e")]  # a first subscriber again
    hub.receive_data(p.peer, wire(EndSession()), 0.0)
    assert inbox(s1) == [Unpublish(event_name="e")]
    assert hub.event_names()[0].publishers == () and inbox(p) == []


def test_notify_off_sends_only_translations() -> None:
    hub = IMBHub(notify=False)
    p, s = fresh(hub, 2)
    hub.receive_data(p.peer, wire(Publish(event_id=5, event_name="e")), 0.0)
    hub.receive_data(s.peer, wire(Subscribe(event_id=1, event_name="e"), Unsubscribe(event_name="e")), 0.0)
    assert inbox(p) == [] and [type(c) for c in inbox(s)] == [SetEventIDTranslation] * 2


# --- variables and event names -----------------------------------------------------------------------


def test_variables_are_stored_broadcast_and_listed() -> None:
    hub = IMBHub(max_variables=2)
    a, b = fresh(hub, 2)
    hub.receive_data(a.peer, wire(SetVariable(var_name="v", var_value=b"1")), 0.0)
    assert inbox(a) == inbox(b) == [SetVariable(var_name="v", var_value=b"1")]
    assert VariableChanged(name="v", value=b"1") in drain(a)
    hub.receive_data(a.peer, wire(SetVariablePrefixed(var_prefix=0, var_name="|S", var_value=b"R")), 0.0)
    hub.receive_data(a.peer, wire(SetVariable(var_name="w", var_value=b"x")), 0.0)  # a third one: refused
    assert isinstance(drain(a)[-1], CommandRejected) and len(inbox(b)) == 1
    hub.receive_data(b.peer, wire(AllVariables()), 0.0)
    assert inbox(b) == [SetVariable(var_name="v", var_value=b"1"), SetVariable(var_name="00000001|S", var_value=b"R")]
    hub.receive_data(a.peer, wire(SetVariable(var_name="v", var_value=b"")), 0.0)  # empty: removed, still broadcast
    assert inbox(b) == [SetVariable(var_name="v", var_value=b"")] and hub.variables.items() == [("00000001|S", b"R")]
    hub.set_variable("h", b"hub")
    assert inbox(a)[1:] == [SetVariable(var_name="v", var_value=b""), SetVariable(var_name="h", var_value=b"hub")]


def test_request_event_names() -> None:
    hub = IMBHub()
    a, b = fresh(hub, 2)
    hub.receive_data(
        a.peer, wire(Publish(event_id=0, event_name="fed.a"), Subscribe(event_id=1, event_name="other.b")), 0.0
    )
    hub.receive_data(b.peer, wire(Subscribe(event_id=0, event_name="fed.a")), 0.0)
    inbox(a)
    hub.receive_data(a.peer, wire(RequestEventNames(event_name_filter="fed.*", filters=3)), 0.0)
    (names,) = inbox(a)
    assert isinstance(names, EventNames)
    assert [(e.event_name, e.publishers, e.subscribers) for e in names.entries] == [("fed.a", 1, 1)]
    hub.receive_data(a.peer, wire(RequestEventNames(event_name_filter="", filters=1)), 0.0)
    assert [e.event_name for e in inbox(a)[0].entries] == ["fed.a"]


# --- limits, overflow, heartbeat --------------------------------------------------------------------


def test_slow_consumer_is_closed_and_nothing_else_is_lost() -> None:
    hub = IMBHub(notify=False, max_payload_size=1000, max_output_bytes=2000)
    pub, slow, fast = fresh(hub, 3)
    for conn in (slow, fast):
        hub.receive_data(conn.peer, wire(Subscribe(event_id=0, event_name="e")), 0.0)
        inbox(conn)
    hub.receive_data(pub.peer, wire(Publish(event_id=0, event_name="e")), 0.0)
    got = []
    for i in range(100):
        hub.receive_data(pub.peer, event(0, bytes([i]) * 50), 0.0)
        got += inbox(fast)  # only the fast one drains
    assert slow.is_closed and drain(slow)[-1].reason is TerminationReason.SLOW_CONSUMER
    assert slow.data_to_send() == b"" and not fast.is_closed and not pub.is_closed
    assert [e.body.data[0] for e in got] == list(range(100))


def test_too_many_event_names_are_refused() -> None:
    hub = IMBHub(max_event_names=1)
    (a,) = fresh(hub)
    hub.receive_data(a.peer, wire(Subscribe(event_id=0, event_name="a"), Subscribe(event_id=1, event_name="b")), 0.0)
    assert isinstance(drain(a)[-1], CommandRejected) and [e.name for e in hub.event_names()] == ["a"]


def test_heartbeat_timer() -> None:
    hub = IMBHub(heartbeat_interval=2.0)
    (a,) = fresh(hub)
    assert hub.get_timer() == 2.0
    hub.handle_timer(1.0)
    assert inbox(a) == []
    hub.handle_timer(7.5)  # late: the next one is an interval from now
    assert inbox(a) == [HeartBeat()] and hub.get_timer() == 9.5
    quiet = IMBHub()
    fresh(quiet)
    assert quiet.get_timer() is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["connect", "close", "timer"]), st.floats(0.0, 3.0)), max_size=40))
def test_heartbeats_follow_each_client_against_a_model(steps: list[tuple[str, float]]) -> None:
    # The hub keeps its deadlines in a heap; the model is each open client's next beat, kept by hand.
    hub, interval, now = IMBHub(heartbeat_interval=1.5), 1.5, 0.0
    model: dict[str, float] = {}
    for step, (op, delta) in enumerate(steps):
        now += delta
        if op == "connect":
            new(hub, f"hb{step}", now)
            model[f"hb{step}"] = now + interval
        elif op == "close" and model:
            peer = sorted(model)[int(delta * 7) % len(model)]
            hub.close(peer, now)
            del model[peer]
        elif op == "timer":
            hub.handle_timer(now)
            for peer, beat in model.items():
                if now >= beat:
                    model[peer] = beat + interval if now < beat + interval else now + interval
        assert hub.get_timer() == (min(model.values()) if model else None)


def test_hub_close_ends_every_session() -> None:
    hub = IMBHub()
    conns = fresh(hub, 3)
    hub.close_all(1.0)
    assert all(inbox(c) == [EndSession()] and c.is_closed for c in conns) and hub.connections == ()


@pytest.mark.parametrize(
    "kwargs", [{"heartbeat_interval": 0}, {"max_payload_size": -1}, {"max_output_bytes": 10}, {"max_event_names": 0}]
)
def test_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        IMBHub(**kwargs)


def test_send_validates() -> None:
    hub = IMBHub()
    (a,) = fresh(hub)
    with pytest.raises(LocalProtocolError):
        hub.send(a.peer, "not a command", 0.0)  # type: ignore[arg-type]
    hub.send(a.peer, Frame(command_code=-4), 0.0)
    hub.send(a.peer, EndSession(), 0.0)
    assert inbox(a) == [HeartBeat(), EndSession()] and a.is_closed


# --- stateful: routing against a model, translated like pyimb does -------------------------------------

NAMES = ("a", "b", "c")


class Routing(RuleBasedStateMachine):
    """Random subscribe/publish/signal/leave on 3 clients; every client translates like pyimb."""

    def __init__(self) -> None:
        super().__init__()
        self.hub = IMBHub()
        self.conns = [new(self.hub, ("first", i)) for i in range(3)]
        self.subs: list[dict[str, int]] = [{}, {}, {}]  # model: name -> client id
        self.pubs: list[dict[int, str]] = [{}, {}, {}]  # model: client id -> name
        self.translation: list[dict[int, int]] = [{}, {}, {}]  # client side: hub id -> client id
        self.seq = 0
        self.drain()

    def drain(self) -> list[list[tuple[int, bytes]]]:
        """Read every client's output; return the events each got as (client id, data)."""
        got: list[list[tuple[int, bytes]]] = [[], [], []]
        for i, conn in enumerate(self.conns):
            for command in inbox(conn):
                if isinstance(command, SetEventIDTranslation):
                    if command.client_event_id < 0:
                        del self.translation[i][command.hub_event_id]  # pyimb: KeyError if unknown
                    else:
                        self.translation[i][command.hub_event_id] = command.client_event_id
                elif isinstance(command, EventCommand):
                    got[i].append((self.translation[i][command.event_id], command.body.data))
            drain(conn)
        return got

    @rule(i=st.integers(0, 2), name=st.sampled_from(NAMES), cid=st.integers(0, 2))
    def subscribe(self, i: int, name: str, cid: int) -> None:
        self.hub.receive_data(self.conns[i].peer, wire(Subscribe(event_id=cid, event_name=name)), 0.0)
        self.subs[i][name] = cid
        self.drain()

    @rule(i=st.integers(0, 2), name=st.sampled_from(NAMES))
    def unsubscribe(self, i: int, name: str) -> None:
        self.hub.receive_data(self.conns[i].peer, wire(Unsubscribe(event_name=name)), 0.0)
        self.subs[i].pop(name, None)
        self.drain()

    @rule(i=st.integers(0, 2), name=st.sampled_from(NAMES), cid=st.integers(0, 2))
    def publish(self, i: int, name: str, cid: int) -> None:
        self.hub.receive_data(self.conns[i].peer, wire(Publish(event_id=cid, event_name=name)), 0.0)
        pubs = self.pubs[i]
        for old in [c for c, n in pubs.items() if n == name]:
            del pubs[old]
        pubs[cid] = name
        self.drain()

    @rule(i=st.integers(0, 2), name=st.sampled_from(NAMES))
    def unpublish(self, i: int, name: str) -> None:
        self.hub.receive_data(self.conns[i].peer, wire(Unpublish(event_name=name)), 0.0)
        self.pubs[i] = {c: n for c, n in self.pubs[i].items() if n != name}
        self.drain()

    @rule(i=st.integers(0, 2), cid=st.integers(0, 2))
    def signal(self, i: int, cid: int) -> None:
        self.seq += 1
        data = self.seq.to_bytes(4, "little")
        self.hub.receive_data(self.conns[i].peer, event(cid, data), 0.0)
        got = self.drain()
        name = self.pubs[i].get(cid)
        for j in range(3):
            expected = [(self.subs[j][name], data)] if name is not None and name in self.subs[j] else []
            assert got[j] == expected

    @rule(i=st.integers(0, 2), how=st.sampled_from(["eof", "end", "close"]))
    def leave(self, i: int, how: str) -> None:
        conn = self.conns[i]
        if how == "close":
            self.hub.close(conn.peer, 0.0)
        else:
            self.hub.receive_data(conn.peer, b"" if how == "eof" else wire(EndSession()), 0.0)
        self.conns[i] = new(self.hub, f"c{next(PEER_IDS)}")
        self.subs[i], self.pubs[i], self.translation[i] = {}, {}, {}
        self.drain()

    @invariant()
    def tables_match(self) -> None:
        used = {n for s in self.subs for n in s} | {n for p in self.pubs for n in p.values()}
        assert {e.name for e in self.hub.event_names()} == used
        for i, conn in enumerate(self.conns):
            status = conn.status()
            assert status.subscriptions == self.subs[i]
            assert status.publications == {n: c for c, n in self.pubs[i].items()}


Routing.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_routing_model = Routing.TestCase


def test_stream_body_with_flags_is_forwarded_unchanged() -> None:
    hub = IMBHub(notify=False)
    pub, sub = fresh(hub, 2)
    hub.receive_data(sub.peer, wire(Subscribe(event_id=0, event_name="s")), 0.0)
    hub.receive_data(pub.peer, wire(Publish(event_id=0, event_name="s")), 0.0)
    inbox(sub)
    frame = encode_command(EventCommand(event_id=0, flags=0x100, body=StreamBody(stream_id=3, data=b"\0" * 10)))
    hub.receive_data(pub.peer, frame, 0.0)
    assert sub.data_to_send() == frame
    assert [type(e) for e in drain(sub)] == [EventSubscribed]


@pytest.mark.parametrize("data", ["x", None, 5, [1, 2]])
def test_receive_data_of_a_wrong_type_is_refused_before_anything_changes(data: Any) -> None:
    hub = IMBHub()
    hub.connect("a", 0.0)
    hub.receive_data("a", MAGIC[:3], 0.0)  # a frame header begun: held
    held = hub.buffered("a")
    assert held == 3
    with pytest.raises(InvalidArgumentType):
        hub.receive_data("a", data, 0.0)
    assert not hub.is_closed("a") and hub.buffered("a") == held and hub.frames_received("a") == 0
