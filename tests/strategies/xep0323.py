"""Hypothesis strategies for XEP-0323 messages (``tests/xep0323`` and ``fuzz/``).

``messages()`` draws any top-level message; ``messages(dialect="v0.2")`` only what the
v0.2 dialect can carry unchanged (no ``int``/``long``/``date``/``time``, no ``writable``,
no ``inProgress``), so that ``decode(encode(m, "v0.2")) == m`` holds exactly.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from otwire.codecs import xep0323 as x

__all__ = ["fields", "messages", "values"]

# XML 1.0 characters (no surrogates, no C0 controls but TAB/LF/CR).
_TEXT = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="".join(chr(c) for c in range(0x20) if c not in (9, 10, 13)) + "\ufffe\uffff",
    ),
    max_size=12,
)
# Element text: XML normalises CR and CRLF in text to LF only when not escaped; we escape CR, so any is fine.
_NAME = _TEXT
_OPT = st.none() | _TEXT
_SEQNR = st.integers(-(2**31), 2**31 - 1)
_ZONES = st.none() | st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(-dt.timedelta(hours=5, minutes=30))]
)
_DATETIMES = st.builds(
    lambda d, z: d.replace(tzinfo=z),
    st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    _ZONES,
)
_DECIMALS = st.decimals(allow_nan=False, places=None) | st.sampled_from(
    [Decimal("10"), Decimal("10.0"), Decimal("10.00")]
)
_DURATIONS = st.builds(
    x.XsDuration,
    st.booleans(),
    *(st.integers(0, 10**6) for _ in range(5)),
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
)
_STRING_IDS = st.none() | st.sampled_from(["1", "1,2", "4||A1,5||3", "12|Mod.Sub|seed"])


def _common(dialect: str) -> dict[str, Any]:
    qos = [q for q in x.QoS if not (dialect == "v0.2" and q is x.QoS.inProgress)]
    return {
        "name": _NAME,
        "types": st.sets(st.sampled_from(list(x.FieldType))).map(lambda s: _union(x.FieldType, s)),
        "qos": st.sets(st.sampled_from(qos)).map(lambda s: _union(x.QoS, s)),
        "module": _OPT,
        "string_ids": _STRING_IDS,
        "writable": st.none() if dialect == "v0.2" else st.none() | st.booleans(),
    }


def _union(flag: Any, members: set[Any]) -> Any:
    out = flag(0)
    for member in members:
        out |= member
    return out


def values(dialect: str = "v0.6") -> st.SearchStrategy[x.Field]:
    """Any field value element (v0.3+ types only for ``v0.6``)."""
    common = _common(dialect)
    kinds = [
        st.builds(x.Numeric, value=_DECIMALS, unit=_TEXT, **common),
        st.builds(x.String, value=_TEXT, **common),
        st.builds(x.Enum, value=_TEXT, data_type=_TEXT, **common),
        st.builds(x.Boolean, value=st.booleans(), **common),
        st.builds(x.DateTime, value=_DATETIMES, **common),
        st.builds(x.Duration, value=_DURATIONS, **common),
    ]
    if dialect == "v0.6":
        kinds += [
            st.builds(x.Date, value=st.dates(min_value=dt.date(1000, 1, 1)), **common),
            st.builds(x.Time, value=st.times(timezones=_ZONES), **common),
            st.builds(x.Int, value=st.integers(-(2**31), 2**31 - 1), **common),
            st.builds(x.Long, value=st.integers(-(2**63), 2**63 - 1), **common),
        ]
    return st.one_of(kinds)


fields = values


def _nodes(dialect: str) -> st.SearchStrategy[x.Node]:
    timestamps = st.builds(x.Timestamp, value=_DATETIMES, fields=st.lists(values(dialect), max_size=4).map(tuple))
    return st.builds(
        x.Node, node_id=_TEXT, source_id=_OPT, cache_type=_OPT, timestamps=st.lists(timestamps, max_size=3).map(tuple)
    )


def messages(dialect: str = "v0.6") -> st.SearchStrategy[Any]:
    """Any top-level XEP-0323 message."""
    req_nodes = st.builds(x.Node, node_id=_TEXT, source_id=_OPT, cache_type=_OPT)
    req = st.builds(
        x.Req,
        seqnr=_SEQNR,
        types=_common(dialect)["types"],
        all_types=st.booleans(),
        historical=st.booleans(),
        from_=st.none() | _DATETIMES,
        to=st.none() | _DATETIMES,
        when=st.none() | _DATETIMES,
        service_token=_OPT,
        device_token=_OPT,
        user_token=_OPT,
        nodes=st.lists(req_nodes, max_size=3).map(tuple),
        fields=st.lists(st.builds(x.FieldRef, name=_TEXT), max_size=3).map(tuple),
    )
    errors = st.builds(x.Error, node_id=_TEXT, timestamp=_TEXT, message=_TEXT, source_id=_OPT, cache_type=_OPT)
    return st.one_of(
        req,
        st.builds(x.Accepted, seqnr=_SEQNR, queued=st.booleans()),
        st.builds(x.Rejected, seqnr=_SEQNR, errors=st.lists(_TEXT, max_size=3).map(tuple)),
        *(st.builds(cls, seqnr=_SEQNR) for cls in (x.Started, x.Done, x.Cancel, x.Cancelled)),
        st.builds(x.Fields, seqnr=_SEQNR, done=st.booleans(), nodes=st.lists(_nodes(dialect), max_size=3).map(tuple)),
        st.builds(x.Failure, seqnr=_SEQNR, done=st.booleans(), errors=st.lists(errors, max_size=3).map(tuple)),
    )
