"""MXAccess Gateway benchmark: the simulator's event stream and Invoke, grpclib+betterproto2 against grpcio.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/mxgateway.py``). One run, four
measurements; the simulator (``otwire.servers.mxgateway.Server``) runs in a child process
so that it does not share the clients' GIL:

1. StreamEvents: each client opens its own session, subscribes ``STREAM_EVENTS`` tags in one
   ``SubscribeBulk`` (values do not tick: ``rate=0``), so the session's replay ring holds
   exactly that many ``OnDataChange`` events, then streams them from ``after_worker_sequence=0``
   and counts them (events/s delivered, from the request to the last event; best of
   ``ROUNDS`` replays of the same events). Clients: raw
   betterproto2 stubs on grpclib (``pb.MxAccessGatewayStub``), and grpcio with stubs that
   grpcio-tools generates from ``specs/mxgateway/*.proto`` into a temporary directory.
2. Invoke round trips: ``INVOKE_CALLS`` sequential ``SetBufferedUpdateInterval`` commands
   (no state change) per client, best of ``ROUNDS`` batches.
3. Decode: an ``MxValue`` (double) and an ``OnDataChange`` ``MxEvent`` from their wire
   bytes, betterproto2 against protobuf (the grpcio-tools classes), ``DECODE_ROUNDS`` each.
4. Peak memory (ru_maxrss) of this process and of the simulator process.

The otwire client (``otwire.clients.mxgateway``: ``Session.stream_events()`` and
``Session.invoke()``, with the codec's fast decoder) runs the same measurements, and the
decode part adds ``fast_parse``, ``EventEncoder`` and ``to_mx_value``/``from_mx_value``.
Section 1 also gives each client's CPU time per event (``time.process_time()``: every
thread of this process; the simulator runs elsewhere). Ratios are otwire-side rate /
grpcio-side rate (above 1: otwire's stack is faster); the target of issue 10 §7 is otwire
``stream_events()`` >= 1.0x grpcio, printed as met or not.
The exit status is 1 only when a client lost events.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

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
ROUNDS = int(os.environ.get("MXGW_BENCH_ROUNDS", "3"))

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


class Best:
    """The best of repeated stream rounds: least wall time, least client CPU time (s), fewest events."""

    def __init__(self) -> None:
        self.wall = self.cpu = float("inf")
        self.count = STREAM_EVENTS
        self._wall = self._cpu = 0.0

    def start(self) -> int:
        """Start a round; returns 0 (the round's event count so far)."""
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return 0

    def stop(self, count: int) -> None:
        """End a round that received ``count`` events."""
        self.wall = min(self.wall, time.perf_counter() - self._wall)
        self.cpu = min(self.cpu, time.process_time() - self._cpu)
        self.count = min(self.count, count)


# -- betterproto2 + grpclib -----------------------------------------------------------------------


async def _bp_session(stub: pb.MxAccessGatewayStub, prefix: str) -> tuple[str, int]:
    session_id = (await stub.open_session(pb.OpenSessionRequest(client_session_name="bench"))).session_id
    register = pb.MxCommand(kind=pb.MxCommandKind.REGISTER, register=pb.RegisterCommand(client_name="bench"))
    reply = await stub.invoke(pb.MxCommandRequest(session_id=session_id, command=register))
    assert reply.register is not None
    sh = reply.register.server_handle
    bulk = pb.AddItemBulkCommand(server_handle=sh, tag_addresses=_tags(STREAM_EVENTS, prefix))
    command = pb.MxCommand(kind=pb.MxCommandKind.SUBSCRIBE_BULK, subscribe_bulk=bulk)
    await stub.invoke(pb.MxCommandRequest(session_id=session_id, command=command), timeout=120)
    return session_id, sh


async def betterproto_run(port: int) -> tuple[float, int, float, float]:
    """(events/s, events received, Invoke round trips/s, client CPU µs/event) of the raw betterproto2/grpclib stubs."""
    async with Channel("127.0.0.1", port) as channel:
        stub = pb.MxAccessGatewayStub(channel, timeout=120)
        session_id, sh = await _bp_session(stub, "bp")
        request = pb.StreamEventsRequest(session_id=session_id, after_worker_sequence=0)
        best = Best()
        for _ in range(ROUNDS):  # each round replays the same events from the session's ring
            count = best.start()
            async with contextlib.aclosing(stub.stream_events(request)) as events:
                async for _ in events:
                    count += 1
                    if count == STREAM_EVENTS:
                        break
            best.stop(count)
        command = pb.MxCommand(
            kind=pb.MxCommandKind.SET_BUFFERED_UPDATE_INTERVAL,
            set_buffered_update_interval=pb.SetBufferedUpdateIntervalCommand(server_handle=sh, update_interval_ms=1),
        )
        invoke = pb.MxCommandRequest(session_id=session_id, command=command)
        invoke_time = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(INVOKE_CALLS):
                await stub.invoke(invoke)
            invoke_time = min(invoke_time, time.perf_counter() - start)
        await stub.close_session(pb.CloseSessionRequest(session_id=session_id))
    return best.count / best.wall, best.count, INVOKE_CALLS / invoke_time, best.cpu / best.count * 1e6


# -- otwire client -----------------------------------------------------------------------------------


async def otwire_run(port: int) -> tuple[float, int, float, float]:
    """(events/s, events received, Invoke round trips/s, client CPU µs/event) of ``otwire.clients.mxgateway``.

    ``Session.stream_events()`` (sequence tracking, error mapping, the fast decoder) and
    ``Session.invoke()`` (correlation, failure checks).
    """
    async with await GatewayClient.connect(endpoint=f"127.0.0.1:{port}", api_key="", plaintext=True) as client:
        session = await client.open_session(client_session_name="bench")
        server = await session.register("bench")
        await session.subscribe_bulk(server, _tags(STREAM_EVENTS, "otwire"), timeout=120)
        best = Best()
        for _ in range(ROUNDS):
            count = best.start()
            async with contextlib.aclosing(session.stream_events(after_worker_sequence=0)) as events:
                async for _ in events:
                    count += 1
                    if count == STREAM_EVENTS:
                        break
            best.stop(count)
        command = pb.MxCommand(
            kind=pb.MxCommandKind.SET_BUFFERED_UPDATE_INTERVAL,
            set_buffered_update_interval=pb.SetBufferedUpdateIntervalCommand(
                server_handle=server, update_interval_ms=1
            ),
        )
        invoke_time = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(INVOKE_CALLS):
                await session.invoke(command)
            invoke_time = min(invoke_time, time.perf_counter() - start)
        await session.close()
    return best.count / best.wall, best.count, INVOKE_CALLS / invoke_time, best.cpu / best.count * 1e6


# -- grpcio -----------------------------------------------------------------------------------------


def grpcio_run(port: int, m: ModuleType) -> tuple[float, int, float, float]:
    """(events/s, events received, Invoke round trips/s, client CPU µs/event) of a grpcio client."""
    grpc_module = sys.modules["mxaccess_gateway_pb2_grpc"]
    options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        stub = grpc_module.MxAccessGatewayStub(channel)
        session_id = stub.OpenSession(m.OpenSessionRequest(client_session_name="bench")).session_id
        command = m.MxCommand(kind=m.MX_COMMAND_KIND_REGISTER, register=m.RegisterCommand(client_name="bench"))
        sh = stub.Invoke(m.MxCommandRequest(session_id=session_id, command=command)).register.server_handle
        bulk = m.AddItemBulkCommand(server_handle=sh, tag_addresses=_tags(STREAM_EVENTS, "grpcio"))
        command = m.MxCommand(kind=m.MX_COMMAND_KIND_SUBSCRIBE_BULK, subscribe_bulk=bulk)
        stub.Invoke(m.MxCommandRequest(session_id=session_id, command=command), timeout=120)
        best = Best()
        for _ in range(ROUNDS):
            count = best.start()
            request = m.StreamEventsRequest(session_id=session_id, after_worker_sequence=0)
            stream = stub.StreamEvents(request, timeout=120)
            for _ in stream:
                count += 1
                if count == STREAM_EVENTS:
                    break
            best.stop(count)
            stream.cancel()
        interval = m.SetBufferedUpdateIntervalCommand(server_handle=sh, update_interval_ms=1)
        command = m.MxCommand(
            kind=m.MX_COMMAND_KIND_SET_BUFFERED_UPDATE_INTERVAL, set_buffered_update_interval=interval
        )
        invoke = m.MxCommandRequest(session_id=session_id, command=command)
        invoke_time = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(INVOKE_CALLS):
                stub.Invoke(invoke)
            invoke_time = min(invoke_time, time.perf_counter() - start)
        stub.CloseSession(m.CloseSessionRequest(session_id=session_id))
    return best.count / best.wall, best.count, INVOKE_CALLS / invoke_time, best.cpu / best.count * 1e6


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


def report_stream(*rows: tuple[float, int, float]) -> None:
    """Print section 1 from (events/s, received, CPU µs/event) of otwire, raw stubs and grpcio."""
    names = ("otwire stream_events()", "betterproto2+grpclib", "grpcio")
    print(f"\n1. StreamEvents from the simulator, {STREAM_EVENTS:,} events per client")
    print("   (client CPU per event: this process's CPU time, all its threads, best round)")
    for name, (rate, count, cpu) in zip(names, rows, strict=True):
        print(f"   {name:22s} {rate:12,.0f} events/s ({count:,} received) {cpu:8.1f} us CPU/event")
    (ow_events, _, ow_cpu), (bp_events, _, _), (io_events, _, io_cpu) = rows
    print(f"   CPU per event otwire:grpcio {ow_cpu / io_cpu:6.2f} (below 1: otwire uses less)")
    print(f"   ratio otwire/grpcio {ow_events / io_events:6.2f}x   raw stubs/grpcio {bp_events / io_events:6.2f}x")
    met = "met" if ow_events >= io_events else "NOT met"
    print(f"   target (issue 10 §7): otwire stream_events() >= 1.0x grpcio: {met}")


def report_calls(calls: tuple[float, float, float]) -> None:
    """Print section 2 from the Invoke calls/s of otwire, raw stubs and grpcio."""
    ow_calls, bp_calls, io_calls = calls
    print(f"\n2. unary Invoke round trips, {INVOKE_CALLS:,} sequential calls per client")
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
            bp_events, bp_count, bp_calls, bp_cpu = asyncio.run(betterproto_run(port))
            io_events, io_count, io_calls, io_cpu = grpcio_run(port, m)
            ow_events, ow_count, ow_calls, ow_cpu = asyncio.run(otwire_run(port))
        finally:
            assert server.stdin is not None and server.stdout is not None
            server.stdin.close()
            server_peak_kib = int(server.stdout.readline() or 0)
            server.wait(30)
        report_stream((ow_events, ow_count, ow_cpu), (bp_events, bp_count, bp_cpu), (io_events, io_count, io_cpu))
        report_calls((ow_calls, bp_calls, io_calls))
        bench_decode(m)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\n4. peak memory: clients {own_peak / 1024:.1f} MiB, simulator {server_peak_kib / 1024:.1f} MiB")
    return 0 if bp_count == io_count == ow_count == STREAM_EVENTS else 1


if __name__ == "__main__":
    sys.exit(main())
