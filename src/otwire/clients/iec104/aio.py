"""asyncio IEC 104 controlling station: c104's client API as coroutines, without threads.

Everything runs on the event loop that called :meth:`AsyncClient.start`: each connection
is one supervisor task (connect, run, back off, reconnect) over
:class:`~otwire.transports.aio.AioTransport`. Requests are coroutines
(``await connection.interrogation(47)``, ``await point.transmit()``) that return the same
booleans as the threaded client. Callbacks (``on_receive``, ``on_state_change``, ...) are
plain functions called on the loop; data can also be consumed as streams::

    async with AsyncClient() as client:
        connection = client.add_connection("10.0.0.5", init=Init.INTERROGATION)
        ...
        async for update in client.updates():
            print(update.point.io_address, update.info.value)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Callable, Sequence
from typing import Any, cast

from otwire.clients.iec104 import _requests as requests
from otwire.clients.iec104._base import ClientBase
from otwire.clients.iec104._core import ConnectionBase, Operation, logger
from otwire.clients.iec104._enums import Coi, ConnectionState, Frz, Init, Qoi, Rqt
from otwire.clients.iec104._model import IncomingMessage, PointBase, StationBase
from otwire.clients.iec104._streams import ClientEvent, EventStream, PointUpdate, StateChange, StationInitialized
from otwire.codecs.iec104 import ASDU, Cot, UFrame, UFunction
from otwire.codecs.iec104.values import PointInfo
from otwire.errors import ConnectionLost, TransportError
from otwire.transports.aio import AioTransport, open_connection

__all__ = [
    "AsyncClient",
    "AsyncConnection",
    "AsyncPoint",
    "AsyncStation",
    "EventStream",
    "PointUpdate",
    "StateChange",
    "StationInitialized",
]

#: Seconds a closing transport may take before the supervisor gives up waiting.
_CLOSE_WAIT = 5.0


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

        Raises:
            ValueError: Not a command point, another cause, or a value that does not fit.
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
        self, client: AsyncClient, ip: str, port: int, init: Init, record: str | os.PathLike[str] | None
    ) -> None:
        super().__init__(client, ip, port, init, record)
        self._aio_client = client
        self._transport: AioTransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._state_event = asyncio.Event()

    # -- flavour hooks -----------------------------------------------------------------

    def _make_station(self, common_address: int) -> AsyncStation:
        return AsyncStation(self, common_address, AsyncPoint)

    def _transport_send(self, message: ASDU | UFrame) -> None:
        transport = self._transport
        if transport is None:
            raise ConnectionLost("not connected")
        transport.send(message)

    def _call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, self._safe, callback)

    def _state_changed(self) -> None:
        self._state_event.set()
        self._state_event = asyncio.Event()
        self._aio_client._publish(StateChange(self, self._state))

    def _point_updated(self, point: PointBase, info: PointInfo, previous: PointInfo, message: IncomingMessage) -> None:
        if self._aio_client._streams:
            self._aio_client._publish(PointUpdate(cast(AsyncPoint, point), info, previous, message))

    def _station_initialized(self, station: AsyncStation, cause: Coi | int) -> None:
        self._aio_client._publish(StationInitialized(station, cause))

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

        Raises:
            ValueError: Invalid address, cause or qualifier.
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

        Raises:
            ValueError: Invalid address, cause or qualifier.
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

        Raises:
            ValueError: Invalid address.
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

        Raises:
            ValueError: Invalid address.
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
        """
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
            maxsize: Events kept for a slow consumer before the oldest are dropped.

        Returns:
            An async iterator, subscribed from now on; it ends when the client stops.
        """
        return EventStream(self._aio_client, maxsize, lambda e: _connection_of(e) is self)

    def updates(self, maxsize: int = 1024) -> EventStream[PointUpdate]:
        """Stream this connection's point updates.

        Args:
            maxsize: Updates kept for a slow consumer before the oldest are dropped.

        Returns:
            An async iterator of :class:`PointUpdate`, subscribed from now on; it ends when
            the client stops.
        """
        return EventStream(self._aio_client, maxsize, lambda e: type(e) is PointUpdate and _connection_of(e) is self)

    # -- internals -------------------------------------------------------------------

    async def _run(self, steps: Sequence[ASDU], *, until_term: bool, wait: bool) -> bool:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        sent: list[bool] = []

        def on_done(ok: bool) -> None:
            if not done.done():  # the waiter may have been cancelled
                done.set_result(ok)

        op = Operation(
            steps, until_term=until_term, timeout=self._client._command_timeout, on_done=on_done, on_sent=sent.append
        )
        self._safe(self._begin, op)
        if not wait:
            return bool(sent and sent[0])
        if done.done():
            return done.result()
        try:
            return await done
        except asyncio.CancelledError:
            self._abandon(op)
            raise

    def _ensure_task(self) -> None:
        if not self._aio_client._running or (self._task is not None and not self._task.done()):
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
        client = self._aio_client
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
                    logger.warning("%s: connect failed: %s", self._where(), exc)
                else:
                    self._transport = transport
                    self._record(transport)
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


class AsyncClient(ClientBase[AsyncConnection]):
    """asyncio IEC 104 controlling station with the API of ``c104.Client`` as coroutines.

    Args: as :class:`otwire.clients.iec104.Client`.

    Raises:
        ValueError: A time is not positive.
        TypeError: ``transport_security`` is not an ``ssl.SSLContext``.
    """

    def __init__(
        self,
        tick_rate_ms: int = 100,
        command_timeout_ms: int = 10000,
        transport_security: ssl.SSLContext | None = None,
        *,
        reconnect_delay_ms: int = 1000,
        max_reconnect_delay_ms: int = 30000,
    ) -> None:
        super().__init__(
            tick_rate_ms, command_timeout_ms, transport_security, reconnect_delay_ms, max_reconnect_delay_ms
        )
        self._streams: set[EventStream[Any]] = set()

    def add_connection(
        self,
        ip: str,
        port: int = 2404,
        init: Init | None = Init.ALL,
        *,
        record: str | os.PathLike[str] | None = None,
    ) -> AsyncConnection | None:
        """Add a connection; it connects when the client runs (at once if it runs already).

        While the client runs, call it from the event loop's thread (it starts a task).

        Args: as :meth:`otwire.clients.iec104.Client.add_connection`.

        Returns:
            The connection, or ``None`` when one to ``ip:port`` exists already.

        Raises:
            ValueError: Invalid ``ip`` or ``port``.
            OSError: The ``record`` file cannot be created.
        """
        checked = self._check_address(ip, port, init)
        if (ip, port) in self._connections:
            return None
        connection = AsyncConnection(self, ip, port, checked, record)
        self._connections[(ip, port)] = connection
        if self._running:
            connection._ensure_task()
        return connection

    async def start(self) -> None:
        """Start connecting every connection (returns at once)."""
        if self._running:
            return
        self._running = True
        for connection in self.connections:
            connection._wanted = True
            connection._ensure_recorder()
            connection._ensure_task()

    async def stop(self) -> None:
        """Close every connection, end every event stream and stop."""
        if not self._running:
            return
        self._running = False
        await asyncio.gather(*(c._stop_task() for c in self.connections))
        for connection in self.connections:
            connection._close_recording(final=True)
        for stream in list(self._streams):
            stream.close()

    async def reconnect_all(self) -> None:
        """Close every connection and connect it again at once."""
        for connection in self.connections:
            await connection._stop_task()
            connection._wanted = True
            connection._failures = 0
            connection._ensure_task()

    async def disconnect_all(self) -> None:
        """Close every connection (they stay closed until ``connect()`` or ``start()``)."""
        for connection in self.connections:
            await connection.disconnect()

    def events(self, maxsize: int = 1024) -> EventStream[ClientEvent]:
        """Stream point updates, state changes and initializations of every connection.

        Args:
            maxsize: Events kept for a slow consumer before the oldest are dropped.

        Returns:
            An async iterator, subscribed from now on; it ends when the client stops.
        """
        return EventStream(self, maxsize, lambda e: True)

    def updates(self, maxsize: int = 1024) -> EventStream[PointUpdate]:
        """Stream the point updates of every connection.

        Args:
            maxsize: Updates kept for a slow consumer before the oldest are dropped.

        Returns:
            An async iterator of :class:`PointUpdate`, subscribed from now on; it ends when
            the client stops.
        """
        return EventStream(self, maxsize, lambda e: type(e) is PointUpdate)

    async def __aenter__(self) -> AsyncClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _publish(self, event: object) -> None:
        for stream in list(self._streams):
            stream._push(event)
