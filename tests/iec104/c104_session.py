"""Record a live IEC 60870-5-104 session between a c104 client and a c104 server.

c104 (GPL-3.0) is a *test-time* peer only; nothing in ``src/otwire`` imports it.

``record_c104_session(port)`` starts a ``c104.Server`` on 127.0.0.1:``port`` with
one station (common address 47), connects a ``c104.Client`` to it and drives a
scripted session that puts (nearly) every type identification c104 can produce on
the wire.  Every APDU seen by the *client connection* is recorded through its
``on_send_raw`` ("C>S") and ``on_receive_raw`` ("S>C") callbacks.

Run as a script to regenerate the golden vector file::

    .venv/bin/python tests/iec104/c104_session.py > specs/iec104/vectors/c104_session.hex

NOTE: c104 checks callback signatures by annotation *and* parameter name at run
time, so this module must not use ``from __future__ import annotations``.
"""

import datetime
import socket
import sys
import threading
import time
from collections.abc import Callable

import c104

STATION_CA = 47
TESTFR_ACT = bytes.fromhex("680443000000")
TESTFR_CON = bytes.fromhex("680483000000")
C2S = "C>S"
S2C = "S>C"

# Fixed time tag for monitor information, so that CP56Time2a octets are stable.
FIXED_TIME = datetime.datetime(2024, 2, 29, 13, 37, 42, 123000, tzinfo=datetime.UTC)
_Q = c104.Quality


def _monitor_factories() -> dict[int, Callable[[], c104.Information]]:
    t = FIXED_TIME
    return {
        1: lambda: c104.SingleInfo(True, _Q(), t),
        3: lambda: c104.DoubleInfo(c104.Double.ON, _Q(), t),
        5: lambda: c104.StepInfo(c104.Int7(-5), True, _Q(), t),
        7: lambda: c104.BinaryInfo(c104.Byte32(bytes.fromhex("78563412")), _Q(), t),
        9: lambda: c104.NormalizedInfo(c104.NormalizedFloat(0.5), _Q(), t),
        11: lambda: c104.ScaledInfo(c104.Int16(-1234), _Q.Substituted, t),
        13: lambda: c104.ShortInfo(12.5, _Q(), t),
        15: lambda: c104.BinaryCounterInfo(-2, c104.UInt5(3), c104.BinaryCounterQuality(), t),
        20: lambda: c104.StatusAndChanged(
            c104.PackedSingle.I0 | c104.PackedSingle.I9,
            c104.PackedSingle.I9 | c104.PackedSingle.I15,
            _Q(),
            t,
        ),
        21: lambda: c104.NormalizedInfo(c104.NormalizedFloat(-0.25), _Q(), t),
        30: lambda: c104.SingleInfo(False, _Q.Invalid, t),
        31: lambda: c104.DoubleInfo(c104.Double.OFF, _Q.NonTopical, t),
        32: lambda: c104.StepInfo(c104.Int7(63), False, _Q(), t),
        33: lambda: c104.BinaryInfo(c104.Byte32(bytes.fromhex("01020304")), _Q(), t),
        34: lambda: c104.NormalizedInfo(c104.NormalizedFloat(-1.0), _Q.Overflow, t),
        35: lambda: c104.ScaledInfo(c104.Int16(32767), _Q(), t),
        36: lambda: c104.ShortInfo(-0.125, _Q.Blocked, t),
        37: lambda: c104.BinaryCounterInfo(123456789, c104.UInt5(31), c104.BinaryCounterQuality.Carry, t),
        38: lambda: c104.ProtectionEventInfo(c104.EventState.ON, c104.UInt16(1234), _Q(), t),
        39: lambda: c104.ProtectionStartInfo(
            c104.StartEvents.General | c104.StartEvents.PhaseL1, c104.UInt16(500), _Q(), t
        ),
        40: lambda: c104.ProtectionCircuitInfo(
            c104.OutputCircuits.General | c104.OutputCircuits.PhaseL2,
            c104.UInt16(300),
            _Q.ElapsedTimeInvalid,
            t,
        ),
    }


def _command_factories() -> dict[int, Callable[[], c104.Information]]:
    # Time-tagged commands (58-64) carry "now": lib60870 may reject stale time tags.
    return {
        45: lambda: c104.SingleCmd(True, c104.Qoc.NONE),
        46: lambda: c104.DoubleCmd(c104.Double.ON, c104.Qoc.SHORT_PULSE),
        47: lambda: c104.StepCmd(c104.Step.HIGHER, c104.Qoc.LONG_PULSE),
        48: lambda: c104.NormalizedCmd(c104.NormalizedFloat(-0.5), c104.UInt7(0)),
        49: lambda: c104.ScaledCmd(c104.Int16(300), c104.UInt7(0)),
        50: lambda: c104.ShortCmd(-1.5, c104.UInt7(0)),
        51: lambda: c104.BinaryCmd(c104.Byte32(bytes.fromhex("a5a50ff0"))),
        58: lambda: c104.SingleCmd(False, c104.Qoc.PERSISTENT),
        59: lambda: c104.DoubleCmd(c104.Double.OFF, c104.Qoc.NONE),
        60: lambda: c104.StepCmd(c104.Step.LOWER, c104.Qoc.NONE),
        61: lambda: c104.NormalizedCmd(c104.NormalizedFloat(0.25), c104.UInt7(0)),
        62: lambda: c104.ScaledCmd(c104.Int16(-300), c104.UInt7(0)),
        63: lambda: c104.ShortCmd(1e6, c104.UInt7(0)),
        64: lambda: c104.BinaryCmd(c104.Byte32(bytes.fromhex("0ff0a5a5"))),
    }


MONITOR_IOA_BASE = 100  # monitor point of type T at IOA 100 + T
COMMAND_IOA_BASE = 200  # command point of type T at IOA 200 + T
SELECT_EXECUTE_IOA = 300  # C_SE_NC_1 in select-and-execute mode
BATCH_IOAS = (400, 401, 402, 403)  # M_ME_NB_1, sent as one SQ=1 batch
READ_IOA = MONITOR_IOA_BASE + 13  # read (C_RD_NA_1) target, M_ME_NC_1
UNKNOWN_IOA = 299  # C_SC_NA_1 on the client only -> negative ACT_CON + COT 47
KEEP_ALIVE_S = 2  # client t3 (s): the session ends with one TESTFR act/con

_OPEN_WAIT_S = 0.5  # STARTDT race: call unmute() if not OPEN after this long


class _Deadline:
    def __init__(self, timeout: float) -> None:
        self.end = time.monotonic() + timeout
        self.timeout = timeout

    def left(self) -> float:
        return self.end - time.monotonic()

    def check(self, step: str, reserve: float = 0.0) -> None:
        """Raise ``TimeoutError`` unless more than ``reserve`` seconds are left."""
        if self.left() <= reserve:
            raise TimeoutError(f"c104 session did not finish within {self.timeout} s ({step})")


def record_c104_session(port: int, timeout: float = 20.0) -> list[tuple[str, bytes]]:
    """Run the scripted c104 session on 127.0.0.1:``port``; return the client's APDUs.

    Returns ``[(direction, apdu), ...]`` with direction ``"C>S"`` (client sent) or
    ``"S>C"`` (client received), in callback order (which preserves the order per
    direction; the interleaving of the two directions is only approximate because
    c104 queues raw callbacks).  Raises ``TimeoutError`` if the session cannot be
    completed within ``timeout`` seconds; server and client are always stopped.
    """
    deadline = _Deadline(timeout)
    frames: list[tuple[str, bytes]] = []
    lock = threading.Lock()
    # Bound every blocking c104 call so that the deadline can be honoured.
    command_timeout_ms = max(200, min(1000, int(timeout * 1000 / 20)))

    server = c104.Server(ip="127.0.0.1", port=port, tick_rate_ms=50)
    client = c104.Client(tick_rate_ms=50, command_timeout_ms=command_timeout_ms)
    try:
        sv_station = server.add_station(common_address=STATION_CA)
        monitor = {}
        for type_id, make in _monitor_factories().items():
            point = sv_station.add_point(io_address=MONITOR_IOA_BASE + type_id, type=c104.Type(type_id))
            point.info = make()
            monitor[type_id] = point
        commands = _command_factories()
        for type_id in commands:
            sv_station.add_point(io_address=COMMAND_IOA_BASE + type_id, type=c104.Type(type_id))
        sv_station.add_point(
            io_address=SELECT_EXECUTE_IOA,
            type=c104.Type.C_SE_NC_1,
            command_mode=c104.CommandMode.SELECT_AND_EXECUTE,
        )
        batch_points = []
        for i, ioa in enumerate(BATCH_IOAS):
            point = sv_station.add_point(io_address=ioa, type=c104.Type.M_ME_NB_1)
            point.info = c104.ScaledInfo(c104.Int16(10 * (i + 1)), _Q(), None)
            batch_points.append(point)

        connection = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.NONE)
        cl_station = connection.add_station(common_address=STATION_CA)
        cl_commands = {}
        for type_id, make in commands.items():
            point = cl_station.add_point(io_address=COMMAND_IOA_BASE + type_id, type=c104.Type(type_id))
            point.info = make()
            cl_commands[type_id] = point
        cl_select = cl_station.add_point(
            io_address=SELECT_EXECUTE_IOA,
            type=c104.Type.C_SE_NC_1,
            command_mode=c104.CommandMode.SELECT_AND_EXECUTE,
        )
        cl_select.info = c104.ShortCmd(42.0, c104.UInt7(0))
        cl_read = cl_station.add_point(io_address=READ_IOA, type=c104.Type.M_ME_NC_1)
        # Command to an IOA the server does not have: negative confirmation.
        cl_unknown = cl_station.add_point(io_address=UNKNOWN_IOA, type=c104.Type.C_SC_NA_1)
        cl_unknown.info = c104.SingleCmd(True, c104.Qoc.NONE)
        connection.protocol_parameters.keep_alive_interval = KEEP_ALIVE_S

        def on_send_raw(connection: c104.Connection, data: bytes) -> None:
            with lock:
                frames.append((C2S, bytes(data)))

        def on_receive_raw(connection: c104.Connection, data: bytes) -> None:
            with lock:
                frames.append((S2C, bytes(data)))

        connection.on_send_raw(callable=on_send_raw)
        connection.on_receive_raw(callable=on_receive_raw)

        server.start()
        client.start()
        _wait_open(connection, deadline)

        steps: list[tuple[str, Callable[[], object]]] = [
            ("interrogation", lambda: connection.interrogation(common_address=STATION_CA)),
            (
                "counter_interrogation",
                lambda: connection.counter_interrogation(common_address=STATION_CA),
            ),
            ("clock_sync", lambda: connection.clock_sync(common_address=STATION_CA)),
            # c104 2.2.1 cannot always match the C_TS_TA_1 confirmation to its request
            # ("Unsupported type C_TS_TA_1") and then blocks for the command timeout,
            # so do not wait for the response here: wait for the frame instead.
            (
                "test",
                lambda: connection.test(common_address=STATION_CA, with_time=True, wait_for_response=False),
            ),
            ("test con", lambda: _wait_frame(frames, lock, deadline, "test con", _is_test_con)),
            ("read", cl_read.read),
        ]
        for type_id, point in cl_commands.items():
            steps.append((f"command {type_id}", _transmit(point, c104.Cot.ACTIVATION)))
        steps.append(("select-and-execute", _transmit(cl_select, c104.Cot.ACTIVATION)))
        steps.append(("negative command", _transmit(cl_unknown, c104.Cot.ACTIVATION)))
        for type_id, point in monitor.items():
            steps.append((f"spontaneous {type_id}", _transmit(point, c104.Cot.SPONTANEOUS)))
        steps.append(
            (
                "batch",
                lambda: server.transmit_batch(c104.Batch(cause=c104.Cot.SPONTANEOUS, points=batch_points)),
            )
        )
        steps.append(
            (
                "signal_initialized",
                lambda: sv_station.signal_initialized(cause=c104.Coi.REMOTE_RESET),
            )
        )
        for name, action in steps:
            deadline.check(name, reserve=command_timeout_ms / 1000)
            action()
        # Spontaneous data is queued by the server: let it drain before STOPDT.
        _wait_frame(frames, lock, deadline, "M_EI_NA_1", _is_end_of_init)
        steps = [("mute", connection.mute), ("unmute", connection.unmute)]
        for name, action in steps:
            deadline.check(name, reserve=command_timeout_ms / 1000)
            action()
            _wait_state(connection, name == "mute", deadline)
        with lock:
            start = len(frames)  # the final TESTFR exchange is recorded after this
        # Idle until the client's t3 (KEEP_ALIVE_S) fires and its TESTFR act is confirmed:
        # the last frame of each direction. Raw callbacks keep the order within a direction,
        # so once both are recorded every earlier frame (S-frame acks included) is too.
        _wait_frame(frames, lock, deadline, "TESTFR con", lambda d, a: (d, a) == (S2C, TESTFR_CON), start)
        _wait_frame(frames, lock, deadline, "TESTFR act", lambda d, a: (d, a) == (C2S, TESTFR_ACT), start)
    finally:
        try:
            client.stop()
        finally:
            server.stop()
    with lock:
        return list(frames)


def _transmit(point: c104.Point, cause: c104.Cot) -> Callable[[], bool]:
    return lambda: point.transmit(cause=cause)


def _wait_open(connection: c104.Connection, deadline: _Deadline) -> None:
    """Wait for STARTDT to complete; work around the c104 2.2.1 STARTDT race."""
    start = time.monotonic()
    unmuted = False
    while connection.state != c104.ConnectionState.OPEN:
        deadline.check("connect")
        if (
            not unmuted
            and time.monotonic() - start > _OPEN_WAIT_S
            and connection.state == c104.ConnectionState.OPEN_MUTED
        ):
            connection.unmute()
            unmuted = True
        time.sleep(0.01)


def _wait_state(connection: c104.Connection, muted: bool, deadline: _Deadline) -> None:
    want = c104.ConnectionState.OPEN_MUTED if muted else c104.ConnectionState.OPEN
    while connection.state != want:
        deadline.check("mute" if muted else "unmute")
        time.sleep(0.005)


def _is_test_con(direction: str, apdu: bytes) -> bool:
    return direction == S2C and len(apdu) > 8 and apdu[6] == 107 and apdu[8] & 0x3F == 7


def _is_end_of_init(direction: str, apdu: bytes) -> bool:
    return direction == S2C and len(apdu) > 6 and apdu[6] == 70


def _wait_frame(
    frames: list, lock: threading.Lock, deadline: _Deadline, step: str, wanted: Callable, start: int = 0
) -> None:
    """Wait until a ``(direction, apdu)`` recorded at index ``start`` or later satisfies ``wanted``."""
    seen = start
    while True:
        with lock:
            new = frames[seen:]
        if any(wanted(d, apdu) for d, apdu in new):
            return
        seen += len(new)
        deadline.check(step)
        time.sleep(0.005)


def format_hex_file(frames: list[tuple[str, bytes]]) -> str:
    """Render frames in the ``specs/iec104/vectors/*.hex`` format."""
    c2s = sum(1 for d, _ in frames if d == C2S)
    type_ids = sorted({a[6] for _, a in frames if len(a) > 6 and a[2] & 1 == 0})
    u_frames = sorted({a.hex() for _, a in frames if len(a) == 6 and a[2] & 3 == 3})
    lines = [
        "# IEC 60870-5-104 APDUs of a live c104 client <-> c104 server session (loopback),",
        "# recorded from the client connection's on_send_raw (C>S) and on_receive_raw (S>C)",
        "# callbacks. Order is exact per direction; the interleaving of the two directions",
        "# is approximate (c104 delivers raw callbacks through a queue).",
        "# Script: station CA 47, STARTDT, GI, counter interrogation, clock sync, C_TS_TA_1,",
        "# read, every command type c104 supports (direct; plus one select-and-execute",
        "# C_SE_NC_1 and one C_SC_NA_1 to an unknown IOA -> negative confirmation),",
        "# spontaneous data of every monitor type c104 supports, one SQ=1 batch (N=4),",
        f"# M_EI_NA_1, STOPDT/STARTDT (mute/unmute), and one TESTFR (client t3 = {KEEP_ALIVE_S} s).",
        "# Time tags: monitor data uses a fixed time (2024-02-29 13:37:42.123 UTC);",
        "# commands, clock sync and test carry the wall-clock time of the recording.",
        "# Regenerate with:",
        "#   .venv/bin/python tests/iec104/c104_session.py > specs/iec104/vectors/c104_session.hex",
        f"# Generated with c104 {_c104_version()} (GPL-3.0, used as test-time peer only).",
        f"# {len(frames)} APDUs: {c2s} C>S, {len(frames) - c2s} S>C.",
        f"# I-frame type ids: {' '.join(str(t) for t in type_ids)}",
        f"# U-frames: {' '.join(u_frames)}",
        "# Format: one APDU per line, '<direction> <lowercase hex>'; '#' starts a comment line.",
    ]
    lines += [f"{direction} {apdu.hex()}" for direction, apdu in frames]
    return "\n".join(lines) + "\n"


def _c104_version() -> str:
    from importlib.metadata import version

    return version("c104")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    frames = record_c104_session(_free_port())
    sys.stdout.write(format_hex_file(frames))


if __name__ == "__main__":
    main()
