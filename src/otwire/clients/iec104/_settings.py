"""Settings, callbacks and the connection registry common to both IEC 104 clients."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from otwire.clients._checks import check_callable, check_int
from otwire.clients.iec104._enums import Coi, ConnectionState, Init
from otwire.codecs.iec104 import TypeId
from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = ["ClientSettings", "RegisteredConnection"]


class RegisteredConnection(Protocol):
    """What the registry needs of a connection (both clients' connections have it)."""

    @property
    def is_connected(self) -> bool: ...

    @property
    def state(self) -> ConnectionState: ...

    def get_station(self, common_address: int) -> object | None: ...


ConnT = TypeVar("ConnT", bound=RegisteredConnection)


class ClientSettings(Generic[ConnT]):
    """Settings, callbacks and connection registry common to both clients.

    Args:
        tick_rate_ms: Kept for c104 compatibility (milliseconds); the client is event
            driven and does not poll. Must be at least 1.
        command_timeout_ms: How long a request waits for its confirmation (milliseconds).
        transport_security: An ``ssl.SSLContext`` for TLS (IEC 62351-3), or ``None``.
            Build it from the material of c104's ``TransportSecurity``
            (``load_cert_chain``, ``load_verify_locations``, ``minimum_version``).
        reconnect_delay_ms: First reconnect delay after a failure (milliseconds); doubles
            per failed attempt.
        max_reconnect_delay_ms: Upper bound of the reconnect delay (milliseconds).

    Raises:
        InvalidArgument: A time is not positive (also a ``ValueError``).
        InvalidArgumentType: ``transport_security`` is not an ``ssl.SSLContext`` (also a ``TypeError``).
    """

    def __init__(
        self,
        tick_rate_ms: int,
        command_timeout_ms: int,
        transport_security: ssl.SSLContext | None,
        reconnect_delay_ms: int,
        max_reconnect_delay_ms: int,
    ) -> None:
        for name, value in (
            ("tick_rate_ms", tick_rate_ms),
            ("command_timeout_ms", command_timeout_ms),
            ("reconnect_delay_ms", reconnect_delay_ms),
            ("max_reconnect_delay_ms", max_reconnect_delay_ms),
        ):
            if not (isinstance(value, int | float) and value >= 1):
                raise InvalidArgument(f"{name}={value!r} must be a positive number of milliseconds")
        if transport_security is not None and not isinstance(transport_security, ssl.SSLContext):
            raise InvalidArgumentType(
                "transport_security must be an ssl.SSLContext (build it from c104's TransportSecurity)"
            )
        self._tick_rate_ms = int(tick_rate_ms)
        self._command_timeout = command_timeout_ms / 1000
        self._ssl = transport_security
        self._reconnect_delay = reconnect_delay_ms / 1000
        self._max_reconnect_delay = max(max_reconnect_delay_ms, reconnect_delay_ms) / 1000
        self._connections: dict[tuple[str, int], ConnT] = {}
        self._originator_address = 0
        self._on_new_station: Callable[[Any, Any, int], object] | None = None
        self._on_new_point: Callable[[Any, Any, int, TypeId], object] | None = None
        self._on_station_initialized: Callable[[Any, Any, Coi | int], object] | None = None
        self._running = False

    # -- properties ------------------------------------------------------------------

    @property
    def connections(self) -> list[ConnT]:
        """All connections, in the order they were added."""
        return list(self._connections.values())

    @property
    def has_connections(self) -> bool:
        """True when at least one connection was added."""
        return bool(self._connections)

    @property
    def open_connection_count(self) -> int:
        """Connections that are open (muted or not)."""
        return sum(1 for c in self.connections if c.is_connected)

    @property
    def active_connection_count(self) -> int:
        """Connections that are open and not muted (data transfer started)."""
        return sum(1 for c in self.connections if c.state is ConnectionState.OPEN)

    @property
    def has_open_connections(self) -> bool:
        """True when a connection is open."""
        return self.open_connection_count > 0

    @property
    def has_active_connections(self) -> bool:
        """True when a connection is open and not muted."""
        return self.active_connection_count > 0

    @property
    def is_running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._running

    @property
    def tick_rate_ms(self) -> int:
        """The tick rate given to the constructor (milliseconds; informational)."""
        return self._tick_rate_ms

    @property
    def originator_address(self) -> int:
        """Originator address put into every ASDU this client sends (0..255, 0 = not used)."""
        return self._originator_address

    @originator_address.setter
    def originator_address(self, value: int) -> None:
        if not (isinstance(value, int) and 0 <= value <= 255):
            raise InvalidArgument(f"originator_address={value!r} not in 0..255")
        self._originator_address = value

    # -- callbacks -------------------------------------------------------------------

    def on_new_station(self, callable: Callable[[Any, Any, int], object]) -> None:  # noqa: A002
        """Set the function called when data arrives for an unknown common address.

        Args:
            callable: ``f(client, connection, common_address)``; it may call
                ``connection.add_station(common_address)`` to accept the data.

        Raises:
            InvalidArgumentType: ``callable`` cannot be called.
        """
        self._on_new_station = check_callable("callable", callable)

    def on_new_point(self, callable: Callable[[Any, Any, int, TypeId], object]) -> None:  # noqa: A002
        """Set the function called when data arrives for an unknown information object address.

        Args:
            callable: ``f(client, station, io_address, point_type)``; it may call
                ``station.add_point(io_address, point_type)`` to accept the data.

        Raises:
            InvalidArgumentType: ``callable`` cannot be called.
        """
        self._on_new_point = check_callable("callable", callable)

    def on_station_initialized(self, callable: Callable[[Any, Any, Coi | int], object]) -> None:  # noqa: A002
        """Set the function called when a station reports end of initialization (M_EI_NA_1).

        Args:
            callable: ``f(client, station, cause)`` with cause a :class:`Coi` (or ``int``
                for values outside the enumeration).

        Raises:
            InvalidArgumentType: ``callable`` cannot be called.
        """
        self._on_station_initialized = check_callable("callable", callable)

    # -- registry --------------------------------------------------------------------

    def get_connection(self, ip: str = "", port: int = 2404, common_address: int = 0) -> ConnT | None:
        """Find a connection by ``ip`` and ``port``, or by a station's ``common_address``.

        Args:
            ip: Address the connection was added with.
            port: Its port.
            common_address: When not 0, return the first connection with this station.

        Returns:
            The connection, or ``None``.

        Raises:
            InvalidArgumentType: ``ip`` is not a ``str`` or ``port``/``common_address`` not an ``int``.
        """
        if not isinstance(ip, str):
            raise InvalidArgumentType(f"ip must be a str, not {type(ip).__name__}")
        check_int("port", port)
        if check_int("common_address", common_address):
            for connection in self._connections.values():
                if connection.get_station(common_address) is not None:
                    return connection
            return None
        return self._connections.get((ip, port))

    @staticmethod
    def _check_address(ip: str, port: int, init: Init | None) -> Init:
        if not (isinstance(ip, str) and ip):
            raise InvalidArgument(f"ip={ip!r} must be a non-empty host name or address")
        if not (isinstance(port, int) and 1 <= port <= 65535):
            raise InvalidArgument(f"port={port!r} not in 1..65535")
        if init is not None and init not in tuple(Init):
            raise InvalidArgument(f"init={init!r} is not an Init")
        return Init.ALL if init is None else Init(init)
