"""Conformance: otwire's IEC 104 client against a c104 server (loopback, every wait bounded).

c104 (GPL-3.0) is a test-time peer only. Its callbacks live in ``c104_server_peer.py``
(c104 checks callback annotations, which ``from __future__ import annotations`` breaks).
c104/lib60870 quirks exercised here (observed with c104 2.2.1):

* a command to an unknown IOA is answered twice: a negative ACT_CON, then COT 47
  (UNKNOWN_IOA) with P/N = 0;
* a read (C_RD_NA_1) is first confirmed by C_RD_NA_1 with COT 7, then the data follows
  with COT 5;
* the ACT_TERM that ends a select-and-execute set-point repeats the *select* qualifier;
* a general interrogation sent to the global address 65535 is answered with the
  station's own common address and ended by ACT_TERM.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

c104_lib = pytest.importorskip("c104")

import otwire.clients.iec104 as c104  # noqa: E402 - after the importorskip
from helpers import free_port, wait_until  # noqa: E402
from iec104.c104_server_peer import (  # noqa: E402
    COMMANDS,
    COUNTER_IOA,
    COUNTER_VALUE,
    REFUSED_IOA,
    STATION_CA,
    TIME,
    C104ServerPeer,
    monitor_points,
)
from otwire.codecs.iec104 import Quality, TypeId  # noqa: E402

WAIT = 3.0
UNKNOWN_IOA = 2999  # a command point the server does not have
TIME2 = dt.datetime(2025, 6, 1, 8, 0, 0, 250000, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def peer() -> Iterator[C104ServerPeer]:
    with C104ServerPeer(free_port()) as server:
        yield server


class Session:
    """An otwire client connected to the c104 peer, with every server point mirrored."""

    def __init__(self, peer: C104ServerPeer, init: c104.Init = c104.Init.NONE) -> None:
        self.client = c104.Client(command_timeout_ms=2000, reconnect_delay_ms=50)
        connection = self.client.add_connection("127.0.0.1", peer.server.port, init=init)
        assert connection is not None
        self.connection = connection
        self.station = connection.add_station(STATION_CA)
        assert self.station is not None
        self.raw: list[bytes] = []
        self.unexpected: list[tuple[c104.IncomingMessage, c104.Umc]] = []
        self.updates: list[tuple[int, Any]] = []  # (ioa, cot)
        connection.on_receive_raw(lambda con, data: self.raw.append(data))
        connection.on_unexpected_message(lambda con, message, cause: self.unexpected.append((message, cause)))
        for ioa, (type_, _) in monitor_points().items():
            self.station.add_point(ioa, TypeId(int(type_))).on_receive(self._on_receive)
        self.station.add_point(COUNTER_IOA, TypeId.M_IT_NA_1).on_receive(self._on_receive)
        for ioa, (type_, mode) in COMMANDS.items():
            self.station.add_point(ioa, TypeId(int(type_)), command_mode=c104.CommandMode(int(mode)))
        self.station.add_point(REFUSED_IOA, TypeId.C_SC_NA_1)
        self.station.add_point(UNKNOWN_IOA, TypeId.C_SC_NA_1)

    def _on_receive(self, point: c104.Point, previous_info: c104.PointInfo, message: c104.IncomingMessage) -> None:
        self.updates.append((point.io_address, message.cot))

    def start(self) -> Session:
        self.client.start()
        assert self.connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
        return self

    def point(self, ioa: int) -> c104.Point:
        point = self.station.get_point(ioa)
        assert point is not None
        return point

    def frames(self, type_id: int, cot: int) -> list[bytes]:
        """Received I-frames with this type and COT (the P/N bit ignored)."""
        return [f for f in list(self.raw) if len(f) > 8 and f[2] & 1 == 0 and f[6] == type_id and f[8] & 0x3F == cot]


@pytest.fixture
def session(peer: C104ServerPeer) -> Iterator[Session]:
    current = Session(peer).start()
    yield current
    current.client.stop()


def test_general_interrogation_returns_every_point(session: Session, peer: C104ServerPeer) -> None:
    assert session.connection.interrogation(common_address=STATION_CA)
    expected = {
        1001: (True, Quality(0), None),
        1002: (False, Quality.IV, TIME),
        1003: (c104.Double.ON, Quality(0), None),
        1004: (c104.Double.OFF, Quality.NT, TIME),
        1005: (-5, Quality(0), None),
        1006: (0x12345678, Quality(0), None),
        1007: (0.5, Quality(0), None),
        1008: (-1234, Quality.SB, None),
        1009: (12.5, Quality(0), None),
        1010: (-0.125, Quality.BL | Quality.IV, TIME),
    }
    for ioa, (value, quality, recorded_at) in expected.items():
        point = session.point(ioa)
        assert (point.value, point.quality, point.recorded_at) == (value, quality, recorded_at), ioa
        assert int(point.quality) == peer.point(ioa).quality.value
    assert session.point(1005).info.transient
    assert {ioa for ioa, cot in session.updates if cot == c104.Cot.INTERROGATED_BY_STATION} == set(monitor_points())
    assert not session.unexpected


def test_init_all_interrogates_and_synchronises_the_clock(peer: C104ServerPeer) -> None:
    syncs = len(peer.clock_syncs)
    current = Session(peer, init=c104.Init.ALL).start()
    try:
        wait_until(lambda: current.frames(100, 10) and len(peer.clock_syncs) > syncs)
        assert len(current.updates) == len(monitor_points())
        assert current.point(1009).value == 12.5
        # GI to the global address: answered with the station's own address, ended by ACT_TERM.
        assert current.frames(100, 10) and current.frames(100, 10)[0][10:12] == STATION_CA.to_bytes(2, "little")
    finally:
        current.client.stop()


def test_spontaneous_updates(session: Session, peer: C104ServerPeer) -> None:
    q = c104_lib.Quality
    peer.spontaneous(1201, c104_lib.SingleInfo(True, q()))
    peer.spontaneous(1202, c104_lib.DoubleInfo(c104_lib.Double.INTERMEDIATE, q.Invalid, TIME2))
    peer.spontaneous(1203, c104_lib.ShortInfo(-3.5, q.NonTopical))
    peer.spontaneous(1204, c104_lib.ScaledInfo(c104_lib.Int16(32767), q.Overflow))
    peer.spontaneous(1205, c104_lib.StepInfo(c104_lib.Int7(63), False, q(), TIME2))
    wanted = {1201, 1202, 1203, 1204, 1205}
    wait_until(lambda: wanted <= {ioa for ioa, cot in session.updates if cot == c104.Cot.SPONTANEOUS})
    assert session.point(1201).value is True
    p = session.point(1202)
    assert (p.value, p.quality, p.recorded_at) == (c104.Double.INTERMEDIATE, Quality.IV, TIME2)
    assert (session.point(1203).value, session.point(1203).quality) == (-3.5, Quality.NT)
    assert (session.point(1204).value, session.point(1204).quality) == (32767, Quality.OV)
    assert (session.point(1205).value, session.point(1205).recorded_at) == (63, TIME2)


def _server_value(value: Any) -> Any:
    """c104's value objects as plain Python values (enums by name)."""
    if isinstance(value, bool | float | int):
        return value
    if hasattr(value, "name"):
        return value.name
    return float(value) if isinstance(value, c104_lib.NormalizedFloat) else int(value)


@pytest.mark.parametrize(
    ("ioa", "value", "on_server"),
    [
        (2001, True, True),
        (2002, True, True),
        (2003, c104.Double.ON, "ON"),
        (2004, c104.DoubleCommandState.OFF, "OFF"),
        (2005, c104.Step.HIGHER, "HIGHER"),
        (2006, c104.Step.LOWER, "LOWER"),
        (2007, 0.25, 0.25),
        (2008, -0.5, -0.5),
        (2009, -300, -300),
        (2010, 300, 300),
        (2011, 1.5, 1.5),
        (2012, 42.0, 42.0),
    ],
)
def test_commands_reach_the_server(
    session: Session, peer: C104ServerPeer, ioa: int, value: Any, on_server: Any
) -> None:
    before = len(peer.command_log())
    point = session.point(ioa)
    point.value = value
    assert point.transmit(cause=c104.Cot.ACTIVATION)
    log = peer.wait_for_commands(before + 1)
    assert [(i, _server_value(v), s) for i, v, s in log[before:]] == [(ioa, on_server, False)]
    assert _server_value(peer.point(ioa).value) == on_server
    confirmations = session.frames(int(point.type), 7)
    selects = [f for f in confirmations if f[-1] & 0x80]  # S/E is the top bit of SCO, DCO, RCO and QOS
    assert (len(confirmations), len(selects)) == ((2, 1) if point.command_mode else (1, 0))
    assert not session.unexpected


def test_select_and_execute_termination_echoes_the_select(session: Session, peer: C104ServerPeer) -> None:
    point = session.point(2012)
    point.value = -2.5
    assert point.transmit()
    wait_until(lambda: session.frames(50, 10))
    (term,) = session.frames(50, 10)
    assert term[-1] & 0x80  # QOS S/E = select, although the execute was confirmed last
    assert not session.unexpected
    point.value = 3.0
    assert point.transmit() and session.connection.state is c104.ConnectionState.OPEN


def test_refused_command_fails(session: Session, peer: C104ServerPeer) -> None:
    before = len(peer.command_log())
    point = session.point(REFUSED_IOA)
    point.value = True
    assert not point.transmit()
    assert peer.wait_for_commands(before + 1)[-1][0] == REFUSED_IOA
    assert session.frames(45, 7)[-1][8] & 0x40  # negative confirmation
    point = session.point(2001)
    point.value = False
    assert point.transmit()


def test_unknown_ioa_double_answer(session: Session) -> None:
    point = session.point(UNKNOWN_IOA)
    point.value = True
    assert not point.transmit()
    wait_until(lambda: session.unexpected)
    ((message, cause),) = session.unexpected
    assert cause is c104.Umc.UNKNOWN_IOA and message.io_address == UNKNOWN_IOA and not message.is_negative
    assert session.frames(45, 7)[-1][8] & 0x40 and session.frames(45, 47)
    assert not point.transmit()  # still refused, connection still usable
    assert session.connection.state is c104.ConnectionState.OPEN


def test_clock_sync_counter_interrogation_and_test(session: Session, peer: C104ServerPeer) -> None:
    before = len(peer.clock_syncs)
    assert session.connection.clock_sync(STATION_CA)
    wait_until(lambda: len(peer.clock_syncs) > before)
    received = peer.clock_syncs[-1].replace(tzinfo=None)
    now = [dt.datetime.now(dt.UTC).replace(tzinfo=None), dt.datetime.now()]
    assert min(abs(received - n) for n in now) < dt.timedelta(seconds=5)
    assert session.connection.counter_interrogation(STATION_CA)
    assert session.point(COUNTER_IOA).value == COUNTER_VALUE
    assert session.connection.test(STATION_CA, with_time=True)
    assert not session.unexpected


def test_read(session: Session, peer: C104ServerPeer) -> None:
    peer.point(1301).value = 77.5  # changed without transmitting
    assert session.point(1301).read()
    assert session.point(1301).value == 77.5
    confirm, data = session.frames(102, 7), session.frames(13, 5)
    assert confirm and data and session.raw.index(confirm[0]) < session.raw.index(data[0])
    assert not session.unexpected


def test_mute_and_unmute(session: Session) -> None:
    assert session.connection.mute()
    assert session.connection.wait_for_state(c104.ConnectionState.OPEN_MUTED, timeout=WAIT)
    assert session.connection.unmute()
    assert session.connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
    assert session.connection.interrogation(STATION_CA)


def test_async_client(peer: C104ServerPeer) -> None:
    async def main() -> None:
        async with c104.AsyncClient(command_timeout_ms=2000) as client:
            connection = client.add_connection("127.0.0.1", peer.server.port, init=c104.Init.INTERROGATION)
            assert connection is not None
            client.on_new_station(lambda cl, con, ca: con.add_station(ca))
            client.on_new_point(lambda cl, station, ioa, point_type: station.add_point(ioa, point_type))
            updates = client.updates()
            assert await connection.wait_for_state(c104.ConnectionState.OPEN, timeout=WAIT)
            seen = {(await asyncio.wait_for(anext(updates), WAIT)).point.io_address for _ in monitor_points()}
            assert seen == set(monitor_points())
            station = connection.get_station(STATION_CA)
            assert station is not None and station.get_point(1009).value == 12.5
            command = station.add_point(2010, TypeId.C_SE_NB_1, command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
            command.value = 123
            before = len(peer.command_log())
            assert await command.transmit()
            assert peer.wait_for_commands(before + 1)[-1][0] == 2010
            assert await connection.interrogation(STATION_CA)

    asyncio.run(asyncio.wait_for(main(), 15))
