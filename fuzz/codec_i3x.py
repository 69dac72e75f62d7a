"""Fuzz harness for the i3X codec: JSON bodies, the SSE parser and the update mapping.

``fuzz_i3x(data)`` feeds arbitrary octets to every decoding entry point of
``otwire.codecs.i3x`` (``decode_server_info``, ``decode_response``, ``decode_bulk``
for every bulk result type, ``decode_sync``, ``decode`` of every request body), and to ``SSEParser`` whole and one
octet at a time, mapping each event with ``map_event``. Only ``DecodeError`` may
escape a decoder; anything else propagates and is the finding. Both SSE splits must
give the same events. Every successful decode must re-encode and decode back equal.

Runs under hypothesis (``fuzz/test_fuzz_i3x.py``, ``tests/i3x/test_fuzz.py``) and,
when installed, under atheris::

    .venv/bin/python fuzz/codec_i3x.py -max_total_time=600
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from otwire.codecs import i3x
from otwire.errors import DecodeError

#: Result types of the single and bulk envelopes (notes §3 table in ``codec.py``).
SINGLE_TYPES: list[Any] = [
    Any,
    list[i3x.Namespace],
    list[i3x.ObjectType],
    list[i3x.RelationshipType],
    list[i3x.ObjectInstance],
    i3x.Subscription,
]
BULK_TYPES: list[Any] = [
    i3x.ObjectType,
    i3x.RelationshipType,
    i3x.ObjectInstance,
    list[i3x.RelatedObject],
    i3x.CurrentValue,
    i3x.HistoricalValue,
    i3x.Subscription,
    type(None),
]

#: Every request body (a server decodes these).
REQUEST_TYPES: list[Any] = [getattr(i3x, name) for name in i3x.requests.__all__]


def sse_events(data: bytes, *, bytewise: bool) -> list[i3x.SSEEvent]:
    """Feed ``data`` to a fresh ``SSEParser`` whole or one octet at a time; then close it."""
    parser = i3x.SSEParser(max_line=256, max_data=1024)
    events: list[i3x.SSEEvent] = []
    pieces = [data[k : k + 1] for k in range(len(data))] if bytewise else [data]
    try:
        for piece in pieces:
            events.extend(parser.feed(piece))
    except DecodeError:
        events.append(i3x.SSEEvent("<DecodeError>", "<error>"))  # the same failure for both splits
        return events
    return events + parser.close()


def _bodies(data: bytes) -> None:
    _check(lambda: i3x.decode_server_info(data), i3x.encode, i3x.decode_server_info)
    _check(lambda: i3x.decode_sync(data), i3x.encode, i3x.decode_sync)
    for result_type in SINGLE_TYPES:
        _check(
            lambda t=result_type: i3x.decode_response(data, t),
            i3x.encode,
            lambda b, t=result_type: i3x.decode_response(b, t),
        )
    for request_type in REQUEST_TYPES:
        _check(lambda t=request_type: i3x.decode(data, t), i3x.encode, lambda b, t=request_type: i3x.decode(b, t))
    for result_type in BULK_TYPES:
        _check(
            lambda t=result_type: i3x.decode_bulk(data, t),
            i3x.encode_bulk,
            lambda b, t=result_type: i3x.decode_bulk(b, t),
        )


def _check(decode: Any, encode: Any, decode_again: Any) -> None:
    with contextlib.suppress(DecodeError):
        value = decode()
        again = decode_again(encode(value))
        if again != value:
            raise AssertionError(f"re-encoding changed {value!r} into {again!r}")


def fuzz_i3x(data: bytes) -> None:
    """Decode ``data`` every way the i3X codec allows; only ``DecodeError`` is expected.

    Raises:
        AssertionError: SSE events depend on the split, or a decoded value does not
            survive encode -> decode.
        Exception: anything a decoder raises other than ``DecodeError`` (a bug).
    """
    _bodies(data)
    whole = sse_events(data, bytewise=False)
    if sse_events(data, bytewise=True) != whole:
        raise AssertionError(f"SSE events depend on the split: {data.hex()}")
    for event in whole:
        with contextlib.suppress(DecodeError):
            i3x.map_event(event)
    with contextlib.suppress(DecodeError):
        i3x.map_event(i3x.SSEEvent(data.decode("utf-8", "replace")))


def main() -> None:
    """Run ``fuzz_i3x`` under atheris (libFuzzer arguments from the command line)."""
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("atheris is not installed (pip install atheris); `make fuzz` runs hypothesis")
    atheris.instrument_all()
    atheris.Setup(sys.argv, fuzz_i3x)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
