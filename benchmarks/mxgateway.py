"""MXAccess Gateway benchmark: the simulator's event stream and Invoke, grpclib+betterproto2 against grpcio.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/mxgateway.py``). One run, four
measurements; the simulator (``otwire.servers.mxgateway.Server``) runs in a child process
so that it does not share the clients' GIL:

1. StreamEvents: each client opens its own session, subscribes ``STREAM_EVENTS`` tags in one
   ``SubscribeBulk`` (values do not tick: ``rate=0``), so the session's replay ring holds
   exactly that many ``OnDataChange`` events, then streams them from ``after_worker_sequence=0``
   and counts them (events/s delivered, from the request to the last event). Clients: raw
   betterproto2 stubs on grpclib (``pb.MxAccessGatewayStub``), and grpcio with stubs that
   grpcio-tools generates from ``specs/mxgateway/*.proto`` into a temporary directory.
2. Invoke round trips: ``INVOKE_CALLS`` sequential ``SetBufferedUpdateInterval`` commands
   (no state change) per client.
3. Decode: an ``MxValue`` (double) and an ``OnDataChange`` ``MxEvent`` from their wire
   bytes, betterproto2 against protobuf (the grpcio-tools classes), ``DECODE_ROUNDS`` each.
4. Peak memory (ru_maxrss) of this process and of the simulator process.

Ratios are betterproto2-side rate / grpcio-side rate (above 1: otwire's stack is faster).
The otwire client (``otwire.clients.mxgateway``) figure is added by the lead: see
``OTWIRE CLIENT`` below. The exit status is 1 only when a client lost events.
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

from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway.model import GatewayModel

SPECS = Path(__file__).resolve().parent.parent / "specs" / "mxgateway"
STREAM_EVENTS = int(os.environ.get("MXGW_BENCH_EVENTS", "20000"))
INVOKE_CALLS = int(os.environ.get("MXGW_BENCH_CALLS", "2000"))
DECODE_ROUNDS = int(os.environ.get("MXGW_BENCH_DECODES", "20000"))

_SERVER = """
import sys
from otwire.servers.mxgateway import Server
events = int(sys.argv[1])
with Server(port=0, rate=0, replay_capacity=events + 16, event_buffer=events + 16, max_items=4 * events + 16,
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


async def betterproto_run(port: int) -> tuple[float, int, float]:
    """(events/s, events received, Invoke round trips/s) of the raw betterproto2/grpclib stubs."""
    async with Channel("127.0.0.1", port) as channel:
        stub = pb.MxAccessGatewayStub(channel, timeout=120)
        session_id, sh = await _bp_session(stub, "bp")
        received = 0
        start = time.perf_counter()
        request = pb.StreamEventsRequest(session_id=session_id, after_worker_sequence=0)
        async with contextlib.aclosing(stub.stream_events(request)) as events:
            async for _ in events:
                received += 1
                if received == STREAM_EVENTS:
                    break
        stream_time = time.perf_counter() - start
        command = pb.MxCommand(
            kind=pb.MxCommandKind.SET_BUFFERED_UPDATE_INTERVAL,
            set_buffered_update_interval=pb.SetBufferedUpdateIntervalCommand(server_handle=sh, update_interval_ms=1),
        )
        invoke = pb.MxCommandRequest(session_id=session_id, command=command)
        start = time.perf_counter()
        for _ in range(INVOKE_CALLS):
            await stub.invoke(invoke)
        invoke_time = time.perf_counter() - start
        await stub.close_session(pb.CloseSessionRequest(session_id=session_id))
    return received / stream_time, received, INVOKE_CALLS / invoke_time


# -- grpcio -----------------------------------------------------------------------------------------


def grpcio_run(port: int, m: ModuleType) -> tuple[float, int, float]:
    """(events/s, events received, Invoke round trips/s) of a grpcio client."""
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
        received = 0
        start = time.perf_counter()
        stream = stub.StreamEvents(m.StreamEventsRequest(session_id=session_id, after_worker_sequence=0), timeout=120)
        for _ in stream:
            received += 1
            if received == STREAM_EVENTS:
                break
        stream_time = time.perf_counter() - start
        stream.cancel()
        interval = m.SetBufferedUpdateIntervalCommand(server_handle=sh, update_interval_ms=1)
        command = m.MxCommand(
            kind=m.MX_COMMAND_KIND_SET_BUFFERED_UPDATE_INTERVAL, set_buffered_update_interval=interval
        )
        invoke = m.MxCommandRequest(session_id=session_id, command=command)
        start = time.perf_counter()
        for _ in range(INVOKE_CALLS):
            stub.Invoke(invoke)
        invoke_time = time.perf_counter() - start
        stub.CloseSession(m.CloseSessionRequest(session_id=session_id))
    return received / stream_time, received, INVOKE_CALLS / invoke_time


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


def bench_decode(m: ModuleType) -> None:
    event = sample_event()
    assert event.value is not None
    value_bytes, event_bytes = bytes(event.value), bytes(event)
    assert m.MxValue.FromString(value_bytes).double_value == event.value.double_value
    assert m.MxEvent.FromString(event_bytes).item_handle == event.item_handle
    print(f"\n3. decode from wire bytes ({len(value_bytes)} octets MxValue, {len(event_bytes)} octets MxEvent)")
    for name, ours_type, theirs_type, data in (
        ("MxValue", pb.MxValue, m.MxValue, value_bytes),
        ("MxEvent", pb.MxEvent, m.MxEvent, event_bytes),
    ):
        ours = best_rate(lambda t=ours_type, d=data: t.parse(d), DECODE_ROUNDS)
        theirs = best_rate(lambda t=theirs_type, d=data: t.FromString(d), DECODE_ROUNDS)
        print(f"   {name:8s} betterproto2 {ours:12,.0f}/s   protobuf {theirs:12,.0f}/s   ratio {ours / theirs:6.2f}x")
    # OTWIRE CLIENT: the lead adds to_mx_value / from_mx_value (otwire.codecs.mxgateway.values) rates here.


def _start_server() -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(STREAM_EVENTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def main() -> int:
    print(f"MXAccess Gateway benchmark (Python {sys.version.split()[0]}, grpcio {grpc.__version__})")
    with tempfile.TemporaryDirectory() as folder:
        m = grpcio_stubs(Path(folder))
        server, port = _start_server()
        try:
            bp_events, bp_count, bp_calls = asyncio.run(betterproto_run(port))
            io_events, io_count, io_calls = grpcio_run(port, m)
            # OTWIRE CLIENT: the lead adds otwire.clients.mxgateway stream_events()/invoke figures here.
        finally:
            assert server.stdin is not None and server.stdout is not None
            server.stdin.close()
            server_peak_kib = int(server.stdout.readline() or 0)
            server.wait(30)
        print(f"\n1. StreamEvents from the simulator, {STREAM_EVENTS:,} events per client")
        print(f"   betterproto2+grpclib {bp_events:12,.0f} events/s ({bp_count:,} received)")
        print(f"   grpcio               {io_events:12,.0f} events/s ({io_count:,} received)")
        print(f"   ratio betterproto2/grpcio {bp_events / io_events:6.2f}x")
        print(f"\n2. unary Invoke round trips, {INVOKE_CALLS:,} sequential calls per client")
        print(f"   betterproto2+grpclib {bp_calls:12,.0f} calls/s")
        print(f"   grpcio               {io_calls:12,.0f} calls/s")
        print(f"   ratio betterproto2/grpcio {bp_calls / io_calls:6.2f}x")
        bench_decode(m)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\n4. peak memory: clients {own_peak / 1024:.1f} MiB, simulator {server_peak_kib / 1024:.1f} MiB")
    return 0 if bp_count == io_count == STREAM_EVENTS else 1


if __name__ == "__main__":
    sys.exit(main())
