"""One accepted client socket of the IMB3 hub: feeds its engine, writes what is queued, logs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, cast

from otwire.errors import RemoteProtocolError
from otwire.protocols import Event
from otwire.protocols.imb.hub import HubConnection
from otwire.protocols.imb.hub_events import (
    ClientIdentified,
    CommandRejected,
    ConnectionTerminated,
    TerminationReason,
)
from otwire.transports._common import Direction
from otwire.transports.record import PcapSession

if TYPE_CHECKING:
    from otwire.servers.imb.hub import BaseHub

LOGGER = logging.getLogger("otwire.servers.imb")


class Client(asyncio.Protocol):
    """One accepted socket: feeds its engine and writes what the engine queues."""

    def __init__(self, hub: BaseHub) -> None:
        self.hub = hub
        self.engine: HubConnection | None = None
        self.transport: asyncio.Transport | None = None
        self.recording: PcapSession | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.hub._accept(self)

    def data_received(self, data: bytes) -> None:
        engine = self.engine
        if engine is None or engine.is_closed:
            return
        if self.recording is not None:
            self.recording(Direction.IN, data)
        with contextlib.suppress(RemoteProtocolError):  # the engine closed; its event tells why
            engine.receive_data(data, self.hub._time())
        self.hub._flush(self)

    def eof_received(self) -> bool:
        self._end()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()
        if self.timer is not None:
            self.timer.cancel()
        if self.recording is not None:
            self.recording.close()
        self.hub._forget(self)
        if not self.lost.done():
            self.lost.set_result(None)

    def _end(self) -> None:
        engine = self.engine
        if engine is not None and not engine.is_closed:
            engine.receive_data(b"", self.hub._time())
            self.hub._flush(self)

    def flush(self) -> None:
        """Log the engine's events, write its octets, close or re-arm the heartbeat."""
        engine, transport = self.engine, self.transport
        if engine is None or transport is None:
            return
        slow = False
        while (event := engine.next_event()) is not None:
            _log(engine, event)
            slow |= type(event) is ConnectionTerminated and event.reason is TerminationReason.SLOW_CONSUMER
        data = engine.data_to_send()
        if data and not transport.is_closing():
            transport.write(data)
            if self.recording is not None:
                self.recording(Direction.OUT, data)
        if engine.is_closed:
            if slow:  # the engine's own output limit: drop what the transport still holds
                transport.abort()
            else:
                transport.close()  # what is buffered (an icEndSession) still goes out
            return
        queued = transport.get_write_buffer_size()
        if queued > self.hub.max_queue_bytes:
            LOGGER.info("%s: %d octets queued, limit %d", engine.name, queued, self.hub.max_queue_bytes)
            engine.overflow(self.hub._time())
            while (event := engine.next_event()) is not None:
                _log(engine, event)
            transport.abort()
            return
        self._arm()

    def _arm(self) -> None:
        assert self.engine is not None
        when = self.engine.get_timer()
        if when is None or (self.timer is not None and self.timer.when() == when):
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if self.engine is not None and not self.engine.is_closed:
            self.engine.handle_timer(self.hub._time())
            self.hub._flush(self)


_ORDERLY = (TerminationReason.LOCAL_CLOSE, TerminationReason.PEER_CLOSED, TerminationReason.END_SESSION)


def _log(engine: HubConnection, event: Event) -> None:
    name = engine.name
    if type(event) is ConnectionTerminated:
        level = logging.INFO if event.reason in _ORDERLY else logging.WARNING
        detail = f": {event.error}" if event.error is not None else ""
        LOGGER.log(level, "%s: disconnected (%s)%s", name, event.reason.value, detail)
    elif type(event) is ClientIdentified:
        LOGGER.info("%s: client info: owner %d %r", name, event.owner_id, event.owner_name)
    elif type(event) is CommandRejected:
        LOGGER.info("%s: command %d rejected: %s", name, event.command_code, event.reason)
    else:  # subscriptions, publications, variables, ignored commands, drops, junk
        LOGGER.debug("%s: %s", name, event)
