"""Point, station and connection of the asyncio client, and the events they publish.

A thin face over :class:`~otwire.clients.iec104._connection_base.ConnectionBase`: each
connection is one supervisor task (connect, run, back off, reconnect) over
:class:`~otwire.transports.aio.AioTransport`, with an
:class:`~otwire.transports.AsyncReplyMatcher` for its requests and the client's
:class:`~otwire.clients.iec104._streams.StreamHub` for its events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from otwire.clients._checks import check_seconds
from otwire.clients.iec104 import _requests as requests
from otwire.clients.iec104._connection_base import ConnectionBase
from otwire.clients.iec104._enums import Coi, ConnectionState, Frz, Init, Qoi, Rqt
from otwire.clients.iec104._failures import ConnectionFailure, connect_failure
from otwire.clients.iec104._log import logger
from otwire.clients.iec104._model import IncomingMessage, PointBase, StationBase
from otwire.clients.iec104._operations import Operation
from otwire.clients.iec104._settings import ClientSettings
from otwire.clients.iec104._streams import EventStream, StreamHub
from otwire.codecs.iec104 import ASDU, Cot, UFunction
from otwire.codecs.iec104.values import PointInfo
from otwire.errors import TransportError
from otwire.protocols import Event
from otwire.transports import AsyncReplyMatcher
from otwire.transports.aio import AioTransport, open_connection

__all__ = [
    "AsyncConnection",
    "AsyncPoint",
    "AsyncStation",
    "ClientEvent",
    "PointUpdate",
    "StateChange",
    "StationInitialized",
]

#: Seconds a closing transport may take before the supervisor gives up waiting.
_CLOSE_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class PointUpdate:
    """A point took new information from received data."""

    point: AsyncPoint
    info: PointInfo
    """The information received (the point may hold newer information by the time you look)."""
    previous_info: PointInfo
    message: IncomingMessage

    @property
    def cot(self) -> Cot | int:
        """Cause of transmission of the data."""
        return self.message.cot


@dataclass(frozen=True, slots=True)
class StateChange:
    """A connection changed state; ``failure`` says why it closed (``CLOSED*`` states), else ``None``."""

    connection: AsyncConnection
    state: ConnectionState
    failure: ConnectionFailure | None = None


@dataclass(frozen=True, slots=True)
class StationInitialized:
    """A station reported end of initialization (M_EI_NA_1)."""

    station: AsyncStation
    cause: Coi | int


ClientEvent = PointUpdate | StateChange | StationInitialized


class AsyncPoint(PointBase):
    """A point of an :class:`AsyncStation` (see :class:`~otwire.clients.iec104._model.PointBase`)."""

    @property
    def station(self) -> AsyncStation:
        """The station the point belongs to."""
        return cast(AsyncStation, self._station)

    async def transmit(self, cause: Cot = Cot.ACTIVATION) -> bool:
        """Send the point's value as a command and wait for the confirmation.

        In ``SELECT_AND_EXECUTE`` mode the execute follows a confirmed select.

        Args:
            cause: ``Cot.ACTIVATION``, or ``Cot.DEACTIVATION`` to cancel.

        Returns:
            True on positive confirmation; False on refusal (P/N = 1 or COT 44..47), after
            ``command_timeout_ms``, or when the connection is not open.
            The reason of a False is in ``station.connection.last_request_error``.

        Raises:
            InvalidArgument: Not a command point, another cause, or a value that does not fit.
        """
        connection = self.station.connection
        return await connection._run(
            requests.command(self, cause, connection.originator_address), until_term=False, wait=True
        )

    async def read(self) -> bool:
        """Send a read command (C_RD_NA_1) and wait for the data.

        Returns:
            True when the data arrived (the point is updated by then); False on refusal,
            timeout, or when the connection is not open.
            The reason of a False is in ``station.connection.last_request_error``.
        """
        connection = self.station.connection
        return await connection._run([requests.read(self, connection.originator_address)], until_term=False, wait=True)


class AsyncStation(StationBase[AsyncPoint]):
    """A remote station of an :class:`AsyncConnection`."""

    @property
    def connection(self) -> AsyncConnection:
        """The connection that reaches the station."""
        return cast(AsyncConnection, self._connection)


class AsyncConnection(ConnectionBase[AsyncStation]):
    """One connection of an :class:`AsyncClient` (create with ``add_connection``)."""

    def __init__(
        self,
        client: ClientSettings[Any],
        hub: StreamHub,
        ip: str,
        port: int,
        init: Init,
        record: str | os.PathLike[str] | None,
    ) -> None:
        super().__init__(client, ip, port, init, record, AsyncReplyMatcher[int, Event]())
        self._hub = hub
        self._reading = not hub.paused  # a full stream holds back new connections too
        self._transport: AioTransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._state_event = asyncio.Event()

    # -- flavour hooks -----------------------------------------------------------------

    def _make_station(self, common_address: int) -> AsyncStation:
        return AsyncStation(self, common_address, AsyncPoint)

    def _call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, self._safe, callback)

    @property
    def reading_paused(self) -> bool:
        """True while a full event stream holds this connection's station back (an otwire extension)."""
        return not self._reading

    def _state_changed(self) -> None:
        self._state_event.set()
        self._state_event = asyncio.Event()
        closed = self._state in (ConnectionState.CLOSED, ConnectionState.CLOSED_AWAIT_RECONNECT)
        self._hub.publish(StateChange(self, self._state, self._last_failure if closed else None))

    def _point_updated(self, point: PointBase, info: PointInfo, previous: PointInfo, message: IncomingMessage) -> None:
        if self._hub.streams:
            self._hub.publish(PointUpdate(cast(AsyncPoint, point), info, previous, message))

    def _station_initialized(self, station: AsyncStation, cause: Coi | int) -> None:
        self._hub.publish(StationInitialized(station, cause))

    # -- public operations -----------------------------------------------------------

    async def connect(self) -> None:
        """Start connecting (in the background) and keep reconnecting while the client runs."""
        self._wanted = True
        self._ensure_task()

    async def disconnect(self) -> None:
        """Close the connection and stop reconnecting; returns once it is closed."""
        self._wanted = False
        await self._stop_task()

    async def interrogation(
        self,
        common_address: int,
        cause: Cot = Cot.ACTIVATION,
        qualifier: Qoi = Qoi.STATION,
        wait_for_response: bool = True,
    ) -> bool:
        """Send an interrogation (C_IC_NA_1) and wait for its termination (ACT_TERM).

        Args:
            common_address: Station address; 0 or 65535 addresses every station.
            cause: ``Cot.ACTIVATION`` or ``Cot.DEACTIVATION``.
            qualifier: Station or group interrogation.
            wait_for_response: Wait for ACT_TERM (or a deactivation's confirmation).

        Returns:
            True on positive confirmation (or, with ``wait_for_response=False``, when sent);
            False on refusal, after ``command_timeout_ms``, or when the connection is not open.
            The reason of a False is in :attr:`last_request_error`.

        Raises:
            InvalidArgument: Invalid address, cause or qualifier.
        """
        request = requests.interrogation(common_address, cause, qualifier, self.originator_address)
        return await self._run([request], until_term=cause == Cot.ACTIVATION, wait=wait_for_response)

    async def counter_interrogation(
        self,
        common_address: int,
        cause: Cot = Cot.ACTIVATION,
        qualifier: Rqt = Rqt.GENERAL,
        freeze: Frz = Frz.READ,
        wait_for_response: bool = True,
    ) -> bool:
        """Send a counter interrogation (C_CI_NA_1) and wait for its termination.

        Args:
            common_address: Station address; 0 or 65535 addresses every station.
            cause: ``Cot.ACTIVATION`` or ``Cot.DEACTIVATION``.
            qualifier: Which counters (general or group 1..4).
            freeze: Read, freeze, freeze and reset, or reset.
            wait_for_response: Wait for ACT_TERM (or a deactivation's confirmation).

        Returns:
            True on positive confirmation (or, with ``wait_for_response=False``, when sent);
            False on refusal, after ``command_timeout_ms``, or when the connection is not open.
            The reason of a False is in :attr:`last_request_error`.

        Raises:
            InvalidArgument: Invalid address, cause or qualifier.
        """
        request = requests.counter_interrogation(common_address, cause, qualifier, freeze, self.originator_address)
        return await self._run([request], until_term=cause == Cot.ACTIVATION, wait=wait_for_response)

    async def clock_sync(self, common_address: int, wait_for_response: bool = True) -> bool:
        """Send a clock synchronisation (C_CS_NA_1) with the current UTC time.

        Args:
            common_address: Station address; 0 or 65535 addresses every station.
            wait_for_response: Wait for the confirmation.

        Returns:
            True on positive confirmation (or, with ``wait_for_response=False``, when sent);
            False on refusal, after ``command_timeout_ms``, or when the connection is not open.
            The reason of a False is in :attr:`last_request_error`.

        Raises:
            InvalidArgument: Invalid address.
        """
        request = requests.clock_sync(common_address, self.originator_address)
        return await self._run([request], until_term=False, wait=wait_for_response)

    async def test(self, common_address: int, with_time: bool = True, wait_for_response: bool = True) -> bool:
        """Send a test command: C_TS_TA_1 with a counter and the time, or C_TS_NA_1.

        Args:
            common_address: Station address; 0 or 65535 addresses every station.
            with_time: Send C_TS_TA_1 (True) or C_TS_NA_1 (False).
            wait_for_response: Wait for the confirmation.

        Returns:
            True on positive confirmation (or, with ``wait_for_response=False``, when sent);
            False on refusal, after ``command_timeout_ms``, or when the connection is not open.
            The reason of a False is in :attr:`last_request_error`.

        Raises:
            InvalidArgument: Invalid address.
        """
        self._test_counter += 1
        request = requests.test_command(common_address, with_time, self._test_counter, self.originator_address)
        return await self._run([request], until_term=False, wait=wait_for_response)

    async def mute(self) -> bool:
        """Stop data transfer (STOPDT act); the state becomes ``OPEN_MUTED`` once confirmed.

        Returns:
            True when the act was sent; False when not connected or another act is pending.
        """
        return self._send_u(UFunction.STOPDT_ACT)

    async def unmute(self) -> bool:
        """Start data transfer (STARTDT act); the state becomes ``OPEN`` once confirmed.

        Returns:
            True when the act was sent; False when not connected or another act is pending.
        """
        return self._send_u(UFunction.STARTDT_ACT)

    async def wait_for_state(self, *states: ConnectionState, timeout: float | None = None) -> bool:
        """Wait until the connection is in one of ``states``.

        Args:
            states: Acceptable states.
            timeout: Seconds to wait at most (``None``: no limit).

        Returns:
            True when reached, False on timeout.

        Raises:
            InvalidArgumentType: ``timeout`` is not a number.
        """
        check_seconds("timeout", timeout)
        try:
            async with asyncio.timeout(timeout):
                while self._state not in states:
                    await self._state_event.wait()
        except TimeoutError:
            return False
        return True

    def events(self, maxsize: int = 1024) -> EventStream[ClientEvent]:
        """Stream this connection's point updates, state changes and initializations.

        Args:
            maxsize: Events queued before the client stops reading from its stations
                (back-pressure on every connection of the client, see :class:`EventStream`).

        Returns:
            An async iterator, subscribed from now on; it ends when the client stops.

        Raises:
            InvalidArgument: ``maxsize`` is less than 1.
        """
        return EventStream(self._hub, maxsize, lambda e: _connection_of(e) is self)

    def updates(self, maxsize: int = 1024) -> EventStream[PointUpdate]:
        """Stream this connection's point updates.

        Args:
            maxsize: Updates queued before the client stops reading from its stations
                (back-pressure on every connection of the client, see :class:`EventStream`).

        Returns:
            An async iterator of :class:`PointUpdate`, subscribed from now on; it ends when
            the client stops.

        Raises:
            InvalidArgument: ``maxsize`` is less than 1.
        """
        return EventStream(self._hub, maxsize, lambda e: type(e) is PointUpdate and _connection_of(e) is self)

    # -- internals -------------------------------------------------------------------

    async def _run(self, steps: Sequence[ASDU], *, until_term: bool, wait: bool) -> bool:
        """Run a request; True when confirmed (``wait``) or sent, False otherwise (c104's bools)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()
        sent: list[bool] = []

        def on_done(error: BaseException | None) -> None:
            self._request_finished(error)
            if not done.done():  # the waiter may have been cancelled
                done.set_result(error)

        op = Operation(
            steps, until_term=until_term, timeout=self._client._command_timeout, on_done=on_done, on_sent=sent.append
        )
        self._safe(self._begin, op)
        if not wait:
            return bool(sent and sent[0])
        try:
            return (await done) is None
        except asyncio.CancelledError:
            self._requests.abandon(op)
            raise

    def _ensure_task(self) -> None:
        if not self._client._running or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name=f"otwire-iec104 {self._where()}")

    async def _stop_task(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _supervise(self) -> None:
        client = self._client
        loop = asyncio.get_running_loop()
        try:
            while client._running and self._wanted:
                self._set_state(ConnectionState.CLOSED_AWAIT_OPEN)
                engine = self._new_engine(loop.time())
                try:
                    transport = await open_connection(
                        engine,
                        self._ip,
                        self._port,
                        ssl=client._ssl,
                        timeout=self._parameters.connection_timeout,
                        on_event=self._on_engine_event,
                        on_close=self._on_transport_closed,
                    )
                except TransportError as exc:
                    self._engine = None
                    self._last_failure = connect_failure(exc)
                    logger.warning("%s: connect failed: %s", self._where(), self._last_failure)
                else:
                    self._transport = transport
                    self._record(transport)
                    self._apply_reading(transport)
                    logger.info("%s: connected", self._where())
                    self._attached()
                    await transport.wait_closed()
                if not (client._running and self._wanted):
                    break
                delay = self._next_delay()
                logger.info("%s: reconnecting in %.2f s", self._where(), delay)
                self._set_state(ConnectionState.CLOSED_AWAIT_RECONNECT)
                await asyncio.sleep(delay)
        finally:
            await self._close_transport()
            self._set_state(ConnectionState.CLOSED)

    def _set_reading(self, reading: bool) -> None:
        """Pause or resume reading from the station (stream back-pressure)."""
        self._reading = reading
        if self._transport is not None:
            self._apply_reading(self._transport)

    def _apply_reading(self, transport: AioTransport) -> None:
        stream = transport.transport
        if stream is None or stream.is_closing():
            return
        if self._reading:
            stream.resume_reading()
        else:
            stream.pause_reading()

    def _record(self, transport: AioTransport) -> None:
        stream = transport.transport
        if stream is None:
            return
        local, remote = stream.get_extra_info("sockname"), stream.get_extra_info("peername")
        if local and remote:
            transport.observer = self._open_recording((local[0], local[1]), (remote[0], remote[1]))

    async def _close_transport(self) -> None:
        transport, self._transport = self._transport, None  # its on_close is ignored from now on
        if transport is None:
            return
        if not transport.closed:
            self._set_state(ConnectionState.OPEN_AWAIT_CLOSED)
            transport.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CLOSE_WAIT):
                    await transport.wait_closed()
        self._detached(transport.error)

    def _on_transport_closed(self, transport: AioTransport) -> None:
        if transport is self._transport:
            self._transport = None
            self._detached(transport.error)


def _connection_of(event: object) -> AsyncConnection | None:
    if isinstance(event, PointUpdate):
        return event.point.station.connection
    if isinstance(event, StateChange):
        return event.connection
    if isinstance(event, StationInitialized):
        return event.station.connection
    return None
