"""Drive a c104 client (controlling station) against a server, for conformance tests.

c104 (GPL-3.0) is a *test-time* peer only; nothing in ``src/otwire`` imports it.

NOTE: c104 checks callback signatures by annotation *and* parameter name at run time,
so this module must not use ``from __future__ import annotations`` (every c104 callback
of the tests is defined here).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import c104

OPEN_WAIT_S = 0.5  # STARTDT race of c104 2.2.1: unmute() when still OPEN_MUTED after this long


@dataclass(frozen=True)
class Received:
    """One monitor message as the c104 client's point saw it."""

    io_address: int
    type: c104.Type
    cot: c104.Cot
    value: Any
    quality: int


def plain(value: Any) -> Any:
    """Turn a c104 value into a plain Python value (int, float, bool)."""
    if isinstance(value, bool | float):
        return value
    if isinstance(value, c104.Byte32):
        return int.from_bytes(bytes(value), "little")
    if isinstance(value, c104.NormalizedFloat):
        return float(value)
    return int(value)


class C104Peer:
    """A c104 client with one connection and one station, learning points through ``on_new_point``.

    Args:
        port: Server port on 127.0.0.1.
        common_address: The station to talk to.
        command_timeout_ms: How long blocking c104 calls wait for a confirmation.
    """

    def __init__(self, port: int, common_address: int, command_timeout_ms: int = 2000) -> None:
        self.lock = threading.Lock()
        self.new_points: list[tuple[int, c104.Type]] = []
        self.received: list[Received] = []
        self.client = c104.Client(tick_rate_ms=50, command_timeout_ms=command_timeout_ms)
        self.connection = self.client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.NONE)
        self.station = self.connection.add_station(common_address=common_address)
        peer = self

        def on_receive(
            point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
        ) -> c104.ResponseState:
            quality = point.quality
            item = Received(point.io_address, point.type, message.cot, plain(point.value), int(quality or 0))
            with peer.lock:
                peer.received.append(item)
            return c104.ResponseState.NONE

        def on_new_point(client: c104.Client, station: c104.Station, io_address: int, point_type: c104.Type) -> None:
            point = station.add_point(io_address=io_address, type=point_type)
            point.on_receive(callable=on_receive)
            with peer.lock:
                peer.new_points.append((io_address, point_type))

        self.client.on_new_point(callable=on_new_point)

    def start(self, timeout: float = 10.0) -> None:
        """Start the client and wait for STARTDT con (working around the STARTDT race)."""
        self.client.start()
        start = time.monotonic()
        unmuted = False
        while self.connection.state != c104.ConnectionState.OPEN:
            elapsed = time.monotonic() - start
            if elapsed > timeout:
                raise TimeoutError(f"c104 connection not OPEN after {timeout} s: {self.connection.state}")
            if not unmuted and elapsed > OPEN_WAIT_S and self.connection.state == c104.ConnectionState.OPEN_MUTED:
                self.connection.unmute()
                unmuted = True
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the client (closes the connection)."""
        self.client.stop()

    def point(self, io_address: int) -> c104.Point | None:
        """Return the client's point at ``io_address``, or ``None``."""
        return self.station.get_point(io_address=io_address)

    def value(self, io_address: int) -> tuple[Any, int] | None:
        """Return ``(plain value, quality bits)`` of the client's point, or ``None`` if unknown."""
        point = self.point(io_address)
        if point is None:
            return None
        return plain(point.value), int(point.quality or 0)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 5.0) -> list[Received]:
        """Wait until ``predicate(received)`` holds; return a copy of what was received."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                received = list(self.received)
            if predicate(received):
                return received
            if time.monotonic() > deadline:
                raise TimeoutError(f"c104 client did not receive what was expected: {received[-10:]}")
            time.sleep(0.01)

    def command(self, io_address: int, point_type: c104.Type, info: c104.Information, *, select: bool = False) -> bool:
        """Send one command from a client command point; return what ``transmit`` returns."""
        point = self.point(io_address)
        if point is None:
            mode = c104.CommandMode.SELECT_AND_EXECUTE if select else c104.CommandMode.DIRECT
            point = self.station.add_point(io_address=io_address, type=point_type, command_mode=mode)
        point.info = info
        return point.transmit(cause=c104.Cot.ACTIVATION)


#: Command infos by type name: (c104 info, the value the otwire server should see).
def command_infos() -> dict[str, tuple[c104.Information, Any]]:
    """Return one command of each kind and the plain value it carries."""
    return {
        "C_SC_NA_1": (c104.SingleCmd(True, c104.Qoc.NONE), True),
        "C_DC_NA_1": (c104.DoubleCmd(c104.Double.ON, c104.Qoc.SHORT_PULSE), 2),
        "C_RC_NA_1": (c104.StepCmd(c104.Step.HIGHER, c104.Qoc.NONE), 2),
        "C_SE_NA_1": (c104.NormalizedCmd(c104.NormalizedFloat(0.25), c104.UInt7(0)), 0.25),
        "C_SE_NB_1": (c104.ScaledCmd(c104.Int16(-300), c104.UInt7(0)), -300),
        "C_SE_NC_1": (c104.ShortCmd(42.5, c104.UInt7(0)), 42.5),
        "C_BO_NA_1": (c104.BinaryCmd(c104.Byte32(bytes.fromhex("78563412"))), 0x12345678),
    }
