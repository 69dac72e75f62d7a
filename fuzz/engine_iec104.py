"""Fuzz harness for the IEC 104 connection engine (STYLE.md 3.3 rule 4).

``fuzz_engine(data)`` feeds arbitrary octets to a controlling and a controlled engine,
fresh and with data transfer started, whole and one octet at a time. Only
``RemoteProtocolError`` may escape ``receive_data``; after it the engine must be
CLOSED with no timer, and both splits must give the same events, bytes and error.
Whatever state the engine is left in, ``connection_lost`` must close it.

Runs under hypothesis (``fuzz/test_fuzz_iec104_engine.py``, ``make fuzz``; the ``ci``
profile through ``tests/iec104/test_fuzz_engine.py``) and, when installed, atheris::

    .venv/bin/python fuzz/engine_iec104.py fuzz/corpus/iec104 -max_total_time=600
"""

from __future__ import annotations

import sys

from otwire.errors import RemoteProtocolError
from otwire.protocols.iec104 import IEC104Connection, Role, State

STARTDT_ACT = bytes.fromhex("680407000000")
STARTDT_CON = bytes.fromhex("68040b000000")


def _engine(role: Role, started: bool) -> IEC104Connection:
    conn = IEC104Connection(role, now=0.0, report_frames=True)
    if started and role is Role.CONTROLLING:
        conn.start_data_transfer(0.0)
        conn.receive_data(STARTDT_CON, 0.0)
    elif started:
        conn.receive_data(STARTDT_ACT, 0.0)
    return conn


def _run(role: Role, started: bool, pieces: list[bytes]) -> tuple[list[str], bytes, str | None, State]:
    conn = _engine(role, started)
    error = None
    for piece in pieces:
        try:
            conn.receive_data(piece, 1.0)
        except RemoteProtocolError as exc:
            error = f"{type(exc).__name__}: {exc}"
            if conn.state is not State.CLOSED or conn.get_timer() is not None:
                raise AssertionError(f"engine not closed after {error}") from exc
            break
    events = []
    while (event := conn.next_event()) is not None:
        events.append(repr(event))  # exceptions inside events compare by identity; their text does not
    if not conn.is_closed:
        conn.handle_timer(1e6)  # every timer at once must not raise either
    state, out = conn.state, conn.data_to_send()
    conn.connection_lost(1e6, OSError("fuzz"))  # any state ends through the table's CONNECTION_LOST row
    if conn.state is not State.CLOSED or conn.get_timer() is not None:
        raise AssertionError(f"engine not closed after connection_lost in {state.name}")
    return events, out, error, state


def fuzz_engine(data: bytes) -> None:
    """Feed ``data`` to every engine flavour, whole and octet by octet.

    Raises:
        AssertionError: results depend on the split, or an engine is left open after an error.
        Exception: anything other than ``RemoteProtocolError`` from ``receive_data`` (a bug).
    """
    if not data:
        return
    for role in Role:
        for started in (False, True):
            whole = _run(role, started, [data])
            bytewise = _run(role, started, [data[k : k + 1] for k in range(len(data))])
            if whole != bytewise:
                raise AssertionError(f"engine results depend on the split ({role.name}): {data.hex()}")


def main() -> None:
    """Run ``fuzz_engine`` under atheris (libFuzzer arguments from the command line)."""
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("atheris is not installed (pip install atheris); `make fuzz` runs hypothesis")
    atheris.instrument_all()
    atheris.Setup(sys.argv, fuzz_engine)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
