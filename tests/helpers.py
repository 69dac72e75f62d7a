"""Helpers shared by every test module: waiting on a condition, engine pairs, split feeding, codec checks.

Import as ``from helpers import wait_until, async_wait_until, Pair, feed_split, assert_codec, drain``
(``tests/`` is on ``sys.path``, see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

#: Seconds any single wait in the tests may take at most.
WAIT = 5.0


class _Engine(Protocol):
    @property
    def is_closed(self) -> bool: ...

    def receive_data(self, data: Any, now: float) -> None: ...

    def handle_timer(self, now: float) -> None: ...

    def get_timer(self) -> float | None: ...

    def next_event(self) -> Any: ...

    def data_to_send(self) -> bytes: ...


def wait_until(predicate: Callable[[], object], timeout: float = WAIT, *, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds.

    For conditions that no event announces (a socket state seen from another thread).
    Where an event exists, wait on it with :func:`wait_event` instead.

    Raises:
        AssertionError: the condition did not hold within ``timeout``.
    """
    end = time.monotonic() + timeout
    delay = 0.001
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


async def async_wait_until(predicate: Callable[[], object], timeout: float = WAIT, *, what: str = "condition") -> None:
    """:func:`wait_until` for coroutines: poll ``predicate`` between loop turns, without blocking the loop.

    Raises:
        AssertionError: the condition did not hold within ``timeout``.
    """
    end = time.monotonic() + timeout
    delay = 0.001
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.02)


def wait_event(event: threading.Event, timeout: float = WAIT, *, what: str = "event") -> None:
    """Wait for a ``threading.Event`` set by the code under test.

    Raises:
        AssertionError: it was not set within ``timeout``.
    """
    if not event.wait(timeout):
        raise AssertionError(f"{what} not set within {timeout} s")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was just bound and released (free now; connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def listening(process: subprocess.Popen[Any], port: int, host: str = "127.0.0.1") -> bool:
    """True once something accepts on ``port`` (for :func:`wait_until`); fails at once if ``process`` died."""
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError:
        return False
    return True


def drain(engine: Any) -> list[Any]:
    """Every event queued on ``engine`` (anything with ``next_event()``), oldest first."""
    events = []
    while (event := engine.next_event()) is not None:
        events.append(event)
    return events


def splits(data: bytes, points: Iterable[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (out-of-range and repeated offsets are ignored)."""
    cuts = sorted({p for p in points if 0 < p < len(data)})
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def feed_split(feed: Callable[[bytes], object], data: bytes, points: Iterable[int] | None = None) -> list[Any]:
    """Feed ``data`` in pieces (octet by octet when ``points`` is ``None``); return what each call returned.

    Framers return lists of frames per call: the returned list is their concatenation in
    that case, else the list of per-call results.
    """
    pieces: Sequence[bytes] = [data[i : i + 1] for i in range(len(data))] if points is None else splits(data, points)
    out: list[Any] = []
    for piece in pieces:
        result = feed(piece)
        if isinstance(result, list):
            out.extend(result)
        elif result is not None:
            out.append(result)
    return out


def assert_codec(decode: Callable[[bytes], Any], encode: Callable[[Any], bytes], data: bytes, expected: Any) -> None:
    """Golden-vector check: ``data`` decodes to ``expected`` and ``expected`` encodes back to ``data``."""
    got = decode(data)
    assert got == expected, f"decoded {got!r}, expected {expected!r}"
    again = encode(expected)
    assert again == data, f"re-encoded {again.hex(' ')}, expected {data.hex(' ')}"


class Pair:
    """Two engines back to back with a fake clock (h11's ConnectionPair): ``pump`` moves the octets.

    Args:
        client: The engine at one end.
        server: The engine at the other end.
        now: The fake clock's start, seconds.
    """

    def __init__(self, client: Any, server: Any, now: float = 0.0) -> None:
        self.client = client
        self.server = server
        self.now = now

    def pump(self) -> None:
        """Deliver queued octets both ways until both engines are quiet."""
        moved = True
        while moved:
            moved = False
            for a, b in ((self.client, self.server), (self.server, self.client)):
                data = a.data_to_send()
                if data and not b.is_closed:
                    b.receive_data(data, self.now)
                    moved = True

    def advance(self, seconds: float) -> None:
        """Move the clock, run the timers due on both ends, then pump."""
        self.now += seconds
        for engine in (self.client, self.server):
            deadline = engine.get_timer()
            if not engine.is_closed and deadline is not None and deadline <= self.now:
                engine.handle_timer(self.now)
        self.pump()

    def events(self) -> tuple[list[Any], list[Any]]:
        """Drain both ends: ``(client events, server events)``."""
        return drain(self.client), drain(self.server)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.client, self.server))


class OtwireProcess:
    """A running ``python -m otwire ARGS`` whose output lines are read by a thread (no sleeps to wait on it).

    Args:
        argv: The command line after ``otwire``.
        env: Environment (default: this one, unbuffered).
        cwd: Working directory.
        merge_stderr: Read stderr into the same lines as stdout.
    """

    def __init__(
        self,
        *argv: str,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        merge_stderr: bool = False,
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "otwire", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            text=True,
            env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """Return the match of the first output line matching ``pattern`` (fails if the process ends first)."""
        while True:
            line = self.lines.get(timeout=timeout)
            assert line is not None, f"exited before {pattern!r}: {self.seen} {self.stderr()}"
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found

    def log(self) -> str:
        """Every output line read so far."""
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen)

    def rest(self) -> str:
        """Every output line until the process closed its output (call after it ended)."""
        self.seen.extend(iter(self.lines.get, None))
        return "".join(self.seen)

    def terminate(self, timeout: float = 60.0) -> int:
        """Send SIGTERM and return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stderr(self) -> str:
        """What the process wrote on stderr (only once it ended and stderr was not merged)."""
        if self.process.stderr is None or self.process.poll() is None:
            return ""
        return self.process.stderr.read()

    def kill(self) -> None:
        """Kill the process if it still runs and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
