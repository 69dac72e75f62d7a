"""Round trips, fast path == schema path, and compiled == interpreted schemas (STYLE.md 3.5, 3.6).

Every command class and every event kind is a parameter, so each shows in the
report; those tests share the profile's budget (``max_examples // 10`` each).
"""

from __future__ import annotations

import dataclasses
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otwire.codecs import imb
from otwire.codecs._base import SCHEMA_ERRORS
from otwire.codecs.imb import _schema, codec
from otwire.errors import DecodeError, EncodeError
from strategies.imb import (
    BODY_CLASSES,
    COMMAND_CLASSES,
    COMMAND_WIRE,
    EVENT_WIRE,
    UNKNOWN_CODES,
    UNKNOWN_KINDS,
    event_messages,
    event_payload_octets,
    frame_octets,
    messages,
    mutated,
    mutated_frames,
    octet_frames,
    payload_octets,
    valid_frames,
)

PER_CASE = settings(max_examples=max(5, settings.default.max_examples // 10))
COMMANDS = [pytest.param(cls, id=cls.__name__) for cls in COMMAND_CLASSES]
BODIES = [pytest.param(cls, id=cls.__name__) for cls in BODY_CLASSES]
CODES = [pytest.param(code, id=imb.CommandCode(code).name) for code in sorted(COMMAND_WIRE)]
KINDS = [pytest.param(kind, id=imb.EventKind(kind).name) for kind in sorted(EVENT_WIRE)]


def has_nan(message: Any) -> bool:
    return "nan" in repr(message)


def assert_same(a: Any, b: Any) -> None:
    """Equal messages; NaN != NaN, so compare the encoded octets too."""
    assert repr(a) == repr(b)
    assert imb.encode_command(a) == imb.encode_command(b)
    assert a == b or has_nan(a)


def outcome(decode: Any, *args: Any, **kwargs: Any) -> Any:
    """The decoded message, or the DecodeError (any other exception propagates)."""
    try:
        return decode(*args, **kwargs)
    except DecodeError as exc:
        return exc


def assert_paths_agree(frame: bytes) -> None:
    """Fast and schema paths: equal frames and commands, or the same DecodeError."""
    for fast, slow in [
        (outcome(imb.decode_frame, frame), outcome(imb.decode_frame_schema, frame)),
        (outcome(imb.decode_command, frame), outcome(imb.decode_command_schema, frame)),
    ]:
        if isinstance(fast, DecodeError) or isinstance(slow, DecodeError):
            assert isinstance(fast, DecodeError), (frame.hex(), fast, slow)
            assert isinstance(slow, DecodeError), (frame.hex(), fast, slow)
            assert (fast.reason, fast.offset) == (slow.reason, slow.offset)
            assert 0 <= fast.offset <= len(frame)
        elif isinstance(fast, imb.Frame):
            assert fast == slow
        else:
            assert_same(fast, slow)


def assert_event_paths_agree(payload: bytes) -> None:
    for focus in (False, True):
        fast = outcome(imb.decode_event, payload, focus=focus)
        slow = outcome(imb.decode_event_schema, payload, focus=focus)
        if isinstance(fast, DecodeError) or isinstance(slow, DecodeError):
            assert isinstance(fast, DecodeError) and isinstance(slow, DecodeError), (payload.hex(), fast, slow)
            assert (fast.reason, fast.offset) == (slow.reason, slow.offset)
        else:
            assert_same(fast, slow)


# --- decode(encode(m)) == m -----------------------------------------------------------


@pytest.mark.parametrize("cls", COMMANDS)
@PER_CASE
@given(data=st.data())
def test_command_round_trip(cls: type, data: st.DataObject) -> None:
    command = data.draw(messages(cls), label="command")
    frame = imb.encode_command(command)
    payload = imb.encode_payload(command)
    assert frame == frame_octets(command.command_code, payload)  # type: ignore[attr-defined]
    for decoded in (imb.decode_command(frame), imb.decode_command_schema(frame)):
        assert type(decoded) is cls
        assert_same(decoded, command)
        assert imb.encode_command(decoded) == frame
    assert_same(imb.decode_command(command.command_code, payload), command)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", BODIES)
@PER_CASE
@given(data=st.data())
def test_event_round_trip(cls: type, data: st.DataObject) -> None:
    event = data.draw(event_messages(cls), label="event")
    focus = cls is imb.FocusEvent
    payload = imb.encode_event(event)
    assert struct.unpack_from("<iiI", payload) == (event.event_id, event.tick, event.flags | event.event_kind)
    for decoded in (imb.decode_event(payload, focus=focus), imb.decode_event_schema(payload, focus=focus)):
        assert type(decoded.body) is cls
        assert_same(decoded, event)
        assert imb.encode_event(decoded) == payload
    if not focus:
        assert_same(imb.decode_command(imb.encode_command(event)), event)


@given(st.binary(max_size=60), st.one_of(st.sampled_from(imb.CommandCode), UNKNOWN_CODES))
def test_frame_round_trip(payload: bytes, code: int) -> None:
    frame = imb.encode_frame(code, payload)
    assert frame == frame_octets(code, payload)
    expected = imb.Frame(command_code=code, payload=payload)
    assert imb.decode_frame(frame) == expected == imb.decode_frame_schema(frame)
    assert imb.decode_frame(bytearray(frame)) == imb.decode_frame(memoryview(frame)) == expected


# --- encode(decode(b)) == b, octets drawn from the notes' layouts -------------------------


@pytest.mark.parametrize("code", CODES)
@PER_CASE
@given(data=st.data())
def test_payload_octets_round_trip(code: int, data: st.DataObject) -> None:
    payload = data.draw(payload_octets(code), label="payload")
    frame = frame_octets(code, payload)
    command = imb.decode_command(frame)
    assert command.command_code == code
    assert imb.encode_command(command) == frame
    assert imb.encode_payload(imb.decode_command(code, payload)) == payload
    assert_paths_agree(frame)
    assert_paths_agree(data.draw(mutated(st.just(frame)), label="mutant"))


@pytest.mark.parametrize("kind", KINDS)
@PER_CASE
@given(data=st.data())
def test_event_octets_round_trip(kind: int, data: st.DataObject) -> None:
    payload = data.draw(event_payload_octets(kind), label="payload")
    event = imb.decode_event(payload)
    assert event.event_kind == kind
    assert imb.encode_event(event) == payload
    assert_event_paths_agree(payload)
    if kind == 0:
        focus = data.draw(event_payload_octets(0, focus=True), label="focus")
        assert imb.encode_event(imb.decode_event(focus, focus=True)) == focus
        assert_event_paths_agree(focus)


@given(st.sampled_from(UNKNOWN_KINDS), st.data())
def test_unknown_kind_octets_round_trip(kind: int, data: st.DataObject) -> None:
    payload = data.draw(event_payload_octets(kind), label="payload")
    event = imb.decode_event(payload)
    assert isinstance(event.body, imb.UnknownEvent)
    assert (event.body.event_kind, event.body.data) == (kind, payload[12:])
    assert imb.encode_event(event) == payload


@given(octet_frames())
def test_any_octet_frame_round_trip(frame: bytes) -> None:
    assert imb.encode_command(imb.decode_command(frame)) == frame
    assert_paths_agree(frame)


def test_signalling_nan_double_keeps_its_bits() -> None:
    payload = struct.pack("<iiI", 0, 0, 47) + struct.pack("<i", 1) + b"t" + bytes.fromhex("010000000000f07f")
    event = imb.decode_event(payload)
    assert isinstance(event.body, imb.TimerSetSpeed) and math.isnan(event.body.speed_factor)
    assert imb.encode_event(event) == payload
    assert imb.encode_event(imb.decode_event_schema(payload)) == payload


# --- fast path == schema path ---------------------------------------------------------


@given(mutated_frames())
def test_paths_agree_on_mutated_frames(frame: bytes) -> None:
    assert_paths_agree(frame)


@given(st.binary(max_size=80))
def test_paths_agree_on_random_octets(frame: bytes) -> None:
    assert_paths_agree(frame)


@given(st.sampled_from(sorted(COMMAND_WIRE)), st.binary(max_size=60))
def test_paths_agree_on_random_payloads(code: int, payload: bytes) -> None:
    assert_paths_agree(frame_octets(code, payload))


@given(st.binary(max_size=60), st.sampled_from([*EVENT_WIRE, 7, 255]), st.binary(min_size=8, max_size=8))
def test_paths_agree_on_random_event_bodies(body: bytes, kind: int, head: bytes) -> None:
    assert_event_paths_agree(head + struct.pack("<I", kind) + body)


def test_layouts_match_the_schemas_and_the_dataclasses() -> None:
    """One fast-path reader per field, and schema field names == dataclass field names."""
    tables = [(codec.COMMAND_LAYOUTS, _schema.COMMANDS), (codec.EVENT_LAYOUTS, _schema.EVENT_BODIES)]
    for layouts, schemas in tables:
        for key, (cls, readers) in layouts.items():
            names = [f.name for f in dataclasses.fields(cls)]
            assert len(readers) == len(names), cls.__name__
            subcons = [sc.name for sc in schemas[key].subcons]
            assert subcons == names, cls.__name__
    assert set(codec.COMMAND_LAYOUTS) | {imb.CommandCode.EVENT} == set(imb.CommandCode) == set(COMMAND_WIRE)
    assert set(codec.EVENT_LAYOUTS) == set(imb.EventKind) == set(EVENT_WIRE)
    assert [sc.name for sc in _schema.FOCUS_BODY.subcons] == ["x", "y"]


# --- compiled == interpreted construct schemas ------------------------------------------


def plain(tree: Any) -> Any:
    """A parse tree as plain data: no ``_io``, floats as their octets (NaN-safe)."""
    if isinstance(tree, dict):
        return {k: plain(v) for k, v in tree.items() if not k.startswith("_")}
    if isinstance(tree, list):
        return [plain(v) for v in tree]
    if isinstance(tree, float):
        return struct.pack("<d", tree)
    return tree


def parse(schema: Any, data: bytes, **params: Any) -> Any:
    try:
        return plain(schema.parse(data, **params))
    except SCHEMA_ERRORS as exc:
        return exc


def schema_inputs(frame: bytes) -> list[tuple[str, bytes, dict[str, Any]]]:
    code = struct.unpack_from("<i", frame, 8)[0] if len(frame) >= 12 else -15
    payload = frame[16:-4] if len(frame) > 20 else b""
    return [
        ("FRAME", frame, {}),
        ("PAYLOAD", payload, {"command_code": code}),
        ("EVENT", payload, {}),
        ("FOCUS_EVENT", payload, {}),
    ]


@given(valid_frames())
def test_compiled_equals_interpreted_on_valid_frames(frame: bytes) -> None:
    for key, data, params in schema_inputs(frame):
        compiled = parse(_schema.COMPILED[key], data, **params)
        interpreted = parse(_schema.INTERPRETED[key], data, **params)
        if key in ("FRAME", "PAYLOAD"):
            assert not isinstance(compiled, Exception), (key, frame.hex(), compiled)
        assert_schemas_agree(key, data, params, compiled, interpreted)


@given(mutated_frames())
def test_compiled_equals_interpreted_on_mutated_frames(frame: bytes) -> None:
    for key, data, params in schema_inputs(frame):
        compiled = parse(_schema.COMPILED[key], data, **params)
        interpreted = parse(_schema.INTERPRETED[key], data, **params)
        assert_schemas_agree(key, data, params, compiled, interpreted)


def assert_schemas_agree(key: str, data: bytes, params: dict[str, Any], compiled: Any, interpreted: Any) -> None:
    if isinstance(interpreted, Exception) and not isinstance(compiled, Exception):
        # construct's compiled Bytes(n)/PascalString return a short read instead of raising
        # (STYLE.md 3.5); the schema decoders must still reject the input.
        with pytest.raises(DecodeError):
            if key == "FRAME":
                imb.decode_frame_schema(data)
            elif key == "PAYLOAD":
                imb.decode_command_schema(params["command_code"], data)
            else:
                imb.decode_event_schema(data, focus=key == "FOCUS_EVENT")
    elif isinstance(compiled, Exception) or isinstance(interpreted, Exception):
        assert isinstance(compiled, Exception), (key, data.hex(), interpreted)
        assert isinstance(interpreted, Exception), (key, data.hex(), compiled)
    else:
        assert compiled == interpreted, (key, data.hex())


@pytest.mark.parametrize("key", sorted(_schema.COMPILED))
def test_no_interpreted_fallback(key: str) -> None:
    source = _schema.COMPILED[key].source
    assert "linkedparsers[" not in source
    assert "def parseall(" in source  # it is a compiled schema


# --- encode_event_frame (RawEvent's fast path) equals encode_command(EventCommand) ----------------------


@given(event_messages())
def test_event_frame_fast_path_equals_encode_command(event: imb.EventCommand) -> None:
    kind = int(event.flags) | int(event.body.event_kind)
    body = imb.encode_event(event)[12:]
    assert imb.encode_event_frame(event.event_id, event.tick, kind, body) == imb.encode_command(event)


@given(
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**31), 2**32 - 1),
    st.binary(max_size=40),
)
def test_event_frame_fast_path_decodes_to_its_fields(event_id: int, tick: int, kind: int, body: bytes) -> None:
    frame = imb.decode_frame(imb.encode_event_frame(event_id, tick, kind, body))
    assert frame.command_code == imb.CommandCode.EVENT
    assert frame.payload == struct.pack("<iiI", event_id, tick, kind & 0xFFFFFFFF) + body


@pytest.mark.parametrize(
    "fields",
    [
        (2**31, 0, 5, b""),
        (0, -(2**31) - 1, 5, b""),
        (0, 0, 2**32, b""),
        (0, 0, 5, "text"),
        (0, 0, 5, bytes(2**20 * 10)),
    ],
)
def test_event_frame_fast_path_refuses_out_of_range(fields: tuple[Any, ...]) -> None:
    with pytest.raises(EncodeError):
        imb.encode_event_frame(*fields)
