"""Point values: information elements <-> one value, quality and time (IEC 60870-5-101 7.2.6, 7.3).

Clients and outstations think in points ("IOA 1001 is ON, invalid, at 12:00:01"); the
wire carries element tuples (``SIQ(spi=True, quality=Quality.IV), CP56Time2a(...)``).
This module maps one to the other for every monitor and command type that has a
process value:

========================================  ====================================
type identifications                      ``value``
========================================  ====================================
M_SP_*, C_SC_*                            ``bool`` (ON = True)
M_DP_*, M_EP_TA_1/TD_1 (SEP)              :class:`DoublePoint`
C_DC_*                                    :class:`DoubleCommandState`
M_ST_* (VTI)                              ``int`` -64..63 (``transient`` apart)
C_RC_*                                    :class:`StepCommandState`
M_BO_*, C_BO_*                            ``int`` 0..2**32-1 (bit string)
M_ME_NA/TA/TD/ND, C_SE_NA/TA              ``float`` -1.0..1.0 - 2**-15 (normalized)
M_ME_NB/TB/TE, C_SE_NB/TB                 ``int`` -32768..32767 (scaled)
M_ME_NC/TC/TF, C_SE_NC/TC                 ``float`` (IEEE 754 short)
M_IT_*                                    ``int`` counter (signed 32 bit)
M_EP_TB_1/TE_1 (SPE)                      :class:`StartEvents`
M_EP_TC_1/TF_1 (OCI)                      :class:`OutputCircuit`
M_PS_NA_1                                 ``int`` status bits ST (CD in ``elements``)
M_EI_NA_1                                 ``int`` cause of initialization (COI)
========================================  ====================================

The codec has no clock: time-tagged types need ``recorded_at`` when building.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.layouts import LAYOUTS
from otwire.codecs.iec104.types import (
    DoubleCommandState,
    DoublePoint,
    OutputCircuit,
    Quality,
    StartEvents,
    StepCommandState,
    TypeId,
)
from otwire.errors import EncodeError

__all__ = [
    "COMMAND_TYPES",
    "MONITOR_TYPES",
    "TIME_TAGGED_TYPES",
    "CommandMode",
    "PointInfo",
    "ResponseState",
    "default_value",
    "elements_from_info",
    "info_from_elements",
]

_NO_QUALITY = Quality(0)
_VALUE_ELEMENTS = (
    el.SIQ,
    el.DIQ,
    el.VTI,
    el.BSI,
    el.NVA,
    el.SVA,
    el.R32,
    el.BCR,
    el.SEP,
    el.SPE,
    el.OCI,
    el.SCD,
    el.COI,
    el.SCO,
    el.DCO,
    el.RCO,
)


def _types(low: int, high: int) -> frozenset[TypeId]:
    return frozenset(t for t in TypeId if low <= t <= high and any(c in _VALUE_ELEMENTS for c in LAYOUTS[t]))


#: Monitor-direction types with a process value (1..40 and M_EI_NA_1).
MONITOR_TYPES: frozenset[TypeId] = _types(1, 40) | {TypeId.M_EI_NA_1}
#: Command types with a process value (C_SC/C_DC/C_RC/C_SE/C_BO, with and without time tag).
COMMAND_TYPES: frozenset[TypeId] = _types(45, 64)
#: Types whose objects carry a CP24Time2a or CP56Time2a time tag.
TIME_TAGGED_TYPES: frozenset[TypeId] = frozenset(
    t for t in MONITOR_TYPES | COMMAND_TYPES if el.CP24Time2a in LAYOUTS[t] or el.CP56Time2a in LAYOUTS[t]
)


class CommandMode(enum.IntEnum):
    """How a command point is operated (one enum for clients and outstations; c104's values).

    Re-exported as ``otwire.clients.iec104.CommandMode`` and ``otwire.servers.iec104.CommandMode``
    (the same object).
    """

    DIRECT = 0
    """One activation (S/E = 0, execute); an outstation refuses a select."""
    SELECT_AND_EXECUTE = 1
    """A select (S/E = 1) that must be confirmed, then the execute (S/E = 0) within the select timeout."""


class ResponseState(enum.IntEnum):
    """What a command (or clock synchronization) callback answers (one enum for both sides; c104's values).

    An outstation's callback returns it to choose the confirmation; a client's
    ``Point.on_receive`` may return it too (ignored there). Re-exported as
    ``otwire.clients.iec104.ResponseState`` and ``otwire.servers.iec104.ResponseState``
    (the same object).
    """

    FAILURE = 0
    """Negative confirmation (ACT_CON with P/N = 1)."""
    SUCCESS = 1
    """Positive confirmation (ACT_CON, then ACT_TERM in select-and-execute mode)."""
    NONE = 2
    """No confirmation at all (simulates a station that does not answer)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PointInfo:
    """One information object seen as a point: value, quality and time.

    ``elements`` keeps the exact wire elements (nothing is lost, e.g. BCR sequence
    bits or CP16 elapsed times).
    """

    value: Any
    """The process value; its Python type depends on the type identification (module table)."""
    quality: Quality = _NO_QUALITY
    """Quality bits (SIQ/DIQ/QDS/QDP/SEP); BCR's IV bit maps to ``Quality.IV``."""
    recorded_at: _dt.datetime | None = None
    """Time tag from CP56Time2a (UTC-aware), else ``None`` (CP24 carries no date)."""
    elements: tuple[el.Element, ...] = ()
    """The information elements in wire order."""
    transient: bool = False
    """VTI transient state (M_ST_*)."""
    select: bool = False
    """S/E bit of a command: True = select, False = execute."""
    qualifier: int = 0
    """QU of SCO/DCO/RCO, or QL of QOS (set-points)."""


_READERS: dict[type[el.Element], Callable[[Any], dict[str, Any]]] = {
    el.SIQ: lambda e: {"value": e.spi, "quality": e.quality},
    el.DIQ: lambda e: {"value": e.dpi, "quality": e.quality},
    el.VTI: lambda e: {"value": e.value, "transient": e.transient},
    el.BSI: lambda e: {"value": e.value},
    el.NVA: lambda e: {"value": e.value},
    el.SVA: lambda e: {"value": e.value},
    el.R32: lambda e: {"value": e.value},
    el.BCR: lambda e: {"value": e.counter, "quality": Quality.IV if e.invalid else Quality(0)},
    el.SEP: lambda e: {"value": e.es, "quality": e.quality},
    el.SPE: lambda e: {"value": e.events},
    el.OCI: lambda e: {"value": e.circuits},
    el.SCD: lambda e: {"value": e.st},
    el.COI: lambda e: {"value": e.cause},
    el.SCO: lambda e: {"value": e.scs, "select": e.select, "qualifier": e.qu},
    el.DCO: lambda e: {"value": e.dcs, "select": e.select, "qualifier": e.qu},
    el.RCO: lambda e: {"value": e.rcs, "select": e.select, "qualifier": e.qu},
    el.QDS: lambda e: {"quality": e.quality},
    el.QDP: lambda e: {"quality": e.quality},
    el.QOS: lambda e: {"select": e.select, "qualifier": e.ql},
}


def _time(element: el.CP56Time2a) -> _dt.datetime | None:
    try:
        return element.to_datetime(tzinfo=_dt.UTC)
    except ValueError:  # out-of-range calendar fields: the raw octets stay in ``elements``
        return None


def info_from_elements(type_id: int, elements: tuple[el.Element, ...]) -> PointInfo:
    """Read one information object's elements as a point.

    Args:
        type_id: The ASDU's type identification.
        elements: The object's elements in wire order.

    Returns:
        The value, quality, time tag and command bits; ``value`` is ``None`` for types
        without a process value.
    """
    fields: dict[str, Any] = {"value": None}
    for element in elements:
        reader = _READERS.get(type(element))
        if reader is not None:
            fields.update(reader(element))
        elif type(element) is el.CP56Time2a:
            fields["recorded_at"] = _time(element)
    return PointInfo(elements=tuple(elements), **fields)


def _quality(quality: int, mask: int) -> Quality:
    return Quality(quality & mask)


@dataclass(frozen=True, slots=True)
class _Args:
    value: Any
    quality: int
    recorded_at: _dt.datetime | None
    transient: bool
    select: bool
    qualifier: int


_BUILDERS: dict[type[el.Element], Callable[[_Args], el.Element]] = {
    el.SIQ: lambda a: el.SIQ(spi=bool(a.value), quality=_quality(a.quality, 0xF0)),
    el.DIQ: lambda a: el.DIQ(dpi=DoublePoint(a.value), quality=_quality(a.quality, 0xF0)),
    el.VTI: lambda a: el.VTI(value=int(a.value), transient=a.transient),
    el.BSI: lambda a: el.BSI(value=int(a.value)),
    el.NVA: lambda a: el.NVA.from_value(float(a.value)),
    el.SVA: lambda a: el.SVA(value=int(a.value)),
    el.R32: lambda a: el.R32(value=float(a.value)),
    el.BCR: lambda a: el.BCR(counter=int(a.value), invalid=bool(a.quality & Quality.IV)),
    el.SEP: lambda a: el.SEP(es=DoublePoint(a.value), quality=_quality(a.quality, 0xF8)),
    el.SPE: lambda a: el.SPE(events=StartEvents(a.value)),
    el.OCI: lambda a: el.OCI(circuits=OutputCircuit(a.value)),
    el.SCD: lambda a: el.SCD(st=int(a.value)),
    el.COI: lambda a: el.COI(cause=int(a.value)),
    el.SCO: lambda a: el.SCO(scs=bool(a.value), select=a.select, qu=a.qualifier),
    el.DCO: lambda a: el.DCO(dcs=DoubleCommandState(a.value), select=a.select, qu=a.qualifier),
    el.RCO: lambda a: el.RCO(rcs=StepCommandState(a.value), select=a.select, qu=a.qualifier),
    el.QDS: lambda a: el.QDS(quality=_quality(a.quality, 0xF1)),
    el.QDP: lambda a: el.QDP(quality=_quality(a.quality, 0xF8)),
    el.QOS: lambda a: el.QOS(ql=a.qualifier, select=a.select),
    el.CP16Time2a: lambda a: el.CP16Time2a(milliseconds=0),
    el.CP24Time2a: lambda a: el.CP24Time2a.from_timedelta(_within_hour(a.recorded_at)),
    el.CP56Time2a: lambda a: el.CP56Time2a.from_datetime(_required(a.recorded_at)),
}


def _required(recorded_at: _dt.datetime | None) -> _dt.datetime:
    if recorded_at is None:
        raise EncodeError("a time-tagged type needs recorded_at")
    if recorded_at.tzinfo is not None:
        recorded_at = recorded_at.astimezone(_dt.UTC)
    return recorded_at


def _within_hour(recorded_at: _dt.datetime | None) -> _dt.timedelta:
    when = _required(recorded_at)
    return _dt.timedelta(minutes=when.minute, seconds=when.second, microseconds=when.microsecond)


def elements_from_info(
    type_id: int,
    value: Any,
    *,
    quality: int = 0,
    recorded_at: _dt.datetime | None = None,
    transient: bool = False,
    select: bool = False,
    qualifier: int = 0,
) -> tuple[el.Element, ...]:
    """Build one information object's elements from a point value.

    Args:
        type_id: A type of :data:`MONITOR_TYPES` or :data:`COMMAND_TYPES`.
        value: The process value (module table); enums may be given as ints.
        quality: Quality bits; bits the type cannot carry are dropped.
        recorded_at: Time tag for time-tagged types (aware datetimes are converted to UTC).
        transient: VTI transient bit (M_ST_*).
        select: S/E bit of commands and set-points.
        qualifier: QU (SCO/DCO/RCO) or QL (QOS), 0..31 / 0..127.

    Returns:
        The elements in wire order, ready for ``InformationObject(ioa, elements)``.

    Raises:
        EncodeError: unknown or value-less type, a value out of range, or a missing
            ``recorded_at`` for a time-tagged type.
    """
    if type_id not in MONITOR_TYPES and type_id not in COMMAND_TYPES:
        raise EncodeError(f"type_id {type_id} has no point value")
    args = _Args(value, quality, recorded_at, transient, select, qualifier)
    try:
        return tuple(_BUILDERS[cls](args) for cls in LAYOUTS[type_id])
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"value {value!r} does not fit type_id {TypeId(type_id).name}: {exc}") from exc


_DEFAULTS: dict[type[el.Element], Any] = {
    el.SIQ: False,
    el.SCO: False,
    el.DIQ: DoublePoint.OFF,
    el.SEP: DoublePoint.OFF,
    el.DCO: DoubleCommandState.OFF,
    el.RCO: StepCommandState.LOWER,
    el.NVA: 0.0,
    el.R32: 0.0,
    el.SPE: StartEvents(0),
    el.OCI: OutputCircuit(0),
}


def default_value(type_id: int) -> Any:
    """Return the initial value of a new point of ``type_id`` (False, OFF, 0 or 0.0).

    Raises:
        EncodeError: the type has no point value.
    """
    if type_id not in MONITOR_TYPES and type_id not in COMMAND_TYPES:
        raise EncodeError(f"type_id {type_id} has no point value")
    first = next(cls for cls in LAYOUTS[type_id] if cls in _VALUE_ELEMENTS)
    return _DEFAULTS.get(first, 0)
