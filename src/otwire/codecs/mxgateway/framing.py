"""gRPC message framing: the length-prefixed messages inside a stream's HTTP/2 DATA octets.

gRPC over HTTP/2 ("Length-Prefixed-Message" in the gRPC protocol description) sends each
message as a 1-octet compressed flag, a 4-octet big-endian length and the message octets;
HTTP/2 may cut that octet stream into DATA frames anywhere. grpclib reads it message by
message (two buffer reads and a decode per message). :class:`MessageFramer` cuts every complete
message out of whatever octets arrived, so that a client can decode a whole read at once
(``specs/mxgateway/notes.md`` §"Fast path"). Equal to grpclib's reading, message by message,
for every split of the octets: ``tests/mxgateway/test_framing.py``.
"""

from __future__ import annotations

import struct

from otwire.errors import DecodeError

__all__ = ["MAX_MESSAGE_BYTES", "MessageFramer", "frame_message"]

_HEADER = struct.Struct(">BI")
#: Largest message accepted (octets); a longer length prefix is a ``DecodeError``.
MAX_MESSAGE_BYTES = 64 << 20


def frame_message(message: bytes) -> bytes:
    """The octets gRPC sends for ``message`` (uncompressed): flag 0, length, ``message``."""
    return _HEADER.pack(0, len(message)) + message


class MessageFramer:
    """Cuts a gRPC stream's octets into messages; keeps an incomplete message until it is complete.

    Args:
        max_message_bytes: Largest message accepted, in octets.
    """

    __slots__ = ("_pending", "max_message_bytes")

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._pending = b""

    @property
    def pending(self) -> int:
        """Octets held of a message not complete yet (0 between messages)."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[bytes]:
        """The complete messages (their octets, without the 5-octet prefix) that ``data`` ends, in order.

        Raises:
            DecodeError: a compressed message (no compression is negotiated: grpclib refuses it too)
                or a length over ``max_message_bytes``; the framer is unusable afterwards.
        """
        if self._pending:
            data = self._pending + data
        size = len(data)
        messages = []
        pos = 0
        unpack = _HEADER.unpack_from
        while size - pos >= 5:
            flag, length = unpack(data, pos)
            if flag or length > self.max_message_bytes:
                what = "a compressed message" if flag else f"a message of {length} octets"
                raise DecodeError(f"gRPC stream: {what} (flag {flag})", data=data, offset=pos)
            end = pos + 5 + length
            if end > size:
                break
            messages.append(data[pos + 5 : end])
            pos = end
        self._pending = data[pos:] if pos < size else b""
        return messages
