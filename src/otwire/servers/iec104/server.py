"""The outstation server: listening socket, client sessions, periodic ticks.

:class:`AsyncServer` runs in the caller's asyncio loop (``async with`` or ``await
server.serve()``); :class:`Server` runs the same thing in a daemon thread with blocking
``start()``/``stop()``, for scripts written in the c104 style. Each accepted client gets
its own sans-IO engine (:class:`~otwire.protocols.iec104.IEC104Connection`, controlled
role) driven by an :class:`~otwire.transports.aio.AioTransport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from otwire.codecs.iec104 import Cot
from otwire.errors import LocalProtocolError
from otwire.protocols.iec104 import IEC104Connection, Role
from otwire.servers._serving import AsyncServing, ThreadedServing
from otwire.servers.iec104._base import BaseServer
from otwire.servers.iec104._points import Point
from otwire.servers.iec104._session import LOGGER, Session
from otwire.transports.aio import AioTransport, start_server
from otwire.transports.record import PcapRecorder

__all__ = ["AsyncServer", "Server"]

#: Seconds clients get to close in order when the server stops, before they are aborted.
CLOSE_GRACE = 1.0


class _Serving(BaseServer):
    """The running machinery: listening socket, accepted sessions, scheduler."""

    async def _open(self) -> None:
        if self._loop is not None:
            raise LocalProtocolError("the server is already running")
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        try:
            self._recorder = PcapRecorder(self.record) if self.record is not None else None
            self._listener = await start_server(
                self._new_engine, self._ip, self._port, on_accept=self._accept, ssl=self.transport_security
            )
        except BaseException:
            await self._close()
            raise
        self._bound_port = self._listener.sockets[0].getsockname()[1]
        self._ticker = self._loop.create_task(self._tick_loop(), name="otwire iec104 server ticks")
        LOGGER.info("listening on %s:%d", self._ip, self._bound_port)

    async def _close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        sessions = list(self._sessions)
        for session in sessions:
            session.close()
        waits = [asyncio.ensure_future(s.transport.wait_closed()) for s in sessions]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=CLOSE_GRACE)
            for session in sessions:
                if session.transport.transport is not None and not session.transport.closed:
                    session.transport.transport.abort()
            for wait in pending:
                wait.cancel()
            await asyncio.sleep(0)  # let connection_lost run for the aborted ones
        if listener is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.wait_closed(), CLOSE_GRACE)
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        self._sessions.clear()
        self._loop, self._loop_thread, self._bound_port = None, 0, 0
        if listener is not None:
            LOGGER.info("stopped")

    def _new_engine(self) -> IEC104Connection:
        return IEC104Connection(
            role=Role.CONTROLLED,
            config=self.protocol_parameters,
            now=self._loop.time() if self._loop is not None else None,
            report_frames=self._send_raw is not None or self._receive_raw is not None,
            queue_limit=self.backlog_limit + 1,
        )

    def _accept(self, transport: AioTransport) -> None:
        session = Session(self, transport)
        refusal = None
        if self.max_connections and len(self._sessions) >= self.max_connections:
            refusal = f"max_connections={self.max_connections} reached"
        elif self._connect is not None and not self._accepts(session.ip):
            refusal = "refused by on_connect"
        if refusal is not None:
            LOGGER.warning("%s: connection refused: %s", session.name, refusal)
            transport.on_event = lambda event: None
            transport.close()
            return
        transport.on_event, transport.on_close = session.on_event, session.on_close
        if self._recorder is not None and transport.transport is not None:
            local = transport.transport.get_extra_info("sockname")
            session.recording = self._recorder.session(
                (str(local[0]), int(local[1])), (session.ip, session.port), initiator="remote"
            )
            transport.observer = session.recording
        self._sessions.add(session)
        LOGGER.info("%s: connected (%d open)", session.name, len(self._sessions))

    def _accepts(self, ip: str) -> bool:
        try:
            return bool(self._connect(self, ip)) if self._connect is not None else True
        except Exception:
            LOGGER.exception("on_connect callback failed; connection refused")
            return False

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = self._tick_rate_ms / 1000
        next_tick = loop.time()
        while True:
            next_tick += period
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            now = loop.time()
            next_tick = max(next_tick, now - period)  # after a stall, do not catch up tick by tick
            try:
                self._tick(now)
            except Exception:
                LOGGER.exception("scheduler tick failed")

    def _tick(self, now: float) -> None:
        due: list[Point] = []
        for station in self.stations:
            for point in station.points:
                if point.timer_callback is not None and _due(point, "next_timer", point.timer_ms, now):
                    self.call_point_callback(point, point.timer_callback, "on_timer")
                if point.report_ms and _due(point, "next_report", point.report_ms, now):
                    self.call_point_callback(point, point.before_auto_transmit_callback, "on_before_auto_transmit")
                    due.append(point)
                if point.selection is not None and point.selection.deadline < now:
                    point.selection = None
        if due:
            self._broadcast_points(due, Cot.PERIODIC, periodic=True)


def _due(point: Point, attribute: str, interval_ms: int, now: float) -> bool:
    """Advance a point's schedule; True when it is due at ``now`` (the first call only arms it)."""
    when: float | None = getattr(point, attribute)
    period = interval_ms / 1000
    if when is None:
        setattr(point, attribute, now + period)
        return False
    if now < when:
        return False
    setattr(point, attribute, when + period if now < when + period else now + period)
    return True


class AsyncServer(AsyncServing, _Serving):
    """The outstation in the caller's asyncio event loop.

    >>> async def main() -> None:  # doctest: +SKIP
    ...     async with AsyncServer(port=2404) as server:
    ...         station = server.add_station(1)
    ...         station.add_point(100, TypeId.M_SP_NA_1).value = True
    ...         await asyncio.sleep(3600)

    Arguments as :class:`BaseServer`.
    """


class Server(ThreadedServing, _Serving):
    """The outstation in a daemon thread of its own, with blocking ``start()``/``stop()``.

    Callbacks run in that thread. Point values may be set from any thread; ``transmit``
    calls wait until the server thread has queued the data. Usable as a context manager.

    Arguments as :class:`BaseServer`.
    """

    _label = "iec104 server"
    _logger = LOGGER
