"""The generic asyncio server driver (``PeerServer``) with a toy chat engine: routing and every limit.

No sleeps-then-assert: every test waits for the event that proves its point (a
``ConnectionTerminated`` with the expected reason, a closed socket), bounded by ``WAIT``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from otwire.protocols import ConnectionTerminated, Event, TerminationReason
from otwire.transports.aio_server import PeerServer, PeerSocket
from otwire.transports.limits import ServerLimits
from servers.chat import ChatEngine, LineReceived

WAIT = 5.0
KIB = 1024


def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop, bounded in time."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 6 * WAIT))

    wrapper.__name__ = test.__name__
    return wrapper


class Lines(logging.Handler):
    """Collects the log lines of one logger."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class Harness:
    """A ``PeerServer`` running a ``ChatEngine`` on loopback, with raw client sockets."""

    def __init__(self, limits: ServerLimits | None = None, **kwargs: Any) -> None:
        self.engine = ChatEngine()
        self.events: asyncio.Queue[tuple[int, Event]] = asyncio.Queue()
        self.closed: asyncio.Queue[PeerSocket] = asyncio.Queue()
        self.logger = logging.getLogger(f"test.peerserver.{id(self)}")
        self.logger.propagate = False
        self.log = Lines()
        self.logger.addHandler(self.log)
        self.server = PeerServer(
            self.engine,
            limits=limits,
            on_event=lambda peer, event: self.events.put_nowait((peer, event)),
            on_close=self.closed.put_nowait,
            logger=self.logger,
            **kwargs,
        )
        self.port = 0
        self.clients: list[socket.socket] = []

    async def __aenter__(self) -> Harness:
        self.port = await self.server.listen("127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close(grace=WAIT)
        for sock in self.clients:
            sock.close()

    async def connect(self, *, rcvbuf: int | None = None) -> socket.socket:
        sock = socket.socket()
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        self.clients.append(sock)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        return sock

    async def send(self, sock: socket.socket, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(sock, data)

    async def recv_until(self, sock: socket.socket, wanted: bytes) -> bytes:
        got = b""
        async with asyncio.timeout(WAIT):
            while wanted not in got:
                chunk = await asyncio.get_running_loop().sock_recv(sock, 65536)
                assert chunk, f"closed before {wanted!r}; got {got!r}"
                got += chunk
        return got

    async def event(self) -> tuple[int, Event]:
        return await asyncio.wait_for(self.events.get(), WAIT)

    async def terminated(self) -> tuple[int, ConnectionTerminated]:
        while True:
            peer, event = await self.event()
            if isinstance(event, ConnectionTerminated):
                return peer, event


async def closed_by_server(sock: socket.socket) -> bool:
    """Wait until the server closed (or reset) ``sock``; read and drop what arrives."""
    async with asyncio.timeout(WAIT):
        while True:
            try:
                if not await asyncio.get_running_loop().sock_recv(sock, 65536):
                    return True
            except ConnectionResetError:
                return True


@run
async def test_lines_are_routed_between_peers_and_eof_is_reported() -> None:
    async with Harness() as h:
        a, b = await h.connect(), await h.connect()
        await h.send(a, b"HELLO\n")
        await h.recv_until(a, b"welcome\n")
        await h.send(b, b"HELLO\nALL hi there\n")
        await h.recv_until(b, b"welcome\n")
        assert await h.recv_until(a, b"hi there\n") == b"hi there\n"
        await h.send(a, b"ping\n")
        assert await h.recv_until(a, b"ping\n") == b"ping\n"
        a.shutdown(socket.SHUT_WR)
        peer, end = await h.terminated()
        assert end.reason is TerminationReason.PEER_CLOSED and end.error is None
        assert (await asyncio.wait_for(h.closed.get(), WAIT)).peer == peer
        await h.send(b, b"QUIT\n")
        assert (await h.recv_until(b, b"bye\n")).endswith(b"bye\n")
        assert (await h.terminated())[1].reason is TerminationReason.END_SESSION
        assert await closed_by_server(b)


@run
async def test_a_protocol_error_closes_only_that_peer_after_its_goodbye() -> None:
    async with Harness() as h:
        good, bad = await h.connect(), await h.connect()
        await h.send(bad, b"BAD\n")
        assert await h.recv_until(bad, b"bye\n") == b"bye\n"
        _, end = await h.terminated()
        assert end.reason is TerminationReason.PROTOCOL_ERROR and end.error is not None
        assert await closed_by_server(bad)
        await h.send(good, b"still here\n")
        assert await h.recv_until(good, b"still here\n")


@run
async def test_a_reset_is_connection_lost_with_the_exception() -> None:
    async with Harness() as h:
        sock = await h.connect()
        await h.send(sock, b"HELLO\n")
        await h.recv_until(sock, b"welcome\n")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
        _, end = await h.terminated()
        assert end.reason is TerminationReason.CONNECTION_LOST
        assert isinstance(end.error, ConnectionResetError)


@run
async def test_max_connections_refuses_at_accept_with_one_log_line_per_burst() -> None:
    async with Harness(ServerLimits(max_connections=2)) as h:
        kept = [await h.connect(), await h.connect()]
        for sock in kept:
            await h.send(sock, b"HELLO\n")
            await h.recv_until(sock, b"welcome\n")
        refused = [await h.connect() for _ in range(20)]
        for sock in refused:
            assert await closed_by_server(sock)
        assert len(h.server.sockets) == 2
        lines = [line for line in h.log.lines if "connection refused" in line]
        assert len(lines) == 1 and "max_connections=2" in lines[0]
        await h.send(kept[0], b"echo\n")
        assert await h.recv_until(kept[0], b"echo\n")


@run
async def test_max_per_address() -> None:
    async with Harness(ServerLimits(max_per_address=1)) as h:
        first = await h.connect()
        second = await h.connect()
        assert await closed_by_server(second)
        assert "max_per_address=1" in " ".join(h.log.lines)
        await h.send(first, b"HELLO\n")
        assert await h.recv_until(first, b"welcome\n")


@run
async def test_handshake_deadline() -> None:
    async with Harness(ServerLimits(handshake_timeout=0.2)) as h:
        silent = await h.connect()
        await h.send(silent, b"not a hello\n")  # frames, but no opening exchange
        _, end = await h.terminated()
        assert end.reason is TerminationReason.HANDSHAKE_TIMEOUT
        assert await closed_by_server(silent)
        assert sum("handshake timeout" in line for line in h.log.lines) == 1


@run
async def test_idle_deadline() -> None:
    async with Harness(ServerLimits(idle_timeout=0.3)) as h:
        sock = await h.connect()
        await h.send(sock, b"HELLO\n")
        await h.recv_until(sock, b"welcome\n")
        _, end = await h.terminated()
        assert end.reason is TerminationReason.IDLE_TIMEOUT
        assert await closed_by_server(sock)


@run
async def test_idle_peers_are_dropped_while_a_busy_one_stays_and_deadlines_stay_bounded() -> None:
    async with Harness(ServerLimits(idle_timeout=0.5)) as h:
        busy = await h.connect()
        await h.send(busy, b"HELLO\n")
        await h.recv_until(busy, b"welcome\n")
        quiet = [await h.connect() for _ in range(5)]
        for sock in quiet:
            await h.send(sock, b"HELLO\n")
            await h.recv_until(sock, b"welcome\n")
        ended: list[int] = []

        async def chatter() -> None:
            while True:  # a frame every 20 ms: its idle deadline keeps moving
                await h.send(busy, b"still here\n")
                await asyncio.sleep(0.02)

        task = asyncio.create_task(chatter())
        try:
            while len(ended) < len(quiet):
                peer, end = await h.terminated()
                assert end.reason is TerminationReason.IDLE_TIMEOUT
                ended.append(peer)
            # Frames moved the busy peer's deadline many times, yet the heap holds at most two entries per
            # peer ever connected (its handshake and its current deadline), never one per frame.
            assert len(h.server._deadlines) <= 2 * (1 + len(quiet))
        finally:
            task.cancel()
        assert all(sock.peer != peer for sock in h.server.sockets.values() for peer in ended)
        assert len(h.server.sockets) == 1
        for sock in quiet:
            assert await closed_by_server(sock)


@run
async def test_a_byte_trickle_does_not_keep_a_connection_alive() -> None:
    async with Harness(ServerLimits(frame_timeout=0.5)) as h:
        sock = await h.connect()
        await h.send(sock, b"HELLO\n")
        await h.recv_until(sock, b"welcome\n")
        trickled = 0

        async def trickle() -> None:
            nonlocal trickled
            with pytest.raises(OSError):
                while True:  # one octet of a line that never ends, every 10 ms
                    await h.send(sock, b"x")
                    trickled += 1
                    await asyncio.sleep(0.01)

        task = asyncio.create_task(trickle())
        _, end = await h.terminated()
        task.cancel()
        assert end.reason is TerminationReason.IDLE_TIMEOUT
        assert trickled >= 3  # octets kept arriving, yet no frame completed: dropped
        assert any("a frame took longer than 0.5 s" in line for line in h.log.lines)


@run
async def test_output_cap_drops_a_peer_that_never_reads() -> None:
    async with Harness(ServerLimits(max_output_bytes=64 * KIB)) as h:
        reader = await h.connect()
        slow = await h.connect(rcvbuf=4096)
        await h.send(slow, b"HELLO\n" + b"SPAM 100000\n" * 200)  # 20 MB asked for, nothing read
        _, end = await h.terminated()
        assert end.reason is TerminationReason.SLOW_CONSUMER
        assert any("slow consumer" in line and "limit 65536" in line for line in h.log.lines)
        await h.send(reader, b"fine\n")
        assert await h.recv_until(reader, b"fine\n")


@run
async def test_octets_held_inside_the_engine_count_too() -> None:
    async with Harness(ServerLimits(max_output_bytes=64 * KIB)) as h:
        sock = await h.connect()
        await h.send(sock, b"HOLD 40000\necho\n")
        await h.recv_until(sock, b"echo\n")
        await h.send(sock, b"HOLD 40000\n")  # 80000 > 65536
        _, end = await h.terminated()
        assert end.reason is TerminationReason.SLOW_CONSUMER


@run
async def test_memory_budget_drops_the_peer_holding_most() -> None:
    limits = ServerLimits(max_output_bytes=100 * KIB, memory_budget=128 * KIB)
    async with Harness(limits) as h:
        a, b, c = await h.connect(), await h.connect(), await h.connect()
        await h.send(a, b"HOLD 50000\necho a\n")
        await h.recv_until(a, b"echo a\n")
        await h.send(b, b"HOLD 70000\necho b\n")
        await h.recv_until(b, b"echo b\n")
        await h.send(c, b"HOLD 20000\n")  # 140000 > 131072: b, holding most, goes
        peer, end = await h.terminated()
        assert end.reason is TerminationReason.SLOW_CONSUMER
        assert h.engine.peers[peer].name == f"127.0.0.1:{b.getsockname()[1]}"
        assert await closed_by_server(b)
        for sock in (a, c):
            await h.send(sock, b"alive\n")
            assert await h.recv_until(sock, b"alive\n")
        assert sum("budget" in line for line in h.log.lines) == 1


@run
async def test_close_says_goodbye_to_every_peer() -> None:
    h = Harness()
    async with h:
        socks = [await h.connect() for _ in range(3)]
        for sock in socks:
            await h.send(sock, b"HELLO\n")
            await h.recv_until(sock, b"welcome\n")
        await h.server.close(grace=WAIT)
        for sock in socks:
            assert (await h.recv_until(sock, b"bye\n")).endswith(b"bye\n")
        reasons = [(await h.terminated())[1].reason for _ in socks]
        assert reasons == [TerminationReason.LOCAL_CLOSE] * 3
        assert not h.server.listening


def test_peer_line_events_are_delivered_in_order() -> None:
    async def main() -> list[str]:
        async with Harness() as h:
            sock = await h.connect()
            await h.send(sock, b"one\ntwo\nthree\n")
            await h.recv_until(sock, b"three\n")
            got = []
            while len(got) < 3:
                _, event = await h.event()
                if isinstance(event, LineReceived):
                    got.append(event.line)
            return got

    assert asyncio.run(main()) == ["one", "two", "three"]


FD_LIMIT_CHILD = """
import asyncio, logging, resource, sys
from otwire.transports.aio_server import PeerServer
from servers.chat import ChatEngine

logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(message)s")

async def main():
    server = PeerServer(ChatEngine())
    port = await server.listen("127.0.0.1", 0)
    import os
    used = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (used + 4, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await server.close()

asyncio.run(main())
"""


def test_the_fd_limit_refuses_cleanly_with_one_log_line_per_burst() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": tests + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen(
        [sys.executable, "-c", FD_LIMIT_CHILD],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdin is not None
        port = int(child.stdout.readline())
        flood = [socket.create_connection(("127.0.0.1", port), timeout=WAIT) for _ in range(12)]
        outcomes = []
        for sock in flood:  # served up to the limit; the others refused (reset), none left hanging
            try:
                sock.sendall(b"ping\n")
                outcomes.append(sock.recv(100))
            except OSError:
                outcomes.append(b"reset")
        assert set(outcomes) <= {b"ping\n", b"reset", b""} and b"ping\n" in outcomes, outcomes
        assert b"reset" in outcomes or b"" in outcomes, outcomes
        for sock in flood:
            sock.close()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as late:  # accepting resumed
            late.settimeout(3 * WAIT)  # asyncio retries accept once a second, a few at a time
            late.sendall(b"HELLO\n")
            assert late.recv(100) == b"welcome\n"
        child.stdin.write("stop\n")
        child.stdin.flush()
        _, err = child.communicate(timeout=WAIT)
    finally:
        child.kill()
    lines = err.splitlines()
    assert not [line for line in lines if "out of system resource" in line], err
    fd_lines = [line for line in lines if "accept failed" in line]
    assert len(fd_lines) == 1, err  # one burst: one line
    assert "waiting connections refused" in fd_lines[0]


@run
async def test_an_accept_callback_may_refuse_and_a_failing_event_callback_is_logged() -> None:
    seen: list[str] = []

    def accept(sock: PeerSocket) -> bool:
        seen.append(sock.name)
        return len(seen) != 2  # refuse the second one

    h = Harness(on_accept=accept)
    h.server.on_event = lambda peer, event: 1 / 0  # type: ignore[assignment,func-returns-value]
    async with h:
        first = await h.connect()
        second = await h.connect()
        assert await closed_by_server(second)
        await h.send(first, b"still served\n")
        assert await h.recv_until(first, b"still served\n")
        assert len(seen) == 2 and len(h.server.sockets) == 1
    assert any("event callback failed" in line for line in h.log.lines)


@run
async def test_unfinished_input_counts_against_the_memory_budget() -> None:
    limits = ServerLimits(max_output_bytes=64 * KIB, memory_budget=128 * KIB)
    async with Harness(limits) as h:
        socks = [await h.connect() for _ in range(4)]
        for sock in socks:  # 4 x 48 KiB of one line that never ends: 192 KiB > 128 KiB
            await h.send(sock, b"x" * 48 * KIB)
        _, end = await h.terminated()
        assert end.reason is TerminationReason.LIMIT_EXCEEDED
        assert any("budget" in line and "unfinished input" in line for line in h.log.lines)
        assert h.server.held_peak <= limits.memory_budget
        held = sum(h.engine.buffered(peer) for peer in h.engine.peers)
        assert held <= limits.memory_budget
