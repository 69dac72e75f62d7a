"""Porting helpers: c104's command information classes and number wrappers as plain values.

c104 wraps values in classes (``Int16(300)``, ``NormalizedFloat(0.5)``) and builds command
information with ``SingleCmd(True, Qoc.NONE)``. Here values are plain Python numbers and
information is a :class:`~otwire.codecs.iec104.values.PointInfo`; these functions let
ported code keep its spelling::

    point.info = SingleCmd(on=True, qualifier=Qoc.SHORT_PULSE)
    point.value = Int16(300)
"""

from __future__ import annotations

import datetime as _dt

from otwire.clients.iec104._enums import Qoc
from otwire.codecs.iec104 import DoubleCommandState, StepCommandState
from otwire.codecs.iec104.values import PointInfo
from otwire.errors import InvalidArgument

__all__ = [
    "BinaryCmd",
    "Byte32",
    "DoubleCmd",
    "Int7",
    "Int16",
    "NormalizedCmd",
    "NormalizedFloat",
    "ScaledCmd",
    "ShortCmd",
    "SingleCmd",
    "StepCmd",
    "UInt5",
    "UInt7",
    "UInt16",
]


def _ranged(value: int, low: int, high: int, name: str) -> int:
    if not (isinstance(value, int) and low <= value <= high):
        raise InvalidArgument(f"{name}({value!r}) not in {low}..{high}")
    return int(value)


def Int7(value: int) -> int:
    """Return ``value`` checked to -64..63 (step positions).

    Raises:
        InvalidArgument: Out of range.
    """
    return _ranged(value, -64, 63, "Int7")


def Int16(value: int) -> int:
    """Return ``value`` checked to -32768..32767 (scaled values).

    Raises:
        InvalidArgument: Out of range.
    """
    return _ranged(value, -32768, 32767, "Int16")


def UInt5(value: int) -> int:
    """Return ``value`` checked to 0..31.

    Raises:
        InvalidArgument: Out of range.
    """
    return _ranged(value, 0, 31, "UInt5")


def UInt7(value: int) -> int:
    """Return ``value`` checked to 0..127 (set-point qualifier QL).

    Raises:
        InvalidArgument: Out of range.
    """
    return _ranged(value, 0, 127, "UInt7")


def UInt16(value: int) -> int:
    """Return ``value`` checked to 0..65535.

    Raises:
        InvalidArgument: Out of range.
    """
    return _ranged(value, 0, 65535, "UInt16")


def NormalizedFloat(value: float) -> float:
    """Return ``value`` as a float checked to -1.0..1.0 (sent rounded to steps of 2**-15).

    Raises:
        InvalidArgument: Not a number, or out of range.
    """
    if not (isinstance(value, int | float) and -1.0 <= value <= 1.0):
        raise InvalidArgument(f"NormalizedFloat({value!r}) not in -1.0..1.0")
    return float(value)


def Byte32(value: bytes | int) -> int:
    """Return a 32-bit bitstring as ``int``: from 4 octets in wire order (little-endian) or an int.

    Raises:
        InvalidArgument: Not 4 octets, or an int outside 0..2**32-1.
    """
    if isinstance(value, bytes | bytearray):
        if len(value) != 4:
            raise InvalidArgument(f"Byte32 needs 4 octets, got {len(value)}")
        return int.from_bytes(value, "little")
    return _ranged(value, 0, 0xFFFFFFFF, "Byte32")


def _qoc(qualifier: Qoc | int) -> int:
    if not (isinstance(qualifier, int) and 0 <= qualifier <= 31):
        raise InvalidArgument(f"qualifier={qualifier!r} is not a Qoc (0..31)")
    return int(qualifier)


def SingleCmd(on: bool, qualifier: Qoc = Qoc.NONE, recorded_at: _dt.datetime | None = None) -> PointInfo:
    """Information of a single command (C_SC_NA_1 / C_SC_TA_1).

    Raises:
        InvalidArgument: ``qualifier`` not in 0..31.
    """
    return PointInfo(value=bool(on), qualifier=_qoc(qualifier), recorded_at=recorded_at)


def DoubleCmd(state: int, qualifier: Qoc = Qoc.NONE, recorded_at: _dt.datetime | None = None) -> PointInfo:
    """Information of a double command (C_DC_*); ``state`` may be ``Double.ON``/``OFF``.

    Raises:
        InvalidArgument: ``state`` not 0..3 or ``qualifier`` not in 0..31.
    """
    if state not in tuple(DoubleCommandState):
        raise InvalidArgument(f"state={state!r} is not a DoubleCommandState (0..3)")
    return PointInfo(value=DoubleCommandState(int(state)), qualifier=_qoc(qualifier), recorded_at=recorded_at)


def StepCmd(direction: int, qualifier: Qoc = Qoc.NONE, recorded_at: _dt.datetime | None = None) -> PointInfo:
    """Information of a regulating step command (C_RC_*); ``direction`` is ``Step.LOWER``/``HIGHER``.

    Raises:
        InvalidArgument: ``direction`` not 0..3 or ``qualifier`` not in 0..31.
    """
    if direction not in tuple(StepCommandState):
        raise InvalidArgument(f"direction={direction!r} is not a StepCommandState (0..3)")
    return PointInfo(value=StepCommandState(int(direction)), qualifier=_qoc(qualifier), recorded_at=recorded_at)


def NormalizedCmd(target: float, qualifier: int = 0, recorded_at: _dt.datetime | None = None) -> PointInfo:
    """Information of a normalised set-point (C_SE_NA_1 / C_SE_TA_1).

    Raises:
        InvalidArgument: ``target`` not in -1.0..1.0 or ``qualifier`` not in 0..127.
    """
    return PointInfo(value=NormalizedFloat(target), qualifier=UInt7(qualifier), recorded_at=recorded_at)


def ScaledCmd(target: int, qualifier: int = 0, recorded_at: _dt.datetime | None = None) -> PointInfo:
    """Information of a scaled set-point (C_SE_NB_1 / C_SE_TB_1).

    Raises:
        InvalidArgument: ``target`` not in -32768..32767 or ``qualifier`` not in 0..127.
    """
    return PointInfo(value=Int16(target), qualifier=UInt7(qualifier), recorded_at=recorded_at)


def ShortCmd(target: float, qualifier: int = 0, recorded_at: _dt.datetime | None = None) -> PointInfo:
    """Information of a short floating point set-point (C_SE_NC_1 / C_SE_TC_1).

    Raises:
        InvalidArgument: ``target`` not a number or ``qualifier`` not in 0..127.
    """
    if not isinstance(target, int | float):
        raise InvalidArgument(f"target={target!r} is not a number")
    return PointInfo(value=float(target), qualifier=UInt7(qualifier), recorded_at=recorded_at)


def BinaryCmd(blob: int, recorded_at: _dt.datetime | None = None) -> PointInfo:
    """Information of a bitstring command (C_BO_NA_1 / C_BO_TA_1); ``blob`` as from :func:`Byte32`.

    Raises:
        InvalidArgument: ``blob`` not in 0..2**32-1.
    """
    return PointInfo(value=Byte32(blob), recorded_at=recorded_at)
