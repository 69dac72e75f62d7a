"""The fast paths of the XEP-0323 value parsers equal their reference forms on any text.

``parse_decimal``, ``parse_datetime`` and ``XsDuration.parse`` check the common lexical
forms first with cheaper patterns; the references below are the plain one-pattern
versions those fast paths replaced. Generated texts mix valid literals, near misses
(Unicode digits, whitespace, underscores, hour 24, specials in other cases) and noise.
The serialiser's own escaping is checked against the standard library's it replaced.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.xep0323 import values as xs

_DOUBLE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DURATION = re.compile(
    r"(-)?P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:\.[0-9]+)?)S)?)?\Z"
)
_SPECIALS = {"INF": Decimal("Infinity"), "+INF": Decimal("Infinity"), "-INF": Decimal("-Infinity")}


def reference_decimal(text: str) -> Decimal:
    if text in _SPECIALS:
        return _SPECIALS[text]
    if text == "NaN":
        return Decimal("NaN")
    if len(text) > 400 or not _DOUBLE.match(text):
        raise ValueError(text)
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent beyond the context's limits
        raise ValueError(text) from None


def reference_datetime(text: str) -> dt.datetime:
    match = xs._DATETIME_RE.match(text) if len(text) < 80 else None
    if match is None:
        raise ValueError(text)
    y, mo, d, h, mi, s, frac, zone = match.groups()
    return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), xs._microseconds(frac), xs._zone(zone))


def reference_duration(text: str) -> xs.XsDuration:
    match = _DURATION.match(text) if len(text) < 120 else None
    if match is None or text.endswith(("P", "T")):
        raise ValueError(text)
    sign, y, mo, d, h, mi, s = match.groups()
    parts = [int(p) if p else 0 for p in (y, mo, d, h, mi)]
    return xs.XsDuration(sign == "-", *parts, Decimal(s) if s else Decimal(0))


_DIGITS = st.text("0123456789", min_size=1, max_size=4)
_ODD = st.sampled_from(["", "٣", " ", "\t", "\x1c", "_", "+", "-", ".", "e", "E", "T", "Z", "P", "24", "inf", "nan"])


def _texts(parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.lists(parts, max_size=12).map("".join), st.text(max_size=30))


_DECIMALS = st.one_of(
    _texts(st.one_of(_DIGITS, _ODD)),
    st.sampled_from(["INF", "+INF", "-INF", "NaN", "Infinity", "-nan", "sNaN", "1_0", " 1", "1 ", "1.", ".5", "5e"]),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
_DATETIMES = st.one_of(
    _texts(st.one_of(_DIGITS, _ODD, st.sampled_from([":", "-", "T"]))),
    st.datetimes(min_value=dt.datetime(1, 1, 1)).map(lambda d: d.isoformat(timespec="seconds")),
    st.datetimes().map(dt.datetime.isoformat),
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
        *(st.integers(0, 99) for _ in range(6)),
        st.sampled_from(["", "Z", "+01:00", ".5"]),
    ),
)
_PART = st.one_of(st.just(""), _DIGITS)
_DURATIONS = st.one_of(
    st.builds(
        xs.XsDuration,
        st.booleans(),
        *(st.integers(0, 10**6) for _ in range(5)),
        st.decimals(min_value=0, max_value=10**6, places=3),
    ).map(str),
    _texts(st.one_of(_DIGITS, _ODD, st.sampled_from(["Y", "M", "D", "H", "S", "PT", "1.5S"]))),
    st.builds(
        lambda sign, y, mo, d, t, h, mi, s, tail: (
            f"{sign}P{y and y + 'Y'}{mo and mo + 'M'}{d and d + 'D'}"
            f"{t}{h and h + 'H'}{mi and mi + 'M'}{s and s + 'S'}{tail}"
        ),
        st.sampled_from(["", "-", "+"]),
        _PART,
        _PART,
        _PART,
        st.sampled_from(["T", "", "TT"]),
        _PART,
        _PART,
        st.one_of(_PART, st.sampled_from(["1.", "1.50", ".5", "0.0"])),
        st.sampled_from(["", "", "", "Y", "S", "1", "T"]),
    ),
)


def _outcome(parse: object, text: str) -> object:
    try:
        return ("ok", parse(text))  # type: ignore[operator]
    except ValueError:
        return ("refused",)


@given(_DECIMALS)
def test_parse_decimal_equals_reference(text: str) -> None:
    ours, ref = _outcome(xs.parse_decimal, text), _outcome(reference_decimal, text)
    assert ours[0] == ref[0]
    if ours[0] == "ok":
        assert str(ours[1]) == str(ref[1])  # same digits and exponent, NaN included


@given(_DATETIMES)
def test_parse_datetime_equals_reference(text: str) -> None:
    ours, ref = _outcome(xs.parse_datetime, text), _outcome(reference_datetime, text)
    assert ours == ref
    if ours[0] == "ok":
        assert ours[1].tzinfo == ref[1].tzinfo  # type: ignore[index]


@given(_DURATIONS)
def test_duration_parse_equals_reference(text: str) -> None:
    ours = _outcome(xs.XsDuration.parse, text)
    assert ours == _outcome(reference_duration, text)
    if ours[0] == "ok":
        assert str(ours[1].seconds) == str(reference_duration(text).seconds)  # type: ignore[attr-defined]


@given(_texts(st.one_of(_DIGITS, _ODD)))
def test_integer_pattern_equals_reference(text: str) -> None:
    assert bool(xs._INTEGER.match(text)) == bool(_INTEGER.match(text))


def test_fast_forms_are_taken() -> None:
    assert xs._PLAIN_DATETIME("2012-01-01T00:00:00") is not None
    assert xs.parse_datetime("2012-01-01T23:59:59") == dt.datetime(2012, 1, 1, 23, 59, 59)
    assert str(xs.parse_decimal("23.40")) == "23.40"
    assert xs.XsDuration.parse("-P1Y2M3DT4H5M6.5S") == xs.XsDuration(True, 1, 2, 3, 4, 5, Decimal("6.5"))


@given(st.text(), st.sampled_from([{"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}, {"\r": "&#13;"}, {}]))
def test_own_escaping_equals_saxutils(text: str, entities: dict[str, str]) -> None:
    """The serialiser's escaping (written in the codec to spare an import) is the standard library's."""
    from xml.sax.saxutils import escape, quoteattr

    from otwire.codecs.xep0323.codec import _escape, _quoteattr

    assert _escape(text, entities) == escape(text, entities)
    assert _quoteattr(text, entities) == quoteattr(text, entities)
