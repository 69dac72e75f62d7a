"""Tests for the IEC 104 test oracles (c104 / scapy adapters) and the c104 session recorder."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from helpers import free_port
from iec104.c104_session import format_hex_file, record_c104_session
from iec104.oracles import HEADER_KEYS, U_FUNCTIONS, c104_header, scapy_values, without_scapy_extras

SESSION_HEX = Path(__file__).resolve().parents[2] / "specs" / "iec104" / "vectors" / "c104_session.hex"

# CP56Time2a of the fixed monitor time tag used by c104_session (2024-02-29 13:37:42.123 UTC):
# (ms, minute, iv, hour, su, day, dow, month, year); c104 leaves day-of-week 0.
FIXED_CP56 = (42123, 37, 0, 13, 0, 29, 0, 2, 24)
NO_QUALITY = {"iv": False, "nt": False, "sb": False, "bl": False}


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def i_frame(asdu: str, ns: int = 0, nr: int = 0) -> bytes:
    """Wrap hex ``asdu`` into an I-format APDU with a correct length octet."""
    body = h(asdu)
    return bytes([0x68, 4 + len(body), (ns << 1) & 0xFE, ns >> 7, (nr << 1) & 0xFE, nr >> 7]) + body


def header(**values: Any) -> dict[str, Any]:
    out = dict.fromkeys(HEADER_KEYS)
    out.update(values)
    return out


def read_hex_file(text: str) -> list[tuple[str, bytes]]:
    frames = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        direction, hexdata = line.split()
        frames.append((direction, bytes.fromhex(hexdata)))
    return frames


# Annotated frames from the research notes (captures of c104 and real devices).
GI_ACT = h("680e0000 0000 6401 0600 2f00 000000 14")
S_NR5 = h("680401000a00")
U_FRAMES = {
    "STARTDT_ACT": h("680407000000"),
    "STARTDT_CON": h("68040b000000"),
    "STOPDT_ACT": h("680413000000"),
    "STOPDT_CON": h("680423000000"),
    "TESTFR_ACT": h("680443000000"),
    "TESTFR_CON": h("680483000000"),
}
M_SP_SQ1 = h("680e 02000200 0181 1400 2f00 640000 01")
M_DP_TB_1 = h("6815 06000200 1f81 1400 2f00 2c0100 02 9663361615 0b1a")
M_ME_NC_1 = h("6812 04000200 0d81 1400 2f00 c80000 00004841 00")
C_DC_NEG = h("680e 0a000400 2e01 4701 0d91 983a00 82")
C_SC_TA_1 = h("6815 28009c00 3a01 0600 0300 951100 81 0800 17 13 0d 08 6d")
C_TS_TA_1_WRAP = h("6816 feff0000 6b01 0700 2f00 000000 3412 00000001 01010a")
VALID_FRAMES = [GI_ACT, S_NR5, *U_FRAMES.values(), M_SP_SQ1, M_DP_TB_1, M_ME_NC_1, C_DC_NEG, C_SC_TA_1, C_TS_TA_1_WRAP]


# ----------------------------------------------------------------------------- c104_header


def test_c104_header_interrogation_activation() -> None:
    assert c104_header(GI_ACT) == header(
        format="I",
        ns=0,
        nr=0,
        type_id=100,
        cot=6,
        negative=False,
        test=False,
        originator_address=0,
        common_address=47,
        number=1,
        sq=False,
        first_ioa=0,
    )


def test_c104_header_s_frame() -> None:
    assert c104_header(S_NR5) == header(format="S", nr=5)


@pytest.mark.parametrize("function", U_FUNCTIONS)
def test_c104_header_u_frames(function: str) -> None:
    assert c104_header(U_FRAMES[function]) == header(format="U", u_function=function)


def test_c104_header_flags_addresses_and_negative_confirmation() -> None:
    assert c104_header(C_DC_NEG) == header(
        format="I",
        ns=5,
        nr=2,
        type_id=46,
        cot=7,
        negative=True,
        test=False,
        originator_address=1,
        common_address=0x910D,
        number=1,
        sq=False,
        first_ioa=15000,
    )


def test_c104_header_sequence_wrap_and_sq() -> None:
    got = c104_header(C_TS_TA_1_WRAP)
    assert (got["ns"], got["nr"], got["type_id"], got["cot"]) == (32767, 0, 107, 7)
    got = c104_header(M_ME_NC_1)
    assert (got["sq"], got["number"], got["first_ioa"], got["cot"]) == (True, 1, 200, 20)


def test_c104_header_test_bit_and_unknown_type() -> None:
    got = c104_header(i_frame("c8 01 c3 09 2f00 0a0000 01"))
    assert (got["type_id"], got["cot"], got["negative"], got["test"], got["originator_address"]) == (
        200,
        3,
        True,
        True,
        9,
    )


@pytest.mark.parametrize(
    "frame", [b"", h("68"), h("68040100"), h("6806 04000200 0101"), h("680a 04000200 0101 0300 2f")]
)
def test_c104_header_refuses_frames_c104_would_overread(frame: bytes) -> None:
    with pytest.raises(ValueError, match="past the buffer"):
        c104_header(frame)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (h("690407000000"), header(format="U", u_function="STARTDT_ACT")),  # start octet unchecked
        (h("680447000000"), header(format="U", u_function="TESTFR_ACT")),  # highest bit wins
        (h("68040f000000"), header(format="U", u_function="STARTDT_CON")),
        (h("680403000000"), header(format="U")),  # no function bit
        (h("680401000b00"), header(format="S", nr=5)),  # C3 bit 0 ignored
        (h("6804fd00aa00"), header(format="S", nr=85)),  # S-frame C1 bits 2-7 ignored
    ],
)
def test_c104_header_documented_leniency(frame: bytes, expected: dict[str, Any]) -> None:
    assert c104_header(frame) == expected


def test_c104_header_vsq_n_is_reported_as_written() -> None:
    got = c104_header(i_frame("0100 0300 2f00 0a0000 01"))  # N=0 but one object present
    assert (got["number"], got["first_ioa"]) == (0, 10)
    assert c104_header(i_frame("0100 0300 2f00"))["first_ioa"] is None


# ----------------------------------------------------------------------------- scapy_values


@pytest.mark.parametrize("frame", VALID_FRAMES, ids=lambda f: f.hex())
def test_scapy_and_c104_agree_on_headers(frame: bytes) -> None:
    values = scapy_values(frame)
    assert values["scapy_error"] is None
    assert values["scapy_undecoded"] is None
    assert {k: values[k] for k in HEADER_KEYS} == c104_header(frame)


def test_scapy_values_measured_float() -> None:
    values = scapy_values(M_ME_NC_1)
    assert values["objects"] == [{"ioa": 200, "r32": 12.5, "ov": False, **NO_QUALITY}]
    assert values["scapy_layer"] == "IEC104_I_Message_SeqIOA"
    assert (values["sq"], values["number"], values["first_ioa"]) == (True, 1, 200)


def test_scapy_values_single_point_gi_answer() -> None:
    assert scapy_values(M_SP_SQ1)["objects"] == [{"ioa": 100, "spi": 1, **NO_QUALITY}]


def test_scapy_values_double_point_with_cp56() -> None:
    assert scapy_values(M_DP_TB_1)["objects"] == [
        {"ioa": 300, "dpi": 2, **NO_QUALITY, "cp56": (25494, 54, 0, 22, 0, 21, 0, 11, 26), "cp56_gen": 0}
    ]


def test_scapy_values_commands() -> None:
    assert scapy_values(C_DC_NEG)["objects"] == [{"ioa": 15000, "select": True, "qu": 0, "state": 2}]
    # real master writing tm_year (109) into the 7-bit year field
    assert scapy_values(C_SC_TA_1)["objects"] == [
        {
            "ioa": 4501,
            "select": True,
            "qu": 0,
            "state": True,
            "cp56": (8, 23, 0, 19, 0, 13, 0, 8, 109),
            "cp56_gen": 0,
        }
    ]
    assert scapy_values(C_TS_TA_1_WRAP)["objects"] == [
        {"ioa": 0, "tsc": 0x1234, "cp56": (0, 0, 0, 1, 0, 1, 0, 1, 10), "cp56_gen": 0}
    ]


CP56_HEX = "8ba4 25 0d 1d 02 18"  # FIXED_CP56

ELEMENT_CASES = [
    (1, "81", {"spi": 1, "iv": True, "nt": False, "sb": False, "bl": False}),
    (2, "01 1020 70", {"spi": 1, "cp24": (0x2010, 0x30, 0), "cp24_gen": 1}),
    (3, "f3", {"dpi": 3, "iv": True, "nt": True, "sb": True, "bl": True}),
    (5, "fb 00", {"value": -5, "transient": True}),
    (5, "3f 01", {"value": 63, "transient": False, "ov": True}),
    (7, "78563412 00", {"bsi": "78563412", "scapy_known_wrong": {"bsi_int": 0x78563412}}),
    (9, "0040 00", {"nva_raw": 16384}),
    (9, "0080 00", {"nva_raw": -32768}),
    (9, "ff7f 00", {"nva_raw": 32767}),
    (11, "2efb 20", {"sva": -1234, "sb": True}),
    (13, "0000803f 01", {"r32": 1.0, "ov": True}),
    (15, "feffffff 03", {"counter": -2, "sequence": 3, "carry": False, "adjusted": False, "invalid": False}),
    (15, "ffffff7f e5", {"counter": 2**31 - 1, "sequence": 5, "carry": True, "adjusted": True, "invalid": True}),
    (21, "00e0", {"nva_raw": -8192}),
    (30, "00 " + CP56_HEX, {"spi": 0, "cp56": FIXED_CP56, "cp56_gen": 0}),
    (37, "15cd5b07 3f " + CP56_HEX, {"counter": 123456789, "sequence": 31, "carry": True, "cp56": FIXED_CP56}),
    (38, "0a d204 " + CP56_HEX, {"es": 2, "ei": True, "cp16": 1234, "iv": False}),
    (39, "03 08 f401 " + CP56_HEX, {"gs": True, "sl1": True, "sl2": False, "srd": False, "ei": True, "cp16": 500}),
    (40, "05 08 2c01 " + CP56_HEX, {"gc": True, "cl1": False, "cl2": True, "cl3": False, "ei": True, "cp16": 300}),
    (45, "81", {"state": True, "qu": 0, "select": True}),
    (45, "0d", {"state": True, "qu": 3, "select": False}),
    (46, "06", {"state": 2, "qu": 1, "select": False}),
    (47, "0a", {"state": 2, "qu": 2, "select": False}),
    (48, "00c0 80", {"nva_raw": -16384, "ql": 0, "select": True}),
    (49, "2c01 05", {"sva": 300, "ql": 5, "select": False}),
    (50, "00002842 00", {"r32": 42.0, "ql": 0, "select": False}),
    (51, "a5a50ff0", {"bsi": "a5a50ff0"}),
    (70, "82", {"coi": 2, "coi_changed": True}),
    (100, "14", {"qoi": 20}),
    (101, "82", {"rqt": 2, "frz": 2}),
    (103, CP56_HEX, {"cp56": FIXED_CP56}),
    (104, "aa55", {"fbp": 0x55AA}),
    (105, "01", {"qrp": 1}),
    (106, "e803", {"cp16": 1000}),
    (110, "0040 c1", {"nva_raw": 16384, "kpa": 1, "lpc": True, "pop": True}),
    (112, "0000c03f 03", {"r32": 1.5, "kpa": 3, "lpc": False, "pop": False}),
    (113, "03", {"qpa": 3}),
    (120, "0100 010203 80", {"nof": 1, "frq": 0, "frq_negative": True, "scapy_known_wrong": {"lof": 0x010203}}),
    (125, "0100 02 03 aabbcc", {"nof": 1, "nos": 2, "los": 3, "segment": "aabbcc"}),
]


@pytest.mark.parametrize(("type_id", "element", "expected"), ELEMENT_CASES)
def test_scapy_values_elements(type_id: int, element: str, expected: dict[str, Any]) -> None:
    values = scapy_values(i_frame(f"{type_id:02x} 01 0300 2f00 0a0000 {element}"))
    assert values["scapy_error"] is None
    assert values["type_id"] == type_id
    [obj] = values["objects"]
    assert obj["ioa"] == 10
    assert {k: obj.get(k, "<missing>") for k in expected} == expected


def test_scapy_values_read_command_has_no_element() -> None:
    assert scapy_values(i_frame("6601 0500 2f00 c80000"))["objects"] == [{"ioa": 200}]


def test_scapy_values_sq1_ioas_increment() -> None:
    values = scapy_values(i_frame("0d83 1400 2f00 c80000 0000484100 000080bf10 0000c07f80"))
    ioas = [obj["ioa"] for obj in values["objects"]]
    assert ioas == [200, 201, 202]
    first, second, third = values["objects"]
    assert (first["r32"], second["r32"], second["bl"]) == (12.5, -1.0, True)
    assert math.isnan(third["r32"]) and third["iv"] is True


def test_scapy_values_127_objects_beyond_scapy_default_list_limit() -> None:
    values = scapy_values(i_frame("01ff 1400 2f00 640000" + "01" * 127))
    assert values["scapy_error"] is None
    assert len(values["objects"]) == 127
    assert values["objects"][-1]["ioa"] == 100 + 126


def test_scapy_known_wrong_scd() -> None:
    # ST = I0|I9 = 0x0201, CD = I9|I15 = 0x8200 (lib60870 layout: two UI16 LE)
    [obj] = scapy_values(i_frame("1401 0300 2f00 0a0000 01020082 00"))["objects"]
    assert obj["scapy_known_wrong"] == {"scd_st": 0x0082, "scd_cd": 0x0102}
    assert without_scapy_extras(obj) == {"ioa": 10, "ov": False, **NO_QUALITY}


def test_scapy_rejects_c3_bit0_which_c104_accepts() -> None:
    frame = h("680401000b00")
    values = scapy_values(frame)
    assert (values["format"], values["scapy_layer"], values["scapy_undecoded"]) == (None, "Raw", frame.hex())
    assert c104_header(frame)["format"] == "S"
    assert scapy_values(h("680e00000100640106002f0000000014"))["format"] is None


def test_scapy_values_truncated_i_frame_reports_error() -> None:
    values = scapy_values(h("6806 04000200 0101"))
    assert values["format"] is None
    assert values["scapy_error"] is not None
    assert values["scapy_undecoded"] == "680604000200" + "0101"


def test_scapy_values_short_frame_is_raw() -> None:
    assert scapy_values(h("68 0e 00 00 00 00 64 01"))["scapy_layer"] == "Raw"  # shorter than L + 2


def test_scapy_values_u_frame_with_two_functions() -> None:
    assert scapy_values(h("680447000000"))["u_function"] == "STARTDT_ACT+TESTFR_ACT"
    assert scapy_values(h("680403000000"))["u_function"] is None


def test_scapy_splits_objects_by_length_not_vsq() -> None:
    values = scapy_values(i_frame("0102 0300 2f00 0a0000 01"))
    assert (values["number"], len(values["objects"])) == (2, 1)
    values = scapy_values(i_frame("0101 0300 2f00 0a0000 01 0b0000 00"))
    assert (values["number"], [o["ioa"] for o in values["objects"]]) == (1, [10, 11])
    values = scapy_values(i_frame("0101 0300 2f00 0a0000 01 ffff"))
    assert values["objects"][1] == {"ioa": None, "scapy_raw": "ffff"}


def test_scapy_values_unknown_type_is_raw_object() -> None:
    values = scapy_values(i_frame("c801 0300 2f00 0a0000 01"))
    assert values["type_id"] == 200
    assert values["objects"] == [{"ioa": None, "scapy_raw": "0a000001"}]
    assert values["first_ioa"] is None


def test_scapy_values_trailing_octets_after_l() -> None:
    values = scapy_values(GI_ACT + h("680401000a00"))
    assert values["type_id"] == 100
    assert values["scapy_undecoded"] == "680401000a00"


def test_without_scapy_extras() -> None:
    values = scapy_values(i_frame("0701 0300 2f00 0a0000 78563412 00"))
    clean = without_scapy_extras(values)
    assert not any(k.startswith("scapy_") for k in clean)
    assert clean["objects"] == [{"ioa": 10, "bsi": "78563412", "ov": False, **NO_QUALITY}]


# ----------------------------------------------------------------------------- golden session file

EXPECTED_SPONTANEOUS = {
    1: {"spi": 1, **NO_QUALITY},
    3: {"dpi": 2},
    5: {"value": -5, "transient": True},
    7: {"bsi": "78563412"},
    9: {"nva_raw": 16384},
    11: {"sva": -1234, "sb": True},
    13: {"r32": 12.5},
    15: {"counter": -2, "sequence": 3, "carry": False, "adjusted": False, "invalid": False},
    20: {"scapy_known_wrong": {"scd_st": 0x0082, "scd_cd": 0x0102}},
    21: {"nva_raw": -8192},
    30: {"spi": 0, "iv": True, "cp56": FIXED_CP56},
    31: {"dpi": 1, "nt": True, "cp56": FIXED_CP56},
    32: {"value": 63, "transient": False, "cp56": FIXED_CP56},
    33: {"bsi": "01020304", "cp56": FIXED_CP56},
    34: {"nva_raw": -32768, "ov": True, "cp56": FIXED_CP56},
    35: {"sva": 32767, "cp56": FIXED_CP56},
    36: {"r32": -0.125, "bl": True, "cp56": FIXED_CP56},
    37: {"counter": 123456789, "sequence": 31, "carry": True, "cp56": FIXED_CP56},
    38: {"es": 2, "cp16": 1234, "cp56": FIXED_CP56},
    39: {"gs": True, "sl1": True, "sl2": False, "cp16": 500, "cp56": FIXED_CP56},
    40: {"gc": True, "cl2": True, "ei": True, "cp16": 300, "cp56": FIXED_CP56},
}


@pytest.fixture(scope="module")
def golden() -> list[tuple[str, bytes]]:
    return read_hex_file(SESSION_HEX.read_text())


def test_golden_file_shape(golden: list[tuple[str, bytes]]) -> None:
    assert len(golden) >= 90
    for direction, apdu in golden:
        assert direction in ("C>S", "S>C")
        assert apdu[0] == 0x68 and len(apdu) == apdu[1] + 2
    assert {a for _, a in golden if len(a) == 6 and a[2] & 3 == 3} == set(U_FRAMES.values())


def test_golden_file_decodes_identically_in_both_oracles(golden: list[tuple[str, bytes]]) -> None:
    for _, apdu in golden:
        values = scapy_values(apdu)
        assert values["scapy_error"] is None and values["scapy_undecoded"] is None, apdu.hex()
        assert {k: values[k] for k in HEADER_KEYS} == c104_header(apdu), apdu.hex()
        assert all("scapy_raw" not in obj for obj in values["objects"]), apdu.hex()
        if values["format"] == "I":
            assert len(values["objects"]) == values["number"], apdu.hex()


def test_golden_file_type_coverage(golden: list[tuple[str, bytes]]) -> None:
    def types(direction: str) -> set[int]:
        return {a[6] for d, a in golden if d == direction and a[2] & 1 == 0}

    assert types("C>S") == {*range(45, 52), *range(58, 65), 100, 101, 102, 103, 107}
    assert set(EXPECTED_SPONTANEOUS) | {70, 100, 101, 102, 103, 107} | set(range(45, 52)) | set(range(58, 65)) == types(
        "S>C"
    )


def test_golden_file_spontaneous_values(golden: list[tuple[str, bytes]]) -> None:
    seen = set()
    for direction, apdu in golden:
        values = scapy_values(apdu)
        if direction != "S>C" or values["cot"] != 3:
            continue
        type_id = values["type_id"]
        if type_id == 11 and values["sq"]:  # the SQ=1 batch of four M_ME_NB_1
            assert [(o["ioa"], o["sva"]) for o in values["objects"]] == [(400, 10), (401, 20), (402, 30), (403, 40)]
            continue
        [obj] = values["objects"]
        assert obj["ioa"] == 100 + type_id
        expected = EXPECTED_SPONTANEOUS[type_id]
        assert {k: obj.get(k, "<missing>") for k in expected} == expected, type_id
        seen.add(type_id)
    assert seen == set(EXPECTED_SPONTANEOUS)


def test_golden_file_negative_confirmation(golden: list[tuple[str, bytes]]) -> None:
    replies = [c104_header(a) for d, a in golden if d == "S>C" and c104_header(a)["first_ioa"] == 299]
    assert [(r["type_id"], r["cot"], r["negative"]) for r in replies] == [(45, 7, True), (45, 47, False)]


# ----------------------------------------------------------------------------- live session


def test_record_c104_session_live() -> None:
    frames = record_c104_session(free_port(), timeout=20.0)
    directions = {d for d, _ in frames}
    assert directions == {"C>S", "S>C"}
    for _, apdu in frames:
        assert apdu[0] == 0x68 and len(apdu) == apdu[1] + 2
    sent = {a[6] for d, a in frames if d == "C>S" and a[2] & 1 == 0}
    received = {a[6] for d, a in frames if d == "S>C" and a[2] & 1 == 0}
    assert {100, 101, 103, 45} <= sent
    assert {100, 101, 103, 45} <= received  # confirmations
    assert len({t for t in received if t < 45}) >= 10
    assert (("C>S", U_FRAMES["STARTDT_ACT"])) in frames and ("S>C", U_FRAMES["STARTDT_CON"]) in frames
    assert read_hex_file(format_hex_file(frames)) == frames


def test_scapy_adapter_maps_every_scapy_field() -> None:
    from scapy.contrib.scada.iec104.iec104_information_objects import IEC104_IO_CLASSES

    from iec104.oracles import _build_normalizer

    for type_id, cls in IEC104_IO_CLASSES.items():
        fields = {f.name: (b"" if f.name == "data" else 0) for f in cls.fields_desc}
        out = _build_normalizer(cls)(fields)
        unknown = [k for k in out if k.startswith("scapy_") and k != "scapy_known_wrong"]
        assert not unknown, (type_id, unknown)


def test_record_c104_session_enforces_its_timeout() -> None:
    with pytest.raises(TimeoutError):  # without the timeout the session would end normally
        record_c104_session(free_port(), timeout=0.5)  # the final TESTFR needs t3 = 2 s
