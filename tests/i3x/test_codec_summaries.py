"""``bulk_summary`` and ``sync_summary`` give what ``decode_bulk(body, Any)`` and ``decode_sync`` give."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from otwire.codecs.i3x import decode_bulk, decode_sync
from otwire.codecs.i3x.codec import bulk_summary, sync_summary
from otwire.errors import DecodeError

DETAIL = st.fixed_dictionaries({}, optional={"status": st.sampled_from([404, "x"]), "title": st.text(max_size=3)})
ERROR = st.fixed_dictionaries({}, optional={"code": st.sampled_from([7, "E", None]), "message": st.text(max_size=3)})
ITEM = st.fixed_dictionaries(
    {},
    optional={
        "success": st.booleans(),
        "elementId": st.sampled_from(["a", "b", 3]),
        "result": st.sampled_from([None, 1, [1], {"v": 1}]),
        "responseDetail": DETAIL,
        "error": ERROR,
    },
)
ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "sequenceNumber": st.sampled_from([1, -1, "x"]),
        "updates": st.sampled_from([[], [{"elementId": "a", "value": 1}], [{}]]),
        "elementId": st.sampled_from(["a", None]),
        "value": st.sampled_from([1, "v"]),
    },
)


def envelope(results: str, items: Any) -> Any:
    return st.fixed_dictionaries(
        {},
        optional={
            "success": st.sampled_from([True, False, 1]),
            results: items,
            "responseDetail": DETAIL,
            "error": ERROR,
        },
    )


def outcome(call: Any) -> Any:
    try:
        return call()
    except DecodeError as exc:
        return ("error", str(exc), exc.offset)


@settings(max_examples=300, deadline=None)
@given(st.one_of(envelope("results", st.lists(ITEM, max_size=4)), st.binary(max_size=20).map(lambda b: b)))
def test_bulk_summary_is_decode_bulk(value: Any) -> None:
    body = value if isinstance(value, bytes) else json.dumps(value).encode()

    def full() -> Any:
        bulk = decode_bulk(body, Any)
        failures = bulk.failures
        return bulk.success, len(bulk.results), len(failures), failures[0].detail if failures else bulk.failure

    assert outcome(lambda: bulk_summary(body)) == outcome(full)


@settings(max_examples=300, deadline=None)
@given(st.one_of(envelope("result", st.none() | st.lists(ENTRY, max_size=4)), st.binary(max_size=20)))
def test_sync_summary_is_decode_sync(value: Any) -> None:
    body = value if isinstance(value, bytes) else json.dumps(value).encode()

    def full() -> Any:
        sync = decode_sync(body)
        return sync.success, None if sync.result is None else len(sync.result), sync.failure

    assert outcome(lambda: sync_summary(body)) == outcome(full)
