"""The simulator's fast path for the events it streams: ``MxEvent`` wire bytes from cached parts.

betterproto2 spends tens of microseconds per timestamp and sub-message, which would make
the simulator, not the client under test, the bottleneck of an event stream. Every
``OnDataChange`` of one tick shares its timestamps, and every event of a tag shares its
value object, so :class:`EventEncoder` encodes those sub-messages once (with betterproto2)
and writes the event's own scalar fields itself (protobuf varints and length prefixes, in
field-number order, defaults omitted, exactly as betterproto2 does; the test
``tests/mxgateway/test_server_wire.py`` checks byte equality on generated events). Events
with any field beyond the ``OnDataChange`` shape fall back to ``bytes(event)``.

:class:`Preencoded` carries the bytes through grpclib: the simulator's codec
(:class:`otwire.servers.mxgateway._transport.LimitedCodec`) sends them as they are.
"""

from __future__ import annotations

import datetime
from typing import Any

from otwire.codecs.mxgateway import pb

__all__ = ["EventEncoder", "Preencoded"]

#: Entries each part cache holds before it is emptied (values, timestamps, statuses).
CACHE_LIMIT = 4096


class Preencoded:
    """Message bytes already encoded; grpclib's codec passes them through."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def _varint(value: int) -> bytes:
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


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _timestamp(moment: datetime.datetime) -> bytes:
    """A ``google.protobuf.Timestamp`` (``seconds`` = 1, ``nanos`` = 2) of an aware datetime."""
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return _varint_field(1, seconds) + _varint_field(2, delta.microseconds * 1000)


class EventEncoder:
    """Encodes ``MxEvent``\\ s, reusing the bytes of shared sub-messages (see the module docstring)."""

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

    def encode(self, event: pb.MxEvent) -> Preencoded:
        """The wire bytes of ``event`` (equal to ``bytes(event)``)."""
        change = event.on_data_change
        if change is None or event.hresult is not None or event.raw_status or event.replay_gap is not None:
            return Preencoded(bytes(event))
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
        return Preencoded(b"".join(parts))
