"""The controlling-station core of one connection, shared by the threaded and asyncio clients.

:class:`ConnectionBase` turns the engine's events into point updates, callbacks and state
changes, runs requests through :class:`~otwire.clients.iec104._operations.RequestRunner`,
performs the start-up sequence of :class:`~otwire.clients.iec104.Init`, records why the
connection failed and computes the reconnect backoff. It never blocks and never touches
a socket: the face (``client.Connection`` or ``aio.AsyncConnection``) supplies the
transport, the timers, the reply matcher and the waiting. Every method here runs on the
client's single thread (or asyncio loop).
"""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from otwire.clients.iec104 import _requests as requests
from otwire.clients.iec104._connection_model import ConnectionModel
from otwire.clients.iec104._enums import Coi, ConnectionState, Init, Qoi, Umc
from otwire.clients.iec104._failures import (
    ConnectionFailure,
    FailureReason,
    termination_failure,
    transport_failure,
)
from otwire.clients.iec104._log import logger
from otwire.clients.iec104._model import IncomingMessage, PointBase, StationBase, utc_now
from otwire.clients.iec104._operations import (
    Cancellable,
    Operation,
    Replies,
    RequestRunner,
    log_startup_result,
    mnemonic,
)
from otwire.clients.iec104._requests import GLOBAL_ADDRESS
from otwire.clients.iec104._settings import ClientSettings
from otwire.codecs.iec104 import ASDU, Cot, TypeId, UFrame, UFunction
from otwire.codecs.iec104.values import MONITOR_TYPES, PointInfo, info_from_elements
from otwire.errors import ConnectionLost, InvalidArgument, OTWireError
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

__all__ = ["ConnectionBase"]

_UNKNOWN_REPLIES = {
    Cot.UNKNOWN_TYPE_ID: Umc.INVALID_TYPE_ID,
    Cot.UNKNOWN_COT: Umc.UNKNOWN_COT,
    Cot.UNKNOWN_CA: Umc.UNKNOWN_CA,
    Cot.UNKNOWN_IOA: Umc.UNKNOWN_IOA,
}
_REPLIES = frozenset({Cot.ACTIVATION_CON, Cot.DEACTIVATION_CON, Cot.ACTIVATION_TERMINATION})
_REQUESTS = frozenset({Cot.ACTIVATION, Cot.DEACTIVATION})

StationT = TypeVar("StationT", bound=StationBase[Any])


def open_recorder(record: str | os.PathLike[str] | None) -> PcapRecorder | None:
    """Create the pcap file of ``record`` (or nothing for ``None``).

    Raises:
        InvalidArgument: The file cannot be created (the ``OSError`` is the cause).
    """
    if record is None:
        return None
    try:
        return PcapRecorder(record)
    except OSError as exc:
        raise InvalidArgument(f"record={os.fspath(record)!r}: cannot create the file: {exc}") from exc


class _Transport(Protocol):
    """What the faces' transports (``SocketTransport``, ``AioTransport``) offer this module."""

    def send(self, message: Any) -> None: ...


class ConnectionBase(ConnectionModel[StationT]):
    """Engine events, requests, start-up and recording of one client connection.

    Args:
        client: The owning client's settings and callbacks.
        ip: Host name or address of the station.
        port: TCP port.
        init: Start-up sequence after each connect.
        record: pcap file to record the session into, or ``None``.
        replies: The reply matcher of this connection's requests.

    Raises:
        InvalidArgument: ``record`` cannot be created.
    """

    _transport: _Transport | None  # set by the face; None while not connected

    def __init__(
        self,
        client: ClientSettings[Any],
        ip: str,
        port: int,
        init: Init,
        record: str | os.PathLike[str] | None,
        replies: Replies,
    ) -> None:
        super().__init__(client, ip, port, init)
        self._record_path = record
        self._recorder = open_recorder(record)
        self._record_session: PcapSession | None = None
        self._engine: IEC104Connection | None = None
        self._requests = RequestRunner(replies, self._transport_send, self._call_later, self._where)
        self._inbox: deque[Event] = deque()
        self._dispatching = False
        self._init_due = False
        self._startdt_pending = False
        self._termination: ConnectionTerminated | None = None
        self._failures = 0
        self._test_counter = 0
        self._wanted = True  # reconnect while the client runs (False after disconnect())

    # -- face hooks --------------------------------------------------------------------

    def _transport_send(self, message: ASDU | UFrame) -> None:
        """Hand ``message`` to the engine through the transport (raises ``OTWireError``)."""
        transport = self._transport
        if transport is None:
            raise ConnectionLost("not connected")
        transport.send(message)

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

    # -- connection lifecycle (called by the face) -------------------------------------

    def _new_engine(self, now: float) -> IEC104Connection:
        self._engine = IEC104Connection(
            Role.CONTROLLING, self._parameters.config, now=now, report_frames=self._wants_frames()
        )
        self._termination = None
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
        if self._recorder is None:
            self._recorder = open_recorder(self._record_path)

    def _attached(self) -> None:
        """The TCP connection is up and its transport runs."""
        self._connected_at = utc_now()
        self._last_failure = None
        self._requests.engine = self._engine
        self._init_due = self._init is not Init.MUTED
        self._set_state(ConnectionState.OPEN_MUTED)
        if self._init is Init.MUTED:
            self._failures = 0
        else:
            self._send_u(UFunction.STARTDT_ACT)

    def _detached(self, error: BaseException | None) -> None:
        """The transport closed: note why, fail every request, forget the engine."""
        self._close_recording()
        self._engine = None
        self._disconnected_at = utc_now()
        failure = self._failure_of(error)
        self._last_failure = failure
        if failure.reason is FailureReason.LOCAL_CLOSE:
            logger.info("%s: connection closed", self._where())
        else:
            logger.warning("%s: connection closed: %s", self._where(), failure)
        self._requests.fail_all(ConnectionLost(f"{self._where()}: {failure}"))
        self._inbox.clear()

    def _failure_of(self, error: BaseException | None) -> ConnectionFailure:
        failure = transport_failure(error)
        if failure is not None:
            return failure
        termination = self._termination
        if termination is None:
            return ConnectionFailure(FailureReason.LOCAL_CLOSE)
        return termination_failure(termination.reason, termination.error, startdt_pending=self._startdt_pending)

    def _send_u(self, function: UFunction) -> bool:
        """Send STARTDT/STOPDT act; False when not connected or not allowed now."""
        if not self.is_connected:
            return False
        try:
            self._transport_send(UFrame(function))
        except OTWireError as exc:
            logger.info("%s: cannot send %s: %s", self._where(), function.name, exc)
            return False
        self._startdt_pending = function is UFunction.STARTDT_ACT
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
                self._safe(self._dispatch_event, self._inbox.popleft())
        finally:
            self._dispatching = False

    def _dispatch_event(self, event: Event) -> None:
        handler = _EVENT_HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_asdu_received(self, event: ASDUReceived) -> None:
        self._route_asdu(event.asdu)

    def _on_activation_reply(self, event: ActivationConfirmed | ActivationRefused | ActivationTerminated) -> None:
        if type(event) is ActivationConfirmed and event.asdu.cot == Cot.REQUEST:
            self._route_asdu(event.asdu)  # data answering a read: points first, then the waiter
        self._requests.dispatch(event)

    def _on_frame_received(self, event: FrameReceived) -> None:
        self._invoke(self._on_receive_raw, self, event.data)

    def _on_frame_sent(self, event: FrameSent) -> None:
        self._invoke(self._on_send_raw, self, event.data)

    def _on_data_transfer_stopped(self, event: DataTransferStopped) -> None:
        self._startdt_pending = False
        self._set_state(ConnectionState.OPEN_MUTED)

    def _on_connection_terminated(self, event: ConnectionTerminated) -> None:
        self._termination = event
        logger.debug("%s: engine closed (%s)", self._where(), event.reason.value)

    def _on_data_transfer_started(self, event: DataTransferStarted) -> None:
        self._failures = 0
        self._startdt_pending = False
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
        op = Operation(steps, until_term=until_term, timeout=self._client._command_timeout, on_done=lambda e: None)
        op.on_done = partial(log_startup_result, self._where(), op.describe())
        self._begin(op)

    def _request_finished(self, error: BaseException | None) -> None:
        """Note the outcome of a caller's request for :attr:`last_request_error`."""
        if error is not None and not isinstance(error, OTWireError):
            wrapped = OTWireError(f"{self._where()}: request failed: {error!r}")
            wrapped.__cause__ = error
            error = wrapped
        self._last_request_error = error

    def _begin(self, op: Operation) -> None:
        """Start ``op`` if data transfer is started (else it fails with ``InvalidState``)."""
        self._requests.begin(op, ready=self._state is ConnectionState.OPEN and self._engine is not None)

    # -- received data ---------------------------------------------------------------

    def _route_asdu(self, asdu: ASDU) -> None:
        """Send received data where it belongs: points, end of initialization, or "unexpected"."""
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
                logger.debug("%s: ignoring unmatched %s %s", self._where(), type_id.name, mnemonic(cot))
            elif isinstance(type_id, TypeId):
                self._unexpected(asdu, Umc.INVALID_COT)
            else:
                self._unexpected(asdu, Umc.UNKNOWN_TYPE_ID)
        elif cot in _REQUESTS or cot in _REPLIES:
            self._unexpected(asdu, Umc.INVALID_COT)
        else:
            self._update_points(asdu)

    def _update_points(self, asdu: ASDU) -> None:
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
            info = info_from_elements(type_id, obj.elements)
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
        value = info_from_elements(TypeId.M_EI_NA_1, asdu.objects[0].elements).value
        try:
            cause: Coi | int = Coi(value)
        except ValueError:
            cause = int(value)
        logger.info("%s: station %d initialized (%s)", self._where(), station.common_address, mnemonic(cause))
        self._invoke(self._client._on_station_initialized, self._client, station, cause)
        self._station_initialized(station, cause)

    def _unexpected(self, asdu: ASDU, cause: Umc, index: int = 0) -> None:
        message = IncomingMessage(asdu, index)
        logger.debug("%s: unexpected %s: %s", self._where(), cause.name, message)
        self._invoke(self._on_unexpected_message, self, message, cause)


#: Engine event type -> handler (a dispatch dict, not an if-chain).
_EVENT_HANDLERS: dict[type[Event], Callable[[ConnectionBase[Any], Any], None]] = {
    ASDUReceived: ConnectionBase._on_asdu_received,
    ActivationConfirmed: ConnectionBase._on_activation_reply,
    ActivationRefused: ConnectionBase._on_activation_reply,
    ActivationTerminated: ConnectionBase._on_activation_reply,
    FrameReceived: ConnectionBase._on_frame_received,
    FrameSent: ConnectionBase._on_frame_sent,
    DataTransferStarted: ConnectionBase._on_data_transfer_started,
    DataTransferStopped: ConnectionBase._on_data_transfer_stopped,
    ConnectionTerminated: ConnectionBase._on_connection_terminated,
}
