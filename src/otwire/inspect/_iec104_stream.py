"""The IEC 104 stream dissectors: octets of each direction -> findings (APDUs, errors, junk).

Re-exported by :mod:`otwire.inspect.iec104`, whose names the registry gives.
"""

from __future__ import annotations

from collections.abc import Iterable

from otwire.codecs.iec104 import APDUFramer, Junk, LengthError, RawAPDU, decode_apdu
from otwire.codecs.iec104.apci import MAX_LENGTH, MIN_LENGTH, START
from otwire.codecs.iec104.framing import FramerItem
from otwire.errors import DecodeError
from otwire.inspect._iec104_lazy import FRAME_SIZES, DecodedOnDemand, decodes
from otwire.inspect.model import Finding, PerSender

__all__ = ["IEC104Dissector", "IEC104StreamDissector"]


class IEC104StreamDissector:
    """Dissect one direction of one IEC 104 stream; sans-IO, bounded memory."""

    def __init__(self) -> None:
        self._framer = APDUFramer()
        self._empty = True  # the framer holds no octets (known here without asking it per segment)

    def feed(self, data: bytes) -> list[Finding]:
        """Consume stream octets and return what became complete.

        With nothing buffered, the leading whole APDUs of ``data`` are cut here, each
        straight into its finding (what the framer's items would give, proven equal by
        ``tests/inspect/test_iec104_feed.py``); the rest goes through the framer.
        """
        framer = self._framer
        if not self._empty or type(data) is not bytes or not data:
            found = _findings(framer.feed(data))
            self._empty = not framer.buffered
            return found
        out: list[Finding] = []
        pos, end, offset = 0, len(data), framer.offset
        while pos < end - 1 and data[pos] == START:
            size = data[pos + 1] + 2
            if size < MIN_LENGTH + 2 or size > MAX_LENGTH + 2 or pos + size > end:
                break
            frame = data[pos : pos + size]
            # decodes(frame), inline: an I-frame of a fixed-size layout whose length its VSQ gives
            if size >= 12 and not (frame[2] | frame[4]) & 1 and FRAME_SIZES[frame[6] << 8 | frame[7]] == size:
                out.append(DecodedOnDemand("apdu", offset + pos, frame))
            else:
                out.append(_apdu(frame, offset + pos))
            pos += size
        if pos:
            framer.skip(pos)
        if pos < end:
            out += _findings(framer.feed(data[pos:] if pos else data))
            self._empty = not framer.buffered
        return out

    def close(self) -> list[Finding]:
        """End of stream: report what is left over."""
        self._framer.close()
        found = _findings(self._framer)
        self._empty = not self._framer.buffered
        return found


def _findings(items: Iterable[FramerItem]) -> list[Finding]:
    """The findings of framer items: APDUs decoded (or decode errors), junk, length errors."""
    out: list[Finding] = []
    for item in items:
        if type(item) is RawAPDU:
            data = item.data
            out.append(DecodedOnDemand("apdu", item.offset, data) if decodes(data) else _apdu(data, item.offset))
        elif isinstance(item, Junk):
            out.append(Finding("junk", item.offset, item.data, error=f"{len(item.data)} junk octets before 0x68"))
        elif isinstance(item, LengthError):
            error = f"APDU length {item.length} outside 4..253"
            out.append(Finding("error", item.offset, item.data, error=error, error_offset=1))
    return out


def _apdu(data: bytes, offset: int) -> Finding:
    """The finding of a framed APDU that :func:`decodes` does not vouch for: decoded now, or a decode error."""
    try:
        return Finding("apdu", offset, data, decode_apdu(data))
    except DecodeError as exc:
        return Finding("error", offset, data, error=str(exc), error_offset=exc.offset)


class IEC104Dissector(PerSender):
    """Dissect both directions of an IEC 104 conversation, each on its own."""

    stream = IEC104StreamDissector
