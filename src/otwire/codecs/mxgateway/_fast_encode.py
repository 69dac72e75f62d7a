"""Fast ``MxEvent`` encoding: wire bytes from cached sub-message parts (``specs/mxgateway/notes.md`` §"Fast path").

betterproto2 0.10 spends tens of microseconds per timestamp and sub-message. Every
``OnDataChange`` of one simulator tick shares its timestamps, and every event of a tag shares
its value object, so :class:`EventEncoder` encodes those sub-messages once (with betterproto2)
and writes the event's own scalar fields itself: protobuf varints and length prefixes, in
field-number order, defaults omitted, exactly as betterproto2 does. Events with any field
beyond the ``OnDataChange`` shape fall back to ``bytes(event)``. The hypothesis test
``tests/mxgateway/test_fast_encode.py`` checks byte equality with betterproto2.
"""

from __future__ import annotations

import datetime
from typing import Any

from .generated.mxaccess_gateway import v1 as pb

__all__ = ["CACHE_LIMIT", "EventEncoder"]

#: Entries the part cache holds before it is emptied (values, timestamps, statuses).
CACHE_LIMIT = 4096

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _varint(value: int) -> bytes:
    """A protobuf base-128 varint (negative values as their 64-bit two's complement)."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def _bytes_field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _timestamp(moment: datetime.datetime) -> bytes:
    """A ``google.protobuf.Timestamp`` (``seconds`` = 1, ``nanos`` = 2) of an aware datetime."""
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return _varint_field(1, seconds) + _varint_field(2, delta.microseconds * 1000)


class EventEncoder:
    """Encodes ``MxEvent``\\ s, reusing the bytes of shared sub-messages (see the module docstring).

    The cache keys on object identity and keeps the object alive with its bytes, so a message
    must not be changed after it was encoded once (the simulator never changes them).
    """

    def __init__(self) -> None:
        self._parts: dict[tuple[int, int], tuple[Any, bytes]] = {}

    def _part(self, message: Any, number: int) -> bytes:
        """Field ``number`` holding ``message`` (a betterproto2 message or a datetime), cached by identity."""
        key = (id(message), number)
        cached = self._parts.get(key)
        if cached is not None and cached[0] is message:
            return cached[1]
        if len(self._parts) >= CACHE_LIMIT:
            self._parts.clear()
        data = _timestamp(message) if isinstance(message, datetime.datetime) else bytes(message)
        encoded = _bytes_field(number, data)
        self._parts[key] = (message, encoded)
        return encoded

    def _optional(self, message: Any, number: int) -> bytes:
        return b"" if message is None else self._part(message, number)

    def encode(self, event: pb.MxEvent) -> bytes:
        """The wire bytes of ``event`` (equal to ``bytes(event)``)."""
        change = event.on_data_change
        if change is None or event.hresult is not None or event.raw_status or event.replay_gap is not None:
            return bytes(event)
        body = _varint_field(1, change.quality) + self._optional(change.source_timestamp, 2)
        parts = [
            _bytes_field(1, event.session_id.encode()) if event.session_id else b"",
            _varint_field(2, event.worker_sequence),
            _varint_field(3, int(event.family)),
            _varint_field(4, event.server_handle),
            _varint_field(5, event.item_handle),
            self._optional(event.value, 6),
            _varint_field(7, event.quality),
            self._optional(event.source_timestamp, 8),
            *(self._part(status, 9) for status in event.statuses),
            self._optional(event.worker_timestamp, 10),
            self._optional(event.gateway_receive_timestamp, 11),
            _bytes_field(20, body),
        ]
        return b"".join(parts)
