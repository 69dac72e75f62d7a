"""Client policy shared by the threaded and asyncio IEC 104 clients.

:class:`ConnectionBase` turns engine events into point updates and callbacks, runs
requests (:class:`Operation`: one or two ASDUs, then a yes/no result) with a timeout,
performs the start-up sequence of :class:`~otwire.clients.iec104.Init` and computes the
reconnect backoff. It never blocks and never touches a socket: the flavour
(``client.Connection`` or ``aio.AsyncConnection``) supplies the transport, the timers and
the waiting. Every method here runs on the client's single thread (or asyncio loop).
"""

from __future__ import annotations

import logging
import os
import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from otwire.clients.iec104 import _requests as requests
from otwire.clients.iec104._conninfo import ConnectionInfo, logger
from otwire.clients.iec104._enums import Coi, ConnectionState, Init, Qoi, Umc
from otwire.clients.iec104._model import IncomingMessage, PointBase, StationBase, utc_now
from otwire.clients.iec104._requests import GLOBAL_ADDRESS
from otwire.codecs.iec104 import ASDU, Cot, TypeId, UFrame, UFunction
from otwire.codecs.iec104.values import MONITOR_TYPES, PointInfo
from otwire.codecs.iec104.values import info_from_elements as _info_from_elements
from otwire.errors import OTWireError
from otwire.protocols import Event
from otwire.protocols.iec104 import (
    ActivationConfirmed,
    ActivationRefused,
    ActivationTerminated,
    ASDUReceived,
    ConnectionTerminated,
    DataTransferStarted,
    DataTransferStopped,
    FrameReceived,
    FrameSent,
    IEC104Connection,
    Role,
)
from otwire.transports.record import PcapRecorder, PcapSession

if TYPE_CHECKING:
    from otwire.clients.iec104._base import ClientBase

__all__ = ["Cancellable", "ConnectionBase", "Operation", "logger"]

_UNKNOWN_REPLIES = {
    Cot.UNKNOWN_TYPE_ID: Umc.INVALID_TYPE_ID,
    Cot.UNKNOWN_COT: Umc.UNKNOWN_COT,
    Cot.UNKNOWN_CA: Umc.UNKNOWN_CA,
    Cot.UNKNOWN_IOA: Umc.UNKNOWN_IOA,
}
_REPLIES = frozenset({Cot.ACTIVATION_CON, Cot.DEACTIVATION_CON, Cot.ACTIVATION_TERMINATION})
_REQUESTS = frozenset({Cot.ACTIVATION, Cot.DEACTIVATION})

StationT = TypeVar("StationT", bound=StationBase[Any])


class Cancellable(Protocol):
    """A scheduled callback (``SelectorLoop`` timer handle or ``asyncio.TimerHandle``)."""

    def cancel(self) -> None:
        """Withdraw the callback."""


def _name(value: int) -> str:
    return getattr(value, "name", str(value))


class Operation:
    """One request: its ASDUs sent in turn (a select, then the execute), then True or False.

    Args:
        steps: The ASDUs; each must be confirmed before the next one is sent.
        until_term: Wait for ACT_TERM after ACT_CON (interrogations).
        timeout: Seconds from the start until the operation fails.
        on_done: Called once with the result.
        on_sent: Called once: True after the first ASDU was handed to the engine, False if
            it could not be sent (it is then called before ``on_done``).
    """

    __slots__ = ("finished", "index", "on_done", "on_sent", "steps", "timeout", "timer", "until_term")

    def __init__(
        self,
        steps: Sequence[ASDU],
        *,
        until_term: bool,
        timeout: float,
        on_done: Callable[[bool], None],
        on_sent: Callable[[bool], None] | None = None,
    ) -> None:
        self.steps = tuple(steps)
        self.until_term = until_term
        self.timeout = timeout
        self.on_done = on_done
        self.on_sent = on_sent
        self.index = 0
        self.finished = False
        self.timer: Cancellable | None = None

    @property
    def current(self) -> ASDU:
        """The ASDU sent last (or about to be sent)."""
        return self.steps[self.index]

    def describe(self) -> str:
        """Return a short text for log messages, e.g. ``C_SC_NA_1 ACTIVATION ca=47``."""
        asdu = self.current
        return f"{_name(asdu.type_id)} {_name(asdu.cot)} ca={asdu.common_address}"


class ConnectionBase(ConnectionInfo[StationT]):
    """State, stations, callbacks and request logic of one client connection.

    Args:
        client: The owning client.
        ip: Host name or address of the station.
        port: TCP port.
        init: Start-up sequence after each connect.
        record: pcap file to record the session into, or ``None``.
    """

    def __init__(
        self,
        client: ClientBase[Any],
        ip: str,
        port: int,
        init: Init,
        record: str | os.PathLike[str] | None,
    ) -> None:
        super().__init__(client, ip, port, init)
        self._record_path = record
        self._recorder: PcapRecorder | None = PcapRecorder(record) if record is not None else None
        self._record_session: PcapSession | None = None
        self._engine: IEC104Connection | None = None
        self._pending: dict[int, Operation] = {}
        self._inbox: deque[Event] = deque()
        self._dispatching = False
        self._init_due = False
        self._failures = 0
        self._test_counter = 0
        self._wanted = True  # reconnect while the client runs (False after disconnect())

    # -- flavour hooks ---------------------------------------------------------------

    def _transport_send(self, message: ASDU | UFrame) -> None:
        """Hand ``message`` to the engine through the transport (raises ``OTWireError``)."""
        raise NotImplementedError

    def _call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        raise NotImplementedError

    def _point_updated(self, point: PointBase, info: PointInfo, previous: PointInfo, message: IncomingMessage) -> None:
        """Called after a point took new information (asyncio streams)."""

    def _station_initialized(self, station: StationT, cause: Coi | int) -> None:
        """Called after a station reported end of initialization (asyncio streams)."""

    def _update_frame_reports(self) -> None:
        engine = self._engine
        if engine is not None:  # a plain attribute: reading it on another thread is harmless
            engine.report_frames = self._wants_frames()

    # -- connection lifecycle (called by the flavour) ----------------------------------

    def _new_engine(self, now: float) -> IEC104Connection:
        self._engine = IEC104Connection(
            Role.CONTROLLING, self._parameters.config, now=now, report_frames=self._wants_frames()
        )
        return self._engine

    def _next_delay(self) -> float:
        """Seconds to wait before the next connect attempt (exponential, 10 % jitter)."""
        client = self._client
        delay = min(client._max_reconnect_delay, client._reconnect_delay * (1 << min(self._failures, 16)))
        self._failures += 1
        return delay * random.uniform(0.9, 1.0)

    def _open_recording(self, local: tuple[str, int], remote: tuple[str, int]) -> PcapSession | None:
        if self._recorder is None:
            return None
        try:
            self._record_session = self._recorder.session((local[0], local[1]), (remote[0], remote[1]))
        except (ValueError, OSError) as exc:
            logger.warning("%s: cannot record the session: %s", self._where(), exc)
            self._record_session = None
        return self._record_session

    def _close_recording(self, final: bool = False) -> None:
        if self._record_session is not None:
            self._record_session.close()
            self._record_session = None
        if final and self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    def _ensure_recorder(self) -> None:
        """Open the pcap file again after ``stop()`` closed it (it is rewritten)."""
        if self._record_path is not None and self._recorder is None:
            self._recorder = PcapRecorder(self._record_path)

    def _attached(self) -> None:
        """The TCP connection is up and its transport runs."""
        self._connected_at = utc_now()
        self._init_due = self._init is not Init.MUTED
        self._set_state(ConnectionState.OPEN_MUTED)
        if self._init is Init.MUTED:
            self._failures = 0
        else:
            self._send_u(UFunction.STARTDT_ACT)

    def _detached(self, error: BaseException | None) -> None:
        """The transport closed: fail every request, forget the engine."""
        self._close_recording()
        self._engine = None
        self._disconnected_at = utc_now()
        if error is not None:
            logger.warning("%s: connection closed: %s", self._where(), error)
        else:
            logger.info("%s: connection closed", self._where())
        for op in list(self._pending.values()):
            self._finish(op, False)
        self._pending.clear()
        self._inbox.clear()

    def _send_u(self, function: UFunction) -> bool:
        """Send STARTDT/STOPDT act; False when not connected or not allowed now."""
        if not self.is_connected:
            return False
        try:
            self._transport_send(UFrame(function))
        except OTWireError as exc:
            logger.info("%s: cannot send %s: %s", self._where(), function.name, exc)
            return False
        return True

    # -- engine events ---------------------------------------------------------------

    def _on_engine_event(self, event: Event) -> None:
        """Transport callback: handle events in order, never re-entrantly."""
        self._inbox.append(event)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._inbox:
                self._safe(self._handle, self._inbox.popleft())
        finally:
            self._dispatching = False

    def _handle(self, event: Event) -> None:
        if type(event) is ASDUReceived:
            self._process(event.asdu)
        elif type(event) is ActivationConfirmed:
            if event.asdu.cot == Cot.REQUEST:  # data answering a read
                self._process(event.asdu)
            self._reply(event.request, event.asdu, confirmed=True)
        elif type(event) is ActivationRefused:
            self._reply(event.request, event.asdu, confirmed=False)
        elif type(event) is ActivationTerminated:
            self._terminated(event.request)
        elif type(event) is FrameReceived:
            self._invoke(self._on_receive_raw, self, event.data)
        elif type(event) is FrameSent:
            self._invoke(self._on_send_raw, self, event.data)
        elif type(event) is DataTransferStarted:
            self._data_transfer_started()
        elif type(event) is DataTransferStopped:
            self._set_state(ConnectionState.OPEN_MUTED)
        elif type(event) is ConnectionTerminated:
            logger.debug("%s: engine closed (%s)", self._where(), event.reason.value)

    def _data_transfer_started(self) -> None:
        self._failures = 0
        self._set_state(ConnectionState.OPEN)
        if not self._init_due:
            return
        self._init_due = False
        if self._init in (Init.ALL, Init.INTERROGATION):
            gi = requests.interrogation(GLOBAL_ADDRESS, Cot.ACTIVATION, Qoi.STATION, self.originator_address)
            self._start_internal([gi], True)
        if self._init in (Init.ALL, Init.CLOCK_SYNC):
            self._start_internal([requests.clock_sync(GLOBAL_ADDRESS, self.originator_address)], False)

    def _start_internal(self, steps: Sequence[ASDU], until_term: bool) -> None:
        op = Operation(steps, until_term=until_term, timeout=self._client._command_timeout, on_done=lambda ok: None)
        description = op.describe()
        op.on_done = lambda ok: logger.log(
            logging.DEBUG if ok else logging.INFO,
            "%s: start-up %s %s",
            self._where(),
            description,
            "done" if ok else "failed",
        )
        self._begin(op)

    # -- operations ------------------------------------------------------------------

    def _begin(self, op: Operation) -> None:
        """Start ``op``: arm its timeout and send its first ASDU."""
        if self._state is not ConnectionState.OPEN or self._engine is None:
            self._finish(op, False)
            return
        op.timer = self._call_later(op.timeout, lambda: self._expire(op))
        self._advance(op)

    def _advance(self, op: Operation) -> None:
        asdu = op.current
        self._pending[id(asdu)] = op
        try:
            self._transport_send(asdu)
        except OTWireError as exc:
            logger.info("%s: cannot send %s: %s", self._where(), op.describe(), exc)
            self._pending.pop(id(asdu), None)
            self._finish(op, False)
            return
        if op.index == 0 and op.on_sent is not None:
            on_sent, op.on_sent = op.on_sent, None
            on_sent(True)

    def _finish(self, op: Operation, ok: bool) -> None:
        if op.finished:
            return
        op.finished = True
        if op.timer is not None:
            op.timer.cancel()
        self._pending.pop(id(op.current), None)
        if self._engine is not None:
            self._engine.cancel_activation(op.current)  # e.g. a GI deactivation: no ACT_TERM follows
        if op.on_sent is not None:
            on_sent, op.on_sent = op.on_sent, None
            on_sent(False)
        op.on_done(ok)

    def _expire(self, op: Operation) -> None:
        if not op.finished:
            logger.info("%s: %s timed out after %.3f s", self._where(), op.describe(), op.timeout)
            self._finish(op, False)

    def _abandon(self, op: Operation) -> None:
        """Give up ``op`` (the waiter went away)."""
        self._finish(op, False)

    def _reply(self, request: ASDU, reply: ASDU, *, confirmed: bool) -> None:
        op = self._pending.get(id(request))
        if op is None or op.current is not request:
            return
        if not confirmed:
            negative = " P/N=1" if reply.negative else ""
            logger.info("%s: %s refused (%s%s)", self._where(), op.describe(), _name(reply.cot), negative)
            self._finish(op, False)
        elif op.until_term:
            return  # the engine keeps tracking it until ACT_TERM
        elif op.index + 1 < len(op.steps):
            self._pending.pop(id(request), None)
            op.index += 1
            self._advance(op)
        else:
            self._finish(op, True)

    def _terminated(self, request: ASDU) -> None:
        op = self._pending.get(id(request))
        if op is not None and op.current is request:
            self._finish(op, True)

    # -- received data ---------------------------------------------------------------

    def _process(self, asdu: ASDU) -> None:
        type_id, cot = asdu.type_id, asdu.cot
        if cot in _UNKNOWN_REPLIES:
            self._unexpected(asdu, _UNKNOWN_REPLIES[Cot(cot)])
        elif type_id == TypeId.M_EI_NA_1:
            self._end_of_init(asdu)
        elif type_id not in MONITOR_TYPES:
            if cot in _REPLIES and isinstance(type_id, TypeId):
                # Late or extra confirmations: a reply after a timeout, the ACT_TERM of a
                # select-and-execute (lib60870 echoes the select), C_RD_NA_1 COT 7 before
                # the read data, the positive twin of a negative COT 47 answer.
                logger.debug("%s: ignoring unmatched %s %s", self._where(), type_id.name, _name(cot))
            elif isinstance(type_id, TypeId):
                self._unexpected(asdu, Umc.INVALID_COT)
            else:
                self._unexpected(asdu, Umc.UNKNOWN_TYPE_ID)
        elif cot in _REQUESTS or cot in _REPLIES:
            self._unexpected(asdu, Umc.INVALID_COT)
        else:
            self._monitor_data(asdu)

    def _monitor_data(self, asdu: ASDU) -> None:
        station = self._station_for(asdu)
        if station is None:
            return
        type_id = TypeId(asdu.type_id)
        for index, obj in enumerate(asdu.objects):
            point = station.get_point(obj.ioa)
            if point is None and self._client._on_new_point is not None:
                self._invoke(self._client._on_new_point, self._client, station, obj.ioa, type_id)
                point = station.get_point(obj.ioa)
            if point is None:
                self._unexpected(asdu, Umc.UNKNOWN_IOA, index)
                continue
            if point.type != type_id:
                self._unexpected(asdu, Umc.MISMATCHED_TYPE_ID, index)
                continue
            info = _info_from_elements(type_id, obj.elements)
            previous = point._update(info)
            message = IncomingMessage(asdu, index)
            self._invoke(point._on_receive, point, previous, message)
            self._point_updated(point, info, previous, message)

    def _station_for(self, asdu: ASDU) -> StationT | None:
        ca = asdu.common_address
        station = self._stations.get(ca)
        if station is None and self._client._on_new_station is not None:
            self._invoke(self._client._on_new_station, self._client, self, ca)
            station = self._stations.get(ca)
        if station is None:
            self._unexpected(asdu, Umc.UNKNOWN_CA)
        return station

    def _end_of_init(self, asdu: ASDU) -> None:
        station = self._station_for(asdu)
        if station is None or not asdu.objects:
            return
        value = _info_from_elements(TypeId.M_EI_NA_1, asdu.objects[0].elements).value
        try:
            cause: Coi | int = Coi(value)
        except ValueError:
            cause = int(value)
        logger.info("%s: station %d initialized (%s)", self._where(), station.common_address, _name(cause))
        self._invoke(self._client._on_station_initialized, self._client, station, cause)
        self._station_initialized(station, cause)

    def _unexpected(self, asdu: ASDU, cause: Umc, index: int = 0) -> None:
        logger.debug("%s: unexpected %s: %s", self._where(), cause.name, IncomingMessage(asdu, index))
        self._invoke(self._on_unexpected_message, self, IncomingMessage(asdu, index), cause)
