"""``MxCommand`` builders for every ``Session`` method (no I/O; notes §client "Session API").

Bulk entries are tuples, as the ``mxgateway`` API takes them:

=======================  ==================================================================
method                   entry
=======================  ==================================================================
``write_bulk``           ``(item_handle, value)`` or ``(item_handle, value, user_id)``
``write2_bulk``          ``(item_handle, value, timestamp)`` or ``(..., timestamp, user_id)``
``write_secured_bulk``   ``(item_handle, value, current_user_id, verifier_user_id)``
``write_secured2_bulk``  ``(item_handle, value, timestamp, current_user_id, verifier_user_id)``
=======================  ==================================================================

Values go through :func:`otwire.codecs.mxgateway.to_mx_value`; timestamps must be aware
``datetime``\\ s (sent as ``VT_DATE`` values).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from otwire.codecs.mxgateway import pb, to_mx_value
from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = [
    "command",
    "item_command",
    "write2_bulk",
    "write_bulk",
    "write_secured2_bulk",
    "write_secured_bulk",
]

K = pb.MxCommandKind


def handle(value: object, what: str) -> int:
    """Check a handle or user id: an ``int`` (not ``bool``) in int32 range.

    Raises:
        InvalidArgumentType: not an ``int``.
        InvalidArgument: outside int32.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgumentType(f"{what} must be an int, not {type(value).__name__}")
    if not -(2**31) <= value < 2**31:
        raise InvalidArgument(f"{what} {value} is outside int32")
    return value


def timestamp(value: object) -> pb.MxValue:
    """A write timestamp as a ``VT_DATE`` ``MxValue``.

    Raises:
        InvalidArgumentType: not a ``datetime``.
        InvalidArgument: a naive ``datetime``.
    """
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentType(f"timestamp must be a datetime, not {type(value).__name__}")
    return to_mx_value(value)


def command(kind: pb.MxCommandKind, arm: str, payload: object) -> pb.MxCommand:
    """An ``MxCommand`` of ``kind`` with ``payload`` in its ``arm`` of the ``payload`` oneof."""
    message = pb.MxCommand(kind=kind)
    setattr(message, arm, payload)
    return message


def item_command(kind: pb.MxCommandKind, arm: str, server_handle: int, item_handle: int) -> pb.MxCommand:
    """A command whose payload is ``ItemHandleCommand`` (RemoveItem, Advise, UnAdvise, ...)."""
    payload = pb.ItemHandleCommand(
        server_handle=handle(server_handle, "server_handle"), item_handle=handle(item_handle, "item_handle")
    )
    return command(kind, arm, payload)


def strings(values: Iterable[str], what: str) -> list[str]:
    """A list of strings (tag addresses), checked.

    Raises:
        InvalidArgumentType: ``values`` is a single ``str`` or holds a non-``str``.
    """
    if isinstance(values, str):
        raise InvalidArgumentType(f"{what} must be a list of str, not one str")
    out = list(values)
    for value in out:
        if not isinstance(value, str):
            raise InvalidArgumentType(f"{what} must hold str, not {type(value).__name__}")
    return out


def handles(values: Iterable[int], what: str) -> list[int]:
    """A list of handles, each checked by :func:`handle`."""
    return [handle(value, what) for value in values]


def _entry(entry: object, sizes: Sequence[int], what: str) -> tuple[Any, ...]:
    if not isinstance(entry, tuple | list) or len(entry) not in sizes:
        raise InvalidArgument(f"{what} entries must be tuples of {' or '.join(map(str, sizes))} items, got {entry!r}")
    return tuple(entry)


def write_bulk(server_handle: int, entries: Iterable[Sequence[Any]], user_id: int = 0) -> pb.MxCommand:
    """``WRITE_BULK`` from ``(item_handle, value[, user_id])`` tuples."""
    out = []
    for entry in entries:
        item, value, *rest = _entry(entry, (2, 3), "write_bulk")
        user = handle(rest[0] if rest else user_id, "user_id")
        out.append(pb.WriteBulkEntry(item_handle=handle(item, "item_handle"), value=to_mx_value(value), user_id=user))
    command = pb.WriteBulkCommand(server_handle=handle(server_handle, "server_handle"), entries=out)
    return pb.MxCommand(kind=K.WRITE_BULK, write_bulk=command)


def write2_bulk(server_handle: int, entries: Iterable[Sequence[Any]], user_id: int = 0) -> pb.MxCommand:
    """``WRITE2_BULK`` from ``(item_handle, value, timestamp[, user_id])`` tuples."""
    out = []
    for entry in entries:
        item, value, when, *rest = _entry(entry, (3, 4), "write2_bulk")
        out.append(
            pb.Write2BulkEntry(
                item_handle=handle(item, "item_handle"),
                value=to_mx_value(value),
                timestamp_value=timestamp(when),
                user_id=handle(rest[0] if rest else user_id, "user_id"),
            )
        )
    command = pb.Write2BulkCommand(server_handle=handle(server_handle, "server_handle"), entries=out)
    return pb.MxCommand(kind=K.WRITE2_BULK, write2_bulk=command)


def write_secured_bulk(server_handle: int, entries: Iterable[Sequence[Any]]) -> pb.MxCommand:
    """``WRITE_SECURED_BULK`` from ``(item_handle, value, current_user_id, verifier_user_id)`` tuples."""
    out = []
    for entry in entries:
        item, value, current, verifier = _entry(entry, (4,), "write_secured_bulk")
        out.append(
            pb.WriteSecuredBulkEntry(
                item_handle=handle(item, "item_handle"),
                value=to_mx_value(value),
                current_user_id=handle(current, "current_user_id"),
                verifier_user_id=handle(verifier, "verifier_user_id"),
            )
        )
    command = pb.WriteSecuredBulkCommand(server_handle=handle(server_handle, "server_handle"), entries=out)
    return pb.MxCommand(kind=K.WRITE_SECURED_BULK, write_secured_bulk=command)


def write_secured2_bulk(server_handle: int, entries: Iterable[Sequence[Any]]) -> pb.MxCommand:
    """``WRITE_SECURED2_BULK`` from ``(item_handle, value, timestamp, current_user_id, verifier_user_id)``."""
    out = []
    for entry in entries:
        item, value, when, current, verifier = _entry(entry, (5,), "write_secured2_bulk")
        out.append(
            pb.WriteSecured2BulkEntry(
                item_handle=handle(item, "item_handle"),
                value=to_mx_value(value),
                timestamp_value=timestamp(when),
                current_user_id=handle(current, "current_user_id"),
                verifier_user_id=handle(verifier, "verifier_user_id"),
            )
        )
    command = pb.WriteSecured2BulkCommand(server_handle=handle(server_handle, "server_handle"), entries=out)
    return pb.MxCommand(kind=K.WRITE_SECURED2_BULK, write_secured2_bulk=command)
