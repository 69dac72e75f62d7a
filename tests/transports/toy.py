"""A toy sans-IO line protocol implementing the ``Connection`` contract, for transport tests.

Messages are ``str`` lines without the newline. Special lines a peer may send:

* ``BAD``: a protocol violation; the engine queues ``bye`` and raises ``RemoteProtocolError``.
* ``QUIT``: an orderly close; the engine queues ``bye`` and closes.

With ``echo=True`` every other received line is sent back. With ``idle`` set, ``ping`` is
sent after ``idle`` seconds without outgoing traffic.
"""

from __future__ import annotations

import enum
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import free_port
from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols import Buffer, Event


class State(enum.Enum):
    OPEN = enum.auto()
    CLOSED = enum.auto()


@dataclass(frozen=True, slots=True, kw_only=True)
class LineReceived(Event):
    line: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PingSent(Event):
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed(Event):
    reason: str


class LineConnection:
    """Newline-delimited text protocol (one engine per connection end)."""

    def __init__(self, *, echo: bool = False, idle: float | None = None, now: float = 0.0) -> None:
        self.echo = echo
        self.idle = idle
        self._state = State.OPEN
        self._inbuf = b""
        self._out = bytearray()
        self._events: list[Event] = []
        self._timer = None if idle is None else now + idle
        self.lost_error: BaseException | None = None

    @property
    def state(self) -> State:
        return self._state

    @property
    def is_closed(self) -> bool:
        return self._state is State.CLOSED

    def _check(self, verb: str) -> None:
        if self._state is State.CLOSED:
            raise LocalProtocolError(f"can't {verb} in state CLOSED")

    def _queue(self, line: str, now: float) -> None:
        self._out += line.encode() + b"\n"
        if self.idle is not None:
            self._timer = now + self.idle

    def _finish(self, reason: str) -> None:
        self._state = State.CLOSED
        self._timer = None
        self._events.append(Closed(reason=reason))

    def receive_data(self, data: Buffer, now: float) -> None:
        self._check("receive_data")
        if not data:
            self._finish("eof")
            return
        self._inbuf += bytes(data)
        *lines, self._inbuf = self._inbuf.split(b"\n")
        for raw in lines:
            line = raw.decode()
            if line == "BAD":
                self._queue("bye", now)
                self._finish("error")
                raise RemoteProtocolError("peer sent BAD")
            if line == "QUIT":
                self._queue("bye", now)
                self._finish("quit")
                return
            self._events.append(LineReceived(line=line))
            if self.echo:
                self._queue(line, now)

    def send(self, message: str, now: float) -> None:
        self._check("send")
        if "\n" in message:
            raise LocalProtocolError("a line must not contain a newline")
        self._queue(message, now)

    def connection_lost(self, now: float, exc: BaseException | None = None) -> None:
        if self._state is not State.CLOSED:
            self.lost_error = exc
            self._finish("lost")

    def close(self, now: float) -> None:
        self._check("close")
        self._queue("bye", now)
        self._finish("local")

    def handle_timer(self, now: float) -> None:
        if self._timer is not None and now >= self._timer:
            self._queue("ping", now)
            self._events.append(PingSent(at=now))

    def next_event(self) -> Event | None:
        return self._events.pop(0) if self._events else None

    def data_to_send(self) -> bytes:
        data, self._out = bytes(self._out), bytearray()
        return data

    def get_timer(self) -> float | None:
        return self._timer


# -- test helpers shared by the transport tests -------------------------------------------


def tls_contexts(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    """Return (server, client) TLS contexts for ``localhost``/127.0.0.1, or ``None`` without openssl.

    The self-signed certificate is made with the ``openssl`` command line tool (the
    ``cryptography`` package is not a dependency of this project).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    command += ["-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    if done.returncode != 0:
        return None
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cert)
    return server, client


def refused_port() -> int:
    """Return a loopback port that was just bound and released (connecting is refused)."""
    return free_port()
