"""Station, point, message and parameter objects shared by the threaded and asyncio clients.

The flavour-specific subclasses (``client.Point``, ``aio.AsyncPoint``, ...) add only the
operations that block or await (``transmit``, ``read``). Values are those of
:mod:`otwire.codecs.iec104.values` (``bool``, :class:`DoublePoint`, ``float``, ...).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from otwire.clients._checks import check_callable, check_int
from otwire.clients.iec104._enums import CommandMode
from otwire.codecs.iec104 import ASDU, Cot, Quality, TypeId, encode_asdu
from otwire.codecs.iec104.values import (
    COMMAND_TYPES,
    MONITOR_TYPES,
    TIME_TAGGED_TYPES,
    PointInfo,
    default_value,
    elements_from_info,
    info_from_elements,
)
from otwire.errors import EncodeError, InvalidArgument, InvalidArgumentType

__all__ = ["POINT_TYPES", "IncomingMessage", "PointBase", "ReceiveCallback", "StationBase", "coerce_info", "utc_now"]

#: Types a point may have: every monitor and command type with a process value.
POINT_TYPES: frozenset[TypeId] = (MONITOR_TYPES | COMMAND_TYPES) - {TypeId.M_EI_NA_1}

_MAX_IOA = 0xFFFFFF
_QUALITY_BITS = sum(int(flag) for flag in Quality)

PointT = TypeVar("PointT", bound="PointBase")

#: ``on_receive(point, previous_info, message)``; the return value is ignored.
ReceiveCallback = Callable[[Any, PointInfo, "IncomingMessage"], object]


def utc_now() -> _dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return _dt.datetime.now(_dt.UTC)


class IncomingMessage:
    """A received ASDU, positioned at one of its information objects.

    Args:
        asdu: The decoded ASDU.
        index: The information object the properties ``io_address`` and ``info`` refer to.

    Raises:
        InvalidArgumentType: ``asdu`` is not an ``ASDU`` or ``index`` not an ``int``.
    """

    __slots__ = ("_index", "asdu")

    def __init__(self, asdu: ASDU, index: int = 0) -> None:
        if not isinstance(asdu, ASDU):
            raise InvalidArgumentType(f"asdu must be an ASDU, not {type(asdu).__name__}")
        check_int("index", index)
        self.asdu = asdu
        self._index = index

    @property
    def type(self) -> TypeId | int:
        """Type identification."""
        return self.asdu.type_id

    @property
    def cot(self) -> Cot | int:
        """Cause of transmission."""
        return self.asdu.cot

    @property
    def common_address(self) -> int:
        """Common address of the ASDU (the station)."""
        return self.asdu.common_address

    @property
    def originator_address(self) -> int:
        """Originator address (0 = not used)."""
        return self.asdu.originator_address

    @property
    def is_negative(self) -> bool:
        """P/N bit: a negative confirmation."""
        return self.asdu.negative

    @property
    def is_test(self) -> bool:
        """T bit: sent for test."""
        return self.asdu.test

    @property
    def is_sequence(self) -> bool:
        """SQ bit: one address for a sequence of elements."""
        return self.asdu.sq

    @property
    def number_of_objects(self) -> int:
        """Information objects in the ASDU."""
        return len(self.asdu.objects)

    @property
    def io_address(self) -> int:
        """Address of the current information object (0 when there is none)."""
        objects = self.asdu.objects
        return objects[self._index].ioa if self._index < len(objects) else 0

    @property
    def info(self) -> PointInfo | None:
        """Value, quality and time of the current object, or ``None`` for types without a value."""
        objects = self.asdu.objects
        if self._index >= len(objects) or self.asdu.type_id not in POINT_TYPES:
            return None
        return info_from_elements(self.asdu.type_id, objects[self._index].elements)

    @property
    def is_select_command(self) -> bool:
        """True when the current object is a command with S/E = select."""
        info = self.info
        return info is not None and self.asdu.type_id in COMMAND_TYPES and info.select

    @property
    def raw(self) -> bytes:
        """The ASDU octets (without the APCI)."""
        return encode_asdu(self.asdu)

    def first(self) -> None:
        """Move to the first information object."""
        self._index = 0

    def next(self) -> bool:
        """Move to the next information object.

        Returns:
            False when there is none (the position does not change).
        """
        if self._index + 1 >= len(self.asdu.objects):
            return False
        self._index += 1
        return True

    def __repr__(self) -> str:
        t, c = self.asdu.type_id, self.asdu.cot
        tn = t.name if isinstance(t, TypeId) else str(t)
        cn = c.name if isinstance(c, Cot) else str(c)
        return f"<IncomingMessage {tn} {cn} ca={self.common_address} ioa={self.io_address}>"


def coerce_info(type_id: TypeId, info: PointInfo) -> PointInfo:
    """Check that ``info`` can be sent as ``type_id`` and return it with its value normalised.

    Raises:
        InvalidArgument: The value does not fit the type (the message says why).
    """
    stamp = info.recorded_at
    if stamp is None and type_id in TIME_TAGGED_TYPES:
        stamp = utc_now()
    try:
        elements = elements_from_info(
            type_id,
            info.value,
            quality=info.quality,
            recorded_at=stamp,
            transient=info.transient,
            select=info.select,
            qualifier=info.qualifier,
        )
    except EncodeError as exc:
        raise InvalidArgument(str(exc)) from exc
    return dataclasses.replace(info, value=info_from_elements(type_id, elements).value, elements=elements)


class PointBase:
    """One point (information object address) of a station: its type and latest information.

    Monitor points are updated from received data; command points hold the value that
    ``transmit()`` sends. Create points with ``station.add_point()``.
    """

    def __init__(
        self,
        station: StationBase[Any],
        io_address: int,
        type_id: TypeId,
        command_mode: CommandMode,
        related_io_address: int | None,
        related_io_autoreturn: bool,
    ) -> None:
        self._station = station
        self._io_address = io_address
        self._type = type_id
        self.command_mode = CommandMode(command_mode)
        """How ``transmit()`` sends a command: direct, or select then execute."""
        self.related_io_address = related_io_address
        """Address of a related monitor point (informational on a client)."""
        self.related_io_autoreturn = related_io_autoreturn
        """Kept for c104 compatibility (a server-side option)."""
        self._info = PointInfo(value=default_value(type_id))
        self._processed_at = utc_now()
        self._on_receive: ReceiveCallback | None = None

    @property
    def io_address(self) -> int:
        """Information object address (0..16777215)."""
        return self._io_address

    @property
    def type(self) -> TypeId:
        """Type identification."""
        return self._type

    @property
    def info(self) -> PointInfo:
        """The latest information: value, quality, time tag and wire elements."""
        return self._info

    @info.setter
    def info(self, value: PointInfo) -> None:
        if not isinstance(value, PointInfo):
            raise InvalidArgumentType(f"info must be a PointInfo, not {type(value).__name__}")
        self._info = coerce_info(self._type, value)
        self._processed_at = utc_now()

    @property
    def value(self) -> Any:
        """The process value (``bool``, :class:`DoublePoint`, ``int``, ``float``, ...).

        Setting it checks the value against the type (:class:`~otwire.errors.InvalidArgument`,
        a ``ValueError``, if it does not fit) and keeps quality and qualifier.
        """
        return self._info.value

    @value.setter
    def value(self, value: Any) -> None:
        self.info = dataclasses.replace(self._info, value=value, elements=())

    @property
    def quality(self) -> Quality:
        """Quality bits of the latest information."""
        return self._info.quality

    @quality.setter
    def quality(self, value: Quality | int) -> None:
        if not (isinstance(value, int) and value == value & _QUALITY_BITS):
            raise InvalidArgument(f"quality={value!r} is not a combination of Quality flags")
        self.info = dataclasses.replace(self._info, quality=Quality(value), elements=())

    @property
    def recorded_at(self) -> _dt.datetime | None:
        """Time tag carried with the latest information (UTC), or ``None``."""
        return self._info.recorded_at

    @property
    def processed_at(self) -> _dt.datetime:
        """When the latest information was stored locally (UTC)."""
        return self._processed_at

    @property
    def report_ms(self) -> int:
        """Periodic reporting interval; always 0 on a client (c104 compatibility)."""
        return 0

    @property
    def selected_by(self) -> int | None:
        """Always ``None`` on a client (c104 compatibility)."""
        return None

    def on_receive(self, callable: ReceiveCallback) -> None:  # noqa: A002 - c104's keyword name
        """Set the function called when data for this point arrives.

        Args:
            callable: ``f(point, previous_info, message)``; runs on the client thread (or the
                asyncio loop); its return value (c104: a ``ResponseState``) is ignored.

        Raises:
            InvalidArgumentType: ``callable`` cannot be called.
        """
        self._on_receive = check_callable("callable", callable)

    def _update(self, info: PointInfo) -> PointInfo:
        previous, self._info = self._info, info
        self._processed_at = utc_now()
        return previous

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ioa={self._io_address} type={self._type.name} value={self._info.value!r}>"


class StationBase(Generic[PointT]):
    """A remote station (common address) of a connection, holding its points.

    Args:
        connection: The connection that reaches the station.
        common_address: The station's common address (1..65534).
        point_factory: Builds the flavour's point class.
    """

    def __init__(
        self,
        connection: object,
        common_address: int,
        point_factory: Callable[..., PointT],
    ) -> None:
        self._connection = connection
        self._common_address = common_address
        self._points: dict[int, PointT] = {}
        self._point_factory = point_factory

    @property
    def common_address(self) -> int:
        """Common address of the station."""
        return self._common_address

    @property
    def points(self) -> list[PointT]:
        """All points, in the order they were added."""
        return list(self._points.values())

    @property
    def has_points(self) -> bool:
        """True when the station has at least one point."""
        return bool(self._points)

    @property
    def is_local(self) -> bool:
        """Always False: a client's stations are remote (c104 compatibility)."""
        return False

    def add_point(
        self,
        io_address: int,
        type: TypeId | int,  # noqa: A002 - c104's keyword name
        report_ms: int = 0,
        related_io_address: int | None = None,
        related_io_autoreturn: bool = False,
        command_mode: CommandMode = CommandMode.DIRECT,
    ) -> PointT | None:
        """Add a point.

        Args:
            io_address: Information object address, 0..16777215.
            type: Type identification (a monitor or command type with a value).
            report_ms: Must be 0 (periodic reporting is a server feature).
            related_io_address: Kept on the point (informational).
            related_io_autoreturn: Kept on the point (informational).
            command_mode: ``DIRECT`` or ``SELECT_AND_EXECUTE`` for command points.

        Returns:
            The new point, or ``None`` when the address is already taken.

        Raises:
            InvalidArgument: Invalid address, type, ``report_ms`` or ``command_mode``.
        """
        if not (isinstance(io_address, int) and 0 <= io_address <= _MAX_IOA):
            raise InvalidArgument(f"io_address={io_address!r} not in 0..{_MAX_IOA}")
        if not isinstance(type, int) or type not in POINT_TYPES:
            raise InvalidArgument(f"type {type!r} is not a monitor or command type with a value")
        if report_ms:
            raise InvalidArgument("report_ms is a server-side option; a client point must use 0")
        if related_io_address is not None and not (
            isinstance(related_io_address, int) and 0 <= related_io_address <= _MAX_IOA
        ):
            raise InvalidArgument(f"related_io_address={related_io_address!r} not in 0..{_MAX_IOA}")
        if command_mode not in tuple(CommandMode):
            raise InvalidArgument(f"command_mode={command_mode!r} is not a CommandMode")
        if io_address in self._points:
            return None
        point = self._point_factory(
            self, io_address, TypeId(type), CommandMode(command_mode), related_io_address, related_io_autoreturn
        )
        self._points[io_address] = point
        return point

    def get_point(self, io_address: int) -> PointT | None:
        """Find a point.

        Args:
            io_address: Its information object address.

        Returns:
            The point, or ``None``.

        Raises:
            InvalidArgumentType: ``io_address`` is not an ``int``.
        """
        return self._points.get(check_int("io_address", io_address))

    def remove_point(self, io_address: int) -> bool:
        """Remove a point (its data is then reported as unexpected).

        Args:
            io_address: Its information object address.

        Returns:
            False when there was no such point.

        Raises:
            InvalidArgumentType: ``io_address`` is not an ``int``.
        """
        return self._points.pop(check_int("io_address", io_address), None) is not None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ca={self._common_address} points={len(self._points)}>"
