"""Malformed input raises DecodeError (with offset and excerpt); bad messages raise EncodeError."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs import iec104 as c
from otwire.codecs.iec104 import TypeId as T
from otwire.errors import EXCERPT_RADIUS, DecodeError, EncodeError, LocalProtocolError, RemoteProtocolError
from strategies.iec104 import all_golden_frames, apdu_frames, mutated_frames

MAX_EXCERPT_OCTETS = 2 * EXCERPT_RADIUS


def framed(control_and_asdu: str) -> str:
    """Prefix START and the correct L to the hex of control field + ASDU."""
    body = bytes.fromhex(control_and_asdu)
    return (bytes([0x68, len(body)]) + body).hex()


def iframe(asdu: str) -> str:
    return framed("00000000" + asdu)


# --- every strict prefix ----------------------------------------------------------------


def assert_prefixes_incomplete(frame: bytes) -> None:
    for end in range(len(frame)):
        prefix = frame[:end]
        with pytest.raises(DecodeError) as info:
            c.decode_apdu(prefix)
        assert 0 <= info.value.offset <= end
        framer = c.APDUFramer()
        if prefix:  # b"" would mean end of stream
            framer.receive_data(prefix)
        assert framer.next_item() is None, prefix.hex()
        assert framer.buffered == end


@given(apdu_frames())
def test_every_strict_prefix_of_a_generated_frame(frame: bytes) -> None:
    assert_prefixes_incomplete(frame)


def test_every_strict_prefix_of_every_golden_vector() -> None:
    frames = all_golden_frames()
    assert len(frames) > 50
    for frame in frames:
        assert_prefixes_incomplete(frame)


# --- malformed frames: (hex, message fragment, offset) -----------------------------------

GI_ASDU = "6401 0600 0100 000000 14"
MALFORMED = [
    pytest.param("", "start with 0x68", 0, id="empty"),
    pytest.param("690407000000", "start with 0x68", 0, id="wrong-start"),
    pytest.param("68", "before its length", 1, id="start-only"),
    pytest.param("6800", "length 0 outside 4..253", 1, id="L0"),
    pytest.param("680107", "length 1 outside", 1, id="L1"),
    pytest.param("68020700", "length 2 outside", 1, id="L2"),
    pytest.param("6803070000", "length 3 outside", 1, id="L3"),
    pytest.param("68fe" + "00" * 254, "length 254 outside", 1, id="L254"),
    pytest.param("68ff" + "00" * 255, "length 255 outside", 1, id="L255"),
    pytest.param("680507000000", "truncated: L=5 needs 7 octets, 6 present", 6, id="L-too-big"),
    pytest.param("68040700000000", "1 octets after the APDU", 6, id="L-too-small"),
    pytest.param("680e00000000" + GI_ASDU + "ff", "1 octets after the APDU", 16, id="L-short-I"),
    pytest.param("680400000000", "I-frame without ASDU", 6, id="I-without-ASDU"),
    pytest.param(framed("02000100" + GI_ASDU), "C3 bit 0", 4, id="I-C3-bit0"),
    pytest.param("680401010000", "reserved bits", 3, id="S-C2-set"),
    pytest.param(
        "680401000100",
        "reserved bits",
        4,
        id="S-C3-bit0",
    ),
    pytest.param("680405000000", "control field", 2, id="S-C1-reserved"),
    pytest.param("68050100000000", "S-frame with L=5", 6, id="S-with-ASDU"),
    pytest.param("68050700000000", "U-frame with L=5", 6, id="U-with-ASDU"),
    pytest.param("680447000000", "exactly one U function", 2, id="U-two-functions"),
    pytest.param("6804ff000000", "exactly one U function", 2, id="U-all-functions"),
    pytest.param("680403000000", "exactly one U function", 2, id="U-no-function"),
    pytest.param("680407010000", "control field", 2, id="U-C2-set"),
    pytest.param("680407000100", "control field", 2, id="U-C3-set"),
    pytest.param("680407000001", "control field", 2, id="U-C4-set"),
    pytest.param(iframe("0101"), "ASDU header needs 6 octets, 2 present", 8, id="ASDU-2"),
    pytest.param(iframe("01010300"), "ASDU header needs 6 octets, 4 present", 10, id="ASDU-4"),
    pytest.param(iframe("010203000100 01000001"), "needs 8 octets", 16, id="SP-N2-one-object"),
    pytest.param(
        iframe("0d8214000100 010000 0000484100 0000"), "needs 13 octets", 22, id="ME_NC-SQ1-short"
    ),
    pytest.param(
        iframe("240103000100 010000 0000484100 000000000000"),
        "needs 15 octets",
        26,
        id="ME_TF-CP56-short",
    ),
    pytest.param(iframe("010103000100 01000001 ff"), "1 octets after", 16, id="SP-trailing"),
    pytest.param(iframe("010003000100 010000"), "3 octets after", 12, id="SP-N0-with-IOA"),
    pytest.param(iframe("668103000100 010000 00"), "1 octets after", 15, id="RD-SQ1-trailing"),
    pytest.param(
        iframe("7d010d000100 010000 0100 02 05 aabb"), "F_SG_NA_1 segment truncated", 19, id="SG-LOS"
    ),
    pytest.param(
        iframe("7d010d000100 010000 0100"), "F_SG_NA_1 object truncated", 12, id="SG-object"
    ),
    pytest.param(
        iframe("7d820d000100 010000 0100 02 00 0100"),
        "F_SG_NA_1 object truncated",
        19,
        id="SG-SQ1-second",
    ),
    pytest.param(
        iframe("7d010d000100 010000 0100 02 01 aa bb"), "1 octets after 1 F_SG_NA_1", 20, id="SG-trailing"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("hexstr", "fragment", "offset"), MALFORMED)
def test_malformed(hexstr: str, fragment: str, offset: int) -> None:
    frame = bytes.fromhex(hexstr)
    with pytest.raises(DecodeError) as info:
        c.decode_apdu(frame)
    exc = info.value
    assert fragment in exc.reason
    assert exc.offset == offset
    assert exc.data == frame
    assert f"at offset {offset}" in str(exc)
    with pytest.raises(DecodeError):
        c.decode_apdu_schema(frame)


def test_unknown_type_decodes_with_raw_information() -> None:
    # type 26 (reserved), N=2, COT 3, OA 0, CA 1, then four octets it cannot split
    frame = bytes.fromhex(iframe("1a0203000100 01020304"))
    apdu = c.decode_apdu(frame)
    assert isinstance(apdu, c.IFrame)
    assert apdu.asdu.type_id == 26
    assert not isinstance(apdu.asdu.type_id, c.TypeId)
    assert (apdu.asdu.number, apdu.asdu.objects) == (2, ())
    assert apdu.asdu.raw_information == bytes.fromhex("01020304")
    assert c.encode_apdu(apdu) == frame
    assert c.decode_apdu_schema(frame) == apdu


def test_decode_error_is_a_remote_protocol_error_with_a_bounded_excerpt() -> None:
    # 255 octets: M_SP_NA_1 SQ=1 N=100 needs 103 information octets, 243 follow
    frame = bytes.fromhex(iframe("01e403000100" + "010000" + "01" * 240))
    assert len(frame) == 255
    with pytest.raises(RemoteProtocolError) as info:
        c.decode_apdu(frame)
    exc = info.value
    assert isinstance(exc, DecodeError)
    assert exc.offset == 6 + 6 + 103
    assert len(exc.excerpt.split()) <= MAX_EXCERPT_OCTETS + 2  # octets plus ".." marks
    assert exc.excerpt.startswith("..") and exc.excerpt.endswith("..")
    assert f"[{frame[exc.offset]:02x}]" in exc.excerpt
    assert len(str(exc)) < 200


@given(st.one_of(mutated_frames(), st.binary(max_size=300)))
def test_decode_errors_point_into_the_frame(frame: bytes) -> None:
    try:
        c.decode_apdu(frame)
    except DecodeError as exc:
        assert 0 <= exc.offset <= len(frame)
        assert len(exc.excerpt.split()) <= MAX_EXCERPT_OCTETS + 2
        marker = f"[{frame[exc.offset]:02x}]" if exc.offset < len(frame) else "[]"
        assert marker in exc.excerpt


# --- EncodeError ------------------------------------------------------------------------

SIQ_ON = c.SIQ(spi=True)
GI = c.InformationObject(0, (c.QOI(value=20),))


def asdu(**kw: Any) -> c.ASDU:
    fields: dict[str, Any] = {"type_id": T.C_IC_NA_1, "cot": 6, "common_address": 1}
    fields["objects"] = (GI,)
    return c.ASDU(**{**fields, **kw})


def sp(n: int, *, sq: bool = False, step: int = 1) -> c.ASDU:
    """M_SP_NA_1 with ``n`` objects, IOAs 0, step, 2*step, ..."""
    objects = tuple(c.InformationObject(k * step, (SIQ_ON,)) for k in range(n))
    return c.ASDU(type_id=T.M_SP_NA_1, cot=3, common_address=1, objects=objects, sq=sq)


def me_nc(n: int, *, sq: bool = False) -> c.ASDU:
    """M_ME_NC_1 with ``n`` objects: 5 element octets each (notes: at most 30 / 48)."""
    objects = tuple(c.InformationObject(k, (c.R32(value=k), c.QDS())) for k in range(n))
    return c.ASDU(type_id=T.M_ME_NC_1, cot=1, common_address=1, objects=objects, sq=sq)


def r32_frame(value: float) -> c.IFrame:
    obj = c.InformationObject(1, (c.R32(value=value), c.QDS()))
    return c.IFrame(0, 0, c.ASDU(type_id=T.M_ME_NC_1, cot=3, common_address=1, objects=(obj,)))


def seg(size: int) -> c.ASDU:
    obj = c.InformationObject(1, (c.NOF(value=1), c.NOS(value=1), c.Segment(data=b"x" * size)))
    return c.ASDU(type_id=T.F_SG_NA_1, cot=13, common_address=1, objects=(obj,))


def encode(make: Callable[[], Any]) -> Callable[[], bytes]:
    return lambda: c.encode_apdu(c.IFrame(0, 0, make()))


def p(make: Callable[[], Any], name: str, match: str = "") -> Any:
    """A case: ``make()`` raises EncodeError whose message contains ``match``."""
    return pytest.param(make, match, id=name)


INVALID: list[Any] = [
    p(lambda: c.InformationObject(2**24), "ioa-2**24", "ioa=16777216"),
    p(lambda: c.InformationObject(-1), "ioa-negative"),
    p(lambda: c.InformationObject(1, [SIQ_ON]), "elements-not-tuple"),
    p(lambda: c.IFrame(32768, 0, asdu()), "ns-32768", "ns=32768"),
    p(lambda: c.IFrame(0, 32768, asdu()), "nr-32768", "nr=32768"),
    p(lambda: c.IFrame(-1, 0, asdu()), "ns-negative"),
    p(lambda: c.IFrame(0, 0, b"\x64"), "iframe-asdu-bytes"),
    p(lambda: c.SFrame(32768), "sframe-nr-32768"),
    p(lambda: c.UFrame(0x05), "uframe-not-a-function"),
    p(lambda: asdu(common_address=65536), "common_address-65536", "common_address=65536"),
    p(lambda: asdu(common_address=-1), "common_address-negative"),
    p(lambda: asdu(cot=64), "cot-64", "cot=64"),
    p(lambda: asdu(originator_address=256), "originator_address-256"),
    p(lambda: asdu(type_id=256), "type_id-256"),
    p(lambda: asdu(number=2), "number-mismatch", "number=2 but 1 objects"),
    p(lambda: asdu(type_id=26, objects=(), number=128), "number-128"),
    p(lambda: asdu(type_id=26), "objects-on-unknown-type", "no known layout"),
    p(lambda: asdu(raw_information=b"\x14"), "raw-on-known-type", "raw_information"),
    p(lambda: sp(2, sq=True, step=2), "SQ1-non-consecutive", "consecutive"),
    p(lambda: asdu(objects=(c.InformationObject(0, (SIQ_ON,)),)), "wrong-element", "must hold"),
    p(lambda: asdu(objects=(c.InformationObject(0),)), "missing-element", "must hold"),
    p(lambda: asdu(objects=(c.InformationObject(0, (c.QOI(), c.QOI())),)), "extra-element", "must hold"),
    p(encode(lambda: sp(61)), "ASDU-250-octets-SQ0", "exceeds 249"),
    p(encode(lambda: asdu(type_id=26, objects=(), raw_information=b"\0" * 244)), "ASDU-250-raw", "exceeds 249"),
    p(encode(lambda: seg(237)), "ASDU-250-segment", "exceeds 249"),
    p(encode(lambda: me_nc(49, sq=True)), "ASDU-254-octets-SQ1", "exceeds 249"),
    p(encode(lambda: me_nc(31)), "ASDU-254-octets-SQ0", "exceeds 249"),
    p(lambda: c.encode_apdu(r32_frame(1e39)), "R32-too-large", "cannot encode"),
    p(lambda: c.CP56Time2a.from_datetime(dt.datetime(2100, 1, 1)), "CP56-2100", "2100"),
    p(lambda: c.CP56Time2a.from_datetime(dt.datetime(1999, 12, 31)), "CP56-1999"),
    p(lambda: c.CP56Time2a(raw=b"\0" * 6), "CP56-6-octets"),
    p(lambda: c.CP24Time2a(raw=b"\0" * 4), "CP24-4-octets"),
    p(lambda: c.CP24Time2a.from_timedelta(dt.timedelta(seconds=-1)), "CP24-negative"),
    p(lambda: c.CP16Time2a(milliseconds=65536), "CP16-65536"),
    p(lambda: c.CP16Time2a.from_timedelta(dt.timedelta(seconds=-1)), "CP16-negative"),
    p(lambda: c.NVA.from_value(1.0), "NVA-from-1.0", "outside"),
    p(lambda: c.NVA.from_value(-1.0001), "NVA-below-minus-1"),
    p(lambda: c.NVA(raw=32768), "NVA-raw-32768"),
    p(lambda: c.SVA(value=-32769), "SVA-range"),
    p(lambda: c.R32(value="1.0"), "R32-not-a-number"),
    p(lambda: c.R32(), "R32-neither-value-nor-bits", "exactly one"),
    p(lambda: c.R32(value=1.0, bits=0), "R32-value-and-bits", "exactly one"),
    p(lambda: c.R32(bits=2**32), "R32-bits-range"),
    p(lambda: c.R32(bits=-1), "R32-bits-negative"),
    p(lambda: c.BCR(counter=2**31), "BCR-counter"),
    p(lambda: c.BCR(counter=0, sequence=32), "BCR-sequence"),
    p(lambda: c.BSI(value=2**32), "BSI-range"),
    p(lambda: c.LOF(value=2**24), "LOF-range"),
    p(lambda: c.SCD(st=0, cd=65536), "SCD-range"),
    p(lambda: c.FBP(value=-1), "FBP-range"),
    p(lambda: c.Segment(data=b"\0" * 256), "Segment-256"),
    p(lambda: c.VTI(value=64), "VTI-64"),
    p(lambda: c.VTI(value=-65), "VTI-minus-65"),
    p(lambda: c.SIQ(spi=True, reserved=0x01), "SIQ-reserved"),
    p(lambda: c.SIQ(spi=True, quality=c.Quality.OV), "SIQ-OV"),
    p(lambda: c.DIQ(dpi=4), "DIQ-dpi"),
    p(lambda: c.QDS(quality=c.Quality.EI), "QDS-EI"),
    p(lambda: c.QDP(reserved=0x08), "QDP-reserved"),
    p(lambda: c.SEP(es=4), "SEP-es"),
    p(lambda: c.SPE(reserved=0x01), "SPE-reserved"),
    p(lambda: c.OCI(circuits=c.OutputCircuit(0x10)), "OCI-circuits"),
    p(lambda: c.SCO(scs=True, qu=32), "SCO-qu"),
    p(lambda: c.DCO(dcs=4), "DCO-dcs"),
    p(lambda: c.RCO(rcs=c.StepCommandState.LOWER, qu=-1), "RCO-qu"),
    p(lambda: c.QOS(ql=128), "QOS-ql"),
    p(lambda: c.COI(cause=128), "COI-cause"),
    p(lambda: c.QCC(rqt=64), "QCC-rqt"),
    p(lambda: c.QCC(frz=4), "QCC-frz"),
    p(lambda: c.QPM(kpa=64), "QPM-kpa"),
    p(lambda: c.QOI(value=256), "QOI-256"),
    p(lambda: c.FRQ(value=128), "FRQ-value"),
    p(lambda: c.SCQ(action=16), "SCQ-action"),
    p(lambda: c.AFQ(error=16), "AFQ-error"),
    p(lambda: c.SOF(status=32), "SOF-status"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "match"), INVALID)
def test_encode_error(make: Callable[[], Any], match: str) -> None:
    with pytest.raises(EncodeError) as info:
        make()
    assert match in str(info.value)
    assert issubclass(EncodeError, LocalProtocolError)


def test_limits_are_inclusive() -> None:
    """The largest valid values next to the EncodeError cases above encode fine."""
    assert len(c.encode_apdu(c.IFrame(32767, 32767, sp(60)))) == 2 + 4 + 246
    assert len(c.encode_apdu(c.IFrame(0, 0, seg(236)))) == 255
    assert len(c.encode_apdu(c.IFrame(0, 0, me_nc(48, sq=True)))) == 6 + 249
    assert len(c.encode_apdu(c.IFrame(0, 0, me_nc(30)))) == 6 + 246
    assert c.InformationObject(2**24 - 1).ioa == 0xFFFFFF
    assert c.NVA.from_value(32767 / 32768).raw == 32767
    assert c.NVA.from_value(-1.0).raw == -32768
    assert c.CP56Time2a.from_datetime(dt.datetime(2099, 12, 31)).year == 99


def test_asdu_too_long_is_rejected_by_the_constructor() -> None:
    with pytest.raises(EncodeError):
        sp(61)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nva_from_non_finite_value(value: float) -> None:
    with pytest.raises(EncodeError):
        c.NVA.from_value(value)
