"""APDUFramer: the items do not depend on how the stream is split (h11 two-mode feeding).

The connection engine frames with the same rule (``framing.apdu_size``); a differential
test at the end proves that it cuts the same APDUs for any split.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine_pair import single
from hypothesis import given
from hypothesis import strategies as st

from helpers import drain, splits
from otwire.codecs import iec104 as c
from otwire.codecs.iec104.framing import JUNK_CHUNK, FramerItem
from otwire.errors import DecodeError
from otwire.protocols.iec104 import FrameReceived, IEC104Connection, Role, State
from strategies.iec104 import StreamPart, expected_items, streams

GI = bytes.fromhex("680e00000000640106002f0000000014")
TESTFR = bytes.fromhex("680443000000")
STARTDT_ACT = bytes.fromhex("680407000000")


def feed(pieces: Iterable[bytes], *, close: bool = True) -> list[FramerItem]:
    """Feed ``pieces`` one by one, pulling items after each; then close."""
    framer = c.APDUFramer()
    items: list[FramerItem] = []
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
    """:func:`helpers.splits` without empty pieces, since ``b""`` means end of stream."""
    return [piece for piece in splits(data, points) if piece]


@given(streams())
def test_whole_stream_gives_the_expected_items(parts: list[StreamPart]) -> None:
    assert feed([joined(parts)]) == expected_items(parts)


@given(streams(), st.data())
def test_any_split_gives_the_same_items(parts: list[StreamPart], data: st.DataObject) -> None:
    stream = joined(parts)
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    assert feed(cut(stream, points)) == feed([stream])


@given(streams())
def test_byte_by_byte_gives_the_same_items(parts: list[StreamPart]) -> None:
    stream = joined(parts)
    assert feed(stream[k : k + 1] for k in range(len(stream))) == expected_items(parts)


@given(st.binary(max_size=400), st.data())
def test_any_split_of_arbitrary_octets(stream: bytes, data: st.DataObject) -> None:
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts")
    whole = feed([stream])
    assert feed(cut(stream, points)) == whole
    assert b"".join(item.data for item in whole) == stream
    offsets = [item.offset for item in whole]
    assert offsets == [sum(len(i.data) for i in whole[:k]) for k in range(len(whole))]


def test_junk_before_a_frame_has_its_length_and_offset() -> None:
    items = feed([TESTFR + b"\x00\x01\x02" + GI])
    assert items == [c.RawAPDU(TESTFR, 0), c.Junk(b"\x00\x01\x02", 6), c.RawAPDU(GI, 9)]


def test_junk_waits_for_the_next_start_octet() -> None:
    framer = c.APDUFramer()
    framer.receive_data(b"\x01\x02\x03")
    assert framer.next_item() is None  # the run may continue
    framer.receive_data(b"\x04" + TESTFR)
    assert list(framer) == [c.Junk(b"\x01\x02\x03\x04", 0), c.RawAPDU(TESTFR, 4)]


def test_bad_length_is_skipped_and_the_next_frame_found() -> None:
    for length in (0, 1, 2, 3, 254, 255):
        bad = bytes([0x68, length]) + b"\x68" * length  # skipped octets may even look like starts
        assert feed([bad + GI]) == [c.LengthError(length, bad, 0), c.RawAPDU(GI, len(bad))]


def test_bad_length_at_end_of_stream() -> None:
    assert feed([b"\x68\xff\x01"]) == [c.LengthError(255, b"\x68\xff\x01", 0)]
    assert feed([b"\x68\xff\x01"], close=False) == []


def test_junk_in_chunks() -> None:
    junk = bytes(range(0x69, 0x69 + 100)) * 100  # 10 000 octets without 0x68
    items = feed([junk + GI])
    sizes = [len(item.data) for item in items[:-1]]
    assert sizes == [JUNK_CHUNK, JUNK_CHUNK, len(junk) - 2 * JUNK_CHUNK]
    assert all(isinstance(item, c.Junk) for item in items[:-1])
    assert [item.offset for item in items] == [0, JUNK_CHUNK, 2 * JUNK_CHUNK, len(junk)]
    assert items[-1] == c.RawAPDU(GI, len(junk))


def test_close_flushes_a_partial_frame_as_junk() -> None:
    framer = c.APDUFramer()
    framer.receive_data(TESTFR + GI[:5])
    assert list(framer) == [c.RawAPDU(TESTFR, 0)]
    assert framer.buffered == 5
    framer.close()
    assert list(framer) == [c.Junk(GI[:5], 6)]
    assert framer.next_item() is None


def test_empty_data_means_end_of_stream() -> None:
    framer = c.APDUFramer()
    framer.receive_data(b"\x68")
    assert framer.next_item() is None
    framer.receive_data(b"")
    assert list(framer) == [c.Junk(b"\x68", 0)]


def test_accepts_bytearray_and_memoryview() -> None:
    framer = c.APDUFramer()
    framer.receive_data(bytearray(GI[:7]))
    framer.receive_data(memoryview(GI)[7:])
    assert list(framer) == [c.RawAPDU(GI, 0)]
    assert type(framer.next_item()) is type(None)


def test_real_capture_with_junk_and_bad_lengths() -> None:
    # One TCP direction of TestDissectIec104.pcap (ITI, CC BY 4.0), items worked out by hand.
    stream = bytes.fromhex(
        "680407000000 0001 68020268 001212 680443000000 030303 680113 131304040404 68021414 14"
        " 680443000000 0505050505 6803151515 15060606060606 680416161616 1616"
    )
    expected = [
        c.RawAPDU(bytes.fromhex("680407000000"), 0),
        c.Junk(bytes.fromhex("0001"), 6),
        c.LengthError(2, bytes.fromhex("68020268"), 8),
        c.Junk(bytes.fromhex("001212"), 12),
        c.RawAPDU(TESTFR, 15),
        c.Junk(bytes.fromhex("030303"), 21),
        c.LengthError(1, bytes.fromhex("680113"), 24),
        c.Junk(bytes.fromhex("131304040404"), 27),
        c.LengthError(2, bytes.fromhex("68021414"), 33),
        c.Junk(bytes.fromhex("14"), 37),
        c.RawAPDU(TESTFR, 38),
        c.Junk(bytes.fromhex("0505050505"), 44),
        c.LengthError(3, bytes.fromhex("6803151515"), 49),
        c.Junk(bytes.fromhex("15060606060606"), 54),
        c.RawAPDU(bytes.fromhex("680416161616"), 61),  # framed, but an I-frame without ASDU
        c.Junk(bytes.fromhex("1616"), 67),
    ]
    assert feed([stream]) == expected
    assert feed(stream[k : k + 1] for k in range(len(stream))) == expected


def test_memory_is_bounded_on_endless_junk() -> None:
    piece = bytes(range(0x69, 0x69 + 128)) * 8  # 1 KiB without 0x68
    framer = c.APDUFramer()
    total = 0
    for _ in range(1024):  # 1 MiB
        framer.receive_data(piece)
        assert framer.buffered <= JUNK_CHUNK + len(piece)
        for item in framer:
            assert isinstance(item, c.Junk)
            assert item.offset == total
            assert len(item.data) <= JUNK_CHUNK
            total += len(item.data)
        assert framer.buffered < JUNK_CHUNK
    framer.close()
    total += sum(len(item.data) for item in framer)
    assert total == 1024 * len(piece)


# --- the engine frames with the same rule (framing.apdu_size) -----------------------------

_FRAME_KINDS = st.lists(st.sampled_from(["i", "s", "testfr", "startdt"]), max_size=12)
#: What follows the valid frames: nothing, a partial APDU, a bad start octet, a bad length.
_TAILS = st.one_of(
    st.just(b""),
    st.integers(1, len(GI) - 1).map(lambda n: GI[:n]),
    st.binary(min_size=1, max_size=12).filter(lambda b: b[0] != 0x68),
    st.tuples(st.sampled_from([0, 1, 2, 3, 254, 255]), st.binary(max_size=12)).map(
        lambda t: bytes([0x68, t[0]]) + t[1]
    ),
)


def _valid_frames(kinds: list[str]) -> list[bytes]:
    """Frames a started controlled station accepts in any order (I-frames numbered 0, 1, ...)."""
    frames, ns = [], 0
    for kind in kinds:
        if kind == "i":
            frames.append(c.encode_iframe(ns, 0, c.encode_asdu(single(ns))))
            ns += 1
        else:
            frames.append({"s": c.encode_sframe(0), "testfr": TESTFR, "startdt": STARTDT_ACT}[kind])
    return frames


def _started_controlled() -> IEC104Connection:
    conn = IEC104Connection(Role.CONTROLLED, now=0.0, report_frames=True)
    conn.receive_data(STARTDT_ACT, 0.0)
    drain(conn)
    return conn


@given(_FRAME_KINDS, _TAILS, st.data())
def test_engine_frames_as_the_framer_for_any_split(kinds: list[str], tail: bytes, data: st.DataObject) -> None:
    """Differential: the engine sees the framer's APDUs, and fails at once where the framer resynchronises."""
    stream = b"".join(_valid_frames(kinds)) + tail
    framer_items = feed([stream], close=False)
    cut_at = next((k for k, item in enumerate(framer_items) if not isinstance(item, c.RawAPDU)), len(framer_items))
    expected = [item.data for item in framer_items[:cut_at]]
    broken = bool(tail) and (tail[0] != 0x68 or (len(tail) > 1 and not 4 <= tail[1] <= 253))
    bad_octet = len(stream) - len(tail) + (0 if tail[:1] != b"\x68" else 1)  # the start or the L octet

    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    conn, fed, error_at = _started_controlled(), 0, None
    for piece in cut(stream, points):
        try:
            conn.receive_data(piece, 1.0)
        except DecodeError:
            error_at = fed + len(piece)
            break
        fed += len(piece)
    received = [e.data for e in drain(conn) if isinstance(e, FrameReceived)]
    assert received == expected
    if broken:
        assert error_at is not None and error_at - len(piece) <= bad_octet < error_at  # in the call that brought it
        assert conn.state is State.CLOSED
    else:
        assert error_at is None
        assert conn.state is State.STARTED


def fed(pieces: Iterable[bytes]) -> list[FramerItem]:
    """As :func:`feed`, through :meth:`APDUFramer.feed` (its fast path for whole APDUs)."""
    framer = c.APDUFramer()
    items: list[FramerItem] = []
    for piece in pieces:
        items.extend(framer.feed(piece))
    framer.close()
    items.extend(framer)
    assert framer.buffered == 0
    return items


@given(streams(), st.data())
def test_feed_equals_receive_and_pull_for_any_split(parts: list[StreamPart], data: st.DataObject) -> None:
    stream = joined(parts)
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    assert fed(cut(stream, points)) == feed(cut(stream, points))


@given(st.binary(max_size=400), st.data())
def test_feed_equals_receive_and_pull_on_arbitrary_octets(stream: bytes, data: st.DataObject) -> None:
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts")
    pieces = cut(stream, points)
    assert fed(pieces) == feed(pieces)
    assert fed([bytearray(p) for p in pieces]) == feed(pieces)


def test_feed_cuts_whole_apdus_in_place() -> None:
    framer = c.APDUFramer()
    assert framer.feed(GI + TESTFR) == [c.RawAPDU(GI, 0), c.RawAPDU(TESTFR, len(GI))]
    assert framer.buffered == 0
    assert framer.feed(GI[:3]) == []
    assert framer.feed(GI[3:] + b"\x00") == [c.RawAPDU(GI, len(GI) + 6)]
    assert framer.buffered == 1
