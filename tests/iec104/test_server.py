"""The IEC 104 outstation simulator driven by otwire's own controlling-station engine.

Every test runs a real server on 127.0.0.1 (port 0) and talks to it over a loopback
socket through :class:`IEC104Connection`; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import wait_until
from otwire.codecs.iec104 import (
    ASDU,
    BCR,
    QCC,
    QOI,
    QPA,
    QRP,
    SCO,
    SIQ,
    TSC,
    Cot,
    CP56Time2a,
    DoubleCommandState,
    DoublePoint,
    InformationObject,
    Quality,
    StepCommandState,
    TypeId,
    UFrame,
    UFunction,
    encode_asdu,
)
from otwire.codecs.iec104.asdu import MAX_ASDU_LENGTH
from otwire.codecs.iec104.values import PointInfo, elements_from_info, info_from_elements
from otwire.errors import EncodeError, InvalidArgument, InvalidArgumentType, LocalProtocolError, RequestTimeout
from otwire.inspect.dissect import dissect
from otwire.protocols import Event
from otwire.protocols.iec104 import DataTransferStarted, IEC104Config, IEC104Connection, Role, TestFrameConfirmed
from otwire.servers._serving import run_in_loop
from otwire.servers.iec104 import (
    AsyncServer,
    Batch,
    CommandMode,
    IncomingMessage,
    Point,
    ResponseState,
    Server,
    populate,
    serve,
)
from otwire.servers.limits import ServerLimits

T = TypeId
CA = 7
TIMEOUT = 5.0
NOW = dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.UTC)

# ---------------------------------------------------------------------------------------
# a small blocking client: socket + otwire's controlling-station engine


class Client:
    """One controlling station over a loopback socket; collects every ASDU received."""

    def __init__(self, port: int, *, start: bool = True, config: IEC104Config | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.settimeout(0.02)
        self.conn = IEC104Connection(role=Role.CONTROLLING, config=config, now=time.monotonic())
        self.asdus: list[ASDU] = []
        self.events: list[Event] = []
        self.eof = False
        self._read = 0  # asdus[:_read] were returned by collect()
        if start:
            self.conn.start_data_transfer(time.monotonic())
            self._flush()
            self.wait_event(DataTransferStarted)

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, timeout: float = 0.02) -> None:
        """Read once (at most ``timeout`` s), feed the engine, answer, keep the ASDUs."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            data = None
        except OSError:
            data = b""
        if data is not None and not self.conn.is_closed:
            self.eof = self.eof or not data
            self.conn.receive_data(data, time.monotonic())
        if not self.conn.is_closed:
            self.conn.handle_timer(time.monotonic()) if self._timer_due() else None
            self._flush()
        while (event := self.conn.next_event()) is not None:
            self.events.append(event)
            asdu = getattr(event, "asdu", None)
            if isinstance(asdu, ASDU):
                self.asdus.append(asdu)

    def _timer_due(self) -> bool:
        when = self.conn.get_timer()
        return when is not None and when <= time.monotonic()

    def wait_event(self, kind: type[Event], timeout: float = TIMEOUT) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if isinstance(event, kind):
                    return event
            assert time.monotonic() < deadline, f"no {kind.__name__} within {timeout} s: {self.events}"
            self.pump()

    def send(self, asdu: ASDU) -> None:
        self.conn.send(asdu, time.monotonic())
        self._flush()

    def collect(self, until: Callable[[ASDU], bool], timeout: float = TIMEOUT) -> list[ASDU]:
        """Return the ASDUs received since the last call, up to the first matching ``until``."""
        deadline, scanned = time.monotonic() + timeout, self._read
        while True:
            for i in range(scanned, len(self.asdus)):
                if until(self.asdus[i]):
                    got, self._read = self.asdus[self._read : i + 1], i + 1
                    return got
            scanned = len(self.asdus)
            assert time.monotonic() < deadline, f"timed out; got {self.asdus[self._read :]}"
            self.pump()

    def request(self, asdu: ASDU, until: Callable[[ASDU], bool], timeout: float = TIMEOUT) -> list[ASDU]:
        self.send(asdu)
        return self.collect(until, timeout)

    def barrier(self) -> list[ASDU]:
        """Send TESTFR act, wait for its con; return the ASDUs not yet read that came with or before it.

        The server answers in order, so what it would have sent before the con is there.
        """
        confirmed = sum(isinstance(e, TestFrameConfirmed) for e in self.events)
        self.conn.send(UFrame(UFunction.TESTFR_ACT), time.monotonic())
        self._flush()
        self.pump_until(lambda: sum(isinstance(e, TestFrameConfirmed) for e in self.events) > confirmed, "TESTFR con")
        got, self._read = self.asdus[self._read :], len(self.asdus)
        return got

    def pump_until(self, condition: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
        """Keep pumping (answering the server) until ``condition()`` holds; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
            self.pump()

    def wait_closed(self, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.eof:
            assert time.monotonic() < deadline, "the server did not close the connection"
            self.pump()

    def close(self) -> None:
        self.sock.close()


def cot_is(cot: Cot, type_id: int | None = None) -> Callable[[ASDU], bool]:
    return lambda a: a.cot == cot and (type_id is None or a.type_id == type_id)


def request(type_id: TypeId | int, cot: Cot | int, ioa: int, *elements: object, ca: int = CA, **kw: object) -> ASDU:
    return ASDU(type_id=type_id, cot=cot, common_address=ca, objects=(InformationObject(ioa, elements),), **kw)  # type: ignore[arg-type]


def command(
    type_id: TypeId, ioa: int, value: object, *, select: bool = False, ca: int = CA, cot: Cot = Cot.ACTIVATION
) -> ASDU:
    when = NOW if type_id in {T.C_SC_TA_1, T.C_SE_TC_1} else None
    elements = elements_from_info(type_id, value, select=select, recorded_at=when)
    return ASDU(type_id=type_id, cot=cot, common_address=ca, objects=(InformationObject(ioa, elements),))


def gi(ca: int = CA, qoi: int = 20) -> ASDU:
    return request(T.C_IC_NA_1, Cot.ACTIVATION, 0, QOI(value=qoi), ca=ca)


def values(asdus: list[ASDU]) -> dict[int, PointInfo]:
    return {o.ioa: info_from_elements(a.type_id, o.elements) for a in asdus for o in a.objects}


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(port=0, tick_rate_ms=20, select_timeout_ms=600, end_of_init=False)
    yield srv
    srv.stop()
    assert not srv.is_running


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


# -- point values used by several tests: (IOA, type, value, quality)
MONITOR = (
    (1, T.M_SP_NA_1, True, Quality.IV),
    (2, T.M_DP_NA_1, DoublePoint.ON, Quality(0)),
    (3, T.M_ST_NA_1, -5, Quality.SB),
    (4, T.M_BO_NA_1, 0x12345678, Quality(0)),
    (5, T.M_ME_NA_1, 0.5, Quality.OV),
    (6, T.M_ME_NB_1, -1234, Quality(0)),
    (7, T.M_ME_NC_1, 12.5, Quality.NT),
    (8, T.M_SP_TB_1, False, Quality.BL),
    (9, T.M_ME_TF_1, -0.125, Quality(0)),
    (10, T.M_ME_ND_1, 0.25, Quality(0)),
    (11, T.M_PS_NA_1, 0b1010, Quality(0)),
)


def add_monitor(server: Server) -> dict[int, Point]:
    station = server.get_station(CA) or server.add_station(CA)
    points = {}
    for ioa, type_id, value, quality in MONITOR:
        point = station.add_point(ioa, type_id)
        point.info = PointInfo(value=value, quality=quality, recorded_at=NOW)
        points[ioa] = point
    points[20] = station.add_point(20, T.M_IT_NA_1)
    points[20].value = 1000
    points[21] = station.add_point(21, T.M_IT_TB_1, counter_group=2)
    points[21].value = -7
    points[30] = station.add_point(30, T.M_EP_TD_1)
    return points


def started(server: Server, clients: list[Client], count: int = 1, **kw: object) -> list[Client]:
    if not server.is_running:
        server.start()
    new = [Client(server.port, **kw) for _ in range(count)]  # type: ignore[arg-type]
    clients.extend(new)
    return new


# ---------------------------------------------------------------------------------------
# interrogation, read, clock, test


def test_general_interrogation_reports_every_monitor_point(server: Server, clients: list[Client]) -> None:
    points = add_monitor(server)
    server.get_station(CA).add_point(100, T.C_SC_NA_1)  # type: ignore[union-attr]
    (client,) = started(server, clients)
    replies = client.request(gi(), cot_is(Cot.ACTIVATION_TERMINATION))
    assert replies[0].cot == Cot.ACTIVATION_CON and not replies[0].negative
    assert replies[-1].type_id == T.C_IC_NA_1
    data = replies[1:-1]
    assert {a.cot for a in data} == {Cot.INTERROGATED_BY_STATION}
    assert not any(a.sq for a in data)
    assert all(len({o.ioa for o in a.objects}) == len(a.objects) for a in data)
    got = values(data)
    assert set(got) == {ioa for ioa, *_ in MONITOR}  # no counters, events or commands
    for ioa, type_id, value, quality in MONITOR:
        assert got[ioa].value == pytest.approx(value), type_id
        assert got[ioa].quality == (quality if type_id not in {T.M_ME_ND_1, T.M_PS_NA_1} else 0)
    assert got[8].recorded_at == NOW and got[9].recorded_at == NOW
    assert points[1].value is True


def test_interrogation_packs_asdus_within_249_octets(server: Server, clients: list[Client]) -> None:
    station = server.add_station(CA)
    for ioa in range(1, 301):
        station.add_point(ioa, T.M_SP_NA_1).value = ioa % 2 == 0
    for ioa in range(1001, 1101):
        station.add_point(ioa, T.M_ME_TF_1).value = float(ioa)
    (client,) = started(server, clients)
    data = client.request(gi(), cot_is(Cot.ACTIVATION_TERMINATION))[1:-1]
    assert all(len(encode_asdu(a)) <= MAX_ASDU_LENGTH for a in data)
    assert [len(a.objects) for a in data if a.type_id == T.M_SP_NA_1] == [60, 60, 60, 60, 60]
    assert sum(len(a.objects) for a in data if a.type_id == T.M_ME_TF_1) == 100
    assert len(values(data)) == 400


def test_global_and_group_interrogation(server: Server, clients: list[Client]) -> None:
    for ca in (1, 2):
        station = server.add_station(ca)
        station.add_point(10, T.M_SP_NA_1, interrogation_group=1)
        station.add_point(11, T.M_SP_NA_1, interrogation_group=2)
    (client,) = started(server, clients)
    replies = client.request(gi(ca=0xFFFF), lambda a: a.cot == Cot.ACTIVATION_TERMINATION and a.common_address == 2)
    assert [(a.common_address, a.cot) for a in replies if a.type_id == T.C_IC_NA_1] == [
        (1, Cot.ACTIVATION_CON),
        (1, Cot.ACTIVATION_TERMINATION),
        (2, Cot.ACTIVATION_CON),
        (2, Cot.ACTIVATION_TERMINATION),
    ]
    assert len(values([a for a in replies if a.common_address == 2 and a.type_id == T.M_SP_NA_1])) == 2
    group = client.request(gi(ca=1, qoi=22), cot_is(Cot.ACTIVATION_TERMINATION))
    assert [(a.cot, [o.ioa for o in a.objects]) for a in group[1:-1]] == [(Cot.INTERROGATED_BY_GROUP_2, [11])]
    refused = client.request(gi(ca=1, qoi=5), cot_is(Cot.ACTIVATION_CON))
    assert refused[-1].negative


def test_counter_interrogation_reports_and_resets_integrated_totals(server: Server, clients: list[Client]) -> None:
    points = add_monitor(server)
    (client,) = started(server, clients)
    qcc = request(T.C_CI_NA_1, Cot.ACTIVATION, 0, QCC(rqt=5, frz=0))
    replies = client.request(qcc, cot_is(Cot.ACTIVATION_TERMINATION))
    assert replies[0].cot == Cot.ACTIVATION_CON and not replies[0].negative
    assert {a.cot for a in replies[1:-1]} == {Cot.REQUESTED_BY_GENERAL_COUNTER}
    assert {ioa: info.value for ioa, info in values(replies[1:-1]).items()} == {20: 1000, 21: -7}
    group2 = client.request(
        request(T.C_CI_NA_1, Cot.ACTIVATION, 0, QCC(rqt=2, frz=2)), cot_is(Cot.ACTIVATION_TERMINATION)
    )
    assert [(a.cot, set(values([a]))) for a in group2[1:-1]] == [(Cot.REQUESTED_BY_GROUP_2_COUNTER, {21})]
    assert points[21].value == 0 and points[20].value == 1000
    assert isinstance(group2[1].objects[0].elements[0], BCR)


def test_read_answers_with_cot_request_or_unknown_ioa(server: Server, clients: list[Client]) -> None:
    points = add_monitor(server)
    read_before: list[int] = []
    points[7].on_before_read(lambda p: read_before.append(p.io_address))
    (client,) = started(server, clients)
    reply = client.request(request(T.C_RD_NA_1, Cot.REQUEST, 7), lambda a: a.type_id == T.M_ME_NC_1)
    assert reply[-1].cot == Cot.REQUEST and values(reply)[7].value == 12.5
    assert read_before == [7]
    unknown = client.request(request(T.C_RD_NA_1, Cot.REQUEST, 999), lambda a: a.type_id == T.C_RD_NA_1)
    assert (unknown[-1].cot, unknown[-1].negative) == (Cot.UNKNOWN_IOA, True)


def test_clock_sync_calls_back_and_confirms(server: Server, clients: list[Client]) -> None:
    server.add_station(CA)
    seen: list[tuple[str, dt.datetime]] = []

    def on_clock_sync(srv: object, ip: str, date_time: dt.datetime) -> ResponseState:
        seen.append((ip, date_time))
        return ResponseState.SUCCESS if len(seen) == 1 else ResponseState.FAILURE

    server.on_clock_sync(on_clock_sync)
    (client,) = started(server, clients)
    sync = request(T.C_CS_NA_1, Cot.ACTIVATION, 0, CP56Time2a.from_datetime(NOW))
    reply = client.request(sync, cot_is(Cot.ACTIVATION_CON))[-1]
    assert not reply.negative and reply.objects == sync.objects
    assert seen == [("127.0.0.1", NOW)]
    assert client.request(sync, cot_is(Cot.ACTIVATION_CON))[-1].negative


def test_test_command_and_reset_process_are_confirmed(server: Server, clients: list[Client]) -> None:
    server.add_station(CA)
    (client,) = started(server, clients)
    test = request(T.C_TS_TA_1, Cot.ACTIVATION, 0, TSC(value=0x1234), CP56Time2a.from_datetime(NOW), test=True)
    reply = client.request(test, cot_is(Cot.ACTIVATION_CON))[-1]
    assert reply.objects == test.objects and reply.test and not reply.negative
    for qrp, negative in ((1, False), (2, False), (9, True)):
        reset = request(T.C_RP_NA_1, Cot.ACTIVATION, 0, QRP(value=qrp))
        assert client.request(reset, cot_is(Cot.ACTIVATION_CON))[-1].negative is negative


@pytest.mark.parametrize(
    ("asdu", "cot"),
    [
        pytest.param(ASDU(type_id=200, cot=Cot.ACTIVATION, common_address=CA, raw_information=b"\x01\x00\x00\x05"),
                     Cot.UNKNOWN_TYPE_ID, id="private type"),
        pytest.param(request(T.P_AC_NA_1, Cot.ACTIVATION, 5, QPA(value=3)), Cot.UNKNOWN_TYPE_ID, id="parameter"),
        pytest.param(request(T.M_SP_NA_1, Cot.SPONTANEOUS, 5, SIQ(spi=True)), Cot.UNKNOWN_TYPE_ID, id="monitor type"),
        pytest.param(command(T.C_SC_NA_1, 100, True, cot=Cot.SPONTANEOUS), Cot.UNKNOWN_COT, id="command COT 3"),
        pytest.param(request(T.C_RD_NA_1, Cot.ACTIVATION, 1), Cot.UNKNOWN_COT, id="read COT 6"),
        pytest.param(gi(ca=99), Cot.UNKNOWN_CA, id="interrogation CA 99"),
        pytest.param(command(T.C_SC_NA_1, 100, True, ca=0xFFFF), Cot.UNKNOWN_CA, id="command to global CA"),
        pytest.param(command(T.C_SC_NA_1, 4242, True), Cot.UNKNOWN_IOA, id="command IOA 4242"),
    ],
)  # fmt: skip
def test_unknown_requests_are_mirrored_negatively(server: Server, clients: list[Client], asdu: ASDU, cot: Cot) -> None:
    server.add_station(CA).add_point(100, T.C_SC_NA_1)
    (client,) = started(server, clients)
    reply = client.request(asdu, lambda a: a.type_id == asdu.type_id)[-1]
    assert (reply.cot, reply.negative, reply.common_address) == (cot, True, asdu.common_address)


# ---------------------------------------------------------------------------------------
# commands


def test_commands_reach_the_callback_and_are_accepted_or_refused(server: Server, clients: list[Client]) -> None:
    station = server.add_station(CA)
    seen: list[tuple[int, object, object, bool]] = []

    def on_receive(point: Point, previous_info: PointInfo, message: IncomingMessage) -> ResponseState:
        seen.append((point.io_address, message.info.value, point.value, message.is_select_command))
        if message.info.value == 0.75:
            raise RuntimeError("a broken callback refuses")
        return ResponseState.FAILURE if point.io_address == 202 else ResponseState.SUCCESS

    cases = [
        (200, T.C_SC_NA_1, T.C_SC_NA_1, True),
        (201, T.C_DC_NA_1, T.C_DC_NA_1, DoubleCommandState.ON),
        (202, T.C_RC_NA_1, T.C_RC_NA_1, StepCommandState.HIGHER),  # refused
        (203, T.C_SE_NA_1, T.C_SE_NA_1, 0.5),
        (204, T.C_SE_NB_1, T.C_SE_NB_1, -300),
        (205, T.C_SE_NC_1, T.C_SE_TC_1, 42.5),  # time-tagged variant on the same point
        (206, T.C_BO_NA_1, T.C_BO_NA_1, 0xA5A5A5A5),
        (207, T.C_SC_TA_1, T.C_SC_TA_1, True),
    ]
    for ioa, point_type, _, _ in cases:
        station.add_point(ioa, point_type).on_receive(on_receive)
    (client,) = started(server, clients)
    for ioa, _, wire_type, value in cases:
        reply = client.request(command(wire_type, ioa, value), cot_is(Cot.ACTIVATION_CON))[-1]
        assert reply.negative == (ioa == 202), ioa
        assert reply.type_id == wire_type and reply.objects[0].ioa == ioa
        expected = value if ioa != 202 else StepCommandState.LOWER  # refused: the old value is restored
        assert station.get_point(ioa).value == pytest.approx(expected)  # type: ignore[union-attr]
    assert [(ioa, value) for ioa, value, _, _ in seen] == [(ioa, pytest.approx(v)) for ioa, _, _, v in cases]
    assert all(new == pytest.approx(value) for _, value, new, _ in seen)  # value already set during the callback
    refused = client.request(command(T.C_SE_NA_1, 203, 0.75), cot_is(Cot.ACTIVATION_CON))[-1]
    assert refused.negative and station.get_point(203).value == 0.5  # type: ignore[union-attr]
    mismatch = client.request(command(T.C_DC_NA_1, 200, DoubleCommandState.ON), cot_is(Cot.ACTIVATION_CON))[-1]
    assert mismatch.negative
    assert not any(a.cot == Cot.ACTIVATION_TERMINATION for a in client.asdus)  # direct mode: no ACT_TERM


def test_client_and_server_share_response_state_and_command_mode() -> None:
    from otwire.clients import iec104 as client_pkg
    from otwire.codecs.iec104 import values
    from otwire.servers import iec104 as server_pkg

    assert client_pkg.ResponseState is server_pkg.ResponseState is values.ResponseState
    assert client_pkg.CommandMode is server_pkg.CommandMode is values.CommandMode
    assert [(m.name, int(m)) for m in ResponseState] == [("FAILURE", 0), ("SUCCESS", 1), ("NONE", 2)]
    assert [(m.name, int(m)) for m in CommandMode] == [("DIRECT", 0), ("SELECT_AND_EXECUTE", 1)]


@pytest.mark.parametrize(
    ("answer", "negative"),
    [
        pytest.param("client SUCCESS", False, id="client-success"),
        pytest.param("client FAILURE", True, id="client-failure"),
        pytest.param("server SUCCESS", False, id="server-success"),
        pytest.param(True, False, id="bool-true"),
        pytest.param(False, True, id="bool-false"),
    ],
)
def test_a_callback_may_return_either_package_response_state_or_a_bool(
    server: Server, clients: list[Client], answer: object, negative: bool
) -> None:
    from otwire.clients import iec104 as client_pkg

    if isinstance(answer, str):
        side, name = answer.split()
        enum_ = client_pkg.ResponseState if side == "client" else ResponseState
        answer = enum_[name]
    point = server.add_station(CA).add_point(210, T.C_SC_NA_1)
    point.on_receive(lambda p, prev, msg: answer)  # type: ignore[arg-type,return-value]
    (client,) = started(server, clients)
    reply = client.request(command(T.C_SC_NA_1, 210, True), cot_is(Cot.ACTIVATION_CON))[-1]
    assert reply.negative is negative


def test_select_before_execute(server: Server, clients: list[Client]) -> None:
    station = server.add_station(CA)
    point = station.add_point(300, T.C_DC_NA_1, command_mode=CommandMode.SELECT_AND_EXECUTE)
    station.add_point(301, T.C_SC_NA_1)  # direct mode
    selects: list[bool] = []
    point.on_receive(lambda p, prev, msg: selects.append(msg.is_select_command) or ResponseState.SUCCESS)
    (client, other) = started(server, clients, 2)
    on, off = DoubleCommandState.ON, DoubleCommandState.OFF

    def confirm(c: Client, asdu: ASDU) -> ASDU:
        return c.request(asdu, cot_is(Cot.ACTIVATION_CON))[-1]

    assert not confirm(client, command(T.C_DC_NA_1, 300, on, select=True)).negative
    assert point.selected_by == 0 and point.value == DoubleCommandState.OFF  # a select does not operate
    assert confirm(other, command(T.C_DC_NA_1, 300, on)).negative  # selected by another client
    assert confirm(other, command(T.C_DC_NA_1, 300, on, select=True)).negative
    assert not confirm(client, command(T.C_DC_NA_1, 300, on, select=True)).negative
    done = client.request(command(T.C_DC_NA_1, 300, on), cot_is(Cot.ACTIVATION_TERMINATION))
    assert [(a.cot, a.negative) for a in done] == [(Cot.ACTIVATION_CON, False), (Cot.ACTIVATION_TERMINATION, False)]
    assert point.value == on and point.selected_by is None
    assert confirm(client, command(T.C_DC_NA_1, 300, off)).negative  # execute without select
    assert not confirm(client, command(T.C_DC_NA_1, 300, off, select=True)).negative
    wait_until(lambda: point.selected_by is None, what="the select expired")  # select_timeout_ms=600
    assert confirm(client, command(T.C_DC_NA_1, 300, off)).negative and point.value == on
    assert not confirm(client, command(T.C_DC_NA_1, 300, off, select=True)).negative
    cancel = client.request(
        command(T.C_DC_NA_1, 300, off, select=True, cot=Cot.DEACTIVATION), cot_is(Cot.DEACTIVATION_CON)
    )
    assert not cancel[-1].negative and point.selected_by is None
    assert confirm(client, command(T.C_SC_NA_1, 301, True, select=True)).negative  # select in direct mode
    assert selects == [True, True, False, True, True]


def test_related_point_returns_with_cot_return_info_remote(server: Server, clients: list[Client]) -> None:
    station = server.add_station(CA)
    monitor = station.add_point(10, T.M_SP_NA_1)
    cmd = station.add_point(11, T.C_SC_NA_1, related_io_address=10, related_io_autoreturn=True)
    cmd.on_receive(lambda p, prev, msg: setattr(monitor, "value", msg.info.value) or ResponseState.SUCCESS)
    (client, watcher) = started(server, clients, 2)
    replies = client.request(command(T.C_SC_NA_1, 11, True), cot_is(Cot.RETURN_INFO_REMOTE))
    assert [a.cot for a in replies] == [Cot.ACTIVATION_CON, Cot.RETURN_INFO_REMOTE]
    assert values(replies[-1:])[10].value is True
    assert values(watcher.collect(cot_is(Cot.RETURN_INFO_REMOTE)))[10].value is True


def test_test_bit_command_is_confirmed_but_operates_nothing(server: Server, clients: list[Client]) -> None:
    station = server.add_station(CA)
    seen: list[bool] = []
    point = station.add_point(13, T.C_SE_NB_1)
    point.on_receive(lambda p, prev, msg: seen.append(msg.is_test) or ResponseState.SUCCESS)
    (client,) = started(server, clients)
    elements = elements_from_info(T.C_SE_NB_1, 77)
    test = ASDU(
        type_id=T.C_SE_NB_1,
        cot=Cot.ACTIVATION,
        common_address=CA,
        objects=(InformationObject(13, elements),),
        test=True,
    )
    reply = client.request(test, cot_is(Cot.ACTIVATION_CON))[-1]
    assert reply.test and not reply.negative
    assert seen == [True] and point.value == 0


def test_response_state_none_sends_no_confirmation(server: Server, clients: list[Client]) -> None:
    station = server.add_station(CA)
    station.add_point(12, T.C_SC_NA_1).on_receive(lambda p, prev, msg: ResponseState.NONE)
    (client,) = started(server, clients)
    client.send(command(T.C_SC_NA_1, 12, True))
    assert client.barrier() == []


# ---------------------------------------------------------------------------------------
# spontaneous, periodic, batches, end of initialization


def test_spontaneous_data_goes_to_every_started_connection(server: Server, clients: list[Client]) -> None:
    point = server.add_station(CA).add_point(1, T.M_ME_NC_1)
    assert point.transmit() is False  # not running
    first, second = started(server, clients, 2)
    idle = Client(server.port, start=False)
    clients.append(idle)
    point.value = 3.25
    assert point.transmit(Cot.SPONTANEOUS) is True
    for client in (first, second):
        asdu = client.collect(cot_is(Cot.SPONTANEOUS))[-1]
        assert values([asdu])[1].value == 3.25
    assert idle.barrier() == []
    second.conn.stop_data_transfer(time.monotonic())
    second.pump()
    second.pump_until(lambda: server.active_connection_count == 1, "data transfer stopped")
    point.value = 4.5
    assert point.transmit() is True
    assert values(first.collect(cot_is(Cot.SPONTANEOUS)))[1].value == 4.5
    assert [a for a in second.barrier() if a.cot == Cot.SPONTANEOUS] == []
    assert server.open_connection_count == 3


def test_periodic_transmission(server: Server, clients: list[Client]) -> None:
    station = server.add_station(CA)
    fast = station.add_point(1, T.M_ME_NB_1, report_ms=100)
    station.add_point(2, T.M_ME_NB_1, report_ms=100)
    calls: list[int] = []
    fast.on_before_auto_transmit(lambda p: (calls.append(1), setattr(p, "value", len(calls))))
    (client,) = started(server, clients)
    start = time.monotonic()
    periodic = [client.collect(cot_is(Cot.PERIODIC))[-1] for _ in range(3)]
    assert time.monotonic() - start >= 0.2  # 100 ms apart
    assert all(len(a.objects) == 2 for a in periodic)  # both points, one ASDU
    assert [values([a])[1].value for a in periodic] == sorted(values([a])[1].value for a in periodic)
    fast.report_ms = 0
    assert len(calls) >= 3


def test_timer_callback_and_batch(server: Server, clients: list[Client]) -> None:
    station = server.add_station(CA)
    points = [station.add_point(ioa, T.M_ME_NB_1) for ioa in (40, 41, 42)]
    ticks: list[float] = []
    points[0].on_timer(lambda p: ticks.append(time.monotonic()), 50)
    (client,) = started(server, clients)
    batch = Batch(Cot.SPONTANEOUS, points)
    for i, point in enumerate(points):
        point.value = 10 * i
    assert server.transmit_batch(batch)
    asdu = client.collect(cot_is(Cot.SPONTANEOUS))[-1]
    assert asdu.sq and [o.ioa for o in asdu.objects] == [40, 41, 42]
    assert {ioa: i.value for ioa, i in values([asdu]).items()} == {40: 0, 41: 10, 42: 20}
    with pytest.raises(LocalProtocolError):
        batch.add_point(station.add_point(43, T.M_SP_NA_1))
    wait_until(lambda: len(ticks) >= 3, what="three timer callbacks")
    assert ticks[2] - ticks[0] >= 0.09  # 50 ms apart


def test_end_of_initialization_when_data_transfer_starts(clients: list[Client]) -> None:
    with Server(port=0) as srv:
        srv.add_station(3)
        srv.add_station(4)
        (client,) = started(srv, clients)
        eis = client.collect(lambda a: a.common_address == 4)
        assert [(a.type_id, a.cot, a.common_address) for a in eis] == [
            (T.M_EI_NA_1, Cot.INITIALIZED, 3),
            (T.M_EI_NA_1, Cot.INITIALIZED, 4),
        ]
        assert srv.get_station(3).signal_initialized(2)  # type: ignore[union-attr]
        again = client.collect(cot_is(Cot.INITIALIZED))[-1]
        assert values([again])[0].value == 2


# ---------------------------------------------------------------------------------------
# several connections, bounds, errors


def test_slow_consumer_is_closed_and_others_keep_working(
    clients: list[Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="otwire.servers.iec104")
    with Server(port=0, backlog_limit=20, tick_rate_ms=20, end_of_init=False) as srv:
        point = srv.add_station(CA).add_point(1, T.M_ME_NB_1, report_ms=20)
        (good,) = started(srv, clients)
        slow = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        try:
            slow.sendall(bytes.fromhex("680407000000"))  # STARTDT act, then never acknowledges
            good.pump_until(lambda: srv.active_connection_count == 2, "both connections started")
            # Periodic data fills k=12, then half the backlog: from then on it is skipped.
            good.pump_until(lambda: "periodic data skipped" in caplog.text, "periodic data skipped")
            assert srv.open_connection_count == 2
            for i in range(40):
                point.value = i
                point.transmit()
                good.collect(lambda a, i=i: a.cot == Cot.SPONTANEOUS and values([a])[1].value == i)  # type: ignore[misc]
            good.pump_until(lambda: srv.open_connection_count == 1, "the slow consumer dropped")
        finally:
            slow.close()
        point.value = 99
        point.transmit()
        assert values(good.collect(cot_is(Cot.SPONTANEOUS)))[1].value == 99
    messages = [r.getMessage() for r in caplog.records]
    assert any("periodic data skipped" in m for m in messages)
    assert any("slow consumer" in m for m in messages)


def test_malformed_peer_closes_only_its_connection(
    server: Server, clients: list[Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="otwire.servers.iec104")
    add_monitor(server)
    (good,) = started(server, clients)
    bad = Client(server.port)
    clients.append(bad)
    bad.sock.sendall(bytes.fromhex("69040700000068"))  # wrong start octet
    bad.wait_closed()
    assert good.request(gi(), cot_is(Cot.ACTIVATION_TERMINATION))[0].cot == Cot.ACTIVATION_CON
    assert any("protocol error" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    i_before_start = Client(server.port, start=False)
    clients.append(i_before_start)
    i_before_start.sock.sendall(bytes.fromhex("680e00000000640106000700000000") + b"\x14")  # I-frame while stopped
    i_before_start.wait_closed()
    assert server.open_connection_count == 1


def test_max_connections_and_on_connect(clients: list[Client]) -> None:
    asked: list[str] = []
    with Server(port=0, max_connections=1) as srv:
        srv.on_connect(lambda s, ip: asked.append(ip) or True)
        (first,) = started(srv, clients)
        second = Client(srv.port, start=False)
        clients.append(second)
        second.wait_closed()
        assert asked == ["127.0.0.1"] and srv.open_connection_count == 1
        first.close()
        wait_until(lambda: srv.open_connection_count == 0, what="the first client gone")
        srv.on_connect(lambda s, ip: False)
        third = Client(srv.port, start=False)
        clients.append(third)
        third.wait_closed()


def test_raw_callbacks_see_every_apdu(server: Server, clients: list[Client]) -> None:
    server.add_station(CA).add_point(1, T.M_SP_NA_1)
    sent: list[bytes] = []
    received: list[bytes] = []
    server.on_send_raw(lambda s, data: sent.append(data))
    server.on_receive_raw(lambda s, data: received.append(data))
    (client,) = started(server, clients)
    client.request(gi(), cot_is(Cot.ACTIVATION_TERMINATION))
    assert received[0] == bytes.fromhex("680407000000")
    assert sent[0] == bytes.fromhex("68040b000000") and len(sent) == 4  # STARTDT con, ACT_CON, data, ACT_TERM


def test_point_api_validation(server: Server) -> None:
    station = server.add_station(CA)
    point = station.add_point(1, T.M_ST_NA_1)
    with pytest.raises(LocalProtocolError):
        station.add_point(1, T.M_SP_NA_1)
    with pytest.raises(LocalProtocolError):
        station.add_point(2, T.M_EI_NA_1)
    with pytest.raises(LocalProtocolError):
        station.add_point(2, T.C_IC_NA_1)
    with pytest.raises(LocalProtocolError):
        server.add_station(CA)
    with pytest.raises(EncodeError):
        point.value = 64  # VTI is -64..63
    with pytest.raises(LocalProtocolError):
        station.add_point(3, T.C_SC_NA_1, report_ms=100)
    with pytest.raises(LocalProtocolError):
        station.add_point(3, T.C_SC_NA_1).transmit()
    point.info = PointInfo(value=0, elements=elements_from_info(T.M_ST_NA_1, 9, transient=True))
    assert (point.value, point.info.transient) == (9, True)
    assert station.remove_point(1) and station.get_point(1) is None
    with pytest.raises(LocalProtocolError):
        point.transmit()
    cmd = station.add_point(4, T.C_SC_NA_1)
    assert cmd.value is False and cmd.info.elements == (SCO(scs=False),)
    single = station.add_point(5, T.M_SP_TB_1)
    assert single.recorded_at is None
    single.quality = Quality.IV
    assert single.recorded_at is not None and single.info.elements[0] == SIQ(spi=False, quality=Quality.IV)


# ---------------------------------------------------------------------------------------
# recording, asyncio, the demo


def test_record_writes_a_pcap_that_inspect_reads(tmp_path: Path, clients: list[Client]) -> None:
    path = tmp_path / "session.pcap"
    with Server(port=0, record=path) as srv:
        add_monitor(srv)
        first, second = started(srv, clients, 2)
        first.request(gi(), cot_is(Cot.ACTIVATION_TERMINATION))
        second.request(command(T.C_SC_NA_1, 4242, True), cot_is(Cot.UNKNOWN_IOA))
        port = srv.port
    rows = [r for r in dissect(path, {port: "iec104"}) if r.kind == "apdu"]
    assert not [r for r in dissect(path, {port: "iec104"}) if r.kind in {"error", "junk", "gap"}]
    assert len({r.flow for r in rows}) == 2
    text = " ".join(str(r.finding) for r in rows)
    for word in ("C_IC_NA_1", "M_SP_NA_1", "M_ME_NC_1", "C_SC_NA_1"):
        assert word in text


def test_async_server_serves_in_the_callers_loop() -> None:
    async def main() -> list[ASDU]:
        async with AsyncServer(port=0) as srv:
            srv.add_station(CA).add_point(1, T.M_SP_NA_1).value = True

            def talk() -> list[ASDU]:
                client = Client(srv.port)
                try:
                    return client.request(gi(), cot_is(Cot.ACTIVATION_TERMINATION))
                finally:
                    client.close()

            return await asyncio.to_thread(talk)

    replies = asyncio.run(main())
    assert values(replies[1:-1])[1].value is True


def test_async_serve_stops_on_cancel() -> None:
    async def main() -> bool:
        srv = AsyncServer(port=0)
        await srv.start()
        task = asyncio.create_task(srv.serve())  # keeps it running until cancelled
        await asyncio.sleep(0)  # let serve() begin waiting
        assert srv.is_running
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return srv.is_running

    assert asyncio.run(main()) is False


def test_serve_runs_the_demo(clients: list[Client]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = io.StringIO()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(serve(port=port, duration=2.0, out=out)))
    thread.start()
    try:
        wait_until(lambda: "Ctrl-C" in out.getvalue() or not thread.is_alive(), what="the banner")
        client = Client(port)
        clients.append(client)
        replies = client.request(gi(ca=1), cot_is(Cot.ACTIVATION_TERMINATION))
        got = values(replies[1:-1])
        assert got[110].value == DoublePoint.ON and got[150].value == 230
        reply = client.request(command(T.C_SE_NA_1, 1003, 0.95, ca=1), cot_is(Cot.ACTIVATION_CON))[-1]
        assert reply.negative  # the demo refuses load set-points above 0.9
        cmd = client.request(command(T.C_SC_NA_1, 1000, False, ca=1), cot_is(Cot.RETURN_INFO_REMOTE))
        assert values(cmd[-1:])[100].value is False
    finally:
        thread.join(TIMEOUT)
    assert result == [0]
    assert f"127.0.0.1:{port}" in out.getvalue() and "stopped" in out.getvalue()


def test_populate_builds_the_demo_data_set(server: Server) -> None:
    populate(server, seed=1)
    assert [s.common_address for s in server.stations] == [1, 2]
    types = {p.type for s in server.stations for p in s.points}
    assert len(types) >= 20


def test_bitstring_commands_cannot_be_select_and_execute(server: Server) -> None:
    with pytest.raises(LocalProtocolError):
        server.add_station(CA).add_point(1, T.C_BO_NA_1, command_mode=CommandMode.SELECT_AND_EXECUTE)


def test_serve_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert serve(port=busy.getsockname()[1], duration=0.1, out=io.StringIO()) == 2
    assert "cannot listen" in capsys.readouterr().err


def test_a_testfr_flood_from_a_client_that_never_reads_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="otwire.servers.iec104")
    with Server(port=0, limits=ServerLimits(max_output_bytes=64 * 1024)) as srv:
        flood = socket.socket()
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        flood.connect(("127.0.0.1", srv.port))
        burst = bytes.fromhex("680443000000") * 10_000  # TESTFR act
        sent = 0
        try:
            with pytest.raises(OSError):  # the server drops it: reset or broken pipe
                while sent < 200 * 1024 * 1024:
                    flood.sendall(burst)
                    sent += len(burst)
        finally:
            flood.close()
        wait_until(lambda: srv.open_connection_count == 0, what="the flooding client dropped")
    assert any("slow consumer" in r.getMessage() for r in caplog.records)


def test_transmit_is_true_only_for_queued_asdus(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="otwire.servers.iec104")
    with Server(port=0, backlog_limit=10, end_of_init=False) as srv:
        point = srv.add_station(CA).add_point(1, T.M_ME_NB_1)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as slow:
            slow.sendall(bytes.fromhex("680407000000"))  # STARTDT act, then never acknowledges
            wait_until(lambda: srv.active_connection_count == 1, what="data transfer started")
            results = []
            for i in range(40):
                point.value = i
                results.append(point.transmit())
            k = IEC104Config().k
            # k ASDUs go out, `backlog_limit` wait behind the window, the next one finds it
            # full: not queued (False), and the client is dropped as a slow consumer.
            assert results == [True] * (k + 10) + [False] * (40 - k - 10)
            wait_until(lambda: srv.open_connection_count == 0, what="the slow client dropped")
            # True means "queued": the 10 held back by the k window were thrown away, and counted.
            assert srv.dropped_asdus == 10
    drops = [r.getMessage() for r in caplog.records if "slow consumer" in r.getMessage()]
    assert drops and drops[0].endswith("slow consumer, 10 ASDUs wait for acknowledgement; 10 queued ASDUs discarded")


def test_ports_out_of_range_are_invalid_arguments() -> None:
    for port in (-1, 65536, "2404"):
        with pytest.raises(InvalidArgument):
            Server(port=port)  # type: ignore[arg-type]


@pytest.mark.parametrize("limits", [5, "x", {"max_connections": 1}])
def test_limits_of_the_wrong_type_are_refused(limits: object) -> None:
    with pytest.raises(InvalidArgumentType, match="limits"):
        Server(port=0, limits=limits)  # type: ignore[arg-type]


def test_a_record_path_that_cannot_be_created_is_an_invalid_argument(tmp_path: Path) -> None:
    srv = Server(port=0, record=tmp_path / "missing" / "x.pcap")
    with pytest.raises(InvalidArgument, match="record") as caught:
        srv.start()
    assert isinstance(caught.value.__cause__, OSError) and not srv.is_running


def test_calls_into_a_loop_that_does_not_answer_raise_request_timeout() -> None:
    loop = asyncio.new_event_loop()  # never run: nothing scheduled on it happens
    try:
        with pytest.raises(RequestTimeout, match="did not answer"):
            run_in_loop(loop, 0, lambda: 1, timeout=0.05)
    finally:
        loop.close()


def test_a_failed_start_does_not_log_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert serve(host="999.1.1.1", port=0, duration=0.1, out=out) == 2
    assert "cannot listen" in capsys.readouterr().err
    assert "stopped" not in out.getvalue() and "listening" not in out.getvalue()


def test_a_client_that_never_starts_talking_is_dropped_at_the_handshake_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="otwire.servers.iec104")
    with (
        Server(port=0, limits=ServerLimits(handshake_timeout=0.2)) as srv,
        socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as talker,
        socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as silent,
    ):
        talker.sendall(bytes.fromhex("680443000000"))  # TESTFR act: one frame, no STARTDT
        assert talker.recv(6) == bytes.fromhex("680483000000")  # TESTFR con
        with contextlib.suppress(ConnectionResetError):  # a reset is a close too
            assert silent.recv(10) == b""  # closed by the server at the deadline
        assert srv.open_connection_count == 1  # one frame is enough: a standby connection stays
    assert "handshake timeout" in caplog.text
