"""ASDU and information objects of IEC 60870-5-104 (IEC 60870-5-101 7.1-7.3, -104 clause 8).

Layout (octets, little-endian)::

    0  type_id            UI8
    1  VSQ                b7 SQ, b0-b6 number of objects/elements (0..127)
    2  COT                b0-b5 cause, b6 P/N (negative), b7 T (test)
    3  originator_address UI8
    4  common_address     UI16
    6  information objects:
         SQ=0: number x (IOA UI24, elements)
         SQ=1: IOA UI24, then number x elements (IOA of element i = IOA + i)

``decode_asdu`` is a ``struct`` fast path; ``decode_asdu_schema`` decodes with the
construct schemas of record and is used by the differential tests.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otwire.codecs._base import SCHEMA_ERRORS, enum_or_int, enum_table, fast_constructor
from otwire.codecs.iec104 import _schema
from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.layouts import LAYOUTS, Layout, element_size
from otwire.codecs.iec104.types import Cot, TypeId
from otwire.errors import DecodeError, EncodeError

#: Largest ASDU in an APDU: 253 - 4 control octets (-104 clause 5).
MAX_ASDU_LENGTH = 249
#: The broadcast common address (IEC 60870-5-101 §7.2.4: 65535 addresses every station).
GLOBAL_ADDRESS = 0xFFFF
HEADER_LENGTH = 6
IOA_LENGTH = 3


@dataclass(frozen=True, slots=True)
class InformationObject:
    """One information object: its address and its elements in wire order.

    Raises:
        EncodeError: ``ioa`` is outside 0..16777215 or ``elements`` is not a
            tuple of elements.
    """

    ioa: int
    """Information object address, UI24 (0 = irrelevant)."""
    elements: tuple[el.Element, ...] = ()
    """Elements in wire order, e.g. ``(R32(12.5), QDS())`` for M_ME_NC_1."""

    def __post_init__(self) -> None:
        if not (isinstance(self.ioa, int) and 0 <= self.ioa <= 0xFFFFFF):
            raise EncodeError(f"ioa={self.ioa!r} not in 0..16777215")
        if not (isinstance(self.elements, tuple) and all(isinstance(e, el.Element) for e in self.elements)):
            raise EncodeError("elements must be a tuple of information elements")


@dataclass(frozen=True, slots=True, kw_only=True)
class ASDU:
    """Application service data unit (IEC 60870-5-101 7.1, -104 clause 8).

    ``number`` left at -1 is set to ``len(objects)``. Type identifications
    without a known layout keep their information part in ``raw_information``
    (unknown is not malformed).

    Raises:
        EncodeError: a field is out of range, ``objects`` do not match the
            layout of ``type_id``, ``number`` disagrees with ``objects``, or
            SQ=1 objects do not have consecutive IOAs.
    """

    type_id: TypeId | int
    """Type identification, 1..255."""
    cot: Cot | int
    """Cause of transmission, 0..63."""
    common_address: int
    """Common address of ASDU, UI16 (65535 = global)."""
    objects: tuple[InformationObject, ...] = ()
    """Information objects (empty for unknown type identifications)."""
    originator_address: int = 0
    """Originator address, UI8 (0 = not used)."""
    sq: bool = False
    """VSQ SQ bit: one IOA for a sequence of elements."""
    negative: bool = False
    """COT P/N bit: negative confirmation."""
    test: bool = False
    """COT T bit: test."""
    number: int = -1
    """VSQ number of objects or elements, 0..127."""
    raw_information: bytes = b""
    """The information part as octets, for type identifications without a layout."""

    def __post_init__(self) -> None:
        _validate_header(self)
        layout = LAYOUTS.get(self.type_id)
        if self.number == -1:
            object.__setattr__(self, "number", len(self.objects))
        if not 0 <= self.number <= 127:
            raise EncodeError(f"number={self.number} not in 0..127")
        if layout is None:
            if self.objects:
                raise EncodeError(f"type_id {self.type_id} has no known layout; use raw_information")
        else:
            _validate_objects(self, layout)
        size = information_length(self.type_id, self.sq, self.number)
        size = HEADER_LENGTH + (_variable_length(self) if size is None else size)
        if size > MAX_ASDU_LENGTH:
            raise EncodeError(f"ASDU of {size} octets exceeds {MAX_ASDU_LENGTH} (-104 clause 5: L <= 253)")


def _validate_header(asdu: ASDU) -> None:
    for name, value, top in (
        ("type_id", asdu.type_id, 255),
        ("cot", asdu.cot, 63),
        ("common_address", asdu.common_address, 0xFFFF),
        ("originator_address", asdu.originator_address, 255),
    ):
        if not (isinstance(value, int) and 0 <= value <= top):
            raise EncodeError(f"{name}={value!r} not in 0..{top}")
    if not isinstance(asdu.objects, tuple) or not isinstance(asdu.raw_information, bytes):
        raise EncodeError("objects must be a tuple and raw_information bytes")


def _validate_objects(asdu: ASDU, layout: Layout) -> None:
    if asdu.raw_information:
        raise EncodeError(f"type_id {asdu.type_id} has a layout; raw_information must be empty")
    if asdu.number != len(asdu.objects):
        raise EncodeError(f"number={asdu.number} but {len(asdu.objects)} objects")
    for obj in asdu.objects:
        if not isinstance(obj, InformationObject) or tuple(map(type, obj.elements)) != layout:
            names = ", ".join(cls.__name__ for cls in layout)
            raise EncodeError(f"objects of type_id {asdu.type_id} must hold ({names}), got {obj!r}")
    if asdu.sq and asdu.objects:
        first = asdu.objects[0].ioa
        if any(obj.ioa != (first + i) & 0xFFFFFF for i, obj in enumerate(asdu.objects)):
            raise EncodeError("SQ=1 needs consecutive IOAs")


# --- fast decode path -------------------------------------------------------------

_HEADER = struct.Struct("<BBBBH")
_TYPE_IDS = enum_table(TypeId, 256)
_COTS = enum_table(Cot, 64)
_make_asdu = fast_constructor(ASDU)
_make_object = fast_constructor(InformationObject)
_ObjectsDecoder = Callable[[bytes, int, int, bool, int], tuple[InformationObject, ...]]


def _raw_count(cls: type[el.Element]) -> int:
    """Number of raw values ``struct`` yields for one element (``"7s"`` is one value)."""
    return 1 if cls.FORMAT.endswith("s") else len(cls.FORMAT)


def _element_expr(cls: type[el.Element], i: int, k: int, env: dict[str, Any]) -> str:
    """Source of an expression building element ``i`` from raw values ``v[k]...``."""
    if issubclass(cls, el.OctetElement):
        env[f"T{i}"] = cls._TABLE
        return f"T{i}[v[{k}]]"
    if _raw_count(cls) == 1:
        env[f"F{i}"] = fast_constructor(cls)
        return f"F{i}(v[{k}])"
    env[f"C{i}"] = cls.from_raw
    return f"C{i}({', '.join(f'v[{k + j}]' for j in range(_raw_count(cls)))})"


def _compile_objects_decoder(layout: Layout) -> _ObjectsDecoder:
    """Generate the objects decoder of one layout (like construct's ``compile``)."""
    fmt = "".join(cls.FORMAT for cls in layout)
    env: dict[str, Any] = {
        "IO": _make_object,
        "S0": struct.Struct("<HB" + fmt),
        "S1": struct.Struct("<" + fmt),
    }
    exprs0, exprs1, k0, k1 = [], [], 2, 0
    for i, cls in enumerate(layout):
        exprs0.append(_element_expr(cls, i, k0, env))
        exprs1.append(_element_expr(cls, i, k1, env))
        k0 += _raw_count(cls)
        k1 += _raw_count(cls)
    tuple0 = f"({', '.join(exprs0)}{',' if exprs0 else ''})"
    tuple1 = f"({', '.join(exprs1)}{',' if exprs1 else ''})"
    seq = (
        f"[IO((ioa + i) & 0xFFFFFF, {tuple1}) for i, v in enumerate(S1.iter_unpack(data[start + 3:end]))]"
        if fmt
        else "[IO((ioa + i) & 0xFFFFFF, ()) for i in range(n)]"
    )
    source = (
        "def decode(data, start, end, sq, n):\n"
        "    if not sq:\n"
        "        if n == 1:\n"
        "            v = S0.unpack_from(data, start)\n"
        f"            return (IO(v[0] | v[1] << 16, {tuple0}),)\n"
        f"        return tuple([IO(v[0] | v[1] << 16, {tuple0}) for v in S0.iter_unpack(data[start:end])])\n"
        "    ioa = data[start] | data[start + 1] << 8 | data[start + 2] << 16\n"
        f"    return tuple({seq})\n"
    )
    exec(source, env)
    return env["decode"]  # type: ignore[no-any-return]


def _decode_segments(data: bytes, start: int, end: int, sq: bool, n: int) -> tuple[InformationObject, ...]:
    """Decode F_SG_NA_1 objects: NOF, NOS, LOS, LOS segment octets (variable size)."""
    objects = []
    pos = start
    ioa = 0
    for i in range(n):
        if not sq or i == 0:
            _need(data, pos, IOA_LENGTH + 4, end, "F_SG_NA_1 object")
            ioa = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
            pos += IOA_LENGTH
        else:
            _need(data, pos, 4, end, "F_SG_NA_1 object")
        nof, nos, los = struct.unpack_from("<HBB", data, pos)
        _need(data, pos + 4, los, end, "F_SG_NA_1 segment")
        segment = el.Segment(data=bytes(data[pos + 4 : pos + 4 + los]))
        objects.append(
            _make_object(
                (ioa + (i if sq else 0)) & 0xFFFFFF,
                (el.NOF(value=nof), el.NOS.from_octet(nos), segment),
            )
        )
        pos += 4 + los
    if pos != end:
        raise DecodeError(f"{end - pos} octets after {n} F_SG_NA_1 objects", data=data, offset=pos)
    return tuple(objects)


def _need(data: bytes, pos: int, count: int, end: int, what: str) -> None:
    if pos + count > end:
        raise DecodeError(f"{what} truncated: needs {count} octets, {end - pos} left", data=data, offset=pos)


def _decoder_entry(layout: Layout) -> tuple[int, _ObjectsDecoder]:
    size = element_size(layout)
    if size is None:
        return -1, _decode_segments
    return size, _compile_objects_decoder(layout)


#: type_id -> (element octets per object or -1 if variable, objects decoder)
_DECODERS: dict[int, tuple[int, _ObjectsDecoder]] = {int(t): _decoder_entry(lay) for t, lay in LAYOUTS.items()}


def information_length(type_id: int, sq: bool, number: int) -> int | None:
    """Return the octets of the information part, or ``None`` if unknown or variable."""
    entry = _DECODERS.get(type_id)
    if entry is None or entry[0] < 0:
        return None
    if number == 0:
        return 0
    size = entry[0]
    return IOA_LENGTH + number * size if sq else number * (IOA_LENGTH + size)


def decode_asdu(data: bytes | bytearray | memoryview) -> ASDU:
    """Decode one complete ASDU.

    Args:
        data: The ASDU octets, nothing more.

    Returns:
        The ASDU; unknown type identifications keep ``raw_information``.

    Raises:
        DecodeError: the header is short, or the information part is shorter or
            longer than the VSQ number of objects of this type needs.
    """
    return _decode_asdu(bytes(data), 0)


def _decode_asdu(frame: bytes, start: int) -> ASDU:
    """Decode the ASDU at ``frame[start:]``; error offsets are relative to ``frame``."""
    end = len(frame)
    if end - start < HEADER_LENGTH:
        raise DecodeError(f"ASDU header needs 6 octets, {end - start} present", data=frame, offset=end)
    type_id, vsq, cot, oa, ca = _HEADER.unpack_from(frame, start)
    n, sq, info = vsq & 0x7F, vsq > 0x7F, start + HEADER_LENGTH
    entry = _DECODERS.get(type_id)
    if entry is None:
        objects: tuple[InformationObject, ...] = ()
        raw = frame[info:]
    else:
        raw = b""
        if n:
            size = entry[0]
            if size >= 0:
                size = IOA_LENGTH + n * size if sq else n * (IOA_LENGTH + size)
                if size != end - info:
                    _length_error(frame, type_id, n, sq, info, size)
            objects = entry[1](frame, info, end, sq, n)
        else:
            if end != info:
                _length_error(frame, type_id, n, sq, info, 0)
            objects = ()
    return _make_asdu(
        _TYPE_IDS[type_id],
        _COTS[cot & 0x3F],
        ca,
        objects,
        oa,
        sq,
        cot & 0x40 != 0,
        cot > 0x7F,
        n,
        raw,
    )


def _length_error(frame: bytes, type_id: int, n: int, sq: bool, info: int, size: int) -> None:
    have = len(frame) - info
    known = _TYPE_IDS[type_id]
    name = known.name if isinstance(known, TypeId) else str(known)
    if have < size:
        raise DecodeError(
            f"{name} with {n} objects (SQ={int(sq)}) needs {size} octets of information, {have} present",
            data=frame,
            offset=len(frame),
        )
    raise DecodeError(
        f"{have - size} octets after {n} {name} objects (SQ={int(sq)})",
        data=frame,
        offset=info + size,
    )


# --- schema path (spec of record) and encoding ---------------------------------------


def decode_asdu_schema(data: bytes | bytearray | memoryview) -> ASDU:
    """Decode one ASDU with the construct schemas of record (slow; for tests and fuzzing).

    Raises:
        DecodeError: as :func:`decode_asdu`.
    """
    frame = bytes(data)
    try:
        tree = _schema.ASDU.parse(frame)
    except SCHEMA_ERRORS as exc:
        raise DecodeError(f"malformed ASDU: {exc}", data=frame, offset=0) from exc
    if tree.end != len(frame):
        raise DecodeError(
            f"{len(frame) - tree.end} octets after the information objects",
            data=frame,
            offset=tree.end,
        )
    vsq, cot, n = tree.vsq, tree.cot, tree.vsq & 0x7F
    layout = LAYOUTS.get(tree.type_id)
    size = information_length(tree.type_id, vsq > 0x7F, n)
    if size is not None and size != len(frame) - HEADER_LENGTH:
        # Compiled construct reads short at the end of input without an error (checked here, see otwire.codecs._base).
        _length_error(frame, tree.type_id, n, vsq > 0x7F, HEADER_LENGTH, size)
    objects: tuple[InformationObject, ...] = ()
    raw = b""
    if layout is None:
        raw = bytes(tree.information)
    elif n:
        objects = _objects_from_tree(tree.information, layout, vsq > 0x7F, frame)
    return ASDU(
        type_id=enum_or_int(TypeId, tree.type_id),
        cot=enum_or_int(Cot, cot & 0x3F),
        common_address=tree.common_address,
        objects=objects,
        originator_address=tree.originator_address,
        sq=vsq > 0x7F,
        negative=bool(cot & 0x40),
        test=bool(cot & 0x80),
        number=n,
        raw_information=raw,
    )


def _objects_from_tree(info: Any, layout: Layout, sq: bool, frame: bytes) -> tuple[InformationObject, ...]:
    if sq:
        pairs = [((info.ioa + i) & 0xFFFFFF, elements) for i, elements in enumerate(info.elements)]
    else:
        pairs = [(obj.ioa, obj.elements) for obj in info]
    objects = []
    for ioa, tree in pairs:
        values = [tree[f"e{i}"] for i in range(len(layout))]
        try:
            elements = tuple(_schema.element_from_tree(cls, v) for cls, v in zip(layout, values, strict=True))
        except ValueError as exc:
            raise DecodeError(str(exc), data=frame, offset=len(frame)) from exc
        objects.append(InformationObject(ioa, elements))
    return tuple(objects)


def encode_asdu(asdu: ASDU) -> bytes:
    """Encode an ASDU (``struct`` fast path; equal to :func:`encode_asdu_schema`, tested).

    Raises:
        EncodeError: the ASDU would be longer than 249 octets or a value does
            not fit its wire field.
    """
    encoder = _ENCODERS.get(asdu.type_id)
    if encoder is None:  # unknown types (raw information) and F_SG_NA_1 (variable segments)
        return encode_asdu_schema(asdu)
    n = asdu.number
    size = HEADER_LENGTH + (information_length(asdu.type_id, asdu.sq, n) or 0)
    if size > MAX_ASDU_LENGTH:
        raise EncodeError(f"ASDU of {size} octets exceeds {MAX_ASDU_LENGTH}")
    head = _HEADER.pack(
        asdu.type_id,
        n | (0x80 if asdu.sq else 0),
        asdu.cot | (0x40 if asdu.negative else 0) | (0x80 if asdu.test else 0),
        asdu.originator_address,
        asdu.common_address,
    )
    if not n:
        return head
    try:
        return head + encoder(asdu.objects, asdu.sq)
    except (struct.error, OverflowError) as exc:  # e.g. an R32 beyond the float32 range
        raise EncodeError(f"cannot encode ASDU: {exc}") from exc


def _compile_objects_encoder(layout: Layout) -> _ObjectsEncoder:
    """Generate the objects encoder of one fixed-size layout (mirror of the decoder)."""
    fmt = "".join(cls.FORMAT for cls in layout)
    env: dict[str, Any] = {"S0": struct.Struct("<HB" + fmt), "S1": struct.Struct("<" + fmt)}
    raws = ", ".join(f"*e[{i}].to_raw()" for i in range(len(layout)))
    tail = f", {raws}" if raws else ""
    source = (
        "def encode(objects, sq):\n"
        "    if sq:\n"
        "        out = [objects[0].ioa.to_bytes(3, 'little')]\n"
        "        for o in objects:\n"
        "            e = o.elements\n"
        f"            out.append(S1.pack({raws}))\n"
        "        return b''.join(out)\n"
        "    out = []\n"
        "    for o in objects:\n"
        "        e = o.elements\n"
        f"        out.append(S0.pack(o.ioa & 0xFFFF, o.ioa >> 16{tail}))\n"
        "    return b''.join(out)\n"
    )
    exec(source, env)
    return env["encode"]  # type: ignore[no-any-return]


_ObjectsEncoder = Callable[[tuple[InformationObject, ...], bool], bytes]
_ENCODERS: dict[int, _ObjectsEncoder] = {
    type_id: _compile_objects_encoder(layout) for type_id, layout in LAYOUTS.items() if el.Segment not in layout
}


def encode_asdu_schema(asdu: ASDU) -> bytes:
    """Encode an ASDU with the construct schema of record.

    Raises:
        EncodeError: the ASDU would be longer than 249 octets or a value does
            not fit its wire field.
    """
    layout = LAYOUTS.get(asdu.type_id)
    size = information_length(asdu.type_id, asdu.sq, asdu.number)
    if size is None:
        size = _variable_length(asdu)
    if HEADER_LENGTH + size > MAX_ASDU_LENGTH:
        raise EncodeError(f"ASDU of {HEADER_LENGTH + size} octets exceeds {MAX_ASDU_LENGTH}")
    information: Any
    if layout is None:
        information = asdu.raw_information
    elif asdu.number == 0:
        information = b""
    elif asdu.sq:
        elements = [_elements_tree(o) for o in asdu.objects]
        information = {"ioa": asdu.objects[0].ioa, "elements": elements}
    else:
        information = [{"ioa": o.ioa, "elements": _elements_tree(o)} for o in asdu.objects]
    tree = {
        "type_id": int(asdu.type_id),
        "vsq": asdu.number | (0x80 if asdu.sq else 0),
        "cot": int(asdu.cot) | (0x40 if asdu.negative else 0) | (0x80 if asdu.test else 0),
        "originator_address": asdu.originator_address,
        "common_address": asdu.common_address,
        "information": information,
    }
    try:
        return bytes(_schema.ASDU.build(tree))
    except SCHEMA_ERRORS as exc:
        raise EncodeError(f"cannot encode ASDU: {exc}") from exc


def _variable_length(asdu: ASDU) -> int:
    """Information octets of an unknown type (raw) or of F_SG_NA_1 (segments vary)."""
    size = len(asdu.raw_information)
    for i, obj in enumerate(asdu.objects):
        has_ioa = not asdu.sq or i == 0
        segment = sum(len(e.data) for e in obj.elements if isinstance(e, el.Segment))
        size += (IOA_LENGTH if has_ioa else 0) + 4 + segment
    return size


def _elements_tree(obj: InformationObject) -> dict[str, Any]:
    return {f"e{i}": _schema.element_to_tree(e) for i, e in enumerate(obj.elements)}
