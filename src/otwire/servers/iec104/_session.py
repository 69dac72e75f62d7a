"""One client connection of the outstation: engine events in, replies out, bounded backlog.

A :class:`Session` is what the outstation keeps per accepted socket. The generic server
driver (:class:`~otwire.transports.aio_server.PeerServer`) hands it its engine's events;
everything it sends goes into its engine (:class:`~otwire.protocols._peers.ConnectionPeers`)
and the driver writes it: at once after an event batch (request and reply order is kept),
at the end of the loop iteration for spontaneous and periodic data.
"""

from __future__ import annotations

import logging
from typing import Protocol

from otwire.codecs.iec104 import ASDU
from otwire.codecs.iec104.apci import MAX_LENGTH
from otwire.codecs.iec104.framing import APDUFramer, Junk, LengthError
from otwire.errors import LocalProtocolError
from otwire.protocols import Buffer, Event, TerminationReason
from otwire.protocols._peers import ConnectionPeers
from otwire.protocols.iec104 import (
    ASDUReceived,
    ConnectionTerminated,
    DataTransferStarted,
    DataTransferStopped,
    FrameReceived,
    FrameSent,
    IEC104Connection,
    State,
    TestFrameReceived,
)
from otwire.servers.iec104._requests import RequestServer, answer_request
from otwire.servers.iec104._station import Station
from otwire.servers.iec104._wire import end_of_init
from otwire.transports.aio_server import PeerServer, PeerSocket
from otwire.transports.limits import ServerLimits

__all__ = ["APDU_OCTETS", "LOGGER", "APDUCounter", "OutstationPeers", "Session", "SessionServer"]

LOGGER = logging.getLogger("otwire.servers.iec104")

#: Octets of the longest APDU: an ASDU held back by the k window counts this much.
APDU_OCTETS = MAX_LENGTH + 2

#: Ends logged as warnings (the others are orderly, or limits the driver logged already).
_WARNED_ENDS = frozenset({TerminationReason.PROTOCOL_ERROR, TerminationReason.T1_TIMEOUT})

#: The outstation's many-peer engine: one controlled-station engine per client.
OutstationPeers = ConnectionPeers[int, IEC104Connection]


class APDUCounter:
    """Counts the APDUs completed by each received chunk (the driver's idle and frame deadlines).

    Uses the codec's framer, so a frame is exactly what the engine sees as one.
    """

    __slots__ = ("_framer",)

    def __init__(self) -> None:
        self._framer = APDUFramer()

    def __call__(self, data: Buffer) -> int:
        framer, count = self._framer, 0
        framer.receive_data(data)
        while (item := framer.next_item()) is not None:
            count += not isinstance(item, Junk | LengthError)
        return count


def held_octets(engine: IEC104Connection) -> int:
    """Octets an engine holds behind its k window (counted at the longest APDU each)."""
    return engine.queued * APDU_OCTETS


class SessionServer(RequestServer, Protocol):
    """What a session needs from its server (:class:`~otwire.servers.iec104.BaseServer` is one)."""

    peers: OutstationPeers | None
    limits: ServerLimits
    end_of_init: bool
    backlog_limit: int

    @property
    def driver(self) -> PeerServer | None: ...

    @property
    def stations(self) -> list[Station]: ...

    def raw_received(self, data: bytes) -> None: ...

    def raw_sent(self, data: bytes) -> None: ...


class Session:
    """The outstation side of one client connection.

    Args:
        server: The server that accepted the connection.
        sock: The accepted socket (peer id, address) from the server driver.
    """

    def __init__(self, server: SessionServer, sock: PeerSocket) -> None:
        self.server = server
        self.sock = sock
        self.peer = sock.peer
        self.ip, self.port, self.name = sock.ip, sock.port, sock.name
        self.closing = False
        self._engine: IEC104Connection | None = None
        self._initialized = False
        self._throttled = False
        self.dropped = 0
        """ASDUs this session queued (``send`` returned True) and threw away unsent when it ended."""

    @property
    def peers(self) -> OutstationPeers:
        """The engine of every client of the server."""
        peers = self.server.peers
        assert peers is not None, "a session exists only while its server runs"
        return peers

    @property
    def driver(self) -> PeerServer:
        """The running server driver."""
        driver = self.server.driver
        assert driver is not None, "a session exists only while its server runs"
        return driver

    @property
    def engine(self) -> IEC104Connection:
        """This connection's engine (controlled station)."""
        if self._engine is None:
            self._engine = self.peers.connection(self.peer)
        return self._engine

    @property
    def started(self) -> bool:
        """True while data transfer is started and the session is not closing."""
        return not self.closing and self.engine.state is State.STARTED

    @property
    def now(self) -> float:
        """The event loop's clock, seconds."""
        return self.driver.now()

    # -- events ----------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Handle one engine event; never raises (an internal error drops the connection)."""
        try:
            self._react(event)
        except Exception:
            LOGGER.exception("%s: internal error while handling %r", self.name, event)
            self.abort("internal error", TerminationReason.LOCAL_CLOSE)

    def _react(self, event: Event) -> None:
        """Answer requests, pass raw frames to the callbacks, log the lifecycle."""
        if isinstance(event, ASDUReceived):
            if not self.closing:
                answer_request(self, event.asdu)
        elif isinstance(event, FrameReceived):
            self.server.raw_received(event.data)
        elif isinstance(event, FrameSent):
            self.server.raw_sent(event.data)
        elif isinstance(event, DataTransferStarted):
            LOGGER.info("%s: data transfer started", self.name)
            self._send_end_of_init()
        elif isinstance(event, DataTransferStopped):
            LOGGER.info("%s: data transfer stopped", self.name)
        elif isinstance(event, ConnectionTerminated):
            self._log_end(event)
        elif isinstance(event, TestFrameReceived):
            LOGGER.debug("%s: TESTFR act answered", self.name)
        else:  # activation events: this station never sends activations
            LOGGER.debug("%s: ignored %s", self.name, type(event).__name__)

    def _send_end_of_init(self) -> None:
        if self._initialized or not self.server.end_of_init:
            return
        self._initialized = True
        for station in self.server.stations:
            if not self.send(end_of_init(station.common_address)):
                return

    def _log_end(self, event: ConnectionTerminated) -> None:
        self.closing = True
        self.dropped = self.engine.discarded
        reason = event.reason.value
        lost = f" ({self.dropped} queued ASDUs discarded)" if self.dropped else ""
        if event.reason in _WARNED_ENDS:
            detail = f": {event.error}" if event.error is not None else ""
            LOGGER.warning("%s: connection closed, %s%s%s", self.name, reason, detail, lost)
        else:
            LOGGER.info("%s: connection closed, %s%s", self.name, reason, lost)

    # -- output ----------------------------------------------------------------------

    def send(self, asdu: ASDU, *, periodic: bool = False) -> bool:
        """Queue one ASDU for this client, within the backlog bounds.

        Periodic data is skipped (not queued) while half the backlog is used. A session
        whose backlog is full (``backlog_limit`` ASDUs, or ``max_output_bytes`` octets with
        the socket buffer) is dropped as a slow consumer, and the ASDU is not queued.

        Args:
            asdu: The ASDU.
            periodic: True for data that the next period repeats anyway.

        Returns:
            True if the ASDU is queued: it is sent unless the connection ends first (the
            client closes it, t1 expires, or it is later dropped as a slow consumer); then
            it is counted in :attr:`dropped` (ASDUs held back by the k window are thrown
            away; I-frames already sent but not acknowledged are not counted).
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
        held, cap = queued * APDU_OCTETS + self.sock.write_buffer_size, self.server.limits.max_output_bytes
        if held + APDU_OCTETS > cap:
            self.abort(f"slow consumer, {held} octets queued, limit {cap}")
            return False
        self._throttled = self._throttled and queued > 0
        try:
            self.peers.send(self.peer, asdu, self.now)
        except LocalProtocolError as exc:
            LOGGER.debug("%s: not sent (%s): %s", self.name, exc, asdu)
            return False
        self.driver.process_soon()
        return True

    def abort(self, detail: str, reason: TerminationReason = TerminationReason.SLOW_CONSUMER) -> None:
        """Drop the connection at once (its unsent data is lost); one log line with ``reason`` and ``detail``."""
        if self.closing:
            return
        self.closing = True
        held = self._engine.queued if self._engine is not None else 0
        self.driver.drop(self.sock, reason, f"{detail}; {held} queued ASDUs discarded" if held else detail)

    def on_close(self) -> None:
        """The socket is gone (:attr:`dropped` is final)."""
        self.closing = True
        if self._engine is not None:
            self.dropped = max(self.dropped, self._engine.discarded)

    def __repr__(self) -> str:
        state = self._engine.state.name if self._engine is not None else "?"
        return f"<Session {self.name} {state}>"
