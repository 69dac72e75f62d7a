"""Hypothesis strategies for IMB3 messages, payloads, frames and byte streams.

Messages are built with the public constructors, one strategy per field type
(the field annotations ``Int32``, ``Int64``, ``str``, ...). Payload octets are
drawn independently of the codec from ``COMMAND_WIRE``/``EVENT_WIRE``, the
layouts of ``specs/imb/notes.md`` §4/§5 written as type letters, so the tests
also check the codec's layouts against the notes.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hypothesis import strategies as st

from otwire.codecs import imb
from otwire.codecs.imb import admin, commands, events

St = st.SearchStrategy

MAGIC = bytes.fromhex("2f47617195adc5fb")
TRAILER = bytes.fromhex("6734f110")
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
BLOB = st.binary(max_size=40)

# --- wire layouts from the notes (independent of the codec) ------------------------
# i int32, q int64, d double, b boolean octet, s string, y byte block, l int32 list,
# E icEventNames entries, r raw rest, u UTF-8 rest (no prefix), "" empty, EVENT icEvent.

#: notes §4: command code -> layout letters.
COMMAND_WIRE: dict[int, str] = {
    -4: "r", -5: "", -6: "r", -7: "ii", -8: "qii", -15: "EVENT", -21: "i", -22: "i", -23: "s",
    -24: "s", -31: "is", -32: "sy", -33: "", -34: "i", -35: "i", -36: "b", -37: "isy", -38: "s",
    -41: "si", -42: "E", -43: "r", -44: "r", -45: "iis", -46: "s", -47: "iis", -48: "s",
    -49: "ii", -52: "il", -53: "iiiiiiiii", -54: "isll", -55: "iissbbi", -56: "ii", -57: "r",
    -60: "r", -61: "r", -62: "r", -73: "isqidi", -81: "", -82: "u", -91: "r", -92: "r", -93: "s",
}  # fmt: skip
#: notes §5: event kind -> body layout letters ("dd" is the Focus body of kind 0).
EVENT_WIRE: dict[int, str] = {
    0: "iis", 1: "is", 2: "ir", 3: "ir", 4: "iy", 5: "r", 6: "iisyy", 11: "s", 12: "s", 30: "isi",
    40: "s", 41: "s", 42: "s", 43: "s", 45: "ss", 46: "ss", 47: "sd", 48: "siqq", 49: "ssi", 50: "r",
}  # fmt: skip
FOCUS_WIRE = "dd"
UNKNOWN_KINDS = [k for k in range(256) if k not in EVENT_WIRE]
UNKNOWN_CODES = st.one_of(st.integers(-100, 100), INT32).filter(lambda c: c not in COMMAND_WIRE)


def _prefixed(data: bytes) -> bytes:
    return struct.pack("<i", len(data)) + data


_LETTER: dict[str, St[bytes]] = {
    "i": st.binary(min_size=4, max_size=4),
    "q": st.binary(min_size=8, max_size=8),
    "d": st.binary(min_size=8, max_size=8),  # any bit pattern, signalling NaNs included
    "b": st.sampled_from([b"\x00", b"\x01"]),
    "s": TEXT.map(lambda s: _prefixed(s.encode())),
    "y": BLOB.map(_prefixed),
    "l": st.lists(st.binary(min_size=4, max_size=4), max_size=6).map(
        lambda xs: struct.pack("<i", len(xs)) + b"".join(xs)
    ),
    "E": st.lists(
        st.tuples(TEXT, st.binary(min_size=12, max_size=12)).map(lambda t: _prefixed(t[0].encode()) + t[1]),
        max_size=4,
    ).map(lambda xs: struct.pack("<i", len(xs)) + b"".join(xs)),
    "r": BLOB,
    "u": TEXT.map(str.encode),
}


@st.composite
def layout_octets(draw: st.DrawFn, letters: str) -> bytes:
    """Valid octets of a layout given as letters (see ``COMMAND_WIRE``)."""
    return b"".join(draw(_LETTER[c]) for c in letters)


@st.composite
def event_payload_octets(draw: st.DrawFn, kind: int | None = None, *, focus: bool = False) -> bytes:
    """A valid icEvent payload of ``kind`` (drawn when ``None``; unknown kinds included)."""
    if kind is None:
        kind = draw(st.sampled_from([*EVENT_WIRE, *UNKNOWN_KINDS[:8], 255]))
    flags = draw(st.sampled_from([0, 0x100, 0xFFFFFF00]) | st.integers(0, 0xFFFFFF).map(lambda f: f << 8))
    head = draw(st.binary(min_size=8, max_size=8)) + struct.pack("<I", kind | flags)
    letters = FOCUS_WIRE if focus and kind == 0 else EVENT_WIRE.get(kind, "r")
    return head + draw(layout_octets(letters))


@st.composite
def payload_octets(draw: st.DrawFn, code: int) -> bytes:
    """A valid payload of command ``code`` (raw octets for unknown codes)."""
    letters = COMMAND_WIRE.get(code, "r")
    return draw(event_payload_octets()) if letters == "EVENT" else draw(layout_octets(letters))


def frame_octets(code: int, payload: bytes) -> bytes:
    """A frame laid out by hand (notes §2), independent of ``encode_frame``."""
    trailer = TRAILER if payload else b""
    return MAGIC + struct.pack("<ii", code, len(payload)) + payload + trailer


# --- messages ----------------------------------------------------------------------

_FIELD: dict[str, St[Any]] = {
    "Int32": INT32,
    "Int64": INT64,
    "str": TEXT,
    "bytes": BLOB,
    "float": st.floats(width=64),  # NaN and infinities included: compare NaN by the octets
    "bool": st.booleans(),
    "tuple[Int32, ...]": st.lists(INT32, max_size=6).map(tuple),
    "Action | int": st.one_of(st.sampled_from(imb.Action), INT32),
    "LogLevel | int": st.one_of(st.sampled_from(imb.LogLevel), INT32),
    "ClientState | int": st.one_of(st.sampled_from(imb.ClientState), INT32),
}
_ENTRY = st.builds(imb.EventNameEntry, event_name=TEXT, publishers=INT32, subscribers=INT32, timers=INT32)
_SPECIAL: dict[tuple[type, str], St[Any]] = {
    (imb.EventNames, "entries"): st.lists(_ENTRY, max_size=4).map(tuple),
    (imb.UnknownCommand, "command_code"): UNKNOWN_CODES,
    (imb.UnknownEvent, "event_kind"): st.sampled_from(UNKNOWN_KINDS),
}


def messages(cls: type) -> St[Any]:
    """Instances of one command or event body class, any valid field values."""
    kwargs = {
        f.name: _SPECIAL[cls, f.name] if (cls, f.name) in _SPECIAL else _FIELD[str(f.type)]
        for f in dataclasses.fields(cls)
        if f.name not in ("flags", "body")
    }
    if cls is imb.EventCommand:
        return st.builds(cls, body=event_bodies(), flags=flags(), **kwargs)
    return st.builds(cls, **kwargs)


def flags() -> St[int]:
    """icEvent flags: bits 8..31, PRIORITY and unknown bits."""
    return st.sampled_from([imb.EventFlag(0), imb.EventFlag.PRIORITY]) | st.integers(0, 0xFFFFFF).map(lambda f: f << 8)


#: Every event body class (FocusEvent decodes only with ``focus=True``).
BODY_CLASSES: list[type] = list(events.BODY_TYPES)
#: Every command class but ``EventCommand`` (covered by the body classes).
COMMAND_CLASSES: list[type] = [c for c in commands.Command.__args__ if c is not imb.EventCommand]
ADMIN_CLASSES = [c for c in COMMAND_CLASSES if c.__module__ == admin.__name__]


def event_bodies(*, focus: bool = False) -> St[Any]:
    """EventCommand bodies of every kind decodable with ``decode_event(..., focus=focus)``.

    Kind 0 is a ``ChangeObjectEvent`` without ``focus`` and a ``FocusEvent`` with it.
    """
    excluded = imb.ChangeObjectEvent if focus else imb.FocusEvent
    return st.one_of([messages(c) for c in BODY_CLASSES if c is not excluded])


def event_messages(body_class: type | None = None, *, focus: bool = False) -> St[imb.EventCommand]:
    """``EventCommand`` messages, with a body of ``body_class`` when given."""
    body = event_bodies(focus=focus) if body_class is None else messages(body_class)
    return st.builds(imb.EventCommand, event_id=INT32, tick=INT32, flags=flags(), body=body)


def any_commands() -> St[Any]:
    """Any command, icEvent and unknown codes included."""
    return st.one_of([messages(c) for c in COMMAND_CLASSES] + [event_messages()])


def command_frames() -> St[bytes]:
    """Encoded valid frames of any command."""
    return any_commands().map(imb.encode_command)


def octet_frames() -> St[bytes]:
    """Valid frames drawn as octets from the notes' layouts (any known or unknown code)."""
    code = st.one_of(st.sampled_from(sorted(COMMAND_WIRE)), UNKNOWN_CODES)
    return code.flatmap(lambda c: payload_octets(c).map(lambda p: frame_octets(c, p)))


def valid_frames() -> St[bytes]:
    """Valid frames, from messages or from octets."""
    return st.one_of(command_frames(), octet_frames())


# --- mutations (differential and fuzz tests) ------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, frames: St[bytes]) -> bytes:
    """A frame truncated, bit-flipped, extended, overwritten or given a random payload.

    Half the time the header length and trailer are made consistent again, so the
    payload decoders (not only the framing checks) see the damage.
    """
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
        data[16:] = draw(st.binary(max_size=60))
    if draw(st.booleans()) and len(data) >= 12:
        payload = bytes(data[16:-4]) if len(data) > 20 else b""
        code = struct.unpack_from("<i", data, 8)[0]
        return frame_octets(code, payload)
    return bytes(data)


def mutated_frames() -> St[bytes]:
    """Mutations of valid frames (mostly invalid, sometimes still valid)."""
    return mutated(valid_frames())


# --- streams (framing tests) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamPart:
    """One piece of a stream: an encoded frame or junk octets without 0x2f."""

    kind: Literal["frame", "junk"]
    data: bytes


#: Junk that cannot start a magic (no 0x2f), so it never merges with a frame.
JUNK = st.binary(min_size=1, max_size=24).map(lambda b: b.replace(b"\x2f", b"\x30"))


def streams(max_parts: int = 8) -> St[list[StreamPart]]:
    """Lists of valid frames with optional junk chunks between them."""
    part = st.one_of(
        valid_frames().map(lambda b: StreamPart("frame", b)),
        JUNK.map(lambda b: StreamPart("junk", b)),
    )
    return st.lists(part, max_size=max_parts)


def expected_items(parts: list[StreamPart]) -> list[imb.FrameItem | imb.Junk]:
    """What a framer must report for ``parts`` then end of stream (junk runs < JUNK_CHUNK)."""
    items: list[imb.FrameItem | imb.Junk] = []
    offset, junk = 0, b""
    for part in parts:
        if part.kind == "junk":
            junk += part.data
        else:
            if junk:
                items.append(imb.Junk(junk, offset - len(junk)))
                junk = b""
            code, length = struct.unpack_from("<ii", part.data, 8)
            frame = imb.Frame(command_code=code, payload=part.data[16 : 16 + length])
            items.append(imb.FrameItem(frame, part.data, offset))
        offset += len(part.data)
    if junk:
        items.append(imb.Junk(junk, offset - len(junk)))
    return items


# --- golden vectors (specs/imb/vectors) -----------------------------------------------

VECTORS = Path(__file__).resolve().parents[2] / "specs" / "imb" / "vectors"


@dataclass(frozen=True, slots=True)
class Vector:
    """One line of a vector file: ``<hex>  # <name>: <description>``."""

    file: str
    name: str
    octets: bytes
    description: str


def read_vectors(path: Path) -> list[Vector]:
    """Read a ``*.hex`` vector file; whitespace inside the hex is ignored."""
    vectors = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        octets, _, comment = line.partition("#")
        name, _, description = comment.partition(":")
        vectors.append(Vector(path.name, name.strip(), bytes.fromhex("".join(octets.split())), description.strip()))
    return vectors


def vector_files() -> list[Path]:
    """Every vector file."""
    return sorted(VECTORS.glob("*.hex"))


def golden_frames() -> list[bytes]:
    """Every golden vector that is a frame (not the primitives file)."""
    return [v.octets for p in vector_files() if p.name != "primitives.hex" for v in read_vectors(p)]
