"""The outstation server: the shared server base, periodic ticks; asyncio and threaded flavours.

:class:`AsyncServer` runs in the caller's asyncio loop (``async with`` or ``await
server.serve()``); :class:`Server` runs the same thing in a daemon thread with blocking
``start()``/``stop()``, for scripts written in the c104 style. Each accepted client gets
its own sans-IO engine (:class:`~otwire.protocols.iec104.IEC104Connection`, controlled
role), all driven by the generic server driver with its limits
(:class:`~otwire.transports.aio_server.PeerServer`).
"""

from __future__ import annotations

import asyncio
import contextlib

from otwire.codecs.iec104 import Cot
from otwire.servers._base import CLOSE_GRACE
from otwire.servers._serving import AsyncServing, ThreadedServing
from otwire.servers.iec104._base import BaseServer
from otwire.servers.iec104._points import Point
from otwire.servers.iec104._session import LOGGER

__all__ = ["CLOSE_GRACE", "AsyncServer", "Server"]


class _Serving(BaseServer):
    """The periodic scheduler on top of the server base."""

    _ticker: asyncio.Task[None] | None = None

    async def _after_open(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop(), name="otwire iec104 server ticks")

    async def _before_close(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

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
        """Run point timers, queue periodic reports, expire selects."""
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
