"""One client connection of the outstation: engine events in, replies out, bounded backlog.

A :class:`Session` is the ``on_event`` callback of one
:class:`~otwire.transports.aio.AioTransport`. Replies produced while an event is being
handled go straight to the engine (the transport writes them when the event batch is
done, so request and reply order is kept); anything sent from elsewhere (spontaneous,
periodic) goes through the transport.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from otwire.codecs.iec104 import ASDU
from otwire.errors import ConnectionLost, LocalProtocolError
from otwire.protocols import Event
from otwire.protocols.iec104 import (
    ASDUReceived,
    ConnectionTerminated,
    DataTransferStarted,
    DataTransferStopped,
    FrameReceived,
    FrameSent,
    IEC104Connection,
    State,
    TerminationReason,
    TestFrameReceived,
)
from otwire.servers.iec104._requests import handle_asdu
from otwire.servers.iec104._wire import end_of_init
from otwire.transports.aio import AioTransport
from otwire.transports.record import PcapSession

if TYPE_CHECKING:
    from otwire.servers.iec104._base import BaseServer

__all__ = ["LOGGER", "Session"]

LOGGER = logging.getLogger("otwire.servers.iec104")


class Session:
    """The outstation side of one client connection.

    Args:
        server: The server that accepted the connection.
        transport: The transport driving this connection's engine.
    """

    def __init__(self, server: BaseServer, transport: AioTransport) -> None:
        self.server = server
        self.transport = transport
        self.engine = cast(IEC104Connection, transport.connection)
        peer = transport.transport.get_extra_info("peername") if transport.transport is not None else None
        self.ip, self.port = (str(peer[0]), int(peer[1])) if peer else ("?", 0)
        self.name = f"{self.ip}:{self.port}"
        self.recording: PcapSession | None = None
        self.closing = False
        self._loop = asyncio.get_running_loop()
        self._in_event = False
        self._initialized = False
        self._throttled = False

    @property
    def started(self) -> bool:
        """True while data transfer is started and the session is not closing."""
        return not self.closing and self.engine.state is State.STARTED

    @property
    def now(self) -> float:
        """The event loop's clock, seconds."""
        return self._loop.time()

    # -- events ----------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Handle one engine event (the transport's ``on_event``); never raises."""
        self._in_event = True
        try:
            self._dispatch(event)
        except Exception:
            LOGGER.exception("%s: internal error while handling %r", self.name, event)
            self.abort("internal error")
        finally:
            self._in_event = False

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, ASDUReceived):
            if not self.closing:
                handle_asdu(self, event.asdu)
        elif isinstance(event, FrameReceived):
            self.server.raw_received(event.data)
        elif isinstance(event, FrameSent):
            self.server.raw_sent(event.data)
        elif isinstance(event, DataTransferStarted):
            LOGGER.info("%s: data transfer started", self.name)
            self._on_started()
        elif isinstance(event, DataTransferStopped):
            LOGGER.info("%s: data transfer stopped", self.name)
        elif isinstance(event, ConnectionTerminated):
            self._on_terminated(event)
        elif isinstance(event, TestFrameReceived):
            LOGGER.debug("%s: TESTFR act answered", self.name)
        else:  # activation events: this station never sends activations
            LOGGER.debug("%s: ignored %s", self.name, type(event).__name__)

    def _on_started(self) -> None:
        if self._initialized or not self.server.end_of_init:
            return
        self._initialized = True
        for station in self.server.stations:
            if not self.send(end_of_init(station.common_address)):
                return

    def _on_terminated(self, event: ConnectionTerminated) -> None:
        self.closing = True
        if event.reason in (TerminationReason.PROTOCOL_ERROR, TerminationReason.T1_TIMEOUT):
            detail = f": {event.error}" if event.error is not None else ""
            LOGGER.warning("%s: connection closed, %s%s", self.name, event.reason.value, detail)
        else:
            LOGGER.info("%s: connection closed, %s", self.name, event.reason.value)

    def on_close(self, transport: AioTransport) -> None:
        """Forget the session once its transport is gone (the transport's ``on_close``)."""
        self.closing = True
        if self.recording is not None:
            self.recording.close()
        self.server.session_closed(self)
        if transport.error is not None:
            LOGGER.debug("%s: transport error %s", self.name, transport.error)

    # -- output ----------------------------------------------------------------------

    def send(self, asdu: ASDU, *, periodic: bool = False) -> bool:
        """Send one ASDU to this client, within the backlog bounds.

        Periodic data is skipped (not queued) while half the backlog is used; a session
        whose backlog is full is closed as a slow consumer.

        Args:
            asdu: The ASDU.
            periodic: True for data that the next period repeats anyway.

        Returns:
            True if the engine took the ASDU.
        """
        if not self.started:
            return False
        queued, limit = self.engine.queued, self.server.backlog_limit
        if periodic and queued >= limit // 2:
            if not self._throttled:
                LOGGER.info("%s: %d ASDUs wait for acknowledgement; periodic data skipped", self.name, queued)
                self._throttled = True
            return False
        if queued >= limit:
            self.abort(f"slow consumer, {queued} ASDUs wait for acknowledgement")
            return False
        self._throttled = self._throttled and queued > 0
        try:
            if self._in_event:
                self.engine.send(asdu, self.now)
            else:
                self.transport.send(asdu)
        except (LocalProtocolError, ConnectionLost) as exc:
            LOGGER.debug("%s: not sent (%s): %s", self.name, exc, asdu)
            return False
        return True

    def abort(self, reason: str) -> None:
        """Close at once, dropping unsent data (logged with ``reason``)."""
        if self.closing:
            return
        self.closing = True
        LOGGER.warning("%s: closing the connection: %s", self.name, reason)
        self._loop.call_soon(self._abort_now)

    def _abort_now(self) -> None:
        self.transport.close()
        if self.transport.transport is not None:
            self.transport.transport.abort()

    def close(self) -> None:
        """Close in order (the engine acknowledges what it received, buffered data is written)."""
        self.closing = True
        self.transport.close()

    def __repr__(self) -> str:
        return f"<Session {self.name} {self.engine.state.name} queued={self.engine.queued}>"
