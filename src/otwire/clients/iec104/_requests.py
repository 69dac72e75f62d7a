"""The ASDUs a controlling station sends: interrogations, clock sync, test, read and commands.

Pure functions: they check the arguments (:class:`~otwire.errors.InvalidArgument`, a
``ValueError`` as in c104) and build ASDUs; the time tags use the current UTC time.
"""

from __future__ import annotations

from typing import Any

from otwire.clients.iec104._enums import CommandMode, Frz, Qoi, Rqt
from otwire.clients.iec104._model import PointBase, utc_now
from otwire.codecs.iec104 import ASDU, FBP, GLOBAL_ADDRESS, QCC, QOI, TSC, Cot, CP56Time2a, InformationObject, TypeId
from otwire.codecs.iec104.values import COMMAND_TYPES, TIME_TAGGED_TYPES, elements_from_info
from otwire.errors import EncodeError, InvalidArgument

__all__ = [
    "GLOBAL_ADDRESS",
    "clock_sync",
    "command",
    "counter_interrogation",
    "interrogation",
    "read",
    "test_command",
]

_REQUESTS = frozenset({Cot.ACTIVATION, Cot.DEACTIVATION})


def _asdu(type_id: TypeId, cot: Cot, ca: int, ioa: int, elements: tuple[Any, ...], oa: int) -> ASDU:
    return ASDU(
        type_id=type_id,
        cot=cot,
        common_address=ca,
        originator_address=oa,
        objects=(InformationObject(ioa, elements),),
    )


def _target(common_address: int) -> int:
    if not (isinstance(common_address, int) and 0 <= common_address <= GLOBAL_ADDRESS):
        raise InvalidArgument(f"common_address={common_address!r} not in 0..65535")
    return common_address or GLOBAL_ADDRESS  # c104: 0 and 65535 both mean "every station"


def _request_cot(cause: Cot | int) -> Cot:
    if not isinstance(cause, int) or cause not in _REQUESTS:
        raise InvalidArgument(f"cause must be ACTIVATION or DEACTIVATION, not {cause!r}")
    return Cot(cause)


def interrogation(common_address: int, cause: Cot | int, qualifier: Qoi | int, oa: int) -> ASDU:
    """Build a C_IC_NA_1.

    Args:
        common_address: Station, 0 or 65535 for all.
        cause: ACTIVATION or DEACTIVATION.
        qualifier: QOI 20..36.
        oa: Originator address.

    Returns:
        The request.

    Raises:
        InvalidArgument: An argument is out of range.
    """
    if not (isinstance(qualifier, int) and 20 <= qualifier <= 36):
        raise InvalidArgument(f"qualifier={qualifier!r} is not a Qoi (20..36)")
    cot = _request_cot(cause)
    return _asdu(TypeId.C_IC_NA_1, cot, _target(common_address), 0, (QOI(value=int(qualifier)),), oa)


def counter_interrogation(
    common_address: int, cause: Cot | int, qualifier: Rqt | int, freeze: Frz | int, oa: int
) -> ASDU:
    """Build a C_CI_NA_1.

    Args:
        common_address: Station, 0 or 65535 for all.
        cause: ACTIVATION or DEACTIVATION.
        qualifier: RQT (general or group 1..4).
        freeze: FRZ (read, freeze, freeze with reset, reset).
        oa: Originator address.

    Returns:
        The request.

    Raises:
        InvalidArgument: An argument is out of range.
    """
    cot = _request_cot(cause)
    if qualifier not in tuple(Rqt) or freeze not in tuple(Frz):
        raise InvalidArgument(f"qualifier={qualifier!r} is not an Rqt or freeze={freeze!r} is not a Frz")
    try:
        qcc = QCC(rqt=int(qualifier), frz=int(freeze))
    except EncodeError as exc:
        raise InvalidArgument(f"invalid counter interrogation qualifier: {exc}") from exc
    return _asdu(TypeId.C_CI_NA_1, cot, _target(common_address), 0, (qcc,), oa)


def clock_sync(common_address: int, oa: int) -> ASDU:
    """Build a C_CS_NA_1 carrying the current UTC time.

    Raises:
        InvalidArgument: ``common_address`` out of range.
    """
    stamp = CP56Time2a.from_datetime(utc_now())
    return _asdu(TypeId.C_CS_NA_1, Cot.ACTIVATION, _target(common_address), 0, (stamp,), oa)


def test_command(common_address: int, with_time: bool, counter: int, oa: int) -> ASDU:
    """Build a C_TS_TA_1 (test sequence ``counter`` and the UTC time) or a C_TS_NA_1.

    Raises:
        InvalidArgument: ``common_address`` out of range.
    """
    ca = _target(common_address)
    if not with_time:
        return _asdu(TypeId.C_TS_NA_1, Cot.ACTIVATION, ca, 0, (FBP(),), oa)
    elements = (TSC(value=counter & 0xFFFF), CP56Time2a.from_datetime(utc_now()))
    return _asdu(TypeId.C_TS_TA_1, Cot.ACTIVATION, ca, 0, elements, oa)


def read(point: PointBase, oa: int) -> ASDU:
    """Build a C_RD_NA_1 for ``point`` (any point may be read)."""
    return _asdu(TypeId.C_RD_NA_1, Cot.REQUEST, point._station.common_address, point.io_address, (), oa)


def command(point: PointBase, cause: Cot | int, oa: int) -> list[ASDU]:
    """Build the ASDUs that send ``point``'s value as a command.

    Args:
        point: A command point.
        cause: ACTIVATION, or DEACTIVATION to cancel (a select, in select-and-execute mode).
        oa: Originator address.

    Returns:
        ``[execute]`` in direct mode; ``[select, execute]`` in select-and-execute mode.

    Raises:
        InvalidArgument: Not a command point, another cause, or a value that does not fit.
    """
    if point.type not in COMMAND_TYPES:
        raise InvalidArgument(f"{point.type.name} is not a command type; a client transmits commands only")
    cot = _request_cot(cause)
    info = point.info
    stamp = utc_now() if point.type in TIME_TAGGED_TYPES else None
    ca = point._station.common_address

    def build(select: bool) -> ASDU:
        try:
            elements = elements_from_info(
                point.type, info.value, recorded_at=stamp, select=select, qualifier=info.qualifier
            )
        except EncodeError as exc:
            raise InvalidArgument(str(exc)) from exc
        return _asdu(point.type, cot, ca, point.io_address, elements, oa)

    if point.command_mode is CommandMode.SELECT_AND_EXECUTE:
        return [build(True), build(False)] if cot is Cot.ACTIVATION else [build(True)]
    return [build(False)]
