"""The IMB3 JSON view (``command_json``) equals the general conversion it replaced.

``REFERENCE_*`` below are the general functions as they were (one ``isinstance`` chain per
value, ``dataclasses.fields`` per message); the view now dispatches on the value's type,
keeps a field plan per class and remembers the names of codes and flags.
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
from otwire.inspect.imb import SHOWN_OCTETS, command_json
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


def same(command: Any) -> None:
    fast, general = command_json(command), reference_command_json(command)
    assert fast == general
    assert repr(fast) == repr(general)  # the same types (an int is not True, a list not a tuple)
    assert msgspec.json.encode(fast) == msgspec.json.encode(general)


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
    ]:
        same(command)
        same(command)
