"""Every prefix of a valid i3X client conversation, then its end, leaves the server engine clean.

The conversation is ``fuzz/engine_i3x_server.py``'s :data:`CONVERSATION` (info, objects, values,
a subscription with register, writes, history, two syncs, then an SSE stream). For every prefix
(cut at every octet for EOF; every 5th octet and around each request boundary for the others),
the peer then ends by EOF, by the application's ``close`` or by a lost transport; only
``RemoteProtocolError`` may escape (an EOF inside a request), and afterwards the peer is closed
with one ``ConnectionTerminated``, forgotten once its octets were taken, and no subscription
still streams to it.
"""

from __future__ import annotations

import pytest
from engine_i3x_server import CONVERSATION, PEER, check_ended, finish, make_engine  # fuzz/ is on sys.path

from otwire.codecs.i3x import VQT
from otwire.errors import RemoteProtocolError

DATA = b"".join(CONVERSATION)
BOUNDARIES = {sum(map(len, CONVERSATION[:k])): k for k in range(len(CONVERSATION) + 1)}


def run(prefix: bytes, end: str, profile: str = "1.0") -> tuple[list[str], str, str | None, bytes]:
    engine = make_engine(profile)
    engine.connect(PEER, 0.0)
    try:
        if prefix:  # b"" would be the end of stream
            engine.receive_data(PEER, prefix, 1.0)  # a prefix of valid requests is never a protocol error
        engine.publish("flow", VQT(3.0, "Good", "2026-01-01T00:00:00Z"), 1.0)
    except RemoteProtocolError as exc:  # pragma: no cover - the assertion below reports it
        raise AssertionError(f"valid prefix refused at {len(prefix)}: {exc}") from exc
    error = finish(engine, end)
    handled, reason, output = check_ended(engine)
    return handled, reason, error, output


def cuts(end: str) -> list[int]:
    """Every octet for EOF (where h11's state matters most); for close and loss every 5th and each boundary +-1."""
    if end == "eof":
        return list(range(len(DATA) + 1))
    near = {b + d for b in BOUNDARIES for d in (-1, 0, 1)}
    return sorted({*range(0, len(DATA) + 1, 5), *(c for c in near if 0 <= c <= len(DATA))})


@pytest.mark.parametrize("end", ["eof", "close", "lost"])
def test_every_prefix_then_the_end_leaves_nothing_behind(end: str) -> None:
    for cut in cuts(end):
        handled, reason, error, _ = run(DATA[:cut], end)
        complete = max(k for offset, k in BOUNDARIES.items() if offset <= cut)
        assert len(handled) == complete, (cut, handled)
        assert all(line.endswith(" 200") for line in handled), (cut, handled)
        inside_a_request = cut not in BOUNDARIES
        if end == "eof" and inside_a_request:
            assert error == "RemoteProtocolError" and reason == "TerminationReason.PROTOCOL_ERROR", (cut, reason)
        else:
            assert error is None, (cut, error)
            expected = {"eof": "PEER_CLOSED", "close": "LOCAL_CLOSE", "lost": "CONNECTION_LOST"}[end]
            assert reason == f"TerminationReason.{expected}", (cut, reason)


@pytest.mark.parametrize("profile", ["1.0", "i3x2ua", "cesmii-demo", "node-i3x", "beta"])
def test_every_request_boundary_in_every_profile(profile: str) -> None:
    for cut in BOUNDARIES:
        for end in ("eof", "close", "lost"):
            handled, _, error, _ = run(DATA[:cut], end, profile)
            assert error is None and len(handled) == BOUNDARIES[cut], (profile, cut, end, handled)


@pytest.mark.parametrize(("profile", "tail"), [("1.0", b""), ("i3x2ua", b"event: close\ndata: {}\n\n")])
def test_closing_a_streaming_peer_ends_the_stream_cleanly(profile: str, tail: bytes) -> None:
    _, reason, _, output = run(DATA, "close", profile)
    assert reason == "TerminationReason.LOCAL_CLOSE"
    update = b'data: [{"elementId":"flow","value":3.0'
    assert update in output
    ending = output[output.index(update) :].split(b"\r\n", 1)[1]
    assert ending == (b"%x\r\n%s\r\n" % (len(tail), tail) if tail else b"") + b"0\r\n\r\n"


def test_eof_with_a_request_pipelined_behind_a_stream_ends_the_peer() -> None:
    # found by the every-prefix run: h11 kept the EOF behind the pipelined request, the peer stayed open
    handled, reason, error, _ = run(DATA + CONVERSATION[0], "eof")
    assert error is None and reason == "TerminationReason.PEER_CLOSED"
    assert len(handled) == len(CONVERSATION)  # the pipelined request was never answered
