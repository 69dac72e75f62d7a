"""Points: the data model of the outstation (stations are in ``_station``, which imports this module).

A station is one common address; a :class:`Point` is one information object
address with a monitor type (M_*) or a command type (C_*). Point values are immutable
:class:`~otwire.codecs.iec104.values.PointInfo` snapshots swapped in one assignment, so any
thread may read or set them while the server's event loop thread transmits them.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from otwire.codecs.iec104 import ASDU, Cot, InformationObject, Quality, TypeId
from otwire.codecs.iec104.layouts import LAYOUTS
from otwire.codecs.iec104.values import (
    COMMAND_TYPES,
    MONITOR_TYPES,
    TIME_TAGGED_TYPES,
    CommandMode,
    PointInfo,
    ResponseState,
    default_value,
    elements_from_info,
    info_from_elements,
)
from otwire.errors import LocalProtocolError

__all__ = [
    "CommandMode",
    "IncomingMessage",
    "Point",
    "PointCallback",
    "ReceiveCallback",
    "ResponseState",
]

#: Monitor types a point may have (M_EI_NA_1 is sent by :meth:`Station.signal_initialized`).
POINT_MONITOR_TYPES = MONITOR_TYPES - {TypeId.M_EI_NA_1}
#: Integrated totals: answered by counter interrogation, not by general interrogation.
COUNTER_TYPES = frozenset({TypeId.M_IT_NA_1, TypeId.M_IT_TA_1, TypeId.M_IT_TB_1})
#: Protection events are events only: neither interrogation answers them.
_EVENT_TYPES = frozenset(t for t in MONITOR_TYPES if TypeId.M_EP_TA_1 <= t <= TypeId.M_EP_TC_1)
_EVENT_TYPES |= frozenset(t for t in MONITOR_TYPES if TypeId.M_EP_TD_1 <= t <= TypeId.M_EP_TF_1)
#: Monitor types answered by a (station or group) interrogation.
INTERROGATED_TYPES = POINT_MONITOR_TYPES - COUNTER_TYPES - _EVENT_TYPES
#: Time-tagged command type -> the same command without time tag (one point serves both).
COMMAND_FAMILY: dict[int, TypeId] = {int(t): t for t in COMMAND_TYPES} | {
    TypeId.C_SC_TA_1: TypeId.C_SC_NA_1,
    TypeId.C_DC_TA_1: TypeId.C_DC_NA_1,
    TypeId.C_RC_TA_1: TypeId.C_RC_NA_1,
    TypeId.C_SE_TA_1: TypeId.C_SE_NA_1,
    TypeId.C_SE_TB_1: TypeId.C_SE_NB_1,
    TypeId.C_SE_TC_1: TypeId.C_SE_NC_1,
    TypeId.C_BO_TA_1: TypeId.C_BO_NA_1,
}
#: Command types without an S/E bit (BSI): they cannot be operated select-before-execute.
_NO_SELECT = frozenset({TypeId.C_BO_NA_1, TypeId.C_BO_TA_1})
_CHECK_TIME = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingMessage:
    """A command as received, handed to :meth:`Point.on_receive` callbacks."""

    asdu: ASDU
    """The ASDU as decoded."""
    info: PointInfo
    """The command's value, select bit and qualifier."""
    ip: str
    """Address of the client that sent it."""
    port: int
    """TCP port of the client that sent it."""

    @property
    def type(self) -> TypeId | int:
        """Type identification of the command."""
        return self.asdu.type_id

    @property
    def cot(self) -> Cot | int:
        """Cause of transmission (ACTIVATION for commands)."""
        return self.asdu.cot

    @property
    def common_address(self) -> int:
        """Common address of the ASDU."""
        return self.asdu.common_address

    @property
    def io_address(self) -> int:
        """Information object address."""
        return self.asdu.objects[0].ioa if self.asdu.objects else 0

    @property
    def originator_address(self) -> int:
        """Originator address of the client (0 = not used)."""
        return self.asdu.originator_address

    @property
    def is_select_command(self) -> bool:
        """True for a select (S/E=1), False for an execute."""
        return self.info.select

    @property
    def is_test(self) -> bool:
        """The T (test) bit of the cause of transmission."""
        return self.asdu.test


#: ``callback(point, previous_info, message) -> ResponseState`` (a bool is accepted too).
ReceiveCallback = Callable[["Point", PointInfo, IncomingMessage], "ResponseState | bool"]
#: ``callback(point) -> None`` (before read, before periodic transmission, timer).
PointCallback = Callable[["Point"], None]


@dataclass(slots=True)
class Selection:
    """A select waiting for its execute (select-and-execute mode)."""

    owner: object
    """The client connection that selected."""
    deadline: float
    """Event loop time after which the select has expired, seconds."""
    originator_address: int
    info: PointInfo = field(repr=False)


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _changed(info: PointInfo, value: Any, quality: Quality, when: _dt.datetime) -> PointInfo:
    """``info`` with a new value, quality and time, elements to be rebuilt (``replace`` is slow)."""
    return PointInfo(
        value=value,
        quality=quality,
        recorded_at=when,
        transient=info.transient,
        select=info.select,
        qualifier=info.qualifier,
    )


class PointServer(Protocol):
    """What a point needs from its server (``Point.transmit``)."""

    def transmit_points(self, points: list[Point], cot: Cot) -> bool: ...


class PointStation(Protocol):
    """What a point needs from its station (:class:`~otwire.servers.iec104.Station` is one)."""

    @property
    def common_address(self) -> int: ...

    @property
    def server(self) -> PointServer: ...

    def get_point(self, io_address: int) -> Point | None: ...


class Point:
    """One information object of a station (create it with :meth:`Station.add_point`).

    Monitor points hold the value that interrogations, reads and spontaneous or periodic
    transmissions report. Command points hold the last command received.
    """

    def __init__(
        self,
        station: PointStation,
        io_address: int,
        type_id: TypeId | int,
        *,
        report_ms: int = 0,
        related_io_address: int | None = None,
        related_io_autoreturn: bool = False,
        command_mode: CommandMode = CommandMode.DIRECT,
        interrogation_group: int = 0,
        counter_group: int = 0,
    ) -> None:
        if not (isinstance(io_address, int) and 0 <= io_address <= 0xFFFFFF):
            raise LocalProtocolError(f"io_address={io_address!r} not in 0..16777215")
        if type_id not in POINT_MONITOR_TYPES and type_id not in COMMAND_TYPES:
            raise LocalProtocolError(f"type {type_id!r} is neither a monitor nor a command type with a value")
        self._station = station
        self._io_address = io_address
        self._type = TypeId(type_id)
        if command_mode is CommandMode.SELECT_AND_EXECUTE and self._type in _NO_SELECT:
            raise LocalProtocolError(f"{self._type.name} has no S/E bit: it cannot be select-and-execute")
        self._info = self._build(PointInfo(value=default_value(self._type)))
        self._report_ms = 0
        self.next_report: float | None = None
        self.report_ms = report_ms
        self.related_io_address = related_io_address
        self.related_io_autoreturn = related_io_autoreturn
        self.command_mode = command_mode
        self.interrogation_group = interrogation_group
        self.counter_group = counter_group
        self.receive_callback: ReceiveCallback | None = None
        self.before_read_callback: PointCallback | None = None
        self.before_auto_transmit_callback: PointCallback | None = None
        self.timer_callback: PointCallback | None = None
        self._timer_ms = 0
        self.next_timer: float | None = None
        self.selection: Selection | None = None

    # -- identity --------------------------------------------------------------------

    @property
    def station(self) -> PointStation:
        """The station this point belongs to."""
        return self._station

    @property
    def io_address(self) -> int:
        """Information object address."""
        return self._io_address

    @property
    def type(self) -> TypeId:
        """Type identification of the point."""
        return self._type

    @property
    def is_command(self) -> bool:
        """True for a command point (C_*), False for a monitor point (M_*)."""
        return self._type in COMMAND_TYPES

    # -- value -----------------------------------------------------------------------

    @property
    def info(self) -> PointInfo:
        """The current value, quality and time tag as one snapshot.

        Setting it with empty ``elements`` builds them from ``value``/``quality``/
        ``recorded_at``; with ``elements`` given, they are used as they are (exact wire
        content, e.g. BCR sequence numbers) and the other fields are read from them.

        Raises:
            EncodeError: The value does not fit the point's type (on set).
            LocalProtocolError: ``elements`` do not match the type's layout (on set).
        """
        return self._info

    @info.setter
    def info(self, info: PointInfo) -> None:
        self._info = self._build(info)

    @property
    def value(self) -> Any:
        """The process value (bool, DoublePoint, int, float, ... by type); setting it stamps ``recorded_at``.

        Raises:
            EncodeError: The value does not fit the point's type (on set).
        """
        return self._info.value

    @value.setter
    def value(self, value: Any) -> None:
        self._info = self._build(_changed(self._info, value, self._info.quality, _utcnow()))

    @property
    def quality(self) -> Quality:
        """Quality bits (IV, NT, SB, BL, OV, EI); setting them stamps ``recorded_at``.

        Raises:
            EncodeError: Not a ``Quality``/int (on set).
        """
        return self._info.quality

    @quality.setter
    def quality(self, quality: Quality | int) -> None:
        self._info = self._build(_changed(self._info, self._info.value, Quality(quality), _utcnow()))

    @property
    def recorded_at(self) -> _dt.datetime | None:
        """When the value last changed (UTC), or ``None`` if never set."""
        return self._info.recorded_at

    def _build(self, info: PointInfo) -> PointInfo:
        if info.elements:
            if tuple(map(type, info.elements)) != LAYOUTS[self._type]:
                raise LocalProtocolError(f"elements do not match the layout of {self._type.name}")
            return info_from_elements(self._type, info.elements)
        when = info.recorded_at
        if when is None and self._type in TIME_TAGGED_TYPES:
            self._elements(info, _CHECK_TIME)  # validate; the time tag is added at transmission
            return info
        elements = self._elements(info, when)
        return PointInfo(
            value=info.value,
            quality=info.quality,
            recorded_at=when,
            elements=elements,
            transient=info.transient,
            select=info.select,
            qualifier=info.qualifier,
        )

    def _elements(self, info: PointInfo, when: _dt.datetime | None) -> tuple[Any, ...]:
        return elements_from_info(
            self._type,
            info.value,
            quality=int(info.quality),
            recorded_at=when,
            transient=info.transient,
            select=info.select,
            qualifier=info.qualifier,
        )

    def information_object(self) -> InformationObject:
        """Return the point as an information object (time tag "now" if never set).

        Raises:
            EncodeError: The stored value cannot be encoded (not expected).
        """
        info = self._info
        elements = info.elements or self._elements(info, info.recorded_at or _utcnow())
        return InformationObject(self._io_address, elements)

    # -- periodic and timer ----------------------------------------------------------

    @property
    def report_ms(self) -> int:
        """Interval of periodic transmission (COT PERIODIC) in milliseconds; 0 = none.

        Raises:
            LocalProtocolError: Negative, or set on a command point (on set).
        """
        return self._report_ms

    @report_ms.setter
    def report_ms(self, value: int) -> None:
        if not (isinstance(value, int) and value >= 0):
            raise LocalProtocolError(f"report_ms={value!r} must be a non-negative int")
        if value and self.is_command:
            raise LocalProtocolError("report_ms applies to monitor points only")
        self._report_ms = value
        self.next_report = None

    @property
    def timer_ms(self) -> int:
        """Interval of the :meth:`on_timer` callback in milliseconds; 0 = none."""
        return self._timer_ms

    @property
    def selected_by(self) -> int | None:
        """Originator address of the client holding a select on this point, else ``None``."""
        selection = self.selection
        return None if selection is None else selection.originator_address

    # -- callbacks -------------------------------------------------------------------

    def on_receive(self, callable: ReceiveCallback | None) -> None:  # noqa: A002 - c104's name
        """Set the command callback ``callable(point, previous_info, message) -> ResponseState``.

        It runs in the server's event loop thread (keep it short), for selects and
        executes; during an execute ``point.value`` already holds the new value, and a
        ``FAILURE`` restores ``previous_info``. Without a callback every command succeeds.
        Returning a bool means SUCCESS/FAILURE; an exception is logged and means FAILURE.

        Args:
            callable: The callback, or ``None`` to remove it.
        """
        self.receive_callback = callable

    def on_before_read(self, callable: PointCallback | None) -> None:  # noqa: A002 - c104's name
        """Set ``callable(point)``, called before a read or an interrogation reports the point.

        Args:
            callable: The callback (it may update ``point.value``), or ``None``.
        """
        self.before_read_callback = callable

    def on_before_auto_transmit(self, callable: PointCallback | None) -> None:  # noqa: A002 - c104's name
        """Set ``callable(point)``, called before each periodic transmission of the point.

        Args:
            callable: The callback (it may update ``point.value``), or ``None``.
        """
        self.before_auto_transmit_callback = callable

    def on_timer(self, callable: PointCallback | None, interval_ms: int = 0) -> None:  # noqa: A002 - c104's name
        """Call ``callable(point)`` every ``interval_ms`` milliseconds in the event loop thread.

        Args:
            callable: The callback (e.g. it changes the value and transmits), or ``None``.
            interval_ms: Interval, milliseconds (at least the server's ``tick_rate_ms``).

        Raises:
            LocalProtocolError: ``interval_ms`` not positive while ``callable`` is given.
        """
        if callable is not None and not (isinstance(interval_ms, int) and interval_ms > 0):
            raise LocalProtocolError(f"interval_ms={interval_ms!r} must be a positive int")
        self.timer_callback = callable
        self._timer_ms = interval_ms if callable is not None else 0
        self.next_timer = None

    # -- transmission ----------------------------------------------------------------

    def transmit(self, cause: Cot | int = Cot.SPONTANEOUS) -> bool:
        """Send the point's current value to every client with data transfer started.

        Args:
            cause: Cause of transmission (SPONTANEOUS, PERIODIC, RETURN_INFO_REMOTE, ...).

        Returns:
            True if at least one client connection queued it (see
            :meth:`~otwire.servers.iec104.BaseServer.transmit_points` for what that promises).

        Raises:
            LocalProtocolError: The point is a command point, or has been removed.
        """
        if self.is_command:
            raise LocalProtocolError("a command point is not transmitted by the station")
        server = self._station.server
        if self._station.get_point(self._io_address) is not self:
            raise LocalProtocolError(f"point {self._io_address} was removed from its station")
        return server.transmit_points([self], Cot(cause))

    def __repr__(self) -> str:
        ca, ioa = self._station.common_address, self._io_address
        return f"<Point CA={ca} IOA={ioa} {self._type.name} value={self.value!r}>"
