"""IEC 104 benchmark: per-APDU decode time (otwire, c104, scapy) and APDUFramer throughput.

Run from anywhere with ``make bench`` (or ``.venv/bin/python benchmarks/iec104_decode.py``).
See ``benchmarks/README.md`` for what is measured and the targets.

c104 and scapy are GPL peers used only here, never by the otwire package.
"""

from __future__ import annotations

import gc
import importlib.metadata
import importlib.resources
import math
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import c104
import scapy
from scapy.config import conf
from scapy.contrib.scada.iec104 import (
    IEC104_I_Message,
    IEC104_S_Message,
    IEC104_U_Message,
    iec104_decode,
)
from scapy.packet import NoPayload, Packet, Padding

from otwire.codecs.iec104 import APDU, APDUFramer, IFrame, RawAPDU, SFrame, decode_apdu
from otwire.errors import DecodeError
from otwire.inspect.capture import Data, Gap, StreamStart, read_capture

ROOT = Path(__file__).resolve().parent.parent
EXTRA_CAPTURES = (ROOT / "tests" / "data" / "automayt_IEC104_SQ.pcapng",)
SESSION_HEX = ROOT / "specs" / "iec104" / "vectors" / "c104_session.hex"
PORTS = (2404,)

# Per-APDU timing: best of R repeats of the mean over an inner loop of N calls.
OTWIRE_LOOPS, OTWIRE_REPEATS = 200, 5
C104_LOOPS, C104_REPEATS = 200, 5
SCAPY_LOOPS, SCAPY_REPEATS = 20, 3

# Framer throughput.
STREAM_APDUS = 200_000
JUNK_EVERY = 1000
JUNK = b"\x00\x11\xff"  # no 0x68, so it never looks like a start octet
CHUNK = 1460
THROUGHPUT_REPEATS = 3

TARGET_OTWIRE_C104 = 1.0  # otwire / c104 <= this
TARGET_SCAPY_OTWIRE = 20.0  # scapy / otwire >= this
TARGET_FRAMER_APS = 200_000  # APDUs per second >= this

SHOW_EXAMPLES = 8  # hex examples printed per kind of disagreement


# --- frames ---------------------------------------------------------------------------


@dataclass
class Source:
    name: str
    frames: list[bytes] = field(default_factory=list)
    junk: int = 0  # junk items and length errors from the framer


def _pull(framer: APDUFramer, source: Source) -> None:
    for item in framer:
        if isinstance(item, RawAPDU):
            source.frames.append(item.data)
        else:
            source.junk += 1


def capture_frames(path: Path) -> Source:
    """Every APDU of a capture, one framer per flow and direction (reset on a new stream/gap)."""
    source = Source(path.name)
    framers: dict[tuple[object, object], APDUFramer] = {}
    for record in read_capture(path, PORTS):
        if isinstance(record, Data):
            framer = framers.setdefault((record.flow, record.sender), APDUFramer())
            framer.receive_data(record.data)
            _pull(framer, source)
        elif isinstance(record, StreamStart | Gap):
            for key in [k for k in framers if k[0] == record.flow]:
                if isinstance(record, StreamStart) or key[1] == record.sender:
                    _close(framers.pop(key), source)
    for framer in framers.values():
        _close(framer, source)
    return source


def _close(framer: APDUFramer, source: Source) -> None:
    framer.close()
    _pull(framer, source)


def session_frames(path: Path) -> Source:
    """APDUs of a ``C>S <hex>`` / ``S>C <hex>`` file; each line is framed on its own."""
    source = Source(path.name)
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        direction, _, hexdata = text.partition(" ")
        try:
            data = bytes.fromhex(hexdata.replace(":", ""))
        except ValueError:
            data = b""
        if direction not in ("C>S", "S>C") or not data:
            print(f"  warning: {path.name}:{number}: not 'C>S <hex>' or 'S>C <hex>', skipped")
            continue
        framer = APDUFramer()
        framer.receive_data(data)
        framer.close()
        _pull(framer, source)
    return source


def sources() -> list[Source]:
    samples = importlib.resources.files("otwire.inspect") / "samples"
    paths = sorted(
        (Path(str(p)) for p in samples.iterdir() if p.name.startswith("iti_")),
        key=lambda p: p.name,
    )
    result = [capture_frames(p) for p in [*paths, *EXTRA_CAPTURES] if p.suffix.startswith(".pcap")]
    if SESSION_HEX.exists():
        result.append(session_frames(SESSION_HEX))
    return result


# --- acceptance and cross-check ----------------------------------------------------------

_U_BITS = {  # scapy U-message bit field -> first control octet
    "startdt_act": 0x07,
    "startdt_con": 0x0B,
    "stopdt_act": 0x13,
    "stopdt_con": 0x23,
    "testfr_act": 0x43,
    "testfr_con": 0x83,
}


def _exc_name(exc: Exception) -> str:
    module = type(exc).__module__
    name = type(exc).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def _layers(packet: Packet) -> Iterator[Packet]:
    """Every layer of a scapy packet, information objects of the ``io`` list included."""
    layer: Packet | None = packet
    while layer is not None and not isinstance(layer, NoPayload):
        yield layer
        for io in getattr(layer, "io", None) or ():
            yield from _layers(io)
        layer = layer.payload


# I-frame header fields, in the order of _header(): N(S) N(R) TypeID COT CA OA n SQ P/N T.
_C104_HEADER = (
    "tx", "rx", "type", "cot", "commonAddress", "originatorAddress", "numberOfObjects",
    "sequence", "negative", "test",
)  # fmt: skip
_SCAPY_HEADER = (
    "tx_seq_num", "rx_seq_num", "type_id", "cot", "common_asdu_address", "origin_address",
    "num_io", "sq", "ack", "test",
)  # fmt: skip


def _header(apdu: IFrame) -> tuple[int, ...]:
    a = apdu.asdu
    return (
        apdu.ns, apdu.nr, int(a.type_id), int(a.cot), a.common_address, a.originator_address,
        a.number, int(a.sq), int(a.negative), int(a.test),
    )  # fmt: skip


def c104_check(frame: bytes, apdu: APDU) -> str | None:
    """Why c104 rejects or disagrees with otwire on ``frame`` (``None``: accepted, agrees)."""
    try:
        d = c104.explain_bytes_dict(apdu=frame)
    except Exception as exc:  # c104 raising at all is a rejection
        return f"raised {_exc_name(exc)}: {exc}"
    fmt = "I" if isinstance(apdu, IFrame) else "S" if isinstance(apdu, SFrame) else "U"
    if d.get("format") != fmt:
        return f"format {d.get('format')!r}, otwire {fmt}"
    if isinstance(apdu, IFrame):
        for key in ("type", "cot"):
            if d[key].name == "???":
                return f"unknown {key} {int(d[key])}"
        ours = _header(apdu)
        theirs = tuple(int(d[key]) for key in _C104_HEADER)
        if ours != theirs:
            return f"header differs: c104 {theirs}, otwire {ours}"
    elif isinstance(apdu, SFrame):
        if d["rx"] != apdu.nr:
            return f"N(R) {d['rx']}, otwire {apdu.nr}"
    elif f"{d['type']}_{d['cot']}" != apdu.function.name:
        return f"U function {d['type']}_{d['cot']}, otwire {apdu.function.name}"
    return None


def scapy_check(frame: bytes, apdu: APDU) -> str | None:
    """Why scapy rejects or disagrees with otwire on ``frame`` (``None``: accepted, agrees)."""
    try:
        packet = iec104_decode(frame)
    except Exception as exc:
        return f"raised {_exc_name(exc)}: {exc}"
    layers = list(_layers(packet))
    for layer in layers:
        if isinstance(layer, (conf.raw_layer, Padding)):
            return f"undissected {type(layer).__name__} layer in {packet.summary()}"
    if isinstance(apdu, IFrame):
        if not isinstance(packet, IEC104_I_Message) or len(layers) != 1 + len(packet.io):
            return f"not one I message: {packet.summary()}"
        ours = _header(apdu)
        theirs = tuple(int(getattr(packet, name)) for name in _SCAPY_HEADER)
        if ours != theirs:
            return f"header differs: scapy {theirs}, otwire {ours}"
        if len(packet.io) != apdu.asdu.number:
            return f"{len(packet.io)} information objects, otwire {apdu.asdu.number}"
    elif isinstance(apdu, SFrame):
        if not isinstance(packet, IEC104_S_Message) or packet.rx_seq_num != apdu.nr:
            return f"S frame read as {packet.summary()}"
    else:
        bits = [code for name, code in _U_BITS.items() if getattr(packet, name, 0)]
        if not isinstance(packet, IEC104_U_Message) or bits != [int(apdu.function)]:
            return f"U frame read as {packet.summary()}"
    return None


@dataclass
class Selection:
    frames: list[bytes]
    formats: list[str]  # "I" or "S/U" per frame
    otwire_rejects: list[tuple[bytes, str]]
    c104_rejects: list[tuple[bytes, str]]
    scapy_rejects: list[tuple[bytes, str]]


def select(all_frames: Iterable[bytes]) -> Selection:
    sel = Selection([], [], [], [], [])
    for frame in all_frames:
        try:
            apdu = decode_apdu(frame)
        except DecodeError as exc:
            sel.otwire_rejects.append((frame, str(exc).splitlines()[0]))
            continue
        except Exception as exc:  # a bug, not a rejection: make it visible
            sel.otwire_rejects.append((frame, f"UNEXPECTED {_exc_name(exc)}: {exc}"))
            continue
        c104_reason = c104_check(frame, apdu)
        scapy_reason = scapy_check(frame, apdu)
        if c104_reason:
            sel.c104_rejects.append((frame, c104_reason))
        if scapy_reason:
            sel.scapy_rejects.append((frame, scapy_reason))
        if not (c104_reason or scapy_reason):
            sel.frames.append(frame)
            sel.formats.append("I" if isinstance(apdu, IFrame) else "S/U")
    return sel


# --- per-APDU timing -----------------------------------------------------------------------
# One function per decoder, so no extra call layer (lambda) is timed.


def _time_otwire(frame: bytes, loops: int) -> int:
    decode, rng, clock = decode_apdu, range(loops), time.perf_counter_ns
    start = clock()
    for _ in rng:
        decode(frame)
    return clock() - start


def _time_c104(frame: bytes, loops: int) -> int:
    explain, rng, clock = c104.explain_bytes_dict, range(loops), time.perf_counter_ns
    start = clock()
    for _ in rng:
        explain(apdu=frame)
    return clock() - start


def _time_scapy(frame: bytes, loops: int) -> int:
    decode, rng, clock = iec104_decode, range(loops), time.perf_counter_ns
    start = clock()
    for _ in rng:
        decode(frame)
    return clock() - start


DECODERS: tuple[tuple[str, Callable[[bytes, int], int], int, int], ...] = (
    ("otwire", _time_otwire, OTWIRE_LOOPS, OTWIRE_REPEATS),
    ("c104", _time_c104, C104_LOOPS, C104_REPEATS),
    ("scapy", _time_scapy, SCAPY_LOOPS, SCAPY_REPEATS),
)


def time_frames(frames: list[bytes]) -> dict[str, list[float]]:
    """Per-frame best-of-R mean time in ns, decoders interleaved per repeat."""
    result: dict[str, list[float]] = {name: [] for name, *_ in DECODERS}
    rounds = max(repeats for *_, repeats in DECODERS)
    for frame in frames:
        best = dict.fromkeys(result, math.inf)
        for r in range(rounds):
            for name, timer, loops, repeats in DECODERS:
                if r < repeats:
                    best[name] = min(best[name], timer(frame, loops) / loops)
        for name, value in best.items():
            result[name].append(value)
    return result


# --- framer throughput ----------------------------------------------------------------------


def build_stream(frames: list[bytes]) -> tuple[list[bytes], int, int]:
    """Chunks of the mixed stream, number of APDUs and of junk runs in it."""
    reps = math.ceil(STREAM_APDUS / len(frames))
    parts: list[bytes] = []
    junk = 0
    for i, frame in enumerate(frames * reps, 1):
        parts.append(frame)
        if i % JUNK_EVERY == 0:
            parts.append(JUNK)
            junk += 1
    stream = b"".join(parts)
    chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]
    return chunks, len(frames) * reps, junk


def run_framer(chunks: list[bytes], decode: bool) -> tuple[int, int, int]:
    """Feed the chunks to one framer; return (ns, frames, other items)."""
    decoder = decode_apdu
    framer = APDUFramer()
    frames = others = 0
    clock = time.perf_counter_ns

    def drain() -> None:
        nonlocal frames, others
        for item in framer:
            if type(item) is RawAPDU:
                frames += 1
                if decode:
                    decoder(item.data)
            else:
                others += 1

    start = clock()
    for chunk in chunks:
        framer.receive_data(chunk)
        drain()
    framer.close()
    drain()
    return clock() - start, frames, others


# --- report -----------------------------------------------------------------------------------


def _us(ns: float) -> str:
    return f"{ns / 1000:9.2f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def peer_views(frame: bytes) -> str:
    """What c104 and scapy make of a frame otwire rejects."""
    try:
        d = c104.explain_bytes_dict(apdu=frame)
        keys = ("format", "type", "cot", "commonAddress", "originatorAddress")
        c104_view = " ".join(str(d[k]) for k in keys if k in d)
    except Exception as exc:
        c104_view = f"raised {_exc_name(exc)}"
    try:
        packet = iec104_decode(frame)
        scapy_view = " / ".join(type(layer).__name__ for layer in _layers(packet))
    except Exception as exc:
        scapy_view = f"raised {_exc_name(exc)}"
    return f"c104: {c104_view} | scapy: {scapy_view}"


def _print_rejects(title: str, rejects: list[tuple[bytes, str]], views: Callable[[bytes], str] | None = None) -> None:
    print(f"  {title:<24} {len(rejects):5d}")
    reasons = Counter(reason for _, reason in rejects)
    shown: set[str] = set()
    for frame, reason in rejects:
        if reason in shown or len(shown) >= SHOW_EXAMPLES:
            continue
        shown.add(reason)
        print(f"    x{reasons[reason]:<4d} {reason}")
        print(f"          {frame.hex()}")
        if views is not None:
            print(f"          {views(frame)}")
    if len(reasons) > len(shown):
        print(f"    ... {len(reasons) - len(shown)} more distinct reasons")


def _cpus() -> str:
    total = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        return str(total)
    return str(total) if usable == total else f"{usable} usable of {total}"


def main() -> None:
    started = time.perf_counter()
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}) | "
        f"otwire {importlib.metadata.version('otwire')} | "
        f"c104 {importlib.metadata.version('c104')} | scapy {scapy.VERSION} | "
        f"CPUs {_cpus()} | {platform.machine()}"
    )

    print("\n== frames ==")
    srcs = sources()
    for src in srcs:
        print(f"  {src.name:<34} {len(src.frames):5d} APDUs  ({src.junk} junk/length-error items)")
    if not SESSION_HEX.exists():
        print(f"  {SESSION_HEX.relative_to(ROOT)} not present, skipped")
    all_frames = [f for src in srcs for f in src.frames]
    sel = select(all_frames)
    print(f"  {'captured APDUs':<24} {len(all_frames):5d}")
    _print_rejects("rejected by otwire", sel.otwire_rejects, peer_views)
    _print_rejects("rejected by c104", sel.c104_rejects)
    _print_rejects("rejected by scapy", sel.scapy_rejects)
    print(f"  {'timed (all three accept)':<24} {len(sel.frames):5d}")
    if not sel.frames:
        sys.exit("no frame accepted by all three decoders")

    print("\n== per-APDU decode time (µs; best of R of the mean over N calls) ==")
    print(
        f"  otwire decode_apdu(f) N={OTWIRE_LOOPS} R={OTWIRE_REPEATS} | "
        f"c104 explain_bytes_dict(apdu=f) N={C104_LOOPS} R={C104_REPEATS} | "
        f"scapy iec104_decode(f) N={SCAPY_LOOPS} R={SCAPY_REPEATS}"
    )
    gc.collect()
    gc.disable()
    try:
        times = time_frames(sel.frames)
    finally:
        gc.enable()
    print(
        f"  {'format':<7} {'APDUs':>6} {'otwire':>9} {'c104':>9} {'scapy':>9} {'otwire/c104':>12} {'scapy/otwire':>13}"
    )
    groups = {"I": [], "S/U": [], "all": list(range(len(sel.frames)))}
    for i, fmt in enumerate(sel.formats):
        groups[fmt].append(i)
    medians: dict[str, float] = {}
    for label, idx in groups.items():
        if not idx:
            continue
        med = {name: statistics.median(t[i] for i in idx) for name, t in times.items()}
        if label == "all":
            medians = med
        print(
            f"  {label + ' med':<7} {len(idx):6d} {_us(med['otwire'])} {_us(med['c104'])}"
            f" {_us(med['scapy'])} {med['otwire'] / med['c104']:12.2f}"
            f" {med['scapy'] / med['otwire']:13.1f}"
        )
    totals = {name: sum(t) for name, t in times.items()}
    print(
        f"  {'all sum':<7} {len(sel.frames):6d} {_us(totals['otwire'])} {_us(totals['c104'])}"
        f" {_us(totals['scapy'])} {totals['otwire'] / totals['c104']:12.2f}"
        f" {totals['scapy'] / totals['otwire']:13.1f}"
    )
    for kind, values in (("median", medians), ("total", totals)):
        oc = values["otwire"] / values["c104"]
        so = values["scapy"] / values["otwire"]
        print(
            f"  {kind:<6} otwire/c104 = {oc:5.2f}  target <= {TARGET_OTWIRE_C104:.1f}"
            f"  {_verdict(oc <= TARGET_OTWIRE_C104)}"
        )
        print(
            f"  {kind:<6} scapy/otwire = {so:5.1f}  target >= {TARGET_SCAPY_OTWIRE:.0f}"
            f"   {_verdict(so >= TARGET_SCAPY_OTWIRE)}"
        )

    print(f"\n== APDUFramer throughput (APDUs/s; {CHUNK}-octet chunks, best of {THROUGHPUT_REPEATS}) ==")
    chunks, n_apdus, n_junk = build_stream(sel.frames)
    octets = sum(map(len, chunks))
    print(f"  stream: {n_apdus} APDUs, {n_junk} junk runs, {octets} octets, {len(chunks)} chunks")
    for decode, label in ((False, "framer only"), (True, "framer + decode_apdu")):
        best = math.inf
        gc.collect()
        gc.disable()
        try:
            for _ in range(THROUGHPUT_REPEATS):
                ns, frames, others = run_framer(chunks, decode)
                if (frames, others) != (n_apdus, n_junk):
                    sys.exit(f"framer returned {frames} frames and {others} other items")
                best = min(best, ns)
        finally:
            gc.enable()
        rate = n_apdus / (best / 1e9)
        line = f"  {label:<21} {rate:12,.0f} APDUs/s  ({octets / (best / 1e3):6.1f} MB/s)"
        if not decode:
            line += f"  target >= {TARGET_FRAMER_APS:,}  {_verdict(rate >= TARGET_FRAMER_APS)}"
        else:
            line += "  (information)"
        print(line)

    print(f"\ntotal runtime {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
