"""Threaded IEC 104 controlling station with c104's ``Client`` API.

Threading: one daemon thread per started :class:`Client` (``otwire-iec104-client``) runs a
:class:`~otwire.transports.sync.SelectorLoop` that drives every connection of the client:
reading, engine timers (t1/t2/t3), command timeouts and reconnect delays. All engine work
and **every callback** happen on that thread, one at a time. TCP (and TLS) connects run in
short-lived helper threads so that a slow station cannot stall the others; the connected
socket is handed to the loop thread.

Blocking calls (``interrogation()``, ``point.transmit()``, ...) made from another thread
post the request to the loop thread and wait at most ``command_timeout_ms``. Made from a
callback (on the loop thread) they cannot wait without stalling the loop, so they send the
request and return at once, as with ``wait_for_response=False``: the result says whether
the request was sent, not whether it was confirmed. Use another thread to wait for a
confirmation triggered by a callback.
"""

from __future__ import annotations

import atexit
import os
import ssl
import threading
import weakref
from collections.abc import Callable
from functools import partial

from otwire.clients.iec104._enums import Init
from otwire.clients.iec104._loop_thread import SHUTDOWN_WAIT, LoopThread
from otwire.clients.iec104._settings import ClientSettings
from otwire.clients.iec104._threaded import Connection, Point, Station

__all__ = ["SHUTDOWN_WAIT", "Client", "Connection", "Point", "Station"]


class Client(ClientSettings[Connection]):
    """Threaded IEC 104 controlling station: a drop-in for ``c104.Client``.

    One background thread runs every connection and every callback. Blocking calls made
    from a callback do not wait: they send and return True if the request went out (see
    the module documentation).

    Args:
        tick_rate_ms: Kept for c104 compatibility (milliseconds); the client thread is
            event driven.
        command_timeout_ms: How long blocking requests wait for their confirmation (milliseconds).
        transport_security: An ``ssl.SSLContext`` for TLS, or ``None``. c104's
            ``TransportSecurity`` maps to a client context: ``set_certificate`` ->
            ``load_cert_chain``, ``set_ca_certificate`` -> ``load_verify_locations``,
            ``set_version`` -> ``minimum_version``/``maximum_version``.
        reconnect_delay_ms: First delay before reconnecting after a failure (milliseconds);
            doubles per failure, with 10 % jitter.
        max_reconnect_delay_ms: Largest reconnect delay (milliseconds).

    Raises:
        InvalidArgument: A time is not positive (also a ``ValueError``).
        InvalidArgumentType: ``transport_security`` is not an ``ssl.SSLContext`` (also a ``TypeError``).
    """

    def __init__(
        self,
        tick_rate_ms: int = 100,
        command_timeout_ms: int = 10000,
        transport_security: ssl.SSLContext | None = None,
        *,
        reconnect_delay_ms: int = 1000,
        max_reconnect_delay_ms: int = 30000,
    ) -> None:
        super().__init__(
            tick_rate_ms, command_timeout_ms, transport_security, reconnect_delay_ms, max_reconnect_delay_ms
        )
        self._runner = LoopThread("otwire-iec104-client")
        self._lock = threading.RLock()
        self._atexit: Callable[[], None] | None = None

    def add_connection(
        self,
        ip: str,
        port: int = 2404,
        init: Init | None = Init.ALL,
        *,
        record: str | os.PathLike[str] | None = None,
    ) -> Connection | None:
        """Add a connection to a controlled station; it connects when the client runs.

        Args:
            ip: Host name or address of the station.
            port: TCP port.
            init: What to do after each connect (see :class:`Init`; ``None`` means ``ALL``).
            record: Write every TCP session of this connection into this pcap file
                (readable by ``otwire inspect``). The file is created now, closed by
                ``stop()`` and rewritten by a later ``start()``.

        Returns:
            The connection, or ``None`` when one to ``ip:port`` exists already.

        Raises:
            InvalidArgument: Invalid ``ip``, ``port`` or ``init``, or the ``record`` file
                cannot be created (the ``OSError`` is its cause).
        """
        with self._lock:
            checked = self._check_address(ip, port, init)
            if (ip, port) in self._connections:
                return None
            connection = Connection(self, self._runner, ip, port, checked, record)
            self._connections[(ip, port)] = connection
            if self._running:
                self._runner.post(connection._open)
            return connection

    def start(self) -> None:
        """Start the client thread and connect every connection (non-blocking)."""
        with self._lock:
            if self._running:
                return
            self._running = True
            self._runner.start()
            ref = weakref.ref(self)
            self._atexit = partial(_stop_at_exit, ref)
            atexit.register(self._atexit)
            for connection in self._connections.values():
                connection._wanted = True
                connection._ensure_recorder()
                self._runner.post(connection._open)

    def stop(self) -> None:
        """Close every connection and stop the client thread.

        Waits (at most a few seconds) for the thread to end, unless called from a callback.
        """
        with self._lock:
            if not self._running:
                return
            self._running = False
            if self._atexit is not None:
                atexit.unregister(self._atexit)
                self._atexit = None
        self._runner.stop(self._shutdown)

    def reconnect_all(self) -> None:
        """Close every connection and connect it again at once."""
        for connection in self.connections:
            self._runner.post(connection._reconnect_now)

    def disconnect_all(self) -> None:
        """Close every connection (they stay closed until ``connect()`` or ``start()``)."""
        for connection in self.connections:
            connection.disconnect()

    @property
    def _thread(self) -> threading.Thread | None:
        """The loop thread of the last ``start()`` (tests check that it ended)."""
        return self._runner.thread

    def _shutdown(self) -> None:
        for connection in self.connections:
            connection._safe(connection._close_now)
            connection._close_recording(final=True)


def _stop_at_exit(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is not None:
        client.stop()
