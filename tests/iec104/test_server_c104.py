"""Conformance: a c104 client (lib60870 inside, GPL test-only peer) against the otwire outstation.

One otwire :class:`~otwire.servers.iec104.Server` and one c104 client serve the whole
module (loopback, port 0); every wait is bounded.

c104 2.2.1 misses a confirmation that arrives before its blocking call starts waiting
(``Connection::awaitCommandSuccess`` checks its response map only after a condition
variable wakes it), then returns False after ``command_timeout_ms``. The otwire server
answers on loopback within about 100 microseconds, so its ``on_receive_raw`` callback
below takes :data:`OPERATE_S` for every received I-frame before the station answers, like
a real device that needs time to operate.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

c104 = pytest.importorskip("c104")

from iec104.c104_client_peer import C104Peer, Received, command_infos  # noqa: E402 - after the importorskip
from otwire.codecs.iec104 import Cot, DoublePoint, Quality, TypeId  # noqa: E402
from otwire.codecs.iec104.values import PointInfo  # noqa: E402
from otwire.servers.iec104 import CommandMode, IncomingMessage, Point, ResponseState, Server  # noqa: E402

T = TypeId
CA = 47
#: Monitor points: IOA -> (type, value, quality). Values chosen to be exact on the wire.
MONITOR: dict[int, tuple[TypeId, Any, Quality]] = {
    1: (T.M_SP_NA_1, True, Quality.IV),
    2: (T.M_DP_NA_1, DoublePoint.ON, Quality(0)),
    3: (T.M_ST_NA_1, -5, Quality.SB),
    4: (T.M_BO_NA_1, 0x12345678, Quality(0)),
    5: (T.M_ME_NA_1, 0.5, Quality.OV),
    6: (T.M_ME_NB_1, -1234, Quality.NT),
    7: (T.M_ME_NC_1, 12.5, Quality(0)),
    8: (T.M_SP_TB_1, False, Quality.BL),
    9: (T.M_ME_TF_1, -0.125, Quality(0)),
}
COUNTERS: dict[int, int] = {20: 123456789, 21: -2}
#: Command types by name -> IOA of the direct-mode point; select-and-execute points at IOA + 50.
COMMANDS: dict[str, int] = {name: 100 + i for i, name in enumerate(command_infos())}
REFUSING_IOA = 190
#: Bit string commands have no S/E bit: c104 "selects" by sending the execute itself.
NO_SELECT = {"C_BO_NA_1"}
#: Time the station takes per request, so that c104 is waiting when the confirmation comes.
OPERATE_S = 0.02


def _operate(server: object, data: bytes) -> None:
    if len(data) > 6 and data[2] & 1 == 0:  # an I-frame: a request to answer
        time.sleep(OPERATE_S)


@dataclass
class Outstation:
    server: Server
    commands: list[tuple[int, Any, bool]] = field(default_factory=list)
    clock: list[tuple[str, dt.datetime]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _build(server: Server, seen: Outstation) -> None:
    station = server.add_station(CA)
    for ioa, (type_id, value, quality) in MONITOR.items():
        station.add_point(ioa, type_id).info = PointInfo(value=value, quality=quality)
    for ioa, count in COUNTERS.items():
        station.add_point(ioa, T.M_IT_NA_1 if ioa == 20 else T.M_IT_TB_1).value = count

    def on_receive(point: Point, previous_info: PointInfo, message: IncomingMessage) -> ResponseState:
        with seen.lock:
            seen.commands.append((point.io_address, message.info.value, message.is_select_command))
        return ResponseState.FAILURE if point.io_address == REFUSING_IOA else ResponseState.SUCCESS

    for name, ioa in COMMANDS.items():
        station.add_point(ioa, T[name]).on_receive(on_receive)
        if name not in NO_SELECT:
            station.add_point(ioa + 50, T[name], command_mode=CommandMode.SELECT_AND_EXECUTE).on_receive(on_receive)
    station.add_point(REFUSING_IOA, T.C_SC_NA_1).on_receive(on_receive)

    def on_clock_sync(srv: object, ip: str, date_time: dt.datetime) -> ResponseState:
        with seen.lock:
            seen.clock.append((ip, date_time))
        return ResponseState.SUCCESS

    server.on_clock_sync(on_clock_sync)
    server.on_receive_raw(_operate)


@pytest.fixture(scope="module")
def session() -> Iterator[tuple[Outstation, C104Peer]]:
    server = Server(port=0, tick_rate_ms=20)
    outstation = Outstation(server)
    _build(server, outstation)
    server.start()
    peer = C104Peer(server.port, CA)
    try:
        peer.start()
        yield outstation, peer
    finally:
        try:
            peer.stop()
        finally:
            server.stop()


def _expected(type_id: TypeId, value: Any) -> Any:
    return int(value) if isinstance(value, DoublePoint) else value


def test_interrogation_matches_the_server(session: tuple[Outstation, C104Peer]) -> None:
    outstation, peer = session
    assert peer.connection.interrogation(common_address=CA) is True
    received = peer.wait_for(lambda got: {r.io_address for r in got} >= set(MONITOR))
    assert {ioa for ioa, _ in peer.new_points} >= set(MONITOR)
    assert {(ioa, int(t.value)) for ioa, t in peer.new_points if ioa in MONITOR} == {
        (ioa, int(t)) for ioa, (t, _, _) in MONITOR.items()
    }
    assert {r.cot.value for r in received if r.io_address in MONITOR} == {Cot.INTERROGATED_BY_STATION}
    station = outstation.server.get_station(CA)
    assert station is not None
    for ioa, (type_id, value, quality) in MONITOR.items():
        point = station.get_point(ioa)
        assert point is not None and point.value == value and point.quality == quality
        got = peer.value(ioa)
        assert got is not None
        assert got[0] == pytest.approx(_expected(type_id, value)), type_id.name
        assert got[1] == int(quality), type_id.name


def test_counter_interrogation(session: tuple[Outstation, C104Peer]) -> None:
    _, peer = session
    assert peer.connection.counter_interrogation(common_address=CA) is True
    received = peer.wait_for(lambda got: {r.io_address for r in got} >= set(COUNTERS))
    assert {r.cot.value for r in received if r.io_address in COUNTERS} == {Cot.REQUESTED_BY_GENERAL_COUNTER}
    assert {ioa: peer.value(ioa)[0] for ioa in COUNTERS} == COUNTERS  # type: ignore[index]


def test_spontaneous_updates_reach_point_on_receive(session: tuple[Outstation, C104Peer]) -> None:
    outstation, peer = session
    station = outstation.server.get_station(CA)
    assert station is not None
    peer.connection.interrogation(common_address=CA)  # the client must know the points
    updates = {1: False, 2: DoublePoint.OFF, 3: 17, 5: -0.25, 6: 300, 7: 99.5, 9: 1e6}
    for ioa, value in updates.items():
        point = station.get_point(ioa)
        assert point is not None
        point.value = value
        assert point.transmit(Cot.SPONTANEOUS) is True

    def arrived(got: list[Received]) -> bool:
        spontaneous = {r.io_address: r.value for r in got if r.cot.value == Cot.SPONTANEOUS}
        return spontaneous.keys() >= updates.keys()

    received = peer.wait_for(arrived)
    last = {r.io_address: r.value for r in received if r.cot.value == Cot.SPONTANEOUS}
    for ioa, value in updates.items():
        assert last[ioa] == pytest.approx(_expected(MONITOR[ioa][0], value)), ioa


@pytest.mark.parametrize(
    ("name", "select"),
    [pytest.param(name, False, id=f"{name}-direct") for name in COMMANDS]
    + [pytest.param(name, True, id=f"{name}-select-and-execute") for name in COMMANDS if name not in NO_SELECT],
)
def test_commands_reach_the_server_callback(session: tuple[Outstation, C104Peer], name: str, select: bool) -> None:
    outstation, peer = session
    info, value = command_infos()[name]
    ioa = COMMANDS[name] + (50 if select else 0)
    with outstation.lock:
        outstation.commands.clear()
    assert peer.command(ioa, c104.Type.__members__[name], info, select=select) is True
    with outstation.lock:
        seen = list(outstation.commands)
    expected = [(ioa, pytest.approx(value), True), (ioa, pytest.approx(value), False)] if select else []
    assert seen == (expected or [(ioa, pytest.approx(value), False)])
    point = outstation.server.get_station(CA).get_point(ioa)  # type: ignore[union-attr]
    assert point is not None and point.value == pytest.approx(value) and point.selected_by is None


def test_refused_command_returns_false(session: tuple[Outstation, C104Peer]) -> None:
    outstation, peer = session
    info = c104.SingleCmd(True, c104.Qoc.NONE)
    assert peer.command(REFUSING_IOA, c104.Type.C_SC_NA_1, info) is False
    point = outstation.server.get_station(CA).get_point(REFUSING_IOA)  # type: ignore[union-attr]
    assert point is not None and point.value is False


def test_clock_sync(session: tuple[Outstation, C104Peer]) -> None:
    outstation, peer = session
    before = dt.datetime.now(dt.UTC)
    assert peer.connection.clock_sync(common_address=CA) is True
    with outstation.lock:
        ip, when = outstation.clock[-1]
    assert ip == "127.0.0.1"
    assert abs(when - before) < dt.timedelta(seconds=5)


def test_read(session: tuple[Outstation, C104Peer]) -> None:
    outstation, peer = session
    peer.connection.interrogation(common_address=CA)
    point = outstation.server.get_station(CA).get_point(7)  # type: ignore[union-attr]
    assert point is not None
    point.value = -7.75
    client_point = peer.point(7)
    assert client_point is not None and client_point.read() is True
    received = peer.wait_for(lambda got: any(r.io_address == 7 and r.cot.value == Cot.REQUEST for r in got))
    assert [r.value for r in received if r.io_address == 7 and r.cot.value == Cot.REQUEST][-1] == -7.75


def test_test_command(session: tuple[Outstation, C104Peer]) -> None:
    _, peer = session
    assert peer.connection.test(common_address=CA) is True
