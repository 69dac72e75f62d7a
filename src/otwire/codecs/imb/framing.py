"""IMB3 frames and IMBFramer, which cuts a byte stream into frames (``specs/imb/notes.md`` §2, §11).

Frame layout (octets, little-endian)::

    0   magic           2F 47 61 71 95 AD C5 FB
    8   command_code    int32 (negative in IMB3; CommandCode or any other int32)
    12  payload_length  int32, 0..10 MiB (10485760 included)
    16  payload         payload_length octets          } only when
    16+n trailer        67 34 F1 10                     } payload_length > 0

There is no checksum; the trailer is a constant. An empty payload means a
16-octet frame with no trailer.

``IMBFramer`` is sans-IO: feed octets with :meth:`IMBFramer.receive_data`, pull
items with :meth:`IMBFramer.next_item` until it returns ``None`` ("need more").
The items do not depend on how the stream was split:

* a complete frame is a :class:`FrameItem`; it is cut by its length, so a
  payload that contains the trailer (or magic) octets is carried intact;
* octets that do not start with the magic are :class:`Junk`, reported when
  the next magic arrives, in pieces of at most ``JUNK_CHUNK`` octets, or at close;
* a magic followed by a negative or oversize length, a wrong trailer, or a frame
  cut short by the end of the stream is a :class:`FrameError`. Only its 8 magic
  octets are consumed, then the scan for the next magic goes on, so no later
  frame is lost, even one that starts inside the bad header or payload.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

from otwire.codecs import _base
from otwire.codecs._base import enum_or_int, fast_constructor
from otwire.codecs.imb.primitives import Buffer, check_int32
from otwire.codecs.imb.types import (
    END_PAYLOAD_MAGIC_BYTES,
    HEADER_SIZE,
    MAGIC_BYTES,
    MAX_PAYLOAD_SIZE,
    TRAILER_SIZE,
    CommandCode,
)
from otwire.errors import DecodeError, EncodeError

#: Largest junk run held before it is reported (octets).
JUNK_CHUNK = 4096
_MAGIC_SIZE = len(MAGIC_BYTES)
_HEADER = struct.Struct("<ii")  # command_code, payload_length at offset 8
_LENGTH = struct.Struct("<i")


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One frame: a command code and its payload (notes §2).

    Raises:
        EncodeError: ``command_code`` is not an int32, or ``payload`` is not
            ``bytes`` or longer than 10 MiB.
    """

    command_code: CommandCode | int
    """The command code (``CommandCode`` member when known)."""
    payload: bytes = b""
    """The payload, without header and trailer."""

    def __post_init__(self) -> None:
        check_int32("command_code", self.command_code)
        if not isinstance(self.payload, bytes):
            raise EncodeError(f"payload must be bytes, got {type(self.payload).__name__}")
        if len(self.payload) > MAX_PAYLOAD_SIZE:
            raise EncodeError(f"payload of {len(self.payload)} octets exceeds {MAX_PAYLOAD_SIZE}")
        object.__setattr__(self, "command_code", enum_or_int(CommandCode, self.command_code))


_make_frame = fast_constructor(Frame)


@cache
def _schemas() -> ModuleType:
    """The construct schemas of record (:mod:`otwire.codecs.imb._schema`), imported with construct on first use."""
    from otwire.codecs.imb import _schema

    return _schema


def encode_frame(command_code: int, payload: Buffer = b"") -> bytes:
    """Encode one frame: header, then payload and trailer when the payload is not empty.

    Raises:
        EncodeError: ``command_code`` is not an int32 or the payload exceeds 10 MiB.
    """
    frame = Frame(command_code=command_code, payload=bytes(payload))
    n = len(frame.payload)
    return bytes(
        _schemas().FRAME.build({"command_code": frame.command_code, "payload_length": n, "payload": frame.payload})
    )


def decode_frame(frame: Buffer) -> Frame:
    """Decode exactly one complete frame, from the magic to the trailer.

    Args:
        frame: One frame (use :class:`IMBFramer` to cut a stream).

    Returns:
        The command code and payload.

    Raises:
        DecodeError: wrong magic, fewer than 16 octets, a negative or oversize
            length, a truncated payload, a wrong trailer, or octets after the
            frame; the offset points at the fault.
    """
    data = bytes(frame)
    n = len(data)
    if n >= HEADER_SIZE and data[:_MAGIC_SIZE] == MAGIC_BYTES:
        code, length = _HEADER.unpack_from(data, _MAGIC_SIZE)
        if (n == HEADER_SIZE and length == 0) or (
            0 < length <= MAX_PAYLOAD_SIZE
            and n == length + HEADER_SIZE + TRAILER_SIZE
            and data.endswith(END_PAYLOAD_MAGIC_BYTES)
        ):
            return _make_frame(enum_or_int(CommandCode, code), data[HEADER_SIZE : HEADER_SIZE + length])
    raise _frame_error(data)


def _frame_error(data: bytes) -> DecodeError:
    """Return the ``DecodeError`` explaining why ``data`` is not exactly one frame."""
    n = len(data)
    head = data[:_MAGIC_SIZE]
    if head != MAGIC_BYTES[: len(head)]:
        at = next(i for i, (a, b) in enumerate(zip(head, MAGIC_BYTES, strict=False)) if a != b)
        return DecodeError("frame must start with the magic 2f 47 61 71 95 ad c5 fb", data=data, offset=at)
    if n < HEADER_SIZE:
        return DecodeError(f"frame header truncated: 16 octets needed, {n} present", data=data, offset=n)
    code, length = _HEADER.unpack_from(data, _MAGIC_SIZE)
    if length < 0:
        return DecodeError(f"negative payload length {length} (command {code})", data=data, offset=12)
    if length > MAX_PAYLOAD_SIZE:
        return DecodeError(f"payload length {length} exceeds {MAX_PAYLOAD_SIZE} (command {code})", data=data, offset=12)
    size = HEADER_SIZE + length + (TRAILER_SIZE if length else 0)
    if n < size:
        return DecodeError(
            f"frame truncated: payload length {length} needs {size} octets, {n} present", data=data, offset=n
        )
    trailer = data[size - TRAILER_SIZE : size]
    if length and trailer != END_PAYLOAD_MAGIC_BYTES:
        return DecodeError(
            f"wrong trailer {trailer.hex(' ')}, expected 67 34 f1 10", data=data, offset=size - TRAILER_SIZE
        )
    if n > size:
        return DecodeError(f"{n - size} octets after the frame", data=data, offset=size)
    return DecodeError("not one IMB frame", data=data, offset=0)  # unreachable unless a decoder disagrees


def decode_frame_schema(frame: Buffer) -> Frame:
    """Decode one frame with the construct schema of record (slow; for tests and fuzzing).

    Raises:
        DecodeError: as :func:`decode_frame`.
    """
    data = bytes(frame)
    try:
        tree = _schemas().FRAME.parse(data)
    except _base.SCHEMA_ERRORS as exc:
        raise _frame_error(data) from exc
    length = tree.payload_length
    payload = tree.payload or b""
    if not 0 <= length <= MAX_PAYLOAD_SIZE or len(payload) != length or tree.end != len(data):
        raise _frame_error(data)
    return Frame(command_code=tree.command_code, payload=payload)


# --- IMBFramer -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrameItem:
    """One complete, well-formed frame."""

    frame: Frame
    """The decoded command code and payload."""
    data: bytes
    """The frame octets, magic to trailer."""
    offset: int
    """Stream offset of the magic."""


@dataclass(frozen=True, slots=True)
class Junk:
    """Octets that do not start a frame (skipped)."""

    data: bytes
    """The skipped octets."""
    offset: int
    """Stream offset of the first skipped octet."""


@dataclass(frozen=True, slots=True)
class FrameError:
    """A magic whose header or trailer breaks the framing; its 8 magic octets are skipped."""

    reason: str
    """What is wrong, e.g. ``"negative payload length -1 (command -15)"``."""
    data: bytes
    """The skipped octets: the 8 magic octets."""
    offset: int
    """Stream offset of the magic."""
    error: DecodeError = field(compare=False, repr=False)
    """The same fault as an exception: its ``data`` is the header (or the whole frame
    for a wrong trailer) and its ``offset`` points at the bad field."""


FramerItem = FrameItem | Junk | FrameError


class IMBFramer:
    """Split a byte stream into frames, junk runs and framing errors (notes §2, §11).

    Memory is bounded: between calls at most one frame in progress (16 + 10 MiB
    + 4 octets) or ``JUNK_CHUNK`` + 7 junk octets stay buffered, plus whatever
    was fed and not pulled.

    Args:
        max_payload_size: Largest payload accepted (octets, at most 10 MiB);
            a longer announced length is a ``FrameError``.
    """

    def __init__(self, *, max_payload_size: int = MAX_PAYLOAD_SIZE) -> None:
        if not 0 <= max_payload_size <= MAX_PAYLOAD_SIZE:
            raise EncodeError(f"max_payload_size={max_payload_size} not in 0..{MAX_PAYLOAD_SIZE}")
        self._max = max_payload_size
        self._buffer = bytearray()
        self._offset = 0  # stream offset of _buffer[0]
        self._closed = False

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned in an item."""
        return len(self._buffer)

    def receive_data(self, data: Buffer) -> None:
        """Append stream octets; ``b""`` means end of stream (same as :meth:`close`)."""
        if not data:
            self._closed = True
        self._buffer += data

    def receive_frames(self, data: bytes) -> list[tuple[bytes, int, int, int]]:
        """Append stream octets, cutting the well-formed frames at their front directly.

        The fast path of :meth:`receive_data` then :meth:`next_item`: with nothing
        buffered, the frames that ``data`` starts with come back as
        ``(frame octets, stream offset, command_code, payload_length)``, exactly the
        ``FrameItem``s :meth:`next_item` would give first (``tests/imb/test_framing.py``
        proves it for any split); the octets after them (or all of ``data`` when
        something was buffered, or it is not ``bytes``) are buffered for :meth:`next_item`.
        """
        if self._buffer or type(data) is not bytes or not data:
            self.receive_data(data)
            return []
        frames: list[tuple[bytes, int, int, int]] = []
        pos, end, limit, offset = 0, len(data), self._max, self._offset
        while end - pos >= HEADER_SIZE and data.startswith(MAGIC_BYTES, pos):
            code, length = _HEADER.unpack_from(data, pos + _MAGIC_SIZE)
            if not length:
                size = HEADER_SIZE
            elif 0 < length <= limit and pos + (size := length + HEADER_SIZE + TRAILER_SIZE) <= end:
                if not data.startswith(END_PAYLOAD_MAGIC_BYTES, pos + size - TRAILER_SIZE):
                    break
            else:
                break
            frames.append((data[pos : pos + size], offset + pos, code, length))
            pos += size
        self._offset = offset + pos
        if pos < end:
            self._buffer += data[pos:] if pos else data
        return frames

    def close(self) -> None:
        """Mark the end of the stream: what is buffered is reported by :meth:`next_item`."""
        self._closed = True

    def next_item(self) -> FramerItem | None:
        """Return the next frame, junk run or framing error, or ``None`` if more octets are needed."""
        buf = self._buffer
        if not buf:
            return None
        if buf[:_MAGIC_SIZE] != MAGIC_BYTES:
            return self._junk()
        if len(buf) < HEADER_SIZE:
            return self._truncated()
        code, length = _HEADER.unpack_from(buf, _MAGIC_SIZE)
        if length < 0 or length > self._max:
            limit = "negative" if length < 0 else f"exceeds {self._max}:"
            reason = f"payload length {limit} {length} (command {code})"
            return self._error(reason, bytes(buf[:HEADER_SIZE]), 12)
        size = HEADER_SIZE + length + (TRAILER_SIZE if length else 0)
        if len(buf) < size:
            return self._truncated()
        if length and buf[size - TRAILER_SIZE : size] != END_PAYLOAD_MAGIC_BYTES:
            trailer = buf[size - TRAILER_SIZE : size].hex(" ")
            reason = f"wrong trailer {trailer}, expected 67 34 f1 10 (command {code}, length {length})"
            return self._error(reason, bytes(buf[:size]), size - TRAILER_SIZE)
        data = self._take(size)
        frame = _make_frame(enum_or_int(CommandCode, code), data[HEADER_SIZE : HEADER_SIZE + length])
        return FrameItem(frame, data, self._offset - size)

    def next_frame(self) -> Frame | None:
        """Return the next complete frame, skipping junk; ``None`` if more octets are needed.

        Raises:
            DecodeError: a framing fault (bad length, wrong trailer, a frame cut by
                the end of the stream). The framer has already skipped it:
                call again to get the frames after it.
        """
        while (item := self.next_item()) is not None:
            if isinstance(item, FrameItem):
                return item.frame
            if isinstance(item, FrameError):
                raise item.error
        return None

    def __iter__(self) -> Iterator[FramerItem]:
        """Iterate over the items available now."""
        while (item := self.next_item()) is not None:
            yield item

    def _junk(self) -> Junk | None:
        buf = self._buffer
        end = buf.find(MAGIC_BYTES)
        if end < 0:
            # No whole magic: the junk run goes on at least up to a magic that may
            # straddle the end of the buffer (notes §11.3).
            safe = _partial_magic(buf)
            if safe < JUNK_CHUNK and not self._closed:
                return None
            end = len(buf) if self._closed else safe
        data = self._take(min(end, JUNK_CHUNK))
        return Junk(data, self._offset - len(data))

    def _truncated(self) -> FrameError | None:
        """A frame in progress: wait, or at end of stream report its magic."""
        if not self._closed:
            return None
        buf = self._buffer
        reason = f"frame cut short by the end of the stream after {len(buf)} octets"
        return self._error(reason, bytes(buf), len(buf))

    def _error(self, reason: str, examined: bytes, at: int) -> FrameError:
        error = DecodeError(reason, data=examined, offset=at)
        data = self._take(_MAGIC_SIZE)
        return FrameError(reason, data, self._offset - _MAGIC_SIZE, error)

    def _take(self, count: int) -> bytes:
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._offset += count
        return data


def split_frames(buffer: bytearray, max_payload_size: int) -> tuple[list[bytearray], int, DecodeError | None]:
    """Cut the complete frames off the front of ``buffer``: ``(frames, junk octets, framing error)``.

    The fast path of a receiver that owns its buffer (the hub): it gives the same
    frames, junk and first error as :class:`IMBFramer` fed with the same octets
    (``tests/imb/test_framing.py`` proves it for any split). Well-formed frames are
    cut here directly; from the first octet that is not the start of one, the rest
    goes through an :class:`IMBFramer`. What may still become a frame (or junk) stays
    in ``buffer``; after a framing error ``buffer`` is emptied and the frames before
    it are returned.

    Args:
        buffer: Received octets not yet cut (changed in place).
        max_payload_size: Largest payload accepted (octets).

    Returns:
        The frames (magic to trailer, each a new ``bytearray`` the caller may
        patch), the number of junk octets skipped, and the first framing error.
    """
    frames: list[bytearray] = []
    pos, end = 0, len(buffer)
    irregular = False
    while pos < end:
        rest = end - pos
        if rest < HEADER_SIZE:  # a frame header in progress, or junk
            irregular = not (
                MAGIC_BYTES.startswith(buffer[pos:end]) if rest < _MAGIC_SIZE else buffer.startswith(MAGIC_BYTES, pos)
            )
            break
        if not buffer.startswith(MAGIC_BYTES, pos):
            irregular = True
            break
        length = _LENGTH.unpack_from(buffer, pos + 12)[0]
        size = length + HEADER_SIZE + TRAILER_SIZE if length else HEADER_SIZE
        if not 0 <= length <= max_payload_size or (
            length and rest >= size and not buffer.startswith(END_PAYLOAD_MAGIC_BYTES, pos + size - TRAILER_SIZE)
        ):
            irregular = True
            break
        if rest < size:
            break
        frames.append(buffer[pos : pos + size])
        pos += size
    junk, error = 0, None
    if irregular:
        pos, junk, error = _split_irregular(buffer, pos, max_payload_size, frames)
    del buffer[:pos]
    return frames, junk, error


def _split_irregular(
    buffer: bytearray, pos: int, max_payload_size: int, frames: list[bytearray]
) -> tuple[int, int, DecodeError | None]:
    """Run ``buffer[pos:]`` through an :class:`IMBFramer`; return the new position, junk and error."""
    framer = IMBFramer(max_payload_size=max_payload_size)
    framer.receive_data(bytes(buffer[pos:]))
    junk = 0
    for item in framer:
        if type(item) is FrameItem:
            frames.append(bytearray(item.data))
        elif type(item) is Junk:
            junk += len(item.data)
        else:
            return len(buffer), junk, item.error  # type: ignore[union-attr]
    return len(buffer) - framer.buffered, junk, None


def _partial_magic(buf: bytearray) -> int:
    """Index of the longest suffix of ``buf`` that is a proper prefix of the magic, else ``len(buf)``."""
    for start in range(max(0, len(buf) - _MAGIC_SIZE + 1), len(buf)):
        if MAGIC_BYTES.startswith(buf[start:]):
            return start
    return len(buf)
