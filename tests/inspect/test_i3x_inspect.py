"""``otwire inspect`` on i3X: the bundled recording and captures written with the pcap recorder."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import otwire.inspect
from otwire.cli import main
from otwire.inspect.capture import Sender
from otwire.inspect.dissect import Row, default_ports, dissect
from otwire.inspect.i3x import MAX_UNANSWERED, VIEW, HTTPRequest, HTTPResponse, I3XDissector, StreamEvent, StreamUpdate
from otwire.transports import Direction
from otwire.transports.record import PcapRecorder

CLIENT, SERVER = ("127.0.0.1", 50000), ("127.0.0.1", 8080)
SAMPLE = resources.files("otwire.inspect") / "samples" / "otwire_i3x.pcap"


def request(method: str, target: str, body: Any = None, *headers: str) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {target} HTTP/1.1", "Host: plant", *headers]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def response(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sse(*chunks: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)


VALUES = {
    "success": False,
    "results": [
        {
            "success": True,
            "elementId": "a",
            "result": {"value": 1.5, "quality": "Good", "timestamp": "2026-01-01T00:00:00Z"},
        },
        {"success": False, "elementId": "b", "responseDetail": {"title": "Not Found", "status": 404, "detail": "no b"}},
    ],
}
UPDATE = (
    b'data: [{"elementId":"a","value":2.5,"quality":"Good","timestamp":"2026-01-01T00:00:01Z","sequenceNumber":7}]\n\n'
)
CONVERSATION = [
    (Direction.OUT, request("POST", "/v1/objects/value", {"elementIds": ["a", "b"]})),
    (Direction.IN, response(json.dumps(VALUES).encode())),
    (Direction.OUT, request("GET", "/v1/namespaces", None, "Accept-Encoding: gzip")),
    (
        Direction.IN,
        response(gzip.compress(b'{"success":true,"result":[{"uri":"u","displayName":"U"}]}'), "Content-Encoding: gzip"),
    ),
    (Direction.OUT, request("POST", "/v1/subscriptions/stream", {"clientId": "c", "subscriptionId": "sub-9"})),
    (Direction.IN, sse(b": connected\n\n", UPDATE, b": keepalive\n\nevent: close\ndata: {}\n\n")),
]


def write_capture(path: Path, messages: list[tuple[Direction, bytes]], *, chunk: int = 0) -> Path:
    """Write one conversation; ``chunk`` > 0 cuts every message into writes of that many octets."""
    with PcapRecorder(path, local=CLIENT, remote=SERVER) as recorder:
        for direction, data in messages:
            step = chunk or len(data)
            for start in range(0, len(data), step):
                recorder.record(direction, data[start : start + step], timestamp=1_700_000_000.0)
    return path


def messages(rows: list[Row]) -> list[tuple[str, Any]]:
    return [(r.kind, r.finding.message if r.kind == "apdu" else r.finding.error) for r in rows if r.finding]


def test_i3x_is_dissected_on_its_default_port() -> None:
    assert default_ports()[8080] == "i3x"


def test_bundled_sample_dissects_without_errors() -> None:
    with resources.as_file(SAMPLE) as path:
        rows = list(dissect(path, default_ports()))
    assert rows and all(r.kind == "apdu" and r.protocol == "i3x" for r in rows)
    found = [r.finding.message for r in rows if r.finding]
    requests = [m for m in found if isinstance(m, HTTPRequest)]
    responses = [m for m in found if isinstance(m, HTTPResponse)]
    updates = [m for m in found if isinstance(m, StreamUpdate)]
    comments = [m for m in found if isinstance(m, StreamEvent) and m.event == "comment"]
    assert [(m.method, m.target) for m in requests] == [(m.method, m.target) for m in responses]
    assert [m.target for m in requests] == [
        "/v1/info",
        "/v1/namespaces",
        "/v1/objects/value",
        "/v1/subscriptions",
        "/v1/subscriptions/register",
        "/v1/subscriptions/sync",
        "/v1/subscriptions/stream",
    ]
    assert len(updates) >= 4 and len(comments) >= 2
    assert all(m.status == 200 for m in responses)
    info, names, values, _created, register, sync, stream = responses
    assert (info.envelope, info.success) == ("single", True)
    assert (names.content_encoding, names.envelope, names.items) == ("gzip", "single", 1)
    assert (values.envelope, values.items, values.failures, values.code) == ("bulk", 3, 1, "404")
    assert "no-such-element" in values.detail and requests[2].element_ids[-1] == "no-such-element"
    assert (register.envelope, register.success, register.items) == ("bulk", True, 2)
    assert requests[4].subscription_ids == ("sub-1",) and requests[4].client_id == "inspect-demo"
    assert sync.envelope == "sync" and stream.envelope == "stream"
    assert {u.element_id for u in updates} == {"pump-101-flow", "pump-101-bearing-temperature"}
    assert all(u.subscription_id == "sub-1" and u.quality == "Good" for u in updates)
    assert [u.sequence_number for u in updates] == list(range(1, len(updates) + 1))


def test_bulk_gzip_and_stream_rows(tmp_path: Path) -> None:
    rows = list(otwire.inspect.read(write_capture(tmp_path / "c.pcap", CONVERSATION)))
    found = messages(rows)
    assert [kind for kind, _ in found] == ["apdu"] * 10
    (_, req), (_, bulk), _, (_, names), _, (_, stream), *events = found
    assert req == HTTPRequest("POST", "/v1/objects/value", ("a", "b"), body_length=26, content_type="application/json")
    assert (bulk.envelope, bulk.success, bulk.items, bulk.failures, bulk.code, bulk.detail) == (
        "bulk",
        False,
        2,
        1,
        "404",
        "no b",
    )
    assert (names.content_encoding, names.items, names.success) == ("gzip", 1, True)
    assert stream.envelope == "stream" and stream.target == "/v1/subscriptions/stream"
    assert [m for _, m in events] == [
        StreamEvent("sub-9", "comment"),
        StreamUpdate("sub-9", "a", 2.5, "Good", "2026-01-01T00:00:01Z", 7),
        StreamEvent("sub-9", "comment"),
        StreamEvent("sub-9", "close", "{}"),
    ]
    directions = [r.sender for r in rows if r.finding]
    assert directions[:2] == [Sender.CLIENT, Sender.SERVER] and set(directions[5:]) == {Sender.SERVER}


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_any_split_gives_the_same_rows(tmp_path: Path, chunk: int) -> None:
    whole = messages(list(dissect(write_capture(tmp_path / "w.pcap", CONVERSATION), default_ports())))
    split = messages(list(dissect(write_capture(tmp_path / "s.pcap", CONVERSATION, chunk=chunk), default_ports())))
    assert split == whole and len(whole) == 10


def test_malformed_http_is_one_error_and_other_flows_still_dissect(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcap"
    with PcapRecorder(path) as recorder:
        bad = recorder.session(("10.0.0.1", 50001), ("10.0.0.2", 8080), timestamp=1.0)
        bad.record(Direction.OUT, b"NOT HTTP AT ALL\x00\x01\r\n\r\n" + request("GET", "/v1/info"), timestamp=1.0)
        good = recorder.session(("10.0.0.1", 50002), ("10.0.0.2", 8080), timestamp=2.0)
        good.record(Direction.OUT, request("GET", "/v1/info"), timestamp=2.0)
        good.record(Direction.IN, response(b'{"success":true,"result":{}}'), timestamp=2.1)
        bad.record(Direction.OUT, request("GET", "/v1/namespaces"), timestamp=3.0)
    rows = [r for r in dissect(path, default_ports()) if r.finding]
    errors = [r for r in rows if r.kind == "error"]
    assert len(errors) == 1 and errors[0].finding and "malformed HTTP" in (errors[0].finding.error or "")
    assert errors[0].sender is Sender.CLIENT
    decoded = [r.finding.message for r in rows if r.kind == "apdu" and r.finding]
    assert [type(m).__name__ for m in decoded] == ["HTTPRequest", "HTTPResponse"]


def test_bad_json_body_is_an_error_row_and_the_conversation_goes_on(tmp_path: Path) -> None:
    conversation = [
        (Direction.OUT, request("GET", "/v1/info")),
        (Direction.IN, response(b'{"success": tru')),
        (Direction.OUT, request("POST", "/v1/subscriptions/stream", {"subscriptionId": "s"})),
        (Direction.IN, sse(b"data: [1, 2\n\n", UPDATE)),
    ]
    found = messages(list(dissect(write_capture(tmp_path / "j.pcap", conversation), default_ports())))
    kinds = [kind for kind, _ in found]
    assert kinds == ["apdu", "error", "apdu", "apdu", "apdu", "error", "apdu"]
    assert "response body" in found[1][1] and "SSE event" in found[5][1]
    assert found[2][1].envelope == "other" and found[6][1].element_id == "a"


def test_a_gzip_body_that_is_not_gzip_ends_the_server_direction_with_one_error() -> None:
    dissector = I3XDissector()
    out = list(dissector.feed(Sender.CLIENT, request("GET", "/v1/info") + request("GET", "/v1/info")))
    bad = response(b"not gzip at all", "Content-Encoding: gzip")
    out += dissector.feed(Sender.SERVER, bad + response(b"{}"))
    assert [f.kind for f in out] == ["apdu", "apdu", "error"]
    assert list(dissector.feed(Sender.SERVER, b"more")) == []
    assert list(dissector.end(Sender.SERVER)) == []


def test_a_response_cut_by_the_end_of_the_stream_is_an_error() -> None:
    dissector = I3XDissector()
    list(dissector.feed(Sender.CLIENT, request("GET", "/v1/info")))
    assert list(dissector.feed(Sender.SERVER, response(b'{"success":true}')[:-3])) == []
    [finding] = dissector.end(Sender.SERVER)
    assert finding.kind == "error" and finding.sender is Sender.SERVER


def test_views_of_every_message_kind() -> None:
    rows = [
        HTTPRequest("POST", "/v1/objects/value", ("a",), ("s",), "c"),
        HTTPResponse(200, "OK", "POST", "/v1/objects/value", "bulk", False, 2, 1, "404", "no b"),
        StreamUpdate("s", "a", 1.5, "Good", "t", 3),
        StreamEvent("s", "close", "{}"),
    ]
    assert [VIEW.format(m) for m in rows] == ["REQ", "RSP", "SSE", "SSE"]
    assert [VIEW.type_name(m) for m in rows] == ["POST /v1/objects/value", "200", "update", "close"]
    for message in rows:
        cells = VIEW.cells(message)
        assert len(cells) == len(VIEW.columns)
        json.dumps(VIEW.json(message))
    assert VIEW.cells(rows[1])[3] == "bulk failed items=2 failures=1 code=404 'no b'"
    assert VIEW.json(rows[2])["sequence_number"] == 3 and VIEW.json(rows[0])["element_ids"] == ["a"]


def test_inspect_command_on_the_sample(capsys: pytest.CaptureFixture[str]) -> None:
    with resources.as_file(SAMPLE) as path:
        assert main(["inspect", "--no-summary", str(path)]) == 0
        table = capsys.readouterr().out
        assert main(["inspect", "--format", "jsonl", "--no-summary", str(path)]) == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "REQ POST   /v1/objects/value" in table and "bulk failed items=3 failures=1 code=404" in table
    assert "ERROR" not in table
    assert {r["protocol"] for r in records} == {"i3x"} and {r["kind"] for r in records} == {"apdu"}
    updates = [r for r in records if r["message"] == "update"]
    assert updates and updates[0]["subscription_id"] == "sub-1" and updates[0]["direction"] == "to_client"


def test_server_octets_without_any_request_are_bounded() -> None:
    dissector = I3XDissector()
    findings = list(dissector.feed(Sender.SERVER, b"x" * (MAX_UNANSWERED + 1)))
    assert [(f.kind, f.error) for f in findings] == [("error", "response without request")]
    assert list(dissector.feed(Sender.SERVER, b"more")) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([Sender.CLIENT, Sender.SERVER]), st.binary(max_size=40)), max_size=12),
    st.lists(st.integers(min_value=0, max_value=1000), max_size=6),
)
def test_mangled_conversations_never_crash(noise: list[tuple[Sender, bytes]], cuts: list[int]) -> None:
    """Any octets, and the conversation with octets dropped or noise mixed in, give findings only."""
    dissector = I3XDissector()
    script = [(Sender.CLIENT if d is Direction.OUT else Sender.SERVER, data) for d, data in CONVERSATION]
    for cut in cuts:
        k = cut % len(script)
        sender, data = script[k]
        script[k] = (sender, data[: cut % (len(data) + 1)] + data[cut % (len(data) + 1) + 1 :])
    found = []
    for sender, data in [*noise[: len(noise) // 2], *script, *noise[len(noise) // 2 :]]:
        found += dissector.feed(sender, data)
    found += [*dissector.end(Sender.CLIENT), *dissector.end(Sender.SERVER)]
    assert all(f.kind in ("apdu", "error") and f.sender is not None for f in found)
    assert all(f.message is not None for f in found if f.kind == "apdu")


def test_a_request_without_response_at_the_end_is_no_error() -> None:
    dissector = I3XDissector()
    [finding] = dissector.feed(Sender.CLIENT, request("GET", "/v1/info"))
    assert finding.kind == "apdu" and list(dissector.end(Sender.SERVER)) == []
    assert list(dissector.end(Sender.CLIENT)) == []
