"""Event records and bounded event streams of the asyncio client."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from otwire.clients.iec104._conninfo import logger
from otwire.clients.iec104._enums import Coi, ConnectionState
from otwire.clients.iec104._model import IncomingMessage
from otwire.codecs.iec104 import Cot
from otwire.codecs.iec104.values import PointInfo

if TYPE_CHECKING:
    from otwire.clients.iec104.aio import AsyncConnection, AsyncPoint, AsyncStation

__all__ = ["ClientEvent", "EventStream", "PointUpdate", "StateChange", "StationInitialized"]

E = TypeVar("E")


class _Hub(Protocol):
    """What a stream needs of its client: the set of subscribed streams."""

    _streams: set[EventStream[Any]]


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
    """A connection changed state."""

    connection: AsyncConnection
    state: ConnectionState


@dataclass(frozen=True, slots=True)
class StationInitialized:
    """A station reported end of initialization (M_EI_NA_1)."""

    station: AsyncStation
    cause: Coi | int


ClientEvent = PointUpdate | StateChange | StationInitialized


class EventStream(Generic[E]):
    """An async iterator over client events, bounded: when full, the oldest event is dropped.

    Iteration ends after the client stops (once the queued events are taken) or after
    :meth:`close`. Use ``async with`` or ``close()`` to unsubscribe early.
    """

    def __init__(self, client: _Hub, maxsize: int, accept: Callable[[object], bool]) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize={maxsize} must be at least 1")
        self._client = client
        self._queue: deque[E] = deque()
        self._maxsize = maxsize
        self._accept = accept
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0
        """Events dropped because the consumer was too slow."""
        client._streams.add(cast("EventStream[Any]", self))

    def __aiter__(self) -> EventStream[E]:
        return self

    async def __anext__(self) -> E:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def close(self) -> None:
        """Unsubscribe; iteration ends after the queued events."""
        self._closed = True
        self._client._streams.discard(cast("EventStream[Any]", self))
        self._ready.set()

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
        if len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("event stream full: %d event(s) dropped so far", self.dropped)
        self._queue.append(cast(E, event))
        self._ready.set()
