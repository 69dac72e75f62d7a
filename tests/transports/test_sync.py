"""SocketTransport and SelectorLoop over loopback, both ends driven by the toy line protocol."""

from __future__ import annotations

import queue
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from otwire.errors import ConnectionLost, ConnectTimeout, RemoteProtocolError, TransportError
from otwire.protocols import Connection, Event
from otwire.transports import (
    Direction,
    ReplyMatcher,
    SelectorLoop,
    SocketTransport,
    deadline_to_timeout,
    timeout_to_deadline,
)
from transports.toy import Closed, LineReceived, PingSent, refused_port, tls_contexts
from transports.toy import LineConnection as _ToyLine

WAIT = 3.0  # upper bound of every blocking wait, in seconds


class LineConnection(_ToyLine):
    """The toy line engine with the ``connection_lost`` input of the contract (specs/pattern.md)."""

    lost_with: BaseException | None = None

    def connection_lost(self, now: float, exc: BaseException | None = None) -> None:
        if not self.is_closed:
            self.lost_with = exc
            self._finish("lost")


class Server:
    """A SelectorLoop in a thread, listening on 127.0.0.1 with one toy engine per peer."""

    def __init__(
        self,
        factory: Callable[[], Connection] = lambda: LineConnection(echo=True),
        *,
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout: float | None = 5.0,
        observer: bool = False,
    ) -> None:
        self.loop = SelectorLoop()
        self.accepted: queue.Queue[SocketTransport] = queue.Queue()
        self.events: queue.Queue[tuple[SocketTransport, Event]] = queue.Queue()
        self.closed: queue.Queue[SocketTransport] = queue.Queue()
        self.raw: list[tuple[Direction, bytes]] = []
        self._observe = observer
        self.host, self.port = self.loop.listen(
            "127.0.0.1",
            0,
            factory,
            on_accept=self._on_accept,
            ssl_context=ssl_context,
            handshake_timeout=handshake_timeout,
        )
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _on_accept(self, transport: SocketTransport) -> None:
        transport.on_event = lambda event: self.events.put((transport, event))
        transport.on_close = self.closed.put
        if self._observe:
            transport.observer = lambda direction, data: self.raw.append((direction, data))
        self.accepted.put(transport)

    def event(self) -> tuple[SocketTransport, Event]:
        return self.events.get(timeout=WAIT)

    def stop(self) -> None:
        self.loop.stop()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        self.loop.close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    contexts: tuple[ssl.SSLContext, ssl.SSLContext] | None = tls_contexts(tmp_path_factory.mktemp("tls"))
    if contexts is None:
        pytest.skip("no openssl command to make a self-signed certificate (cryptography is not installed)")
    return contexts


def connect(server: Server, connection: Connection | None = None, **kwargs: object) -> SocketTransport:
    return SocketTransport.connect(connection or LineConnection(), server.host, server.port, timeout=WAIT, **kwargs)  # type: ignore[arg-type]


def lines(transport: SocketTransport, count: int) -> list[str]:
    got = []
    for _ in range(count):
        event = transport.next_event(timeout=WAIT)
        assert isinstance(event, LineReceived), event
        got.append(event.line)
    return got


def test_echo_round_trip(server: Server) -> None:
    client = connect(server)
    client.send("hello")
    client.send("world")
    assert lines(client, 2) == ["hello", "world"]
    peer, event = server.event()
    assert event == LineReceived(line="hello")
    client.close()
    client.close()  # idempotent
    assert client.next_event(timeout=WAIT) == Closed(reason="local")
    assert client.next_event(timeout=WAIT) is None
    assert client.closed and client.error is None and client.fileno() == -1
    assert server.event() == (peer, LineReceived(line="world"))
    assert server.event() == (peer, LineReceived(line="bye"))
    assert server.event() == (peer, Closed(reason="eof"))
    assert server.closed.get(timeout=WAIT) is peer
    with pytest.raises(ConnectionLost):
        client.send("too late")


def test_next_event_times_out_without_events(server: Server) -> None:
    with connect(server) as client:
        start = time.monotonic()
        assert client.next_event(timeout=0.05) is None
        assert 0.04 <= time.monotonic() - start < 1.0
        assert not client.closed


def test_many_connections_share_one_client_loop(server: Server) -> None:
    """Twenty clients driven by one SelectorLoop in this thread, against the server loop."""
    received: dict[int, list[str]] = {}
    with SelectorLoop() as loop:
        for n in range(20):
            client = connect(server, on_event=lambda e, n=n: received.setdefault(n, []).append(str(e)))
            loop.add(client)
            for k in range(3):
                client.send(f"{n}-{k}")
        deadline = time.monotonic() + WAIT
        while sum(map(len, received.values())) < 60 and time.monotonic() < deadline:
            loop.run_once(timeout=0.1)
        assert received == {n: [str(LineReceived(line=f"{n}-{k}")) for k in range(3)] for n in range(20)}
        assert len(loop.transports) == 20
    assert server.accepted.qsize() == 20


def test_engine_timer_fires_and_rearms() -> None:
    server = Server(LineConnection)  # no echo
    client = connect(server, LineConnection(idle=0.05, now=time.monotonic()))
    first = client.next_event(timeout=WAIT)
    second = client.next_event(timeout=WAIT)
    assert isinstance(first, PingSent) and isinstance(second, PingSent)
    assert second.at - first.at >= 0.05
    assert [server.event()[1], server.event()[1]] == [LineReceived(line="ping")] * 2
    before = client.deadline()
    client.send("busy")  # sending moves the idle deadline
    after = client.deadline()
    assert before is not None and after is not None and after > before
    client.close()
    server.stop()


def test_server_side_timer_and_send_from_another_thread() -> None:
    srv = Server(lambda: LineConnection(idle=0.05, now=time.monotonic()))
    try:
        client = connect(srv)
        assert lines(client, 1) == ["ping"]
        peer = srv.accepted.get(timeout=WAIT)
        peer.send("from the test thread")  # the loop thread is reading meanwhile
        received = lines(client, 1)
        assert received in (["from the test thread"], ["ping"])
        client.close()
        assert srv.closed.get(timeout=WAIT) is peer
    finally:
        srv.stop()


def test_peer_close_is_eof(server: Server) -> None:
    client = connect(server)
    peer = server.accepted.get(timeout=WAIT)
    peer.close()  # thread-safe: the loop thread may be selecting
    assert lines(client, 1) == ["bye"]
    assert client.next_event(timeout=WAIT) == Closed(reason="eof")
    assert client.next_event(timeout=WAIT) is None
    assert client.closed and client.error is None
    assert server.closed.get(timeout=WAIT) is peer


def test_remote_protocol_error_closes_only_that_connection(server: Server) -> None:
    bad, good = connect(server), connect(server)
    bad.send("BAD")
    assert lines(bad, 1) == ["bye"]  # the goodbye was flushed before the close
    assert bad.next_event(timeout=WAIT) == Closed(reason="eof")
    peer = server.closed.get(timeout=WAIT)
    assert isinstance(peer.error, RemoteProtocolError)
    good.send("still here")
    assert lines(good, 1) == ["still here"]
    assert server.thread.is_alive()
    good.close()


def test_remote_protocol_error_on_the_client(server: Server) -> None:
    client = connect(server)
    client.send("x")
    assert lines(client, 1) == ["x"]
    server.accepted.get(timeout=WAIT).send("BAD")
    assert client.next_event(timeout=WAIT) == Closed(reason="error")
    assert client.next_event(timeout=WAIT) is None
    assert isinstance(client.error, RemoteProtocolError)
    events = [server.event()[1] for _ in range(3)]
    assert events[1:] == [LineReceived(line="bye"), Closed(reason="eof")]


def test_observer_sees_exact_bytes_both_ways() -> None:
    srv = Server(observer=True)
    try:
        seen: list[tuple[Direction, bytes]] = []
        client = connect(srv, observer=lambda d, b: seen.append((d, b)))
        for line in ("a", "bb" * 5000, "ccc"):
            client.send(line)
        assert lines(client, 3) == ["a", "bb" * 5000, "ccc"]
        client.close()
        srv.closed.get(timeout=WAIT)
        sent = b"".join(b for d, b in seen if d is Direction.OUT)
        got = b"".join(b for d, b in seen if d is Direction.IN)
        assert sent == b"a\n" + b"bb" * 5000 + b"\nccc\nbye\n"
        assert got == b"a\n" + b"bb" * 5000 + b"\nccc\n"
        assert b"".join(b for d, b in srv.raw if d is Direction.IN) == sent
        # the server may or may not have echoed the client's goodbye before seeing EOF
        assert b"".join(b for d, b in srv.raw if d is Direction.OUT) in (got, got + b"bye\n")
    finally:
        srv.stop()


def test_send_error_marks_connection_lost() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = SocketTransport.connect(LineConnection(), "127.0.0.1", listener.getsockname()[1], timeout=WAIT)
        peer, _ = listener.accept()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # RST
        with pytest.raises(ConnectionLost):
            for _ in range(200):
                client.send("x" * 1000)
                time.sleep(0.005)
    assert client.closed and isinstance(client.error, ConnectionLost)
    assert client.next_event(timeout=WAIT) == Closed(reason="lost")  # a failure, not the peer's EOF
    assert client.next_event(timeout=WAIT) is None
    assert client.connection.lost_with is client.error  # type: ignore[attr-defined]


def test_receive_error_is_connection_lost_not_eof() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        engine = LineConnection()
        client = SocketTransport.connect(engine, "127.0.0.1", listener.getsockname()[1], timeout=WAIT)
        peer, _ = listener.accept()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # RST: recv fails with ECONNRESET
        assert client.next_event(timeout=WAIT) == Closed(reason="lost")
    assert isinstance(client.error, ConnectionLost)
    assert isinstance(client.error.__cause__, ConnectionResetError)
    assert engine.lost_with is client.error


def test_orderly_eof_is_not_connection_lost() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        engine = LineConnection()
        client = SocketTransport.connect(engine, "127.0.0.1", listener.getsockname()[1], timeout=WAIT)
        peer, _ = listener.accept()
        peer.close()  # FIN
        assert client.next_event(timeout=WAIT) == Closed(reason="eof")
    assert client.error is None and engine.lost_with is None


def test_connect_refused() -> None:
    with pytest.raises(TransportError) as info:
        SocketTransport.connect(LineConnection(), "127.0.0.1", refused_port(), timeout=WAIT)
    assert not isinstance(info.value, ConnectTimeout)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_connect_timeout_during_tls_handshake(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # completes TCP, never speaks TLS
        start = time.monotonic()
        with pytest.raises(ConnectTimeout):
            SocketTransport.connect(
                LineConnection(), "127.0.0.1", silent.getsockname()[1], timeout=0.1, ssl_context=tls[1]
            )
        assert time.monotonic() - start < 1.0


def test_connect_timeout_tcp() -> None:
    """A full accept queue makes Linux drop SYNs, so connect() times out (skipped elsewhere)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        held = []
        try:
            for _ in range(8):
                try:
                    held.append(socket.create_connection(address, timeout=0.1))
                except TimeoutError:
                    break
            else:
                pytest.skip("this system never let a loopback connect() time out")
            with pytest.raises(ConnectTimeout):
                SocketTransport.connect(LineConnection(), *address, timeout=0.1)
        finally:
            for sock in held:
                sock.close()


def test_tls_round_trip(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls
    srv = Server(ssl_context=server_ctx)
    try:
        client = connect(srv, ssl_context=client_ctx, server_hostname="localhost")
        big = "z" * 100_000  # several TLS records in one read
        client.send("secret")
        client.send(big)
        assert lines(client, 2) == ["secret", big]
        client.close()
        peer = srv.closed.get(timeout=WAIT)
        assert peer.error is None
    finally:
        srv.stop()


def test_tls_untrusted_certificate(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    srv = Server(ssl_context=tls[0])
    try:
        with pytest.raises(TransportError) as info:
            connect(srv, ssl_context=ssl.create_default_context(), server_hostname="localhost")
        assert isinstance(info.value.__cause__, ssl.SSLError)
        peer = srv.closed.get(timeout=WAIT)
        assert isinstance(peer.error, TransportError)
        assert isinstance(peer.connection, LineConnection) and peer.connection.lost_with is peer.error
    finally:
        srv.stop()


def test_tls_server_handshake_timeout(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    srv = Server(ssl_context=tls[0], handshake_timeout=0.05)
    try:
        with socket.create_connection((srv.host, srv.port), timeout=WAIT):  # never starts TLS
            peer = srv.closed.get(timeout=WAIT)
            assert isinstance(peer.error, ConnectTimeout)
    finally:
        srv.stop()


def test_call_soon_threadsafe_and_stop() -> None:
    loop = SelectorLoop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ran: queue.Queue[int] = queue.Queue()
    try:
        loop.call_soon_threadsafe(lambda: ran.put(threading.get_ident()))
        assert ran.get(timeout=WAIT) == thread.ident
        fire_at = time.monotonic() + 0.05
        loop.call_soon_threadsafe(lambda: loop.call_at(fire_at, lambda: ran.put(0)))
        assert ran.get(timeout=WAIT) == 0
        assert time.monotonic() >= fire_at
    finally:
        loop.stop()
        thread.join(WAIT)
        assert not thread.is_alive()
        loop.close()


def test_call_at_order_and_cancel() -> None:
    fired: list[str] = []
    with SelectorLoop() as loop:
        now = time.monotonic()
        loop.call_at(now + 0.03, lambda: fired.append("late"))
        loop.call_at(now + 0.01, lambda: fired.append("early"))
        loop.call_at(now + 0.02, lambda: fired.append("cancelled")).cancel()
        deadline = now + WAIT
        while len(fired) < 2 and time.monotonic() < deadline:
            loop.run_once(timeout=0.5)
        assert fired == ["early", "late"]
        assert time.monotonic() - now < 1.0


def test_loop_close_closes_transports_once(server: Server) -> None:
    closed: list[SocketTransport] = []
    loop = SelectorLoop()
    clients = [connect(server, on_close=closed.append) for _ in range(3)]
    for client in clients:
        loop.add(client)
    loop.close()
    loop.close()
    assert sorted(map(id, closed)) == sorted(map(id, clients))
    assert all(c.closed and c.error is None for c in clients)
    assert not loop.transports


def test_local_protocol_error_is_raised_to_the_sender(server: Server) -> None:
    from otwire.errors import LocalProtocolError

    with connect(server) as client:
        with pytest.raises(LocalProtocolError):
            client.send("two\nlines")
        client.send("fine")
        assert lines(client, 1) == ["fine"]


def test_handshake_in_flush_of_a_plain_transport(tmp_path: Path) -> None:
    """A transport over a socketpair (no TCP, no TLS) works too."""
    a, b = socket.socketpair()
    left = SocketTransport(LineConnection(), a)
    right = SocketTransport(LineConnection(echo=True), b)
    left.send("pair")
    assert right.next_event(timeout=WAIT) == LineReceived(line="pair")
    assert left.next_event(timeout=WAIT) == LineReceived(line="pair")
    left.close()
    right.close()


# -- _common helpers --------------------------------------------------------------------------


def test_deadline_helpers() -> None:
    assert timeout_to_deadline(None, 10.0) is None
    assert timeout_to_deadline(2.5, 10.0) == 12.5
    assert timeout_to_deadline(-1.0, 10.0) == 10.0
    assert deadline_to_timeout(None, 10.0) is None
    assert deadline_to_timeout(12.5, 10.0) == 2.5
    assert deadline_to_timeout(9.0, 10.0) == 0.0


def test_reply_matcher_fifo_per_key() -> None:
    matcher: ReplyMatcher[int, str] = ReplyMatcher()
    first, second, other = matcher.expect(1), matcher.expect(1), matcher.expect(2)
    assert len(matcher) == 3
    assert matcher.dispatch(1, "a") and matcher.dispatch(1, "b")
    assert not matcher.dispatch(1, "c")  # nobody waits any more
    assert (first.result(0), second.result(0)) == ("a", "b")
    assert not other.done() and len(matcher) == 1
    assert matcher.fail(2, TimeoutError("late"))
    assert not matcher.fail(2, TimeoutError("late"))
    with pytest.raises(TimeoutError):
        other.result(0)
    assert len(matcher) == 0


def test_reply_matcher_cancel_fail_all_and_cancelled_waiters() -> None:
    matcher: ReplyMatcher[str, int] = ReplyMatcher()
    withdrawn, kept = matcher.expect("k"), matcher.expect("k")
    assert withdrawn.cancel()
    assert len(matcher) == 1  # the cancelled waiter is pruned
    assert matcher.dispatch("k", 7) and kept.result(0) == 7
    a, b, c = matcher.expect("x"), matcher.expect("x"), matcher.expect("y")
    assert matcher.cancel("x") == 2 and a.cancelled() and b.cancelled()
    assert matcher.cancel("x") == 0
    d = matcher.expect("z")
    assert matcher.fail_all(ConnectionLost("gone")) == 2
    for future in (c, d):
        with pytest.raises(ConnectionLost):
            future.result(0)
    assert len(matcher) == 0


def test_reply_matcher_across_threads() -> None:
    matcher: ReplyMatcher[int, int] = ReplyMatcher()
    futures = [matcher.expect(n % 5) for n in range(100)]

    def dispatcher() -> None:
        for n in range(100):
            assert matcher.dispatch(n % 5, n)

    threads = [threading.Thread(target=dispatcher)]
    for thread in threads:
        thread.start()
    assert [f.result(WAIT) for f in futures] == list(range(100))
    for thread in threads:
        thread.join(WAIT)
