"""The model of one client connection: address, state, stations, parameters, callbacks (no I/O, no engine)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from otwire.clients._checks import check_callable, check_int
from otwire.clients.iec104._enums import ConnectionState, Init, Umc
from otwire.clients.iec104._failures import ConnectionFailure
from otwire.clients.iec104._log import logger
from otwire.clients.iec104._model import IncomingMessage, StationBase
from otwire.clients.iec104._parameters import ProtocolParameters
from otwire.clients.iec104._settings import ClientSettings
from otwire.errors import InvalidArgument, OTWireError

__all__ = ["ConnectionModel"]

StationT = TypeVar("StationT", bound=StationBase[Any])


class ConnectionModel(Generic[StationT]):
    """Base class of a client connection: what it knows about itself, without I/O or engine.

    Address, state, stations, protocol parameters and the registered callbacks; the
    subclass :class:`~otwire.clients.iec104._connection_base.ConnectionBase` adds the engine.

    Args:
        client: The owning client.
        ip: Host name or address of the station.
        port: TCP port.
        init: Start-up sequence after each connect.
    """

    def __init__(self, client: ClientSettings[Any], ip: str, port: int, init: Init) -> None:
        self._client = client
        self._ip = ip
        self._port = port
        self._init = init
        self._stations: dict[int, StationT] = {}
        self._state = ConnectionState.CLOSED
        self._originator_address: int | None = None
        self._parameters = ProtocolParameters()
        self._connected_at: _dt.datetime | None = None
        self._disconnected_at: _dt.datetime | None = None
        self._last_failure: ConnectionFailure | None = None
        self._last_request_error: OTWireError | None = None
        self._on_state_change: Callable[[Any, ConnectionState], object] | None = None
        self._on_receive_raw: Callable[[Any, bytes], object] | None = None
        self._on_send_raw: Callable[[Any, bytes], object] | None = None
        self._on_unexpected_message: Callable[[Any, IncomingMessage, Umc], object] | None = None

    def _make_station(self, common_address: int) -> StationT:
        raise NotImplementedError

    # -- read-only properties ----------------------------------------------------------

    @property
    def ip(self) -> str:
        """Host name or address of the station."""
        return self._ip

    @property
    def port(self) -> int:
        """TCP port of the station."""
        return self._port

    @property
    def init(self) -> Init:
        """Start-up sequence run after each connect."""
        return self._init

    @property
    def state(self) -> ConnectionState:
        """Current state."""
        return self._state

    @property
    def is_connected(self) -> bool:
        """True while the TCP connection is up (muted or not)."""
        return self._state in (ConnectionState.OPEN, ConnectionState.OPEN_MUTED)

    @property
    def is_muted(self) -> bool:
        """True while connected with data transfer stopped."""
        return self._state is ConnectionState.OPEN_MUTED

    @property
    def connected_at(self) -> _dt.datetime | None:
        """When the current TCP connection came up (UTC datetime), or ``None`` while closed."""
        return self._connected_at if self.is_connected else None

    @property
    def disconnected_at(self) -> _dt.datetime | None:
        """When the last TCP connection ended (UTC datetime), or ``None``."""
        return self._disconnected_at

    @property
    def last_failure(self) -> ConnectionFailure | None:
        """Why the last connect attempt failed or the last connection ended (an otwire extension).

        Set before the state change to ``CLOSED_AWAIT_RECONNECT`` or ``CLOSED`` is reported
        (read it in the ``on_state_change`` callback), cleared when a TCP connection comes
        up. ``str()`` gives one line, e.g. ``refused: [Errno 111] Connection refused``,
        ``no STARTDT_CON within t1``, ``peer closed``, ``connection lost: ...``,
        ``protocol error: ...``; ``reason`` is a :class:`FailureReason`.
        """
        return self._last_failure

    @property
    def last_request_error(self) -> OTWireError | None:
        """Why the request that finished last failed, or ``None`` if it succeeded (an otwire extension).

        Requests keep c104's ``bool`` results; when one returns False this says why:
        :class:`~otwire.errors.RequestError` (the station refused: ``code`` is the reply's
        COT, e.g. 47 UNKNOWN_IOA or 7 ACTIVATION_CON with P/N = 1; ``request``/``reply`` are
        the ASDUs), :class:`~otwire.errors.RequestTimeout` (no reply within
        ``command_timeout_ms``), :class:`~otwire.errors.InvalidState` (data transfer not
        started, client not running) or :class:`~otwire.errors.ConnectionLost`. Set when a
        request finishes (also one sent with ``wait_for_response=False``); with several
        requests in flight it belongs to the one that finished last.
        """
        return self._last_request_error

    @property
    def protocol_parameters(self) -> ProtocolParameters:
        """k, w and t0..t3 (seconds) used from the next connect."""
        return self._parameters

    @property
    def originator_address(self) -> int:
        """Originator address of this connection's requests (default: the client's)."""
        oa = self._originator_address
        return self._client.originator_address if oa is None else oa

    @originator_address.setter
    def originator_address(self, value: int) -> None:
        if not (isinstance(value, int) and 0 <= value <= 255):
            raise InvalidArgument(f"originator_address={value!r} not in 0..255")
        self._originator_address = value

    # -- stations --------------------------------------------------------------------

    @property
    def stations(self) -> list[StationT]:
        """All stations, in the order they were added."""
        return list(self._stations.values())

    @property
    def has_stations(self) -> bool:
        """True when at least one station was added."""
        return bool(self._stations)

    def add_station(self, common_address: int) -> StationT | None:
        """Add a station.

        Args:
            common_address: Its common address, 1..65534.

        Returns:
            The new station, or ``None`` when it exists already.

        Raises:
            InvalidArgument: ``common_address`` out of range.
        """
        if not (isinstance(common_address, int) and 1 <= common_address <= 65534):
            raise InvalidArgument(f"common_address={common_address!r} not in 1..65534")
        if common_address in self._stations:
            return None
        station = self._make_station(common_address)
        self._stations[common_address] = station
        return station

    def get_station(self, common_address: int) -> StationT | None:
        """Find a station.

        Args:
            common_address: Its common address.

        Returns:
            The station, or ``None``.

        Raises:
            InvalidArgumentType: ``common_address`` is not an ``int``.
        """
        return self._stations.get(check_int("common_address", common_address))

    def remove_station(self, common_address: int) -> bool:
        """Remove a station (its points stop receiving data).

        Args:
            common_address: Its common address.

        Returns:
            False when there was no such station.

        Raises:
            InvalidArgumentType: ``common_address`` is not an ``int``.
        """
        return self._stations.pop(check_int("common_address", common_address), None) is not None

    # -- callbacks -------------------------------------------------------------------

    def on_state_change(self, callable: Callable[[Any, ConnectionState], object]) -> None:  # noqa: A002
        """Set the function called after every state change.

        Args:
            callable: ``f(connection, state)``, run on the client thread. When the state
                becomes ``CLOSED_AWAIT_RECONNECT`` or ``CLOSED``, ``connection.last_failure``
                says why.

        Raises:
            InvalidArgumentType: ``callable`` cannot be called.
        """
        self._on_state_change = check_callable("callable", callable)

    def on_receive_raw(self, callable: Callable[[Any, bytes], object]) -> None:  # noqa: A002
        """Set the function called with every APDU received (I, S and U frames).

        Frames are reported by the engine only while a raw callback is set.

        Args:
            callable: ``f(connection, data)``, run on the client thread.
        """
        self._on_receive_raw = check_callable("callable", callable)
        self._update_frame_reports()

    def on_send_raw(self, callable: Callable[[Any, bytes], object]) -> None:  # noqa: A002
        """Set the function called with every APDU sent.

        Args:
            callable: ``f(connection, data)``, run on the client thread.
        """
        self._on_send_raw = check_callable("callable", callable)
        self._update_frame_reports()

    def on_unexpected_message(self, callable: Callable[[Any, IncomingMessage, Umc], object]) -> None:  # noqa: A002
        """Set the function called for received data the client cannot place.

        Reported: unknown common address or IOA (when ``on_new_station``/``on_new_point`` did
        not add them), a point of another type, a cause of transmission that does not fit,
        unknown type identifications, and unsolicited COT 44..47 replies.

        Args:
            callable: ``f(connection, message, cause)`` with ``cause`` a :class:`Umc`.
        """
        self._on_unexpected_message = check_callable("callable", callable)

    def _update_frame_reports(self) -> None:
        """Called when a raw callback changes (the engine reports frames only when needed)."""

    def _wants_frames(self) -> bool:
        return self._on_receive_raw is not None or self._on_send_raw is not None

    def _invoke(self, callback: Callable[..., object] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("%s: callback %r raised", self._where(), callback)

    def _safe(self, function: Callable[..., object], *args: Any) -> None:
        """Run a loop callback; log instead of letting an exception end the loop."""
        try:
            function(*args)
        except Exception:
            logger.exception("%s: internal error", self._where())

    def _where(self) -> str:
        return f"{self._ip}:{self._port}"

    def _state_changed(self) -> None:
        """Called after every state change (wake waiters)."""

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        self._state = state
        logger.debug("%s: state %s", self._where(), state.name)
        self._invoke(self._on_state_change, self, state)
        self._state_changed()
