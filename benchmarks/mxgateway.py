"""MXAccess Gateway benchmark: the simulator's event stream and Invoke, grpclib+betterproto2 against grpcio.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/mxgateway.py``). One run, four
measurements; the simulator (``otwire.servers.mxgateway.Server``) runs in a child process
so that it does not share the clients' GIL:

1. StreamEvents: each client opens its own session, subscribes ``STREAM_EVENTS`` tags in one
   ``SubscribeBulk`` (values do not tick: ``rate=0``), so the session's replay ring holds
   exactly that many ``OnDataChange`` events, then streams them from ``after_worker_sequence=0``
   and counts them. ``ROUNDS`` rounds, the three clients interleaved in each (the order
   rotates), so a busy spell of the shared machine hits all of them. Per round and client:
   events/s (wall clock, from the request to the last event), this process's CPU time per
   event (``time.process_time()``: every thread, grpcio's core threads too; the simulator
   runs in another process) and the simulator's CPU time per event (``/proc``). Printed: the
   medians, the wall ratio otwire/grpcio and the CPU ratio grpcio/otwire (medians of the
   per-round ratios, with their ranges). The target of issue 10 §7, otwire
   ``stream_events()`` >= 1.0x grpcio, is judged on the CPU ratio (benchmarks/README.md
   says why) and printed as met or not. Clients: ``otwire.clients.mxgateway``, the raw
   betterproto2 stubs on grpclib (``pb.MxAccessGatewayStub``), and grpcio with stubs that
   grpcio-tools generates from ``specs/mxgateway/*.proto`` into a temporary directory.
2. Invoke round trips: ``INVOKE_CALLS`` sequential ``SetBufferedUpdateInterval`` commands
   (no state change) per client, best of ``ROUNDS`` batches (interleaved as above); otwire's
   ``Session.invoke()`` adds correlation and failure checks.
3. Decode: an ``MxValue`` (double) and an ``OnDataChange`` ``MxEvent`` from their wire
   bytes, betterproto2 and the codec's ``fast_parse`` against protobuf (the grpcio-tools
   classes), ``DECODE_ROUNDS`` each; ``EventEncoder`` and ``to_mx_value``/``from_mx_value``.
4. Peak memory (ru_maxrss) of this process and of the simulator process.

Ratios of rates are otwire-side / grpcio-side (above 1: otwire's stack is faster).
The exit status is 1 only when a client lost events.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import grpc
from grpclib.client import Channel

from otwire.clients.mxgateway import GatewayClient
from otwire.codecs.mxgateway import EventEncoder, fast_parse, from_mx_value, pb, to_mx_value
from otwire.servers.mxgateway.model import GatewayModel

SPECS = Path(__file__).resolve().parent.parent / "specs" / "mxgateway"
STREAM_EVENTS = int(os.environ.get("MXGW_BENCH_EVENTS", "20000"))
INVOKE_CALLS = int(os.environ.get("MXGW_BENCH_CALLS", "2000"))
DECODE_ROUNDS = int(os.environ.get("MXGW_BENCH_DECODES", "20000"))
#: Stream and Invoke rounds per client; the best (fastest) round counts (the machine is shared).
ROUNDS = int(os.environ.get("MXGW_BENCH_ROUNDS", "5"))

_SERVER = """
import sys
from otwire.servers.mxgateway import Server
events = int(sys.argv[1])
with Server(port=0, rate=0, replay_capacity=events + 16, event_buffer=events + 16, max_items=5 * events + 16,
            max_request_bytes=64 << 20) as server:
    print(server.port, flush=True)
    sys.stdin.read()
    print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0] if sys.platform == "linux" else 0, flush=True)
"""


def grpcio_stubs(folder: Path) -> ModuleType:
    """Generate the grpcio-tools stubs of the gateway proto into ``folder``; return the ``_pb2`` module.

    The ``_pb2_grpc`` module is ``sys.modules["mxaccess_gateway_pb2_grpc"]``.
    """
    from grpc_tools import protoc

    include = Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{SPECS}", f"-I{include}", f"--python_out={folder}", f"--grpc_python_out={folder}"]
    if protoc.main([*args, str(SPECS / "mxaccess_gateway.proto")]) != 0:
        raise RuntimeError("grpc_tools.protoc failed")
    sys.path.insert(0, str(folder))
    try:
        importlib.import_module("mxaccess_gateway_pb2_grpc")
        return importlib.import_module("mxaccess_gateway_pb2")
    finally:
        sys.path.remove(str(folder))


def _tags(n: int, prefix: str) -> list[str]:
    return [f"Bench.{prefix}{i:06d}" for i in range(n)]


def simulator_cpu(pid: int) -> float:
    """CPU seconds (user + system) the simulator process used so far; NaN where ``/proc`` is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Round(NamedTuple):
    """One stream round of one client."""

    wall: float  #: seconds from the request to the last event
    cpu: float  #: CPU seconds of this process (every thread: grpcio's core threads too)
    simulator: float  #: CPU seconds of the simulator process
    count: int  #: events received


class Meter:
    """Measures rounds: wall clock, this process's CPU time and the simulator's CPU time."""

    def __init__(self, simulator_pid: int) -> None:
        self.pid = simulator_pid
        self._start = (0.0, 0.0, 0.0)

    def start(self) -> None:
        """Start a round."""
        self._start = (time.perf_counter(), time.process_time(), simulator_cpu(self.pid))

    def stop(self, count: int) -> Round:
        """End a round that received ``count`` events."""
        wall, cpu, sim = self._start
        return Round(time.perf_counter() - wall, time.process_time() - cpu, simulator_cpu(self.pid) - sim, count)


# -- the three clients: open (session, subscriptions), stream one round, Invoke calls, close -----------


class StubClient:
    """The raw betterproto2 stubs on grpclib (``pb.MxAccessGatewayStub``, betterproto2's own decoding)."""

    name = "betterproto2+grpclib"

    async def open(self, port: int) -> None:
        """Connect, open a session, register and subscribe ``STREAM_EVENTS`` tags."""
        self.channel = Channel("127.0.0.1", port)
        self.stub = stub = pb.MxAccessGatewayStub(self.channel, timeout=120)
        self.session_id = (await stub.open_session(pb.OpenSessionRequest(client_session_name="bench"))).session_id
        register = pb.MxCommand(kind=pb.MxCommandKind.REGISTER, register=pb.RegisterCommand(client_name="bench"))
        reply = await stub.invoke(pb.MxCommandRequest(session_id=self.session_id, command=register))
        assert reply.register is not None
        sh = reply.register.server_handle
        bulk = pb.AddItemBulkCommand(server_handle=sh, tag_addresses=_tags(STREAM_EVENTS, "bp"))
        command = pb.MxCommand(kind=pb.MxCommandKind.SUBSCRIBE_BULK, subscribe_bulk=bulk)
        await stub.invoke(pb.MxCommandRequest(session_id=self.session_id, command=command), timeout=120)
        interval = pb.SetBufferedUpdateIntervalCommand(server_handle=sh, update_interval_ms=1)
        command = pb.MxCommand(
            kind=pb.MxCommandKind.SET_BUFFERED_UPDATE_INTERVAL, set_buffered_update_interval=interval
        )
        self.invoke_request = pb.MxCommandRequest(session_id=self.session_id, command=command)

    async def stream(self) -> int:
        """Stream the session's events from ``after_worker_sequence=0``; the count received."""
        count = 0
        request = pb.StreamEventsRequest(session_id=self.session_id, after_worker_sequence=0)
        async with contextlib.aclosing(self.stub.stream_events(request)) as events:
            async for _ in events:
                count += 1
                if count == STREAM_EVENTS:
                    break
        return count

    async def invoke(self) -> None:
        """``INVOKE_CALLS`` sequential ``SetBufferedUpdateInterval`` commands."""
        for _ in range(INVOKE_CALLS):
            await self.stub.invoke(self.invoke_request)

    async def close(self) -> None:
        """Close the session and the channel."""
        await self.stub.close_session(pb.CloseSessionRequest(session_id=self.session_id))
        self.channel.close()


class OtwireClient:
    """``otwire.clients.mxgateway``: ``Session.stream_events()`` (sequence tracking, error mapping, fast decoding)."""

    name = "otwire stream_events()"

    async def open(self, port: int) -> None:
        """Connect, open a session, register and subscribe ``STREAM_EVENTS`` tags."""
        self.client = await GatewayClient.connect(endpoint=f"127.0.0.1:{port}", api_key="", plaintext=True)
        self.session = await self.client.open_session(client_session_name="bench")
        server = await self.session.register("bench")
        await self.session.subscribe_bulk(server, _tags(STREAM_EVENTS, "otwire"), timeout=120)
        interval = pb.SetBufferedUpdateIntervalCommand(server_handle=server, update_interval_ms=1)
        self.command = pb.MxCommand(
            kind=pb.MxCommandKind.SET_BUFFERED_UPDATE_INTERVAL, set_buffered_update_interval=interval
        )

    async def stream(self) -> int:
        """Stream the session's events from ``after_worker_sequence=0``; the count received."""
        count = 0
        async with contextlib.aclosing(self.session.stream_events(after_worker_sequence=0)) as events:
            async for _ in events:
                count += 1
                if count == STREAM_EVENTS:
                    break
        return count

    async def invoke(self) -> None:
        """``INVOKE_CALLS`` sequential ``Session.invoke()`` calls (correlation, failure checks)."""
        for _ in range(INVOKE_CALLS):
            await self.session.invoke(self.command)

    async def close(self) -> None:
        """Close the session and the client."""
        await self.session.close()
        await self.client.close()


class GrpcioClient:
    """grpcio with the stubs grpcio-tools generates (blocking calls: the event loop waits meanwhile)."""

    name = "grpcio"

    def __init__(self, m: ModuleType) -> None:
        self.m = m

    async def open(self, port: int) -> None:
        """Connect, open a session, register and subscribe ``STREAM_EVENTS`` tags."""
        m, grpc_module = self.m, sys.modules["mxaccess_gateway_pb2_grpc"]
        options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        self.stub = stub = grpc_module.MxAccessGatewayStub(self.channel)
        self.session_id = stub.OpenSession(m.OpenSessionRequest(client_session_name="bench")).session_id
        command = m.MxCommand(kind=m.MX_COMMAND_KIND_REGISTER, register=m.RegisterCommand(client_name="bench"))
        sh = stub.Invoke(m.MxCommandRequest(session_id=self.session_id, command=command)).register.server_handle
        bulk = m.AddItemBulkCommand(server_handle=sh, tag_addresses=_tags(STREAM_EVENTS, "grpcio"))
        command = m.MxCommand(kind=m.MX_COMMAND_KIND_SUBSCRIBE_BULK, subscribe_bulk=bulk)
        stub.Invoke(m.MxCommandRequest(session_id=self.session_id, command=command), timeout=120)
        interval = m.SetBufferedUpdateIntervalCommand(server_handle=sh, update_interval_ms=1)
        command = m.MxCommand(
            kind=m.MX_COMMAND_KIND_SET_BUFFERED_UPDATE_INTERVAL, set_buffered_update_interval=interval
        )
        self.invoke_request = m.MxCommandRequest(session_id=self.session_id, command=command)

    async def stream(self) -> int:
        """Stream the session's events from ``after_worker_sequence=0``; the count received."""
        count = 0
        request = self.m.StreamEventsRequest(session_id=self.session_id, after_worker_sequence=0)
        stream = self.stub.StreamEvents(request, timeout=120)
        for _ in stream:
            count += 1
            if count == STREAM_EVENTS:
                break
        stream.cancel()
        return count

    async def invoke(self) -> None:
        """``INVOKE_CALLS`` sequential ``Invoke`` calls."""
        for _ in range(INVOKE_CALLS):
            self.stub.Invoke(self.invoke_request)

    async def close(self) -> None:
        """Close the session and the channel."""
        self.stub.CloseSession(self.m.CloseSessionRequest(session_id=self.session_id))
        self.channel.close()


Client = StubClient | OtwireClient | GrpcioClient


async def measure(port: int, simulator_pid: int, m: ModuleType) -> tuple[dict[str, list[Round]], dict[str, float]]:
    """Stream rounds and Invoke batches of the three clients, interleaved (the order rotates each round).

    Returns each client's stream rounds and its best Invoke rate (calls/s).
    """
    clients: list[Client] = [OtwireClient(), StubClient(), GrpcioClient(m)]
    for client in clients:
        await client.open(port)
    meter = Meter(simulator_pid)
    rounds: dict[str, list[Round]] = {client.name: [] for client in clients}
    best_invoke = dict.fromkeys(rounds, math.inf)
    try:
        for turn in range(ROUNDS):
            for client in clients[turn % 3 :] + clients[: turn % 3]:
                meter.start()
                rounds[client.name].append(meter.stop(await client.stream()))
        for turn in range(ROUNDS):
            for client in clients[turn % 3 :] + clients[: turn % 3]:
                start = time.perf_counter()
                await client.invoke()
                best_invoke[client.name] = min(best_invoke[client.name], time.perf_counter() - start)
    finally:
        for client in clients:
            await client.close()
    return rounds, {name: INVOKE_CALLS / seconds for name, seconds in best_invoke.items()}


# -- decode -----------------------------------------------------------------------------------------


def sample_event() -> pb.MxEvent:
    """An ``OnDataChange`` event as the simulator sends it."""
    model = GatewayModel()
    session = model.open_session("bench")
    assert session is not None
    item = session.add_item(session.register("bench"), "Pump_001.PV")
    return model.data_change(item, model.tag(item.tag, datetime.datetime.now(datetime.UTC)))


def best_rate(call: Callable[[], object], rounds: int) -> float:
    """Calls per second of ``call``, best of three batches of ``rounds``."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            call()
        best = min(best, time.perf_counter() - start)
    return rounds / best


def _rates(label: str, ours: Callable[[], object], theirs: Callable[[], object], name: str = "otwire") -> None:
    ours_rate, theirs_rate = best_rate(ours, DECODE_ROUNDS), best_rate(theirs, DECODE_ROUNDS)
    print(f"   {label:24s} {name:12s} {ours_rate:12,.0f}/s   protobuf {theirs_rate:12,.0f}/s", end="")
    print(f"   ratio {ours_rate / theirs_rate:6.2f}x")


def bench_decode(m: ModuleType) -> None:
    """Decode, encode and value conversion rates, otwire's against protobuf's (grpcio-tools classes)."""
    event = sample_event()
    assert event.value is not None
    value_bytes, event_bytes = bytes(event.value), bytes(event)
    assert m.MxValue.FromString(value_bytes).double_value == event.value.double_value
    assert m.MxEvent.FromString(event_bytes).item_handle == event.item_handle
    assert fast_parse(pb.MxEvent, event_bytes) == pb.MxEvent.parse(event_bytes) == event
    print(f"\n3. decode from wire bytes ({len(value_bytes)} octets MxValue, {len(event_bytes)} octets MxEvent)")
    for name, ours_type, theirs_type, data in (
        ("MxValue", pb.MxValue, m.MxValue, value_bytes),
        ("MxEvent", pb.MxEvent, m.MxEvent, event_bytes),
    ):
        theirs = lambda t=theirs_type, d=data: t.FromString(d)  # noqa: E731
        _rates(f"{name} parse", lambda t=ours_type, d=data: t.parse(d), theirs, "betterproto2")
        _rates(f"{name} fast_parse", lambda t=ours_type, d=data: fast_parse(t, d), theirs)
    theirs_event = m.MxEvent.FromString(event_bytes)
    encoder = EventEncoder()
    print("\n   encode")
    _rates("MxEvent bytes()", lambda: bytes(event), theirs_event.SerializeToString, "betterproto2")
    _rates("MxEvent EventEncoder", lambda: encoder.encode(event), theirs_event.SerializeToString)
    print("\n   values (Python float <-> MxValue double)")
    theirs_value = m.MxValue.FromString(value_bytes)
    dt, vt = m.MX_DATA_TYPE_DOUBLE, m.VT_R8
    _rates(
        "to_mx_value", lambda: to_mx_value(42.5), lambda: m.MxValue(data_type=dt, variant_type=vt, double_value=42.5)
    )
    _rates(
        "from_mx_value",
        lambda: from_mx_value(event.value),  # type: ignore[arg-type]
        lambda: getattr(theirs_value, theirs_value.WhichOneof("kind")),
    )


def _start_server() -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(STREAM_EVENTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def _median_range(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f}x (rounds {min(values):.2f}-{max(values):.2f})"


def report_stream(rounds: dict[str, list[Round]]) -> None:
    """Print section 1: per client the median rate and CPU per event; the ratios of otwire to grpcio."""
    print(f"\n1. StreamEvents from the simulator, {STREAM_EVENTS:,} events per client and round, {ROUNDS} rounds")
    print("   (clients interleaved, order rotating; medians over the rounds. events/s: wall clock from the")
    print("   request to the last event. CPU: this process, all its threads (grpcio's core threads too);")
    print("   simulator: the simulator process, which shares the machine's cores with the client)")
    print(f"   {'client':24s} {'events/s':>10s} {'CPU us/event':>13s} {'simulator us/event':>19s}")
    for name, rows in rounds.items():
        rate = statistics.median(row.count / row.wall for row in rows)
        cpu = statistics.median(row.cpu / row.count * 1e6 for row in rows)
        sim = statistics.median(row.simulator / row.count * 1e6 for row in rows)
        received = min(row.count for row in rows)
        print(f"   {name:24s} {rate:10,.0f} {cpu:13.1f} {sim:19.1f}   ({received:,} received)")
    ours, stubs, theirs = rounds.values()
    wall = [t.wall / o.wall for o, t in zip(ours, theirs, strict=True)]
    cpu = [t.cpu / o.cpu for o, t in zip(ours, theirs, strict=True)]
    print(f"   wall ratio otwire/grpcio   {_median_range(wall)}   (events/s; above 1: otwire faster)")
    print(f"   CPU ratio grpcio/otwire    {_median_range(cpu)}   (CPU per event; above 1: otwire uses less)")
    stub_wall = [t.wall / b.wall for b, t in zip(stubs, theirs, strict=True)]
    print(f"   wall ratio raw stubs/grpcio {_median_range(stub_wall)}")
    judged = statistics.median(cpu)
    met = "met" if judged >= 1.0 else "NOT met"
    print(f"   target (issue 10 §7): otwire stream_events() >= 1.0x grpcio: {met} ({judged:.2f}x)")
    print("   (judged on the median CPU ratio: the wall ratio also measures how the scheduler shares the")
    print("   cores between the clients, the simulator and other jobs; benchmarks/README.md)")


def report_calls(calls: dict[str, float]) -> None:
    """Print section 2 from the best Invoke calls/s of each client."""
    ow_calls, bp_calls, io_calls = calls.values()
    print(f"\n2. unary Invoke round trips, {INVOKE_CALLS:,} sequential calls per client (best of {ROUNDS} batches)")
    print(f"   otwire Session.invoke  {ow_calls:12,.0f} calls/s")
    print(f"   betterproto2+grpclib   {bp_calls:12,.0f} calls/s")
    print(f"   grpcio                 {io_calls:12,.0f} calls/s")
    print(f"   ratio otwire/grpcio {ow_calls / io_calls:6.2f}x   raw stubs/grpcio {bp_calls / io_calls:6.2f}x")


def main() -> int:
    print(f"MXAccess Gateway benchmark (Python {sys.version.split()[0]}, grpcio {grpc.__version__})")
    with tempfile.TemporaryDirectory() as folder:
        m = grpcio_stubs(Path(folder))
        server, port = _start_server()
        try:
            rounds, calls = asyncio.run(measure(port, server.pid, m))
        finally:
            assert server.stdin is not None and server.stdout is not None
            server.stdin.close()
            server_peak_kib = int(server.stdout.readline() or 0)
            server.wait(30)
        report_stream(rounds)
        report_calls(calls)
        bench_decode(m)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\n4. peak memory: clients {own_peak / 1024:.1f} MiB, simulator {server_peak_kib / 1024:.1f} MiB")
    return 0 if all(row.count == STREAM_EVENTS for rows in rounds.values() for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
