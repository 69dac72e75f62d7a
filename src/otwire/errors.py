"""The one error tree shared by every otwire protocol (ARCHITECTURE.md, "Errors").

::

    OTWireError
    ├── ProtocolError
    │   ├── LocalProtocolError      caller misuse (fix your code)
    │   │   └── EncodeError         a message cannot be encoded
    │   └── RemoteProtocolError     the peer sent something wrong (drop the peer)
    │       └── DecodeError         malformed bytes, with offset and hex excerpt
    └── TransportError
        ├── ConnectTimeout
        └── ConnectionLost
"""

from __future__ import annotations

#: Octets shown on each side of the failing offset in a ``DecodeError`` excerpt.
EXCERPT_RADIUS = 16


class OTWireError(Exception):
    """Base class of every exception otwire raises on purpose."""


class ProtocolError(OTWireError):
    """A protocol rule was broken, locally or by the peer."""


class LocalProtocolError(ProtocolError):
    """The caller misused the API: an invalid message, a verb in the wrong state."""


class EncodeError(LocalProtocolError):
    """A message failed validation before it was encoded (range, length or count)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something that breaks the protocol."""


class DecodeError(RemoteProtocolError):
    """Bytes could not be decoded.

    Attributes:
        offset: Octet offset in ``data`` where decoding failed (0-based).
        data: The whole input that failed to decode (kept for dissectors).
        excerpt: Hex of at most ``2 * EXCERPT_RADIUS`` octets around ``offset``.
        reason: The message without the position and excerpt.
    """

    def __init__(self, reason: str, *, data: bytes | bytearray | memoryview = b"", offset: int = 0):
        self.reason = reason
        self.data = bytes(data)
        self.offset = offset
        self.excerpt = hex_excerpt(self.data, offset)
        super().__init__(f"{reason} at offset {offset}: {self.excerpt}")


class TransportError(OTWireError):
    """The transport below a protocol failed."""


class ConnectTimeout(TransportError):
    """A connection could not be established in time."""


class ConnectionLost(TransportError):
    """An established connection ended unexpectedly."""


def hex_excerpt(data: bytes, offset: int, radius: int = EXCERPT_RADIUS) -> str:
    """Return a bounded hex excerpt of ``data`` around ``offset``.

    At most ``radius`` octets before and after ``offset`` are shown; ``..``
    marks a cut, and ``[xx]`` marks the octet at ``offset`` (or ``[]`` when
    ``offset`` is at the end of the input).

    Args:
        data: The input octets.
        offset: Position of interest, clamped to ``0..len(data)``.
        radius: Octets shown on each side.

    Returns:
        A string such as ``"68 04 [07] 00 00 00"``.
    """
    offset = max(0, min(offset, len(data)))
    start = max(0, offset - radius)
    stop = min(len(data), offset + radius)
    before = data[start:offset].hex(" ")
    at = f"[{data[offset]:02x}]" if offset < len(data) else "[]"
    after = data[offset + 1 : stop].hex(" ")
    parts = [p for p in (".." if start > 0 else "", before, at, after) if p]
    if stop < len(data):
        parts.append("..")
    return " ".join(parts)
