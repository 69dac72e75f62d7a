"""Point, station and connection of the threaded client (see :mod:`otwire.clients.iec104.client`).

A thin face over :class:`~otwire.clients.iec104._connection_base.ConnectionBase`: it adds the
socket transport, the loop thread's timers, a :class:`~otwire.transports.ReplyMatcher` and
blocking waits.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

from otwire.clients._checks import check_seconds
from otwire.clients.iec104 import _requests as requests
from otwire.clients.iec104._connection_base import ConnectionBase
from otwire.clients.iec104._enums import ConnectionState, Frz, Init, Qoi, Rqt
from otwire.clients.iec104._failures import ConnectionFailure, FailureReason, connect_failure
from otwire.clients.iec104._log import logger
from otwire.clients.iec104._loop_thread import LoopThread
from otwire.clients.iec104._model import PointBase, StationBase
from otwire.clients.iec104._operations import Operation
from otwire.clients.iec104._settings import ClientSettings
from otwire.codecs.iec104 import ASDU, Cot, UFunction
from otwire.errors import InvalidState, RequestTimeout
from otwire.protocols import Event
from otwire.transports import ReplyMatcher
from otwire.transports.sync import SelectorLoop, SocketTransport, TimerHandle

__all__ = ["Connection", "Point", "Station"]

#: Extra seconds a waiting thread allows beyond the command timeout (the loop enforces it).
_WAIT_MARGIN = 1.0


class Point(PointBase):
    """A point of a :class:`Station` (see :class:`~otwire.clients.iec104._model.PointBase`)."""

    @property
    def station(self) -> Station:
        """The station the point belongs to."""
        return cast(Station, self._station)

    def transmit(self, cause: Cot = Cot.ACTIVATION) -> bool:
        """Send the point's current value as a command and wait for the confirmation.

        In ``SELECT_AND_EXECUTE`` mode a select is sent first and the execute only after
        the select was confirmed. Time-tagged commands carry the current UTC time.

        Args:
            cause: ``Cot.ACTIVATION``, or ``Cot.DEACTIVATION`` to cancel.

        Returns:
            True on positive confirmation; False on refusal (P/N = 1 or COT 44..47), after
            ``command_timeout_ms``, or when the connection is not open. Called from a
            callback: True when the command was sent (no waiting).
            The reason of a False is in ``station.connection.last_request_error``.

        Raises:
            InvalidArgument: Not a command point, another cause, or a value that does not fit.
        """
        connection = self.station.connection
        return connection._run(
            requests.command(self, cause, connection.originator_address), until_term=False, wait=True
        )

    def read(self) -> bool:
        """Send a read command (C_RD_NA_1) and wait until the station answers with the data.

        Returns:
            True when the data arrived (the point is updated by then); False on refusal,
            timeout, or when the connection is not open.
            The reason of a False is in ``station.connection.last_request_error``.
        """
        connection = self.station.connection
        return connection._run([requests.read(self, connection.originator_address)], until_term=False, wait=True)


class Station(StationBase[Point]):
    """A remote station of a :class:`Connection`."""

    @property
    def connection(self) -> Connection:
        """The connection that reaches the station."""
        return cast(Connection, self._connection)


class Connection(ConnectionBase[Station]):
    """One connection of a :class:`Client` to a controlled station (create with ``add_connection``)."""

    def __init__(
        self,
        client: ClientSettings[Any],
        runner: LoopThread,
        ip: str,
        port: int,
        init: Init,
        record: str | os.PathLike[str] | None,
    ) -> None:
        super().__init__(client, ip, port, init, record, ReplyMatcher[int, Event]())
        self._runner = runner
        self._transport: SocketTransport | None = None
        self._attempt = 0  # generation of the connect attempt in flight (stale results are dropped)
        self._connecting = False
        self._reconnect_timer: TimerHandle | None = None
        self._state_cond = threading.Condition()

    # -- flavour hooks -----------------------------------------------------------------

    def _make_station(self, common_address: int) -> Station:
        return Station(self, common_address, Point)

    def _call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self._runner.call_later(delay, partial(self._safe, callback))

    def _state_changed(self) -> None:
        with self._state_cond:
            self._state_cond.notify_all()

    # -- public operations -----------------------------------------------------------

    def connect(self) -> None:
        """Connect (in the background) and keep reconnecting while the client runs."""
        self._wanted = True
        self._runner.post(self._open)

    def disconnect(self) -> None:
        """Close the connection and stop reconnecting (until ``connect()`` or ``client.start()``).

        Waits until the connection is closed, unless called from a callback.
        """
        self._wanted = False
        self._runner.post_and_wait(self._close_now, None)

    def interrogation(
        self,
        common_address: int,
        cause: Cot = Cot.ACTIVATION,
        qualifier: Qoi = Qoi.STATION,
        wait_for_response: bool = True,
    ) -> bool:
        """Send an interrogation (C_IC_NA_1) and wait for its termination.

        Args:
            common_address: Station address; 0 or 65535 addresses every station.
            cause: ``Cot.ACTIVATION`` or ``Cot.DEACTIVATION``.
            qualifier: Station or group interrogation.
            wait_for_response: Wait for ACT_TERM (all data received and processed) or,
                for a deactivation, for the confirmation.

        Returns:
            True on completion (or, without waiting, when sent); False on refusal, after
            ``command_timeout_ms``, or when the connection is not open.
            The reason of a False is in :attr:`last_request_error`.

        Raises:
            InvalidArgument: Invalid address, cause or qualifier.
        """
        request = requests.interrogation(common_address, cause, qualifier, self.originator_address)
        return self._run([request], until_term=cause == Cot.ACTIVATION, wait=wait_for_response)

    def counter_interrogation(
        self,
        common_address: int,
        cause: Cot = Cot.ACTIVATION,
        qualifier: Rqt = Rqt.GENERAL,
        freeze: Frz = Frz.READ,
        wait_for_response: bool = True,
    ) -> bool:
        """Send a counter interrogation (C_CI_NA_1) and wait for its termination.

        Args:
            common_address: Station address; 0 or 65535 addresses every station.
            cause: ``Cot.ACTIVATION`` or ``Cot.DEACTIVATION``.
            qualifier: Which counters (general or group 1..4).
            freeze: Read, freeze, freeze and reset, or reset.
            wait_for_response: Wait for ACT_TERM (or the deactivation's confirmation).

        Returns:
            As :meth:`interrogation`.
            The reason of a False is in :attr:`last_request_error`.

        Raises:
            InvalidArgument: Invalid address, cause or qualifier.
        """
        request = requests.counter_interrogation(common_address, cause, qualifier, freeze, self.originator_address)
        return self._run([request], until_term=cause == Cot.ACTIVATION, wait=wait_for_response)

    def clock_sync(self, common_address: int, wait_for_response: bool = True) -> bool:
        """Send a clock synchronisation (C_CS_NA_1) with the current UTC time.

        Args:
            common_address: Station address; 0 or 65535 addresses every station.
            wait_for_response: Wait for the confirmation.

        Returns:
            True on positive confirmation (or, without waiting, when sent); False otherwise.
            The reason of a False is in :attr:`last_request_error`.

        Raises:
            InvalidArgument: Invalid address.
        """
        request = requests.clock_sync(common_address, self.originator_address)
        return self._run([request], until_term=False, wait=wait_for_response)

    def test(self, common_address: int, with_time: bool = True, wait_for_response: bool = True) -> bool:
        """Send a test command: C_TS_TA_1 with a counter and the time, or C_TS_NA_1.

        Args:
            common_address: Station address; 0 or 65535 addresses every station.
            with_time: Send C_TS_TA_1 (True) or C_TS_NA_1 (False).
            wait_for_response: Wait for the confirmation.

        Returns:
            True on positive confirmation (or, without waiting, when sent); False otherwise.
            The reason of a False is in :attr:`last_request_error`.

        Raises:
            InvalidArgument: Invalid address.
        """
        self._test_counter += 1
        request = requests.test_command(common_address, with_time, self._test_counter, self.originator_address)
        return self._run([request], until_term=False, wait=wait_for_response)

    def mute(self) -> bool:
        """Stop data transfer (STOPDT act); the state becomes ``OPEN_MUTED`` once confirmed.

        Returns:
            True when the act was sent; False when not connected or another act is pending.
        """
        return self._runner.post_and_wait(partial(self._send_u, UFunction.STOPDT_ACT), False)

    def unmute(self) -> bool:
        """Start data transfer (STARTDT act); the state becomes ``OPEN`` once confirmed.

        Returns:
            True when the act was sent; False when not connected or another act is pending.
        """
        return self._runner.post_and_wait(partial(self._send_u, UFunction.STARTDT_ACT), False)

    def wait_for_state(self, *states: ConnectionState, timeout: float | None = None) -> bool:
        """Block until the connection is in one of ``states`` (an otwire extension).

        Args:
            states: Acceptable states.
            timeout: Seconds to wait at most (``None``: no limit).

        Returns:
            True when reached, False on timeout.

        Raises:
            InvalidState: Called from a callback (it would stall the client thread).
            InvalidArgumentType: ``timeout`` is not a number.
        """
        check_seconds("timeout", timeout)
        if self._runner.in_thread():
            raise InvalidState("wait_for_state() would block the client thread; call it from another thread")
        with self._state_cond:
            return self._state_cond.wait_for(lambda: self._state in states, timeout)

    # -- requests (any thread) -------------------------------------------------------

    def _run(self, steps: Sequence[ASDU], *, until_term: bool, wait: bool) -> bool:
        """Run a request; True when confirmed (``wait``) or sent, False otherwise (c104's bools)."""
        loop = self._runner.loop
        if loop is None:
            self._request_finished(InvalidState(f"{self._where()}: the client is not running"))
            return False
        timeout = self._client._command_timeout
        sent: concurrent.futures.Future[bool] = concurrent.futures.Future()
        done: concurrent.futures.Future[BaseException | None] = concurrent.futures.Future()

        def on_done(error: BaseException | None) -> None:
            self._request_finished(error)  # before the waiting thread wakes up
            done.set_result(error)

        op = Operation(steps, until_term=until_term, timeout=timeout, on_done=on_done, on_sent=sent.set_result)
        if self._runner.in_thread():
            self._safe(self._begin, op)
            return sent.done() and sent.result()
        loop.call_soon_threadsafe(partial(self._safe, self._begin, op))
        try:
            if wait:
                return done.result(timeout + _WAIT_MARGIN) is None
            return sent.result(timeout + _WAIT_MARGIN)
        except concurrent.futures.TimeoutError:
            self._request_finished(RequestTimeout(f"{op.describe()}: no result within {timeout} s", request=op.current))
            loop.call_soon_threadsafe(partial(self._safe, self._requests.abandon, op))
            return False

    # -- lifecycle (loop thread) ------------------------------------------------------

    def _open(self) -> None:
        """Start a connect attempt unless connected or already trying."""
        client = self._client
        loop = self._runner.loop
        if not client._running or not self._wanted or self._transport is not None or self._connecting:
            return
        if loop is None:
            return
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
            self._reconnect_timer = None
        self._attempt += 1
        self._connecting = True
        self._set_state(ConnectionState.CLOSED_AWAIT_OPEN)
        worker = threading.Thread(
            target=self._connect_worker,
            args=(self._attempt, loop, self._parameters.connection_timeout, client._ssl),
            name=f"otwire-iec104-connect-{self._ip}:{self._port}",
            daemon=True,
        )
        worker.start()

    def _connect_worker(self, attempt: int, loop: SelectorLoop, timeout: float, context: ssl.SSLContext | None) -> None:
        """Helper thread: open the socket, then hand it to the loop thread."""
        sock: socket.socket | None = None
        error: BaseException | None = None
        try:
            sock = _open_socket(self._ip, self._port, timeout, context)
        except (OSError, ValueError) as exc:
            error = exc
        if self._runner.loop is not loop:  # the client stopped meanwhile
            if sock is not None:
                sock.close()
            return
        loop.call_soon_threadsafe(partial(self._safe, self._connected, attempt, sock, error))

    def _connected(self, attempt: int, sock: socket.socket | None, error: BaseException | None) -> None:
        if attempt != self._attempt or not self._connecting:
            if sock is not None:
                sock.close()
            return
        self._connecting = False
        if sock is None:
            self._last_failure = connect_failure(error or OSError("no socket"))
            logger.warning("%s: connect failed: %s", self._where(), self._last_failure)
            self._schedule_reconnect()
            return
        if not self._client._running or not self._wanted:
            sock.close()
            self._set_state(ConnectionState.CLOSED)
            return
        try:
            local, remote = sock.getsockname(), sock.getpeername()
        except OSError as exc:
            sock.close()
            self._last_failure = ConnectionFailure(FailureReason.CONNECTION_LOST, str(exc), exc)
            logger.warning("%s: connection lost at once: %s", self._where(), exc)
            self._schedule_reconnect()
            return
        engine = self._new_engine(time.monotonic())
        observer = self._open_recording(local, remote)
        transport = SocketTransport(
            engine, sock, on_event=self._on_engine_event, on_close=self._on_transport_closed, observer=observer
        )
        self._transport = transport
        loop = self._runner.loop
        if loop is None:  # stopped meanwhile (cannot happen on the loop thread; kept for safety)
            transport.close()
            return
        loop.add(transport)
        logger.info("%s: connected", self._where())
        self._attached()

    def _on_transport_closed(self, transport: SocketTransport) -> None:
        if transport is not self._transport:
            return
        self._transport = None
        self._detached(transport.error)
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if not (self._client._running and self._wanted) or self._runner.loop is None:
            self._set_state(ConnectionState.CLOSED)
            return
        delay = self._next_delay()
        logger.info("%s: reconnecting in %.2f s", self._where(), delay)
        self._set_state(ConnectionState.CLOSED_AWAIT_RECONNECT)
        self._reconnect_timer = self._runner.call_later(delay, partial(self._safe, self._open))

    def _close_now(self) -> None:
        """Close the connection and cancel reconnects and connect attempts."""
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
            self._reconnect_timer = None
        self._attempt += 1
        self._connecting = False
        transport, self._transport = self._transport, None  # its on_close is ignored from now on
        if transport is not None:
            self._set_state(ConnectionState.OPEN_AWAIT_CLOSED)
            transport.close()
            self._detached(transport.error)
        self._set_state(ConnectionState.CLOSED)

    def _reconnect_now(self) -> None:
        self._wanted = True
        self._close_now()
        self._failures = 0
        self._open()


def _open_socket(host: str, port: int, timeout: float, context: ssl.SSLContext | None) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    if context is None:
        return sock
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
