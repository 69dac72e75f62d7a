"""A c104 ``Server`` (controlled station) as the peer of otwire's IEC 104 client in tests.

c104 (GPL-3.0) is a *test-time* peer only; nothing in ``src/otwire`` imports it.

``C104ServerPeer(port)`` builds a server on 127.0.0.1 with one station (common address
47): monitor points of the types c104 includes in a general interrogation, a counter,
command points of every setpoint/command family in direct and in select-and-execute
mode, and one command point whose ``on_receive`` answers ``FAILURE``. Commands and clock
synchronisations that reach the server are recorded.

NOTE: c104 checks callback signatures by annotation *and* parameter name at run time,
so this module must not use ``from __future__ import annotations``.
"""

import datetime
import threading
import time
from collections.abc import Callable

import c104

STATION_CA = 47
TIME = datetime.datetime(2024, 2, 29, 13, 37, 42, 123000, tzinfo=datetime.UTC)
_Q = c104.Quality
_D = c104.CommandMode.DIRECT
_S = c104.CommandMode.SELECT_AND_EXECUTE


def monitor_points() -> dict[int, tuple[c104.Type, Callable[[], c104.Information]]]:
    """IOA -> (type, information) of the points a general interrogation returns."""
    return {
        1001: (c104.Type.M_SP_NA_1, lambda: c104.SingleInfo(True, _Q())),
        1002: (c104.Type.M_SP_TB_1, lambda: c104.SingleInfo(False, _Q.Invalid, TIME)),
        1003: (c104.Type.M_DP_NA_1, lambda: c104.DoubleInfo(c104.Double.ON, _Q())),
        1004: (c104.Type.M_DP_TB_1, lambda: c104.DoubleInfo(c104.Double.OFF, _Q.NonTopical, TIME)),
        1005: (c104.Type.M_ST_NA_1, lambda: c104.StepInfo(c104.Int7(-5), True, _Q())),
        1006: (c104.Type.M_BO_NA_1, lambda: c104.BinaryInfo(c104.Byte32(bytes.fromhex("78563412")), _Q())),
        1007: (c104.Type.M_ME_NA_1, lambda: c104.NormalizedInfo(c104.NormalizedFloat(0.5), _Q())),
        1008: (c104.Type.M_ME_NB_1, lambda: c104.ScaledInfo(c104.Int16(-1234), _Q.Substituted)),
        1009: (c104.Type.M_ME_NC_1, lambda: c104.ShortInfo(12.5, _Q())),
        1010: (c104.Type.M_ME_TF_1, lambda: c104.ShortInfo(-0.125, _Q.Blocked | _Q.Invalid, TIME)),
        # changed by the spontaneous and read tests
        1201: (c104.Type.M_SP_NA_1, lambda: c104.SingleInfo(False, _Q())),
        1202: (c104.Type.M_DP_TB_1, lambda: c104.DoubleInfo(c104.Double.OFF, _Q(), TIME)),
        1203: (c104.Type.M_ME_NC_1, lambda: c104.ShortInfo(0.0, _Q())),
        1204: (c104.Type.M_ME_NB_1, lambda: c104.ScaledInfo(c104.Int16(0), _Q())),
        1205: (c104.Type.M_ST_TB_1, lambda: c104.StepInfo(c104.Int7(0), False, _Q(), TIME)),
        1301: (c104.Type.M_ME_NC_1, lambda: c104.ShortInfo(1.0, _Q())),
    }


COUNTER_IOA = 1101
COUNTER_VALUE = 1234

#: IOA -> (type, mode) of the command points.
COMMANDS: dict[int, tuple[c104.Type, c104.CommandMode]] = {
    2001: (c104.Type.C_SC_NA_1, _D),
    2002: (c104.Type.C_SC_NA_1, _S),
    2003: (c104.Type.C_DC_NA_1, _D),
    2004: (c104.Type.C_DC_NA_1, _S),
    2005: (c104.Type.C_RC_NA_1, _D),
    2006: (c104.Type.C_RC_NA_1, _S),
    2007: (c104.Type.C_SE_NA_1, _D),
    2008: (c104.Type.C_SE_NA_1, _S),
    2009: (c104.Type.C_SE_NB_1, _D),
    2010: (c104.Type.C_SE_NB_1, _S),
    2011: (c104.Type.C_SE_NC_1, _D),
    2012: (c104.Type.C_SE_NC_1, _S),
}
REFUSED_IOA = 2099  # C_SC_NA_1, direct; on_receive answers FAILURE


class C104ServerPeer:
    """A running c104 server on 127.0.0.1:``port`` (use as a context manager).

    Attributes:
        server: The ``c104.Server``.
        station: Its station (``STATION_CA``).
        commands: ``(ioa, value, is_select)`` of every command the server accepted or refused,
            in arrival order (c104 calls ``on_receive`` for the execute step only).
        clock_syncs: Times received by clock synchronisation commands.
    """

    def __init__(self, port: int, tick_rate_ms: int = 50) -> None:
        self.server = c104.Server(ip="127.0.0.1", port=port, tick_rate_ms=tick_rate_ms)
        self.station = self.server.add_station(common_address=STATION_CA)
        self.commands: list[tuple[int, object, bool]] = []
        self.clock_syncs: list[datetime.datetime] = []
        self._lock = threading.Lock()
        for ioa, (type_, make) in monitor_points().items():
            point = self.station.add_point(io_address=ioa, type=type_)
            point.info = make()
        counter = self.station.add_point(io_address=COUNTER_IOA, type=c104.Type.M_IT_NA_1)
        counter.info = c104.BinaryCounterInfo(COUNTER_VALUE, c104.UInt5(3), c104.BinaryCounterQuality())

        def on_command(
            point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
        ) -> c104.ResponseState:
            with self._lock:
                self.commands.append((point.io_address, point.value, message.is_select_command))
            if point.io_address == REFUSED_IOA:
                return c104.ResponseState.FAILURE
            return c104.ResponseState.SUCCESS

        def on_clock_sync(server: c104.Server, ip: str, date_time: datetime.datetime) -> c104.ResponseState:
            with self._lock:
                self.clock_syncs.append(date_time)
            return c104.ResponseState.SUCCESS

        for ioa, (type_, mode) in {**COMMANDS, REFUSED_IOA: (c104.Type.C_SC_NA_1, _D)}.items():
            point = self.station.add_point(io_address=ioa, type=type_, command_mode=mode)
            point.on_receive(callable=on_command)
        self.server.on_clock_sync(callable=on_clock_sync)

    def __enter__(self) -> "C104ServerPeer":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def point(self, io_address: int) -> c104.Point:
        """Return the server's point at ``io_address``."""
        point = self.station.get_point(io_address=io_address)
        assert point is not None, io_address
        return point

    def spontaneous(self, io_address: int, info: c104.Information) -> None:
        """Give a point new information and send it with COT 3."""
        point = self.point(io_address)
        point.info = info
        assert point.transmit(cause=c104.Cot.SPONTANEOUS)

    def command_log(self) -> list[tuple[int, object, bool]]:
        """A copy of :attr:`commands`."""
        with self._lock:
            return list(self.commands)

    def wait_for_commands(self, count: int, timeout: float = 3.0) -> list[tuple[int, object, bool]]:
        """Wait until ``count`` commands were recorded (c104 runs callbacks on its own thread)."""
        end = time.monotonic() + timeout
        while len(self.command_log()) < count:
            if time.monotonic() > end:
                raise TimeoutError(f"c104 server saw {len(self.command_log())} commands, expected {count}")
            time.sleep(0.005)
        return self.command_log()
