"""The demo data set and ``otwire serve iec104``: a two-station outstation on loopback.

Station 1 (a feeder bay) has a point of every common monitor type, periodic
measurements, a frequency that changes spontaneously and command points that act on
their related monitor points (reported back with COT RETURN_INFO_REMOTE). Station 2 (a
meter) has integrated totals for counter interrogation and a few drifting values.
:data:`DEMO_POINTS` lists every point.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any, TextIO

from otwire.codecs.iec104 import Cot, DoubleCommandState, DoublePoint, StepCommandState, TypeId
from otwire.codecs.iec104.values import PointInfo
from otwire.servers._serving import run_until_signal
from otwire.servers.iec104._base import BaseServer
from otwire.servers.iec104._points import CommandMode, IncomingMessage, Point, ResponseState
from otwire.servers.iec104._session import LOGGER
from otwire.servers.iec104.server import AsyncServer
from otwire.transports.limits import ServerLimits

__all__ = ["DEFAULT_PORT", "DEMO_COMMANDS", "DEMO_POINTS", "populate", "serve"]

#: The IEC 60870-5-104 TCP port (-104 clause 10).
DEFAULT_PORT = 2404

T = TypeId
SBE = CommandMode.SELECT_AND_EXECUTE

#: Monitor points: (common address, IOA, type, initial value, report_ms, what it is).
DEMO_POINTS: tuple[tuple[int, int, TypeId, Any, int, str], ...] = (
    (1, 100, T.M_SP_NA_1, True, 0, "circuit breaker closed"),
    (1, 101, T.M_SP_TB_1, False, 0, "overcurrent alarm (toggles every 5 s, spontaneous)"),
    (1, 110, T.M_DP_NA_1, DoublePoint.ON, 0, "circuit breaker position"),
    (1, 111, T.M_DP_TB_1, DoublePoint.OFF, 0, "earthing switch position"),
    (1, 120, T.M_ST_NA_1, 5, 0, "transformer tap position"),
    (1, 121, T.M_ST_TB_1, -3, 0, "regulator step"),
    (1, 130, T.M_BO_NA_1, 0x000000A5, 0, "relay status word"),
    (1, 131, T.M_BO_TB_1, 0x12345678, 0, "firmware flags"),
    (1, 140, T.M_ME_NA_1, 0.42, 2000, "feeder load, normalized (periodic 2 s)"),
    (1, 141, T.M_ME_TD_1, -0.125, 0, "reactive load, normalized"),
    (1, 142, T.M_ME_ND_1, 0.25, 0, "power factor deviation, normalized without quality"),
    (1, 150, T.M_ME_NB_1, 230, 1000, "phase voltage V, scaled (periodic 1 s)"),
    (1, 151, T.M_ME_TE_1, 400, 0, "line voltage V, scaled"),
    (1, 160, T.M_ME_NC_1, 50.0, 0, "frequency Hz (random walk every 1 s, spontaneous)"),
    (1, 161, T.M_ME_TF_1, 12.5, 1000, "active power MW (periodic 1 s)"),
    (1, 170, T.M_PS_NA_1, 0b1010, 0, "packed door contacts"),
    (1, 180, T.M_EP_TD_1, DoublePoint.OFF, 0, "protection trip event"),
    (2, 200, T.M_IT_NA_1, 0, 0, "energy import kWh (counter group 1, counts every 1 s)"),
    (2, 201, T.M_IT_TB_1, 0, 0, "energy export kWh (counter group 2)"),
    (2, 210, T.M_ME_NC_1, 21.5, 5000, "cabinet temperature C (periodic 5 s)"),
    (2, 211, T.M_ME_TF_1, 1013.25, 0, "air pressure hPa (drifts every 3 s, spontaneous)"),
    (2, 220, T.M_SP_NA_1, False, 0, "cabinet door open (toggles every 7 s, spontaneous)"),
)

#: Command points of station 1: (IOA, type, related monitor IOA, mode, what it does).
DEMO_COMMANDS: tuple[tuple[int, TypeId, int, CommandMode, str], ...] = (
    (1000, T.C_SC_NA_1, 100, CommandMode.DIRECT, "close (ON) or open the breaker indication"),
    (1001, T.C_DC_NA_1, 110, SBE, "breaker ON/OFF, select before execute"),
    (1002, T.C_RC_NA_1, 120, CommandMode.DIRECT, "tap HIGHER/LOWER (refused beyond -64..63)"),
    (1003, T.C_SE_NA_1, 140, CommandMode.DIRECT, "load set-point (refused above 0.9)"),
    (1004, T.C_SE_NB_1, 150, CommandMode.DIRECT, "voltage set-point"),
    (1005, T.C_SE_NC_1, 161, SBE, "power set-point, select before execute"),
    (1006, T.C_BO_NA_1, 130, CommandMode.DIRECT, "status word"),
)

_COUNTER_GROUPS = {200: 1, 201: 2}


def populate(server: BaseServer, *, seed: int | None = None) -> None:
    """Add the demo stations, points and simulation callbacks to ``server``.

    Args:
        server: A server without stations 1 and 2.
        seed: Seed of the simulated measurements (``None``: random).

    Raises:
        LocalProtocolError: The server already has station 1 or 2.
    """
    rng = random.Random(seed)
    stations = {ca: server.add_station(ca) for ca in sorted({entry[0] for entry in DEMO_POINTS})}
    points: dict[int, Point] = {}
    for ca, ioa, type_id, value, report_ms, _ in DEMO_POINTS:
        point = stations[ca].add_point(ioa, type_id, report_ms=report_ms, counter_group=_COUNTER_GROUPS.get(ioa, 0))
        point.info = PointInfo(value=value)
        points[ioa] = point
    for ioa, type_id, related, mode, _ in DEMO_COMMANDS:
        command = stations[1].add_point(
            ioa, type_id, related_io_address=related, related_io_autoreturn=True, command_mode=mode
        )
        command.on_receive(_apply_command)
    points[101].on_timer(_toggle, 5000)
    points[220].on_timer(_toggle, 7000)
    points[160].on_timer(lambda p: _walk(p, rng, 0.02, 49.8, 50.2), 1000)
    points[211].on_timer(lambda p: _walk(p, rng, 0.1, 990.0, 1030.0), 3000)
    points[200].on_timer(lambda p: setattr(p, "value", (p.value + rng.randint(1, 5)) & 0x7FFFFFFF), 1000)


def _toggle(point: Point) -> None:
    point.value = not point.value
    point.transmit(Cot.SPONTANEOUS)


def _walk(point: Point, rng: random.Random, step: float, low: float, high: float) -> None:
    point.value = round(min(high, max(low, point.value + rng.uniform(-step, step))), 3)
    point.transmit(Cot.SPONTANEOUS)


def _apply_command(point: Point, previous_info: PointInfo, message: IncomingMessage) -> ResponseState:
    """Carry a command out on the related monitor point (the station then reports it)."""
    related = point.station.get_point(point.related_io_address or -1)
    if related is None or message.is_select_command:
        return ResponseState.SUCCESS
    value = message.info.value
    if point.type is T.C_DC_NA_1:
        if value not in (DoubleCommandState.ON, DoubleCommandState.OFF):
            return ResponseState.FAILURE
        related.value = DoublePoint.ON if value is DoubleCommandState.ON else DoublePoint.OFF
    elif point.type is T.C_RC_NA_1:
        step = {StepCommandState.HIGHER: 1, StepCommandState.LOWER: -1}.get(value)
        if step is None or not -64 <= related.value + step <= 63:
            return ResponseState.FAILURE
        related.value = related.value + step
    elif point.type is T.C_SE_NA_1 and abs(value) > 0.9:
        return ResponseState.FAILURE
    else:
        related.value = value
    return ResponseState.SUCCESS


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    duration: float | None = None,
    record: str | os.PathLike[str] | None = None,
    limits: ServerLimits | None = None,
    out: TextIO = sys.stdout,
    **proto_opts: Any,
) -> int:
    """Run the demo outstation until SIGINT or SIGTERM (or for ``duration`` seconds); blocking.

    ``otwire serve iec104``. Connections and refusals are logged to ``out`` while it runs;
    both signals stop it cleanly (clients closed, the capture completed).

    Args:
        host: Address to listen on.
        port: TCP port (0 picks a free one; the banner shows it).
        duration: Stop after this many seconds (``None``: run until a signal).
        record: Write every connection into this pcap file (``otwire inspect`` reads it).
        limits: Connection, time and memory limits (defaults when ``None``).
        out: Where the banner and the log go.
        **proto_opts: More :class:`~otwire.servers.iec104.AsyncServer` arguments
            (``tick_rate_ms``, ``protocol_parameters``, ``end_of_init``, ...), and ``seed``
            for :func:`populate`.

    Returns:
        0 after a clean stop, 2 when the server cannot start (message on stderr).

    Raises:
        InvalidArgument: ``port`` is not in 0..65535.
        LocalProtocolError: Another argument is out of range.
    """
    seed = proto_opts.pop("seed", None)
    server = AsyncServer(host, port, record=record, limits=limits, **proto_opts)
    populate(server, seed=seed)
    return run_until_signal(
        server, command="otwire serve iec104", banner=lambda: _banner(server), duration=duration, out=out, logger=LOGGER
    )


def _banner(server: AsyncServer) -> str:
    total = sum(len(s.points) for s in server.stations)
    lines = [f"otwire IEC 60870-5-104 outstation on {server.ip}:{server.port} ({total} points)"]
    for station in server.stations:
        commands = sum(1 for p in station.points if p.is_command)
        monitor = len(station.points) - commands
        lines.append(f"  station {station.common_address}: {monitor} monitor points, {commands} command points")
    if server.record is not None:
        lines.append(f"  recording to {os.fspath(server.record)}")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)
