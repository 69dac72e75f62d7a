"""XML Schema lexical spaces used by XEP-0323: parse a wire string, format a typed value.

Every ``parse_*`` takes the exact attribute text and returns the typed value, raising
``ValueError`` with a short reason when the text is not in the lexical space (the
codec turns that into a ``DecodeError`` with the element path). Every ``format_*``
returns the canonical lexical form of a typed value (``specs/xep0323/notes.md`` §3).

* ``xs:boolean``: ``true``/``false``/``1``/``0``.
* ``xs:int``/``xs:long``: optional sign and decimal digits, 32/64-bit two's-complement range.
* ``xs:double``: kept as a :class:`~decimal.Decimal` so that "10.0" stays different from "10"
  (XEP-0323 §5.5: the number of decimals is significant). ``INF``/``-INF``/``NaN`` are accepted.
* ``xs:dateTime``/``xs:time``: :class:`datetime.datetime`/:class:`datetime.time`, naive when the
  wire has no zone (XEP-0323: the zone is then "undefined"). Years outside 1..9999 and ``24:00:00``
  are refused (Python cannot hold them).
* ``xs:date``: :class:`datetime.date`; a zone on a date is allowed and kept only in the lexical form
  (see :func:`date_zone`).
* ``xs:duration``: :class:`XsDuration`, a model with years and months (not a ``timedelta``);
  building one with negative parts raises ``EncodeError``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from otwire.codecs.xep0323._build import builder
from otwire.errors import EncodeError

__all__ = [
    "INT_RANGE",
    "LONG_RANGE",
    "XsDuration",
    "date_zone",
    "format_bool",
    "format_date",
    "format_datetime",
    "format_decimal",
    "format_integer",
    "format_time",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_decimal",
    "parse_int",
    "parse_long",
    "parse_time",
]

#: Inclusive range of ``xs:int`` (32-bit).
INT_RANGE = (-(2**31), 2**31 - 1)
#: Inclusive range of ``xs:long`` (64-bit).
LONG_RANGE = (-(2**63), 2**63 - 1)

_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_INTEGER = re.compile(r"[+-]?+[0-9]++\Z")
_DOUBLE = re.compile(r"[+-]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+\Z")
_SPECIAL_DOUBLES = {"INF": Decimal("Infinity"), "+INF": Decimal("Infinity"), "-INF": Decimal("-Infinity")}
# Possessive quantifiers (``?+``, ``++``) never give back what they matched: in these
# patterns every run is followed by a character it cannot contain (a unit letter, ``.``, the
# end), so backtracking could never succeed and the language and groups are unchanged; the
# engine only skips the useless retries (tests/xep0323/test_codec_fastpaths.py compares).
_ZONE = r"(Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
_DATETIME_RE = re.compile(_DATE + "T" + _TIME + _ZONE + r"\Z")
_DATE_RE = re.compile(_DATE + _ZONE + r"\Z")
_DOUBLE_MATCH = _DOUBLE.match
#: ``YYYY-MM-DDThh:mm:ss`` alone: a pattern without groups, cheaper than ``_DATETIME_RE``.
_PLAIN_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\Z").match
_FROM_ISO = dt.datetime.fromisoformat
_TIME_RE = re.compile(_TIME + _ZONE + r"\Z")
_DURATION_RE = re.compile(
    r"(-)?+P(?:([0-9]++)Y)?+(?:([0-9]++)M)?+(?:([0-9]++)D)?+"
    r"(?:T(?:([0-9]++)H)?+(?:([0-9]++)M)?+(?:([0-9]++(?:\.[0-9]++)?+)S)?+)?+\Z"
)


def parse_bool(text: str) -> bool:
    """Parse ``xs:boolean``.

    Raises:
        ValueError: not one of ``true``, ``false``, ``1``, ``0``.
    """
    try:
        return _BOOLS[text]
    except KeyError:
        raise ValueError(f"{text[:40]!r} is not an xs:boolean") from None


def format_bool(value: bool) -> str:
    """Format ``xs:boolean`` as ``true``/``false``."""
    return "true" if value else "false"


def _parse_integer(text: str, bounds: tuple[int, int], kind: str) -> int:
    if len(text) > 40 or not _INTEGER.match(text):
        raise ValueError(f"{text[:40]!r} is not an {kind}")
    value = int(text)
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{text!r} is out of the {kind} range")
    return value


def parse_int(text: str) -> int:
    """Parse ``xs:int`` (32-bit).

    Raises:
        ValueError: not an integer literal, or out of range.
    """
    return _parse_integer(text, INT_RANGE, "xs:int")


def parse_long(text: str) -> int:
    """Parse ``xs:long`` (64-bit).

    Raises:
        ValueError: not an integer literal, or out of range.
    """
    return _parse_integer(text, LONG_RANGE, "xs:long")


def format_integer(value: int) -> str:
    """Format an ``xs:int``/``xs:long`` in decimal."""
    return str(value)


def parse_decimal(text: str) -> Decimal:
    """Parse ``xs:double`` into a :class:`Decimal` keeping every written digit.

    Raises:
        ValueError: not an ``xs:double`` literal (or longer than 400 characters).
    """
    if len(text) <= 400 and _DOUBLE_MATCH(text) is not None:  # the common case first
        try:
            return Decimal(text)
        except InvalidOperation:  # an exponent beyond the context's limits (0e1000000000000000000)
            raise ValueError(f"{text[:40]!r} is not an xs:double") from None
    special = _SPECIAL_DOUBLES.get(text)  # INF, +INF, -INF: none of them matches the pattern
    if special is not None:
        return special
    if text == "NaN":
        return Decimal("NaN")
    raise ValueError(f"{text[:40]!r} is not an xs:double")


def format_decimal(value: Decimal) -> str:
    """Format a :class:`Decimal` as an ``xs:double`` literal (``INF``, ``-INF``, ``NaN`` for specials)."""
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "-INF" if value.is_signed() else "INF"
    return str(value)


def _zone(text: str | None) -> dt.timezone | None:
    if not text:
        return None
    if text == "Z":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


def _microseconds(fraction: str | None) -> int:
    return int((fraction[1:] + "000000")[:6]) if fraction else 0


def parse_datetime(text: str) -> dt.datetime:
    """Parse ``xs:dateTime`` (naive when the text has no zone; fractions beyond microseconds are cut).

    Raises:
        ValueError: not an ``xs:dateTime``, or a field out of range (month 13, year 0, hour 24).
    """
    if len(text) == 19 and _PLAIN_DATETIME(text) is not None and text[11:13] != "24":
        return _FROM_ISO(text)  # the common form: no fraction, no zone (same result as below)
    match = _DATETIME_RE.match(text) if len(text) < 80 else None
    if match is None:
        raise ValueError(f"{text[:40]!r} is not an xs:dateTime")
    if match.group(7) is None and text[11:13] != "24":  # no fraction: the C parser reads the same fields
        return dt.datetime.fromisoformat(text)
    y, mo, d, h, mi, s, frac, zone = match.groups()
    return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), _microseconds(frac), _zone(zone))


def parse_date(text: str) -> dt.date:
    """Parse ``xs:date``; the optional zone is checked and kept only in the text (:func:`date_zone`).

    Raises:
        ValueError: not an ``xs:date`` or out of range.
    """
    match = _DATE_RE.match(text) if len(text) < 40 else None
    if match is None:
        raise ValueError(f"{text[:40]!r} is not an xs:date")
    y, mo, d, _zone_text = match.groups()
    return dt.date(int(y), int(mo), int(d))


def date_zone(text: str) -> dt.timezone | None:
    """Return the zone written on an ``xs:date`` lexical value, or ``None`` (undefined).

    Raises:
        ValueError: ``text`` is not an ``xs:date``.
    """
    match = _DATE_RE.match(text)
    if match is None:
        raise ValueError(f"{text[:40]!r} is not an xs:date")
    return _zone(match.group(4))


def parse_time(text: str) -> dt.time:
    """Parse ``xs:time`` (naive when the text has no zone).

    Raises:
        ValueError: not an ``xs:time`` or out of range (``24:00:00`` included).
    """
    match = _TIME_RE.match(text) if len(text) < 40 else None
    if match is None:
        raise ValueError(f"{text[:40]!r} is not an xs:time")
    h, mi, s, frac, zone = match.groups()
    return dt.time(int(h), int(mi), int(s), _microseconds(frac), _zone(zone))


def _format_zone(offset: dt.timedelta | None) -> str:
    if offset is None:
        return ""
    if not offset:
        return "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _format_clock(value: dt.time | dt.datetime) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + _format_zone(value.utcoffset())


def format_datetime(value: dt.datetime) -> str:
    """Format ``xs:dateTime`` (``Z`` for UTC, no zone for a naive value)."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{_format_clock(value)}"


def format_time(value: dt.time) -> str:
    """Format ``xs:time`` (``Z`` for UTC, no zone for a naive value)."""
    return _format_clock(value)


def format_date(value: dt.date) -> str:
    """Format ``xs:date`` without a zone."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


@dataclass(frozen=True, slots=True)
class XsDuration:
    """An ``xs:duration`` (ISO 8601 ``PnYnMnDTnHnMnS``): calendar parts kept apart, not a ``timedelta``.

    Months and years have no fixed length, so ``P1M`` stays one month. ``seconds`` is a
    :class:`Decimal` (fractions allowed). All parts are non-negative; ``negative`` is the sign.
    """

    negative: bool = False
    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        parts = (self.years, self.months, self.days, self.hours, self.minutes)
        if not all(type(p) is int and p >= 0 for p in parts) or not isinstance(self.negative, bool):
            raise EncodeError("duration parts must be non-negative ints and negative a bool")
        if not isinstance(self.seconds, Decimal) or not self.seconds.is_finite() or self.seconds < 0:
            raise EncodeError("duration seconds must be a finite non-negative Decimal")

    @classmethod
    def parse(cls, text: str) -> XsDuration:
        """Parse the lexical form.

        Raises:
            ValueError: not an ``xs:duration`` (``P``, ``PT`` and ``P1DT`` are not).
        """
        match = _DURATION_MATCH(text) if len(text) < 120 else None
        if match is None or text[-1] in "PT":  # a match is never empty
            raise ValueError(f"{text[:40]!r} is not an xs:duration")
        sign, y, mo, d, h, mi, s = match.groups()
        # The pattern admits only valid parts, so the checks of __init__ are skipped: the
        # slots are stored on a builder that then becomes an XsDuration (``_build.py``).
        o: Any = _new(_DURATION_BUILDER)
        o.negative = sign == "-"
        o.years = int(y) if y else 0
        o.months = int(mo) if mo else 0
        o.days = int(d) if d else 0
        o.hours = int(h) if h else 0
        o.minutes = int(mi) if mi else 0
        o.seconds = Decimal(s) if s else _ZERO
        o.__class__ = XsDuration
        return o  # type: ignore[no-any-return]

    def __str__(self) -> str:
        """The canonical lexical form (``PT0S`` for zero)."""
        date = "".join(f"{n}{u}" for n, u in ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if n)
        clock = "".join(f"{n}{u}" for n, u in ((self.hours, "H"), (self.minutes, "M")) if n)
        if self.seconds:
            clock += f"{self.seconds:f}S"
        if not date and not clock:
            clock = "0S"
        return ("-" if self.negative else "") + "P" + date + (f"T{clock}" if clock else "")

    def to_timedelta(self) -> dt.timedelta:
        """Return the duration as a ``timedelta``.

        Raises:
            ValueError: the duration has years or months, which have no fixed length.
        """
        if self.years or self.months:
            raise ValueError(f"{self} has years or months: no fixed length")
        delta = dt.timedelta(days=self.days, hours=self.hours, minutes=self.minutes, seconds=float(self.seconds))
        return -delta if self.negative else delta


_ZERO = Decimal(0)
_DURATION_MATCH = _DURATION_RE.match
_DURATION_BUILDER = builder(XsDuration)
_new = object.__new__
