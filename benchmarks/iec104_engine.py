"""IEC 104 engine benchmark: monitor I-frames per second through a client, otwire vs c104.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/iec104_engine.py``). See
``benchmarks/README.md``.

One run measures, on the same machine and with the same data set:

* otwire: an ``otwire.servers.iec104.AsyncServer`` in a child process transmits spontaneous
  monitor data; an ``otwire.clients.iec104.Client`` in this process receives, decodes it
  and calls a Python ``on_receive`` callback per point update;
* c104: a ``c104.Server`` in a child process, a ``c104.Client`` here, the same callback.

The rate is updates seen by the callback per second, from the first to the last. The
client script is the same for both libraries (otwire's client has c104's API), which is
the point. Peak memory: each client in its own process holds 100,000 points filled by
a general interrogation; the figure is the peak resident set size of that process
(otwire only: c104's client takes over a minute to register 100,000 points).

This module defines c104 callbacks, whose annotations c104 checks at run time, so it
does not use ``from __future__ import annotations``.
"""

import argparse
import asyncio
import importlib
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path
from types import ModuleType

import c104

HERE = Path(__file__).resolve()
CA = 1
POINTS = 1_000
FRAMES = 20_000
MEMORY_POINTS = 100_000
TYPE_NAMES = ("M_SP_NA_1", "M_ME_NC_1", "M_ME_NB_1", "M_DP_NA_1", "M_ME_NA_1", "M_SP_TB_1")
TARGET_RATIO = 1.0  # otwire rate / c104 rate >= this
WAIT_S = 60.0
STALL_S = 3.0  # stop waiting when no update arrived for this long
SERVER_AHEAD = 200


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client_module(lib: str) -> ModuleType:
    return c104 if lib == "c104" else importlib.import_module("otwire.clients.iec104")


def point_types(lib: str, count: int) -> list[object]:
    if lib == "c104":
        return [getattr(c104.Type, TYPE_NAMES[i % len(TYPE_NAMES)]) for i in range(count)]
    from otwire.codecs.iec104 import TypeId

    return [TypeId[TYPE_NAMES[i % len(TYPE_NAMES)]] for i in range(count)]


def next_value(type_name: str, i: int, lib: str) -> object:
    if type_name.startswith("M_SP"):
        return bool(i & 1)
    if type_name == "M_DP_NA_1":
        if lib == "c104":
            return c104.Double.ON if i & 1 else c104.Double.OFF
        from otwire.codecs.iec104 import DoublePoint

        return DoublePoint.ON if i & 1 else DoublePoint.OFF
    if type_name == "M_ME_NB_1":
        return c104.Int16(i % 30000) if lib == "c104" else i % 30000
    if type_name == "M_ME_NA_1":
        value = (i % 1000) / 1000
        return c104.NormalizedFloat(value) if lib == "c104" else value
    return float(i)


# -- server side (child process) ------------------------------------------------------------


def serve_c104(port: int, points: int, frames: int) -> None:
    server = c104.Server(ip="127.0.0.1", port=port, tick_rate_ms=50)
    sent = [0]

    def on_send_raw(server: c104.Server, data: bytes) -> None:
        if not data[2] & 1:
            sent[0] += 1

    # lib60870 drops the oldest queued message when its queue is full, so the sender
    # keeps at most SERVER_AHEAD frames between transmit() and the wire.
    server.on_send_raw(callable=on_send_raw)
    station = server.add_station(common_address=CA)
    pts = [station.add_point(io_address=1 + i, type=t) for i, t in enumerate(point_types("c104", points))]
    server.start()
    print("READY", flush=True)
    wait_for(lambda: server.has_active_connections, "a c104 client")
    for i in range(frames):
        point = pts[i % points]
        point.value = next_value(TYPE_NAMES[i % points % len(TYPE_NAMES)], i, "c104")
        while not point.transmit(cause=c104.Cot.SPONTANEOUS):
            time.sleep(0.0002)
        while i - sent[0] > SERVER_AHEAD:
            time.sleep(0.0001)
    sys.stdin.read()  # the parent closes stdin when it is done
    server.stop()


def serve_otwire(port: int, points: int, frames: int) -> None:
    from otwire.codecs.iec104 import Cot
    from otwire.servers.iec104 import AsyncServer

    async def main() -> None:
        server = AsyncServer(ip="127.0.0.1", port=port, backlog_limit=max(frames, points) + 2)
        station = server.add_station(CA)
        pts = [station.add_point(io_address=1 + i, type=t) for i, t in enumerate(point_types("otwire", points))]
        await server.start()
        print("READY", flush=True)
        while not server.has_active_connections:
            await asyncio.sleep(0.005)
        for i in range(frames):
            point = pts[i % points]
            point.value = next_value(TYPE_NAMES[i % points % len(TYPE_NAMES)], i, "otwire")
            while not point.transmit(cause=Cot.SPONTANEOUS):  # backlog full: let the loop drain it
                await asyncio.sleep(0.0002)
            if i % 8 == 7:
                await asyncio.sleep(0)  # let the loop write and read acknowledgements
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await server.stop()

    asyncio.run(main())


def wait_for(condition: object, what: str, timeout: float = WAIT_S) -> None:
    end = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)


def start_server(lib: str, port: int, points: int, frames: int) -> subprocess.Popen[str]:
    command = [sys.executable, str(HERE), "--serve", lib, "--port", str(port)]
    child = subprocess.Popen(
        [*command, "--points", str(points), "--frames", str(frames)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "READY":
        child.kill()
        raise SystemExit(f"the {lib} server did not start")
    return child


def stop_server(child: subprocess.Popen[str]) -> None:
    try:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


# -- client side (this process) ---------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = 0.0
        self.done = threading.Event()
        self.expected = 0

    def hit(self) -> None:
        now = time.perf_counter()
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now
        if self.count >= self.expected:
            self.done.set()


COUNTER = Counter()


def on_update(point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage) -> c104.ResponseState:
    COUNTER.hit()
    return c104.ResponseState.SUCCESS


def connect(lib: str, port: int, points: int, init_all: bool) -> tuple[object, object, list[object]]:
    mod = client_module(lib)
    client = mod.Client(tick_rate_ms=50, command_timeout_ms=max(10_000, points // 5))
    connection = client.add_connection(ip="127.0.0.1", port=port, init=mod.Init.NONE)
    station = connection.add_station(common_address=CA)
    pts = []
    for i, point_type in enumerate(point_types(lib, points)):
        point = station.add_point(io_address=1 + i, type=point_type)
        if not init_all:
            point.on_receive(callable=on_update)
        pts.append(point)
    client.start()
    end = time.monotonic() + 2.0
    while connection.state != mod.ConnectionState.OPEN:
        if time.monotonic() > end:
            connection.unmute()  # the c104 STARTDT race (specs/iec104/notes.md)
            end = time.monotonic() + 2.0
        time.sleep(0.01)
    return client, connection, pts


def measure_rate(lib: str, points: int, frames: int) -> tuple[float, int]:
    port = free_port()
    child = start_server(lib, port, points, frames)
    COUNTER.__init__()  # type: ignore[misc]
    COUNTER.expected = frames
    client, _connection, _pts = connect(lib, port, points, init_all=False)
    try:
        end = time.monotonic() + WAIT_S
        while not COUNTER.done.wait(0.1) and time.monotonic() < end:
            if COUNTER.count and time.perf_counter() - COUNTER.last > STALL_S:
                break
        if COUNTER.count < 2:
            raise SystemExit(f"{lib}: no updates arrived")
        return (COUNTER.count - 1) / (COUNTER.last - COUNTER.first), COUNTER.count
    finally:
        client.stop()  # type: ignore[attr-defined]
        stop_server(child)


def memory_child(lib: str, points: int) -> None:
    """In a fresh process: hold ``points`` points filled by a GI; print the peak RSS in KiB."""
    port = free_port()
    child = start_server(lib, port, points, 0)
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        client, connection, pts = connect(lib, port, points, init_all=True)
        ok = connection.interrogation(common_address=CA)  # type: ignore[attr-defined]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"{peak} {before} {ok} {len(pts)}", flush=True)
        client.stop()  # type: ignore[attr-defined]
    finally:
        stop_server(child)


def measure_memory(lib: str, points: int) -> tuple[float, float, bool]:
    out = subprocess.run(
        [sys.executable, str(HERE), "--memory", lib, "--points", str(points)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.split()
    return int(out[0]) / 1024, int(out[1]) / 1024, out[2] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=("c104", "otwire"))
    parser.add_argument("--memory", choices=("c104", "otwire"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--points", type=int, default=POINTS)
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.serve:
        (serve_c104 if args.serve == "c104" else serve_otwire)(args.port, args.points, args.frames)
        return
    if args.memory:
        memory_child(args.memory, args.points)
        return
    print(f"IEC 104 engine: {args.frames} spontaneous I-frames, {args.points} points of {len(TYPE_NAMES)} types")
    print(f"python {sys.version.split()[0]}, c104 {c104.__version__ if hasattr(c104, '__version__') else '2.2.1'}")
    rates: dict[str, list[float]] = {"otwire": [], "c104": []}
    delivered: dict[str, list[int]] = {"otwire": [], "c104": []}
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        for lib in ("otwire", "c104"):
            rate, count = measure_rate(lib, args.points, args.frames)
            rates[lib].append(rate)
            delivered[lib].append(count)
    best = {lib: max(values) for lib, values in rates.items()}
    for lib, values in rates.items():
        runs = ", ".join(f"{v:,.0f}" for v in values)
        counts = "/".join(str(c) for c in delivered[lib])
        print(f"  {lib:7s} best {best[lib]:>8,.0f} updates/s  (runs: {runs}; callbacks: {counts} of {args.frames})")
    ratio = best["otwire"] / best["c104"]
    verdict = "PASS" if ratio >= TARGET_RATIO else "MISS"
    print(f"  otwire / c104 rate = {ratio:.2f}x  (target >= {TARGET_RATIO:.1f}x)  {verdict}")
    print(f"Peak memory of an otwire client holding {MEMORY_POINTS:,} points after a general interrogation:")
    peak, before, ok = measure_memory("otwire", MEMORY_POINTS)
    print(f"  peak RSS {peak:.1f} MiB ({peak - before:+.1f} MiB over the idle process), GI complete: {ok}")
    print("  (c104 is not measured here: its client needs over a minute to take 100,000 points; see README)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
