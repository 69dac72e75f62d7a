"""APDUFramer: cut an IEC 104 byte stream into APDUs (IEC 60870-5-104 clause 5).

Sans-IO: feed octets with :meth:`APDUFramer.receive_data`, then pull items with
:meth:`APDUFramer.next_item` until it returns ``None`` ("need more").

The result does not depend on how the stream was split:

* every complete APDU is a :class:`Frame` (START 0x68, L in 4..253, L + 2 octets);
* octets before a 0x68 are :class:`Junk`, reported when the next 0x68 arrives,
  in pieces of at most ``JUNK_CHUNK`` octets, or by :meth:`APDUFramer.close`;
* a start octet with L outside 4..253 is a :class:`LengthError`; its 2 + L
  octets are skipped (as Wireshark does) so the next APDU is found again.
"""

from __future__ import annotations

from dataclasses import dataclass

from otwire.codecs.iec104.apci import MAX_LENGTH, MIN_LENGTH, START

#: Largest junk run held before it is reported (octets).
JUNK_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete APDU."""

    data: bytes
    """The APDU octets, start octet included."""
    offset: int
    """Stream offset of the start octet."""


@dataclass(frozen=True, slots=True)
class Junk:
    """Octets that do not start an APDU (skipped)."""

    data: bytes
    """The skipped octets."""
    offset: int
    """Stream offset of the first skipped octet."""


@dataclass(frozen=True, slots=True)
class LengthError:
    """A start octet followed by a length outside 4..253; 2 + length octets skipped."""

    length: int
    """The L octet."""
    data: bytes
    """The skipped octets (start, L, then L octets or fewer at end of stream)."""
    offset: int
    """Stream offset of the start octet."""


FramerItem = Frame | Junk | LengthError


class APDUFramer:
    """Split a byte stream into APDUs, junk runs and length errors.

    Memory is bounded: at most one APDU (255 octets) or ``JUNK_CHUNK`` junk
    octets stay buffered between calls, plus whatever was fed and not pulled.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._offset = 0  # stream offset of _buffer[0]
        self._closed = False

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned."""
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append stream octets; ``b""`` means end of stream (same as :meth:`close`)."""
        if not data:
            self._closed = True
        self._buffer += data

    def close(self) -> None:
        """Mark the end of the stream: what is buffered is reported by :meth:`next_item`."""
        self._closed = True

    def next_item(self) -> FramerItem | None:
        """Return the next frame, junk run or length error, or ``None`` if more octets are needed."""
        buf = self._buffer
        if not buf:
            return None
        if buf[0] != START:
            return self._junk()
        if len(buf) < 2:
            return self._at_end(len(buf))
        length = buf[1]
        if not MIN_LENGTH <= length <= MAX_LENGTH:
            if len(buf) < length + 2 and not self._closed:
                return None
            data = self._take(min(length + 2, len(buf)))
            return LengthError(length, data, self._offset - len(data))
        if len(buf) < length + 2:
            return self._at_end(len(buf))
        data = self._take(length + 2)
        return Frame(data, self._offset - len(data))

    def __iter__(self) -> FramerIterator:
        """Iterate over the items available now."""
        return FramerIterator(self)

    def _junk(self) -> Junk | None:
        end = self._buffer.find(START)
        if end < 0:
            if len(self._buffer) < JUNK_CHUNK and not self._closed:
                return None
            end = min(len(self._buffer), JUNK_CHUNK)
        end = min(end, JUNK_CHUNK)
        data = self._take(end)
        return Junk(data, self._offset - len(data))

    def _at_end(self, count: int) -> Junk | None:
        """A partial APDU: wait, or at end of stream report it as junk."""
        if not self._closed:
            return None
        data = self._take(count)
        return Junk(data, self._offset - len(data))

    def _take(self, count: int) -> bytes:
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._offset += count
        return data


class FramerIterator:
    """Iterator over :meth:`APDUFramer.next_item` until it returns ``None``."""

    def __init__(self, framer: APDUFramer) -> None:
        self._framer = framer

    def __iter__(self) -> FramerIterator:
        """Return self."""
        return self

    def __next__(self) -> FramerItem:
        """Return the next item or stop when more octets are needed."""
        item = self._framer.next_item()
        if item is None:
            raise StopIteration
        return item
