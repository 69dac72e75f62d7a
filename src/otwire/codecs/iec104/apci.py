"""APDUs of IEC 60870-5-104: APCI formats I, S and U (IEC 60870-5-104 clause 5).

Frame layout (octets)::

    0     START 0x68
    1     L, length of control field + ASDU, 4..253
    2..5  control field C1..C4
            I: C1 b0=0, N(S) = C1>>1 | C2<<7, N(R) = C3>>1 | C4<<7 (C3 b0 = 0)
            S: C1 = 0x01, C2 = 0, N(R) as in I
            U: C1 = function (0x07 0x0B 0x13 0x23 0x43 0x83), C2 = C3 = C4 = 0
    6..   ASDU (I format only, 6..249 octets)

:func:`encode_apdu` builds the APCI with the schema of record; :func:`encode_iframe`,
:func:`encode_sframe` and :func:`encode_uframe` are the fast encoders the connection
engine uses (proven equal to :func:`encode_apdu` by a differential test).

Decoding is strict about the control field: reserved bits that the standard
fixes to 0, several U functions at once, or an S/U frame with an ASDU are
``DecodeError`` (lib60870 tolerates some of these; see ``specs/iec104/notes.md``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from otwire.codecs._base import fast_constructor
from otwire.codecs.iec104.asdu import ASDU, MAX_ASDU_LENGTH, _decode_asdu, decode_asdu_schema, encode_asdu
from otwire.codecs.iec104.types import UFunction
from otwire.errors import DecodeError, EncodeError

START = 0x68
MIN_LENGTH = 4
MAX_LENGTH = 253
SEQUENCE_MODULO = 32768


def _check_sequence(name: str, value: int) -> None:
    if not (isinstance(value, int) and 0 <= value < SEQUENCE_MODULO):
        raise EncodeError(f"{name}={value!r} not in 0..32767")


@dataclass(frozen=True, slots=True)
class IFrame:
    """Numbered information transfer format: N(S), N(R) and one ASDU (-104 5.1).

    Raises:
        EncodeError: ``ns`` or ``nr`` outside 0..32767, or ``asdu`` is not an ASDU.
    """

    ns: int
    """Send sequence number N(S), 0..32767."""
    nr: int
    """Receive sequence number N(R), 0..32767: the next N(S) expected."""
    asdu: ASDU
    """The application service data unit."""

    def __post_init__(self) -> None:
        _check_sequence("ns", self.ns)
        _check_sequence("nr", self.nr)
        if not isinstance(self.asdu, ASDU):
            raise EncodeError(f"asdu must be an ASDU, got {type(self.asdu).__name__}")


@dataclass(frozen=True, slots=True)
class SFrame:
    """Numbered supervisory format: acknowledges I-frames up to N(R) - 1 (-104 5.2).

    Raises:
        EncodeError: ``nr`` outside 0..32767.
    """

    nr: int
    """Receive sequence number N(R), 0..32767."""

    def __post_init__(self) -> None:
        _check_sequence("nr", self.nr)


@dataclass(frozen=True, slots=True)
class UFrame:
    """Unnumbered control format: STARTDT, STOPDT, TESTFR act/con (-104 5.3).

    Raises:
        EncodeError: ``function`` is not a ``UFunction``.
    """

    function: UFunction
    """The one active function."""

    def __post_init__(self) -> None:
        if self.function not in _U_FUNCTIONS:
            raise EncodeError(f"function={self.function!r} is not a U function")


APDU = IFrame | SFrame | UFrame
_U_FUNCTIONS = {int(f): f for f in UFunction}
_make_iframe = fast_constructor(IFrame)
_make_sframe = fast_constructor(SFrame)
_U_FRAMES = {code: UFrame(function) for code, function in _U_FUNCTIONS.items()}


def decode_apdu(frame: bytes | bytearray | memoryview) -> APDU:
    """Decode exactly one APDU, from the start octet 0x68 to its last octet.

    Args:
        frame: One complete APDU (use :class:`APDUFramer` to cut a stream).

    Returns:
        An ``IFrame``, ``SFrame`` or ``UFrame``.

    Raises:
        DecodeError: wrong start octet, L outside 4..253, ``len(frame) != L + 2``,
            a control field breaking -104 clause 5, or a malformed ASDU. The
            error carries the offset and a hex excerpt.
    """
    if type(frame) is not bytes:
        frame = bytes(frame)
    n = len(frame)
    if n < 6 or frame[0] != START or frame[1] != n - 2 or n > MAX_LENGTH + 2:
        _frame_error(frame)
    c1 = frame[2]
    if not c1 & 1:
        if frame[4] & 1:
            raise DecodeError("I-frame with C3 bit 0 set", data=frame, offset=4)
        if n == 6:
            raise DecodeError("I-frame without ASDU", data=frame, offset=6)
        return _make_iframe(c1 >> 1 | frame[3] << 7, frame[4] >> 1 | frame[5] << 7, _decode_asdu(frame, 6))
    if n != 6:
        raise DecodeError(f"{'S' if c1 & 3 == 1 else 'U'}-frame with L={n - 2}, expected 4", data=frame, offset=6)
    if c1 == 0x01:
        if frame[3] or frame[4] & 1:
            raise DecodeError("S-frame with reserved bits set", data=frame, offset=3 if frame[3] else 4)
        return _make_sframe(frame[4] >> 1 | frame[5] << 7)
    u = _U_FRAMES.get(c1)
    if u is None or frame[3] or frame[4] or frame[5]:
        raise DecodeError(
            "invalid S/U control field (reserved bits or not exactly one U function)",
            data=frame,
            offset=2,
        )
    return u


def _frame_error(frame: bytes) -> None:
    """Raise the ``DecodeError`` explaining why ``frame`` is not one APDU."""
    n = len(frame)
    if n == 0 or frame[0] != START:
        raise DecodeError("APDU must start with 0x68", data=frame, offset=0)
    if n < 2:
        raise DecodeError("APDU truncated before its length octet", data=frame, offset=n)
    length = frame[1]
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise DecodeError(f"APDU length {length} outside {MIN_LENGTH}..{MAX_LENGTH}", data=frame, offset=1)
    if n < length + 2:
        raise DecodeError(
            f"APDU truncated: L={length} needs {length + 2} octets, {n} present",
            data=frame,
            offset=n,
        )
    raise DecodeError(f"{n - length - 2} octets after the APDU (L={length})", data=frame, offset=length + 2)


def decode_apdu_schema(frame: bytes | bytearray | memoryview) -> APDU:
    """Decode one APDU with the construct schemas of record (slow; for tests and fuzzing).

    Raises:
        DecodeError: as :func:`decode_apdu`.
    """
    from otwire.codecs._base import SCHEMA_ERRORS
    from otwire.codecs.iec104 import _schema

    frame = bytes(frame)
    try:
        tree = _schema.APDU.parse(frame)
    except SCHEMA_ERRORS as exc:
        _frame_error(frame)  # a more precise message when there is one
        raise DecodeError(f"malformed APCI: {exc}", data=frame, offset=0) from exc
    apci = tree.apci
    if not MIN_LENGTH <= apci.length <= MAX_LENGTH or len(frame) != apci.length + 2:
        _frame_error(frame)
    if not apci.c1 & 1:
        if apci.c3 & 1 or len(frame) == 6:
            return decode_apdu(frame)  # the same control-field errors
        asdu = _rebase(frame, tree.asdu_octets)
        return IFrame(apci.c1 >> 1 | apci.c2 << 7, apci.c3 >> 1 | apci.c4 << 7, asdu)
    if len(frame) == 6 and apci.c1 == 0x01 and not apci.c2 and not apci.c3 & 1:
        return SFrame(apci.c3 >> 1 | apci.c4 << 7)
    if len(frame) == 6 and apci.c1 in _U_FUNCTIONS and not (apci.c2 or apci.c3 or apci.c4):
        return UFrame(_U_FUNCTIONS[apci.c1])
    return decode_apdu(frame)  # raises the same DecodeError as the fast path


def _rebase(frame: bytes, asdu_octets: bytes) -> ASDU:
    """Decode the ASDU with the schema; shift error offsets to the APDU frame."""
    try:
        return decode_asdu_schema(asdu_octets)
    except DecodeError as exc:
        raise DecodeError(exc.reason, data=frame, offset=exc.offset + 6) from exc


def encode_apdu(apdu: APDU) -> bytes:
    """Encode an APDU: the APCI (schema of record) and, for I-frames, the ASDU.

    Raises:
        EncodeError: the message is not an APDU or its ASDU cannot be encoded.
    """
    match apdu:
        case IFrame(ns=ns, nr=nr, asdu=asdu):
            body = encode_asdu(asdu)
            c = (ns << 1 & 0xFE, ns >> 7, nr << 1 & 0xFE, nr >> 7)
        case SFrame(nr=nr):
            body, c = b"", (0x01, 0, nr << 1 & 0xFE, nr >> 7)
        case UFrame(function=function):
            body, c = b"", (int(function), 0, 0, 0)
        case _:
            raise EncodeError(f"not an APDU: {apdu!r}")
    from otwire.codecs.iec104 import _schema  # the schema of record, imported on first use

    head = _schema.APCI.build({"length": 4 + len(body), "c1": c[0], "c2": c[1], "c3": c[2], "c4": c[3]})
    return bytes(head) + body


_U_OCTETS = {function: bytes((START, 4, int(function), 0, 0, 0)) for function in UFunction}
# N << 1 as a little-endian uint16 is the control octet pair (N << 1 & 0xFE, N >> 7); packing
# refuses N outside 0..32767, so the range check costs nothing on the fast path.
_I_HEAD = struct.Struct("<BBHH").pack
_S_HEAD = struct.Struct("<BBBBH").pack


def encode_iframe(ns: int, nr: int, asdu_octets: bytes) -> bytes:
    """Encode an I-frame around an ASDU already encoded by :func:`encode_asdu` (fast path).

    Equal to ``encode_apdu(IFrame(ns, nr, asdu))`` (differential test).

    Args:
        ns: Send sequence number N(S), 0..32767.
        nr: Receive sequence number N(R), 0..32767.
        asdu_octets: The encoded ASDU, 1..249 octets.

    Raises:
        EncodeError: ``ns`` or ``nr`` outside 0..32767, or ``asdu_octets`` not 1..249 octets long.
    """
    size = len(asdu_octets)
    if 0 < size <= MAX_ASDU_LENGTH:
        try:
            return _I_HEAD(START, 4 + size, ns << 1, nr << 1) + asdu_octets
        except (struct.error, TypeError):
            pass
    raise EncodeError(f"I-frame with ns={ns}, nr={nr} and an ASDU of {size} octets (0..32767, 1..249)")


def encode_sframe(nr: int) -> bytes:
    """Encode an S-frame acknowledging up to ``nr - 1`` (fast path; equal to ``encode_apdu(SFrame(nr))``).

    Raises:
        EncodeError: ``nr`` outside 0..32767.
    """
    try:
        return _S_HEAD(START, 4, 0x01, 0, nr << 1)
    except (struct.error, TypeError):
        raise EncodeError(f"nr={nr!r} not in 0..32767") from None


def encode_uframe(function: UFunction) -> bytes:
    """Encode a U-frame (fast path; equal to ``encode_apdu(UFrame(function))``).

    Raises:
        EncodeError: ``function`` is not a ``UFunction``.
    """
    try:
        return _U_OCTETS[function]
    except (KeyError, TypeError):
        raise EncodeError(f"function={function!r} is not a U function") from None
