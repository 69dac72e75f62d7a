"""pyimb's API (``otwire.clients.imb``) against the real hub (``otwire.servers.imb``) on loopback.

Every wait is bounded; a hub runs in a daemon thread for the whole module.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import otwire.clients.imb as imb
from helpers import WAIT, wait_event, wait_until
from otwire.clients.imb import client as client_module
from otwire.codecs.imb import NormalEvent, UnknownEvent
from otwire.errors import ConnectionLost, InvalidArgument, InvalidArgumentType, InvalidState, TransportError
from otwire.servers.imb import Hub

SRC = Path(__file__).resolve().parents[2] / "src"


class Inbox:
    """A handler that records its arguments; ``wait(n)`` blocks until n calls arrived."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._cond = threading.Condition()

    def __call__(self, *args: Any) -> None:
        with self._cond:
            self.calls.append(args)
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = WAIT, where: type | None = None) -> list[tuple[Any, ...]]:
        """Wait for ``count`` calls (whose first argument is a ``where``, if given); return those calls."""

        def matching() -> list[tuple[Any, ...]]:
            return [c for c in self.calls if where is None or isinstance(c[0], where)]

        with self._cond:
            self._cond.wait_for(lambda: len(matching()) >= count, timeout)
            return matching()


class Capture(io.BytesIO):
    """A stream object for ``create_stream_callback`` that keeps its content after ``close()``."""

    def __init__(self, done: Callable[[Capture], None]) -> None:
        super().__init__()
        self.content = b""
        self._done = done

    def close(self) -> None:
        self.content = self.getvalue()
        super().close()
        self._done(self)


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    with Hub("127.0.0.1", 0) as running:
        yield running


@pytest.fixture
def connect(hub: Hub) -> Iterator[Callable[..., imb.Client]]:
    clients: list[imb.Client] = []

    def make(federation: str | None = "fed", owner_id: int = 1, owner_name: str = "model") -> imb.Client:
        client = imb.Client("127.0.0.1", hub.port, owner_id, owner_name, federation)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.disconnect()


def test_handshake_and_ids(hub: Hub, connect: Callable[..., imb.Client]) -> None:
    a, b = connect(owner_id=11, owner_name="alpha"), connect(owner_id=22, owner_name="beta")
    assert a.unique_client_id > 0 and b.unique_client_id > 0
    assert a.unique_client_id != b.unique_client_id
    assert isinstance(a.client_id, int) and a.client_id != b.client_id
    wait_until(
        lambda: {(11, "alpha"), (22, "beta")} <= {(s.owner_id, s.owner_name) for s in hub.clients()},
        what="icSetClientInfo at the hub",
    )
    assert a.federation == "fed" and a.is_connected


def test_string_and_change_object_between_clients(connect: Callable[..., imb.Client]) -> None:
    a, b = connect(), connect()
    strings, changes = Inbox(), Inbox()
    e = b.subscribe("my event")
    e.add_handler(imb.ekNormalEvent, lambda payload: strings(imb.decode_string(payload)))
    e.add_handler(imb.ekChangeObjectEvent, changes)
    assert e.wait_subscribed(WAIT)
    p = a.publish("my event")
    p.signal_string("hello")
    p.signal_event(imb.ekNormalEvent, imb.encode_string("raw"))
    p.signal_change_object(imb.actionChange, 42, "attr")
    p.signal_change_object(imb.actionDelete, -1, "")
    assert strings.wait(2) == [("hello",), ("raw",)]
    assert changes.wait(2) == [(2, 42, "fed.my event", "attr"), (1, -1, "fed.my event", "")]
    assert type(changes.calls[0][0]) is int  # as pyimb: a plain int, not the enum


def test_federations_are_separate(connect: Callable[..., imb.Client]) -> None:
    f1, f2 = connect("f1"), connect("f2")
    inbox, shared = Inbox(), Inbox()
    e2 = f2.subscribe("x")
    e2.add_handler(imb.ekNormalEvent, inbox)
    s2 = f2.subscribe("shared.x", prefix=False)
    s2.add_handler(imb.ekNormalEvent, shared)
    assert e2.wait_subscribed(WAIT) and s2.wait_subscribed(WAIT)
    assert (e2.name, s2.name) == ("f2.x", "shared.x")
    f1.publish("x").signal_string("for f1 only")
    f1.publish("shared.x", prefix=False).signal_string("for everybody")
    assert shared.wait(1) == [(imb.encode_string("for everybody"),)]
    assert inbox.calls == []  # f1.x went out first on the same connection: it would have arrived by now


def test_self_delivery_and_several_subscribers(connect: Callable[..., imb.Client]) -> None:
    clients = [connect() for _ in range(4)]
    inboxes = [Inbox() for _ in clients]
    for client, inbox in zip(clients, inboxes, strict=True):
        e = client.subscribe("fan")
        e.add_handler(imb.ekNormalEvent, inbox)
        assert e.wait_subscribed(WAIT)
    clients[0].get_event("fan").signal_string("to all")  # type: ignore[union-attr]
    for inbox in inboxes:
        assert inbox.wait(1) == [(imb.encode_string("to all"),)]


def test_unsubscribe_and_unpublish(connect: Callable[..., imb.Client]) -> None:
    a, b = connect(), connect()
    inbox, other = Inbox(), Inbox()
    b.on_unhandled = other
    e = b.subscribe("u")
    e.add_handler(imb.ekNormalEvent, inbox)
    assert e.wait_subscribed(WAIT)
    p = a.publish("u")
    p.signal_string("1")
    inbox.wait(1)
    assert b.unsubscribe("u") is e and not e.is_subscribed
    other.wait(1, where=imb.TranslationRemoved)  # the hub has seen the unsubscribe
    echo = Inbox()
    a.subscribe("u").add_handler(imb.ekNormalEvent, echo)
    assert p.wait_subscribed(WAIT)
    p.signal_string("not delivered")
    echo.wait(1)  # the hub has routed it (back to a only) before b subscribes again
    b.subscribe("u")
    assert e.wait_subscribed(WAIT)
    p.signal_string("2")
    assert inbox.wait(2) == [(imb.encode_string("1"),), (imb.encode_string("2"),)]
    assert a.unpublish("u") is p and not p.is_published
    p.signal_string("3")  # publishes again first, as pyimb
    assert p.is_published and inbox.wait(3)[-1] == (imb.encode_string("3"),)
    assert a.unsubscribe("never seen") is None and a.unpublish("never seen") is None


def test_get_event(connect: Callable[..., imb.Client]) -> None:
    c = connect()
    e1 = c.get_event("my_event")
    assert e1 is not None and not e1.is_subscribed
    e1.subscribe()
    assert c.subscribe("my_event") is e1 and c.publish("my_event") is e1
    assert c.get_event("other", create=False) is None
    assert c.get_event("other").event_id == 1  # type: ignore[union-attr]
    assert c.get_event("fed.my_event", prefix=False) is e1
    assert "fed.my_event" in repr(e1) and "open" in repr(c)
    with pytest.raises(InvalidArgument):
        e1.add_handler(imb.ekStreamBody, print)


def test_no_federation_means_no_prefix(connect: Callable[..., imb.Client]) -> None:
    c = connect(None)
    assert c.get_event("plain").name == "plain"  # type: ignore[union-attr]


def test_unhandled_events_flags_and_failing_handlers(connect: Callable[..., imb.Client]) -> None:
    a, b = connect(), connect()
    unhandled, good = Inbox(), Inbox()
    b.on_unhandled = unhandled
    e = b.subscribe("h")

    def broken(payload: bytes) -> None:
        raise ValueError("handler bug")

    e.add_handler(imb.ekNormalEvent, broken)
    e.add_handler(imb.ekNormalEvent, good)
    e.add_handler(imb.ekNormalEvent, good)  # added once
    assert e.wait_subscribed(WAIT)
    p = a.publish("h")
    p.signal_event(imb.ekNormalEvent | 0x100, b"flagged")  # pyimb drops the connection here
    p.signal_event(imb.ekBuffer, b"\x09\0\0\0\x02\0\0\0xy")  # no ekBuffer handler: unhandled
    p.signal_event(77, b"unknown kind")
    got = unhandled.wait(2, where=imb.EventReceived)  # the hub's icPublish notification is unhandled too
    assert good.wait(1) == [(b"flagged",)]
    assert len(got) == 2
    assert got[1][0].body == UnknownEvent(event_kind=77, data=b"unknown kind")
    e.remove_handler(good)
    e.add_handler(imb.ekBuffer, good)
    p.signal_event(imb.ekBuffer, b"\x09\0\0\0\x02\0\0\0xy")
    assert good.wait(2)[-1] == (0, 9, b"xy")  # (tick, buffer_id, data)
    assert b.is_connected


def test_pyimb_low_level_senders(connect: Callable[..., imb.Client]) -> None:
    c = connect()
    unhandled = Inbox()
    c.on_unhandled = unhandled
    c.signal_subscribe(5, 0, "raw.x")  # no EventDefinition: what arrives is unhandled
    c.signal_publish(5, 0, "raw.x")
    c.signal_normal_event(5, imb.ekNormalEvent, b"raw body")
    (event,) = (call[0] for call in unhandled.wait(1, where=imb.EventReceived))
    assert (event.event_id, event.event_name, event.body) == (5, "raw.x", NormalEvent(data=b"raw body"))
    c.signal_unpublish("raw.x")
    c.signal_unsubscribe("raw.x")
    assert c.is_connected


def test_disconnect_from_a_handler(connect: Callable[..., imb.Client]) -> None:
    c = connect()
    e = c.subscribe("stop")
    e.add_handler(imb.ekNormalEvent, lambda payload: c.disconnect())  # pyimb does this on icEndSession
    assert e.wait_subscribed(WAIT)
    e.signal_string("please stop")
    c._thread.join(WAIT)
    assert not c._thread.is_alive() and not c.is_connected


def test_stream_of_10_mib_arrives_identical(connect: Callable[..., imb.Client]) -> None:
    sender, receiver = connect(), connect()
    data = os.urandom(10 * 1024 * 1024 + 123)
    done = threading.Event()
    received: list[tuple[Any, ...]] = []
    e = receiver.subscribe("files")
    e.create_stream_callback = lambda stream_id, name: Capture(lambda c: done.set())
    e.end_stream_callback = lambda definition, stream: received.append((definition, stream.getvalue()))
    assert e.wait_subscribed(WAIT)
    sender.publish("files").signal_stream("big.bin", io.BytesIO(data))
    wait_event(done, 20.0, what="the stream")
    assert received[0][0] is e
    assert hashlib.sha256(received[0][1]).digest() == hashlib.sha256(data).digest()


def test_stream_callbacks_as_documented(connect: Callable[..., imb.Client]) -> None:
    c = connect()
    ended: list[bytes] = []
    done = threading.Event()
    e = c.subscribe("s")

    def create_stream(stream_id: int, stream_name: str) -> Capture | None:
        return Capture(lambda cap: done.set()) if stream_name == "wanted" else None

    def end_stream(stream: Capture) -> None:  # one argument, as pyimb documents
        ended.append(stream.getvalue())

    e.create_stream_callback = create_stream
    e.end_stream_callback = end_stream
    assert e.wait_subscribed(WAIT)
    e.signal_stream("ignored", io.BytesIO(b"x" * 10), chunk_size=4)
    e.signal_stream("wanted", io.BytesIO(b"abcdefgh"), chunk_size=4)  # two bodies and an empty tail
    assert done.wait(WAIT) and ended == [b"abcdefgh"]
    with pytest.raises(ValueError):
        e.signal_stream("bad", io.BytesIO(b""), chunk_size=0)


def test_interleaved_streams_from_two_threads(connect: Callable[..., imb.Client]) -> None:
    sender, receiver = connect(), connect()
    payloads = {name: os.urandom(300_000) for name in ("one", "two", "three")}
    results: dict[str, bytes] = {}
    lock = threading.Lock()
    all_done = threading.Event()

    def finished(name: str, cap: Capture) -> None:
        with lock:
            results[name] = cap.content
            if len(results) == len(payloads):
                all_done.set()

    e = receiver.subscribe("multi")
    e.create_stream_callback = lambda sid, name: Capture(lambda cap: finished(name, cap))
    assert e.wait_subscribed(WAIT)
    p = sender.publish("multi")
    threads = [
        threading.Thread(target=p.signal_stream, args=(name, io.BytesIO(data)), kwargs={"chunk_size": 1000})
        for name, data in payloads.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert all_done.wait(WAIT)
    assert results == payloads


def test_context_manager_and_disconnect(hub: Hub) -> None:
    with imb.Client("127.0.0.1", hub.port, 1, "ctx", "fed") as c:
        e = c.publish("ctx")
        e.signal_string("x")
        thread = c._thread
    assert not c.is_connected and not thread.is_alive()
    c.disconnect()  # idempotent
    with pytest.raises(ConnectionLost):
        e.signal_string("after disconnect")
    assert "closed" in repr(c)


def test_disconnect_delivers_everything_sent(
    connect: Callable[..., imb.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = connect()
    inbox = Inbox()
    e = receiver.subscribe("last")
    e.add_handler(imb.ekNormalEvent, inbox)
    assert e.wait_subscribed(WAIT)
    sender = connect()
    p = sender.publish("last")
    for i in range(500):
        p.signal_string(f"{i:04}" * 100)
    monkeypatch.setattr(client_module, "LINGER", 60.0)  # returns early only because the hub closes at once
    returned = threading.Event()
    threading.Thread(target=lambda: (sender.disconnect(), returned.set()), daemon=True).start()
    wait_event(returned, what="disconnect() after the hub closed its side")
    assert len(inbox.wait(500)) == 500


def test_hub_stop_ends_the_session() -> None:
    with Hub("127.0.0.1", 0) as own:
        c = imb.Client("127.0.0.1", own.port, 1, "x", "fed")
        assert c.unique_client_id > 0
    wait_until(lambda: not c.is_connected, what="the close after icEndSession")
    with pytest.raises(ConnectionLost):
        c.publish("after")
    c.disconnect()
    assert not c._thread.is_alive()


def test_connect_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError):
        imb.Client("127.0.0.1", port, 1, "x", "fed", timeout=2.0)


def test_silent_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that accepts and never answers: no unique id (-1, as pyimb), a bounded disconnect."""
    monkeypatch.setattr(client_module, "ID_WAIT", 0.3)
    monkeypatch.setattr(client_module, "LINGER", 0.3)
    with socket.create_server(("127.0.0.1", 0)) as server:
        c = imb.Client("127.0.0.1", server.getsockname()[1], 1, "x", "fed")
        peer, _ = server.accept()
        with peer:
            assert c.unique_client_id == -1
            assert c.unique_client_id == -1  # not asked again
            with pytest.raises(InvalidState):
                _ = c.client_id
            returned = threading.Event()
            threading.Thread(target=lambda: (c.disconnect(), returned.set()), daemon=True).start()
            wait_event(returned, what="disconnect() from a silent peer (LINGER 0.3 s)")
            assert not c.is_connected


EXIT_SCRIPT = """
import sys, time
sys.path.insert(0, {src!r})
import otwire.clients.imb as imb
c = imb.Client("127.0.0.1", {port}, 1, "leaver", "fed")
e = c.subscribe("bye")
e.add_handler(imb.ekNormalEvent, lambda payload: None)
e.signal_string("and gone")
print("sent", flush=True)
# no disconnect(): the interpreter must still exit
"""


@pytest.mark.parametrize("silent", [False, True], ids=["hub", "silent-peer"])
def test_no_hang_at_exit(hub: Hub, silent: bool) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1] if silent else hub.port
        script = textwrap.dedent(EXIT_SCRIPT).format(src=str(SRC), port=port)
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "sent\n"


# --- AsyncClient -------------------------------------------------------------------------


def test_async_client(hub: Hub) -> None:
    async def main() -> None:
        async with (
            imb.AsyncClient("127.0.0.1", hub.port, 1, "a", "fed") as a,
            imb.AsyncClient("127.0.0.1", hub.port, 2, "b", "fed") as b,
        ):
            assert await a.unique_client_id() > 0 and a.client_id is not None
            changes: list[tuple[Any, ...]] = []
            e = await b.subscribe("async")
            e.add_handler(imb.ekChangeObjectEvent, lambda *args: changes.append(args))
            assert await e.wait_subscribed()
            p = await a.publish("async")
            await p.signal_string("hi")
            await p.signal_change_object(imb.actionNew, 5, "attr")
            await p.signal_event(imb.ekNormalEvent, b"raw")
            data = os.urandom(200_000)
            await p.signal_stream("file", io.BytesIO(data), chunk_size=50_000)
            got, stream = [], bytearray()
            async with asyncio.timeout(WAIT):
                async for event in b.events():
                    if isinstance(event, imb.EventReceived):
                        got.append(event.body)
                    elif isinstance(event, imb.StreamData):
                        stream += event.data
                    elif isinstance(event, imb.StreamEnded):
                        break
            assert [type(x).__name__ for x in got] == ["NormalEvent", "ChangeObjectEvent", "NormalEvent"]
            assert bytes(stream) == data and changes == [(0, 5, "fed.async", "attr")]
            assert await b.unsubscribe("async") is e and await a.unpublish("async") is p
            rest = []
            while (event := await b.next_event(timeout=0.05)) is not None:
                rest.append(event)
            assert imb.TranslationRemoved(hub_event_id=0, event_id=0) in rest  # the hub's answer to icUnsubscribe
        assert not a.is_connected and not b.is_connected
        left = [event async for event in a.events()]  # what nobody took, up to the end
        assert isinstance(left[0], imb.UniqueClientIDReceived) and isinstance(left[-1], imb.ConnectionTerminated)
        assert await a.next_event(timeout=0.05) is None
        await a.disconnect()  # idempotent

    asyncio.run(main())


def test_async_queue_is_bounded(hub: Hub) -> None:
    async def main() -> None:
        async with (
            imb.AsyncClient("127.0.0.1", hub.port, 1, "slow", "fed", max_queue=8) as slow,
            imb.AsyncClient("127.0.0.1", hub.port, 2, "fast", "fed", queue_events=False) as fast,
        ):
            e = await slow.subscribe("flood")
            assert await e.wait_subscribed()
            p = await fast.publish("flood")
            count, pad = 2000, "x" * 1000  # ~2 MB: far more than one socket read
            for i in range(count):
                await p.signal_string(f"{i} {pad}")
            async with asyncio.timeout(WAIT):  # reading pauses once 8 events are queued
                while len(slow._queue) < 8:
                    await asyncio.sleep(0.01)
            peak = len(slow._queue)
            texts = []
            async with asyncio.timeout(WAIT):
                while len(texts) < count:
                    event = await slow.next_event()
                    peak = max(peak, len(slow._queue))
                    if isinstance(event, imb.EventReceived):
                        texts.append(imb.decode_string(event.body.data).split()[0])  # type: ignore[union-attr]
            assert texts == [str(i) for i in range(count)]
            assert peak < 8 + 300  # reading paused at 8: at most one socket read (256 KiB) more

    asyncio.run(main())


def test_async_connect_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        with pytest.raises(TransportError):
            await imb.AsyncClient("127.0.0.1", port, timeout=2.0).connect()

    asyncio.run(main())


# --- one copy of the state, typed errors, bounded sends ------------------------------------


def test_event_state_is_the_engines(connect: Callable[..., imb.Client]) -> None:
    c = connect()
    e = c.get_event("state")
    assert e is not None and e.event_id == c._engine.event_id("fed.state")
    assert not e.is_subscribed and not e.is_published
    e.subscribe()
    assert e.is_subscribed and c._engine.is_subscribed(e.event_id)
    c.signal_subscribe(7, 0, "fed.raw")  # a raw subscribe binds the id in the engine...
    raw = c.get_event("raw", create=False)  # ...and the client finds it there
    assert raw is not None and raw.event_id == 7 and raw.is_subscribed
    assert c.get_event("next").event_id == 1  # type: ignore[union-attr]  # the engine's numbering


def test_arguments_are_checked_with_tree_errors(connect: Callable[..., imb.Client]) -> None:
    with pytest.raises(InvalidArgument):
        imb.AsyncClient("127.0.0.1", 1, max_queue=1)
    e = connect().publish("stream")
    with pytest.raises(InvalidArgument):
        e.signal_stream("x", io.BytesIO(b"data"), chunk_size=0)
    with pytest.raises(ValueError):  # InvalidArgument is also a ValueError, as pyimb callers expect
        e.signal_stream("x", io.BytesIO(b"data"), chunk_size=-1)


def test_encode_single_and_double_raise_tree_errors() -> None:
    assert imb.encode_single(1.5) == bytes.fromhex("0000c03f") and imb.encode_double(1.5)[-2:] == b"\xf8\x3f"
    assert imb.encode_single(float("inf")) == bytes.fromhex("0000807f")
    with pytest.raises(InvalidArgument, match="binary32"):  # was OverflowError
        imb.encode_single(1e39)
    with pytest.raises(ValueError):  # InvalidArgument is also a ValueError
        imb.encode_single(-1e39)
    for encode in (imb.encode_single, imb.encode_double):
        with pytest.raises(InvalidArgumentType):  # was struct.error
            encode("1.5")  # type: ignore[arg-type]


def test_async_send_to_a_hub_that_does_not_read_times_out() -> None:
    async def main() -> None:
        with socket.create_server(("127.0.0.1", 0)) as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client = imb.AsyncClient("127.0.0.1", server.getsockname()[1], 1, "x", "fed", send_timeout=0.2)
            await client.connect()
            peer, _ = server.accept()  # accepted, never read
            with peer:
                p = await client.publish("flood")
                with pytest.raises(ConnectionLost, match="did not read"):
                    async with asyncio.timeout(WAIT):
                        while True:
                            await p.signal_event(imb.ekNormalEvent, bytes(1 << 20))
            await client.disconnect()

    asyncio.run(main())


def test_sync_send_to_a_hub_that_does_not_read_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c = imb.Client("127.0.0.1", server.getsockname()[1], 1, "x", "fed", send_timeout=0.2)
        peer, _ = server.accept()  # accepted, never read
        with peer:
            p = c.publish("flood")
            with pytest.raises(ConnectionLost):
                for _ in range(1000):  # at most 1 GB; the kernel buffers hold a few MB
                    p.signal_event(imb.ekNormalEvent, bytes(1 << 20))
            c.disconnect()
