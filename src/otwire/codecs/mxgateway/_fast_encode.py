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
import struct
from typing import Any

from .generated.mxaccess_gateway import v1 as pb

__all__ = ["CACHE_LIMIT", "EventEncoder"]

#: Entries the part cache holds before it is emptied (values, timestamps, statuses).
CACHE_LIMIT = 4096

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_DOUBLE = struct.Struct("<d")
#: The ``MxValue`` oneof arms :func:`_value` leaves to betterproto2 (``float_value``: binary32 range checks).
_OTHER_ARMS = (
    "float_value",
    "timestamp_value",
    "duration_value",
    "array_value",
    "sparse_array_value",
    "bytes_value",
)


#: The one-octet varints (0..127), made once.
_SMALL = [bytes((octet,)) for octet in range(0x80)]


def _varint(value: int) -> bytes:
    """A protobuf base-128 varint (negative values as their 64-bit two's complement)."""
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


#: The keys (field number and wire type) of fields 1..31: varint (wire type 0) and length-delimited (2).
_VARINT_KEYS = [_varint(number << 3) for number in range(32)]
_BYTES_KEYS = [_varint(number << 3 | 2) for number in range(32)]


def _varint_field(number: int, value: int) -> bytes:
    return _VARINT_KEYS[number] + _varint(value) if value else b""


def _bytes_field(number: int, data: bytes) -> bytes:
    return _BYTES_KEYS[number] + _varint(len(data)) + data


def _timestamp(moment: datetime.datetime) -> bytes:
    """A ``google.protobuf.Timestamp`` (``seconds`` = 1, ``nanos`` = 2) of an aware datetime."""
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return _varint_field(1, seconds) + _varint_field(2, delta.microseconds * 1000)


def _value(value: pb.MxValue) -> bytes | None:
    """The body of an ``MxValue`` with a bool, int32, int64, double or string arm (or none), else ``None``.

    A oneof arm that is set is written even when it holds its type's default, as betterproto2 does.
    """
    scalars = (value.bool_value, value.int32_value, value.int64_value, value.double_value, value.string_value)
    if sum(arm is not None for arm in scalars) > 1 or any(getattr(value, name) is not None for name in _OTHER_ARMS):
        return None
    head = (
        _varint_field(1, int(value.data_type))
        + _varint_field(2, int(value.variant_type))
        + _varint_field(3, int(value.is_null))
        + _varint_field(4, value.raw_data_type)
        + (_bytes_field(5, value.raw_diagnostic.encode()) if value.raw_diagnostic else b"")
    )
    if value.double_value is not None:
        return head + b"\x71" + _DOUBLE.pack(value.double_value)
    if value.string_value is not None:
        return head + _bytes_field(15, value.string_value.encode())
    for number, arm in ((10, value.bool_value), (11, value.int32_value), (12, value.int64_value)):
        if arm is not None:
            return head + _varint(number << 3) + _varint(int(arm))
    return head


def _status(status: pb.MxStatusProxy) -> bytes:
    """The body of an ``MxStatusProxy`` (scalar fields only)."""
    return (
        _varint_field(1, status.success)
        + _varint_field(2, int(status.category))
        + _varint_field(3, int(status.detected_by))
        + _varint_field(4, status.detail)
        + _varint_field(5, status.raw_category)
        + _varint_field(6, status.raw_detected_by)
        + (_bytes_field(7, status.diagnostic_text.encode()) if status.diagnostic_text else b"")
    )


def _body(message: Any) -> bytes:
    """The wire body of a part: timestamps, scalar values and statuses here, anything else by betterproto2."""
    if isinstance(message, datetime.datetime):
        return _timestamp(message)
    if type(message) is pb.MxStatusProxy:
        return _status(message)
    if type(message) is pb.MxValue:
        body = _value(message)
        if body is not None:
            return body
    return bytes(message)


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
        encoded = _bytes_field(number, _body(message))
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
