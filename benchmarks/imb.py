"""IMB3 hub benchmark: relayed events per second through ``otwire.servers.imb``, codec rates.

Run with ``.venv/bin/python benchmarks/imb.py`` (see ``benchmarks/README.md``, section
"imb.py"). Every process but the orchestrator is this same script in another role:

* ``--role hub``: an ``AsyncHub`` on a free loopback port; at the end it prints its
  peak resident set size (the hub process is the one being measured);
* ``--role sub``: a raw-socket subscriber (no otwire on its receive path): it
  subscribes, then only counts octets until the last event's exact frame arrives;
* ``--role pub``: a raw-socket publisher: it publishes, then sends N prebuilt icEvent
  frames (64-octet bodies) with ``sendall`` in 256 KiB pieces.

Rate = N / (time the slowest subscriber saw the last frame - time the publisher
started sending), on the one monotonic clock the processes share. The subscribers
then check that they got exactly N event frames, in order, with the hub's id patched in.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
MAGIC = bytes.fromhex("2f47617195adc5fb")
TRAILER = bytes.fromhex("6734f110")
BODY = 64  # octets of event body (ekNormalEvent data)
EVENT_NAME = "bench.events"
TARGET_1_TO_1 = 100_000  # relayed events/s
WAIT_S = 120.0
CHUNK = 256 * 1024


def command(code: int, payload: bytes) -> bytes:
    """One IMB3 frame (header, payload, trailer when the payload is not empty)."""
    return MAGIC + struct.pack("<ii", code, len(payload)) + (payload + TRAILER if payload else b"")


def name_command(code: int, event_id: int, name: str) -> bytes:
    raw = name.encode()
    return command(code, struct.pack("<iii", event_id, 0, len(raw)) + raw)


def event_frame(event_id: int, seq: int) -> bytes:
    body = struct.pack("<Q", seq) + bytes(BODY - 8)
    return command(-15, struct.pack("<iii", event_id, 0, 5) + body)


def read_frame(sock: socket.socket, buf: bytearray) -> tuple[int, bytes]:
    """Read one frame from a socket (blocking; setup only, not timed)."""
    while True:
        if len(buf) >= 16:
            code, length = struct.unpack_from("<ii", buf, 8)
            size = 16 + (length + 4 if length else 0)
            if len(buf) >= size:
                payload = bytes(buf[16 : 16 + length])
                del buf[:size]
                return code, payload
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("hub closed the connection")
        buf += data


# --- child roles ----------------------------------------------------------------------------


def role_hub() -> None:
    from otwire.servers.imb import AsyncHub

    async def main() -> None:
        hub = AsyncHub("127.0.0.1", 0)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
        async with hub:
            print(f"PORT {hub.port}", flush=True)
            await stop.wait()
            relayed = hub.engine.relayed
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"DONE {relayed} {peak}", flush=True)

    asyncio.run(main())


def role_sub(port: int, count: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    buf = bytearray()
    read_frame(sock, buf)  # icUniqueClientID
    sock.sendall(name_command(-45, 3, EVENT_NAME))
    while True:
        code, payload = read_frame(sock, buf)
        if code == -49:
            hub_id = struct.unpack_from("<i", payload)[0]
            break
    print(f"READY {hub_id}", flush=True)
    last = bytearray(event_frame(hub_id, count - 1))
    prefix = MAGIC + struct.pack("<iii", -15, 12 + BODY, hub_id)
    tail_size = len(last)
    received = bytearray(buf)
    view = memoryview(bytearray(CHUNK))
    while True:
        n = sock.recv_into(view)
        if not n:
            raise ConnectionError("hub closed the connection")
        received += view[:n]
        if received[-tail_size:] == last:
            break
    done = time.monotonic()
    frames = received.count(prefix)
    first = received.find(prefix)
    ordered = frames == count and received[first + 28 : first + 36] == struct.pack("<Q", 0)
    print(f"DONE {done!r} {frames} {int(ordered)}", flush=True)
    sock.close()


def role_pub(port: int, count: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    buf = bytearray()
    read_frame(sock, buf)
    sock.sendall(name_command(-47, 0, EVENT_NAME))
    blob = b"".join(event_frame(0, i) for i in range(count))
    print("READY", flush=True)
    sys.stdin.readline()  # GO
    start = time.monotonic()
    view = memoryview(blob)
    for at in range(0, len(blob), CHUNK):
        sock.sendall(view[at : at + CHUNK])
    print(f"SENT {start!r} {time.monotonic()!r}", flush=True)
    sys.stdin.readline()  # wait until the orchestrator is done, then leave
    sock.close()


# --- orchestrator -----------------------------------------------------------------------------


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )


def expect(proc: subprocess.Popen[str], word: str) -> list[str]:
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != word:
        raise RuntimeError(f"expected {word} from child, got {line!r} (exit {proc.poll()})")
    return line[1:]


def relay(port: int, subscribers: int, count: int) -> tuple[float, bool]:
    subs = [spawn("--role", "sub", "--port", str(port), "--count", str(count)) for _ in range(subscribers)]
    pub = None
    try:
        for sub in subs:
            expect(sub, "READY")
        pub = spawn("--role", "pub", "--port", str(port), "--count", str(count))
        expect(pub, "READY")
        assert pub.stdin is not None
        pub.stdin.write("GO\n")
        start = float(expect(pub, "SENT")[0])
        results = [expect(sub, "DONE") for sub in subs]
        pub.stdin.write("QUIT\n")
        end = max(float(r[0]) for r in results)
        complete = all(int(r[1]) == count and r[2] == "1" for r in results)
        return count / (end - start), complete
    finally:
        for proc in [*subs, *([pub] if pub else [])]:
            try:
                proc.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()


def rate(label: str, call: Callable[[Any], object], arg: Any, n: int) -> None:
    best = float("inf")
    gc.disable()
    try:
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(n):
                call(arg)
            best = min(best, time.perf_counter() - t)
    finally:
        gc.enable()
    print(f"  {label:34s} {n / best:>12,.0f} /s  ({best / n * 1e6:6.2f} µs)")


def codec_rates() -> None:
    from otwire.codecs.imb import EventCommand, IMBFramer, NormalEvent, decode_command, decode_event, encode_command
    from otwire.codecs.imb import encode_event as enc_event

    event = EventCommand(event_id=0, body=NormalEvent(data=bytes(BODY)))
    frame = encode_command(event)
    payload = enc_event(event)
    print(f"\n== codec, icEvent with a {BODY}-octet body ({len(frame)}-octet frame; best of 3) ==")
    rate("encode_command(EventCommand)", encode_command, event, 20_000)
    rate("decode_command(frame)", decode_command, frame, 50_000)
    rate("encode_event(EventCommand) (payload only)", enc_event, event, 20_000)
    rate("decode_event(payload)", decode_event, payload, 50_000)
    stream = frame * 100_000

    def framer(data: bytes) -> None:
        f = IMBFramer()
        view = memoryview(data)
        for at in range(0, len(data), 65536):
            f.receive_data(view[at : at + 65536])
            while f.next_item() is not None:
                pass

    t = time.perf_counter()
    framer(stream)
    dt = time.perf_counter() - t
    print(f"  {'IMBFramer (64 KiB chunks)':34s} {100_000 / dt:>12,.0f} /s  ({dt / 100_000 * 1e6:6.2f} µs)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["hub", "sub", "pub"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=300_000, help="events for 1 -> 1 (1 -> 10 uses a third)")
    args = parser.parse_args()
    if args.role == "hub":
        role_hub()
        return 0
    if args.role == "sub":
        role_sub(args.port, args.count)
        return 0
    if args.role == "pub":
        role_pub(args.port, args.count)
        return 0
    import otwire

    started = time.perf_counter()
    print(f"python {platform.python_version()} | otwire {otwire.__version__} | CPUs {_cpus()} | {platform.machine()}")
    hub = spawn("--role", "hub")
    try:
        port = int(expect(hub, "PORT")[0])
        print(f"\n== hub relay, {BODY}-octet bodies over loopback (hub, publisher, subscribers: separate processes) ==")
        ok = True
        for subscribers, count in ((1, args.count), (10, max(args.count // 3, 1))):
            events_s, complete = relay(port, subscribers, count)
            ok &= complete
            verdict = ""
            if subscribers == 1:
                verdict = f"  target >= {TARGET_1_TO_1:,}  {'PASS' if events_s >= TARGET_1_TO_1 else 'MISS'}"
            print(
                f"  1 -> {subscribers:<2d} {count:>8,} events  {events_s:>10,.0f} events/s"
                f"  ({events_s * subscribers:>11,.0f} frames/s out)"
                f"  {'complete' if complete else 'INCOMPLETE'}{verdict}"
            )
        assert hub.stdin is not None
        hub.stdin.close()
        relayed, peak_kb = (int(x) for x in expect(hub, "DONE"))
        print(f"  hub relayed {relayed:,} frames; hub peak RSS {peak_kb / 1024:.1f} MiB")
    finally:
        try:
            hub.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            hub.kill()
    codec_rates()
    print(f"\ntotal runtime {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


if __name__ == "__main__":
    sys.exit(main())
