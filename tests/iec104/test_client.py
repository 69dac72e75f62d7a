"""The IEC 104 client (threaded and asyncio) against a fake outstation.

The outstation is otwire's sans-IO engine in the controlled role, driven by a small
select loop in a thread over a loopback socket, with a scripted answering policy. Every
wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
import logging
import queue
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import otwire.clients.iec104 as c104
from helpers import Pair, async_wait_until, drain, wait_event, wait_until
from otwire.clients.iec104._operations import Operation, RequestRunner
from otwire.codecs.iec104 import (
    ASDU,
    BCR,
    COI,
    DCO,
    DIQ,
    QDS,
    QOI,
    R32,
    RCO,
    SCO,
    SIQ,
    SVA,
    Cot,
    CP56Time2a,
    DoublePoint,
    InformationObject,
    Quality,
    TypeId,
)
from otwire.codecs.iec104.values import COMMAND_TYPES
from otwire.errors import (
    InvalidArgument,
    InvalidArgumentType,
    InvalidState,
    OTWireError,
    RemoteProtocolError,
    RequestError,
    RequestTimeout,
)
from otwire.protocols.iec104 import ASDUReceived, IEC104Config, IEC104Connection, Role
from otwire.transports import AsyncReplyMatcher, ReplyMatcher
from transports.toy import refused_port, tls_contexts

CA = 47
STAMP = dt.datetime(2024, 2, 29, 13, 37, 42, 123000, tzinfo=dt.UTC)
POINTS: dict[int, tuple[TypeId, tuple[Any, ...]]] = {
    101: (TypeId.M_SP_NA_1, (SIQ(spi=True),)),
    102: (TypeId.M_DP_NA_1, (DIQ(dpi=DoublePoint.ON, quality=Quality.IV),)),
    103: (TypeId.M_ME_NC_1, (R32(value=12.5), QDS())),
    104: (TypeId.M_ME_NB_1, (SVA(value=-1234), QDS(quality=Quality.SB))),
    105: (TypeId.M_SP_TB_1, (SIQ(spi=False), CP56Time2a.from_datetime(STAMP))),
}
COUNTERS = {201: (TypeId.M_IT_NA_1, (BCR(counter=1234, sequence=3),))}
WAIT = 3.0  # seconds any single wait in these tests may take at most
CLIENT_THREAD = "otwire-iec104-client"
STARTDT_ACT = bytes.fromhex("680407000000")


def loop_barrier(client: c104.Client, delay: float = 0.0) -> None:
    """Return once the client thread ran a timer ``delay`` seconds from now.

    The loop runs due timers in deadline order, so every timer of the client due before
    that one (command timeouts, reconnect delays) has run by then: no sleep needed.
    """
    ran = threading.Event()
    loop = client._runner.loop
    assert loop is not None
    loop.call_soon_threadsafe(lambda: client._runner.call_later(delay, ran.set))
    wait_event(ran, WAIT, what="client loop timer")


class FakeOutstation:
    """A controlled station: otwire's engine over a loopback socket, answering by a simple policy."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.tls = tls
        self.points = {**POINTS}
        self.counters = {**COUNTERS}
        self.refuse: set[int] = set()  # IOAs whose commands get a negative ACT_CON
        self.silent: set[int] = set()  # type ids left unanswered
        self.received: list[ASDU] = []
        self.connections = 0
        self.open = False
        self._actions: queue.Queue[Callable[[IEC104Connection, socket.socket], None]] = queue.Queue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-outstation", daemon=True)
        self._thread.start()

    # -- test API (any thread) -------------------------------------------------------

    def call(self, action: Callable[[IEC104Connection, socket.socket], None]) -> None:
        self._actions.put(action)
        self._wake_w.send(b"\0")

    def send(self, asdu: ASDU) -> None:
        self.call(lambda engine, sock: engine.send(asdu, time.monotonic()))

    def send_raw(self, data: bytes) -> None:
        self.call(lambda engine, sock: sock.sendall(data))

    def drop(self) -> None:
        self.call(lambda engine, sock: sock.shutdown(socket.SHUT_RDWR))

    def of_type(self, type_id: TypeId) -> list[ASDU]:
        return [a for a in list(self.received) if a.type_id == type_id]

    def close(self) -> None:
        self._stop.set()
        self._wake_w.send(b"\0")
        self._thread.join(WAIT)
        self.listener.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- server thread ---------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.listener, self._wake_r], [], [], 0.1)
            if self._wake_r in ready:
                self._wake_r.recv(4096)
            if self.listener in ready:
                sock, _ = self.listener.accept()
                if self.tls is not None:
                    sock = self.tls.wrap_socket(sock, server_side=True)
                self.connections += 1
                try:
                    self._run(sock)
                finally:
                    self.open = False
                    sock.close()

    def _run(self, sock: socket.socket) -> None:
        engine = IEC104Connection(Role.CONTROLLED, IEC104Config(t1=2, t2=1, t3=5), now=time.monotonic())
        self.open = True
        while not self._stop.is_set() and not engine.is_closed:
            timer = engine.get_timer()
            wait = 0.05 if timer is None else min(max(timer - time.monotonic(), 0.0), 0.05)
            ready, _, _ = select.select([sock, self._wake_r], [], [], wait)
            now = time.monotonic()
            if self._wake_r in ready:
                self._wake_r.recv(4096)
            while not self._actions.empty():
                try:
                    self._actions.get_nowait()(engine, sock)
                except Exception:  # a failed scripted action must not end the server
                    logging.getLogger("fake-outstation").exception("action failed")
            if sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                with contextlib.suppress(RemoteProtocolError):
                    engine.receive_data(data, now)
                if not data:
                    return
            elif timer is not None and timer <= now and not engine.is_closed:
                engine.handle_timer(now)
            while (event := engine.next_event()) is not None:
                if isinstance(event, ASDUReceived):
                    self.received.append(event.asdu)
                    self._answer(engine, event.asdu, now)
            out = engine.data_to_send()
            if out:
                try:
                    sock.sendall(out)
                except OSError:
                    return

    def _answer(self, engine: IEC104Connection, asdu: ASDU, now: float) -> None:
        type_id = asdu.type_id
        if type_id in self.silent:
            return

        def reply(cot: Cot, negative: bool = False) -> None:
            engine.send(dataclasses.replace(asdu, cot=cot, negative=negative, common_address=CA), now)

        def data(points: dict[int, tuple[TypeId, tuple[Any, ...]]], cot: Cot) -> None:
            for ioa, (tid, elements) in points.items():
                engine.send(
                    ASDU(type_id=tid, cot=cot, common_address=CA, objects=(InformationObject(ioa, elements),)), now
                )

        confirm = Cot.DEACTIVATION_CON if asdu.cot == Cot.DEACTIVATION else Cot.ACTIVATION_CON
        if type_id == TypeId.C_IC_NA_1:
            reply(confirm)
            if asdu.cot == Cot.ACTIVATION:
                data(self.points, Cot.INTERROGATED_BY_STATION)
                reply(Cot.ACTIVATION_TERMINATION)
        elif type_id == TypeId.C_CI_NA_1:
            reply(confirm)
            data(self.counters, Cot.REQUESTED_BY_GENERAL_COUNTER)
            reply(Cot.ACTIVATION_TERMINATION)
        elif type_id == TypeId.C_RD_NA_1:
            ioa = asdu.objects[0].ioa
            if ioa in self.points:
                data({ioa: self.points[ioa]}, Cot.REQUEST)
            else:
                reply(Cot.UNKNOWN_IOA, negative=True)
        elif type_id in COMMAND_TYPES:
            reply(confirm, negative=asdu.objects[0].ioa in self.refuse)
        elif type_id in (TypeId.C_CS_NA_1, TypeId.C_TS_TA_1, TypeId.C_TS_NA_1):
            reply(confirm)


@pytest.fixture
def outstation() -> Iterator[FakeOutstation]:
    station = FakeOutstation()
    yield station
    station.close()


@pytest.fixture
def make_client() -> Iterator[Callable[..., c104.Client]]:
    clients: list[c104.Client] = []

    def make(**kwargs: Any) -> c104.Client:
        kwargs.setdefault("command_timeout_ms", 1000)
        kwargs.setdefault("reconnect_delay_ms", 20)
        client = c104.Client(**kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.stop()
        assert client._thread is None or not client._thread.is_alive()


def connect(
    make_client: Callable[..., c104.Client],
    outstation: FakeOutstation,
    init: c104.Init = c104.Init.NONE,
    **kwargs: Any,
) -> tuple[c104.Client, c104.Connection, c104.Station]:
    client = make_client(**kwargs)
    connection = client.add_connection("127.0.0.1", outstation.port, init=init)
    assert connection is not None
    station = connection.add_station(CA)
    assert station is not None
    for ioa, (type_id, _) in {**POINTS, **COUNTERS}.items():
        station.add_point(ioa, type_id)
    client.start()
    assert connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
    return client, connection, station


# -- connection set-up -----------------------------------------------------------------


def test_start_runs_startdt_then_interrogation_and_clock_sync(make_client: Any, outstation: FakeOutstation) -> None:
    client = make_client()
    connection = client.add_connection("127.0.0.1", outstation.port)  # init=Init.ALL
    states: list[tuple[c104.ConnectionState, str]] = []
    connection.on_state_change(lambda con, state: states.append((state, threading.current_thread().name)))
    assert connection.state is c104.ConnectionState.CLOSED and not client.is_running
    client.start()
    assert connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
    wait_until(lambda: outstation.of_type(TypeId.C_IC_NA_1) and outstation.of_type(TypeId.C_CS_NA_1))
    (gi,) = outstation.of_type(TypeId.C_IC_NA_1)
    assert gi.common_address == 0xFFFF and gi.cot == Cot.ACTIVATION and gi.objects[0].elements[0].value == 20
    assert [s for s, _ in states] == [
        c104.ConnectionState.CLOSED_AWAIT_OPEN,
        c104.ConnectionState.OPEN_MUTED,
        c104.ConnectionState.OPEN,
    ]
    assert {name for _, name in states} == {CLIENT_THREAD}
    assert client.is_running and client.has_active_connections and client.active_connection_count == 1
    assert client.open_connection_count == 1 and connection.is_connected and not connection.is_muted
    assert connection.connected_at is not None
    client.stop()
    assert connection.state is c104.ConnectionState.CLOSED and not client.is_running
    assert not client.has_open_connections


@pytest.mark.parametrize(
    ("init", "sent"),
    [
        (c104.Init.NONE, set()),
        (c104.Init.INTERROGATION, {TypeId.C_IC_NA_1}),
        (c104.Init.CLOCK_SYNC, {TypeId.C_CS_NA_1}),
    ],
)
def test_init_modes(make_client: Any, outstation: FakeOutstation, init: c104.Init, sent: set[TypeId]) -> None:
    _, connection, _ = connect(make_client, outstation, init)
    # The start-up requests are sent on the client thread right after STARTDT_CON; a test
    # command posted afterwards goes out after them, so once it is confirmed the station
    # has received every start-up request there is.
    assert connection.test(CA, with_time=False)
    assert {a.type_id for a in outstation.received} == sent | {TypeId.C_TS_NA_1}


def test_init_muted_then_mute_and_unmute(make_client: Any, outstation: FakeOutstation) -> None:
    client = make_client()
    connection = client.add_connection("127.0.0.1", outstation.port, init=c104.Init.MUTED)
    sent: list[bytes] = []
    connection.on_send_raw(lambda con, data: sent.append(data))
    client.start()
    assert connection.wait_for_state(c104.ConnectionState.OPEN_MUTED, timeout=WAIT)
    assert not connection.interrogation(CA)  # no I-frames while muted; runs after the start-up
    assert connection.state is c104.ConnectionState.OPEN_MUTED and connection.is_muted
    assert STARTDT_ACT not in sent
    assert connection.unmute()
    assert connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
    assert connection.mute()
    assert connection.wait_for_state(c104.ConnectionState.OPEN_MUTED, timeout=WAIT)
    assert connection.unmute()
    assert connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
    assert outstation.received == []


# -- monitor direction -----------------------------------------------------------------


def test_interrogation_updates_points_and_calls_on_receive(make_client: Any, outstation: FakeOutstation) -> None:
    _, connection, station = connect(make_client, outstation)
    seen: list[tuple[int, Any, Any, str]] = []

    def on_receive(point: c104.Point, previous_info: c104.PointInfo, message: c104.IncomingMessage) -> None:
        seen.append((point.io_address, previous_info.value, message.cot, threading.current_thread().name))

    for point in station.points:
        point.on_receive(callable=on_receive)
    assert connection.interrogation(common_address=CA)
    # ACT_TERM arrives after the data: everything is processed when interrogation() returns.
    assert station.get_point(101).value is True
    assert station.get_point(102).value is c104.Double.ON and station.get_point(102).quality == Quality.IV
    assert station.get_point(103).value == 12.5 and station.get_point(103).quality == Quality(0)
    assert station.get_point(104).value == -1234 and station.get_point(104).quality == Quality.SB
    assert station.get_point(105).recorded_at == STAMP
    assert sorted(s[0] for s in seen) == sorted(POINTS)
    assert {s[2] for s in seen} == {Cot.INTERROGATED_BY_STATION} and {s[3] for s in seen} == {CLIENT_THREAD}
    assert dict((s[0], s[1]) for s in seen)[101] is False  # previous_info: the default value


def test_spontaneous_data_and_end_of_initialization(make_client: Any, outstation: FakeOutstation) -> None:
    client, _connection, station = connect(make_client, outstation)
    initialized: list[tuple[Any, Any]] = []
    client.on_station_initialized(lambda cl, st, cause: initialized.append((st, cause)))
    outstation.send(
        ASDU(
            type_id=TypeId.M_ME_NC_1,
            cot=Cot.SPONTANEOUS,
            common_address=CA,
            objects=(InformationObject(103, (R32(value=-7.25), QDS(quality=Quality.NT))),),
        )
    )
    outstation.send(
        ASDU(
            type_id=TypeId.M_EI_NA_1,
            cot=Cot.INITIALIZED,
            common_address=CA,
            objects=(InformationObject(0, (COI(cause=2),)),),
        )
    )
    wait_until(lambda: initialized)
    assert station.get_point(103).value == -7.25 and station.get_point(103).quality == Quality.NT
    assert initialized == [(station, c104.Coi.REMOTE_RESET)]


def test_unknown_stations_and_points(make_client: Any, outstation: FakeOutstation) -> None:
    client = make_client()
    connection = client.add_connection("127.0.0.1", outstation.port, init=c104.Init.INTERROGATION)
    unexpected: list[c104.Umc] = []
    connection.on_unexpected_message(lambda con, message, cause: unexpected.append(cause))
    client.start()
    wait_until(lambda: len(unexpected) == len(POINTS))
    assert set(unexpected) == {c104.Umc.UNKNOWN_CA} and not connection.stations

    new: list[tuple[int, TypeId]] = []

    def on_new_point(client: c104.Client, station: c104.Station, io_address: int, point_type: TypeId) -> None:
        new.append((io_address, point_type))
        if io_address != 104:
            station.add_point(io_address=io_address, type=point_type)

    client.on_new_station(lambda cl, con, ca: con.add_station(common_address=ca))
    client.on_new_point(on_new_point)
    assert connection.interrogation(CA)
    (station,) = connection.stations
    assert sorted(new) == sorted((ioa, t) for ioa, (t, _) in POINTS.items())
    assert sorted(p.io_address for p in station.points) == [101, 102, 103, 105]
    assert unexpected[-1] is c104.Umc.UNKNOWN_IOA and client.get_connection(common_address=CA) is connection

    station.remove_point(103)
    station.add_point(103, TypeId.M_ME_NA_1)  # wrong type
    unexpected.clear()
    assert connection.interrogation(CA)
    assert unexpected == [c104.Umc.MISMATCHED_TYPE_ID, c104.Umc.UNKNOWN_IOA]


# -- control direction -----------------------------------------------------------------

COMMANDS = [
    (TypeId.C_SC_NA_1, True, SCO(scs=True)),
    (TypeId.C_DC_NA_1, c104.Double.ON, DCO(dcs=c104.DoubleCommandState.ON)),
    (TypeId.C_RC_NA_1, c104.Step.HIGHER, RCO(rcs=c104.Step.HIGHER)),
    (TypeId.C_SE_NB_1, -300, SVA(value=-300)),
    (TypeId.C_SE_NC_1, 1.5, R32(value=1.5)),
]


@pytest.mark.parametrize("mode", [c104.CommandMode.DIRECT, c104.CommandMode.SELECT_AND_EXECUTE])
@pytest.mark.parametrize(("type_id", "value", "element"), COMMANDS)
def test_commands(
    make_client: Any, outstation: FakeOutstation, mode: c104.CommandMode, type_id: TypeId, value: Any, element: Any
) -> None:
    _, _, station = connect(make_client, outstation)
    point = station.add_point(io_address=300, type=type_id, command_mode=mode)
    point.value = value
    assert point.transmit(cause=c104.Cot.ACTIVATION)
    sent = outstation.of_type(type_id)
    assert [_select(a) for a in sent] == ([True, False] if mode else [False])
    assert sent[-1].objects[0].elements[0] == element  # the execute carries the value


def _select(asdu: ASDU) -> bool:
    """S/E of a command: in SCO/DCO/RCO, or in the QOS of a set-point."""
    return any(getattr(element, "select", False) for element in asdu.objects[0].elements)


def test_time_tagged_command_carries_now(make_client: Any, outstation: FakeOutstation) -> None:
    _, _, station = connect(make_client, outstation)
    point = station.add_point(301, TypeId.C_SC_TA_1)
    point.info = c104.SingleCmd(on=True, qualifier=c104.Qoc.LONG_PULSE)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert point.transmit()
    (sent,) = outstation.of_type(TypeId.C_SC_TA_1)
    sco, stamp = sent.objects[0].elements
    assert sco.qu == c104.Qoc.LONG_PULSE
    assert abs(stamp.to_datetime(tzinfo=dt.UTC) - before) < dt.timedelta(seconds=5)


def test_refusal_timeout_and_late_confirmation(
    make_client: Any, outstation: FakeOutstation, caplog: pytest.LogCaptureFixture
) -> None:
    _, connection, station = connect(make_client, outstation, command_timeout_ms=200)
    point = station.add_point(302, TypeId.C_SC_NA_1)
    outstation.refuse.add(302)
    with caplog.at_level(logging.INFO, logger="otwire.clients.iec104"):
        assert not point.transmit()
    assert "C_SC_NA_1 ACTIVATION ca=47 refused (ACTIVATION_CON P/N=1)" in caplog.text
    assert "timed out" not in caplog.text
    refusal = connection.last_request_error
    assert type(refusal) is RequestError and refusal.code == Cot.ACTIVATION_CON
    assert refusal.reply is not None and refusal.reply.negative and refusal.request.objects[0].ioa == 302
    outstation.refuse.clear()
    outstation.silent.add(TypeId.C_SC_NA_1)
    with caplog.at_level(logging.INFO, logger="otwire.clients.iec104"):
        assert not point.transmit()
    assert "C_SC_NA_1 ACTIVATION ca=47 timed out after 0.200 s" in caplog.text  # failed by the timer
    assert isinstance(connection.last_request_error, RequestTimeout)
    assert not station.add_point(999, TypeId.M_SP_NA_1).read()  # the station answers COT 47 UNKNOWN_IOA
    unknown = connection.last_request_error
    assert isinstance(unknown, RequestError) and unknown.code == Cot.UNKNOWN_IOA == 47
    # A confirmation arriving after the timeout is ignored; the connection stays usable.
    outstation.send(ASDU(type_id=TypeId.C_SC_NA_1, cot=Cot.ACTIVATION_CON, common_address=CA,
                         objects=(InformationObject(302, (SCO(scs=False),)),)))  # fmt: skip
    outstation.silent.clear()
    assert point.transmit() and connection.state is c104.ConnectionState.OPEN
    assert connection.last_request_error is None


def test_read_counter_interrogation_clock_sync_and_test(make_client: Any, outstation: FakeOutstation) -> None:
    _, connection, station = connect(make_client, outstation)
    assert station.get_point(103).read() and station.get_point(103).value == 12.5
    unknown = station.add_point(999, TypeId.M_SP_NA_1)
    assert not unknown.read()
    assert connection.counter_interrogation(CA, qualifier=c104.Rqt.GENERAL, freeze=c104.Frz.READ)
    assert station.get_point(201).value == 1234
    (qcc,) = outstation.of_type(TypeId.C_CI_NA_1)[0].objects[0].elements
    assert (qcc.rqt, qcc.frz) == (5, 0)
    assert connection.clock_sync(CA)
    (stamp,) = outstation.of_type(TypeId.C_CS_NA_1)[0].objects[0].elements
    assert abs(stamp.to_datetime(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    assert connection.test(CA) and connection.test(CA, with_time=False)
    assert connection.interrogation(CA, cause=c104.Cot.DEACTIVATION)
    assert connection.interrogation(CA, wait_for_response=False)
    with pytest.raises(ValueError, match="qualifier"):
        connection.interrogation(CA, qualifier=7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cause"):
        connection.clock_sync(CA) and connection.interrogation(CA, cause=c104.Cot.SPONTANEOUS)


def test_originator_address(make_client: Any, outstation: FakeOutstation) -> None:
    client, connection, _ = connect(make_client, outstation)
    client.originator_address = 7
    assert connection.clock_sync(CA)
    connection.originator_address = 9
    assert connection.test(CA)
    assert [a.originator_address for a in outstation.received] == [7, 9]
    with pytest.raises(ValueError):
        client.originator_address = 256


# -- threading -------------------------------------------------------------------------


def test_blocking_calls_from_a_callback_send_without_waiting(make_client: Any, outstation: FakeOutstation) -> None:
    _, connection, station = connect(make_client, outstation)
    command = station.add_point(303, TypeId.C_SC_NA_1, command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
    results: list[bool] = []

    def on_receive(point: c104.Point, previous_info: Any, message: c104.IncomingMessage) -> None:
        if message.cot == Cot.SPONTANEOUS:
            results.extend([connection.interrogation(CA), command.transmit(), connection.clock_sync(CA)])

    station.get_point(101).on_receive(on_receive)
    outstation.send(ASDU(type_id=TypeId.M_SP_NA_1, cot=Cot.SPONTANEOUS, common_address=CA,
                         objects=(InformationObject(101, (SIQ(spi=False),)),)))  # fmt: skip
    wait_until(lambda: results)
    assert results == [True, True, True]
    # The select-and-execute chain completes in the background.
    wait_until(lambda: len(outstation.of_type(TypeId.C_SC_NA_1)) == 2)
    assert [a.objects[0].elements[0].select for a in outstation.of_type(TypeId.C_SC_NA_1)] == [True, False]
    assert outstation.of_type(TypeId.C_IC_NA_1) and outstation.of_type(TypeId.C_CS_NA_1)


def test_callback_errors_are_logged_and_do_not_stop_the_client(
    make_client: Any, outstation: FakeOutstation, caplog: pytest.LogCaptureFixture
) -> None:
    _, connection, station = connect(make_client, outstation)

    def broken(point: Any, previous_info: Any, message: Any) -> None:
        raise RuntimeError("user bug")

    station.get_point(101).on_receive(broken)
    with caplog.at_level(logging.ERROR, logger="otwire.clients.iec104"):
        assert connection.interrogation(CA)
    assert "user bug" in caplog.text
    assert station.get_point(103).value == 12.5 and connection.interrogation(CA)


def test_stop_from_a_callback(make_client: Any, outstation: FakeOutstation) -> None:
    client = make_client()
    connection = client.add_connection("127.0.0.1", outstation.port, init=c104.Init.NONE)
    connection.on_state_change(lambda con, state: state is c104.ConnectionState.OPEN and client.stop())
    client.start()
    wait_until(lambda: not client.is_running and client._thread is not None and not client._thread.is_alive())
    assert connection.state is c104.ConnectionState.CLOSED


def test_stop_releases_waiting_threads(make_client: Any, outstation: FakeOutstation) -> None:
    client, connection, _ = connect(make_client, outstation, command_timeout_ms=10_000)
    outstation.silent.add(TypeId.C_CS_NA_1)
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(connection.clock_sync(CA)))
    waiter.start()
    wait_until(lambda: outstation.of_type(TypeId.C_CS_NA_1))
    client.stop()
    waiter.join(WAIT)  # WAIT is well below the 10 s command timeout
    assert not waiter.is_alive() and results == [False]


# -- faults and reconnects ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (bytes.fromhex("690407000000"), "start octet"),
        (bytes.fromhex("68040a000000"), "without ASDU"),
        (bytes.fromhex("68020100"), "length 2"),
        (bytes.fromhex("680e0a000000010103002f0065000001"), "N(S)=5"),  # out of sequence
    ],
    ids=["start-octet", "empty-i-frame", "short-apdu", "sequence"],
)
def test_hostile_peer_closes_only_that_connection(
    make_client: Any, outstation: FakeOutstation, caplog: pytest.LogCaptureFixture, garbage: bytes, reason: str
) -> None:
    client, connection, _ = connect(make_client, outstation)
    states: list[c104.ConnectionState] = []
    failures: list[c104.ConnectionFailure] = []

    def on_state(con: c104.Connection, state: c104.ConnectionState) -> None:
        states.append(state)
        if state is c104.ConnectionState.CLOSED_AWAIT_RECONNECT and con.last_failure is not None:
            failures.append(con.last_failure)

    connection.on_state_change(on_state)
    with caplog.at_level(logging.WARNING, logger="otwire.clients.iec104"):
        outstation.send_raw(garbage)
        wait_until(lambda: c104.ConnectionState.CLOSED_AWAIT_RECONNECT in states)
    assert "connection closed" in caplog.text and reason in caplog.text
    assert connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
    assert [f.reason for f in failures] == [c104.FailureReason.PROTOCOL_ERROR]
    assert outstation.connections == 2 and client._thread.is_alive()
    assert connection.interrogation(CA)


def test_reconnect_after_peer_close_and_backoff(make_client: Any, outstation: FakeOutstation) -> None:
    _client, connection, _ = connect(make_client, outstation, init=c104.Init.INTERROGATION)
    outstation.drop()
    wait_until(lambda: outstation.connections == 2 and connection.state is c104.ConnectionState.OPEN)
    wait_until(lambda: len(outstation.of_type(TypeId.C_IC_NA_1)) == 2)  # the start-up GI runs again
    assert connection.disconnected_at is not None
    delays = [connection._next_delay() for _ in range(12)]
    assert 0.017 < delays[0] <= 0.02 and delays[4] > delays[3] > delays[0] and max(delays) <= 30.0


def test_connect_failures_retry_until_the_station_is_up(make_client: Any) -> None:
    port = refused_port()
    client = make_client()
    connection = client.add_connection("127.0.0.1", port, init=c104.Init.NONE)
    states: list[c104.ConnectionState] = []
    connection.on_state_change(lambda con, state: states.append(state))
    client.start()
    wait_until(lambda: states.count(c104.ConnectionState.CLOSED_AWAIT_RECONNECT) >= 2)
    assert not connection.interrogation(CA) and not connection.mute()
    listener = socket.create_server(("127.0.0.1", port))
    try:
        wait_until(lambda: connection.state is c104.ConnectionState.OPEN_MUTED)  # TCP up, STARTDT unanswered
    finally:
        listener.close()


def test_disconnect_connect_and_reconnect_all(make_client: Any, outstation: FakeOutstation) -> None:
    client, connection, _ = connect(make_client, outstation)
    connection.disconnect()
    assert connection.state is c104.ConnectionState.CLOSED
    loop_barrier(client, 0.1)  # well past the 20 ms reconnect delay
    assert connection.state is c104.ConnectionState.CLOSED and outstation.connections == 1
    assert connection.last_failure is not None
    assert connection.last_failure.reason is c104.FailureReason.LOCAL_CLOSE
    assert not connection.clock_sync(CA)
    connection.connect()
    assert connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
    client.reconnect_all()
    wait_until(lambda: outstation.connections == 3 and connection.state is c104.ConnectionState.OPEN)
    client.disconnect_all()
    assert connection.state is c104.ConnectionState.CLOSED and not client.has_open_connections


def test_raw_callbacks_and_recording(make_client: Any, outstation: FakeOutstation, tmp_path: Path) -> None:
    from otwire.inspect.dissect import dissect

    client = make_client()
    path = tmp_path / "session.pcap"
    connection = client.add_connection("127.0.0.1", outstation.port, init=c104.Init.NONE, record=path)
    sent: list[bytes] = []
    received: list[bytes] = []
    connection.on_send_raw(lambda con, data: sent.append(data))
    connection.on_receive_raw(lambda con, data: received.append(data))
    client.start()
    assert connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
    assert connection.interrogation(CA)
    client.stop()
    assert sent[0] == bytes.fromhex("680407000000") and received[0] == bytes.fromhex("68040b000000")
    assert len(received) == len(POINTS) + 3
    rows = list(dissect(path, {outstation.port: "iec104"}))
    apdus = [r for r in rows if r.kind == "apdu"]
    assert len(apdus) == len(sent) + len(received)
    assert not [r for r in rows if r.kind in ("error", "junk", "gap")]


def test_tls(make_client: Any, tmp_path: Path) -> None:
    contexts = tls_contexts(tmp_path)
    if contexts is None:
        pytest.skip("openssl is not available")
    server_context, client_context = contexts
    outstation = FakeOutstation(tls=server_context)
    try:
        _, connection, station = connect(make_client, outstation, transport_security=client_context)
        assert connection.interrogation(CA) and station.get_point(103).value == 12.5
    finally:
        outstation.close()


# -- API checks --------------------------------------------------------------------------


def test_api_validation(make_client: Any) -> None:
    client = make_client(tick_rate_ms=50)
    assert client.tick_rate_ms == 50 and not client.has_connections
    connection = client.add_connection(ip="127.0.0.1", port=2404, init=c104.Init.ALL)
    assert client.add_connection("127.0.0.1", 2404) is None and client.has_connections
    assert client.get_connection(ip="127.0.0.1", port=2404) is connection and client.connections == [connection]
    assert client.get_connection(common_address=CA) is None
    with pytest.raises(ValueError):
        client.add_connection("127.0.0.1", 0)
    with pytest.raises(TypeError, match="SSLContext"):
        c104.Client(transport_security=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        c104.Client(command_timeout_ms=0)
    station = connection.add_station(common_address=CA)
    assert connection.add_station(CA) is None and connection.get_station(CA) is station and connection.has_stations
    with pytest.raises(ValueError):
        connection.add_station(0)
    point = station.add_point(io_address=1, type=c104.Type.C_SE_NA_1)
    assert station.add_point(1, c104.Type.M_SP_NA_1) is None and station.get_point(1) is point
    with pytest.raises(ValueError):
        station.add_point(2, TypeId.C_IC_NA_1)
    with pytest.raises(ValueError):
        station.add_point(2, TypeId.M_SP_NA_1, report_ms=1000)
    with pytest.raises(ValueError):
        point.value = 2.0  # normalized set-point: -1..1
    point.value = 0.5
    assert point.value == 0.5 and point.station is station and station.connection is connection
    monitor = station.add_point(3, TypeId.M_SP_NA_1)
    with pytest.raises(ValueError, match="command"):
        monitor.transmit()
    assert not point.transmit()  # not running: False at once
    params = connection.protocol_parameters
    params.keep_alive_interval = 5
    assert params.keep_alive_interval == 5
    with pytest.raises(ValueError):
        params.receive_window_size = 100  # w > 2k/3
    assert c104.Int16(300) == 300 and c104.Byte32(bytes.fromhex("78563412")) == 0x12345678
    with pytest.raises(ValueError):
        c104.Int7(64)


def test_monitor_prints_points(outstation: FakeOutstation, tmp_path: Path) -> None:
    out = io.StringIO()
    assert c104.monitor("127.0.0.1", outstation.port, duration=1.0, out=out, record=tmp_path / "m.pcap") == 0
    lines = out.getvalue().splitlines()
    data = [line for line in lines if not line.startswith("#")]
    assert len(data) == len(POINTS)
    assert "ca=47 ioa=103 M_ME_NC_1 value=12.5 quality=OK cot=INTERROGATED_BY_STATION" in data
    assert "ca=47 ioa=102 M_DP_NA_1 value=ON quality=IV cot=INTERROGATED_BY_STATION" in data
    assert any(line.endswith("time=2024-02-29T13:37:42.123+00:00") for line in data)
    assert (tmp_path / "m.pcap").stat().st_size > 0
    assert c104.monitor("127.0.0.1", refused_port(), duration=0.2, out=out) == 1


# -- asyncio -----------------------------------------------------------------------------


def test_async_client(outstation: FakeOutstation) -> None:
    async def main() -> None:
        client = c104.AsyncClient(command_timeout_ms=500, reconnect_delay_ms=20)
        connection = client.add_connection("127.0.0.1", outstation.port, init=c104.Init.NONE)
        station = connection.add_station(CA)
        for ioa, (type_id, _) in POINTS.items():
            station.add_point(ioa, type_id)
        command = station.add_point(300, TypeId.C_SE_NC_1, command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
        events = client.events()
        async with client:
            assert await connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
            updates = connection.updates()
            assert await connection.interrogation(CA)
            got = [await asyncio.wait_for(anext(updates), WAIT) for _ in POINTS]
            assert {u.point.io_address for u in got} == set(POINTS)
            assert {u.cot for u in got} == {Cot.INTERROGATED_BY_STATION}
            assert station.get_point(103).value == 12.5
            command.value = 42.0
            assert await command.transmit()
            assert [a.objects[0].elements[1].select for a in outstation.of_type(TypeId.C_SE_NC_1)] == [True, False]
            assert await station.get_point(103).read() and await connection.clock_sync(CA)
            assert await connection.counter_interrogation(CA) and await connection.test(CA)
            assert connection.last_request_error is None
            outstation.refuse.add(300)
            assert not await command.transmit()
            refusal = connection.last_request_error
            assert isinstance(refusal, RequestError) and refusal.code == Cot.ACTIVATION_CON
            outstation.silent.add(TypeId.C_CS_NA_1)
            assert not await connection.clock_sync(CA)
            assert isinstance(connection.last_request_error, RequestTimeout)
            outstation.drop()
            assert await connection.wait_for_state(c104.ConnectionState.CLOSED_AWAIT_RECONNECT, timeout=WAIT)
            assert await connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
            outstation.send_raw(bytes.fromhex("690407000000"))  # hostile: closes this connection only
            assert await connection.wait_for_state(c104.ConnectionState.CLOSED_AWAIT_RECONNECT, timeout=WAIT)
            assert await connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
            assert await connection.mute()
            assert await connection.wait_for_state(c104.ConnectionState.OPEN_MUTED, timeout=WAIT)
            await connection.disconnect()
            assert connection.state is c104.ConnectionState.CLOSED
        seen = [e async for e in events]  # the stream ends when the client stops
        states = [e.state for e in seen if isinstance(e, c104.StateChange)]
        assert states[:3] == [
            c104.ConnectionState.CLOSED_AWAIT_OPEN,
            c104.ConnectionState.OPEN_MUTED,
            c104.ConnectionState.OPEN,
        ]
        assert sum(isinstance(e, c104.PointUpdate) for e in seen) == len(POINTS) + 1  # GI + read
        closes = [
            e.failure for e in seen if isinstance(e, c104.StateChange) and e.state.name.startswith("CLOSED_AWAIT_R")
        ]
        assert [f.reason for f in closes if f is not None] == [
            c104.FailureReason.PEER_CLOSED,
            c104.FailureReason.PROTOCOL_ERROR,
        ]
        assert len(closes) == 2
        assert outstation.connections == 3

    asyncio.run(asyncio.wait_for(main(), 15))


def test_async_blocking_wait_is_cancellable(outstation: FakeOutstation) -> None:
    async def main() -> None:
        async with c104.AsyncClient(command_timeout_ms=10_000) as client:
            connection = client.add_connection("127.0.0.1", outstation.port, init=c104.Init.NONE)
            assert await connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
            outstation.silent.add(TypeId.C_CS_NA_1)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(connection.clock_sync(CA), 0.1)
            assert not len(connection._requests)  # the abandoned request is forgotten
            outstation.silent.clear()
            assert await connection.clock_sync(CA)

    asyncio.run(asyncio.wait_for(main(), 10))


# -- why a connection fails ----------------------------------------------------------------


def _first_failure(
    make_client: Any, port: int, init: c104.Init = c104.Init.NONE, **parameters: float
) -> tuple[c104.Client, c104.ConnectionFailure]:
    """Start a client towards ``port``; return the failure its state callback saw first."""
    client = make_client()
    connection = client.add_connection("127.0.0.1", port, init=init)
    for name, value in parameters.items():
        setattr(connection.protocol_parameters, name, value)
    seen: queue.Queue[c104.ConnectionFailure | None] = queue.Queue()

    def on_state(con: c104.Connection, state: c104.ConnectionState) -> None:
        if state is c104.ConnectionState.CLOSED_AWAIT_RECONNECT:
            seen.put(con.last_failure)

    connection.on_state_change(on_state)
    client.start()
    failure = seen.get(timeout=WAIT)
    assert failure is not None
    return client, failure


def test_failure_reason_refused(make_client: Any) -> None:
    _, failure = _first_failure(make_client, refused_port())
    assert failure.reason is c104.FailureReason.REFUSED and str(failure).startswith("refused: ")
    assert isinstance(failure.error, OTWireError | ConnectionRefusedError)


def test_failure_reason_no_startdt_con_within_t1(make_client: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts TCP, never answers STARTDT
        _, failure = _first_failure(make_client, silent.getsockname()[1], confirm_interval=0.05, message_timeout=0.1)
    assert failure.reason is c104.FailureReason.STARTDT_TIMEOUT and str(failure) == "no STARTDT_CON within t1"


def test_failure_reason_peer_closed(make_client: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(WAIT)
        client = make_client()
        connection = client.add_connection("127.0.0.1", listener.getsockname()[1], init=c104.Init.MUTED)
        client.start()
        peer, _ = listener.accept()
        assert connection.wait_for_state(c104.ConnectionState.OPEN_MUTED, timeout=WAIT)
        peer.close()  # FIN
        assert connection.wait_for_state(c104.ConnectionState.CLOSED_AWAIT_RECONNECT, timeout=WAIT)
    assert connection.last_failure is not None
    assert connection.last_failure.reason is c104.FailureReason.PEER_CLOSED


def test_failure_reason_connection_lost(make_client: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(WAIT)
        client = make_client()
        connection = client.add_connection("127.0.0.1", listener.getsockname()[1], init=c104.Init.MUTED)
        client.start()
        peer, _ = listener.accept()
        assert connection.wait_for_state(c104.ConnectionState.OPEN_MUTED, timeout=WAIT)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # RST
        assert connection.wait_for_state(c104.ConnectionState.CLOSED_AWAIT_RECONNECT, timeout=WAIT)
    failure = connection.last_failure
    assert failure is not None and failure.reason is c104.FailureReason.CONNECTION_LOST
    assert str(failure).startswith("connection lost")


def test_monitor_reports_each_failure_and_gives_up_after_retries() -> None:
    out = io.StringIO()
    port = refused_port()
    assert c104.monitor("127.0.0.1", port, out=out, retries=1, retry_delay=0.01) == 1
    lines = [line for line in out.getvalue().splitlines() if "CLOSED_AWAIT_RECONNECT" in line]
    assert len(lines) == 2  # the first attempt and one retry
    assert all(line.startswith(f"# 127.0.0.1:{port} CLOSED_AWAIT_RECONNECT (refused: ") for line in lines)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"retries": -1}, InvalidArgument),
        ({"retries": 1.5}, InvalidArgumentType),
        ({"retry_delay": 0}, InvalidArgument),
        ({"duration": "x"}, InvalidArgument),
        ({"record": "/nonexistent-dir/x.pcap"}, InvalidArgument),
    ],
)
def test_monitor_argument_checks(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        c104.monitor("127.0.0.1", refused_port(), out=io.StringIO(), **{"duration": 0.0, **kwargs})


_MONITOR = (
    "import sys; from otwire.clients.iec104 import monitor; "
    "sys.exit(monitor('127.0.0.1', int(sys.argv[1]), record=sys.argv[2]))"
)


def test_monitor_stops_on_sigterm_with_a_complete_recording(outstation: FakeOutstation, tmp_path: Path) -> None:
    from otwire.inspect.dissect import dissect

    path = tmp_path / "sigterm.pcap"
    command = [sys.executable, "-c", _MONITOR, str(outstation.port), str(path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True)
    reader.start()
    try:
        data = 0
        while data < len(POINTS):  # every answer to the general interrogation was printed
            data += not lines.get(timeout=3 * WAIT).startswith("#")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=3 * WAIT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    rows = list(dissect(path, {outstation.port: "iec104"}))
    assert not [r for r in rows if r.kind in ("error", "junk", "gap")]
    assert len([r for r in rows if r.kind == "apdu"]) >= len(POINTS) + 4  # STARTDT act/con, GI, data, ...


def test_monitor_ends_quietly_when_its_pipe_closes(outstation: FakeOutstation) -> None:
    """``otwire client iec104 ... | head``: exit status 0, nothing on stderr (no traceback per callback)."""
    command = [sys.executable, "-m", "otwire", "client", "iec104", "127.0.0.1", "--port", str(outstation.port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        data = 0
        while data < len(POINTS):  # every answer to the general interrogation was printed
            line = proc.stdout.readline()
            assert line, "monitor ended early"
            data += not line.startswith(b"#")
        proc.stdout.close()  # what head does once it has its lines
        outstation.send(ASDU(type_id=TypeId.M_SP_NA_1, cot=Cot.SPONTANEOUS, common_address=CA,
                             objects=(InformationObject(101, (SIQ(spi=False),)),)))  # fmt: skip
        _, err = proc.communicate(timeout=3 * WAIT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert err == b""


# -- one error tree ------------------------------------------------------------------------


def _misuse(make_client: Any) -> dict[str, tuple[Callable[[], object], type[Exception]]]:
    client = make_client()
    connection = client.add_connection("127.0.0.1", 2404, init=c104.Init.NONE)
    station = connection.add_station(CA)
    command = station.add_point(1, TypeId.C_SC_NA_1)
    measured = station.add_point(2, TypeId.M_SP_NA_1)
    setpoint = station.add_point(3, TypeId.C_SE_NC_1)
    params = connection.protocol_parameters
    return {
        "timeout type": (lambda: c104.Client(command_timeout_ms=None), InvalidArgument),  # type: ignore[arg-type]
        "ssl type": (lambda: c104.Client(transport_security=1), InvalidArgumentType),  # type: ignore[arg-type]
        "ip": (lambda: client.add_connection(""), InvalidArgument),
        "init": (lambda: client.add_connection("h", 1, init=99), InvalidArgument),  # type: ignore[arg-type]
        "record": (lambda: client.add_connection("h", 2, record="/nonexistent-dir/x.pcap"), InvalidArgument),
        "get_connection": (lambda: client.get_connection(ip=[]), InvalidArgumentType),  # type: ignore[arg-type]
        "on_new_point": (lambda: client.on_new_point(5), InvalidArgumentType),  # type: ignore[arg-type]
        "client oa": (lambda: setattr(client, "originator_address", 300), InvalidArgument),
        "add_station": (lambda: connection.add_station("x"), InvalidArgument),  # type: ignore[arg-type]
        "get_station": (lambda: connection.get_station([]), InvalidArgumentType),  # type: ignore[arg-type]
        "on_state_change": (lambda: connection.on_state_change(None), InvalidArgumentType),  # type: ignore[arg-type]
        "cause": (lambda: connection.interrogation(CA, cause=[]), InvalidArgument),  # type: ignore[arg-type]
        "qualifier": (lambda: connection.interrogation(CA, qualifier="x"), InvalidArgument),  # type: ignore[arg-type]
        "freeze": (lambda: connection.counter_interrogation(CA, freeze="x"), InvalidArgument),  # type: ignore[arg-type]
        "ca": (lambda: connection.clock_sync(-1), InvalidArgument),
        "wait timeout": (lambda: connection.wait_for_state(timeout="x"), InvalidArgumentType),  # type: ignore[arg-type]
        "parameter": (lambda: setattr(params, "send_window_size", "x"), InvalidArgument),
        "ioa": (lambda: station.add_point("x", TypeId.M_SP_NA_1), InvalidArgument),  # type: ignore[arg-type]
        "type": (lambda: station.add_point(4, []), InvalidArgument),  # type: ignore[arg-type]
        "command_mode": (lambda: station.add_point(4, TypeId.C_SC_NA_1, command_mode=9), InvalidArgument),  # type: ignore[arg-type]
        "get_point": (lambda: station.get_point([]), InvalidArgumentType),  # type: ignore[arg-type]
        "value": (lambda: setattr(setpoint, "value", None), InvalidArgument),
        "quality": (lambda: setattr(measured, "quality", 2), InvalidArgument),
        "info": (lambda: setattr(command, "info", 5), InvalidArgumentType),
        "on_receive": (lambda: command.on_receive(None), InvalidArgumentType),  # type: ignore[arg-type]
        "not a command": (lambda: measured.transmit(), InvalidArgument),
        "Int16": (lambda: c104.Int16("x"), InvalidArgument),  # type: ignore[arg-type]
        "NormalizedFloat": (lambda: c104.NormalizedFloat("x"), InvalidArgument),  # type: ignore[arg-type]
        "DoubleCmd": (lambda: c104.DoubleCmd(9), InvalidArgument),
        "SingleCmd": (lambda: c104.SingleCmd(True, qualifier=99), InvalidArgument),  # type: ignore[arg-type]
        "ShortCmd": (lambda: c104.ShortCmd("x"), InvalidArgument),  # type: ignore[arg-type]
        "IncomingMessage": (lambda: c104.IncomingMessage(None), InvalidArgumentType),  # type: ignore[arg-type]
    }


def test_misuse_raises_only_from_the_error_tree(make_client: Any) -> None:
    cases = _misuse(make_client)
    for name, (call, error) in cases.items():
        with pytest.raises(OTWireError) as info:
            call()
        assert isinstance(info.value, error), (name, info.value)
        # c104 raised ValueError/TypeError: code catching those keeps working
        assert isinstance(info.value, ValueError | TypeError | InvalidState), name


def test_wait_for_state_from_a_callback_is_invalid_state(make_client: Any, outstation: FakeOutstation) -> None:
    client = make_client()
    connection = client.add_connection("127.0.0.1", outstation.port, init=c104.Init.NONE)
    raised: queue.Queue[BaseException] = queue.Queue()

    def on_state(con: c104.Connection, state: c104.ConnectionState) -> None:
        if state is c104.ConnectionState.OPEN:
            try:
                con.wait_for_state(c104.ConnectionState.OPEN, timeout=0)
            except Exception as exc:
                raised.put(exc)

    connection.on_state_change(on_state)
    client.start()
    assert isinstance(raised.get(timeout=WAIT), InvalidState)


def test_async_add_connection_off_the_loop_is_invalid_state() -> None:
    client = c104.AsyncClient()
    asyncio.run(client.start())  # runs, on a loop that is gone now
    with pytest.raises(InvalidState):
        client.add_connection("127.0.0.1", 2404)


# -- asyncio back-pressure -----------------------------------------------------------------


def test_async_updates_hold_the_station_back_instead_of_dropping(outstation: FakeOutstation) -> None:
    count = 60
    values = [bool(i % 3) for i in range(count)]

    async def main() -> None:
        client = c104.AsyncClient(command_timeout_ms=1000, reconnect_delay_ms=20)
        connection = client.add_connection("127.0.0.1", outstation.port, init=c104.Init.NONE)
        connection.add_station(CA).add_point(101, TypeId.M_SP_NA_1)
        async with client:
            assert await connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
            updates = client.updates(maxsize=4)
            for value in values:
                outstation.send(
                    ASDU(type_id=TypeId.M_SP_NA_1, cot=Cot.SPONTANEOUS, common_address=CA,
                         objects=(InformationObject(101, (SIQ(spi=value),)),))
                )  # fmt: skip
            await async_wait_until(lambda: connection.reading_paused)  # the full stream stopped the reading
            got = [(await asyncio.wait_for(anext(updates), WAIT)).info.value for _ in values]
            assert got == values and updates.dropped == 0
            assert not connection.reading_paused
            assert connection.state is c104.ConnectionState.OPEN

    asyncio.run(asyncio.wait_for(main(), 15))


# -- the no-I/O request core, on two engines and a fake clock ------------------------------


class _Handle:
    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def _core() -> tuple[Pair, RequestRunner, list[_Handle], ReplyMatcher[int, Any]]:
    """A started controlling/controlled engine pair and a runner over the controlling end."""
    pair = Pair(IEC104Connection(Role.CONTROLLING, now=0.0), IEC104Connection(Role.CONTROLLED, now=0.0))
    pair.client.start_data_transfer(pair.now)
    pair.pump()
    pair.events()
    timers: list[_Handle] = []

    def call_later(delay: float, callback: Callable[[], None]) -> _Handle:
        timers.append(_Handle(callback))
        return timers[-1]

    replies: ReplyMatcher[int, Any] = ReplyMatcher()
    runner = RequestRunner(replies, lambda asdu: pair.client.send(asdu, pair.now), call_later, lambda: "core")
    runner.engine = pair.client
    return pair, runner, timers, replies


def _deliver(pair: Pair, runner: RequestRunner) -> list[ASDU]:
    """Move the octets, hand the controlling end's events to the runner; return what the station got."""
    pair.pump()
    for event in drain(pair.client):
        runner.dispatch(event)
    pair.pump()  # what the runner sent in reply (an execute after its select)
    return [e.asdu for e in drain(pair.server) if isinstance(e, ASDUReceived)]


_COMMAND = ASDU(type_id=TypeId.C_SC_NA_1, cot=Cot.ACTIVATION, common_address=CA,
                objects=(InformationObject(5001, (SCO(scs=True),)),))  # fmt: skip


@pytest.mark.parametrize(
    ("cot", "negative"), [(Cot.ACTIVATION_CON, True), (Cot.UNKNOWN_IOA, True), (Cot.UNKNOWN_CA, False)]
)
def test_core_refusal_is_a_request_error_with_the_cot(cot: Cot, negative: bool) -> None:
    pair, runner, _, _ = _core()
    results: list[BaseException | None] = []
    runner.begin(Operation([_COMMAND], until_term=False, timeout=1.0, on_done=results.append), ready=True)
    (request,) = _deliver(pair, runner)
    pair.server.send(dataclasses.replace(request, cot=cot, negative=negative), pair.now)
    _deliver(pair, runner)
    (error,) = results
    assert isinstance(error, RequestError) and not isinstance(error, RequestTimeout)
    assert error.code == cot and error.request is _COMMAND
    assert isinstance(error.reply, ASDU) and error.reply.cot == cot
    assert len(runner) == 0 and len(pair.client.activations) == 0  # no second table, nothing left


def test_core_timeout_is_request_timeout_and_the_engine_forgets_the_activation() -> None:
    pair, runner, timers, _ = _core()
    results: list[BaseException | None] = []
    runner.begin(Operation([_COMMAND], until_term=False, timeout=1.0, on_done=results.append), ready=True)
    _deliver(pair, runner)
    assert len(pair.client.activations) == 1
    (timer,) = timers
    timer.callback()  # the client's command timeout
    assert isinstance(results[0], RequestTimeout) and results[0].request is _COMMAND
    assert len(runner) == 0 and len(pair.client.activations) == 0


def test_core_select_then_execute_and_not_ready() -> None:
    pair, runner, timers, _ = _core()
    select = dataclasses.replace(_COMMAND, objects=(InformationObject(5001, (SCO(scs=True, select=True),)),))
    results: list[BaseException | None] = []
    runner.begin(Operation([select, _COMMAND], until_term=False, timeout=1.0, on_done=results.append), ready=True)
    (got,) = _deliver(pair, runner)
    assert got.objects[0].elements[0].select
    pair.server.send(dataclasses.replace(got, cot=Cot.ACTIVATION_CON), pair.now)
    (execute,) = _deliver(pair, runner)  # the execute goes out only after the select's confirmation
    assert not execute.objects[0].elements[0].select and results == []
    pair.server.send(dataclasses.replace(execute, cot=Cot.ACTIVATION_CON), pair.now)
    _deliver(pair, runner)
    assert results == [None] and timers[0].cancelled
    runner.begin(Operation([_COMMAND], until_term=False, timeout=1.0, on_done=results.append), ready=False)
    assert isinstance(results[-1], InvalidState)


def test_core_interrogation_con_and_term_in_one_segment_on_asyncio() -> None:
    """ACT_CON and ACT_TERM dispatched back to back: asyncio callbacks run later, nothing is lost."""

    async def main() -> None:
        pair, _, _, _ = _core()
        runner = RequestRunner(
            AsyncReplyMatcher(), lambda asdu: pair.client.send(asdu, pair.now), asyncio.get_running_loop().call_later,
            lambda: "core",
        )  # fmt: skip
        runner.engine = pair.client
        done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        gi = ASDU(type_id=TypeId.C_IC_NA_1, cot=Cot.ACTIVATION, common_address=CA,
                  objects=(InformationObject(0, (QOI(value=20),)),))  # fmt: skip
        runner.begin(Operation([gi], until_term=True, timeout=5.0, on_done=done.set_result), ready=True)
        (request,) = _deliver(pair, runner)
        pair.server.send(dataclasses.replace(request, cot=Cot.ACTIVATION_CON), pair.now)
        pair.server.send(dataclasses.replace(request, cot=Cot.ACTIVATION_TERMINATION), pair.now)
        _deliver(pair, runner)  # both dispatched before any callback ran
        assert await asyncio.wait_for(done, WAIT) is None
        assert len(runner) == 0 and len(pair.client.activations) == 0

    asyncio.run(main())
