"""Shared pieces of ``benchmarks/i3x.py``: inputs, timing, i3x-client's loader, the server process.

Run as ``python _i3x_support.py --serve`` it is the end-to-end benchmark's server process
(:func:`serve_child`); ``benchmarks/i3x.py`` loads it by path (see ``_support`` there).
"""

from __future__ import annotations

import gc
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from otwire.codecs.i3x import VQT

I3X_CLIENT = "_i3x_client"  # the module name i3x-client is loaded under

BULK_ITEMS = 1_000
SSE_UPDATES = 10_000
SSE_CHUNK = 64 * 1024
E2E_TIMEOUT = 30.0
ELEMENT = "tank-1-level"  # a demo plant sensor the benchmark subscription watches
REPEATS = 5
MIN_TIME = 0.2  # seconds per repeat (at least); the loop count grows until reached


def i3x_client() -> ModuleType:
    """i3x-client's ``i3x`` package, loaded from its distribution as ``_i3x_client``.

    Not by ``import i3x``: that name is this script's own (run as a script, its directory
    comes first on ``sys.path``) and the ``tests/i3x`` package's (under pytest).
    i3x-client imports its own modules relatively, so the other name is enough.
    """
    module = sys.modules.get(I3X_CLIENT)
    if module is not None:
        return module
    init = Path(str(importlib.metadata.distribution("i3x-client").locate_file("i3x/__init__.py")))
    spec = importlib.util.spec_from_file_location(I3X_CLIENT, init, submodule_search_locations=[str(init.parent)])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load i3x-client from {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[I3X_CLIENT] = module
    spec.loader.exec_module(module)
    return module


# --- inputs -------------------------------------------------------------------------------------


def _stamp(i: int) -> str:
    return f"2026-12-02T12:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"


def _value(i: int) -> Any:
    kind = i % 4
    if kind == 0:
        return i * 0.25
    if kind == 1:
        return i
    if kind == 2:
        return f"state-{i % 7}"
    return i % 2 == 0


def bulk_body(n: int = BULK_ITEMS) -> bytes:
    """A ``POST /objects/value`` bulk response with ``n`` items (every 4th a composition)."""
    results = []
    for i in range(n):
        result: dict[str, Any] = {
            "isComposition": i % 4 == 0,
            "value": _value(i),
            "quality": "Good" if i % 10 else "Uncertain",
            "timestamp": _stamp(i),
        }
        if i % 4 == 0:
            result["components"] = {
                f"e{i}-c{k}": {"value": _value(i + k), "quality": "Good", "timestamp": _stamp(i + k)} for k in range(3)
            }
        results.append({"success": True, "elementId": f"e{i}", "result": result})
    return json.dumps({"success": True, "results": results}).encode()


def sse_stream(n: int = SSE_UPDATES) -> bytes:
    """``n`` SSE frames of the 1.0 shape, one update each (as ``otwire serve i3x`` sends them)."""
    frames = []
    for i in range(n):
        update = {
            "sequenceNumber": i + 1,
            "elementId": f"e{i % 50}",
            "value": _value(i),
            "quality": "Good",
            "timestamp": _stamp(i),
        }
        frames.append(b"data: " + json.dumps([update]).encode() + b"\n\n")
    return b"".join(frames)


def chunks(data: bytes, size: int = SSE_CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- timing and the end-to-end server ------------------------------------------------------------


def best_time(call: Callable[[], object]) -> float:
    """Best of ``REPEATS`` mean times of ``call``, seconds (GC off while timing)."""
    loops = 1
    while True:
        t = time.perf_counter()
        for _ in range(loops):
            call()
        if time.perf_counter() - t >= MIN_TIME or loops >= 1 << 16:
            break
        loops *= 2
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(REPEATS):
            t = time.perf_counter()
            for _ in range(loops):
                call()
            best = min(best, (time.perf_counter() - t) / loops)
    finally:
        gc.enable()
    return best


class Counter:
    """``on_value_change`` that counts updates and wakes a waiter once its threshold is reached.

    Only the consumer thread writes ``count``; the lock is taken only to wake the waiter, so
    that counting costs every client the same little.
    """

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.errors: list[Exception] = []
        self.warm = threading.Event()
        self.cond = threading.Condition()

    def changed(self, _client: Any, change: Any) -> None:
        if change.value < 0:  # a warm-up update
            self.warm.set()
            return
        self.count += 1
        if self.count >= self.target:
            with self.cond:
                if self.count >= self.target:
                    self.target = 1 << 62  # woken once; the waiter sets its next threshold
                    self.cond.notify_all()

    def failed(self, _client: Any, error: Exception) -> None:
        with self.cond:
            self.errors.append(error)
            self.cond.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.cond:
            self.target = count
            return self.cond.wait_for(lambda: self.count >= count or bool(self.errors), timeout)


def serve_child() -> None:
    """``i3x.py --serve``: ``otwire.servers.i3x.Server`` on a free port, its base URL on stdout; then each
    stdin line ``START N`` publishes ``N`` updates of :data:`ELEMENT` (values ``START ..``, negative: warm-up)."""
    from otwire.servers.i3x import Server

    with Server(port=0, tick=3600.0) as server:
        print(f"http://127.0.0.1:{server.port}{server.config.base_path}", flush=True)
        for line in sys.stdin:

            def run(start: int = int(line.split()[0]), n: int = int(line.split()[1])) -> None:
                values = [(ELEMENT, VQT(float(i), "Good", _stamp(max(i, 0)))) for i in range(start, start + n)]
                server.engine.publish_many(values, server.driver.now())
                server.driver.process_soon()

            server._call(run)


class ServerProcess:
    """The i3X server in its own process (like ``otwire serve i3x``), so only the client shares this GIL.

    ``publish(start, n)`` makes it publish ``n`` updates, in order, without waiting.
    """

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)  # fmt: skip
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            raise RuntimeError(f"the server process did not start: {self.base_url!r}")
        return self

    def publish(self, start: int, n: int) -> None:
        self.stdin.write(f"{start} {n}\n")

    def __exit__(self, *exc: object) -> None:
        self.stdin.close()
        try:
            self.process.wait(E2E_TIMEOUT)
        finally:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    serve_child()
