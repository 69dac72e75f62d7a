"""Malformed input raises DecodeError (with offset and excerpt); bad messages raise EncodeError."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs import imb
from otwire.errors import DecodeError, EncodeError, LocalProtocolError, RemoteProtocolError
from strategies.imb import MAGIC, TRAILER, UNKNOWN_CODES, UNKNOWN_KINDS, frame_octets, golden_frames, valid_frames

# --- every strict prefix ----------------------------------------------------------------


def assert_prefixes_incomplete(frame: bytes) -> None:
    for end in range(len(frame)):
        prefix = frame[:end]
        for decode in (imb.decode_frame, imb.decode_frame_schema, imb.decode_command, imb.decode_command_schema):
            with pytest.raises(DecodeError) as info:
                decode(prefix)
            assert 0 <= info.value.offset <= end
        framer = imb.IMBFramer()
        if prefix:  # b"" would mean end of stream
            framer.receive_data(prefix)
        assert framer.next_item() is None, prefix.hex()
        assert framer.buffered == end


@given(valid_frames())
def test_every_strict_prefix_of_a_generated_frame(frame: bytes) -> None:
    assert_prefixes_incomplete(frame)


def test_every_strict_prefix_of_every_golden_vector() -> None:
    frames = golden_frames()
    assert len(frames) >= 40
    for frame in frames:
        assert_prefixes_incomplete(frame)


@given(valid_frames(), st.binary(min_size=1, max_size=8))
def test_octets_after_a_frame(frame: bytes, extra: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        imb.decode_frame(frame + extra)
    assert info.value.offset == len(frame)
    assert "after the frame" in info.value.reason


# --- malformed frames and payloads: (hex, message fragment, offset) --------------------------

HDR = "2f47617195adc5fb"


def framed(code: int, payload_hex: str) -> str:
    """A frame with a consistent length and trailer around ``payload_hex``."""
    return frame_octets(code, bytes.fromhex(payload_hex.replace(" ", ""))).hex()


def header(code: int, length: int) -> str:
    return (MAGIC + struct.pack("<ii", code, length)).hex()


EV = "00000000 00000000"  # event_id 0, tick 0
MALFORMED = [
    # §2 framing
    pytest.param("", "header truncated: 16 octets needed, 0 present", 0, id="empty"),
    pytest.param("30" + HDR[2:] + "fbffffff00000000", "start with the magic", 0, id="magic-byte-0"),
    pytest.param(HDR[:10] + "00" + HDR[12:] + "fbffffff00000000", "start with the magic", 5, id="magic-byte-5"),
    pytest.param(HDR[:6], "header truncated: 16 octets needed, 3 present", 3, id="magic-prefix"),
    pytest.param(HDR + "fbffff", "header truncated: 16 octets needed, 11 present", 11, id="header-cut"),
    pytest.param(header(-15, -1), "negative payload length -1 (command -15)", 12, id="negative-length"),
    pytest.param(header(-15, 10485761), "payload length 10485761 exceeds 10485760", 12, id="oversize"),
    pytest.param(
        header(-15, 4) + "0000", "truncated: payload length 4 needs 24 octets, 18 present", 18, id="payload-cut"
    ),
    pytest.param(header(-15, 2) + "0000 6734f1", "needs 22 octets, 21 present", 21, id="trailer-cut"),
    pytest.param(header(-15, 2) + "0000 6734f111", "wrong trailer 67 34 f1 11", 18, id="wrong-trailer"),
    pytest.param(header(-5, 0) + "6734f110", "4 octets after the frame", 16, id="trailer-after-empty"),
    pytest.param(header(-5, 0) + "00", "1 octets after the frame", 16, id="octet-after-empty"),
    pytest.param(framed(-7, "00000000 00000000") + "ff", "1 octets after the frame", 28, id="octet-after-frame"),
    # §3 primitives inside payloads (offsets into the frame: the payload starts at 16)
    pytest.param(framed(-31, "7b000000 0300"), "int32 needs 4 octets, 2 left", 22, id="string-prefix-cut"),
    pytest.param(framed(-31, "7b00"), "int32 needs 4 octets, 2 left", 18, id="int32-cut"),
    pytest.param(framed(-31, "7b000000 ffffffff"), "negative string length -1", 20, id="negative-string"),
    pytest.param(
        framed(-31, "7b000000 08000000 6d79206e616d65"), "string length 8 needs 8 octets, 7 left", 20, id="long-string"
    ),
    pytest.param(framed(-31, "7b000000 02000000 c328"), "invalid UTF-8", 24, id="bad-utf8"),
    pytest.param(framed(-36, "02"), "boolean octet 0x02 is not 0 or 1", 16, id="bool-2"),
    pytest.param(framed(-32, "01000000 76 05000000 31"), "byte count 5 needs 5 octets, 1 left", 21, id="block-long"),
    pytest.param(framed(-32, "01000000 76 feffffff"), "negative byte count -2", 21, id="block-negative"),
    pytest.param(framed(-42, "ffffffff"), "negative count -1", 16, id="entries-negative"),
    pytest.param(
        framed(-42, "02000000 00000000 01000000 02000000 03000000"),
        "count 2 needs 32 octets, 16 left",
        16,
        id="entries-count",
    ),
    pytest.param(
        framed(-52, "00000000 05000000 01000000"), "int32 count 5 needs 20 octets, 4 left", 20, id="int32-list"
    ),
    pytest.param(framed(-82, "74 ff"), "invalid UTF-8", 17, id="hub-found-utf8"),
    # §4 payload length
    pytest.param(framed(-7, "00000000 00000000 00"), "1 octets after the UniqueClientID payload", 24, id="extra-octet"),
    pytest.param(framed(-5, "00"), "1 octets after the EndSession payload", 16, id="end-session-payload"),
    pytest.param(framed(-7, "00000000"), "int32 needs 4 octets, 0 left", 20, id="unique-id-short"),
    # §5 icEvent
    pytest.param(framed(-15, "00000000 0000"), "int32 needs 4 octets, 2 left", 22, id="event-header-cut"),
    pytest.param(framed(-15, EV), "uint32 needs 4 octets, 0 left", 24, id="event-no-kind"),
    pytest.param(
        framed(-15, EV + "00000000 02000000 2a000000 04000000 617474"), "string length 4", 36, id="change-object-cut"
    ),
    pytest.param(
        framed(-15, EV + "00000000 02000000 2a000000 00000000 ff"),
        "1 octets after the ChangeObjectEvent body",
        40,
        id="change-object-extra",
    ),
    pytest.param(
        framed(-15, EV + "04010000 09000000 03000000 7879"), "byte count 3 needs 3 octets, 2 left", 32, id="buffer-cut"
    ),
    pytest.param(framed(-15, EV + "01000000 0100"), "int32 needs 4 octets, 2 left", 30, id="stream-header-cut"),
    pytest.param(framed(-15, EV + "02000000"), "int32 needs 4 octets, 0 left", 28, id="stream-body-no-id"),
]


@pytest.mark.parametrize(("hexstr", "fragment", "offset"), MALFORMED)
def test_malformed(hexstr: str, fragment: str, offset: int) -> None:
    frame = bytes.fromhex(hexstr.replace(" ", ""))
    for decode in (imb.decode_command, imb.decode_command_schema):
        with pytest.raises(DecodeError) as info:
            decode(frame)
        exc = info.value
        assert fragment in exc.reason
        assert exc.offset == offset
        assert exc.data == frame
        assert f"at offset {offset}" in str(exc)
        assert isinstance(exc, RemoteProtocolError)


def test_payload_errors_are_relative_to_the_payload_without_a_frame() -> None:
    with pytest.raises(DecodeError) as info:
        imb.decode_command(-31, bytes.fromhex("7b000000 ffffffff".replace(" ", "")))
    assert (info.value.offset, info.value.data) == (4, bytes.fromhex("7b000000ffffffff"))
    frame = imb.Frame(command_code=-36, payload=b"\x07")
    with pytest.raises(DecodeError) as info:
        imb.decode_command(frame)
    assert info.value.offset == 0
    with pytest.raises(DecodeError) as info:
        imb.decode_event(bytes(11))
    assert info.value.offset == 11


def test_focus_body_is_not_a_change_object() -> None:
    payload = struct.pack("<iiI", 0, 0, 0) + struct.pack("<dd", 1.5, -2.0)
    assert imb.decode_event(payload, focus=True).body == imb.FocusEvent(x=1.5, y=-2.0)
    for decode in (imb.decode_event, imb.decode_event_schema):
        with pytest.raises(DecodeError):
            decode(payload)
    with pytest.raises(DecodeError, match="1 octets after the FocusEvent body"):
        imb.decode_event(payload + b"\x00", focus=True)


# --- unknown is not malformed ------------------------------------------------------------


@given(UNKNOWN_CODES, st.binary(max_size=40))
def test_unknown_command_codes_decode_raw(code: int, payload: bytes) -> None:
    frame = frame_octets(code, payload)
    for decode in (imb.decode_command, imb.decode_command_schema):
        command = decode(frame)
        assert command == imb.UnknownCommand(command_code=code, payload=payload)
        assert type(command.command_code) is int
    assert imb.encode_command(imb.UnknownCommand(command_code=code, payload=payload)) == frame


@given(st.sampled_from(UNKNOWN_KINDS), st.integers(0, 0xFFFFFF), st.binary(max_size=40))
def test_unknown_event_kinds_decode_raw(kind: int, flag_bits: int, body: bytes) -> None:
    payload = struct.pack("<iiI", 1, 2, kind | flag_bits << 8) + body
    for decode in (imb.decode_event, imb.decode_event_schema):
        event = decode(payload)
        assert event.body == imb.UnknownEvent(event_kind=kind, data=body)
        assert (event.event_id, event.tick, int(event.flags)) == (1, 2, flag_bits << 8)
    assert imb.encode_event(imb.decode_event(payload)) == payload


def test_unknown_layout_commands_keep_their_payload() -> None:
    frame = frame_octets(-4, b"\x01\x02")
    assert imb.decode_command(frame) == imb.HeartBeat(payload=b"\x01\x02")
    assert imb.decode_command(frame_octets(-15, struct.pack("<iiI", 0, 0, 50) + b"?")).body == (  # type: ignore[union-attr]
        imb.TimerStatusRequest(data=b"?")
    )


# --- EncodeError: validation before encoding -----------------------------------------------

BAD_MESSAGES: list[Any] = [
    pytest.param(lambda: imb.SetClientInfo(owner_id=2**31, owner_name="x"), "owner_id", id="int32-high"),
    pytest.param(lambda: imb.SetClientInfo(owner_id=1.0, owner_name="x"), "owner_id", id="int32-float"),
    pytest.param(lambda: imb.SetClientInfo(owner_id=1, owner_name=b"x"), "owner_name must be a str", id="str-bytes"),
    pytest.param(lambda: imb.Subscribe(event_id=0, event_name="\ud800"), "UTF-8", id="str-surrogate"),
    pytest.param(lambda: imb.TimeStamp(absolute_time=2**63, tick=0, tick_delta=0), "int64", id="int64-high"),
    pytest.param(lambda: imb.SetNoDelay(no_delay=1), "bool", id="bool-int"),
    pytest.param(
        lambda: imb.SetVariable(var_name="v", var_value=bytearray(b"1")), "must be bytes", id="bytes-bytearray"
    ),
    pytest.param(lambda: imb.TimerSetSpeed(timer_name="t", speed_factor="1"), "float", id="float-str"),
    pytest.param(lambda: imb.StatusEvent(command_count=0, event_command_counts=[1]), "tuple", id="list-not-tuple"),
    pytest.param(lambda: imb.StatusEvent(command_count=0, event_command_counts=(2**31,)), "[0]", id="list-item"),
    pytest.param(lambda: imb.SetState(state=2**40), "state", id="enum-range"),
    pytest.param(lambda: imb.EventNames(entries=(("a", 1, 2, 3),)), "EventNameEntry", id="entries"),
    pytest.param(lambda: imb.UnknownCommand(command_code=-45), "unknown int32 code", id="unknown-known-code"),
    pytest.param(lambda: imb.UnknownCommand(command_code=2**31), "unknown int32 code", id="unknown-code-range"),
    pytest.param(lambda: imb.UnknownEvent(event_kind=5), "unknown kind", id="unknown-known-kind"),
    pytest.param(lambda: imb.UnknownEvent(event_kind=256), "unknown kind", id="unknown-kind-range"),
    pytest.param(
        lambda: imb.EventCommand(event_id=0, flags=0x104, body=imb.NormalEvent(data=b"")), "bits 0..7", id="flags-low"
    ),
    pytest.param(
        lambda: imb.EventCommand(event_id=0, flags=2**32, body=imb.NormalEvent(data=b"")), "flags", id="flags-high"
    ),
    pytest.param(
        lambda: imb.EventCommand(event_id=0, body=imb.SetClientInfo(owner_id=1, owner_name="")), "event body", id="body"
    ),
    pytest.param(
        lambda: imb.Frame(command_code=-15, payload=b"x" * (imb.MAX_PAYLOAD_SIZE + 1)), "exceeds", id="frame-size"
    ),
    pytest.param(lambda: imb.encode_command(imb.NormalEvent(data=b"")), "not an IMB command", id="body-as-command"),
    pytest.param(lambda: imb.encode_event(imb.NormalEvent(data=b"")), "not an EventCommand", id="body-as-event"),
    pytest.param(
        lambda: imb.encode_command(
            imb.EventCommand(event_id=0, body=imb.NormalEvent(data=bytes(imb.MAX_PAYLOAD_SIZE)))
        ),
        "exceeds",
        id="payload-over-10MiB",
    ),
]


@pytest.mark.parametrize(("make", "fragment"), BAD_MESSAGES)
def test_bad_messages_raise_encode_error(make: Any, fragment: str) -> None:
    with pytest.raises(EncodeError, match=None) as info:
        make()
    assert fragment in str(info.value)
    assert isinstance(info.value, LocalProtocolError)


def test_enum_fields_become_members() -> None:
    assert imb.ChangeObjectEvent(action=1, object_id=0, attribute="").action is imb.Action.DELETE
    assert imb.ChangeObjectEvent(action=9, object_id=0, attribute="").action == 9
    assert imb.LogWriteLn(line="", level=11).level is imb.LogLevel.OK
    assert imb.EventCommand(event_id=0, flags=0x100, body=imb.NormalEvent(data=b"")).flags is imb.EventFlag.PRIORITY


def test_decode_command_misuse_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        imb.decode_command(-31)  # type: ignore[call-overload]
    with pytest.raises(LocalProtocolError):
        imb.decode_command(b"\x00", b"")  # type: ignore[call-overload]
    with pytest.raises(LocalProtocolError):
        imb.decode_command_schema(-31)
    with pytest.raises(EncodeError):
        imb.decode_command(2**31, b"")  # not an int32 code: an UnknownCommand cannot hold it


def test_decode_error_excerpt_is_bounded() -> None:
    frame = MAGIC + struct.pack("<ii", -15, 200) + bytes(200) + b"\x00" * 4
    with pytest.raises(DecodeError) as info:
        imb.decode_frame(frame)
    assert info.value.offset == 216
    assert len(info.value.excerpt.split()) <= 2 * 16 + 2
    assert TRAILER.hex() not in info.value.excerpt.replace(" ", "")
