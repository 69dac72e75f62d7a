"""``otwire inspect`` against tshark on the same generated captures, in one run.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/inspect_tshark.py [--quick] [--apdus N]``).
See ``benchmarks/README.md`` (section ``inspect_tshark.py``) for what is measured and the targets.

Two captures are generated deterministically into a temporary directory:

* ``iec104``: N APDUs, one ``M_ME_NC_1`` (one object) per packet, one connection;
* ``mixed``: IEC 104 with several objects per ASDU and several APDUs per segment
  (``M_ME_NC_1``, ``M_SP_TB_1``, ``M_ME_NB_1`` with SQ, S-frames, interrogation) on
  several connections, and the bundled IMB3, i3X and XMPP (XEP-0323) sample
  conversations replayed on fresh connections, packets interleaved. (MXAccess over gRPC
  is not dissected by ``otwire inspect``, so it is not in the capture.)

otwire's bytecode is written first (as a wheel's installation does; an editable install under
``PYTHONDONTWRITEBYTECODE`` would compile every module from source in each run). Each tool
runs once per capture and output, as a subprocess writing to ``/dev/null``;
its CPU time (user + system), wall time and peak resident memory (``wait4``) are
printed, then the ratios against the targets, computed on CPU time (every tool here
runs on one core, and CPU time does not count the other jobs of a shared machine; the
wall-time ratios are printed too). tshark (Debian's, ``-d tcp.port==2404,iec60870_104``) is skipped
with a note when it is not installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO

FULL_APDUS = 1_000_000
QUICK_APDUS = 2_000
TARGET_JSON_RATIO = 3.0  # tshark -T json / otwire jsonl >= this
TARGET_APDUS_PER_S = 100_000  # otwire jsonl APDUs per second >= this
TARGET_TABLE_RATIO = 1.0  # tshark default / otwire table >= this
DECODE_AS = ["-d", "tcp.port==2404,iec60870_104"]
TSHARK_FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "tcp.stream",
    "iec60870_104.type",
    "iec60870_asdu.typeid",
    "iec60870_asdu.causetx",
    "iec60870_asdu.addr",
    "iec60870_asdu.ioa",
]
IEC104_PORT, IMB_PORT, I3X_PORT, XMPP_PORT = 2404, 4000, 8080, 5222


# --- pcap writing ---------------------------------------------------------------------


class PcapWriter:
    """A minimal pcap writer (Ethernet, IPv4, TCP) keeping the sequence numbers of each flow."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._seq: dict[tuple[int, int], int] = {}
        self.packets = 0
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def connect(self, client: int, server: int, ts: float) -> None:
        """Write a three-way handshake from client port ``client`` to ``server``."""
        self._seq[(client, server)] = 1000 + client
        self._seq[(server, client)] = 5000 + client
        self._segment(client, server, 0x02, b"", ts)
        self._segment(server, client, 0x12, b"", ts)
        self._segment(client, server, 0x10, b"", ts)

    def send(self, sport: int, dport: int, payload: bytes, ts: float) -> None:
        """Write one PSH/ACK segment carrying ``payload``."""
        self._segment(sport, dport, 0x18, payload, ts)

    def _segment(self, sport: int, dport: int, flags: int, payload: bytes, ts: float) -> None:
        seq = self._seq[(sport, dport)]
        ack = self._seq[(dport, sport)]
        self._seq[(sport, dport)] = (seq + len(payload) + (1 if flags & 0x02 else 0)) & 0xFFFFFFFF
        src, dst = (
            (b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x01") if sport < dport else (b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02")
        )
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 64240, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
        frame = b"\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + payload
        sec = int(ts)
        self._f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
        self._f.write(frame)
        self.packets += 1


# --- the captures -----------------------------------------------------------------------


def _m_me_nc_1(ns: int, ioa: int, value: float) -> bytes:
    """One I-frame M_ME_NC_1 (type 13), cause spontaneous, CA 1, one object; built by hand for speed."""
    control = struct.pack("<HH", (ns % 32768) << 1, 0)
    return (
        b"\x68\x12"
        + control
        + b"\x0d\x01\x03\x00\x01\x00"
        + ioa.to_bytes(3, "little")
        + struct.pack("<f", value)
        + b"\x00"
    )


def write_iec104(path: Path, apdus: int) -> int:
    """Write ``apdus`` packets of one M_ME_NC_1 each; return the APDU count."""
    from otwire.codecs.iec104 import decode_apdu  # here: the measuring process imports no otwire

    assert decode_apdu(_m_me_nc_1(5, 1300, 1.5)).asdu.objects[0].ioa == 1300  # type: ignore[union-attr]
    with path.open("wb") as f:
        pcap = PcapWriter(f)
        pcap.connect(50000, IEC104_PORT, 1_700_000_000.0)
        for i in range(apdus):
            pcap.send(IEC104_PORT, 50000, _m_me_nc_1(i, 1000 + i % 500, i * 0.25), 1_700_000_000.001 + i * 1e-4)
    return apdus


def _mixed_apdus(count: int) -> Iterator[tuple[bool, bytes]]:
    """Yield (from_server, APDU) for the IEC 104 part of the mixed capture."""
    from otwire.codecs.iec104 import ASDU, QDS, SIQ, SVA, CP56Time2a, IFrame, InformationObject, SFrame, encode_apdu
    from otwire.codecs.iec104 import elements as el
    from otwire.codecs.iec104.types import Cot, TypeId

    when = CP56Time2a.from_datetime(datetime.datetime(2024, 5, 1, 12, 0, 0))
    templates = [
        ASDU(type_id=TypeId.M_ME_NC_1, cot=Cot.SPONTANEOUS, common_address=3,
             objects=tuple(InformationObject(1300 + k, (el.R32(value=k * 1.5), QDS())) for k in range(5))),
        ASDU(type_id=TypeId.M_SP_TB_1, cot=Cot.SPONTANEOUS, common_address=3,
             objects=tuple(InformationObject(100 + k, (SIQ(spi=k % 2 == 0), when)) for k in range(3))),
        ASDU(type_id=TypeId.M_ME_NB_1, cot=Cot.INTERROGATED_BY_STATION, common_address=3, sq=True,
             objects=tuple(InformationObject(2000 + k, (SVA(value=k * 10), QDS())) for k in range(10))),
    ]  # fmt: skip
    for i in range(count):
        if i % 8 == 7:
            yield False, encode_apdu(SFrame(nr=i % 32768))
        else:
            yield True, encode_apdu(IFrame(ns=i % 32768, nr=0, asdu=templates[i % 3]))


def _conversations(name: str, port: int) -> list[tuple[bool, bytes]]:
    """Return the (from_server, payload) sequence of the first conversation of a bundled sample."""
    from otwire.inspect.capture import Data, StreamStart, read_capture

    with resources.as_file(resources.files("otwire.inspect") / "samples" / name) as path:
        out, first = [], None
        for record in read_capture(path, [port]):
            if isinstance(record, StreamStart):
                first = first or record.flow
            elif isinstance(record, Data) and record.flow == first:
                out.append((record.sender == "server", record.data))
        return out


def write_mixed(path: Path, apdus: int) -> None:
    """Write the mixed capture: about ``apdus`` IEC 104 APDUs on 4 connections, IMB, i3X and XMPP replays."""
    flows: list[tuple[int, list[tuple[bool, bytes]]]] = []
    iec = list(_mixed_apdus(apdus))
    for k in range(4):
        part = iec[k::4]
        grouped, i = [], 0
        while i < len(part):  # one to four APDUs per segment, when they go the same way
            n = 1 + i % 4
            chunk = [a for s, a in part[i : i + n] if s == part[i][0]]
            grouped.append((part[i][0], b"".join(chunk)))
            i += len(chunk)
        flows.append((IEC104_PORT, grouped))
    imb, i3x = _conversations("otwire_imb_hub.pcap", IMB_PORT), _conversations("otwire_i3x.pcap", I3X_PORT)
    xmpp = _conversations("otwire_xmpp_c2s.pcap", XMPP_PORT)
    replays = max(1, apdus // 200)
    flows += [(IMB_PORT, imb)] * replays + [(I3X_PORT, i3x)] * max(1, replays // 4)
    flows += [(XMPP_PORT, xmpp)] * max(1, replays // 4)
    with path.open("wb") as f:
        _interleave(PcapWriter(f), flows)


def _interleave(pcap: PcapWriter, flows: Sequence[tuple[int, list[tuple[bool, bytes]]]]) -> None:
    """Write the flows' segments round robin (16 at a time), each flow on its own client port."""
    ts = 1_700_000_000.0
    cursors = [0] * len(flows)
    for k, (port, _) in enumerate(flows):
        pcap.connect(20000 + k, port, ts)
    live = list(range(len(flows)))
    while live:
        for k in list(live):
            port, segments = flows[k]
            for from_server, payload in segments[cursors[k] : cursors[k] + 16]:
                ts += 1e-4
                ends = (port, 20000 + k) if from_server else (20000 + k, port)
                pcap.send(*ends, payload, ts)
            cursors[k] += 16
            if cursors[k] >= len(segments):
                live.remove(k)


# --- running and measuring ------------------------------------------------------------------


@dataclass
class Run:
    """One measured command: wall and CPU (user + system) seconds, peak resident memory."""

    label: str
    wall: float
    seconds: float  # CPU: what the ratios use (robust against other jobs on a shared machine)
    peak_kib: int
    stderr: str


#: A command whose first run takes less CPU time than this (seconds) runs REPEATS times in all.
SHORT_RUN = 30.0
#: Runs of a short command; its median (by CPU time) counts.
REPEATS = 3


def measure(label: str, argv: list[str]) -> Run:
    """Time ``argv`` as :func:`measure_once` does: once, or :data:`REPEATS` times when it is short.

    The machines are shared: a run of a few seconds is now and then half again as long as
    the next one. The median of three runs leaves such a run out; a run of more than
    :data:`SHORT_RUN` seconds averages those moments over its length and runs once. The
    same rule holds for otwire and tshark.
    """
    first = measure_once(label, argv)
    if first.seconds >= SHORT_RUN:
        return first
    runs = sorted([first, *(measure_once(label, argv) for _ in range(REPEATS - 1))], key=lambda run: run.seconds)
    return runs[len(runs) // 2]


def measure_once(label: str, argv: list[str]) -> Run:
    """Run ``argv`` with its output to /dev/null; return wall time and peak RSS (KiB)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if proc.returncode:
        raise SystemExit(f"{label}: exit status {proc.returncode}: {text[-2000:]}")
    return Run(label, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, text)


def otwire_runs(path: Path) -> tuple[Run, Run, int]:
    """Time ``otwire inspect`` table and jsonl; return both and the APDU count (from the jsonl summary)."""
    base = [sys.executable, "-m", "otwire", "inspect", "--progress", "never"]
    table = measure("otwire table", [*base, str(path)])
    jsonl = measure("otwire jsonl", [*base, "--format", "jsonl", str(path)])
    summary = json.loads(jsonl.stderr.strip().splitlines()[-1])["summary"]
    return table, jsonl, sum(v["counts"].get("APDUs", 0) for v in summary.values())


def tshark_runs(tshark: str, path: Path) -> list[Run]:
    """Time tshark's default one-line output, ``-T fields`` and ``-T json``."""
    base = [tshark, "-n", "-r", str(path), *DECODE_AS]
    fields = [a for f in TSHARK_FIELDS for a in ("-e", f)]
    return [
        measure("tshark default", base),
        measure("tshark -T fields", [*base, "-T", "fields", *fields]),
        measure("tshark -T json", [*base, "-T", "json"]),
    ]


def report(name: str, path: Path, tshark: str | None) -> list[str]:
    """Measure one capture, print the lines and return the target misses."""
    table, jsonl, apdus = otwire_runs(path)
    runs = [table, jsonl, *(tshark_runs(tshark, path) if tshark else [])]
    print(f"\n{name}: {path.stat().st_size / 1e6:.1f} MB, {apdus} APDUs")
    for run in runs:
        rate = apdus / run.seconds if run.seconds else 0.0
        print(f"  {run.label:<18} {run.seconds:8.2f} s CPU {run.wall:8.2f} s wall {rate:10,.0f} APDUs/s (CPU)"
              f"  peak RSS {run.peak_kib / 1024:7.1f} MiB")  # fmt: skip
    misses = []
    rate = apdus / jsonl.seconds
    misses += _check(f"{name}: otwire jsonl APDUs/s", rate, TARGET_APDUS_PER_S, "{:,.0f}")
    if not tshark:
        print("  tshark comparison skipped: not installed (make bench installs it as root) or --no-tshark")
        return misses
    by = {run.label: run for run in runs}
    misses += _check(f"{name}: tshark -T json / otwire jsonl", by["tshark -T json"].seconds / jsonl.seconds,
                     TARGET_JSON_RATIO, "{:.2f}x")  # fmt: skip
    misses += _check(f"{name}: tshark default / otwire table", by["tshark default"].seconds / table.seconds,
                     TARGET_TABLE_RATIO, "{:.2f}x")  # fmt: skip
    print(f"  (info) tshark -T fields / otwire jsonl: {by['tshark -T fields'].seconds / jsonl.seconds:.2f}x; wall-time"
          f" ratios: -T json / jsonl {by['tshark -T json'].wall / jsonl.wall:.2f}x,"
          f" default / table {by['tshark default'].wall / table.wall:.2f}x")  # fmt: skip
    return misses


def _compile_otwire() -> None:
    """Write otwire's bytecode (``__pycache__``), as installing a wheel does.

    An editable install on a machine with ``PYTHONDONTWRITEBYTECODE`` set (as some CI images
    are) would otherwise compile every otwire module from source in each measured run:
    about 0.1 s of CPU that an installed otwire does not spend.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("otwire")
    for folder in (spec and spec.submodule_search_locations) or []:
        compileall.compile_dir(folder, quiet=1)


def _check(label: str, value: float, target: float, fmt: str) -> list[str]:
    ok = value >= target
    print(f"  {label}: {fmt.format(value)} (target >= {fmt.format(target)}) {'ok' if ok else 'MISS'}")
    return [] if ok else [label]


def _generate(single: Path, mixed: Path, apdus: int) -> None:
    _compile_otwire()
    write_iec104(single, apdus)
    write_mixed(mixed, max(apdus // 5, 100))


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the captures, time every tool on them and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_APDUS} APDUs (smoke test)")
    parser.add_argument("--apdus", type=int, help=f"APDUs in the IEC 104 capture (default {FULL_APDUS})")
    parser.add_argument("--no-tshark", action="store_true", help="skip the tshark comparison")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="write the captures into DIR and keep them")
    args = parser.parse_args(argv)
    apdus = args.apdus or (QUICK_APDUS if args.quick else FULL_APDUS)
    tshark = None if args.no_tshark else shutil.which("tshark")
    if tshark:
        print(subprocess.run([tshark, "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    with tempfile.TemporaryDirectory(prefix="otwire-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        single, mixed = folder / "iec104.pcap", folder / "mixed.pcap"
        started = time.perf_counter()
        # In a child process: a child's peak RSS counts its parent's at fork (Linux), so this one stays small.
        with ProcessPoolExecutor(1) as pool:
            pool.submit(_generate, single, mixed, apdus).result()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"captures generated in {time.perf_counter() - started:.1f} s (peak RSS below includes at most"
              f" this script's {own:.1f} MiB)")  # fmt: skip
        misses = report("iec104 (one M_ME_NC_1 per packet)", single, tshark)
        misses += report("mixed (IEC 104 multi-object/multi-APDU, IMB, i3X, XMPP)", mixed, tshark)
    print(f"\n{len(misses)} target(s) missed" + (": " + "; ".join(misses) if misses else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
