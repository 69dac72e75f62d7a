"""SSEParser (WHATWG event-stream rules) and the SSE -> i3X update mapping (notes §5)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import feed_split, splits
from otwire.codecs import i3x
from otwire.codecs.i3x import SSEEvent, SSEParser, StreamClosed, StreamUpdates, UnknownStreamEvent, map_event
from otwire.errors import DecodeError, InvalidState
from strategies.i3x import sse_streams

from .vectors import load


def reference(stream: bytes) -> list[SSEEvent]:
    """A direct reading of the WHATWG algorithm on the whole stream (independent of the parser)."""
    text = stream.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    lines = re.split("\r\n|\r|\n", text)[:-1]  # the last piece has no line end: discarded at EOF
    events, data, kind, last_id = [], [], "", ""
    for line in lines:
        if line == "":
            if data:
                events.append(SSEEvent("\n".join(data), kind or "message", last_id))
            data, kind = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if ":" in line and value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value
        elif name == "id" and "\0" not in value:
            last_id = value
    return events


def parse(stream: bytes, points: list[int] | None = None) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = feed_split(parser.feed, stream, points)
    return events + parser.close()


@given(sse_streams(), st.lists(st.integers(0, 400), max_size=8))
def test_any_split_gives_the_same_events(stream: bytes, points: list[int]) -> None:
    whole = parse(stream, [])
    assert parse(stream, points) == whole
    assert parse(stream) == whole  # octet by octet
    assert whole == reference(stream)


@given(sse_streams(), st.lists(st.integers(0, 400), max_size=8))
def test_retry_and_id_do_not_depend_on_the_split(stream: bytes, points: list[int]) -> None:
    one, two = SSEParser(), SSEParser()
    one.feed(stream)
    for piece in splits(stream, points):
        two.feed(piece)
    assert (one.retry, one.last_event_id, one.comments) == (two.retry, two.last_event_id, two.comments)


def test_cr_ending_a_chunk_and_lf_starting_the_next_are_one_line_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n") == []  # CRLF split: still one line end, no blank line yet
    assert parser.feed(b"\n") == [SSEEvent("a")]


def test_crlf_ending_a_chunk_then_lf_is_a_blank_line() -> None:
    for parser in (SSEParser(), GeneralParser()):
        assert parser.feed(b"data: a\r\n") == []
        assert parser.feed(b"\n") == [SSEEvent("a")]  # the CRLF was complete: this LF is a blank line


def test_cr_then_other_octet_is_a_line_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\rdata: b\r") == [SSEEvent("a")]  # the CR after a CR is a blank line
    assert parser.feed(b"") == []
    assert parser.feed(b"\n") == []  # the LF right after the CR belongs to its line end
    assert parser.feed(b"\n") == [SSEEvent("b")]


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data: a\ndata:b\ndata\n\n", [SSEEvent("a\nb\n")]),
        (b"data:  two spaces\n\n", [SSEEvent(" two spaces")]),
        (b": comment\nevent: close\ndata: {}\n\n", [SSEEvent("{}", "close")]),
        (b"event: x\n\ndata: y\n\n", [SSEEvent("y")]),  # no data: not dispatched, type reset
        (b"id: 7\ndata: a\n\ndata: b\n\n", [SSEEvent("a", last_event_id="7"), SSEEvent("b", last_event_id="7")]),
        (b"id: 7\n\nid: 8\x00\ndata: a\n\n", [SSEEvent("a", last_event_id="7")]),
        (b"\xef\xbb\xbfdata: a\n\n", [SSEEvent("a")]),
        (b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", []),  # only one BOM is skipped
        (b"data: a\r\n\r\ndata: b\r\rdata: c\n\n", [SSEEvent("a"), SSEEvent("b"), SSEEvent("c")]),
        (b"data: \xff\n\n", [SSEEvent("\ufffd")]),
        (b"event\ndata: a\n\n", [SSEEvent("a")]),  # "event" without colon: empty type -> message
        (b"data: unfinished\n", []),
    ],
)
def test_rules(stream: bytes, expected: list[SSEEvent]) -> None:
    assert parse(stream, []) == expected
    assert parse(stream) == expected


def test_retry_takes_digits_only() -> None:
    parser = SSEParser()
    parser.feed(b"retry: 1500\n")
    assert parser.retry == 1500
    parser.feed(b"retry: 15a\nretry: -1\nretry\nretry: \xd9\xa1\n")
    assert parser.retry == 1500


def test_comments_are_counted() -> None:
    parser = SSEParser()
    parser.feed(b": connected\n\n: keepalive\n\n")
    assert parser.comments == 2


def test_bom_split_across_chunks() -> None:
    assert parse(b"\xef\xbb\xbfdata: a\n\n", [1, 2, 3]) == [SSEEvent("a")]
    assert parse(b"\xefdata\n\n", [1]) == []  # not a BOM: the octet is part of a field name


def test_long_line_is_a_decode_error() -> None:
    parser = SSEParser(max_line=8)
    parser.feed(b"data: 12")
    with pytest.raises(DecodeError, match="longer than 8 octets"):
        parser.feed(b"3")
    with pytest.raises(DecodeError, match="longer than 8 octets"):
        SSEParser(max_line=8).feed(b"data: 123456\n")


def test_long_data_is_a_decode_error() -> None:
    parser = SSEParser(max_data=8)
    parser.feed(b"data: 1234\n")
    with pytest.raises(DecodeError, match="longer than 8 characters"):
        parser.feed(b"data: 5678\n")
    with pytest.raises(InvalidState):  # a parser that failed stays failed
        parser.feed(b"\n")


def test_close_discards_and_feed_after_close_is_refused() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\n") == []
    assert parser.close() == []
    with pytest.raises(InvalidState):
        parser.feed(b"\n")


# --- mapping to i3X updates ---------------------------------------------------------


def test_message_list_maps_to_changes() -> None:
    item = map_event(SSEEvent('[{"elementId":"a","value":1,"quality":"Good","timestamp":"t","sequenceNumber":9}]'))
    assert item == StreamUpdates([i3x.ValueChange("a", 1, "Good", "t", None, 9)])


def test_bare_object_and_empty_object_and_blank_data() -> None:
    assert map_event(SSEEvent('{"elementId":"a","value":2}')) == StreamUpdates([i3x.ValueChange("a", 2)])
    assert map_event(SSEEvent("{}")) == StreamUpdates([])
    assert map_event(SSEEvent("")) == StreamUpdates([])
    assert map_event(SSEEvent("[]")) == StreamUpdates([])


def test_close_and_unknown_types() -> None:
    close = SSEEvent("{}", "close")
    assert map_event(close) == StreamClosed(close)
    other = SSEEvent("not json", "ping")
    assert map_event(other) == UnknownStreamEvent(other)


@pytest.mark.parametrize("vector", load("sse"), ids=lambda v: v["name"])
def test_server_streams(vector: dict[str, str]) -> None:
    stream = vector["stream"].encode()
    items = [map_event(event) for event in parse(stream)]
    assert items == [map_event(event) for event in parse(stream, [])]
    changes = [c for item in items if isinstance(item, StreamUpdates) for c in item.changes]
    assert changes and all(change.element_id for change in changes)
    if vector["name"] == "i3x2ua-close":
        assert isinstance(items[-1], StreamClosed)
        assert [c.sequence_number for c in changes] == [7, 8]
        assert changes[1].value is None and changes[1].quality == "Bad"
    if vector["name"] == "node-i3x-nested":
        assert changes[0].value["value"] == 35.39 and changes[0].sequence_number == 3
        assert changes[0].parsed_timestamp.microsecond == 123000


# --- the LF-only fast path against the general path ---------------------------------


class GeneralParser(SSEParser):
    """The parser with its LF-only fast path turned off (every buffer takes the general path)."""

    def _lf_lines(self, source: bytes | bytearray | None = None) -> list[SSEEvent] | None:
        return None


def run(
    parser: SSEParser, stream: bytes, points: list[int], wrap: Callable[[bytes], bytes | bytearray] = bytes
) -> tuple[object, ...]:
    """Everything observable of one parse: events, the error (type, message, data), then the state.

    ``wrap`` gives each piece its type (``bytearray``: as h11 hands a body over).
    """
    events: list[SSEEvent] = []
    error: tuple[object, ...] = ()
    try:
        for piece in splits(stream, points):
            events += parser.feed(wrap(piece))
    except DecodeError as exc:
        error = (str(exc), exc.data)
    return events, error, parser.retry, parser.last_event_id, parser.comments


def lf_only(stream: bytes) -> bytes:
    return stream.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


#: Pieces that make awkward streams: field prefixes, both line ends, bad UTF-8, NUL, spaces.
ATOMS = st.sampled_from(
    [b"data:", b"data", b"data: ", b"event:", b"id:", b"retry:", b":", b" ", b"x", b"7", b"\n", b"\r", b"\xff", b"\0"]
)
ODD_STREAMS = st.lists(ATOMS, max_size=40).map(b"".join)
LIMITS = st.sampled_from([(1 << 20, 4 << 20), (8, 1 << 20), (1 << 20, 6), (5, 4)])


@given(st.one_of(sse_streams(), ODD_STREAMS), st.lists(st.integers(0, 400), max_size=8), LIMITS)
def test_fast_path_equals_general_path_on_lf_only_streams(
    stream: bytes, points: list[int], limits: tuple[int, int]
) -> None:
    stream = lf_only(stream)
    max_line, max_data = limits
    fast = run(SSEParser(max_line=max_line, max_data=max_data), stream, points)
    general = run(GeneralParser(max_line=max_line, max_data=max_data), stream, points)
    assert fast == general


@given(st.one_of(sse_streams(), ODD_STREAMS), st.lists(st.integers(0, 400), max_size=8), LIMITS)
def test_fast_path_equals_general_path_on_mixed_streams(
    stream: bytes, points: list[int], limits: tuple[int, int]
) -> None:
    max_line, max_data = limits
    fast = run(SSEParser(max_line=max_line, max_data=max_data), stream, points)
    general = run(GeneralParser(max_line=max_line, max_data=max_data), stream, points)
    assert fast == general


LONG_STREAMS = st.lists(st.sampled_from([b"data: ", b"id: 7", b"x" * 300, b"[1]" * 120, b"\n", b"\n\n"]), max_size=30)


@given(LONG_STREAMS.map(b"".join), st.lists(st.integers(0, 4000), max_size=6), LIMITS)
def test_fast_path_equals_general_path_with_long_lines(
    stream: bytes, points: list[int], limits: tuple[int, int]
) -> None:
    max_line, max_data = limits
    fast = run(SSEParser(max_line=max_line, max_data=max_data), stream, points)
    general = run(GeneralParser(max_line=max_line, max_data=max_data), stream, points)
    assert fast == general


#: Events with long ``data`` lines (decoded from a view by the fast path), also bad UTF-8.
LONG_DATA = st.lists(
    st.sampled_from(
        [
            b"data: " + b"x" * 300,
            b"data:" + b"[1]" * 120,
            b"data: " + "é".encode() * 200 + b"\xff",
            b"id: 7",
            b"",
            b": c",
        ]
    ),
    max_size=12,
).map(lambda lines: b"\n".join(lines) + b"\n\n")
WIDE_LIMITS = st.sampled_from([(1 << 20, 4 << 20), (350, 1 << 20), (1 << 20, 700), (5, 4)])


@given(
    st.one_of(LONG_DATA, LONG_STREAMS.map(b"".join), ODD_STREAMS, sse_streams()),
    st.lists(st.integers(0, 4000), max_size=6),
    WIDE_LIMITS,
)
def test_fast_path_on_bytearray_pieces_equals_general_path(
    stream: bytes, points: list[int], limits: tuple[int, int]
) -> None:
    """The fast path cuts long lines out of a fed ``bytearray`` as it is and decodes data from a view."""
    max_line, max_data = limits
    fast = run(SSEParser(max_line=max_line, max_data=max_data), stream, points, bytearray)
    general = run(GeneralParser(max_line=max_line, max_data=max_data), stream, points)
    assert fast == general


def test_fast_path_reports_limits_like_the_general_path() -> None:
    for parser in (SSEParser(max_line=8), GeneralParser(max_line=8)):
        with pytest.raises(DecodeError, match="line at stream offset 4 longer than 8 octets"):
            parser.feed(b"a\n\n\ndata: 123456\n")
    for parser in (SSEParser(max_data=6), GeneralParser(max_data=6)):
        with pytest.raises(DecodeError, match=r"longer than 6 characters \(line at stream offset 17\)"):
            parser.feed(b"data: 1234\nid: 1\ndata: 5\n")


def test_fast_path_keeps_state_across_chunks_with_and_without_cr() -> None:
    parser = SSEParser()
    assert parser.feed(b"id: 1\nretry: 20\ndata: a\n") == []  # fast path
    assert parser.feed(b"data: b\r\n") == []  # general path
    assert parser.feed(b"\ndata: c\n\n") == [SSEEvent("a\nb", last_event_id="1"), SSEEvent("c", last_event_id="1")]
    assert parser.feed(b"data: d\r") == []  # a lone CR at the end: the next LF belongs to it
    assert parser.feed(b"\n\n") == [SSEEvent("d", last_event_id="1")]
    assert (parser.retry, parser.comments) == (20, 0)


# --- map_event's direct decode keeps the errors of the generic decode -----------------


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        ('[{"elementId":"a","value":1,"quality":"Good","timestamp":"t"},{"elementId":3}]', r"\$\[1\]\.elementId", 0),
        ('[{"elementId":"\u00e9","value":[1,', "not JSON", 30),  # truncated: offset in octets (29 characters)
        ("[1]", r"\$\[0\]", 0),
    ],
)
def test_bad_list_data_keeps_the_json_path_and_octet_offset(data: str, message: str, offset: int) -> None:
    with pytest.raises(DecodeError, match=message) as caught:
        map_event(SSEEvent(data))
    assert caught.value.data == data.encode()
    assert caught.value.offset == offset


def test_lone_surrogate_in_list_data_fails_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):  # as the encode of the generic path always did
        map_event(SSEEvent('[{"elementId":"\ud800"}]'))


@given(st.lists(st.builds(i3x.ValueChange, element_id=st.text(max_size=4), value=st.integers() | st.text(max_size=4))))
def test_direct_list_decode_equals_the_generic_decode(changes: list[i3x.ValueChange]) -> None:
    text = i3x.encode(changes).decode()
    assert map_event(SSEEvent(text)) == StreamUpdates(i3x.decode(text.encode(), list[i3x.ValueChange]))
    assert map_event(SSEEvent(" " + text)) == map_event(SSEEvent(text))  # leading blank: the generic path


def test_fast_built_objects_are_the_frozen_dataclasses() -> None:
    event = SSEParser().feed(b"id: 1\nevent: x\ndata: [1]\n\n")[0]
    item = map_event(SSEEvent('[{"elementId":"a"}]'))
    for made, normal in ((event, SSEEvent("[1]", "x", "1")), (item, StreamUpdates([i3x.ValueChange("a")]))):
        assert type(made) is type(normal) and made == normal and repr(made) == repr(normal)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, dataclasses.fields(made)[0].name, None)
    assert hash(event) == hash(SSEEvent("[1]", "x", "1"))
