"""The detail tree of one IMB3 frame (see :mod:`otwire.inspect.detail`)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator
from typing import Any

from otwire.codecs.imb import EventCommand, UnknownCommand, UnknownEvent, decode_command
from otwire.codecs.imb.codec import COMMAND_LAYOUTS, EVENT_LAYOUTS
from otwire.codecs.imb.primitives import Reader
from otwire.inspect._detail_tree import DetailTree, _node

_HEADER = 16  # magic (8), command_code (4), payload_length (4)
_TRAILER = 4


def imb_tree(frame: bytes) -> DetailTree:
    """Return the tree of one IMB3 frame, magic to trailer.

    Raises:
        DecodeError: The frame or its command does not decode.
    """
    command = decode_command(frame)
    size = int.from_bytes(frame[12:16], "little", signed=True)
    end = _HEADER + size
    parts = [
        _node("magic", frame, 0, 8),
        _node(f"command_code: {int(command.command_code)} {_text(command.command_code)}", frame, 8, 12),
        _node(f"payload_length: {size}", frame, 12, 16),
    ]
    if size:
        parts.append(_node(f"payload: {type(command).__name__}", frame, _HEADER, end, *_payload(frame, command, end)))
        parts.append(_node("trailer", frame, end, end + _TRAILER))
    return DetailTree(f"IMB3 frame, {len(frame)} octets", children=tuple(parts))


def _payload(frame: bytes, command: Any, end: int) -> Iterator[DetailTree]:
    if isinstance(command, EventCommand):
        body = command.body
        kind = body.event_kind
        yield _node(f"event_id: {command.event_id}", frame, 16, 20)
        yield _node(f"tick: {command.tick}", frame, 20, 24)
        yield _node(
            f"event kind and flags: {int(kind)} {_text(kind)}",
            frame,
            24,
            28,
            DetailTree(f"event_kind: {int(kind)} {_text(kind)}"),
            DetailTree(f"flags: {_text(command.flags) or 0}"),
        )
        layout = None if isinstance(body, UnknownEvent) else EVENT_LAYOUTS.get(int(kind))
        fields = _fields(frame, body, 28, end, layout[1] if layout else None)
        yield _node(f"body: {type(body).__name__}", frame, 28, end, *fields)
        return
    layout = None if isinstance(command, UnknownCommand) else COMMAND_LAYOUTS.get(int(command.command_code))
    yield from _fields(frame, command, _HEADER, end, layout[1] if layout else None)


def _fields(
    frame: bytes, message: Any, start: int, end: int, readers: tuple[Callable[[Reader], Any], ...] | None
) -> Iterator[DetailTree]:
    """One node per dataclass field, with its octets when the layout's readers give them."""
    names = [f.name for f in dataclasses.fields(message) if f.name != "event_kind"]
    spans: list[tuple[int, int]] = []
    if readers is not None and len(readers) == len(names):
        reader = Reader(frame, start, end)
        for read in readers:
            at = reader.pos
            read(reader)
            spans.append((at, reader.pos))
    for i, name in enumerate(names):
        label = f"{name}: {_text(getattr(message, name))}"
        yield _node(label, frame, *spans[i]) if spans else DetailTree(label)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return f"{len(value)} octets"
    if isinstance(value, enum.Flag) and not isinstance(value, enum.IntEnum):
        return "|".join(m.name or "" for m in type(value) if m in value)
    if isinstance(value, enum.Enum):
        return value.name or str(value.value)
    if isinstance(value, str):
        return repr(value)
    return str(value)
