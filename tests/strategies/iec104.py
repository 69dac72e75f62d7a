"""Hypothesis strategies for IEC 60870-5-104 messages, frames and byte streams.

Messages are built with the public constructors only, so a round trip through
the codec checks the codec against the constructors. Sizes come from
``ELEMENT_SIZE`` below, copied from the type identification table of the
research notes (lib60870 ``getElementDataSize`` = Wireshark ``asdu_length``),
not from the codec, so the tests also check ``LAYOUTS`` against it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hypothesis import strategies as st

from otwire.codecs import iec104 as c
from otwire.codecs.iec104 import elements as el

St = st.SearchStrategy

START = 0x68
HEADER = 6  # ASDU data unit identifier octets
IOA = 3
MAX_ASDU = 249
MAX_INFORMATION = MAX_ASDU - HEADER  # 243

#: Information-element octets per object (without the IOA); ``None`` = variable (F_SG_NA_1).
ELEMENT_SIZE: dict[int, int | None] = {
    1: 1, 2: 4, 3: 1, 4: 4, 5: 2, 6: 5, 7: 5, 8: 8, 9: 3, 10: 6, 11: 3, 12: 6, 13: 5, 14: 8,
    15: 5, 16: 8, 17: 6, 18: 7, 19: 7, 20: 5, 21: 2,
    30: 8, 31: 8, 32: 9, 33: 12, 34: 10, 35: 10, 36: 12, 37: 12, 38: 10, 39: 11, 40: 11,
    45: 1, 46: 1, 47: 1, 48: 3, 49: 3, 50: 5, 51: 4,
    58: 8, 59: 8, 60: 8, 61: 10, 62: 10, 63: 12, 64: 11,
    70: 1,
    100: 1, 101: 1, 102: 0, 103: 7, 104: 2, 105: 1, 106: 2, 107: 9,
    110: 3, 111: 3, 112: 5, 113: 1,
    120: 6, 121: 7, 122: 4, 123: 5, 124: 4, 125: None, 126: 13, 127: 16,
}  # fmt: skip
KNOWN_TYPE_IDS = sorted(ELEMENT_SIZE)
UNKNOWN_TYPE_IDS = [t for t in range(256) if t not in ELEMENT_SIZE]
#: Types whose first element is an IEEE 754 short float (R32).
R32_TYPE_IDS = frozenset({13, 14, 36, 50, 63, 112})
F_SG_NA_1 = 125


def max_objects(type_id: int, sq: bool) -> int:
    """Return the largest VSQ number that fits 249 octets (research notes 2.1)."""
    size = ELEMENT_SIZE[type_id]
    if size is None:  # F_SG_NA_1 with empty segments
        size = 4
    if sq:
        return min(127, (MAX_INFORMATION - IOA) // size) if size else 127
    return min(127, MAX_INFORMATION // (IOA + size))


# --- elements -----------------------------------------------------------------------


def _bits(mask: int) -> St[int]:
    return st.integers(0, 255).map(lambda v: v & mask)


def _uint(bits: int) -> St[int]:
    return st.integers(0, (1 << bits) - 1)


def _sint(bits: int) -> St[int]:
    return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


_B = st.booleans()
_QUALITY = {mask: _bits(mask).map(c.Quality) for mask in (0xF0, 0xF1, 0xF8)}

ELEMENTS: dict[type[el.Element], St[Any]] = {
    c.SIQ: st.builds(c.SIQ, spi=_B, quality=_QUALITY[0xF0], reserved=_bits(0x0E)),
    c.DIQ: st.builds(
        c.DIQ, dpi=st.sampled_from(c.DoublePoint), quality=_QUALITY[0xF0], reserved=_bits(0x0C)
    ),
    c.QDS: st.builds(c.QDS, quality=_QUALITY[0xF1], reserved=_bits(0x0E)),
    c.QDP: st.builds(c.QDP, quality=_QUALITY[0xF8], reserved=_bits(0x07)),
    c.VTI: st.builds(c.VTI, value=_sint(7), transient=_B),
    c.SEP: st.builds(
        c.SEP, es=st.sampled_from(c.DoublePoint), quality=_QUALITY[0xF8], reserved=_bits(0x04)
    ),
    c.SPE: st.builds(c.SPE, events=_bits(0x3F).map(c.StartEvents), reserved=_bits(0xC0)),
    c.OCI: st.builds(c.OCI, circuits=_bits(0x0F).map(c.OutputCircuit), reserved=_bits(0xF0)),
    c.SCO: st.builds(c.SCO, scs=_B, qu=_uint(5), select=_B, reserved=_bits(0x02)),
    c.DCO: st.builds(c.DCO, dcs=st.sampled_from(c.DoubleCommandState), qu=_uint(5), select=_B),
    c.RCO: st.builds(c.RCO, rcs=st.sampled_from(c.StepCommandState), qu=_uint(5), select=_B),
    c.QOS: st.builds(c.QOS, ql=_uint(7), select=_B),
    c.COI: st.builds(c.COI, cause=_uint(7), local_change=_B),
    c.QCC: st.builds(c.QCC, rqt=_uint(6), frz=_uint(2)),
    c.QPM: st.builds(c.QPM, kpa=_uint(6), lpc=_B, pop=_B),
    c.QOI: st.builds(c.QOI, value=_uint(8)),
    c.QRP: st.builds(c.QRP, value=_uint(8)),
    c.QPA: st.builds(c.QPA, value=_uint(8)),
    c.NOS: st.builds(c.NOS, value=_uint(8)),
    c.CHS: st.builds(c.CHS, value=_uint(8)),
    c.LSQ: st.builds(c.LSQ, value=_uint(8)),
    c.FRQ: st.builds(c.FRQ, value=_uint(7), negative=_B),
    c.SRQ: st.builds(c.SRQ, value=_uint(7), not_ready=_B),
    c.SCQ: st.builds(c.SCQ, action=_uint(4), error=_uint(4)),
    c.AFQ: st.builds(c.AFQ, ack=_uint(4), error=_uint(4)),
    c.SOF: st.builds(
        c.SOF, status=_uint(5), last_file=_B, directory=_B, transfer_active=_B
    ),
    c.NVA: st.builds(c.NVA, raw=_sint(16)),
    c.SVA: st.builds(c.SVA, value=_sint(16)),
    # Any binary32 value, NaN and infinities included (compare NaN by encoded octets).
    c.R32: st.builds(c.R32, value=st.floats(width=32)),
    c.BCR: st.builds(
        c.BCR, counter=_sint(32), sequence=_uint(5), carry=_B, adjusted=_B, invalid=_B
    ),
    c.BSI: st.builds(c.BSI, value=_uint(32)),
    c.FBP: st.builds(c.FBP, value=st.one_of(st.just(0x55AA), _uint(16))),
    c.TSC: st.builds(c.TSC, value=_uint(16)),
    c.NOF: st.builds(c.NOF, value=_uint(16)),
    c.SCD: st.builds(c.SCD, st=_uint(16), cd=_uint(16)),
    c.LOF: st.builds(c.LOF, value=_uint(24)),
    c.Segment: st.builds(c.Segment, data=st.binary(max_size=255)),
    c.CP16Time2a: st.builds(c.CP16Time2a, milliseconds=_uint(16)),
    # Time tags keep their raw octets: any value, including year 109 and invalid fields.
    c.CP24Time2a: st.builds(c.CP24Time2a, raw=st.binary(min_size=3, max_size=3)),
    c.CP56Time2a: st.builds(c.CP56Time2a, raw=st.binary(min_size=7, max_size=7)),
}  # fmt: skip


def elements(cls: type[el.Element]) -> St[Any]:
    """Return the strategy of valid instances of one element class."""
    return ELEMENTS[cls]


# --- information objects and ASDUs -------------------------------------------------------


def _enum_or_int(enum_type: Any, value: int) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        return value


@st.composite
def _segment_objects(draw: st.DrawFn, sq: bool, ioas: list[int]) -> tuple[c.InformationObject, ...]:
    """F_SG_NA_1 objects whose segments fit the 243 octets of information."""
    cost = 4 + (0 if sq else IOA)  # octets of one object with an empty segment
    budget = MAX_INFORMATION - (IOA if sq else 0) - cost * len(ioas)
    objects = []
    for ioa in ioas:
        data = draw(st.binary(max_size=min(255, budget)))
        budget -= len(data)
        nof, nos = draw(elements(c.NOF)), draw(elements(c.NOS))
        objects.append(c.InformationObject(ioa, (nof, nos, c.Segment(data=data))))
    return tuple(objects)


@st.composite
def information_objects(
    draw: st.DrawFn, type_id: int, sq: bool, max_count: int | None = None
) -> tuple[c.InformationObject, ...]:
    """Objects of one type that fit an ASDU; SQ=1 objects get consecutive IOAs (mod 2**24)."""
    top = max_objects(type_id, sq)
    n = draw(st.integers(0, top if max_count is None else min(top, max_count)))
    if sq:
        first = draw(_uint(24))
        ioas = [(first + i) & 0xFFFFFF for i in range(n)]
    else:
        ioas = draw(st.lists(_uint(24), min_size=n, max_size=n))
    if type_id == F_SG_NA_1:
        return draw(_segment_objects(sq, ioas))
    layout = c.LAYOUTS[type_id]
    return tuple(c.InformationObject(ioa, tuple(draw(elements(cls)) for cls in layout)) for ioa in ioas)


@st.composite
def _header(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "cot": _enum_or_int(c.Cot, draw(_uint(6))),
        "common_address": draw(_uint(16)),
        "originator_address": draw(_uint(8)),
        "negative": draw(_B),
        "test": draw(_B),
    }


@st.composite
def known_asdus(
    draw: st.DrawFn, type_id: int | None = None, sq: bool | None = None, max_count: int | None = None
) -> c.ASDU:
    """ASDUs of a type in ``LAYOUTS`` (drawn when ``None``), SQ=0 or SQ=1."""
    if type_id is None:
        type_id = draw(st.sampled_from(KNOWN_TYPE_IDS))
    if sq is None:
        sq = draw(_B)
    objects = draw(information_objects(type_id, sq, max_count))
    return c.ASDU(type_id=c.TypeId(type_id), objects=objects, sq=sq, **draw(_header()))


@st.composite
def unknown_asdus(draw: st.DrawFn) -> c.ASDU:
    """ASDUs of reserved or private type identifications: information kept as raw octets."""
    raw = draw(st.binary(max_size=MAX_INFORMATION))
    number = draw(st.integers(0, 127))  # any N: the octets cannot be split into objects
    return c.ASDU(
        type_id=draw(st.sampled_from(UNKNOWN_TYPE_IDS)),
        number=number,
        sq=draw(_B),
        raw_information=raw,
        **draw(_header()),
    )


def asdus(max_count: int | None = None) -> St[c.ASDU]:
    """Any ASDU: every type of ``LAYOUTS`` with SQ=0/1, and unknown types with raw octets."""
    return st.one_of(known_asdus(max_count=max_count), unknown_asdus())


_SEQ = _uint(15)


def apdus(asdu_strategy: St[c.ASDU] | None = None) -> St[c.IFrame | c.SFrame | c.UFrame]:
    """I-, S- and U-format APDUs."""
    return st.one_of(
        st.builds(c.IFrame, _SEQ, _SEQ, asdu_strategy or asdus(max_count=12)),
        st.builds(c.SFrame, _SEQ),
        st.builds(c.UFrame, st.sampled_from(c.UFunction)),
    )


def apdu_frames() -> St[bytes]:
    """Encoded valid APDUs."""
    return apdus().map(c.encode_apdu)


# --- valid frames drawn as octets (independent of the constructors) ----------------------


def _quiet(octets: bytearray, pos: int) -> None:
    """Make a signalling NaN at ``pos`` quiet (see test_r32_signalling_nan_round_trip)."""
    (bits,) = struct.unpack_from("<I", octets, pos)
    if bits & 0x7F800000 == 0x7F800000 and bits & 0x007FFFFF and not bits & 0x00400000:
        struct.pack_into("<I", octets, pos, bits | 0x00400000)


@st.composite
def asdu_octets(draw: st.DrawFn, type_id: int, sq: bool, max_count: int | None = None) -> bytes:
    """A valid ASDU of ``type_id`` as octets: random element octets of the right sizes."""
    top = max_objects(type_id, sq)
    n = draw(st.integers(0, top if max_count is None else min(top, max_count)))
    head = bytes([type_id, n | (0x80 if sq else 0)]) + draw(st.binary(min_size=4, max_size=4))
    if n == 0:
        return head
    size = ELEMENT_SIZE[type_id]
    if size is not None:  # one draw for all objects: fast enough for N up to 127
        stride = size if sq else IOA + size
        total = n * stride + (IOA if sq else 0)
        info = bytearray(draw(st.binary(min_size=total, max_size=total)))
        if type_id in R32_TYPE_IDS:
            for i in range(n):
                _quiet(info, (IOA if sq else 0) + i * stride + (0 if sq else IOA))
        return head + bytes(info)
    info = bytearray(draw(st.binary(min_size=IOA, max_size=IOA)) if sq else b"")
    for i in range(n):
        if not sq:
            info += draw(st.binary(min_size=IOA, max_size=IOA))
        # NOF, NOS, LOS, segment; keep room for the objects still to come
        room = MAX_INFORMATION - len(info) - 4 - (n - 1 - i) * (4 if sq else 4 + IOA)
        data = draw(st.binary(max_size=max(0, min(255, room))))
        info += draw(st.binary(min_size=3, max_size=3)) + bytes([len(data)]) + data
    return head + bytes(info)


def iframe_octets(asdu: bytes, ns: int = 0, nr: int = 0) -> bytes:
    """Wrap ASDU octets in an I-format APCI."""
    control = bytes([ns << 1 & 0xFE, ns >> 7, nr << 1 & 0xFE, nr >> 7])
    return bytes([START, 4 + len(asdu)]) + control + asdu


# --- mutations (differential and fuzz tests) ------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, frames: St[bytes]) -> bytes:
    """A frame truncated, bit-flipped, extended, overwritten or replaced by random octets."""
    data = bytearray(draw(frames))
    kind = draw(st.sampled_from(["truncate", "flip", "extend", "overwrite", "random"]))
    if kind == "truncate":
        del data[draw(st.integers(0, max(0, len(data) - 1))) :]
    elif kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
    elif kind == "extend":
        data += draw(st.binary(min_size=1, max_size=16))
    elif kind == "overwrite":
        pos = draw(st.integers(0, len(data) - 1))
        chunk = draw(st.binary(min_size=1, max_size=8))
        data[pos : pos + len(chunk)] = chunk
    else:
        data[2:] = draw(st.binary(max_size=253))
    if draw(_B) and len(data) >= 2:  # keep L consistent so the ASDU parser is reached
        data[0], data[1] = START, min(255, len(data) - 2)
    return bytes(data)


def mutated_frames() -> St[bytes]:
    """Mutations of valid APDUs (mostly invalid, sometimes still valid)."""
    return mutated(apdu_frames())


# --- streams (framing tests) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamPart:
    """One piece of a stream: an encoded APDU or junk octets without a 0x68."""

    kind: Literal["apdu", "junk"]
    data: bytes


_JUNK = st.binary(min_size=1, max_size=20).map(lambda b: b.replace(b"\x68", b"\x69"))


def streams(max_parts: int = 8) -> St[list[StreamPart]]:
    """Lists of encoded APDUs with optional junk chunks (no 0x68) between them."""
    part = st.one_of(
        apdu_frames().map(lambda b: StreamPart("apdu", b)),
        _JUNK.map(lambda b: StreamPart("junk", b)),
    )
    return st.lists(part, max_size=max_parts)


def expected_items(parts: list[StreamPart]) -> list[c.RawAPDU | c.Junk]:
    """What a framer must report for ``parts`` followed by end of stream (short junk runs)."""
    items: list[c.RawAPDU | c.Junk] = []
    offset = 0
    junk = b""
    for part in parts:
        if part.kind == "junk":
            junk += part.data
        else:
            if junk:
                items.append(c.Junk(junk, offset - len(junk)))
                junk = b""
            items.append(c.RawAPDU(part.data, offset))
        offset += len(part.data)
    if junk:
        items.append(c.Junk(junk, offset - len(junk)))
    return items


# --- golden vectors (specs/iec104/vectors) ----------------------------------------------

VECTORS = Path(__file__).resolve().parents[2] / "specs" / "iec104" / "vectors"
SESSION = VECTORS / "c104_session.hex"


@dataclass(frozen=True, slots=True)
class Vector:
    """One line of a vector file: ``<hex>  # <name>: <description>``."""

    file: str
    name: str
    frame: bytes
    description: str


def read_vectors(path: Path) -> list[Vector]:
    """Read a ``*.hex`` vector file; whitespace inside the hex is ignored."""
    vectors = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        octets, _, comment = line.partition("#")
        name, _, description = comment.partition(":")
        frame = bytes.fromhex("".join(octets.split()))
        vectors.append(Vector(path.name, name.strip(), frame, description.strip()))
    return vectors


def read_session(path: Path = SESSION) -> list[tuple[str, bytes]]:
    """Read the c104 session file: ``C>S <hex>`` / ``S>C <hex>`` lines, ``#`` comments."""
    frames = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        direction, octets = line.split(maxsplit=1)
        frames.append((direction, bytes.fromhex(octets.split("#")[0].strip())))
    return frames


def vector_files() -> list[Path]:
    """The ``<hex>  # <name>: ...`` vector files (not the c104 session)."""
    return sorted(p for p in VECTORS.glob("*.hex") if p != SESSION)


def all_golden_frames() -> list[bytes]:
    """Every golden vector, and the c104 session frames when that file exists."""
    frames = [v.frame for p in vector_files() for v in read_vectors(p)]
    if SESSION.exists():
        frames += [frame for _, frame in read_session()]
    return frames


def golden_frames() -> St[bytes]:
    """A golden vector (seeds for mutations)."""
    return st.sampled_from(all_golden_frames())
