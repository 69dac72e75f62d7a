"""What every outstation server shares: stations, callbacks, client sessions, transmission.

:class:`BaseServer` holds the data model and the callbacks; the running machinery (the
listening socket, the event loop, the scheduler) is in :mod:`otwire.servers.iec104.server`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import ssl
from collections.abc import Callable
from typing import TypeVar

from otwire.codecs.iec104 import ASDU, Cot
from otwire.codecs.iec104.values import PointInfo
from otwire.errors import LocalProtocolError
from otwire.protocols import Event
from otwire.protocols.iec104 import IEC104Config, IEC104Connection, Role
from otwire.servers._base import ServerBase, check_limits
from otwire.servers._serving import CALL_TIMEOUT
from otwire.servers.iec104._points import IncomingMessage, Point, PointCallback, ResponseState
from otwire.servers.iec104._requests import GLOBAL_ADDRESS
from otwire.servers.iec104._session import LOGGER, APDUCounter, OutstationPeers, Session, held_octets
from otwire.servers.iec104._station import Batch, Station
from otwire.servers.iec104._wire import end_of_init, pack_points, pack_sequence
from otwire.transports.aio_server import PeerSocket
from otwire.transports.limits import ServerLimits

__all__ = ["CALL_TIMEOUT", "BaseServer", "ClockSyncCallback", "ConnectCallback", "RawCallback"]

T = TypeVar("T")
#: ``callback(server, ip, date_time) -> ResponseState`` for clock synchronization.
ClockSyncCallback = Callable[["BaseServer", str, _dt.datetime], "ResponseState | bool"]
#: ``callback(server, ip) -> bool``: accept (True) or refuse a new client connection.
ConnectCallback = Callable[["BaseServer", str], bool]
#: ``callback(server, data)`` with one complete APDU.
RawCallback = Callable[["BaseServer", bytes], None]


class BaseServer(ServerBase):
    """Stations, callbacks and client sessions shared by ``Server`` and ``AsyncServer``.

    Args:
        ip: Address to listen on (default loopback; ``"0.0.0.0"`` for every interface).
        port: TCP port (2404 is the standard's; 0 picks a free one, see :attr:`port`).
        tick_rate_ms: Period of the scheduler of periodic transmission, timers and select
            expiry, milliseconds.
        select_timeout_ms: Time from a select to its execute, milliseconds.
        max_connections: Most simultaneous clients (0: ``limits.max_connections``); more are refused.
        transport_security: A server-side TLS context (IEC 62351-3), or ``None``.
        protocol_parameters: k, w, t0..t3 of every connection.
        end_of_init: Send M_EI_NA_1 of every station when a connection first starts data transfer.
        backlog_limit: Most ASDUs queued for one client beyond the k window; periodic
            data is skipped above half of it, and a client at the limit is closed.
        record: Write every connection into this pcap file while running.
        limits: Connection, time and memory limits of the server driver (defaults when ``None``).

    Raises:
        LocalProtocolError: An argument is out of range.
        InvalidArgument: ``port`` is not in 0..65535, or (on start) ``record`` cannot be created.
        InvalidArgumentType: ``limits`` is not a ``ServerLimits``.
    """

    _label = "iec104 server"
    _logger = LOGGER

    def __init__(
        self,
        ip: str = "127.0.0.1",
        port: int = 2404,
        tick_rate_ms: int = 100,
        select_timeout_ms: int = 10_000,
        max_connections: int = 0,
        transport_security: ssl.SSLContext | None = None,
        *,
        protocol_parameters: IEC104Config | None = None,
        end_of_init: bool = True,
        backlog_limit: int = 1000,
        record: str | os.PathLike[str] | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        checks = (("tick_rate_ms", tick_rate_ms, 1), ("select_timeout_ms", select_timeout_ms, 1),
                  ("max_connections", max_connections, 0), ("backlog_limit", backlog_limit, 2))  # fmt: skip
        for name, value, low in checks:
            if not (isinstance(value, int) and value >= low):
                raise LocalProtocolError(f"{name}={value!r} must be an int >= {low}")
        limits = check_limits(limits)
        if max_connections:
            limits = dataclasses.replace(limits, max_connections=max_connections)
        super().__init__(ip, port, limits=limits, record=record, ssl=transport_security)
        self._tick_rate_ms, self.select_timeout_ms = tick_rate_ms, select_timeout_ms
        self.max_connections = max_connections
        self.transport_security = transport_security
        self.protocol_parameters = protocol_parameters or IEC104Config()
        self.end_of_init = end_of_init
        self.backlog_limit = backlog_limit
        self._stations: dict[int, Station] = {}
        self._clock_sync: ClockSyncCallback | None = None
        self._connect: ConnectCallback | None = None
        self._send_raw: RawCallback | None = None
        self._receive_raw: RawCallback | None = None
        self.peers: OutstationPeers | None = None
        self.sessions: dict[int, Session] = {}
        self._dropped_asdus = 0

    # -- stations --------------------------------------------------------------------

    def add_station(self, common_address: int) -> Station:
        """Add a station.

        Args:
            common_address: Common address of ASDU, 1..65534.

        Returns:
            The new station.

        Raises:
            LocalProtocolError: Out of range, or the server already has this address.
        """
        station = Station(self, common_address)
        with self.lock:
            if common_address in self._stations:
                raise LocalProtocolError(f"station {common_address} exists")
            self._stations[common_address] = station
        return station

    def get_station(self, common_address: int) -> Station | None:
        """Return the station with ``common_address``, or ``None``."""
        return self._stations.get(common_address)

    def remove_station(self, common_address: int) -> bool:
        """Remove a station; return False if there was none."""
        with self.lock:
            return self._stations.pop(common_address, None) is not None

    @property
    def stations(self) -> list[Station]:
        """The stations, in common address order."""
        with self.lock:
            return [self._stations[ca] for ca in sorted(self._stations)]

    @property
    def has_stations(self) -> bool:
        """True if the server has at least one station."""
        return bool(self._stations)

    def stations_for(self, common_address: int, *, broadcast: bool) -> list[Station]:
        """Return the stations a request addresses (every one for 0xFFFF if ``broadcast``)."""
        if common_address == GLOBAL_ADDRESS and broadcast:
            return self.stations
        station = self._stations.get(common_address)
        return [station] if station is not None else []

    # -- callbacks -------------------------------------------------------------------

    def on_clock_sync(self, callable: ClockSyncCallback | None) -> None:  # noqa: A002 - c104's name
        """Set ``callable(server, ip, date_time) -> ResponseState`` for clock synchronization.

        ``date_time`` is the client's time (UTC-aware). Without a callback every clock
        synchronization is confirmed. It runs in the event loop thread.

        Args:
            callable: The callback, or ``None``.
        """
        self._clock_sync = callable

    def on_connect(self, callable: ConnectCallback | None) -> None:  # noqa: A002 - c104's name
        """Set ``callable(server, ip) -> bool``, asked to accept each new client connection.

        Args:
            callable: The callback, or ``None`` (accept every client).
        """
        self._connect = callable

    def on_receive_raw(self, callable: RawCallback | None) -> None:  # noqa: A002 - c104's name
        """Set ``callable(server, data)``, called with every APDU received from any client.

        Args:
            callable: The callback, or ``None``.
        """
        self._receive_raw = callable
        self._update_frame_reports()

    def on_send_raw(self, callable: RawCallback | None) -> None:  # noqa: A002 - c104's name
        """Set ``callable(server, data)``, called with every APDU sent to any client.

        Args:
            callable: The callback, or ``None``.
        """
        self._send_raw = callable
        self._update_frame_reports()

    def _update_frame_reports(self) -> None:
        wanted = self._send_raw is not None or self._receive_raw is not None
        for session in list(self.sessions.values()):
            session.engine.report_frames = wanted

    def raw_received(self, data: bytes) -> None:
        """Pass one received APDU to the ``on_receive_raw`` callback (errors are logged)."""
        if self._receive_raw is not None:
            self._guarded(self._receive_raw, "on_receive_raw", data)

    def raw_sent(self, data: bytes) -> None:
        """Pass one sent APDU to the ``on_send_raw`` callback (errors are logged)."""
        if self._send_raw is not None:
            self._guarded(self._send_raw, "on_send_raw", data)

    def _guarded(self, callback: RawCallback, name: str, data: bytes) -> None:
        try:
            callback(self, data)
        except Exception:
            LOGGER.exception("%s callback failed", name)

    def clock_sync(self, ip: str, when: _dt.datetime) -> ResponseState:
        """Ask the ``on_clock_sync`` callback about a clock synchronization from ``ip``."""
        callback = self._clock_sync
        if callback is None:
            return ResponseState.SUCCESS
        try:
            return _response(callback(self, ip, when), "on_clock_sync")
        except Exception:
            LOGGER.exception("on_clock_sync callback failed; clock synchronization refused")
            return ResponseState.FAILURE

    def call_receive(self, point: Point, previous: PointInfo, message: IncomingMessage) -> ResponseState:
        """Ask the point's ``on_receive`` callback about a command (SUCCESS without one)."""
        callback = point.receive_callback
        if callback is None:
            return ResponseState.SUCCESS
        try:
            return _response(callback(point, previous, message), "on_receive")
        except Exception:
            LOGGER.exception("on_receive callback of IOA %d failed; command refused", point.io_address)
            return ResponseState.FAILURE

    def call_point_callback(self, point: Point, callback: PointCallback | None, name: str) -> None:
        """Run a point callback (before read, before periodic, timer); errors are logged."""
        if callback is None:
            return
        try:
            callback(point)
        except Exception:
            LOGGER.exception("%s callback of IOA %d failed", name, point.io_address)

    # -- state -----------------------------------------------------------------------

    @property
    def ip(self) -> str:
        """The listening address."""
        return self._host

    @property
    def tick_rate_ms(self) -> int:
        """Scheduler period, milliseconds."""
        return self._tick_rate_ms

    @property
    def open_connection_count(self) -> int:
        """Number of connected clients."""
        return len(self.sessions)

    @property
    def active_connection_count(self) -> int:
        """Number of clients with data transfer started."""
        return sum(1 for s in list(self.sessions.values()) if s.started)

    @property
    def dropped_asdus(self) -> int:
        """ASDUs a transmit queued (True) that were thrown away unsent when their connection ended.

        Summed over every connection that has ended since the server was created: those
        dropped as slow consumers, timed out (t1) or closed by the client while ASDUs
        waited behind the k window. An otwire extension.
        """
        return self._dropped_asdus

    @property
    def has_open_connections(self) -> bool:
        """True if at least one client is connected."""
        return bool(self.sessions)

    @property
    def has_active_connections(self) -> bool:
        """True if at least one client has data transfer started."""
        return self.active_connection_count > 0

    # -- transmission ----------------------------------------------------------------

    def transmit_points(self, points: list[Point], cot: Cot) -> bool:
        """Send monitor points (grouped per station and type) to every started client.

        Thread-safe: from another thread this waits until the event loop has queued them.

        Args:
            points: Monitor points.
            cot: Cause of transmission.

        Returns:
            True if at least one client connection queued every one of them: each is then
            sent unless that connection ends first (the client closes it, t1 expires, or it
            is dropped as a slow consumer), in which case it counts in :attr:`dropped_asdus`.
            False when none queued them (not running, no client started, or every backlog
            full); nothing is queued then for a full backlog.

        Raises:
            RequestTimeout: The event loop did not respond within 10 s (also a ``TimeoutError``).
        """
        return bool(self._call(lambda: self._broadcast_points(points, cot) > 0))

    def transmit_batch(self, batch: Batch) -> bool:
        """Send a batch in as few ASDUs as fit (SQ=1 when the IOAs are consecutive).

        Args:
            batch: Points of one station and type.

        Returns:
            True if at least one client connection queued it all (see :meth:`transmit_points`).

        Raises:
            RequestTimeout: The event loop did not respond within 10 s (also a ``TimeoutError``).
        """
        points, ca = batch.points, batch.common_address
        if not points or ca is None:
            return False
        return bool(self._call(lambda: self._broadcast(pack_sequence(points, batch.cot, ca)) > 0))

    def transmit_end_of_init(self, station: Station, cause: int = 0) -> bool:
        """Send M_EI_NA_1 of ``station`` to every started client (see ``Station.signal_initialized``).

        Raises:
            EncodeError: ``cause`` out of range 0..127.
            RequestTimeout: The event loop did not respond within 10 s (also a ``TimeoutError``).
        """
        asdu = end_of_init(station.common_address, cause)
        return bool(self._call(lambda: self._broadcast([asdu]) > 0))

    def _broadcast_points(self, points: list[Point], cot: Cot, *, periodic: bool = False) -> int:
        by_station: dict[int, list[Point]] = {}
        for point in points:
            by_station.setdefault(point.station.common_address, []).append(point)
        asdus = [a for ca, group in by_station.items() for a in pack_points(group, cot, ca)]
        return self._broadcast(asdus, periodic=periodic)

    def _broadcast(self, asdus: list[ASDU], *, periodic: bool = False) -> int:
        count = 0
        for session in list(self.sessions.values()):
            if session.started and all(session.send(a, periodic=periodic) for a in asdus):
                count += 1
        return count

    # -- the server base's hooks -------------------------------------------------------

    def _new_engine(self) -> OutstationPeers:
        self.peers = OutstationPeers(
            self._new_connection, frame_counter=APDUCounter, queued=held_octets, buffered=_unframed_octets
        )
        return self.peers

    def _new_connection(self, peer: int, now: float, name: str) -> IEC104Connection:
        return IEC104Connection(
            role=Role.CONTROLLED,
            config=self.protocol_parameters,
            now=now,
            report_frames=self._send_raw is not None or self._receive_raw is not None,
            queue_limit=self.backlog_limit + 1,
        )

    def _new_session(self, sock: PeerSocket) -> Session | None:
        if self._connect is not None and not self._accepts(sock.ip):
            LOGGER.warning("%s: connection refused: refused by on_connect", sock.name)
            return None
        session = Session(self, sock)
        super()._new_session(sock)  # logs the connection
        return session

    def _accepts(self, ip: str) -> bool:
        try:
            return bool(self._connect(self, ip)) if self._connect is not None else True
        except Exception:
            LOGGER.exception("on_connect callback failed; connection refused")
            return False

    def _on_peer_event(self, peer: int, event: Event) -> None:
        session = self.sessions.get(peer)
        if session is not None:
            session.on_event(event)

    def _on_session_closed(self, sock: PeerSocket, session: Session | None) -> None:
        """Forget a closed session and release the selects it held."""
        if session is None:
            return
        session.on_close()
        self._dropped_asdus += session.dropped
        for station in self.stations:
            for point in station.points:
                if point.selection is not None and point.selection.owner is session:
                    point.selection = None
        LOGGER.info("%s: disconnected (%d open)", session.name, len(self.sessions))


def _response(result: object, name: str) -> ResponseState:
    if isinstance(result, ResponseState):
        return result
    if isinstance(result, bool):
        return ResponseState.SUCCESS if result else ResponseState.FAILURE
    LOGGER.warning("%s callback returned %r, not a ResponseState; refused", name, result)
    return ResponseState.FAILURE


def _unframed_octets(connection: IEC104Connection) -> int:
    return connection.buffered
