"""The sans-IO IMB3 client engine, driven with hand-built hub frames and a fake clock.

Wire octets are checked against the golden vectors of ``specs/imb/vectors`` (the
research notes' §10 items, pyimb-verified where tagged). Hub frames are built with
the codec's public constructors; the engine never reads a clock, so ``now`` is a
plain number.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from helpers import drain
from otwire.codecs import imb
from otwire.codecs.imb import Action, EventFlag, encode_command, encode_frame
from otwire.errors import (
    DecodeError,
    EncodeError,
    InvalidArgument,
    InvalidArgumentType,
    LocalProtocolError,
    RemoteProtocolError,
)
from otwire.protocols import Connection, ConnectionTerminated, TerminationReason
from otwire.protocols.imb._state import CLIENT_LOCAL_INPUTS as LOCAL_INPUTS
from otwire.protocols.imb._state import CLIENT_TRANSITIONS as TRANSITIONS
from otwire.protocols.imb._state import ClientConnectionState as State
from otwire.protocols.imb._state import ClientInput as Input
from otwire.protocols.imb.client import IMBClientConnection, RawEvent, prefixed_name
from otwire.protocols.imb.config import IMBClientConfig
from otwire.protocols.imb.events import (
    CommandReceived,
    EventReceived,
    JunkSkipped,
    StreamAborted,
    StreamData,
    StreamEnded,
    StreamStarted,
    SubscriptionConfirmed,
    TranslationIgnored,
    TranslationRemoved,
    UnexpectedStreamData,
    UniqueClientIDReceived,
    UnmappedEventReceived,
)
from strategies.imb import VECTORS, read_vectors

HELLO = imb.encode_string("hello")
NOW = 100.0  # the fake clock: the engine only passes it along


def vectors(file: str) -> dict[str, bytes]:
    return {v.name: v.octets for v in read_vectors(VECTORS / file)}


C2H = vectors("client_to_hub.hex")
H2C = vectors("hub_to_client.hex")


def frames(*commands: imb.Command) -> bytes:
    return b"".join(encode_command(c) for c in commands)


def hub_event(hub_id: int, body: imb.EventBody, *, flags: int = 0, tick: int = 0) -> bytes:
    return encode_command(imb.EventCommand(event_id=hub_id, tick=tick, flags=EventFlag(flags), body=body))


def translation(hub_id: int, client_id: int) -> bytes:
    return encode_command(imb.SetEventIDTranslation(hub_event_id=hub_id, client_event_id=client_id))


@pytest.fixture
def conn() -> IMBClientConnection:
    """A client of federation "fed" after its handshake, subscribed to "my event" (id 0) mapped from hub id 7."""
    c = IMBClientConnection(123, "my name", federation="fed")
    c.data_to_send()
    c.subscribe(c.define_event("my event") or 0, NOW)
    c.data_to_send()
    c.receive_data(H2C["unique_client_id"] + translation(7, 0), NOW)
    drain(c)
    return c


# --- handshake and outgoing octets (vectors) -----------------------------------------


def test_implements_the_connection_contract() -> None:
    assert isinstance(IMBClientConnection(), Connection)


def test_handshake_is_set_client_info() -> None:
    c = IMBClientConnection(123, "my name", federation="fed")
    assert c.state is State.AWAITING_ID
    assert c.data_to_send() == C2H["set_client_info"]
    assert c.data_to_send() == b""
    assert c.get_timer() is None


def test_handshake_with_unique_id_request() -> None:
    c = IMBClientConnection(123, "my name", request_unique_id=True)
    assert c.data_to_send() == C2H["set_client_info"] + C2H["unique_client_id_request"]


def test_bad_owner_is_an_encode_error() -> None:
    with pytest.raises(EncodeError):
        IMBClientConnection(2**31, "x")


def test_session_octets_match_the_vectors() -> None:
    c = IMBClientConnection(123, "my name", federation="fed")
    c.data_to_send()
    eid = c.define_event("my event")
    assert eid == 0
    c.subscribe(eid, NOW)
    assert c.data_to_send() == C2H["subscribe"]
    c.publish(eid, NOW)
    assert c.data_to_send() == C2H["publish"]
    c.signal(eid, imb.NormalEvent(data=HELLO), NOW)
    assert c.data_to_send() == C2H["signal_string"]
    c.signal(eid, imb.ChangeObjectEvent(action=Action.CHANGE, object_id=42, attribute="attr"), NOW)
    assert c.data_to_send() == C2H["change_object"]
    c.signal(eid, imb.StreamHeader(stream_id=1, stream_name="s.txt"), NOW)
    c.signal(eid, imb.StreamBody(stream_id=1, data=b"ab"), NOW)
    c.signal(eid, imb.StreamTail(stream_id=1, data=b"c"), NOW)
    c.signal(eid, imb.StreamTail(stream_id=1), NOW)
    assert c.data_to_send() == C2H["stream_header"] + C2H["stream_body"] + C2H["stream_tail"] + C2H["stream_tail_empty"]
    c.signal(eid, imb.BufferEvent(buffer_id=9, data=b"xy"), NOW, flags=EventFlag.PRIORITY)
    assert c.data_to_send() == C2H["buffer_priority"]
    c.unpublish(eid, NOW)
    assert c.data_to_send() == C2H["unpublish"]
    c.unsubscribe(eid, NOW)
    assert c.data_to_send() == C2H["unsubscribe"]
    c.request_unique_client_id(NOW)
    assert c.data_to_send() == C2H["unique_client_id_request"]
    c.close(NOW)
    assert c.data_to_send() == C2H["end_session"]
    assert [type(e) for e in drain(c)] == [ConnectionTerminated]


def test_raw_event_is_sent_unchecked() -> None:
    c = IMBClientConnection(federation="fed")
    eid = c.define_event("my event") or 0
    c.publish(eid, NOW)
    c.data_to_send()
    c.send(RawEvent(event_id=eid, event_kind=imb.EventKind.NORMAL_EVENT, payload=HELLO), NOW)
    assert c.data_to_send() == C2H["signal_string"]
    c.send(RawEvent(event_id=eid, event_kind=0x104, payload=b"\x09\0\0\0\x02\0\0\0xy"), NOW)
    assert c.data_to_send() == C2H["buffer_priority"]
    c.send(RawEvent(event_id=eid, event_kind=0, payload=b"not a change object"), NOW)
    assert c.data_to_send().endswith(b"not a change object" + imb.END_PAYLOAD_MAGIC_BYTES)
    c.send(RawEvent(event_id=eid, event_kind=-1, payload=b""), NOW)  # pyimb encodes the kind signed
    assert c.data_to_send()[24:28] == b"\xff\xff\xff\xff"


@pytest.mark.parametrize(
    "raw",
    [
        RawEvent(event_id=0, event_kind=2**32, payload=b""),
        RawEvent(event_id=0, event_kind=5, payload=b"", tick=2**31),
        RawEvent(event_id=0, event_kind=5, payload="text"),  # type: ignore[arg-type]
        RawEvent(event_id=0, event_kind=5, payload=bytes(imb.MAX_PAYLOAD_SIZE - 11)),
    ],
)
def test_raw_event_out_of_range(raw: RawEvent) -> None:
    c = IMBClientConnection()
    c.define_event("e")
    c.publish(0, NOW)
    c.data_to_send()
    with pytest.raises(EncodeError):
        c.send(raw, NOW)
    assert c.data_to_send() == b""


def test_end_session_can_be_left_out() -> None:
    c = IMBClientConnection(end_session_on_close=False)
    c.data_to_send()
    c.close(NOW)
    c.close(NOW)  # idempotent
    assert c.data_to_send() == b""
    assert drain(c) == [ConnectionTerminated(reason=TerminationReason.LOCAL_CLOSE)]


def test_sending_end_session_closes() -> None:
    c = IMBClientConnection()
    c.data_to_send()
    c.send(imb.EndSession(), NOW)
    assert c.is_closed and c.data_to_send() == C2H["end_session"]


def test_other_commands_pass_through() -> None:
    c = IMBClientConnection()
    c.data_to_send()
    c.send(imb.SetVariable(var_name="v", var_value=b"1"), NOW)
    c.send(imb.RequestEventNames(event_name_filter="fed.", filters=3), NOW)
    c.send(imb.AllVariables(), NOW)
    assert c.data_to_send() == b"".join(vectors("extra_commands.hex").values())
    with pytest.raises(EncodeError):
        c.send(imb.Frame(command_code=-15, payload=b""), NOW)  # type: ignore[arg-type]


# --- client-side event ids, federation ---------------------------------------------


def test_event_ids_are_numbered_in_order_of_first_use() -> None:
    c = IMBClientConnection(federation="fed")
    assert [c.define_event(n) for n in ("a", "b", "a", "c")] == [0, 1, 0, 2]
    assert c.define_event("a", prefix=False) == 3
    assert c.event_name(3) == "a" and c.event_name(0) == "fed.a"
    assert c.define_event("zz", create=False) is None
    assert c.event_name(99) is None
    c.subscribe(1, NOW)
    c.unsubscribe(1, NOW)
    assert c.define_event("d") == 4  # ids are never reused (pyimb)


@pytest.mark.parametrize(
    ("federation", "prefix", "expected"),
    [("fed", True, "fed.x"), ("fed", False, "x"), (None, True, "x"), ("", True, "x"), ("a.b", True, "a.b.x")],
)
def test_federation_prefix(federation: str | None, prefix: bool, expected: str) -> None:
    assert prefixed_name(federation, "x", prefix) == expected
    c = IMBClientConnection(federation=federation)
    assert c.event_name(c.define_event("x", prefix=prefix) or 0) == expected


def test_subscribe_and_publish_go_out_once() -> None:
    c = IMBClientConnection(federation="fed")
    c.data_to_send()
    eid = c.define_event("my event") or 0
    c.subscribe(eid, NOW)
    c.subscribe(eid, NOW)
    c.send(imb.Subscribe(event_id=eid, event_name="fed.my event"), NOW)
    assert c.data_to_send() == C2H["subscribe"]
    assert c.is_subscribed(eid) and not c.is_published(eid)
    c.unpublish(eid, NOW)  # not published: nothing
    c.send(imb.Unsubscribe(event_name="fed.other"), NOW)  # unknown name: nothing
    assert c.data_to_send() == b""
    c.signal(eid, imb.NormalEvent(data=HELLO), NOW)  # auto-publish first, as pyimb
    assert c.data_to_send() == C2H["publish"] + C2H["signal_string"]
    assert c.is_published(eid)
    c.unsubscribe(eid, NOW)
    c.unsubscribe(eid, NOW)
    assert c.data_to_send() == C2H["unsubscribe"]
    c.subscribe(eid, NOW)  # subscribe again after unsubscribe
    assert c.data_to_send() == C2H["subscribe"]


def test_raw_subscribe_binds_new_pairs_and_refuses_conflicts() -> None:
    c = IMBClientConnection()
    c.data_to_send()
    c.send(imb.Subscribe(event_id=5, event_name="n5"), NOW)
    assert c.event_name(5) == "n5" and c.define_event("n5") == 5
    assert c.define_event("first") == 0
    for bad in (
        imb.Subscribe(event_id=6, event_name="n5"),  # name bound to another id
        imb.Publish(event_id=5, event_name="other"),  # id bound to another name
        imb.Subscribe(event_id=-1, event_name="neg"),
    ):
        with pytest.raises(LocalProtocolError):
            c.send(bad, NOW)
    with pytest.raises(LocalProtocolError):
        c.signal(42, imb.NormalEvent(data=b""), NOW)  # never bound
    with pytest.raises(LocalProtocolError):
        c.subscribe(42, NOW)
    with pytest.raises(LocalProtocolError):
        c.define_event(7)  # type: ignore[arg-type]
    assert c.data_to_send() == frames(imb.Subscribe(event_id=5, event_name="n5"))


# --- incoming: ids, translation, dispatch by kind ------------------------------------


def test_hub_vectors() -> None:
    c = IMBClientConnection(123, "my name", federation="fed")
    c.subscribe(c.define_event("my event") or 0, NOW)
    c.receive_data(H2C["unique_client_id"], NOW)
    assert c.state is State.READY
    assert (c.unique_client_id, c.client_id) == (0x1234, 5)
    c.receive_data(H2C["set_event_id_translation"] + H2C["event_hello"], NOW)
    c.receive_data(H2C["translation_removal"] + H2C["event_hello"], NOW)
    assert drain(c) == [
        UniqueClientIDReceived(unique_client_id=0x1234, client_id=5),
        SubscriptionConfirmed(event_id=0, event_name="fed.my event", hub_event_id=7),
        EventReceived(
            event_id=0, event_name="fed.my event", hub_event_id=7, tick=0, flags=EventFlag(0),
            body=imb.NormalEvent(data=HELLO),
        ),
        TranslationRemoved(hub_event_id=7, event_id=0),
        UnmappedEventReceived(hub_event_id=7, event=imb.decode_command(H2C["event_hello"])),  # type: ignore[arg-type]
    ]  # fmt: skip
    assert not c.is_closed and c.translations == {}


def test_garbage_before_a_frame_is_skipped(conn: IMBClientConnection) -> None:
    conn.receive_data(b"garbage" + H2C["event_hello"], NOW)
    got = drain(conn)
    assert [type(e) for e in got] == [EventReceived, JunkSkipped]  # junk: once per call, at its end
    assert got[-1] == JunkSkipped(size=7) and conn.junk_octets == 7


def test_junk_is_bounded() -> None:
    c = IMBClientConnection(max_junk_bytes=10)
    c.receive_data(b"x" * 8 + H2C["unique_client_id"] + b"y" * 8, NOW)  # a frame resets the count
    assert not c.is_closed
    with pytest.raises(RemoteProtocolError, match="max_junk_bytes=10"):
        c.receive_data(b"z" * 4096, NOW)  # the framer reports junk runs in 4096-octet pieces
    got = drain(c)
    assert got[-1].reason is TerminationReason.PROTOCOL_ERROR and isinstance(got[-1].error, RemoteProtocolError)
    assert c.is_closed


def test_translation_bookkeeping(conn: IMBClientConnection) -> None:
    conn.receive_data(translation(9, 0) + translation(3, 42) + translation(5, -1), NOW)
    assert drain(conn) == [
        SubscriptionConfirmed(event_id=0, event_name="fed.my event", hub_event_id=9),
        SubscriptionConfirmed(event_id=42, event_name=None, hub_event_id=3),
        TranslationRemoved(hub_event_id=5, event_id=None),  # pyimb: KeyError and a dropped connection
    ]
    assert conn.translations == {7: 0, 9: 0, 3: 42}
    conn.receive_data(hub_event(9, imb.NormalEvent(data=b"x")) + hub_event(3, imb.NormalEvent(data=b"y")), NOW)
    got = drain(conn)
    assert isinstance(got[0], EventReceived) and got[0].event_id == 0 and got[0].hub_event_id == 9
    assert isinstance(got[1], UnmappedEventReceived) and got[1].hub_event_id == 3  # mapped to an id never bound


def test_translation_table_is_bounded() -> None:
    c = IMBClientConnection(max_translations=2)
    c.receive_data(translation(1, 0) + translation(2, 0) + translation(1, 0) + translation(3, 0), NOW)
    got = drain(c)
    assert [type(e) for e in got] == [SubscriptionConfirmed] * 3 + [TranslationIgnored]
    assert c.translations == {1: 0, 2: 0}


@pytest.mark.parametrize(
    "body",
    [
        imb.ChangeObjectEvent(action=Action.NEW, object_id=-5, attribute="é"),
        imb.BufferEvent(buffer_id=9, data=b"xy"),
        imb.ChangeObjectDataEvent(action=7, object_id=1, attribute="a", new_values=b"n", old_values=b""),
        imb.LogWriteLn(unique_client_id=3, line="log", level=imb.LogLevel.ERROR),
        imb.TimerTick(timer_name="t", tick=1, tick_time=2, start_time=3),
        imb.UnknownEvent(event_kind=77, data=b"whatever"),
        imb.UnknownEvent(event_kind=255),
        imb.TimerStatusRequest(data=b"?"),
    ],
)
def test_every_kind_becomes_an_event(conn: IMBClientConnection, body: imb.EventBody) -> None:
    conn.receive_data(hub_event(7, body, flags=0x300, tick=12), NOW)
    assert drain(conn) == [
        EventReceived(event_id=0, event_name="fed.my event", hub_event_id=7, tick=12, flags=EventFlag(0x300), body=body)
    ]


def test_focus_event_is_decoded_by_name() -> None:
    c = IMBClientConnection(federation="fed")
    focus = c.define_event("Focus") or 0
    c.subscribe(focus, NOW)
    c.receive_data(translation(1, focus), NOW)
    c.receive_data(hub_event(1, imb.FocusEvent(x=1.5, y=-2.0)), NOW)
    change = imb.ChangeObjectEvent(action=Action.NEW, object_id=1, attribute="attribute!")
    c.receive_data(hub_event(1, change), NOW)  # 22-octet body: not two doubles, so a change object
    bodies = [e.body for e in drain(c) if isinstance(e, EventReceived)]
    assert bodies == [imb.FocusEvent(x=1.5, y=-2.0), change]


MALFORMED = {
    "bad trailer": H2C["event_hello"][:-1] + b"\x00",
    "negative length": encode_frame(imb.CommandCode.EVENT, b"")[:12] + b"\xff\xff\xff\xff",
    "truncated change object": encode_frame(imb.CommandCode.EVENT, b"\x07\0\0\0\0\0\0\0\0\0\0\0\xff\xff"),
    "short event": encode_frame(imb.CommandCode.EVENT, b"\x07\0"),
    "string longer than payload": encode_frame(imb.CommandCode.SUBSCRIBE, b"\0\0\0\0\0\0\0\0\xff\0\0\0"),
}


@pytest.mark.parametrize("bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_is_a_decode_error_after_closing(conn: IMBClientConnection, bad: bytes) -> None:
    """Framing errors and malformed payloads close the engine, then raise (notes "Peer violations")."""
    with pytest.raises(DecodeError) as info:
        conn.receive_data(H2C["event_hello"] + bad + H2C["event_hello"], NOW)
    got = drain(conn)
    assert [type(e) for e in got] == [EventReceived, ConnectionTerminated]  # the frame before it was applied
    assert got[-1] == ConnectionTerminated(reason=TerminationReason.PROTOCOL_ERROR, error=info.value)
    assert conn.is_closed


def test_other_hub_commands_are_reported(conn: IMBClientConnection) -> None:
    commands: list[imb.Command] = [
        imb.Subscribe(event_id=3, event_name="fed.my event"),
        imb.Unpublish(event_name="fed.x"),
        imb.TimeStamp(absolute_time=1, tick=2, tick_delta=3),
        imb.SetVariable(var_name="v", var_value=b"1"),
        imb.HeartBeat(payload=b""),
        imb.UnknownCommand(command_code=7, payload=b"positive code"),
    ]
    conn.receive_data(frames(*commands), NOW)
    assert drain(conn) == [CommandReceived(command=c) for c in commands]
    assert conn.state is State.READY


# --- streams -----------------------------------------------------------------------------


def test_stream_reassembly(conn: IMBClientConnection) -> None:
    conn.receive_data(
        hub_event(7, imb.StreamHeader(stream_id=1, stream_name="s.txt"))
        + hub_event(7, imb.StreamBody(stream_id=1, data=b"ab"))
        + hub_event(7, imb.StreamBody(stream_id=1, data=b""))
        + hub_event(7, imb.StreamTail(stream_id=1, data=b"c")),
        NOW,
    )
    common: dict[str, Any] = {"event_id": 0, "event_name": "fed.my event", "stream_id": 1, "stream_name": "s.txt"}
    assert drain(conn) == [
        StreamStarted(**common),
        StreamData(**common, offset=0, data=b"ab"),
        StreamData(**common, offset=2, data=b"c"),
        StreamEnded(**common, size=3),
    ]
    assert conn.open_streams == 0


def test_interleaved_streams_are_kept_apart() -> None:
    c = IMBClientConnection(federation="fed")
    for name, hub_id in (("a", 10), ("b", 11)):
        eid = c.define_event(name) or 0
        c.subscribe(eid, NOW)
        c.receive_data(translation(hub_id, eid), NOW)
    drain(c)
    # two streams on event a (ids 1, 2) and one on b with the same id 1, chunks interleaved
    script: list[tuple[int, imb.EventBody]] = [
        (10, imb.StreamHeader(stream_id=1, stream_name="a1")),
        (10, imb.StreamHeader(stream_id=2, stream_name="a2")),
        (11, imb.StreamHeader(stream_id=1, stream_name="b1")),
        (10, imb.StreamBody(stream_id=2, data=b"2x")),
        (10, imb.StreamBody(stream_id=1, data=b"1x")),
        (11, imb.StreamBody(stream_id=1, data=b"bx")),
        (10, imb.StreamTail(stream_id=1, data=b"1y")),
        (11, imb.StreamTail(stream_id=1)),
        (10, imb.StreamTail(stream_id=2, data=b"2y")),
    ]
    stream = b"".join(hub_event(h, body) for h, body in script)
    for split in range(0, len(stream), 7):  # any split of the byte stream gives the same result
        c.receive_data(stream[split : split + 7], NOW)
    received: dict[tuple[int, int], bytearray] = {}
    ended: dict[tuple[int, int], tuple[str, int]] = {}
    for event in drain(c):
        key = (event.event_id, event.stream_id)
        if isinstance(event, StreamStarted):
            received[key] = bytearray()
        elif isinstance(event, StreamData):
            assert event.offset == len(received[key])
            received[key] += event.data
        elif isinstance(event, StreamEnded):
            ended[key] = (event.stream_name, event.size)
    assert received == {(0, 1): b"1x1y", (0, 2): b"2x2y", (1, 1): b"bx"}
    assert ended == {(0, 1): ("a1", 4), (0, 2): ("a2", 4), (1, 1): ("b1", 2)}


def test_stream_faults(conn: IMBClientConnection) -> None:
    conn.receive_data(
        hub_event(7, imb.StreamBody(stream_id=5, data=b"orphan"))
        + hub_event(7, imb.StreamTail(stream_id=5, data=b"end"))
        + hub_event(7, imb.StreamHeader(stream_id=1, stream_name="one"))
        + hub_event(7, imb.StreamBody(stream_id=1, data=b"abc"))
        + hub_event(7, imb.StreamHeader(stream_id=1, stream_name="again")),
        NOW,
    )
    got = drain(conn)
    assert got[:2] == [
        UnexpectedStreamData(event_id=0, event_name="fed.my event", stream_id=5, data=b"orphan", last=False),
        UnexpectedStreamData(event_id=0, event_name="fed.my event", stream_id=5, data=b"end", last=True),
    ]
    assert got[4] == StreamAborted(
        event_id=0, event_name="fed.my event", stream_id=1, stream_name="one", size=3,
        reason="restarted by a new stream header",
    )  # fmt: skip
    assert isinstance(got[5], StreamStarted) and got[5].stream_name == "again"
    conn.close(NOW)
    got = drain(conn)
    assert [type(e) for e in got] == [StreamAborted, ConnectionTerminated]
    assert got[0].reason == "connection closed"


def test_open_streams_are_bounded() -> None:
    c = IMBClientConnection(max_open_streams=2)
    c.subscribe(c.define_event("e") or 0, NOW)
    c.receive_data(translation(0, 0), NOW)
    for stream_id in range(3):
        c.receive_data(hub_event(0, imb.StreamHeader(stream_id=stream_id, stream_name=str(stream_id))), NOW)
    aborted = [e for e in drain(c) if isinstance(e, StreamAborted)]
    assert [(e.stream_id, e.reason) for e in aborted] == [(0, "more than 2 streams open")]
    assert c.open_streams == 2


def test_unmapped_stream_chunks_are_user_events() -> None:
    c = IMBClientConnection()
    c.receive_data(hub_event(4, imb.StreamHeader(stream_id=1, stream_name="s")), NOW)
    assert [type(e) for e in drain(c)] == [UnmappedEventReceived]


# --- end of session ------------------------------------------------------------------------


def test_hub_ends_the_session(conn: IMBClientConnection) -> None:
    conn.receive_data(hub_event(7, imb.StreamHeader(stream_id=1, stream_name="s")), NOW)
    conn.receive_data(C2H["end_session"] + H2C["event_hello"], NOW)  # nothing after icEndSession is used
    got = drain(conn)
    assert [type(e) for e in got] == [StreamStarted, StreamAborted, ConnectionTerminated]
    assert got[-1].reason is TerminationReason.END_SESSION
    assert conn.is_closed and conn.data_to_send() == b""  # no reply to icEndSession


def test_end_of_stream(conn: IMBClientConnection) -> None:
    conn.receive_data(H2C["event_hello"][:20], NOW)
    conn.receive_data(b"", NOW)
    got = drain(conn)
    assert got[0] == JunkSkipped(size=20)  # a frame cut by the end of stream, as the hub reports it
    assert [type(e) for e in got] == [JunkSkipped, ConnectionTerminated]
    assert got[-1].reason is TerminationReason.PEER_CLOSED


def test_closed_engine_refuses_every_input(conn: IMBClientConnection) -> None:
    conn.close(NOW)
    drain(conn)
    actions: list[Callable[[], None]] = [
        lambda: conn.receive_data(b"x", NOW),
        lambda: conn.send(imb.AllVariables(), NOW),
        lambda: conn.subscribe(0, NOW),
        lambda: conn.handle_timer(NOW),
    ]
    for action in actions:
        with pytest.raises(LocalProtocolError):
            action()
    conn.close(NOW)
    assert conn.next_event() is None and conn.get_timer() is None


def test_no_timers() -> None:
    c = IMBClientConnection()
    c.handle_timer(NOW)
    assert c.get_timer() is None and drain(c) == [] and c.data_to_send() != b""
    assert "AWAITING_ID" in repr(c)


# --- the lifecycle table: every (state, input) pair --------------------------------------

INPUTS: dict[Input, Callable[[IMBClientConnection], None]] = {
    Input.SEND: lambda c: c.send(imb.AllVariables(), NOW),
    Input.RECV_UNIQUE_ID: lambda c: c.receive_data(H2C["unique_client_id"], NOW),
    Input.RECV_TRANSLATION: lambda c: c.receive_data(H2C["set_event_id_translation"], NOW),
    Input.RECV_EVENT: lambda c: c.receive_data(H2C["event_hello"], NOW),
    Input.RECV_END_SESSION: lambda c: c.receive_data(C2H["end_session"], NOW),
    Input.RECV_OTHER: lambda c: c.receive_data(frames(imb.AllVariables()), NOW),
    Input.CLOSE: lambda c: c.close(NOW),
    Input.EOF: lambda c: c.receive_data(b"", NOW),
    Input.CONNECTION_LOST: lambda c: c.connection_lost(NOW, ConnectionResetError("reset")),
    Input.PROTOCOL_ERROR: lambda c: _swallow(c.receive_data, MALFORMED["bad trailer"], NOW),
}


def _swallow(action: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RemoteProtocolError):
        action(*args)


REACH: dict[State, Callable[[IMBClientConnection], None]] = {
    State.AWAITING_ID: lambda c: None,
    State.READY: INPUTS[Input.RECV_UNIQUE_ID],
    State.CLOSED: INPUTS[Input.CLOSE],
}


def test_table_covers_every_open_pair() -> None:
    assert set(INPUTS) == set(Input)
    assert {(s, i) for s in (State.AWAITING_ID, State.READY) for i in Input} == set(TRANSITIONS)
    assert {Input.SEND, Input.CLOSE} == LOCAL_INPUTS


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, Input)))
def test_every_state_input_pair(state: State, event: Input) -> None:
    c = IMBClientConnection()
    REACH[state](c)
    assert c.state is state
    expected = TRANSITIONS.get((state, event))
    if expected is None:
        assert state is State.CLOSED
        if event in (Input.CLOSE, Input.CONNECTION_LOST):
            INPUTS[event](c)  # closing twice or losing a closed connection does nothing
        else:
            with pytest.raises(LocalProtocolError):
                INPUTS[event](c)
        assert c.state is State.CLOSED
    else:
        INPUTS[event](c)
        assert c.state is expected
        assert c.is_closed == (expected is State.CLOSED)


def test_short_event_payload_is_a_decode_error_not_a_crash() -> None:
    """Regression (found by fuzz/engine_imb.py): a 4-octet icEvent payload once raised struct.error."""
    conn = IMBClientConnection(7, "fuzz")
    with pytest.raises(DecodeError):
        conn.receive_data(encode_frame(-15, b"\x00\x00\x00\x00"), 0.0)
    assert conn.is_closed and drain(conn)[-1].reason is TerminationReason.PROTOCOL_ERROR


def test_connection_lost() -> None:
    c = IMBClientConnection()
    error = ConnectionResetError("reset")
    c.connection_lost(NOW, error)
    assert drain(c) == [ConnectionTerminated(reason=TerminationReason.CONNECTION_LOST, error=error)]
    assert c.is_closed
    c.connection_lost(NOW, error)  # every loss is reported, even after a close: nothing happens
    c.close(NOW)
    assert drain(c) == [] and c.data_to_send() == encode_command(imb.SetClientInfo(owner_id=0, owner_name=""))


def test_config_object_and_options() -> None:
    config = IMBClientConfig(max_open_streams=3, end_session_on_close=False)
    c = IMBClientConnection(config=config, max_open_streams=4)
    assert c.config == IMBClientConfig(max_open_streams=4, end_session_on_close=False)
    with pytest.raises(InvalidArgument):
        IMBClientConnection(max_payload_size=-1)
    with pytest.raises(InvalidArgumentType):
        IMBClientConnection(no_such_option=1)


@pytest.mark.parametrize("data", ["abc", None, 5, [1, 2]])
def test_receive_data_of_a_wrong_type_is_refused_before_anything_changes(data: Any) -> None:
    c = IMBClientConnection()
    before = c.data_to_send()
    with pytest.raises(InvalidArgumentType):
        c.receive_data(data, 0.0)
    assert not c.is_closed and c.next_event() is None and before
    c.receive_data(encode_command(imb.UniqueClientID(unique_client_id=5, client_id=1)), 0.0)
    assert c.unique_client_id == 5
