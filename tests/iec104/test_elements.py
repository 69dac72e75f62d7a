"""Information elements: time tags, NVA, BCR, BSI, VTI, one-octet interning (IEC 60870-5-101 7.2.6)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs import iec104 as c

# 2009-08-13 (a Thursday) 16:41:49.834, from the real RTU capture (research notes 2.6)
WHEN = dt.datetime(2009, 8, 13, 16, 41, 49, 834000)
WHEN_RAW = bytes.fromhex("aac229108d0809")
OCTET_ELEMENTS = sorted(
    {cls for layout in c.LAYOUTS.values() for cls in layout if issubclass(cls, c.OctetElement)},
    key=lambda cls: cls.__name__,
)


def frame_with_siq(octet: int) -> bytes:
    return bytes([0x68, 0x0E, 0, 0, 0, 0, 1, 1, 3, 0, 1, 0, 1, 0, 0, octet])


# --- CP56Time2a ----------------------------------------------------------------------


def test_cp56_from_datetime_matches_the_capture() -> None:
    tag = c.CP56Time2a.from_datetime(WHEN)
    assert tag.raw == WHEN_RAW
    assert (tag.milliseconds, tag.minute, tag.hour) == (49834, 41, 16)
    assert (tag.day, tag.day_of_week, tag.month, tag.year) == (13, 4, 8, 9)
    assert not (tag.invalid or tag.summer_time or tag.substituted)
    assert tag.reserved == 0
    assert tag.to_datetime() == WHEN


def test_cp56_flag_bits() -> None:
    tag = c.CP56Time2a.from_datetime(WHEN, invalid=True, summer_time=True, substituted=True, day_of_week=False)
    # minute 41 | RES1 0x40 | IV 0x80; hour 16 | SU 0x80; day 13, day of week 0 (not used)
    assert tag.raw == bytes.fromhex("aac2e9900d0809")
    assert tag.invalid and tag.summer_time and tag.substituted
    assert (tag.minute, tag.hour, tag.day, tag.day_of_week) == (41, 16, 13, 0)
    assert tag.to_datetime() == WHEN  # the flags are not part of the time


def test_cp56_truncates_to_milliseconds_and_ignores_tzinfo() -> None:
    aware = WHEN.replace(microsecond=834999, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert c.CP56Time2a.from_datetime(aware).raw == WHEN_RAW


def test_cp56_to_datetime_options() -> None:
    tag = c.CP56Time2a(raw=WHEN_RAW)
    assert tag.to_datetime(century=1900) == WHEN.replace(year=1909)
    assert tag.to_datetime(tzinfo=dt.UTC) == WHEN.replace(tzinfo=dt.UTC)


def test_cp56_sunday_is_day_of_week_7() -> None:
    assert c.CP56Time2a.from_datetime(dt.datetime(2024, 2, 25, 12)).day_of_week == 7
    assert c.CP56Time2a.from_datetime(dt.datetime(2024, 2, 26, 12)).day_of_week == 1


def test_cp56_year_109_is_kept_and_to_datetime_raises() -> None:
    # C_SC_TA_1 from a real master: ms 8, 19:23, day 13, month 8, year byte 0x6d = 109
    tag = c.CP56Time2a(raw=bytes.fromhex("080017130d086d"))
    assert (tag.year, tag.month, tag.day, tag.hour, tag.minute) == (109, 8, 13, 19, 23)
    assert tag.raw == bytes.fromhex("080017130d086d")
    with pytest.raises(ValueError, match="109"):
        tag.to_datetime()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("0000000001 00 09", id="month-0"),
        pytest.param("0000000001 0d 09", id="month-13"),
        pytest.param("0000000000 01 09", id="day-0"),
        pytest.param("00003c0001 01 09", id="minute-60"),
        pytest.param("0000001801 01 09", id="hour-24"),
        pytest.param("60ea000001 01 09", id="ms-60000"),
        pytest.param("000000001f 02 09", id="feb-31"),
    ],
)
def test_cp56_invalid_fields_raise_value_error(raw: str) -> None:
    tag = c.CP56Time2a(raw=bytes.fromhex(raw))
    with pytest.raises(ValueError):
        tag.to_datetime()


def test_cp56_reserved_bits() -> None:
    # RES2 = octet 3 b5-b6, RES3 = octet 5 b4-b7, RES4 = octet 6 b7; no field changes
    tag = c.CP56Time2a(raw=bytes([0, 0, 0, 0x60, 0, 0xF0, 0x80]))
    assert tag.reserved == 0x03 | 0x0F << 2 | 1 << 6
    assert (tag.hour, tag.month, tag.year, tag.summer_time) == (0, 0, 0, False)


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31, 23, 59)))
def test_cp56_datetime_round_trip(when: dt.datetime) -> None:
    tag = c.CP56Time2a.from_datetime(when)
    assert tag.to_datetime() == when.replace(microsecond=when.microsecond // 1000 * 1000)
    assert tag.day_of_week == when.isoweekday()
    assert tag.year == when.year - 2000


# --- CP24Time2a and CP16Time2a ---------------------------------------------------------


def test_cp24_from_timedelta() -> None:
    delta = dt.timedelta(minutes=41, seconds=49, milliseconds=834)
    tag = c.CP24Time2a.from_timedelta(delta)
    assert tag.raw == WHEN_RAW[:3]
    assert tag.to_timedelta() == delta
    assert c.CP24Time2a.from_timedelta(delta + dt.timedelta(hours=5)).raw == WHEN_RAW[:3]
    flagged = c.CP24Time2a.from_timedelta(delta, invalid=True, substituted=True)
    assert flagged.raw == bytes.fromhex("aac2e9")
    assert flagged.invalid and flagged.substituted and flagged.minute == 41


def test_cp16_milliseconds() -> None:
    tag = c.CP16Time2a.from_timedelta(dt.timedelta(seconds=1.5))
    assert tag.milliseconds == 1500
    assert tag.to_timedelta() == dt.timedelta(milliseconds=1500)
    assert c.CP16Time2a(milliseconds=65535).to_timedelta() == dt.timedelta(milliseconds=65535)


# --- NVA ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [(-32768, -1.0), (32767, 1 - 2**-15), (16384, 0.5), (-8192, -0.25), (0, 0.0), (1, 2**-15)],
)
def test_nva_value(raw: int, value: float) -> None:
    assert c.NVA(raw=raw).value == value
    assert c.NVA.from_value(value).raw == raw


def test_nva_from_value_rounds_to_the_nearest_step() -> None:
    assert c.NVA.from_value(0.1).raw == 3277  # 0.1 * 32768 = 3276.8
    assert c.NVA.from_value(-0.1).raw == -3277


@given(st.integers(-32768, 32767))
def test_nva_raw_value_round_trip(raw: int) -> None:
    assert c.NVA.from_value(c.NVA(raw=raw).value).raw == raw


# --- BCR, BSI, VTI, LOF ------------------------------------------------------------------


def test_bcr_flags() -> None:
    assert c.BCR(counter=-2, sequence=3).to_raw() == (-2, 0x03)
    assert c.BCR(counter=0, carry=True).to_raw() == (0, 0x20)
    assert c.BCR(counter=0, adjusted=True).to_raw() == (0, 0x40)
    assert c.BCR(counter=0, invalid=True).to_raw() == (0, 0x80)
    expected = c.BCR(counter=5, sequence=3, carry=True, adjusted=True, invalid=True)
    assert c.BCR.from_raw(5, 0xE3) == expected


def test_bsi_octets_are_little_endian() -> None:
    assert c.BSI(value=0x12345678).octets == bytes.fromhex("78563412")
    assert c.BSI(value=1).octets == bytes.fromhex("01000000")  # bit 1 of the standard


@pytest.mark.parametrize(
    ("octet", "value", "transient"),
    [(0xFB, -5, True), (0x7B, -5, False), (0x40, -64, False), (0x7F, -1, False), (0x3F, 63, False),
     (0xBF, 63, True), (0x00, 0, False), (0x80, 0, True)],
)  # fmt: skip
def test_vti_two_complement(octet: int, value: int, transient: bool) -> None:
    vti = c.VTI.from_octet(octet)
    assert (vti.value, vti.transient) == (value, transient)
    assert c.VTI(value=value, transient=transient).octet == octet


def test_lof_is_three_octets_little_endian() -> None:
    assert c.LOF(value=0x123456).to_raw() == (0x3456, 0x12)
    assert c.LOF.from_raw(0x3456, 0x12) == c.LOF(value=0x123456)


# --- one-octet elements ---------------------------------------------------------------------


def test_octet_element_classes() -> None:
    names = {cls.__name__ for cls in OCTET_ELEMENTS}
    assert {"SIQ", "DIQ", "QDS", "QDP", "VTI", "SEP", "SPE", "OCI", "SCO", "DCO", "RCO"} <= names
    assert {"QOS", "COI", "QCC", "QPM", "QOI", "QRP", "QPA", "NOS", "FRQ", "SRQ", "SCQ"} <= names
    assert {"LSQ", "CHS", "AFQ", "SOF"} <= names


@pytest.mark.parametrize("cls", OCTET_ELEMENTS, ids=lambda cls: cls.__name__)
def test_every_octet_round_trips_and_is_interned(cls: type[c.OctetElement]) -> None:
    for octet in range(256):
        element = cls.from_octet(octet)
        assert element.octet == octet  # reserved bits are kept
        assert cls.from_octet(octet) is element
        assert cls.from_raw(octet) is element


def test_decoded_one_octet_elements_are_shared() -> None:
    first = c.decode_apdu(frame_with_siq(0x91))
    second = c.decode_apdu(frame_with_siq(0x91))
    assert isinstance(first, c.IFrame) and isinstance(second, c.IFrame)
    siq = first.asdu.objects[0].elements[0]
    assert siq is second.asdu.objects[0].elements[0]
    built = c.SIQ(spi=True, quality=c.Quality.BL | c.Quality.IV)
    assert siq == built
    assert siq is not built


def test_decoded_enums() -> None:
    assert c.DIQ.from_octet(0x02).dpi is c.DoublePoint.ON
    assert c.DCO.from_octet(0x83).dcs is c.DoubleCommandState.NOT_PERMITTED_3
    assert c.RCO.from_octet(0x01).rcs is c.StepCommandState.LOWER
    assert c.SEP.from_octet(0x0B).quality == c.Quality.EI
    assert c.SPE.from_octet(0x21).events == c.StartEvents.GS | c.StartEvents.SRD
    assert c.OCI.from_octet(0x0F).circuits == c.OutputCircuit(0x0F)
