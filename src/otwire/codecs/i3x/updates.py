"""Map SSE events of an i3X stream to updates (specs/i3x/notes.md §5 "mapping").

* type ``message`` (the default): ``data`` is JSON, a list of update objects
  ``[{elementId, value, quality, timestamp, components?, sequenceNumber?}, ...]``,
  or one bare update object; an object without ``elementId`` (``{}``) or blank
  data carries no update -> :class:`StreamUpdates` (possibly empty).
* type ``close`` (i3x2ua: ``event: close`` + ``data: {}``): the server ends the
  stream on purpose -> :class:`StreamClosed`; its data is not decoded.
* any other type: -> :class:`UnknownStreamEvent` (log it and go on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from otwire.codecs.i3x.codec import decode
from otwire.codecs.i3x.models import VQT, ValueChange
from otwire.codecs.i3x.sse import SSEEvent
from otwire.errors import DecodeError

__all__ = ["StreamClosed", "StreamItem", "StreamUpdates", "UnknownStreamEvent", "map_event"]


@dataclass(frozen=True, slots=True)
class StreamUpdates:
    """Value changes carried by one ``message`` event, in wire order (may be empty)."""

    changes: list[ValueChange]


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """The server announced the end of the stream (``event: close``)."""

    event: SSEEvent


@dataclass(frozen=True, slots=True)
class UnknownStreamEvent:
    """An event of a type i3X does not define (kept for logging)."""

    event: SSEEvent


StreamItem = StreamUpdates | StreamClosed | UnknownStreamEvent


class _LooseChange(msgspec.Struct, frozen=True, rename="camel"):
    """A bare update object whose ``elementId`` may be missing (``data: {}``)."""

    element_id: str | None = None
    value: Any = None
    quality: str = ""
    timestamp: str = ""
    components: dict[str, VQT] | None = None
    sequence_number: int | None = None


def _updates_maker() -> Callable[[list[ValueChange]], StreamUpdates]:
    """``StreamUpdates(changes)`` without the frozen ``__init__``'s ``object.__setattr__`` call (same object)."""
    new = object.__new__
    set_changes = vars(StreamUpdates)["changes"].__set__

    def make(changes: list[ValueChange]) -> StreamUpdates:
        obj: StreamUpdates = new(StreamUpdates)
        set_changes(obj, changes)
        return obj

    return make


_new_updates = _updates_maker()
_CHANGES: msgspec.json.Decoder[list[ValueChange]] = msgspec.json.Decoder(list[ValueChange])


def map_event(event: SSEEvent) -> StreamItem:
    """Map one SSE event to a stream item (notes §5).

    Args:
        event: An event from :class:`otwire.codecs.i3x.sse.SSEParser`.

    Returns:
        :class:`StreamUpdates`, :class:`StreamClosed` or :class:`UnknownStreamEvent`.

    Raises:
        DecodeError: a ``message`` event whose data is not JSON, not a list or object,
            or holds an update of the wrong shape (the message has the JSON path).
    """
    if event.event == "close":
        return StreamClosed(event)
    if event.event != "message":
        return UnknownStreamEvent(event)
    if event.data[:1] == "[":
        try:  # the fast path: straight from the text; any error is reported by the path below
            return _new_updates(_CHANGES.decode(event.data))
        except (msgspec.DecodeError, UnicodeError):
            pass
    data = event.data.encode("utf-8")
    first = data.lstrip()[:1]
    if not first:
        return StreamUpdates([])
    if first == b"{":
        loose: _LooseChange = decode(data, _LooseChange)
        if loose.element_id is None:
            return StreamUpdates([])
        change = ValueChange(
            loose.element_id, loose.value, loose.quality, loose.timestamp, loose.components, loose.sequence_number
        )
        return StreamUpdates([change])
    if first != b"[":
        raise DecodeError("SSE message data is neither a JSON list nor an object", data=data)
    changes: list[ValueChange] = decode(data, list[ValueChange])
    return StreamUpdates(changes)
