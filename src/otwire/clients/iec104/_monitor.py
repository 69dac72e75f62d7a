"""``monitor()``: watch a controlled station from the command line (``otwire client iec104``)."""

from __future__ import annotations

import enum
import logging
import os
import sys
import threading
import time
from typing import Any, TextIO

from otwire.clients.iec104._enums import ConnectionState, Init
from otwire.clients.iec104._log import logger
from otwire.clients.iec104._model import IncomingMessage
from otwire.clients.iec104.client import Client, Connection, Point, Station
from otwire.codecs.iec104 import Quality, TypeId

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


def monitor(
    host: str,
    port: int = 2404,
    *,
    record: str | os.PathLike[str] | None = None,
    duration: float | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Connect to a station, interrogate it and print every point and every update.

    Each point is printed on its own line (:func:`format_update`) as it arrives: first the
    answers to the general interrogation, then spontaneous and periodic data. Lines that
    start with ``#`` report connection states and station initializations; warnings
    (why a connection failed or closed) go to stderr. The client reconnects (and
    interrogates again) if the connection drops.

    Args:
        host: Host name or address of the station.
        port: TCP port.
        record: Also write the session as a pcap file (for ``otwire inspect``).
        duration: Seconds to watch; ``None`` runs until Ctrl-C.
        out: Where to print.

    Returns:
        0 after ``duration`` or Ctrl-C; 1 when the station could not be reached before the
        connect timeout (t0, 30 s) or ``duration`` ran out.

    Raises:
        OSError: ``record`` cannot be created.
    """
    lock = threading.Lock()

    def emit(line: str) -> None:
        with lock:
            out.write(line + "\n")
            out.flush()

    def on_receive(point: Point, previous_info: object, message: IncomingMessage) -> None:
        emit(format_update(point, message))

    def on_new_station(client: Client, connection: Connection, common_address: int) -> None:
        connection.add_station(common_address)

    def on_new_point(client: Client, station: Station, io_address: int, point_type: TypeId) -> None:
        point = station.add_point(io_address, point_type)
        if point is not None:
            point.on_receive(on_receive)

    def on_state_change(connection: Connection, state: ConnectionState) -> None:
        emit(f"# {connection.ip}:{connection.port} {state.name}")

    def on_station_initialized(client: Client, station: Station, cause: object) -> None:
        emit(f"# station {station.common_address} initialized ({_text(cause)})")

    client = Client()
    connection = client.add_connection(host, port, init=Init.INTERROGATION, record=record)
    # Why a connection failed or closed is logged; show it on stderr while monitoring.
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("otwire client iec104: %(message)s"))
    logger.addHandler(stderr)
    assert connection is not None
    client.on_new_station(on_new_station)
    client.on_new_point(on_new_point)
    client.on_station_initialized(on_station_initialized)
    connection.on_state_change(on_state_change)
    end = None if duration is None else time.monotonic() + duration
    client.start()
    try:
        wait = connection.protocol_parameters.connection_timeout
        if end is not None:
            wait = min(wait, max(end - time.monotonic(), 0.0))
        if not connection.wait_for_state(ConnectionState.OPEN, ConnectionState.OPEN_MUTED, timeout=wait):
            print(f"otwire client iec104: cannot reach {host}:{port}", file=sys.stderr)
            return 1
        stop = threading.Event()
        stop.wait(None if end is None else max(end - time.monotonic(), 0.0))
    except KeyboardInterrupt:
        pass
    finally:
        client.stop()
        logger.removeHandler(stderr)
    return 0
