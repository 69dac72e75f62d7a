"""IMBFramer: length-based, split-independent, resynchronising, bounded (notes §2, §11)."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otwire.codecs import imb
from otwire.codecs.imb import JUNK_CHUNK, MAX_PAYLOAD_SIZE, FrameError, FrameItem, Junk
from otwire.errors import DecodeError, EncodeError
from strategies.imb import (
    MAGIC,
    TRAILER,
    StreamPart,
    expected_items,
    frame_octets,
    mutated_frames,
    streams,
    valid_frames,
)

HELLO = frame_octets(-15, bytes.fromhex("07000000 00000000 05000000 05000000 68656c6c6f".replace(" ", "")))
END = frame_octets(-5, b"")
INFO = frame_octets(-31, bytes.fromhex("7b000000 07000000 6d79206e616d65".replace(" ", "")))


def feed(pieces: Iterable[bytes], *, close: bool = True, **kwargs: int) -> list[imb.FramerItem]:
    """Feed ``pieces`` one by one, pulling items after each; then close."""
    framer = imb.IMBFramer(**kwargs)
    items: list[imb.FramerItem] = []
    for piece in pieces:
        framer.receive_data(piece)
        items.extend(framer)
    if close:
        framer.close()
        items.extend(framer)
        assert framer.buffered == 0
    return items


def joined(parts: list[StreamPart]) -> bytes:
    return b"".join(p.data for p in parts)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """Split at ``points``; no empty pieces, since ``b""`` means end of stream."""
    edges = [0, *sorted(points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def item(frame: bytes, offset: int) -> FrameItem:
    return FrameItem(imb.decode_frame(frame), frame, offset)


def covered(items: list[imb.FramerItem], stream: bytes) -> None:
    """The items are the stream, in order, with consistent offsets."""
    assert b"".join(i.data for i in items) == stream
    assert [i.offset for i in items] == [sum(len(x.data) for x in items[:k]) for k in range(len(items))]


# --- any split gives the same frames ------------------------------------------------------


@given(streams())
def test_whole_stream_gives_the_expected_items(parts: list[StreamPart]) -> None:
    assert feed([joined(parts)]) == expected_items(parts)


@given(streams(), st.data())
def test_any_split_gives_the_same_items(parts: list[StreamPart], data: st.DataObject) -> None:
    stream = joined(parts)
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    assert feed(cut(stream, points)) == expected_items(parts)


@given(streams(max_parts=5))
def test_byte_by_byte_gives_the_same_items(parts: list[StreamPart]) -> None:
    stream = joined(parts)
    assert feed(stream[k : k + 1] for k in range(len(stream))) == expected_items(parts)


@given(st.binary(max_size=300), st.data())
def test_any_split_of_arbitrary_octets(stream: bytes, data: st.DataObject) -> None:
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts")
    whole = feed([stream])
    assert feed(cut(stream, points)) == whole
    covered(whole, stream)


@given(st.lists(st.sampled_from([HELLO, END, INFO, MAGIC, MAGIC[:5], TRAILER, b"\x2f", b"xy"]), max_size=10), st.data())
def test_any_split_of_frames_and_magic_fragments(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=10), label="cuts")
    whole = feed([stream])
    assert feed(cut(stream, points)) == whole
    assert feed(stream[k : k + 1] for k in range(len(stream))) == whole
    covered(whole, stream)


def test_several_frames_in_one_read() -> None:
    stream = INFO + HELLO + END + HELLO
    assert feed([stream]) == [item(INFO, 0), item(HELLO, 35), item(END, 76), item(HELLO, 92)]


def test_every_strict_prefix_is_incomplete() -> None:
    for frame in (INFO, HELLO, END):
        for end in range(1, len(frame)):
            framer = imb.IMBFramer()
            framer.receive_data(frame[:end])
            assert framer.next_item() is None, end
            assert framer.buffered == end
            framer.receive_data(frame[end:])
            assert list(framer) == [item(frame, 0)]


# --- junk and resynchronisation -----------------------------------------------------------


def test_garbage_before_a_frame_is_reported_with_offset() -> None:
    """research notes §10 item 14: pyimb ignored the leading b'garbage'."""
    assert feed([b"garbage" + HELLO]) == [Junk(b"garbage", 0), item(HELLO, 7)]


def test_junk_between_frames_and_at_the_end() -> None:
    stream = END + b"\x00\x01" + INFO + b"tail"
    assert feed([stream]) == [item(END, 0), Junk(b"\x00\x01", 16), item(INFO, 18), Junk(b"tail", 53)]


def test_junk_waits_for_the_next_magic() -> None:
    framer = imb.IMBFramer()
    framer.receive_data(b"abc")
    assert framer.next_item() is None  # the run may continue
    framer.receive_data(b"d" + MAGIC[:3])
    assert framer.next_item() is None  # the magic may be starting
    framer.receive_data(MAGIC[3:] + END[8:])
    assert list(framer) == [Junk(b"abcd", 0), item(END, 4)]


def test_a_magic_prefix_that_goes_wrong_is_junk() -> None:
    stream = MAGIC[:5] + b"x" + END
    assert feed([stream]) == [Junk(MAGIC[:5] + b"x", 0), item(END, 6)]
    assert feed(stream[k : k + 1] for k in range(len(stream))) == [Junk(MAGIC[:5] + b"x", 0), item(END, 6)]


def test_zero_length_then_stray_octets() -> None:
    """notes §11.8: the stray octets are junk before the next magic."""
    assert feed([END + b"\x01\x02\x03" + END]) == [item(END, 0), Junk(b"\x01\x02\x03", 16), item(END, 19)]


def test_junk_in_chunks() -> None:
    junk = bytes(range(0x30, 0x80)) * 130  # 10 400 octets without 0x2f
    items = feed([junk + HELLO])
    sizes = [len(i.data) for i in items[:-1]]
    assert sizes == [JUNK_CHUNK, JUNK_CHUNK, len(junk) - 2 * JUNK_CHUNK]
    assert all(isinstance(i, Junk) for i in items[:-1])
    assert items[-1] == item(HELLO, len(junk))
    assert feed(cut(junk + HELLO, [100, 4097, 9000])) == items


def test_close_reports_a_partial_frame_and_finds_what_follows() -> None:
    framer = imb.IMBFramer()
    framer.receive_data(INFO + HELLO[:20])
    assert list(framer) == [item(INFO, 0)]
    assert framer.buffered == 20
    framer.close()
    error, junk = list(framer)
    assert isinstance(error, FrameError) and error.data == MAGIC and error.offset == 35
    assert "cut short" in error.reason
    assert junk == Junk(HELLO[8:20], 43)
    assert framer.next_item() is None


def test_partial_magic_at_close_is_junk() -> None:
    assert feed([MAGIC[:3]]) == [Junk(MAGIC[:3], 0)]
    assert feed([MAGIC[:3]], close=False) == []


def test_empty_data_means_end_of_stream() -> None:
    framer = imb.IMBFramer()
    framer.receive_data(b"\x2f")
    assert framer.next_item() is None
    framer.receive_data(b"")
    assert list(framer) == [Junk(b"\x2f", 0)]


def test_accepts_bytearray_and_memoryview() -> None:
    framer = imb.IMBFramer()
    framer.receive_data(bytearray(HELLO[:7]))
    framer.receive_data(memoryview(HELLO)[7:])
    assert list(framer) == [item(HELLO, 0)]


# --- framing errors lose no later frame -----------------------------------------------------


@pytest.mark.parametrize(
    ("length", "fragment"),
    [
        (-1, "negative -1"),
        (-(2**31), "negative"),
        (MAX_PAYLOAD_SIZE + 1, "exceeds 10485760: 10485761"),
        (2**31 - 1, "exceeds"),
    ],
)
def test_bad_length_is_reported_and_the_next_frame_found(length: int, fragment: str) -> None:
    header = MAGIC + struct.pack("<ii", -15, length)
    items = feed([header + HELLO])
    assert items[1:] == [Junk(header[8:], 8), item(HELLO, 16)]
    error = items[0]
    assert isinstance(error, FrameError)
    assert (error.data, error.offset) == (MAGIC, 0)
    assert fragment in error.reason
    assert isinstance(error.error, DecodeError)
    assert (error.error.offset, error.error.data) == (12, header)
    assert f"at offset 12: {header[:16].hex(' ')[:20]}" in str(error.error)


def test_wrong_trailer_is_reported_and_the_next_frame_found() -> None:
    bad = HELLO[:-4] + b"\x67\x34\xf1\x11"
    items = feed([bad + INFO])
    error = items[0]
    assert isinstance(error, FrameError)
    assert (error.data, error.offset) == (MAGIC, 0)
    assert "wrong trailer 67 34 f1 11" in error.reason
    assert (error.error.offset, error.error.data) == (len(bad) - 4, bad)
    assert items[1:] == [Junk(bad[8:], 8), item(INFO, len(bad))]


def test_a_frame_inside_an_overlong_announced_payload_is_found() -> None:
    """A header announcing 60 octets where only 5 follow: the real frames after it survive."""
    bad = MAGIC + struct.pack("<ii", -15, 60) + b"abcde" + TRAILER
    stream = bad + HELLO + END + b"\x00" * 40
    items = feed([stream])
    assert isinstance(items[0], FrameError)
    assert items[1:4] == [Junk(bad[8:], 8), item(HELLO, len(bad)), item(END, len(bad) + len(HELLO))]
    covered(items, stream)
    assert feed(stream[k : k + 1] for k in range(len(stream))) == items


def test_a_frame_starting_inside_a_bad_header_is_found() -> None:
    """A header cut after 4 octets of its code, then a real frame: the length reads as the magic."""
    stream = MAGIC + b"\xf1\xff\xff\xff" + HELLO
    items = feed([stream])
    assert isinstance(items[0], FrameError) and "exceeds" in items[0].reason
    assert items[1:] == [Junk(b"\xf1\xff\xff\xff", 8), item(HELLO, 12)]


def test_a_truncated_frame_does_not_hide_the_frames_after_it() -> None:
    """Announced length longer than the rest of the stream: at close the frames inside appear."""
    bad = MAGIC + struct.pack("<ii", -15, 500) + b"xy"
    stream = bad + INFO + END
    assert feed([stream], close=False) == []  # it may still be a 500-octet payload
    items = feed([stream])
    assert isinstance(items[0], FrameError) and "cut short" in items[0].reason
    assert items[1:] == [Junk(bad[8:], 8), item(INFO, len(bad)), item(END, len(bad) + len(INFO))]


def test_payload_containing_trailer_and_magic_is_carried_intact() -> None:
    body = b"\x00" * 8 + b"\x05\x00\x00\x00" + TRAILER + MAGIC + END + TRAILER
    frame = frame_octets(-15, body)
    items = feed([frame + HELLO])
    assert items == [item(frame, 0), item(HELLO, len(frame))]
    first = items[0]
    assert isinstance(first, FrameItem)
    assert first.frame.payload == body
    assert feed(cut(frame + HELLO, [20, 33, 37, 45])) == items


def test_next_frame_skips_junk_and_raises_without_losing_frames() -> None:
    bad = MAGIC + struct.pack("<ii", -15, -1)
    framer = imb.IMBFramer()
    framer.receive_data(b"junk" + INFO + bad + HELLO)
    assert framer.next_frame() == imb.decode_frame(INFO)
    with pytest.raises(DecodeError, match="negative"):
        framer.next_frame()
    assert framer.next_frame() == imb.decode_frame(HELLO)
    assert framer.next_frame() is None


# --- limits and bounded memory ------------------------------------------------------------


def test_exactly_ten_mib_is_accepted_and_one_more_is_not() -> None:
    payload = b"\x00" * MAX_PAYLOAD_SIZE
    frame = imb.encode_frame(-15, payload)
    assert len(frame) == MAX_PAYLOAD_SIZE + 20
    assert imb.decode_frame(frame).payload == payload
    framer = imb.IMBFramer()
    framer.receive_data(frame)
    got = framer.next_item()
    assert isinstance(got, FrameItem) and len(got.frame.payload) == MAX_PAYLOAD_SIZE
    with pytest.raises(EncodeError, match="exceeds"):
        imb.encode_frame(-15, payload + b"\x00")
    header = MAGIC + struct.pack("<ii", -15, MAX_PAYLOAD_SIZE + 1)
    framer.receive_data(header)
    assert isinstance(framer.next_item(), FrameError)  # decided from the header alone


def test_smaller_payload_limit() -> None:
    framer_items = feed([INFO, HELLO], max_payload_size=20)
    assert framer_items[0] == item(INFO, 0)  # 15 octets of payload
    assert isinstance(framer_items[1], FrameError) and "exceeds 20: 21" in framer_items[1].reason
    with pytest.raises(EncodeError):
        imb.IMBFramer(max_payload_size=MAX_PAYLOAD_SIZE + 1)


def test_memory_is_bounded_on_endless_junk() -> None:
    piece = bytes(range(0x30, 0xB0)) * 8  # 1 KiB without 0x2f
    framer = imb.IMBFramer()
    total = 0
    for _ in range(1024):  # 1 MiB
        framer.receive_data(piece)
        assert framer.buffered <= JUNK_CHUNK + 7 + len(piece)
        for got in framer:
            assert isinstance(got, Junk)
            assert got.offset == total
            assert len(got.data) <= JUNK_CHUNK
            total += len(got.data)
        assert framer.buffered < JUNK_CHUNK + 7
    framer.close()
    total += sum(len(got.data) for got in framer)
    assert total == 1024 * len(piece)


def test_memory_is_bounded_by_one_maximal_frame() -> None:
    header = MAGIC + struct.pack("<ii", -15, MAX_PAYLOAD_SIZE)
    framer = imb.IMBFramer()
    framer.receive_data(header)
    piece = b"\x00" * (1024 * 1024)
    for _ in range(10):
        assert framer.next_item() is None
        framer.receive_data(piece)
        assert framer.buffered <= len(header) + MAX_PAYLOAD_SIZE + 4
    framer.receive_data(TRAILER + END)
    assert framer.buffered == len(header) + MAX_PAYLOAD_SIZE + 4 + len(END)
    got = framer.next_item()
    assert isinstance(got, FrameItem) and got.offset == 0
    assert framer.buffered == len(END)


# --- split_frames (the hub's fast path) cuts exactly what IMBFramer cuts --------------------------------------------


def framer_view(data: bytes) -> tuple[list[bytes], int, str | None]:
    framer = imb.IMBFramer()
    framer.receive_data(data)
    frames, junk = [], 0
    for item in framer:
        if isinstance(item, FrameItem):
            frames.append(item.data)
        elif isinstance(item, Junk):
            junk += len(item.data)
        else:
            return frames, junk, item.reason
    return frames, junk, None


@given(
    st.lists(st.one_of(valid_frames(), mutated_frames(), st.binary(max_size=30)), max_size=8),
    st.lists(st.integers(1, 200), max_size=10),
)
@settings(max_examples=300)
def test_split_frames_matches_the_codec_framer_for_any_split(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    expected_frames, expected_junk, expected_error = framer_view(data)
    rx = bytearray()
    frames: list[bytes] = []
    junk, error, at = 0, None, 0
    for size in [*cuts, len(data)]:
        piece, at = data[at : at + size], at + size
        rx += piece
        got, skipped, err = imb.split_frames(rx, MAX_PAYLOAD_SIZE)
        frames += [bytes(f) for f in got]
        junk += skipped
        if err is not None:
            error = err.reason
            break
    assert frames == expected_frames and error == expected_error
    if error is None:
        assert junk == expected_junk


@given(streams())
def test_split_frames_octet_by_octet(parts: list[StreamPart]) -> None:
    data = b"".join(p.data for p in parts)
    rx = bytearray()
    frames = []
    for i in range(len(data)):
        rx += data[i : i + 1]
        got, _, error = imb.split_frames(rx, MAX_PAYLOAD_SIZE)
        assert error is None
        frames += [bytes(f) for f in got]
    assert frames == [p.data for p in parts if p.kind == "frame"]
