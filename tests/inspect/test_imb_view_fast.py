"""The IMB3 view's fast paths equal the general conversions they replaced.

``reference_*`` below are the general functions as they were (one ``isinstance`` chain per
value, ``dataclasses.fields`` per message); the view now dispatches on the value's type,
keeps a field plan per class and remembers the names of codes, kinds and flags. Also
``command_json_text`` (the JSON text of the view, no dict per record) against msgspec's
encoding of the record's dict, and ``command_counted`` against the format and type name.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs import imb
from otwire.errors import DecodeError
from otwire.inspect._json_lines import TextLines
from otwire.inspect.capture import Flow, Sender
from otwire.inspect.imb import (
    SHOWN_OCTETS,
    command_cells,
    command_counted,
    command_format,
    command_json,
    command_json_text,
    command_type_name,
)
from otwire.inspect.records import Finding, Row, row_json
from strategies.imb import any_commands, mutated_frames, valid_frames


def reference_name(value: Any) -> str:
    return value.name if isinstance(value, enum.Enum) and value.name else str(int(value))


def reference_json_value(value: Any) -> Any:
    if isinstance(value, enum.Flag) and not isinstance(value, enum.IntEnum):
        return [m.name for m in type(value) if m in value]
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes):
        return value[:SHOWN_OCTETS].hex()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return reference_fields_json(value)
    if isinstance(value, tuple):
        return [reference_json_value(v) for v in value]
    return value


def reference_fields_json(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        out[field.name] = reference_json_value(value)
        if isinstance(value, bytes):
            out[f"{field.name}_length"] = len(value)
    return out


def reference_command_json(command: Any) -> dict[str, Any]:
    code = command.command_code
    out: dict[str, Any] = {"command_code": int(code), "command": reference_name(code)}
    if isinstance(command, imb.EventCommand):
        body = command.body
        kind = body.event_kind
        out.update(
            event_id=command.event_id,
            tick=command.tick,
            flags=reference_json_value(command.flags),
            event_kind=int(kind),
            event_kind_name=reference_name(kind),
            body=reference_fields_json(body),
        )
        return out
    out["fields"] = reference_fields_json(command)
    return out


def reference_text(value: Any) -> str:
    if isinstance(value, bytes):
        shown = value[:16].hex(" ")
        return f"{len(value)}B[{shown}{' ..' if len(value) > 16 else ''}]"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, enum.Enum):
        return reference_name(value)
    return str(value)


def reference_fields_text(message: Any) -> str:
    return " ".join(f"{f.name}={reference_text(getattr(message, f.name))}" for f in dataclasses.fields(message))


def reference_cells(command: Any) -> tuple[str, ...]:
    name = reference_name(command.command_code)
    if isinstance(command, imb.EventCommand):
        body = command.body
        kind = (
            "UNKNOWN " + str(body.event_kind) if isinstance(body, imb.UnknownEvent) else reference_name(body.event_kind)
        )
        flags = f" flags={int(command.flags):#x}" if int(command.flags) else ""
        return ("EV", str(command.event_id), name, kind, reference_fields_text(body) + flags)
    if isinstance(command, imb.UnknownCommand):
        name = f"UNKNOWN {command.command_code}"
    return ("CMD", "", name, "", reference_fields_text(command))


FLOW = Flow("10.0.0.1", 50000, "10.0.0.2", 4000)
ENCODE = msgspec.json.Encoder().encode


def same(command: Any) -> None:
    fast, general = command_json(command), reference_command_json(command)
    assert fast == general
    assert repr(fast) == repr(general)  # the same types (an int is not True, a list not a tuple)
    assert msgspec.json.encode(fast) == msgspec.json.encode(general)
    assert command_cells(command) == reference_cells(command)
    finding = Finding("apdu", 3, b"\x01\x02", command)
    assert command_counted(finding) == (command_format(command), command_type_name(command))
    encoded = ENCODE(general)
    text = command_json_text(finding)
    assert text == (encoded[1:-1].decode() if encoded.isascii() else None)
    row = Row("apdu", 1.25, 9, FLOW, Sender.CLIENT, "imb", finding, stream=1)
    line = TextLines("f.pcap").line(row)
    assert line is None or line.encode() == ENCODE(row_json(row, "f.pcap"))
    assert (line is None) == (text is None)


@given(any_commands())
def test_command_json_equals_the_general_view(command: Any) -> None:
    same(command)
    same(command)  # again: from the remembered plans and names
    first, second = command_json(command), command_json(command)
    if "flags" in first:
        first["flags"].append("changed")
        assert second["flags"] != first["flags"]  # every record has its own list


@given(st.one_of(valid_frames(), mutated_frames()))
def test_command_json_of_decoded_frames(frame: bytes) -> None:
    try:
        command = imb.decode_command(frame)
    except DecodeError:
        return
    same(command)


def test_command_json_of_odd_values() -> None:
    flags = imb.EventFlag(0x100 | 0x1200)  # a named and unnamed bits
    for command in [
        imb.EventCommand(event_id=1, flags=flags, body=imb.UnknownEvent(event_kind=200, data=bytes(100))),
        imb.EventCommand(event_id=2, body=imb.TimerSetSpeed(timer_name="t", speed_factor=math.inf)),
        imb.EventCommand(event_id=3, body=imb.TimerSetSpeed(timer_name="t", speed_factor=-math.inf)),
        imb.EventCommand(event_id=4, body=imb.TimerSetSpeed(timer_name="t", speed_factor=math.nan)),
        imb.UnknownCommand(command_code=77, payload=b"\x01"),
        imb.UnknownCommand(command_code=78),
        imb.EventNames(entries=(imb.EventNameEntry(event_name="a", publishers=1, subscribers=2, timers=3),)),
        imb.SetNoDelay(no_delay=True),
        imb.StatusEventPlus(event_id=1, event_name="e", subscribers=(1, 2), publishers=()),
        imb.SetState(state=12345),
        imb.EndSession(),
        imb.SetClientInfo(owner_id=1, owner_name="\u00e9t\u00e9"),  # not ASCII: the dict path
        imb.SetClientInfo(owner_id=1, owner_name="x" * 70),
        imb.SetClientInfo(owner_id=1, owner_name="y" * 60),  # the longest string shown whole
        imb.SetClientInfo(owner_id=1, owner_name="z" * 61),
        imb.EventCommand(event_id=5, body=imb.StreamBody(stream_id=1, data=bytes(range(20)))),
    ]:
        same(command)
        same(command)
