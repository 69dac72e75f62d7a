"""AioTransport, open_connection and start_server over loopback, both ends built from the toy protocol."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from otwire.errors import ConnectionLost, ConnectTimeout, LocalProtocolError, RemoteProtocolError, TransportError
from otwire.protocols import Connection, Event
from otwire.transports import AioTransport, AsyncReplyMatcher, Direction, open_connection, start_server
from transports.toy import Closed, LineConnection, LineReceived, PingSent, refused_port, tls_contexts

WAIT = 3.0  # upper bound of every wait, in seconds


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test function in a fresh event loop, bounded in time."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 10 * WAIT))

    wrapper.__name__ = test.__name__
    return wrapper


class Peers:
    """What a test server accepted: transports and their events."""

    def __init__(self) -> None:
        self.accepted: asyncio.Queue[AioTransport] = asyncio.Queue()
        self.events: asyncio.Queue[tuple[AioTransport, Event]] = asyncio.Queue()
        self.closed: asyncio.Queue[AioTransport] = asyncio.Queue()
        self.raw: list[tuple[Direction, bytes]] = []
        self.port = 0

    def on_accept(self, transport: AioTransport) -> None:
        transport.on_event = lambda event: self.events.put_nowait((transport, event))
        transport.on_close = self.closed.put_nowait
        transport.observer = lambda direction, data: self.raw.append((direction, data))
        self.accepted.put_nowait(transport)

    async def event(self) -> tuple[AioTransport, Event]:
        return await asyncio.wait_for(self.events.get(), WAIT)

    async def closing(self) -> AioTransport:
        return await asyncio.wait_for(self.closed.get(), WAIT)

    async def peer(self) -> AioTransport:
        return await asyncio.wait_for(self.accepted.get(), WAIT)


@asynccontextmanager
async def serving(
    factory: Callable[[], Connection] = lambda: LineConnection(echo=True), *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[Peers]:
    peers = Peers()
    server = await start_server(factory, "127.0.0.1", 0, on_accept=peers.on_accept, ssl=tls)
    peers.port = server.sockets[0].getsockname()[1]
    try:
        yield peers
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), WAIT)


async def connect(peers: Peers, connection: Connection | None = None, **kwargs: Any) -> AioTransport:
    return await open_connection(connection or LineConnection(), "127.0.0.1", peers.port, timeout=WAIT, **kwargs)


async def lines(transport: AioTransport, count: int) -> list[str]:
    got = []
    for _ in range(count):
        event = await transport.next_event(timeout=WAIT)
        assert isinstance(event, LineReceived), event
        got.append(event.line)
    return got


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    contexts: tuple[ssl.SSLContext, ssl.SSLContext] | None = tls_contexts(tmp_path_factory.mktemp("tls"))
    if contexts is None:
        pytest.skip("no openssl command to make a self-signed certificate (cryptography is not installed)")
    return contexts


@run
async def test_echo_round_trip_and_events_iterator() -> None:
    async with serving() as peers:
        client = await connect(peers)
        client.send("hello")
        client.send("world")
        assert await lines(client, 2) == ["hello", "world"]
        peer = await peers.peer()
        client.close()
        client.close()  # idempotent
        events = [event async for event in client.events()]
        assert events == [Closed(reason="local")]
        await asyncio.wait_for(client.wait_closed(), WAIT)
        assert client.closed and client.error is None
        assert await peers.closing() is peer
        got = [(await peers.event())[1] for _ in range(4)]
        assert got == [LineReceived(line=x) for x in ("hello", "world", "bye")] + [Closed(reason="eof")]
        with pytest.raises(ConnectionLost):
            client.send("too late")


@run
async def test_next_event_times_out() -> None:
    async with serving() as peers:
        client = await connect(peers)
        start = time.monotonic()
        assert await client.next_event(timeout=0.05) is None
        assert 0.04 <= time.monotonic() - start < 1.0
        client.close()
        await asyncio.wait_for(client.wait_closed(), WAIT)


@run
async def test_many_connections() -> None:
    async with serving() as peers:
        clients = await asyncio.gather(*(connect(peers) for _ in range(20)))
        for n, client in enumerate(clients):
            for k in range(3):
                client.send(f"{n}-{k}")
        results = await asyncio.gather(*(lines(client, 3) for client in clients))
        assert results == [[f"{n}-{k}" for k in range(3)] for n in range(20)]
        for client in clients:
            client.close()
        await asyncio.wait_for(asyncio.gather(*(c.wait_closed() for c in clients)), WAIT)


@run
async def test_engine_timer_fires_and_rearms() -> None:
    async with serving(LineConnection) as peers:
        loop = asyncio.get_running_loop()
        client = await connect(peers, LineConnection(idle=0.05, now=loop.time()))
        first = await client.next_event(timeout=WAIT)
        second = await client.next_event(timeout=WAIT)
        assert isinstance(first, PingSent) and isinstance(second, PingSent)
        assert second.at - first.at >= 0.05
        assert [(await peers.event())[1] for _ in range(2)] == [LineReceived(line="ping")] * 2
        client.close()
        await asyncio.wait_for(client.wait_closed(), WAIT)


@run
async def test_peer_close_is_eof() -> None:
    async with serving() as peers:
        client = await connect(peers)
        peer = await peers.peer()
        peer.close()
        assert await lines(client, 1) == ["bye"]
        assert [event async for event in client.events()] == [Closed(reason="eof")]
        assert client.closed and client.error is None
        assert await peers.closing() is peer


@run
async def test_a_reset_is_connection_lost_not_eof() -> None:
    async with serving() as peers:
        sock = socket.create_connection(("127.0.0.1", peers.port), timeout=WAIT)
        peer = await peers.peer()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
        _, event = await peers.event()
        assert event == Closed(reason="lost")
        assert isinstance(peer.connection, LineConnection) and isinstance(peer.connection.lost_error, OSError)
        assert await peers.closing() is peer


@run
async def test_remote_protocol_error_closes_only_that_connection() -> None:
    async with serving() as peers:
        bad, good = await connect(peers), await connect(peers)
        bad.send("BAD")
        assert await lines(bad, 1) == ["bye"]  # the goodbye was written before the close
        assert await bad.next_event(timeout=WAIT) == Closed(reason="eof")
        peer = await peers.closing()
        assert isinstance(peer.error, RemoteProtocolError)
        good.send("still here")
        assert await lines(good, 1) == ["still here"]
        good.close()
        await asyncio.wait_for(good.wait_closed(), WAIT)


@run
async def test_remote_protocol_error_on_the_client() -> None:
    async with serving() as peers:
        client = await connect(peers)
        (await peers.peer()).send("BAD")
        assert await client.next_event(timeout=WAIT) == Closed(reason="error")
        assert await client.next_event(timeout=WAIT) is None
        assert isinstance(client.error, RemoteProtocolError)
        await asyncio.wait_for(client.wait_closed(), WAIT)


@run
async def test_observer_sees_exact_bytes_both_ways() -> None:
    async with serving() as peers:
        seen: list[tuple[Direction, bytes]] = []
        client = await connect(peers, observer=lambda d, b: seen.append((d, b)))
        for line in ("a", "bb" * 50_000, "ccc"):
            client.send(line)
        assert await lines(client, 3) == ["a", "bb" * 50_000, "ccc"]
        client.close()
        await peers.closing()
        sent = b"".join(b for d, b in seen if d is Direction.OUT)
        got = b"".join(b for d, b in seen if d is Direction.IN)
        assert sent == b"a\n" + b"bb" * 50_000 + b"\nccc\nbye\n"
        assert got == b"a\n" + b"bb" * 50_000 + b"\nccc\n"
        assert b"".join(b for d, b in peers.raw if d is Direction.IN) == sent
        assert b"".join(b for d, b in peers.raw if d is Direction.OUT) in (got, got + b"bye\n")


@run
async def test_sends_in_one_loop_iteration_are_one_write() -> None:
    async with serving() as peers:
        writes: list[bytes] = []
        client = await connect(peers, observer=lambda d, b: writes.append(b) if d is Direction.OUT else None)
        for line in ("a", "b", "c"):
            client.send(line)
        assert writes == []  # not yet: the write happens once, at the end of this iteration
        await asyncio.sleep(0)
        assert writes == [b"a\nb\nc\n"]
        client.send("d")
        assert client.get_write_buffer_size() >= 0 and writes[-1] == b"d\n"  # a size check flushes first
        assert await lines(client, 4) == ["a", "b", "c", "d"]
        client.close()
        await peers.closing()


@run
async def test_local_protocol_error_is_raised_to_the_sender() -> None:
    async with serving() as peers:
        client = await connect(peers)
        with pytest.raises(LocalProtocolError):
            client.send("two\nlines")
        client.send("fine")
        assert await lines(client, 1) == ["fine"]
        client.close()
        await asyncio.wait_for(client.wait_closed(), WAIT)


@run
async def test_connect_refused() -> None:
    with pytest.raises(TransportError) as info:
        await open_connection(LineConnection(), "127.0.0.1", refused_port(), timeout=WAIT)
    assert not isinstance(info.value, ConnectTimeout)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_connect_timeout_during_tls_handshake(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    @run
    async def scenario() -> None:
        with socket.create_server(("127.0.0.1", 0)) as silent:  # completes TCP, never speaks TLS
            start = time.monotonic()
            with pytest.raises(ConnectTimeout):
                await open_connection(LineConnection(), "127.0.0.1", silent.getsockname()[1], ssl=tls[1], timeout=0.1)
            assert time.monotonic() - start < 1.0

    scenario()


def test_tls_round_trip(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    @run
    async def scenario() -> None:
        async with serving(tls=tls[0]) as peers:
            client = await connect(peers, ssl=tls[1], server_hostname="localhost")
            big = "z" * 100_000
            client.send("secret")
            client.send(big)
            assert await lines(client, 2) == ["secret", big]
            client.close()
            peer = await peers.closing()
            assert peer.error is None

    scenario()


def test_tls_untrusted_certificate(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    @run
    async def scenario() -> None:
        async with serving(tls=tls[0]) as peers:
            with pytest.raises(TransportError) as info:
                await connect(peers, ssl=ssl.create_default_context(), server_hostname="localhost")
            assert isinstance(info.value.__cause__, ssl.SSLError)

    scenario()


@run
async def test_drain_waits_for_a_slow_reader_and_reports_a_lost_peer() -> None:
    loop = asyncio.get_running_loop()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        connecting = asyncio.ensure_future(
            open_connection(LineConnection(), "127.0.0.1", listener.getsockname()[1], timeout=WAIT)
        )
        peer, _ = await asyncio.wait_for(loop.sock_accept(listener), WAIT)
        client = await connecting
        assert client.transport is not None
        client.transport.set_write_buffer_limits(high=64 * 1024)
        while client.get_write_buffer_size() <= 64 * 1024:
            client.send("x" * 65536)  # nobody reads: the kernel buffers fill, then asyncio's
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.drain(), 0.05)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # RST: the connection is lost
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(client.drain(), WAIT)
        await asyncio.wait_for(client.wait_closed(), WAIT)
        assert isinstance(client.error, ConnectionLost)
        assert [event async for event in client.events()] == [Closed(reason="lost")]  # a reset is not an EOF


@run
async def test_drain_returns_when_the_reader_catches_up() -> None:
    async with serving(LineConnection) as peers:
        client = await connect(peers)
        for _ in range(50):
            client.send("y" * 65536)
        await asyncio.wait_for(client.drain(), WAIT)
        assert client.get_write_buffer_size() <= 64 * 1024
        client.close()
        await asyncio.wait_for(client.wait_closed(), WAIT)


@run
async def test_async_reply_matcher() -> None:
    matcher: AsyncReplyMatcher[int, str] = AsyncReplyMatcher()
    first, second = matcher.expect(1), matcher.expect(1)
    asyncio.get_running_loop().call_soon(matcher.dispatch, 1, "a")
    assert await asyncio.wait_for(first, WAIT) == "a"
    assert not second.done()
    with pytest.raises(TimeoutError):  # wait_for cancels the future: the waiter is withdrawn
        await asyncio.wait_for(second, 0.01)
    assert len(matcher) == 0
    assert not matcher.dispatch(1, "b")
    third = matcher.expect(2)
    assert matcher.fail_all(ConnectionLost("gone")) == 1
    with pytest.raises(ConnectionLost):
        await third
    fourth = matcher.expect(3)
    assert matcher.cancel(3) == 1 and fourth.cancelled()


def test_async_reply_matcher_with_an_explicit_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        matcher: AsyncReplyMatcher[str, int] = AsyncReplyMatcher(loop)
        future = matcher.expect("k")  # no running loop needed
        assert matcher.dispatch("k", 5)
        assert loop.run_until_complete(future) == 5
    finally:
        loop.close()
