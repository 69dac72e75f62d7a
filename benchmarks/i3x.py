"""i3X benchmark: otwire's i3X codec against i3x-client 1.0.0, and end-to-end updates/s.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/i3x.py``). Three measurements, one run:

1. bulk decode: a 1,000-item ``POST /objects/value`` response (every 4th item a composition
   with components) from bytes to value models. otwire: ``decode_bulk(body, CurrentValue)``;
   i3x-client: its ``Client.get_values`` over a stub transport whose ``post`` does what its
   HTTP transport does with a JSON reply (``json.loads`` + ``Transport._unwrap_envelope``).
2. SSE decode: a 10,000-update stream (1.0 frames ``data: [{...}]``, one update each) fed
   in 64 KiB chunks. otwire: ``SSEParser.feed`` + ``map_event``; i3x-client: the body of
   its stream thread, ``SSEStream._read_events`` (httpx-sse line parsing + ``_process_data``)
   over an in-memory ``httpx.Response``.
3. end to end: ``otwire.servers.i3x.Server`` in its own process (``_i3x_support.py --serve``, demo
   plant ticking once an hour so it stays quiet) pushes a fixed number of updates with its
   engine's ``publish_many`` (batches of ``E2E_BATCH`` asked for on its stdin, each batch one
   SSE event ``data: [...]``); three clients in this process receive them over loopback, one
   after the other, each from a fresh server process: i3x-client's ``Client`` (``subscribe`` +
   ``on_value_change``), otwire's ``Client`` (the same API) and otwire's ``AsyncClient``
   (``async for change in client.changes(sub)``). At most ``E2E_WINDOW`` updates are in
   flight. The server process alone reaches about 50,000 updates/s, so the rates measure the
   clients. Each client runs ``E2E_ROUNDS`` times, interleaved with the others (one round:
   each client once); medians are printed, and the ratio is the median of the rounds' ratios.
   The ratio compares this process's CPU time per update (the client's threads,
   plus the same small pushing loop for all): wall-clock rates swing with the machine's load,
   CPU time much less; both are printed, and each otwire client's CPU ratio is judged
   against the 2x target (met / NOT met). A second, shorter run per client under
   tracemalloc gives its peak Python heap (this process: the client side only).

Each decode is checked to give equal values in both libraries before it is timed (on the
fields i3x-client keeps: it drops ``sequenceNumber`` and components below the first level).

Ratios are i3x-client time / otwire time, from one run (see benchmarks/README.md on noise).
A missed target prints "NOT met" but does not fail the run; the exit status is 1 only when the
two libraries decode differently or updates are lost end to end.

This file is named like the i3x-client package, so i3x-client is loaded under another
module name (see ``i3x_client`` in ``_i3x_support.py``, with the inputs, timing and server process).
"""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from otwire.codecs.i3x import BulkItem, CurrentValue, SSEParser, StreamUpdates, decode_bulk, map_event


def _support() -> ModuleType:
    """``_i3x_support.py`` next to this file, loaded by path (this file is also loaded by path in tests)."""
    name = "_i3x_support"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().with_name(f"{name}.py"))
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {name}")
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


_s = _support()
I3X_CLIENT, BULK_ITEMS, SSE_UPDATES, ELEMENT = _s.I3X_CLIENT, _s.BULK_ITEMS, _s.SSE_UPDATES, _s.ELEMENT
E2E_TIMEOUT, i3x_client, bulk_body, sse_stream = _s.E2E_TIMEOUT, _s.i3x_client, _s.bulk_body, _s.sse_stream
chunks, best_time, Counter, ServerProcess = _s.chunks, _s.best_time, _s.Counter, _s.ServerProcess
best_time, Counter, ServerProcess = _s.best_time, _s.Counter, _s.ServerProcess

E2E_UPDATES = 20_000
E2E_BATCH = 200  # publishes per call into the server's loop
E2E_WINDOW = 2_000  # at most this many updates in flight (the server's buffers stay bounded)
TARGET_BULK = 3.0  # i3x-client time / otwire time >= this
TARGET_SSE = 2.0
TARGET_E2E = 2.0  # end to end: i3x-client's client CPU per update / otwire's, for each otwire client
# Runs per client, interleaved; medians are printed. A round is about 0.2 s and single rounds' ratios
# swing from about 1.2x to 3.5x, so nine rounds (five before session 16) steady the median.
E2E_ROUNDS = 9
E2E_PEAK_UPDATES = 5_000  # a second, traced run per client for its peak heap

Change = tuple[str, Any, str, str]  # element_id, value, quality, timestamp


# --- the two decode paths -------------------------------------------------------------------------


def otwire_bulk(body: bytes) -> list[CurrentValue]:
    response = decode_bulk(body, CurrentValue)
    return [item.result for item in response.results if isinstance(item, BulkItem)]


class _StubTransport:
    """i3x-client's transport minus HTTP: the reply body goes through the same JSON steps."""

    def __init__(self, body: bytes, unwrap: Callable[[Any], Any]) -> None:
        self.body, self.unwrap = body, unwrap

    def post(self, path: str, json: Any = None) -> Any:  # i3x-client names it json
        return self.unwrap(_json_loads(self.body))


_json_loads = json.loads


def i3x_bulk_decoder(body: bytes) -> Callable[[], dict[str, Any]]:
    """A call that runs i3x-client's ``Client.get_values`` on ``body`` (no network)."""
    i3x = i3x_client()
    transport_module = importlib.import_module(f"{I3X_CLIENT}._transport")
    client = i3x.Client("http://127.0.0.1:9/v1")
    client._transport = _StubTransport(body, transport_module.Transport._unwrap_envelope)
    ids: list[str] = []
    return lambda: client.get_values(ids)


def otwire_sse(pieces: list[bytes]) -> list[Any]:
    parser = SSEParser()
    changes: list[Any] = []
    for piece in pieces:
        for event in parser.feed(piece):
            item = map_event(event)
            if type(item) is StreamUpdates:
                changes.extend(item.changes)
    return changes


def otwire_sse_parts(pieces: list[bytes]) -> tuple[Callable[[], object], Callable[[], object]]:
    """Two calls timing otwire's SSE stages apart: ``SSEParser.feed`` alone, ``map_event`` alone."""
    parser = SSEParser()
    events = [event for piece in pieces for event in parser.feed(piece)]

    def parse() -> None:
        parser = SSEParser()
        for piece in pieces:
            parser.feed(piece)

    def mapping() -> None:
        for event in events:
            map_event(event)

    return parse, mapping


def i3x_sse(pieces: list[bytes]) -> list[Any]:
    """i3x-client's stream thread body on an in-memory response (httpx-sse + ``_process_data``)."""
    i3x_client()
    sse_module = importlib.import_module(f"{I3X_CLIENT}._sse")
    changes: list[Any] = []
    errors: list[Exception] = []
    stream = sse_module.SSEStream(None, None, "bench", changes.extend, errors.append)
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(pieces))
    stream._read_events(response)
    if errors:
        raise errors[0]
    return changes


# --- equality -------------------------------------------------------------------------------------


def _flat(model: Any) -> Change:
    return (getattr(model, "element_id", ""), model.value, model.quality, model.timestamp)


def same_values(ours: list[CurrentValue], theirs: dict[str, Any]) -> bool:
    """Equal on every field i3x-client's ``CurrentValue`` keeps (components one level deep)."""
    if [v.element_id for v in ours] != list(theirs):
        return False
    for mine in ours:
        other = theirs[mine.element_id]
        if _flat(mine) != _flat(other) or mine.is_composition != other.is_composition:
            return False
        a = {k: (v.value, v.quality, v.timestamp) for k, v in (mine.components or {}).items()}
        b = {k: (v.value, v.quality, v.timestamp) for k, v in (other.components or {}).items()}
        if a != b:
            return False
    return True


def same_changes(ours: list[Any], theirs: list[Any]) -> bool:
    return [_flat(c) for c in ours] == [_flat(c) for c in theirs]


# --- timing ---------------------------------------------------------------------------------------


def verdict(ratio: float, target: float) -> str:
    return f"target >= {target:.1f}x  {'met' if ratio >= target else 'NOT met'}"


def bench_bulk() -> bool:
    body = bulk_body()
    their_call = i3x_bulk_decoder(body)
    equal = same_values(otwire_bulk(body), their_call())
    ours = best_time(lambda: otwire_bulk(body))
    theirs = best_time(their_call)
    ratio = theirs / ours
    print(f"\n1. bulk value decode, {BULK_ITEMS:,} items, {len(body):,} octets (equal values: {equal})")
    print(f"   otwire decode_bulk      {ours * 1e3:8.3f} ms  ({BULK_ITEMS / ours:12,.0f} values/s)")
    print(f"   i3x-client get_values   {theirs * 1e3:8.3f} ms  ({BULK_ITEMS / theirs:12,.0f} values/s)")
    print(f"   ratio i3x-client/otwire {ratio:6.2f}x   {verdict(ratio, TARGET_BULK)}")
    return equal


def bench_sse() -> bool:
    pieces = chunks(sse_stream())
    equal = same_changes(otwire_sse(pieces), i3x_sse(pieces))
    ours = best_time(lambda: otwire_sse(pieces))
    theirs = best_time(lambda: i3x_sse(pieces))
    ratio = theirs / ours
    size = sum(map(len, pieces))
    print(f"\n2. SSE stream decode, {SSE_UPDATES:,} updates, {size:,} octets (equal changes: {equal})")
    print(f"   otwire SSEParser+map_event {ours * 1e3:8.2f} ms  ({SSE_UPDATES / ours:12,.0f} updates/s)")
    print(f"   i3x-client _read_events    {theirs * 1e3:8.2f} ms  ({SSE_UPDATES / theirs:12,.0f} updates/s)")
    print(f"   ratio i3x-client/otwire    {ratio:6.2f}x   {verdict(ratio, TARGET_SSE)}")
    parse, mapping = (best_time(call) for call in otwire_sse_parts(pieces))
    print(f"   otwire stages: SSEParser.feed {parse * 1e3:.2f} ms, map_event {mapping * 1e3:.2f} ms")
    return equal


# --- end to end -----------------------------------------------------------------------------------


def _push(publish: Callable[[int, int], None], counter: Counter, n: int) -> None:
    sent = 0
    while sent < n:
        batch = min(E2E_BATCH, n - sent)
        if not counter.wait_for(sent + batch - E2E_WINDOW, E2E_TIMEOUT):
            raise TimeoutError(f"client stalled at {counter.count} updates ({counter.errors})")
        publish(sent, batch)
        sent += batch


def _open_client(module: Any, server: ServerProcess, counter: Counter) -> Any:
    client = module.Client(server.base_url, timeout=E2E_TIMEOUT)
    client.on_value_change, client.on_error = counter.changed, counter.failed
    client.connect()
    client.subscribe([ELEMENT])
    return client


def _run_pushes(server: ServerProcess, counter: Counter, updates: int) -> tuple[float, float]:
    """Warm up until the stream delivers, then push ``updates``.

    Returns:
        Wall seconds and this process's CPU seconds (all its threads: the client's work) from
        the first push to the last change.
    """
    publish = server.publish
    deadline = time.monotonic() + E2E_TIMEOUT
    while not counter.warm.wait(0.05):  # the stream opens in the client's own thread or loop
        if time.monotonic() > deadline:
            raise TimeoutError("the client's stream never delivered an update")
        publish(-1, 1)
    started, cpu = time.perf_counter(), time.process_time()
    _push(publish, counter, updates)
    counter.wait_for(updates, E2E_TIMEOUT)
    return time.perf_counter() - started, time.process_time() - cpu


def end_to_end(updates: int = E2E_UPDATES, module: Any = None) -> tuple[float, int, float]:
    """Updates/s from the server process's ``publish`` to a blocking client's ``on_value_change``.

    ``module`` is i3x-client's package (``None``) or ``otwire.clients.i3x`` (the same ``Client`` API).

    Returns:
        ``(updates per wall second, updates received, client CPU seconds per update)``.
    """
    counter = Counter()
    with ServerProcess() as server:
        client = _open_client(i3x_client() if module is None else module, server, counter)
        try:
            elapsed, cpu = _run_pushes(server, counter, updates)
        finally:
            client.disconnect()
    return counter.count / elapsed, counter.count, cpu / max(counter.count, 1)


def end_to_end_async(updates: int = E2E_UPDATES) -> tuple[float, int, float]:
    """The same with ``otwire.clients.i3x.AsyncClient``: ``async for change in client.changes(sub)``.

    The consumer runs in this thread's event loop; warm-up and pushes run in a worker thread.
    """
    import asyncio

    from otwire.clients.i3x import AsyncClient

    counter = Counter()

    async def consume(client: AsyncClient, subscription: Any) -> None:
        async for change in client.changes(subscription):
            counter.changed(client, change)

    async def run(server: ServerProcess) -> tuple[float, float]:
        client = AsyncClient(server.base_url, timeout=E2E_TIMEOUT)
        await client.connect()
        subscription = await client.subscribe([ELEMENT])
        consumer = asyncio.ensure_future(consume(client, subscription))
        try:
            return await asyncio.to_thread(_run_pushes, server, counter, updates)
        finally:
            consumer.cancel()
            await client.disconnect()

    with ServerProcess() as server:
        elapsed, cpu = asyncio.run(run(server))
    return counter.count / elapsed, counter.count, cpu / max(counter.count, 1)


def traced_peak(run: Callable[[], object]) -> float:
    """Peak Python heap (tracemalloc, MiB) while ``run`` runs: both ends, server included."""
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / (1 << 20)
    finally:
        tracemalloc.stop()


def bench_end_to_end() -> bool:
    print(f"\n3. end to end, server process -> client stream, {E2E_UPDATES:,} updates over loopback, "
          f"medians of {E2E_ROUNDS} interleaved runs per client")  # fmt: skip
    otwire_clients = importlib.import_module("otwire.clients.i3x")
    runs: dict[str, Callable[[int], tuple[float, int, float]]] = {
        "i3x-client Client (on_value_change)": end_to_end,
        "otwire Client (on_value_change)": lambda n: end_to_end(n, otwire_clients),
        "otwire AsyncClient.changes()": end_to_end_async,
    }
    samples: dict[str, list[tuple[float, int, float]]] = {name: [] for name in runs}
    for _ in range(E2E_ROUNDS):  # interleaved, so that a busy spell of the machine hits every client
        for name, run in runs.items():
            samples[name].append(run(E2E_UPDATES))
    cpu, wall, ok = {}, {}, True
    for name, run in runs.items():
        wall[name] = statistics.median(rate for rate, _, _ in samples[name])
        cpu[name] = statistics.median(per_update for _, _, per_update in samples[name])
        got = min(received for _, received, _ in samples[name])
        peak = traced_peak(lambda run=run: run(E2E_PEAK_UPDATES))  # type: ignore[misc]
        ok = ok and got == E2E_UPDATES
        print(f"   {name:36s} {wall[name]:8,.0f} updates/s, client CPU {cpu[name] * 1e6:5.2f} us/update "
              f"(received {got:,}; peak heap {peak:4.1f} MiB over {E2E_PEAK_UPDATES:,})")  # fmt: skip
    base = "i3x-client Client (on_value_change)"
    print(f"   target: i3x-client's client CPU per update / otwire's >= {TARGET_E2E:.1f}x; the ratio is the median of "
          f"the {E2E_ROUNDS} rounds' ratios (range in brackets)")  # fmt: skip
    for name in list(runs)[1:]:
        ratios = sorted(theirs[2] / ours[2] for theirs, ours in zip(samples[base], samples[name], strict=True))
        ratio = statistics.median(ratios)
        print(f"   {name:36s} CPU ratio {ratio:5.2f}x [{ratios[0]:.2f}-{ratios[-1]:.2f}]  {verdict(ratio, TARGET_E2E)}"
              f"   (wall-clock rate ratio {wall[name] / wall[base]:5.2f}x, load-dependent)")  # fmt: skip
    return ok


def main() -> int:
    started = time.perf_counter()
    i3x = i3x_client()
    print(f"i3X benchmark, Python {platform.python_version()}, {os.cpu_count()} CPUs, i3x-client {i3x.__version__}")
    ok = bench_bulk()
    ok = bench_sse() and ok
    ok = bench_end_to_end() and ok
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak RSS {peak / 1024:.1f} MiB (whole process, both libraries)")
    print(f"total runtime {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
