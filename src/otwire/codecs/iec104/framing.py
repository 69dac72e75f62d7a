"""APDUFramer: cut an IEC 104 byte stream into APDUs (IEC 60870-5-104 clause 5).

Sans-IO: feed octets with :meth:`APDUFramer.receive_data`, then pull items with
:meth:`APDUFramer.next_item` until it returns ``None`` ("need more").

The result does not depend on how the stream was split:

* every complete APDU is a :class:`RawAPDU` (START 0x68, L in 4..253, L + 2 octets);
* octets before a 0x68 are :class:`Junk`, reported when the next 0x68 arrives,
  in pieces of at most ``JUNK_CHUNK`` octets, or by :meth:`APDUFramer.close`;
* a start octet with L outside 4..253 is a :class:`LengthError`; its 2 + L
  octets are skipped (as Wireshark does) so the next APDU is found again.

The boundary rule itself is one function, :func:`apdu_size`, shared by the framer
and by the connection engine (which does not resynchronise: for it a bad start
octet or length is a ``DecodeError`` at once, see :func:`apdu_size_error`).
"""

from __future__ import annotations

from dataclasses import dataclass

from otwire.codecs._base import fast_constructor
from otwire.codecs.iec104.apci import MAX_LENGTH, MIN_LENGTH, START
from otwire.errors import DecodeError

#: Largest junk run held before it is reported (octets).
JUNK_CHUNK = 4096

#: :func:`apdu_size` results other than a size.
NEED_MORE = 0
BAD_START = -1
BAD_LENGTH = -2


def apdu_size(buffer: bytes | bytearray, pos: int, end: int) -> int:
    """Classify the octets ``buffer[pos:end]`` (``pos < end``) as the start of an APDU (-104 5).

    Returns:
        The APDU's size in octets (2 + L) when it is complete; ``NEED_MORE`` (0) when
        more octets are needed to tell; ``BAD_START`` when ``buffer[pos]`` is not 0x68;
        ``BAD_LENGTH`` when L is outside 4..253.
    """
    if buffer[pos] != START:
        return BAD_START
    if end - pos < 2:
        return NEED_MORE
    length = buffer[pos + 1]
    if length < MIN_LENGTH or length > MAX_LENGTH:
        return BAD_LENGTH
    return length + 2 if end - pos >= length + 2 else NEED_MORE


def apdu_size_error(buffer: bytes | bytearray, pos: int, status: int) -> DecodeError:
    """The ``DecodeError`` for a ``BAD_START`` or ``BAD_LENGTH`` result of :func:`apdu_size` at ``pos``."""
    if status == BAD_START:
        return DecodeError(f"expected start octet 0x68, got 0x{buffer[pos]:02x}", data=bytes(buffer[pos : pos + 1]))
    length = buffer[pos + 1]
    return DecodeError(
        f"APDU length {length} outside {MIN_LENGTH}..{MAX_LENGTH}", data=bytes(buffer[pos : pos + 2]), offset=1
    )


@dataclass(frozen=True, slots=True)
class RawAPDU:
    """One complete APDU as octets, not decoded (decode it with ``decode_apdu``)."""

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


FramerItem = RawAPDU | Junk | LengthError
_make_raw = fast_constructor(RawAPDU)


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

    @property
    def offset(self) -> int:
        """Stream offset of the first octet not yet returned (of the buffer's first octet)."""
        return self._offset

    def skip(self, count: int) -> None:
        """Account for ``count`` octets the caller cut into whole APDUs itself, with nothing buffered.

        A caller that cuts the leading whole APDUs of its octets in place (as :meth:`feed`
        does) calls this with their total size, then :meth:`feed` with the rest.

        Raises:
            ValueError: Octets are buffered (they come first in the stream).
        """
        if self._buffer:
            raise ValueError("skip() with octets buffered")
        self._offset += count

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append stream octets; ``b""`` means end of stream (same as :meth:`close`)."""
        if not data:
            self._closed = True
        self._buffer += data

    def feed(self, data: bytes) -> list[FramerItem]:
        """Append stream octets and return every item available now.

        The same as :meth:`receive_data` then ``list(self)``; when nothing is buffered the
        leading whole APDUs of ``data`` are cut in place, without the buffer (the common
        case of a segment carrying whole APDUs; a differential test proves it equal).
        """
        if self._buffer or type(data) is not bytes or not data:
            self.receive_data(data)
            return list(FramerIterator(self))
        out: list[FramerItem] = []
        pos, end, offset = 0, len(data), self._offset
        while pos < end - 1 and data[pos] == START:
            size = data[pos + 1] + 2
            if size < MIN_LENGTH + 2 or size > MAX_LENGTH + 2 or pos + size > end:
                break
            out.append(_make_raw(data[pos : pos + size], offset + pos))
            pos += size
        self._offset = offset + pos
        if pos < end:
            self._buffer += data[pos:] if pos else data
            out.extend(FramerIterator(self))
        return out

    def close(self) -> None:
        """Mark the end of the stream: what is buffered is reported by :meth:`next_item`."""
        self._closed = True

    def next_item(self) -> FramerItem | None:
        """Return the next frame, junk run or length error, or ``None`` if more octets are needed."""
        buf = self._buffer
        if not buf:
            return None
        size = apdu_size(buf, 0, len(buf))
        if size > 0:  # the common case, inlined: one APDU
            data = bytes(buf[:size])
            del buf[:size]
            offset = self._offset
            self._offset = offset + size
            return RawAPDU(data, offset)
        if size == BAD_START:
            return self._junk()
        if size == BAD_LENGTH:
            return self._length_error()
        return self._at_end(len(buf))

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

    def _length_error(self) -> LengthError | None:
        """Skip 2 + L octets (fewer at end of stream) after a bad length octet."""
        length = self._buffer[1]
        if len(self._buffer) < length + 2 and not self._closed:
            return None
        data = self._take(min(length + 2, len(self._buffer)))
        return LengthError(length, data, self._offset - len(data))

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
