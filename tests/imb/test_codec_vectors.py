"""Golden vectors from ``specs/imb/vectors/`` decode to hand-written messages and back.

Every expected message below is written by hand from the notes (``specs/imb/notes.md``
§4, §5, §10) with the public constructors; none is produced by the codec.
``decode(hex) == expected`` for both decode paths and ``encode(expected) == hex``.
"""

from __future__ import annotations

from typing import Any

import pytest

from otwire.codecs import imb
from otwire.codecs.imb import Action, EventFlag, LogLevel
from strategies.imb import Vector, read_vectors, vector_files

FED = "fed.my event"
HELLO = b"\x05\x00\x00\x00hello"  # encode_string("hello")


def ev(event_id: int, body: Any, *, tick: int = 0, flags: int = 0) -> imb.EventCommand:
    return imb.EventCommand(event_id=event_id, tick=tick, flags=EventFlag(flags), body=body)


EXPECTED: dict[str, dict[str, Any]] = {
    "client_to_hub.hex": {
        "set_client_info": imb.SetClientInfo(owner_id=123, owner_name="my name"),
        "subscribe": imb.Subscribe(event_id=0, event_entry_type=0, event_name=FED),
        "publish": imb.Publish(event_id=0, event_entry_type=0, event_name=FED),
        "signal_string": ev(0, imb.NormalEvent(data=HELLO)),
        "change_object": ev(0, imb.ChangeObjectEvent(action=Action.CHANGE, object_id=42, attribute="attr")),
        "stream_header": ev(0, imb.StreamHeader(stream_id=1, stream_name="s.txt")),
        "stream_body": ev(0, imb.StreamBody(stream_id=1, data=b"ab")),
        "stream_tail": ev(0, imb.StreamTail(stream_id=1, data=b"c")),
        "stream_tail_empty": ev(0, imb.StreamTail(stream_id=1)),
        "unpublish": imb.Unpublish(event_name=FED),
        "unsubscribe": imb.Unsubscribe(event_name=FED),
        "unique_client_id_request": imb.UniqueClientID(),
        "end_session": imb.EndSession(),
        "buffer_priority": ev(0, imb.BufferEvent(buffer_id=9, data=b"xy"), flags=0x100),
    },
    "hub_to_client.hex": {
        "unique_client_id": imb.UniqueClientID(unique_client_id=0x1234, client_id=5),
        "set_event_id_translation": imb.SetEventIDTranslation(hub_event_id=7, client_event_id=0),
        "event_hello": ev(7, imb.NormalEvent(data=HELLO)),
        "translation_removal": imb.SetEventIDTranslation(hub_event_id=7, client_event_id=-1),
    },
    "extra_commands.hex": {
        "set_variable": imb.SetVariable(var_name="v", var_value=b"1"),
        # filters stays a plain int32 (an IntFlag would turn -1 into 7): 3 = PUBLISHERS | SUBSCRIBERS
        "request_event_names": imb.RequestEventNames(event_name_filter="fed.", filters=3),
        "all_variables": imb.AllVariables(),
    },
    "otwire_derived.hex": {
        "time_stamp": imb.TimeStamp(absolute_time=1_700_000_000_000, tick=7, tick_delta=-1),
        "set_no_delay": imb.SetNoDelay(no_delay=True),
        "set_state_client": imb.SetState(state=imb.ClientState.CLIENT),
        "event_names": imb.EventNames(
            entries=(
                imb.EventNameEntry(event_name="fed.a", publishers=1, subscribers=2, timers=0),
                imb.EventNameEntry(event_name="fed.b", publishers=0, subscribers=1, timers=3),
            )
        ),
        "status_event_plus": imb.StatusEventPlus(event_id=7, event_name="fed.x", subscribers=(10, 11)),
        "status_client_plus": imb.StatusClientPlus(
            handle=3, owner_id=123, owner_name="m", uri="tcp://h:1", is_server=False, no_delay=True, throttle=5
        ),
        "create_timer": imb.CreateTimer(
            event_id=0, timer_name="t", start_time=0, resolution=1000, speed_factor=2.0, repeat_count=2**31 - 1
        ),
        "hub_found": imb.HUBFound(uri="tcp://hub:4000"),
        "hub_locate": imb.HUBLocate(),
        "heart_beat": imb.HeartBeat(),
        "unknown_command": imb.UnknownCommand(command_code=-99, payload=b"\x01\x02\x03"),
        "positive_command": imb.UnknownCommand(command_code=5),
        "change_object_data": ev(
            0, imb.ChangeObjectDataEvent(action=Action.NEW, object_id=9, attribute="a", new_values=b"N")
        ),
        "log_write_ln": ev(3, imb.LogWriteLn(line="hi", level=LogLevel.WARNING)),
        "timer_tick": ev(1, imb.TimerTick(timer_name="t", tick=4, tick_time=400, start_time=0)),
        "timer_acknowledge": ev(1, imb.TimerAcknowledge(client_name="c", timer_name="t", proposed_time_step=10)),
        "timer_set_speed": ev(1, imb.TimerSetSpeed(timer_name="t", speed_factor=0.5)),
        "child_event_add": ev(1, imb.ChildEventAdd(event_name="fed.c")),
        "unknown_kind_flags": ev(2, imb.UnknownEvent(event_kind=7, data=b"\xaa\xbb"), tick=5, flags=0x30200),
        "payload_holds_trailer": ev(
            0, imb.NormalEvent(data=bytes.fromhex("6734f110 2f47617195adc5fb 6734f110".replace(" ", "")))
        ),
    },
}

VECTORS = [v for path in vector_files() if path.name != "primitives.hex" for v in read_vectors(path)]


def test_every_vector_has_an_expected_message() -> None:
    files = {path.name for path in vector_files()} - {"primitives.hex"}
    assert files == set(EXPECTED)
    names = {(v.file, v.name) for v in VECTORS}
    assert len(names) == len(VECTORS), "duplicate vector names"
    assert names == {(f, n) for f, table in EXPECTED.items() for n in table}


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v.file[:-4]}-{v.name}" for v in VECTORS])
def test_vector(vector: Vector) -> None:
    expected = EXPECTED[vector.file][vector.name]
    assert imb.encode_command(expected) == vector.octets
    for decode in (imb.decode_command, imb.decode_command_schema):
        decoded = decode(vector.octets)
        assert decoded == expected
        assert repr(decoded) == repr(expected)
        assert imb.encode_command(decoded) == vector.octets
    frame = imb.decode_frame(vector.octets)
    assert frame == imb.decode_frame_schema(vector.octets)
    assert imb.encode_frame(frame.command_code, frame.payload) == vector.octets
    assert imb.decode_command(frame) == expected
    assert imb.decode_command(int(frame.command_code), frame.payload) == expected
    if isinstance(expected, imb.EventCommand):
        assert imb.decode_event(frame.payload) == expected
        assert imb.decode_event_schema(frame.payload) == expected
        assert imb.encode_event(expected) == frame.payload


def test_vectors_give_enum_members_where_known() -> None:
    change = imb.decode_command(next(v for v in VECTORS if v.name == "change_object").octets)
    assert isinstance(change, imb.EventCommand)
    assert type(change.body.action) is Action  # type: ignore[union-attr]
    assert change.event_kind is imb.EventKind.CHANGE_OBJECT_EVENT
    frame = imb.decode_frame(next(v for v in VECTORS if v.name == "subscribe").octets)
    assert frame.command_code is imb.CommandCode.SUBSCRIBE
    unknown = imb.decode_frame(next(v for v in VECTORS if v.name == "unknown_command").octets)
    assert type(unknown.command_code) is int


def test_priority_flag_is_kept_apart_from_the_kind() -> None:
    event = imb.decode_command(next(v for v in VECTORS if v.name == "buffer_priority").octets)
    assert isinstance(event, imb.EventCommand)
    assert event.event_kind == imb.EventKind.BUFFER
    assert event.flags == EventFlag.PRIORITY
    assert imb.encode_event(event)[8:12] == bytes.fromhex("04010000")


def test_signal_string_body_is_an_imb_string() -> None:
    event = imb.decode_command(next(v for v in VECTORS if v.name == "signal_string").octets)
    assert isinstance(event, imb.EventCommand) and isinstance(event.body, imb.NormalEvent)
    assert imb.decode_string(event.body.data) == "hello"


def test_pyimb_stream_chunks_reassemble() -> None:
    """The §10 stream: header, body "ab", tail "c" (chunk size 2) carry "abc" on stream id 1."""
    names = ["stream_header", "stream_body", "stream_tail"]
    events = [imb.decode_command(next(v for v in VECTORS if v.name == n).octets) for n in names]
    bodies = [e.body for e in events if isinstance(e, imb.EventCommand)]
    assert {b.stream_id for b in bodies} == {1}  # type: ignore[union-attr]
    assert b"".join(b.data for b in bodies[1:]) == b"abc"  # type: ignore[union-attr]
