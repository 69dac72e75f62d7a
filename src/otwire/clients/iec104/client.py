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
import concurrent.futures
import os
import ssl
import threading
import weakref
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from otwire.clients.iec104._base import ClientBase
from otwire.clients.iec104._connection import Connection, Point, Station
from otwire.clients.iec104._core import logger
from otwire.clients.iec104._enums import Init
from otwire.transports.sync import SelectorLoop

__all__ = ["Client", "Connection", "Point", "Station"]

#: Seconds ``stop()``, ``disconnect()``, ``mute()`` and ``unmute()`` wait for the loop thread.
SHUTDOWN_WAIT = 5.0

T = TypeVar("T")


class Client(ClientBase[Connection]):
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
        ValueError: A time is not positive.
        TypeError: ``transport_security`` is not an ``ssl.SSLContext``.
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
        self._loop: SelectorLoop | None = None
        self._thread: threading.Thread | None = None
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
            ValueError: Invalid ``ip`` or ``port``.
            OSError: The ``record`` file cannot be created.
        """
        with self._lock:
            checked = self._check_address(ip, port, init)
            if (ip, port) in self._connections:
                return None
            connection = Connection(self, ip, port, checked, record)
            self._connections[(ip, port)] = connection
            if self._running:
                self._post(connection._open)
            return connection

    def start(self) -> None:
        """Start the client thread and connect every connection (non-blocking)."""
        with self._lock:
            if self._running:
                return
            loop = SelectorLoop()
            self._loop = loop
            self._running = True
            self._thread = threading.Thread(
                target=self._run_loop, args=(loop,), name="otwire-iec104-client", daemon=True
            )
            self._thread.start()
            ref = weakref.ref(self)
            self._atexit = partial(_stop_at_exit, ref)
            atexit.register(self._atexit)
            for connection in self._connections.values():
                connection._wanted = True
                connection._ensure_recorder()
                self._post(connection._open)

    def stop(self) -> None:
        """Close every connection and stop the client thread.

        Waits (at most a few seconds) for the thread to end, unless called from a callback.
        """
        with self._lock:
            if not self._running:
                return
            self._running = False
            loop, thread = self._loop, self._thread
            if self._atexit is not None:
                atexit.unregister(self._atexit)
                self._atexit = None
        assert loop is not None and thread is not None
        if self._in_loop_thread():
            self._shutdown(loop)
            return
        done = threading.Event()

        def shutdown() -> None:
            try:
                self._shutdown(loop)
            finally:
                done.set()

        loop.call_soon_threadsafe(shutdown)
        done.wait(SHUTDOWN_WAIT)
        thread.join(SHUTDOWN_WAIT)

    def reconnect_all(self) -> None:
        """Close every connection and connect it again at once."""
        for connection in self.connections:
            self._post(connection._reconnect_now)

    def disconnect_all(self) -> None:
        """Close every connection (they stay closed until ``connect()`` or ``start()``)."""
        for connection in self.connections:
            connection.disconnect()

    # -- loop thread plumbing ----------------------------------------------------------

    def _run_loop(self, loop: SelectorLoop) -> None:
        try:
            while True:
                try:
                    loop.run_forever()
                    break
                except Exception:  # a bug must not end the client thread silently
                    logger.exception("client loop error")
                    if not self._running:
                        break
        finally:
            loop.close()

    def _shutdown(self, loop: SelectorLoop) -> None:
        for connection in self.connections:
            connection._safe(connection._close_now)
            connection._close_recording(final=True)
        with self._lock:
            if self._loop is loop:
                self._loop = None
        loop.stop()

    def _in_loop_thread(self) -> bool:
        thread = self._thread
        return thread is not None and thread.ident == threading.get_ident()

    def _post(self, function: Callable[[], object]) -> None:
        """Run ``function`` on the loop thread (now, if this is the loop thread)."""
        loop = self._loop
        if loop is None or not self._running:
            return
        if self._in_loop_thread():
            function()
        else:
            loop.call_soon_threadsafe(partial(_guard, function))

    def _post_and_wait(self, function: Callable[[], T], default: T | None = None) -> T | None:
        """Run ``function`` on the loop thread and return its result (``default`` if the loop is gone)."""
        loop = self._loop
        if loop is None or not self._running:
            return default
        if self._in_loop_thread():
            return function()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        try:
            return future.result(SHUTDOWN_WAIT)
        except concurrent.futures.TimeoutError:
            return default


def _guard(function: Callable[[], object]) -> None:
    try:
        function()
    except Exception:
        logger.exception("internal error")


def _stop_at_exit(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is not None:
        client.stop()
