"""What the outstation answers to each request in the control direction.

IEC 60870-5-101 7.4 and -104 clause 8: system commands (interrogation, counter
interrogation, read, clock synchronization, test, reset process) and process commands
(single, double, regulating step, set-points, bit string; with or without time tag).
Requests are checked in order: type identification (COT 44), cause (45), common address
(46), information object address (47); each refusal mirrors the request with P/N=1.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from otwire.codecs.iec104 import ASDU, GLOBAL_ADDRESS, QCC, QOI, QRP, Cot, CP56Time2a, TypeId
from otwire.codecs.iec104.values import PointInfo, info_from_elements
from otwire.servers.iec104._points import (
    COMMAND_FAMILY,
    COUNTER_TYPES,
    INTERROGATED_TYPES,
    CommandMode,
    IncomingMessage,
    Point,
    PointCallback,
    ResponseState,
    Selection,
)
from otwire.servers.iec104._station import Station
from otwire.servers.iec104._wire import mirror, pack_points

__all__ = ["GLOBAL_ADDRESS", "RequestServer", "Requester", "answer_request"]

LOGGER = logging.getLogger("otwire.servers.iec104")


class RequestServer(Protocol):
    """What answering a request needs from the server (:class:`~otwire.servers.iec104.BaseServer` is one)."""

    select_timeout_ms: int

    def stations_for(self, common_address: int, *, broadcast: bool) -> list[Station]: ...

    def call_point_callback(self, point: Point, callback: PointCallback | None, name: str) -> None: ...

    def call_receive(self, point: Point, previous: PointInfo, message: IncomingMessage) -> ResponseState: ...

    def clock_sync(self, ip: str, when: _dt.datetime) -> ResponseState: ...

    def transmit_points(self, points: list[Point], cot: Cot) -> bool: ...


class Requester(Protocol):
    """The client connection a request came from (the outstation's ``_session.Session`` is one)."""

    @property
    def server(self) -> RequestServer: ...

    ip: str
    port: int
    name: str

    @property
    def now(self) -> float: ...

    def send(self, asdu: ASDU, *, periodic: bool = False) -> bool: ...


_Handler = Callable[[Requester, ASDU, list[Station]], None]
_ACT = frozenset({Cot.ACTIVATION})
_ACT_DEACT = frozenset({Cot.ACTIVATION, Cot.DEACTIVATION})
#: Requests that may address every station at once with common address 0xFFFF.
_BROADCAST = frozenset({TypeId.C_IC_NA_1, TypeId.C_CI_NA_1, TypeId.C_CS_NA_1, TypeId.C_RP_NA_1, TypeId.C_TS_TA_1})


def answer_request(session: Requester, asdu: ASDU) -> None:
    """Answer one ASDU received from a client.

    Args:
        session: The client connection (replies go there).
        asdu: The received ASDU.
    """
    entry = _HANDLERS.get(asdu.type_id)
    if entry is None:
        LOGGER.info("%s: unknown type identification %s", session.name, asdu.type_id)
        _refuse(session, asdu, Cot.UNKNOWN_TYPE_ID)
        return
    handler, causes = entry
    if len(asdu.objects) != 1:
        LOGGER.warning("%s: %s with %d objects ignored (one expected)", session.name, _name(asdu), len(asdu.objects))
        return
    if asdu.cot not in causes:
        _refuse(session, asdu, Cot.UNKNOWN_COT)
        return
    stations = session.server.stations_for(asdu.common_address, broadcast=asdu.type_id in _BROADCAST)
    if not stations:
        _refuse(session, asdu, Cot.UNKNOWN_CA)
        return
    handler(session, asdu, stations)


def _name(asdu: ASDU) -> str:
    return asdu.type_id.name if isinstance(asdu.type_id, TypeId) else str(asdu.type_id)


def _refuse(session: Requester, asdu: ASDU, cot: Cot) -> None:
    session.send(mirror(asdu, cot, negative=True))


def _confirm(session: Requester, asdu: ASDU, positive: bool, common_address: int | None = None) -> bool:
    cot = Cot.DEACTIVATION_CON if asdu.cot == Cot.DEACTIVATION else Cot.ACTIVATION_CON
    return session.send(mirror(asdu, cot, negative=not positive, common_address=common_address))


def _report(session: Requester, points: list[Point], cot: Cot | int, common_address: int) -> bool:
    """Send points (after their before-read callbacks); False if the session stopped taking data."""
    for point in points:
        session.server.call_point_callback(point, point.before_read_callback, "on_before_read")
    return all(session.send(asdu) for asdu in pack_points(points, cot, common_address))


# -- system commands ---------------------------------------------------------------------


def _interrogation(session: Requester, asdu: ASDU, stations: list[Station]) -> None:
    """C_IC_NA_1: ACT_CON, the station's (or group's) points with COT 20..36, ACT_TERM."""
    element = asdu.objects[0].elements[0]
    qoi = element.value if isinstance(element, QOI) else 0
    if asdu.cot == Cot.DEACTIVATION or not 20 <= qoi <= 36:
        _confirm(session, asdu, False)  # answers go out at once: nothing is left to stop
        return
    for station in stations:
        ca = station.common_address
        if not _confirm(session, asdu, True, ca):
            return
        points = [p for p in station.points if p.type in INTERROGATED_TYPES and _in_group(p, qoi - 20)]
        if not _report(session, points, Cot(qoi), ca):
            return
        session.send(mirror(asdu, Cot.ACTIVATION_TERMINATION, common_address=ca))


def _in_group(point: Point, group: int) -> bool:
    return group == 0 or point.interrogation_group == group


def _counter_interrogation(session: Requester, asdu: ASDU, stations: list[Station]) -> None:
    """C_CI_NA_1: ACT_CON, integrated totals with COT 37..41, ACT_TERM.

    FRZ 0 (read), 1 (freeze) and 2 (freeze and reset) report the counters at once; 2 and
    3 (reset) then set them to 0. Frozen values are not kept apart from the counters.
    """
    element = asdu.objects[0].elements[0]
    rqt, frz = (element.rqt, element.frz) if isinstance(element, QCC) else (0, 0)
    if asdu.cot == Cot.DEACTIVATION or not 1 <= rqt <= 5:
        _confirm(session, asdu, False)
        return
    cot = Cot.REQUESTED_BY_GENERAL_COUNTER if rqt == 5 else Cot(Cot.REQUESTED_BY_GENERAL_COUNTER + rqt)
    for station in stations:
        ca = station.common_address
        if not _confirm(session, asdu, True, ca):
            return
        counters = [p for p in station.points if p.type in COUNTER_TYPES and (rqt == 5 or p.counter_group == rqt)]
        if frz != 3 and not _report(session, counters, cot, ca):
            return
        if frz in (2, 3):
            for point in counters:
                point.value = 0
        session.send(mirror(asdu, Cot.ACTIVATION_TERMINATION, common_address=ca))


def _read(session: Requester, asdu: ASDU, stations: list[Station]) -> None:
    """C_RD_NA_1: the point's value with COT REQUEST, or COT 47 for no such monitor point."""
    point = stations[0].get_point(asdu.objects[0].ioa)
    if point is None or point.is_command:
        _refuse(session, asdu, Cot.UNKNOWN_IOA)
        return
    _report(session, [point], Cot.REQUEST, stations[0].common_address)


def _clock_sync(session: Requester, asdu: ASDU, stations: list[Station]) -> None:
    """C_CS_NA_1: ask the ``on_clock_sync`` callback, then ACT_CON (negative if refused)."""
    element = asdu.objects[0].elements[0]
    when: _dt.datetime | None = None
    if isinstance(element, CP56Time2a):
        try:
            when = element.to_datetime(tzinfo=_dt.UTC)
        except ValueError:
            LOGGER.info("%s: clock synchronization with an invalid time %s", session.name, element.raw.hex())
    result = ResponseState.FAILURE if when is None else session.server.clock_sync(session.ip, when)
    if result is ResponseState.NONE:
        return
    for station in stations:
        _confirm(session, asdu, result is ResponseState.SUCCESS, station.common_address)


def _test(session: Requester, asdu: ASDU, stations: list[Station]) -> None:
    """C_TS_TA_1 (and the -101 C_TS_NA_1): ACT_CON echoing the test pattern and time."""
    for station in stations:
        _confirm(session, asdu, True, station.common_address)


def _reset_process(session: Requester, asdu: ASDU, stations: list[Station]) -> None:
    """C_RP_NA_1: ACT_CON, positive for QRP 1 (general reset) and 2 (event buffer reset)."""
    element = asdu.objects[0].elements[0]
    positive = isinstance(element, QRP) and element.value in (1, 2)
    LOGGER.info("%s: reset process request (QRP %s)", session.name, getattr(element, "value", "?"))
    for station in stations:
        _confirm(session, asdu, positive, station.common_address)


# -- process commands --------------------------------------------------------------------


def _command(session: Requester, asdu: ASDU, stations: list[Station]) -> None:
    """C_SC/C_DC/C_RC/C_SE/C_BO: select, execute or deactivate (break off a select)."""
    obj = asdu.objects[0]
    point = stations[0].get_point(obj.ioa)
    if point is None:
        _refuse(session, asdu, Cot.UNKNOWN_IOA)
        return
    if not point.is_command or COMMAND_FAMILY[point.type] != COMMAND_FAMILY[int(asdu.type_id)]:
        LOGGER.info("%s: %s to IOA %d of type %s refused", session.name, _name(asdu), obj.ioa, point.type.name)
        _confirm(session, asdu, False)
        return
    info = info_from_elements(asdu.type_id, obj.elements)
    if asdu.cot == Cot.DEACTIVATION:
        _deactivate(session, asdu, point)
    elif info.select:
        _select(session, asdu, point, info)
    else:
        _execute(session, asdu, point, info)


def _message(session: Requester, asdu: ASDU, info: PointInfo) -> IncomingMessage:
    return IncomingMessage(asdu=asdu, info=info, ip=session.ip, port=session.port)


def _deactivate(session: Requester, asdu: ASDU, point: Point) -> None:
    selection = point.selection
    held = selection is not None and selection.owner is session
    if held:
        point.selection = None
    _confirm(session, asdu, held)


def _select(session: Requester, asdu: ASDU, point: Point, info: PointInfo) -> None:
    if point.command_mode is not CommandMode.SELECT_AND_EXECUTE:
        LOGGER.info("%s: select of direct-mode IOA %d refused", session.name, point.io_address)
        _confirm(session, asdu, False)
        return
    held = point.selection
    if held is not None and held.owner is not session and held.deadline >= session.now:
        LOGGER.info("%s: select of IOA %d refused: selected by another client", session.name, point.io_address)
        _confirm(session, asdu, False)
        return
    result = session.server.call_receive(point, point.info, _message(session, asdu, info))
    if result is ResponseState.SUCCESS:
        deadline = session.now + session.server.select_timeout_ms / 1000
        point.selection = Selection(session, deadline, asdu.originator_address, info)
    if result is not ResponseState.NONE:
        _confirm(session, asdu, result is ResponseState.SUCCESS)


def _execute(session: Requester, asdu: ASDU, point: Point, info: PointInfo) -> None:
    select_mode = point.command_mode is CommandMode.SELECT_AND_EXECUTE
    if select_mode and not _take_selection(session, point):
        LOGGER.info("%s: execute of IOA %d without a valid select refused", session.name, point.io_address)
        _confirm(session, asdu, False)
        return
    previous = point.info
    operate = not asdu.test  # T=1: a test command is confirmed, but operates nothing
    if operate:
        point.info = replace(info, elements=())  # rebuilt for the point's type (with or without time tag)
    result = session.server.call_receive(point, previous, _message(session, asdu, info))
    if result is ResponseState.FAILURE and operate:
        point.info = previous
    if result is ResponseState.NONE:
        return
    _confirm(session, asdu, result is ResponseState.SUCCESS)
    if result is not ResponseState.SUCCESS:
        return
    if select_mode:
        session.send(mirror(asdu, Cot.ACTIVATION_TERMINATION))
    if operate and point.related_io_autoreturn and point.related_io_address is not None:
        related = point.station.get_point(point.related_io_address)
        if related is not None and not related.is_command:
            session.server.transmit_points([related], Cot.RETURN_INFO_REMOTE)


def _take_selection(session: Requester, point: Point) -> bool:
    """Use up this session's live select of ``point``; False if there is none."""
    selection = point.selection
    if selection is None:
        return False
    expired = selection.deadline < session.now
    if selection.owner is session or expired:
        point.selection = None  # used up, or expired (another client's live select stays)
    return selection.owner is session and not expired


_HANDLERS: dict[int, tuple[_Handler, frozenset[Cot]]] = {
    TypeId.C_IC_NA_1: (_interrogation, _ACT_DEACT),
    TypeId.C_CI_NA_1: (_counter_interrogation, _ACT_DEACT),
    TypeId.C_RD_NA_1: (_read, frozenset({Cot.REQUEST})),
    TypeId.C_CS_NA_1: (_clock_sync, _ACT),
    TypeId.C_TS_NA_1: (_test, _ACT),
    TypeId.C_TS_TA_1: (_test, _ACT),
    TypeId.C_RP_NA_1: (_reset_process, _ACT),
    **{t: (_command, _ACT_DEACT) for t in COMMAND_FAMILY},
}
