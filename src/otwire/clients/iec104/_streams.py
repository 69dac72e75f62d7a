"""Bounded event streams of the asyncio client, and the hub that applies back-pressure.

A stream never drops what the station sent because its consumer is slow: when any stream
holds ``maxsize`` events, the hub asks the client to stop reading from its connections
(``on_pressure(True)``). Frames that are not read are not acknowledged, so the station's
send window (k, IEC 60870-5-104 5.5) fills and the station waits. Reading resumes once
every stream is down to half its ``maxsize``. Events decoded from octets already read when
the pause began are still queued, so a stream may briefly hold more than ``maxsize``; only
beyond a hard cap (a consumer that stopped reading for good) is the oldest event dropped,
counted in :attr:`EventStream.dropped` and logged.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from otwire.clients.iec104._log import logger
from otwire.errors import InvalidArgument

__all__ = ["EventStream", "StreamHub"]

E = TypeVar("E")

#: Events a stream may hold beyond ``maxsize`` (decoded from octets read before the pause).
_SLACK = 8192


class StreamHub:
    """The streams subscribed to one client; publishes events and reports back-pressure.

    Args:
        on_pressure: Called with True when a stream became full (stop reading) and with
            False when every stream has room again (resume reading).
    """

    def __init__(self, on_pressure: Callable[[bool], None] | None = None) -> None:
        self.streams: set[EventStream[Any]] = set()
        self.on_pressure = on_pressure
        self.paused = False

    def publish(self, event: object) -> None:
        """Offer ``event`` to every stream, then update the back-pressure."""
        for stream in list(self.streams):
            stream._push(event)
        self.check()

    def check(self) -> None:
        """Pause when a stream is full; resume when every stream is at most half full."""
        if not self.paused and any(s.full for s in self.streams):
            self._set_paused(True)
        elif self.paused and all(s.low for s in self.streams):
            self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        self.paused = paused
        if self.on_pressure is not None:
            self.on_pressure(paused)


class EventStream(Generic[E]):
    """An async iterator over client events with back-pressure (see the module documentation).

    Iteration ends after the client stops (once the queued events are taken) or after
    :meth:`close`. Use ``async with`` or ``close()`` to unsubscribe early.

    Args:
        hub: The client's stream hub.
        maxsize: Events queued before the client stops reading from the stations.
        accept: Selects the events of this stream.

    Raises:
        InvalidArgument: ``maxsize`` is less than 1.
    """

    def __init__(self, hub: StreamHub, maxsize: int, accept: Callable[[object], bool]) -> None:
        if not (isinstance(maxsize, int) and maxsize >= 1):
            raise InvalidArgument(f"maxsize={maxsize!r} must be at least 1")
        self._hub = hub
        self._queue: deque[E] = deque()
        self._maxsize = maxsize
        self._accept = accept
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0
        """Events dropped because the consumer stopped reading (more than ``maxsize`` + 8192 queued)."""
        hub.streams.add(cast("EventStream[Any]", self))

    @property
    def full(self) -> bool:
        """True when ``maxsize`` events are queued (the client stops reading)."""
        return len(self._queue) >= self._maxsize

    @property
    def low(self) -> bool:
        """True when at most half of ``maxsize`` is queued (reading may resume)."""
        return len(self._queue) <= self._maxsize // 2

    def __len__(self) -> int:
        """Return the number of queued events."""
        return len(self._queue)

    def __aiter__(self) -> EventStream[E]:
        return self

    async def __anext__(self) -> E:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        event = self._queue.popleft()
        if self._hub.paused:
            self._hub.check()
        return event

    def close(self) -> None:
        """Unsubscribe; iteration ends after the queued events."""
        self._closed = True
        self._hub.streams.discard(cast("EventStream[Any]", self))
        self._ready.set()
        self._hub.check()

    async def aclose(self) -> None:
        """Same as :meth:`close` (for ``contextlib.aclosing``)."""
        self.close()

    async def __aenter__(self) -> EventStream[E]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _push(self, event: object) -> None:
        if self._closed or not self._accept(event):
            return
        if len(self._queue) >= self._maxsize + _SLACK:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("event stream not read: %d event(s) dropped so far", self.dropped)
        self._queue.append(cast(E, event))
        self._ready.set()
