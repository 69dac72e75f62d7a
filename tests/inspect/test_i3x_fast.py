"""The i3X dissector's h11 fast paths give the findings of the general path (:mod:`i3x_reference`).

Conversations are built from requests and responses of many framings (lengths, chunks,
gzip, event streams, 1xx, ``Connection: close``, HTTP/1.0, ``HEAD``, garbage), cut into
any segments, interleaved in any order and ended anywhere.
"""

from __future__ import annotations

import gzip
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from i3x_reference import ReferenceI3XDissector

from otwire.inspect.i3x import I3XDissector
from otwire.inspect.records import Finding, Sender

IDS = st.lists(st.sampled_from(["a", "b", "pump-1", "x\u00e9"]), max_size=3)


def _head(start: str, *headers: str) -> bytes:
    return ("\r\n".join([start, *headers]) + "\r\n\r\n").encode()


def _chunked(body: bytes, size: int) -> bytes:
    step = max(size, 1)
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["GET", "POST", "HEAD", "DELETE"]))
    target = draw(st.sampled_from(["/v1/info", "/v1/objects/value", "/v1/subscriptions/sync", "/v1/x?y=1"]))
    version = draw(st.sampled_from(["1.1", "1.1", "1.0"]))
    extra = draw(st.lists(st.sampled_from(["Connection: close", "Expect: 100-continue", "Upgrade: ws"]), max_size=1))
    if draw(st.booleans()):
        return _head(f"{method} {target} HTTP/{version}", "Host: plant", *extra)
    fields = {"elementIds": draw(IDS), "subscriptionIds": draw(IDS), "clientId": draw(st.sampled_from(["c", 3]))}
    body = draw(st.sampled_from([json.dumps(fields).encode(), b"{bad", b"", b"[1]"]))
    headers = ["Host: plant", "Content-Type: application/json", *extra]
    if draw(st.booleans()):
        body = gzip.compress(body)
        headers.append("Content-Encoding: gzip")
    if draw(st.booleans()):
        return _head(f"{method} {target} HTTP/1.1", *headers, "Transfer-Encoding: chunked") + _chunked(
            body, draw(st.integers(1, 40))
        )
    return _head(f"{method} {target} HTTP/{version}", *headers, f"Content-Length: {len(body)}") + body


BODIES = [
    b'{"success":true,"result":{"a":1}}',
    b'{"success":true,"result":[1,2]}',
    b'{"success":false,"results":[{"success":false,"elementId":"b","responseDetail":{"status":404,"detail":"no"}}]}',
    b'{"success":true,"result":[{"subscriptionId":"s","updates":[]}]}',
    b'{"success":false,"results":[{"success":true,"elementId":"a"},{"success":false,"error":{"code":7,"message":"m"}}]}',
    b'{"success":false,"results":[],"error":{"code":"E","message":"whole"}}',
    b'{"success":false,"results":[{"success":false}]}',
    b'{"success":true,"result":[{"sequenceNumber":3,"elementId":"a","value":1}]}',
    b'{"success":true,"result":[{"sequenceNumber":3},{"sequenceNumber":4}]}',
    b'{"success":false,"responseDetail":{"status":503,"detail":"busy"}}',
    b'{"success":true,"result":[],"responseDetail":{"status":206,"title":"overflow"}}',
    b'{"success":true,"result":{"results":3}}',
    b"not json",
    b"{bad",
    b"",
]
EVENTS = [
    b": keepalive\n\n",
    b'data: [{"elementId":"a","value":2.5,"quality":"Good","timestamp":"2026-01-01T00:00:01Z"}]\n\n',
    b"event: close\ndata: {}\n\n",
    b"id: 4\ndata: [1]\r\n\r\n",
]


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["length", "chunked", "stream", "continue", "close", "nobody", "gzip"]))
    status = draw(st.sampled_from(["200 OK", "404 Not Found", "204 No Content"]))
    body = draw(st.sampled_from(BODIES))
    json_type = "Content-Type: application/json"
    if kind == "continue":
        return _head("HTTP/1.1 100 Continue")
    if kind == "stream":
        events = b"".join(draw(st.lists(st.sampled_from(EVENTS), max_size=4)))
        head = _head("HTTP/1.1 200 OK", "Content-Type: text/event-stream", "Transfer-Encoding: chunked")
        return head + _chunked(events, draw(st.integers(1, 50)))[: -5 if draw(st.booleans()) else None]
    if kind == "chunked":
        return _head(f"HTTP/1.1 {status}", json_type, "Transfer-Encoding: chunked") + _chunked(body, 7)
    if kind == "close":
        return _head(f"HTTP/1.1 {status}", json_type, "Connection: close", f"Content-Length: {len(body)}") + body
    if kind == "nobody":
        return _head(f"HTTP/1.1 {status}", json_type) + body
    if kind == "gzip":
        packed = gzip.compress(body)
        return (
            _head(f"HTTP/1.1 {status}", json_type, "Content-Encoding: gzip", f"Content-Length: {len(packed)}") + packed
        )
    return _head(f"HTTP/1.1 {status}", json_type, f"Content-Length: {len(body)}") + body


SENDERS = st.sampled_from([Sender.CLIENT, Sender.SERVER])
STEP = st.one_of(
    st.tuples(st.just(Sender.CLIENT), requests()),
    st.tuples(st.just(Sender.SERVER), responses()),
    st.tuples(SENDERS, st.binary(max_size=12)),
    st.tuples(SENDERS, st.none()),  # the sender's stream ends
)


def run(
    dissector: ReferenceI3XDissector | I3XDissector, script: list[tuple[Sender, bytes | None, int]]
) -> list[Finding]:
    found: list[Finding] = []
    for sender, data, cut in script:
        if data is None:
            found += dissector.end(sender)
            continue
        step = cut or len(data) or 1
        for start in range(0, len(data), step):
            found += dissector.feed(sender, data[start : start + step])
    found += [*dissector.end(Sender.CLIENT), *dissector.end(Sender.SERVER)]
    return found


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(STEP, st.integers(0, 30)), max_size=14))
def test_fast_paths_give_the_findings_of_the_general_path(steps: list[tuple[tuple[Sender, bytes | None], int]]) -> None:
    script = [(sender, data, cut) for (sender, data), cut in steps]
    assert run(I3XDissector(), script) == run(ReferenceI3XDissector(), script)


@settings(max_examples=200, deadline=None)
@given(st.lists(requests(), min_size=1, max_size=6), st.lists(responses(), max_size=6), st.integers(0, 60))
def test_pipelined_requests_then_responses(asked: list[bytes], answers: list[bytes], cut: int) -> None:
    script = [(Sender.CLIENT, b"".join(asked), cut), (Sender.SERVER, b"".join(answers), cut)]
    assert run(I3XDissector(), script) == run(ReferenceI3XDissector(), script)
