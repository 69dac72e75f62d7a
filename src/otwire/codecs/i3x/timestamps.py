"""RFC 3339 timestamps of i3X (specs/i3x/notes.md §4).

The wire form is UTC with a ``Z`` suffix and an optional fraction of any length.
Reading is lenient (``z``/``t``/space, numeric offsets converted to UTC, fraction
digits beyond 6 truncated); writing is strict (``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``).
"""

from __future__ import annotations

import datetime as _dt
import re

from otwire.errors import DecodeError

__all__ = ["format_timestamp", "parse_timestamp"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z",
    re.ASCII,
)


def parse_timestamp(text: str) -> _dt.datetime:
    """Parse an RFC 3339 timestamp into an aware ``datetime`` in UTC.

    Args:
        text: e.g. ``"2025-01-08T10:30:00.123456789Z"`` or ``"2025-01-08T12:30:00+02:00"``.

    Returns:
        The instant in UTC, microsecond precision (extra fraction digits truncated).

    Raises:
        DecodeError: ``text`` is not RFC 3339 or names an impossible date or time
            (``offset`` is 0, ``data`` the UTF-8 text).
    """
    match = _RFC3339.match(text)
    if match is None:
        raise DecodeError(f"timestamp {text!r} is not RFC 3339", data=text.encode("utf-8", "replace"))
    year, month, day, hour, minute, second = (int(match.group(k)) for k in range(1, 7))
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    offset = _dt.timedelta(0)
    if match.group(9):
        sign = -1 if match.group(9) == "-" else 1
        offset = sign * _dt.timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
    try:
        when = _dt.datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=_dt.timezone(offset))
    except ValueError as exc:
        raise DecodeError(f"timestamp {text!r}: {exc}", data=text.encode("utf-8", "replace")) from None
    return when.astimezone(_dt.UTC)


def format_timestamp(when: _dt.datetime) -> str:
    """Format ``when`` the strict i3X way: UTC, ``Z`` suffix, microseconds only when non-zero.

    Args:
        when: An aware ``datetime`` (converted to UTC) or a naive one (taken as UTC).

    Returns:
        e.g. ``"2025-01-08T10:30:00Z"`` or ``"2025-01-08T10:30:00.123000Z"``.
    """
    if when.tzinfo is not None:
        when = when.astimezone(_dt.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}"
    return text + "Z"
