"""SSEParser: cut a ``text/event-stream`` body into events (WHATWG HTML "Server-sent events", notes §5).

Sans-IO, shaped like the other framers: :meth:`SSEParser.feed` takes octets and
returns the events they complete; :meth:`SSEParser.close` ends the stream. The
events do not depend on how the stream is split:

* line ends are LF, CRLF or CR; a CR ending one chunk and an LF starting the next
  are one line end;
* a UTF-8 BOM at the very start is skipped; lines are decoded as UTF-8 with
  U+FFFD for bad octets;
* ``:`` starts a comment (ignored; counted in ``comments``); a line without a colon
  is a field with an empty value; one space after the colon is dropped;
* ``data`` lines are joined with ``"\\n"``; ``event`` sets the type (default
  ``"message"``); ``id`` sets the last event id unless it contains NUL; ``retry``
  (ASCII digits only) sets :attr:`SSEParser.retry` in milliseconds; other fields
  are ignored;
* a blank line dispatches the event, unless no ``data`` line came since the last one;
* at end of stream an unfinished event is discarded.

A buffer without CR (the usual server output) takes a fast path: it is split on LF
and ``data`` lines are read as octets; it gives the same events, state and errors as
the general path (tests/i3x/test_sse.py checks both against each other).

Buffering is bounded: a line longer than ``max_line`` octets, or event data longer
than ``max_data`` characters, raises :class:`otwire.errors.DecodeError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, cast

from otwire.errors import DecodeError, InvalidState

__all__ = ["MAX_DATA", "MAX_LINE", "SSEEvent", "SSEParser"]

#: Default longest line (octets, line end excluded).
MAX_LINE = 1 << 20
#: Default longest event data (characters, all ``data`` lines joined).
MAX_DATA = 4 << 20

_BOM = b"\xef\xbb\xbf"
_EOL = re.compile(rb"\r\n|\r|\n")
_LONG_LINE = 256  # octets: a first line this long makes _split_lf find line ends one by one


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event."""

    data: str
    """The ``data`` lines joined with ``"\\n"`` (``""`` only for a lone empty ``data`` line)."""
    event: str = "message"
    """The ``event`` field, ``"message"`` when absent or empty."""
    last_event_id: str = ""
    """The last ``id`` seen on the stream so far (it persists across events)."""


def _event_maker() -> Callable[[str, str, str], SSEEvent]:
    """``SSEEvent(data, event, last_event_id)`` without the frozen ``__init__``'s ``object.__setattr__`` calls.

    The same object (class, slots, equality, hash, immutability) in about half the time;
    the fast path builds one per event.
    """
    new = object.__new__
    set_data, set_event, set_id = (vars(SSEEvent)[name].__set__ for name in ("data", "event", "last_event_id"))

    def make(data: str, event: str, last_event_id: str) -> SSEEvent:
        obj: SSEEvent = new(SSEEvent)
        set_data(obj, data)
        set_event(obj, event)
        set_id(obj, last_event_id)
        return obj

    return make


_new_event = _event_maker()


def _split_lf(text: bytes | bytearray, last: int) -> tuple[list[bytes | bytearray], bytes | bytearray]:
    """``text`` cut at each LF up to ``last`` (its last LF): the lines, and what follows ``last``.

    ``bytes.split`` looks at every octet in turn; ``bytes.find`` skips to the next LF
    (memchr) far faster. Long lines (the usual ``data: [...]`` of many updates) take a
    ``find`` per line; short ones one ``split``, cheaper than a Python step per line.
    Long lines of a ``bytearray`` are cut from it as they are (no copy of the whole first).
    """
    lines: list[bytes | bytearray]
    if 0 <= text.find(b"\n", 0, _LONG_LINE) < last:
        lines = cast("list[bytes | bytearray]", bytes(text).split(b"\n"))  # bytes pieces: cheaper to read
        return lines, lines.pop()
    lines = []
    find = text.find
    pos = 0
    while pos <= last:
        end = find(b"\n", pos)
        lines.append(text[pos:end])
        pos = end + 1
    return lines, text[pos:]


class SSEParser:
    """Incremental event-stream parser (notes §5).

    Args:
        max_line: Longest line accepted (octets, line end excluded).
        max_data: Longest event data accepted (characters).

    Attributes:
        retry: The last valid ``retry`` value (milliseconds), or ``None``.
        last_event_id: The last ``id`` value without NUL (``""`` until one arrives).
        comments: How many comment lines were seen (liveness: keepalives are comments).
    """

    def __init__(self, *, max_line: int = MAX_LINE, max_data: int = MAX_DATA) -> None:
        self.max_line = max_line
        self.max_data = max_data
        self.retry: int | None = None
        self.last_event_id = ""
        self.comments = 0
        self._buffer = bytearray()
        self._offset = 0  # stream offset of _buffer[0]
        self._at_start = True
        self._skip_lf = False
        self._closed = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""

    def feed(self, data: bytes | bytearray | memoryview) -> list[SSEEvent]:
        """Take more octets of the stream; return the events they complete, in order.

        Raises:
            DecodeError: a line or an event's data exceeds the limit (the message gives
                the stream offset of the line; ``data`` holds its first 64 octets). The
                parser is closed then: the rest of the stream cannot be trusted.
            InvalidState: the parser was closed.
        """
        if self._closed:
            raise InvalidState("SSEParser.feed after close")
        buffer = self._buffer
        if (
            not buffer
            and not (self._at_start or self._skip_lf)
            and isinstance(data, bytes | bytearray)
            and 0x0D not in data
        ):
            events = self._lf_lines(data)  # nothing pending: cut the octets where they are, no copy
            if events is not None:
                return events
        buffer += data
        if self._skip_lf and buffer:
            self._skip_lf = False
            if buffer[0] == 0x0A:
                del buffer[:1]
                self._offset += 1
        if self._at_start and not self._strip_bom():
            return []
        return self._lines()

    def close(self) -> list[SSEEvent]:
        """End of stream: an unfinished event (no blank line yet) is discarded.

        Returns:
            Always an empty list (the signature matches :meth:`feed`).
        """
        self._closed = True
        self._buffer.clear()
        self._reset_event()
        return []

    def _strip_bom(self) -> bool:
        """False while the buffer is still a proper prefix of the BOM."""
        buffer = self._buffer
        if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
            return False
        self._at_start = False
        if buffer.startswith(_BOM):
            del buffer[:3]
            self._offset += 3
        return True

    def _lines(self) -> list[SSEEvent]:
        if 0x0D not in self._buffer:
            fast = self._lf_lines()
            if fast is not None:
                return fast
        return self._any_lines()

    def _lf_lines(self, source: bytes | bytearray | None = None) -> list[SSEEvent] | None:
        """The fast path for octets without CR: split on LF, read ``data`` lines as octets.

        ``source`` is the fed octets when nothing was pending (they are cut where they are
        and only the unfinished last line is kept), else ``None``: the buffer.
        Gives the same events and state as :meth:`_any_lines`; ``None`` (nothing done)
        when a complete line exceeds ``max_line``, so the general path reports it.
        """
        buffer = self._buffer
        text = buffer if source is None else source
        last = text.rfind(b"\n")
        if last < 0:
            if source is not None:
                buffer += source
            self._check_rest()
            return []
        lines, rest = _split_lf(text, last)
        if max(map(len, lines)) > self.max_line:
            return None
        events: list[SSEEvent] = []
        data, size = self._data, self._data_size
        for index, raw in enumerate(lines):
            if not raw:
                if data:
                    events.append(_new_event("\n".join(data), self._event or "message", self.last_event_id))
                    data = self._data = []
                    size = 0
                self._event = ""
            elif raw[:5] == b"data:" or raw == b"data":
                start = 6 if raw[5:6] == b" " else 5
                if len(raw) > _LONG_LINE:  # decoded from a view: no copy of the line first
                    value = str(memoryview(raw)[start:], "utf-8", "replace")
                else:
                    value = raw[start:].decode("utf-8", "replace")
                size += len(value) + 1
                if size > self.max_data:
                    self._data_overflow(raw, self._offset + sum(len(line) + 1 for line in lines[:index]))
                data.append(value)
            else:
                self._line(raw, -1, events)  # never a data line: the offset is not used
        self._data_size = size
        if source is None:
            del buffer[: last + 1]
        else:
            buffer += rest
        self._offset += last + 1
        self._check_rest()
        return events

    def _any_lines(self) -> list[SSEEvent]:
        buffer = self._buffer
        events: list[SSEEvent] = []
        pos = 0
        end = len(buffer)
        for match in _EOL.finditer(buffer):
            start = match.start()
            if start - pos > self.max_line:
                break
            self._line(bytes(buffer[pos:start]), self._offset + pos, events)
            pos = match.end()
            if pos == end and pos - start == 1 and buffer[start] == 0x0D:  # a lone CR ends the buffer
                self._skip_lf = True
        del buffer[:pos]
        self._offset += pos
        self._check_rest()
        return events

    def _check_rest(self) -> None:
        """Raise (and close) when the unfinished line left in the buffer exceeds ``max_line``."""
        buffer = self._buffer
        if len(buffer) > self.max_line:
            self._closed = True
            raise DecodeError(
                f"SSE line at stream offset {self._offset} longer than {self.max_line} octets", data=bytes(buffer[:64])
            )

    def _data_overflow(self, raw: bytes | bytearray, offset: int) -> NoReturn:
        self._closed = True
        raise DecodeError(
            f"SSE event data longer than {self.max_data} characters (line at stream offset {offset})",
            data=bytes(raw[:64]),
        )

    def _line(self, raw: bytes | bytearray, offset: int, events: list[SSEEvent]) -> None:
        if not raw:
            self._dispatch(events)
            return
        line = raw.decode("utf-8", "replace")
        if line[0] == ":":
            self.comments += 1
            return
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data_size += len(value) + 1
            if self._data_size > self.max_data:
                self._data_overflow(raw, offset)
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent("\n".join(self._data), self._event or "message", self.last_event_id))
        self._reset_event()

    def _reset_event(self) -> None:
        self._data = []
        self._data_size = 0
        self._event = ""
