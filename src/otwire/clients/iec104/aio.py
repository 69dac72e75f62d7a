"""asyncio IEC 104 controlling station: c104's client API as coroutines, without threads.

Everything runs on the event loop that called :meth:`AsyncClient.start`: each connection
is one supervisor task (connect, run, back off, reconnect) over
:class:`~otwire.transports.aio.AioTransport`. Requests are coroutines
(``await connection.interrogation(47)``, ``await point.transmit()``) that return the same
booleans as the threaded client. Callbacks (``on_receive``, ``on_state_change``, ...) are
plain functions called on the loop; data can also be consumed as streams, which hold the
stations back instead of dropping data when the consumer is slow (see :class:`EventStream`)::

    async with AsyncClient() as client:
        connection = client.add_connection("10.0.0.5", init=Init.INTERROGATION)
        ...
        async for update in client.updates():
            print(update.point.io_address, update.info.value)
"""

from __future__ import annotations

import asyncio
import os
import ssl

from otwire.clients.iec104._async_connection import (
    AsyncConnection,
    AsyncPoint,
    AsyncStation,
    ClientEvent,
    PointUpdate,
    StateChange,
    StationInitialized,
)
from otwire.clients.iec104._enums import Init
from otwire.clients.iec104._settings import ClientSettings
from otwire.clients.iec104._streams import EventStream, StreamHub
from otwire.errors import InvalidState

__all__ = [
    "AsyncClient",
    "AsyncConnection",
    "AsyncPoint",
    "AsyncStation",
    "ClientEvent",
    "EventStream",
    "PointUpdate",
    "StateChange",
    "StationInitialized",
]


class AsyncClient(ClientSettings[AsyncConnection]):
    """asyncio IEC 104 controlling station with the API of ``c104.Client`` as coroutines.

    Args: as :class:`otwire.clients.iec104.Client`.

    Raises:
        InvalidArgument: A time is not positive (also a ``ValueError``).
        InvalidArgumentType: ``transport_security`` is not an ``ssl.SSLContext`` (also a ``TypeError``).
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
        self._hub = StreamHub(self._hold_back)

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
            InvalidArgument: Invalid ``ip``, ``port`` or ``init``, or the ``record`` file
                cannot be created (the ``OSError`` is its cause).
            InvalidState: The client runs and this is not the event loop's thread.
        """
        checked = self._check_address(ip, port, init)
        if (ip, port) in self._connections:
            return None
        if self._running:
            _require_loop()
        connection = AsyncConnection(self, self._hub, ip, port, checked, record)
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
        for stream in list(self._hub.streams):
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
            maxsize: Events queued before the client stops reading from its stations
                (back-pressure, see :class:`EventStream`); only a consumer that stops
                reading for good (``maxsize`` + 8192 queued) loses the oldest events,
                counted in ``EventStream.dropped`` and logged.

        Returns:
            An async iterator, subscribed from now on; it ends when the client stops.

        Raises:
            InvalidArgument: ``maxsize`` is less than 1.
        """
        return EventStream(self._hub, maxsize, lambda e: True)

    def updates(self, maxsize: int = 1024) -> EventStream[PointUpdate]:
        """Stream the point updates of every connection, holding the stations back when slow.

        While ``maxsize`` updates wait in this stream, the client stops reading from its
        connections: unread I-frames are not acknowledged, so each station stops sending
        when its window of k unacknowledged frames is full (IEC 60870-5-104 5.5). No
        update is dropped. A consumer that stays behind for longer than the station's t1
        (15 s by default) makes the station close the connection, as the standard says.

        Args:
            maxsize: Updates queued before reading pauses (it resumes at half).

        Returns:
            An async iterator of :class:`PointUpdate`, subscribed from now on; it ends when
            the client stops.

        Raises:
            InvalidArgument: ``maxsize`` is less than 1.
        """
        return EventStream(self._hub, maxsize, lambda e: type(e) is PointUpdate)

    async def __aenter__(self) -> AsyncClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _hold_back(self, paused: bool) -> None:
        """Stream back-pressure: stop (or resume) reading from every connection."""
        for connection in self.connections:
            connection._set_reading(not paused)


def _require_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError as exc:
        raise InvalidState("call this from the event loop that runs the AsyncClient") from exc
