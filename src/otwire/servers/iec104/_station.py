"""Stations and batches: the containers of points."""

from __future__ import annotations

import threading
from typing import Protocol

from otwire.codecs.iec104 import Cot, TypeId
from otwire.errors import LocalProtocolError
from otwire.servers.iec104._points import CommandMode, Point

__all__ = ["Batch", "Station", "StationServer"]


class StationServer(Protocol):
    """What a station needs from its server (:class:`~otwire.servers.iec104.BaseServer` is one)."""

    lock: threading.RLock

    def transmit_points(self, points: list[Point], cot: Cot) -> bool: ...

    def transmit_end_of_init(self, station: Station, cause: int = 0) -> bool: ...


class Station:
    """One common address of the outstation (create it with ``server.add_station``)."""

    def __init__(self, server: StationServer, common_address: int) -> None:
        if not (isinstance(common_address, int) and 1 <= common_address <= 0xFFFE):
            raise LocalProtocolError(f"common_address={common_address!r} not in 1..65534")
        self._server = server
        self._common_address = common_address
        self._points: dict[int, Point] = {}

    @property
    def server(self) -> StationServer:
        """The server this station belongs to."""
        return self._server

    @property
    def common_address(self) -> int:
        """Common address of ASDU, 1..65534."""
        return self._common_address

    @property
    def points(self) -> list[Point]:
        """The points, in IOA order."""
        with self._server.lock:
            return [self._points[ioa] for ioa in sorted(self._points)]

    @property
    def has_points(self) -> bool:
        """True if the station has at least one point."""
        return bool(self._points)

    def add_point(
        self,
        io_address: int,
        type: TypeId | int,  # noqa: A002 - c104's name
        report_ms: int = 0,
        related_io_address: int | None = None,
        related_io_autoreturn: bool = False,
        command_mode: CommandMode = CommandMode.DIRECT,
        *,
        interrogation_group: int = 0,
        counter_group: int = 0,
    ) -> Point:
        """Add a point.

        Args:
            io_address: Information object address, 0..16777215, unique in the station.
            type: A monitor type (M_*, not M_EI_NA_1) or a command type (C_SC ... C_BO,
                with or without time tag; a command point accepts both variants).
            report_ms: Periodic transmission interval of a monitor point, ms (0 = none).
            related_io_address: Monitor point that reports this command point's effect.
            related_io_autoreturn: After a successful command, send the related point with
                COT RETURN_INFO_REMOTE.
            command_mode: DIRECT or SELECT_AND_EXECUTE (command points; not C_BO, which has
                no S/E bit).
            interrogation_group: Group 1..16 answered by group interrogation (0 = none).
            counter_group: Counter group 1..4 answered by counter interrogation (0 = none).

        Returns:
            The new point (value: False, OFF, 0 or 0.0 by type; quality: good).

        Raises:
            LocalProtocolError: Duplicate IOA, unsupported type or an argument out of range.
        """
        if not 0 <= interrogation_group <= 16 or not 0 <= counter_group <= 4:
            raise LocalProtocolError("interrogation_group must be 0..16 and counter_group 0..4")
        point = Point(
            self,
            io_address,
            type,
            report_ms=report_ms,
            related_io_address=related_io_address,
            related_io_autoreturn=related_io_autoreturn,
            command_mode=command_mode,
            interrogation_group=interrogation_group,
            counter_group=counter_group,
        )
        with self._server.lock:
            if io_address in self._points:
                raise LocalProtocolError(f"station {self._common_address} already has IOA {io_address}")
            self._points[io_address] = point
        return point

    def get_point(self, io_address: int) -> Point | None:
        """Return the point at ``io_address``, or ``None``."""
        return self._points.get(io_address)

    def remove_point(self, io_address: int) -> bool:
        """Remove the point at ``io_address``; return False if there was none."""
        with self._server.lock:
            return self._points.pop(io_address, None) is not None

    def signal_initialized(self, cause: int = 0) -> bool:
        """Send end of initialization (M_EI_NA_1, COT INITIALIZED) to every started client.

        Args:
            cause: Cause of initialization (COI): 0 local power on, 1 local manual reset,
                2 remote reset.

        Returns:
            True if at least one client connection queued it (see ``BaseServer.transmit_points``).
        """
        return self._server.transmit_end_of_init(self, int(cause))

    def __repr__(self) -> str:
        return f"<Station CA={self._common_address} points={len(self._points)}>"


class Batch:
    """Several monitor points of one station and type sent in one ASDU (``server.transmit_batch``).

    Args:
        cause: Cause of transmission.
        points: Initial points.

    Raises:
        LocalProtocolError: See :meth:`add_point`.
    """

    def __init__(self, cause: Cot | int, points: list[Point] | None = None) -> None:
        self.cot = Cot(cause)
        self._points: list[Point] = []
        for point in points or ():
            self.add_point(point)

    def add_point(self, point: Point) -> None:
        """Add a point (same station and type as the first one).

        Raises:
            LocalProtocolError: A command point, a different station or type, or a duplicate.
        """
        if point.is_command:
            raise LocalProtocolError("a batch holds monitor points only")
        if self._points:
            first = self._points[0]
            if point.station is not first.station or point.type is not first.type:
                raise LocalProtocolError("all points of a batch must share station and type")
            if any(p is point for p in self._points):
                raise LocalProtocolError(f"point {point.io_address} is already in the batch")
        self._points.append(point)

    @property
    def points(self) -> list[Point]:
        """The points, in the order added."""
        return list(self._points)

    @property
    def has_points(self) -> bool:
        """True if the batch is not empty."""
        return bool(self._points)

    @property
    def number_of_objects(self) -> int:
        """How many points the batch holds."""
        return len(self._points)

    @property
    def type(self) -> TypeId | None:
        """Type identification of the points, or ``None`` while empty."""
        return self._points[0].type if self._points else None

    @property
    def common_address(self) -> int | None:
        """Common address of the points' station, or ``None`` while empty."""
        return self._points[0].station.common_address if self._points else None
