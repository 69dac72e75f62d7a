"""The fast paths of IMB3 framing and decoding equal the general ones they stand in for.

``IMBFramer.receive_frames`` (whole frames cut straight from the fed octets) against
``receive_data`` then ``next_item``; ``decode_framed`` against ``decode_command``;
the inspect stream dissector's ``feed`` against the framer-and-decoder path it replaced;
``Reader``'s int32, uint32 and string reads against the checked reads they inline.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs import imb
from otwire.codecs.imb.codec import decode_framed
from otwire.codecs.imb.primitives import Reader
from otwire.errors import DecodeError
from otwire.inspect.imb import IMBStreamDissector
from otwire.inspect.records import Finding
from strategies.imb import MAGIC, TRAILER, mutated_frames, valid_frames

# A stream: valid and damaged frames, magic fragments and junk, in any order.
PIECES = st.lists(
    st.one_of(
        valid_frames(),
        mutated_frames(),
        st.sampled_from([MAGIC, MAGIC[:5], TRAILER, b"\x2f", b"xy"]),
        st.binary(max_size=30),
    ),
    max_size=8,
)
LIMITS = st.sampled_from([imb.MAX_PAYLOAD_SIZE, 0, 3, 40])


def cut(data: bytes, points: Iterable[int]) -> list[bytes]:
    """Split at ``points``; no empty pieces, since ``b""`` means end of stream."""
    edges = [0, *sorted(points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def general_items(chunks: list[bytes], limit: int) -> list[imb.FramerItem]:
    framer = imb.IMBFramer(max_payload_size=limit)
    items: list[imb.FramerItem] = []
    for chunk in chunks:
        framer.receive_data(chunk)
        items.extend(framer)
    framer.close()
    items.extend(framer)
    return items


def fast_items(chunks: list[bytes], limit: int, pull: list[bool]) -> list[imb.FramerItem]:
    """``receive_frames`` per chunk, the rest pulled with ``next_item`` (now or with a later chunk)."""
    framer = imb.IMBFramer(max_payload_size=limit)
    items: list[imb.FramerItem] = []
    for chunk, now in zip(chunks, itertools.cycle(pull or [True]), strict=False):
        for data, offset, code, length in framer.receive_frames(chunk):
            assert (code, length) == (
                int.from_bytes(data[8:12], "little", signed=True),
                len(data) - 20 if length else 0,
            )
            items.append(imb.FrameItem(imb.decode_frame(data), data, offset))
        if now:
            items.extend(framer)
    framer.close()
    items.extend(framer)
    return items


@given(PIECES, st.data(), LIMITS, st.lists(st.booleans(), max_size=4))
def test_receive_frames_equals_receive_data_for_any_split(
    pieces: list[bytes], data: st.DataObject, limit: int, pull: list[bool]
) -> None:
    stream = b"".join(pieces)
    chunks = cut(stream, data.draw(st.lists(st.integers(0, len(stream)), max_size=10), label="cuts"))
    assert fast_items(chunks, limit, pull) == general_items(chunks, limit)


def test_receive_frames_of_other_buffers_and_end_of_stream() -> None:
    frame = imb.encode_frame(-5, b"")
    framer = imb.IMBFramer()
    assert framer.receive_frames(bytearray(frame)) == []  # not bytes: buffered for next_item
    assert framer.buffered == len(frame)
    assert framer.receive_frames(frame) == []  # something buffered: appended
    assert [type(i) for i in framer] == [imb.FrameItem, imb.FrameItem]
    assert framer.receive_frames(b"") == [] and framer.next_item() is None  # b"" ends the stream
    framer.receive_frames(frame[:5])
    assert isinstance(framer.next_item(), imb.Junk)  # closed: a partial magic is junk


def decoded(frame: imb.Frame) -> imb.Command | tuple[str, int | None]:
    """``decode_command`` of a ``Frame``, as the dissector decoded each framer item (errors: into the payload)."""
    try:
        return imb.decode_command(frame)
    except DecodeError as exc:
        return (str(exc), exc.offset)


def framed(frame: bytes) -> imb.Command | tuple[str, int | None]:
    code = int.from_bytes(frame[8:12], "little", signed=True)
    try:
        return decode_framed(frame, code, len(frame) - 20 if len(frame) > 16 else 0)
    except DecodeError as exc:
        return (str(exc), exc.offset)


@given(st.one_of(valid_frames(), mutated_frames()))
def test_decode_framed_equals_decode_command(frame: bytes) -> None:
    try:
        whole = imb.decode_frame(frame)
    except DecodeError:
        return  # the framer never passes it on
    assert framed(frame) == decoded(whole)
    assert repr(framed(frame)) == repr(decoded(whole))


def general_findings(chunks: list[bytes]) -> list[Finding]:
    """The dissector as it was: the framer's items, each ``Frame`` through ``decode_command``."""
    framer = imb.IMBFramer()
    out: list[Finding] = []
    for chunk in [*chunks, None]:
        if chunk is None:
            framer.close()
        else:
            framer.receive_data(chunk)
        for item in framer:
            if isinstance(item, imb.FrameItem):
                result = decoded(item.frame)
                if isinstance(result, tuple):
                    out.append(Finding("error", item.offset, item.data, error=result[0], error_offset=result[1]))
                else:
                    out.append(Finding("apdu", item.offset, item.data, message=result))
            elif isinstance(item, imb.Junk):
                out.append(
                    Finding("junk", item.offset, item.data, error=f"{len(item.data)} octets before an IMB magic")
                )
            else:
                error = item.error
                out.append(Finding("error", item.offset, item.data, error=item.reason, error_offset=error.offset))
    return out


@given(PIECES, st.data())
def test_stream_dissector_equals_the_general_path(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    chunks = cut(stream, data.draw(st.lists(st.integers(0, len(stream)), max_size=10), label="cuts"))
    dissector = IMBStreamDissector()
    found = [f for chunk in chunks for f in dissector.feed(chunk)]
    found.extend(dissector.close())
    general = general_findings(chunks)
    assert found == general
    assert repr(found) == repr(general)  # enum members where the general path has them, not equal ints


# --- Reader: int32, uint32 and string without the checks' calls equal the checked reads ----------


def reference_int(r: Reader, fmt: str, what: str) -> int:
    value: int = struct.unpack_from(fmt, r.data, r._take(4, what))[0]
    return value


def reference_string(r: Reader) -> str:
    size = r._count("string length", 1)
    pos = r._take(size, "string")
    try:
        return r.data[pos : r.pos].decode()
    except UnicodeDecodeError as exc:
        raise DecodeError(f"invalid UTF-8: {exc.reason}", data=r.data, offset=pos + exc.start) from exc


def outcome(read: Callable[[Reader], object], data: bytes, pos: int, end: int) -> tuple[object, ...]:
    r = Reader(data, pos, end)
    try:
        return ("ok", read(r), r.pos)
    except DecodeError as exc:
        return ("error", str(exc), exc.offset, exc.data)


SIZED = st.one_of(
    st.binary(max_size=4), st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\x7f\xff\xff\xff"])
)


@given(
    st.lists(st.one_of(st.binary(max_size=12), st.text(max_size=6).map(str.encode), SIZED), max_size=4).map(b"".join),
    st.data(),
)
def test_reader_fast_reads_equal_the_checked_reads(data: bytes, draw: st.DataObject) -> None:
    end = draw.draw(st.integers(0, len(data)), label="end")
    pos = draw.draw(st.integers(0, end), label="pos")
    cases: list[tuple[Callable[[Reader], object], Callable[[Reader], object]]] = [
        (Reader.int32, lambda r: reference_int(r, "<i", "int32")),
        (Reader.uint32, lambda r: reference_int(r, "<I", "uint32")),
        (Reader.string, reference_string),
    ]
    for fast, general in cases:
        assert outcome(fast, data, pos, end) == outcome(general, data, pos, end)


@pytest.mark.parametrize(
    "data",
    [b"\x03\x00\x00\x00abc", b"\x03\x00\x00\x00a\xffc", b"\x04\x00\x00\x00abc", b"\xff\xff\xff\xffabc", b"\x00\x00"],
)
def test_reader_string_edges(data: bytes) -> None:
    assert outcome(Reader.string, data, 0, len(data)) == outcome(reference_string, data, 0, len(data))


@pytest.mark.parametrize("cuts", [[], [1], [17]])
def test_a_payload_error_points_into_the_payload_however_the_frame_arrives(cuts: list[int]) -> None:
    frame = imb.encode_frame(-54, b"\x01\x00\x00\x00")  # StatusEventPlus cut short after event_id
    dissector = IMBStreamDissector()
    found = [f for chunk in cut(frame, cuts) for f in dissector.feed(chunk)]
    with pytest.raises(DecodeError) as raised:
        imb.decode_command(imb.decode_frame(frame))
    assert [(f.kind, f.error, f.error_offset) for f in found] == [("error", str(raised.value), 4)]
    assert str(raised.value).endswith("at offset 4: 01 00 00 00 []")
