"""``monitor()``: watch a controlled station from the command line (``otwire client iec104``)."""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, TextIO

from otwire.clients.iec104._enums import ConnectionState, Init
from otwire.clients.iec104._log import logger
from otwire.clients.iec104._model import IncomingMessage
from otwire.clients.iec104.client import Client, Connection, Point, Station
from otwire.codecs.iec104 import Quality, TypeId
from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = ["format_update", "monitor"]


def _text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return value.name or str(value.value)
    return repr(value) if isinstance(value, float) else str(value)


def format_update(point: Point, message: IncomingMessage) -> str:
    """Return one line describing the information a point received.

    Args:
        point: The updated point.
        message: The message that carried the information.

    Returns:
        ``ca=.. ioa=.. TYPE value=.. quality=.. cot=..`` and, for time-tagged data, ``time=..``.
    """
    info = point.info
    quality = Quality(info.quality)
    flags = "|".join(flag.name or "" for flag in Quality if flag in quality) if quality else "OK"
    line = (
        f"ca={point.station.common_address} ioa={point.io_address} {point.type.name} "
        f"value={_text(info.value)} quality={flags} cot={_text(message.cot)}"
    )
    if info.recorded_at is not None:
        line += f" time={info.recorded_at.isoformat(timespec='milliseconds')}"
    return line


class _Watch:
    """The callbacks of one ``monitor()`` run: print lines, count failed attempts, decide when to stop."""

    def __init__(self, out: TextIO, retries: int) -> None:
        self.out = out
        self.retries = retries
        self.failures = 0
        self.reached = False
        self.gave_up = False
        self.pipe_closed = False
        self.done = threading.Event()
        self._lock = threading.Lock()

    def emit(self, line: str) -> None:
        """Print ``line``; when the reader closed the pipe (``| head``), stop the run quietly."""
        with self._lock:
            if self.pipe_closed:
                return
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except BrokenPipeError:
                self.pipe_closed = True
                _discard_output(self.out)
                self.done.set()

    def on_receive(self, point: Point, previous_info: object, message: IncomingMessage) -> None:
        self.emit(format_update(point, message))

    def on_new_station(self, client: Client, connection: Connection, common_address: int) -> None:
        connection.add_station(common_address)

    def on_new_point(self, client: Client, station: Station, io_address: int, point_type: TypeId) -> None:
        point = station.add_point(io_address, point_type)
        if point is not None:
            point.on_receive(self.on_receive)

    def on_station_initialized(self, client: Client, station: Station, cause: object) -> None:
        self.emit(f"# station {station.common_address} initialized ({_text(cause)})")

    def on_state_change(self, connection: Connection, state: ConnectionState) -> None:
        failure = connection.last_failure
        closed = state in (ConnectionState.CLOSED, ConnectionState.CLOSED_AWAIT_RECONNECT)
        reason = f" ({failure})" if closed and failure is not None else ""
        self.emit(f"# {connection.ip}:{connection.port} {state.name}{reason}")
        if state is ConnectionState.OPEN:
            self.reached, self.failures = True, 0
        elif state is ConnectionState.CLOSED_AWAIT_RECONNECT:
            self.failures += 1
            if self.failures > self.retries:
                self.gave_up = True
                self.done.set()

    def stop(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler (SIGTERM, SIGINT): end the run cleanly."""
        self.done.set()


def _discard_output(out: TextIO) -> None:
    """Point ``out``'s file descriptor at the null device: what it still buffers cannot fail at exit."""
    with contextlib.suppress(OSError, ValueError):  # no descriptor (a StringIO) or already closed
        fd = out.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


def _check(duration: float | None, retries: int, retry_delay: float) -> None:
    if duration is not None and not (isinstance(duration, int | float) and duration >= 0):
        raise InvalidArgument(f"duration={duration!r} must be a number of seconds >= 0 or None")
    if not isinstance(retries, int) or isinstance(retries, bool):
        raise InvalidArgumentType(f"retries must be an int, not {type(retries).__name__}")
    if retries < 0:
        raise InvalidArgument(f"retries={retries} must be >= 0")
    if not (isinstance(retry_delay, int | float) and 0 < retry_delay < float("inf")):
        raise InvalidArgument(f"retry_delay={retry_delay!r} must be a positive number of seconds")


@contextlib.contextmanager
def _stop_signals(watch: _Watch) -> Iterator[None]:
    """Route SIGTERM and SIGINT to ``watch.stop`` while monitoring (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, watch.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """Show the client's warnings (why a connection failed or closed) on stderr."""
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("otwire client iec104: %(message)s"))
    logger.addHandler(stderr)
    try:
        yield
    finally:
        logger.removeHandler(stderr)


def _client(watch: _Watch, host: str, port: int, record: str | os.PathLike[str] | None, delay: float) -> Client:
    delay_ms = max(1, round(delay * 1000))
    client = Client(reconnect_delay_ms=delay_ms, max_reconnect_delay_ms=delay_ms)
    connection = client.add_connection(host, port, init=Init.INTERROGATION, record=record)
    if connection is None:  # a fresh client has no connection yet
        raise InvalidArgument(f"cannot add a connection to {host}:{port}")
    client.on_new_station(watch.on_new_station)
    client.on_new_point(watch.on_new_point)
    client.on_station_initialized(watch.on_station_initialized)
    connection.on_state_change(watch.on_state_change)
    return client


def monitor(
    host: str,
    port: int = 2404,
    *,
    record: str | os.PathLike[str] | None = None,
    duration: float | None = None,
    out: TextIO = sys.stdout,
    retries: int = 3,
    retry_delay: float = 1.0,
) -> int:
    """Connect to a station, interrogate it and print every point and every update.

    Each point is printed on its own line (:func:`format_update`) as it arrives: first the
    answers to the general interrogation, then spontaneous and periodic data. Lines that
    start with ``#`` report connection states, each closed state with its reason
    (``refused: ...``, ``connect timed out``, ``no STARTDT_CON within t1``, ``peer closed``,
    ``connection lost: ...``, ``protocol error: ...``), and station initializations;
    warnings also go to stderr. A failed attempt or a dropped connection is retried
    ``retries`` times in a row, ``retry_delay`` seconds apart (the count restarts once
    data transfer runs). SIGTERM stops it as SIGINT (Ctrl-C) does: the connection is
    closed and the ``record`` file completed.

    Args:
        host: Host name or address of the station.
        port: TCP port.
        record: Also write the session as a pcap file (for ``otwire inspect``).
        duration: Seconds to watch; ``None`` runs until SIGINT or SIGTERM.
        out: Where to print.
        retries: Consecutive failed connects or lost connections tolerated before giving up.
        retry_delay: Seconds between a failure and the next attempt (> 0; used in whole
            milliseconds, at least 1).

    Returns:
        0 after ``duration``, SIGINT or SIGTERM once the station was reached, or as soon as
        ``out`` is a pipe its reader closed (``| head``); 1 when it gave up after ``retries``
        or the station was never reached.

    Raises:
        InvalidArgument: ``host``, ``port``, ``duration``, ``retries`` or ``retry_delay`` is
            out of range, or ``record`` cannot be created.
        InvalidArgumentType: ``retries`` is not an ``int``.
    """
    _check(duration, retries, retry_delay)
    watch = _Watch(out, retries)
    client = _client(watch, host, port, record, retry_delay)
    with _warnings_to_stderr(), _stop_signals(watch):
        client.start()
        try:
            watch.done.wait(duration)
        except KeyboardInterrupt:  # SIGINT before the handler was installed (another thread's run)
            pass
        finally:
            client.stop()
    if watch.pipe_closed:  # ``otwire client iec104 ... | head``: the reader has all it wanted
        return 0
    if watch.gave_up or not watch.reached:
        print(f"otwire client iec104: cannot reach {host}:{port}", file=sys.stderr)
        return 1
    return 0
