"""The IMB3 hub server through loopback sockets, with raw-socket clients built from the codec.

Every wait is bounded (socket timeouts and deadlines); the hub runs in its daemon thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dpkt
import pytest

from helpers import wait_until
from otwire.codecs.imb import (
    MAGIC_BYTES,
    AllVariables,
    EndSession,
    EventCommand,
    HeartBeat,
    IMBFramer,
    NormalEvent,
    Publish,
    SetClientInfo,
    SetEventIDTranslation,
    SetVariable,
    StreamBody,
    StreamHeader,
    StreamTail,
    Subscribe,
    UniqueClientID,
    UnknownCommand,
    Unpublish,
    Unsubscribe,
    decode_command,
    encode_command,
)
from otwire.errors import InvalidArgument, InvalidArgumentType, TransportError
from otwire.protocols.imb import IMBHubConfig
from otwire.servers.imb import AsyncHub, Hub, serve
from otwire.servers.limits import MIB, ServerLimits

TIMEOUT = 5.0
MAGIC = bytes.fromhex("2f47617195adc5fb")
TRAILER = bytes.fromhex("6734f110")


class Raw:
    """A raw-socket IMB3 client: sends encoded commands, decodes what arrives, translates ids."""

    def __init__(self, port: int, *, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", port))
        self.framer = IMBFramer()
        self.inbox: deque[Any] = deque()
        self.translation: dict[int, int] = {}  # hub id -> own id, as pyimb keeps it
        self.eof = False
        greeting = self.next()
        assert isinstance(greeting, UniqueClientID) and greeting.unique_client_id > 0
        self.ids = greeting

    def send(self, *commands: Any) -> None:
        self.sock.sendall(b"".join(encode_command(c) for c in commands))

    def _fill(self, deadline: float) -> None:
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return
        self.framer.receive_data(data)
        while (frame := self.framer.next_frame()) is not None:
            command = decode_command(frame)
            if isinstance(command, SetEventIDTranslation):
                if command.client_event_id < 0:
                    del self.translation[command.hub_event_id]
                else:
                    self.translation[command.hub_event_id] = command.client_event_id
            self.inbox.append(command)

    def next(self, timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while not self.inbox:
            if self.eof or time.monotonic() > deadline:
                raise AssertionError("no frame arrived" if not self.eof else "connection closed")
            self._fill(deadline)
        return self.inbox.popleft()

    def until(self, cls: type, timeout: float = TIMEOUT) -> Any:
        while not isinstance(command := self.next(timeout), cls):
            pass
        return command

    def events(self, count: int, timeout: float = TIMEOUT) -> list[tuple[int, Any]]:
        """The next ``count`` icEvents as (own event id, body), other commands skipped."""
        out = []
        while len(out) < count:
            event = self.until(EventCommand, timeout)
            out.append((self.translation[event.event_id], event.body))
        return out

    def subscribe(self, event_id: int, name: str) -> None:
        self.send(Subscribe(event_id=event_id, event_name=name))
        while self.translation.get(self.until(SetEventIDTranslation).hub_event_id) != event_id:
            pass

    def closed(self, timeout: float = TIMEOUT) -> list[Any]:
        """Read until the hub closes the connection; return what arrived meanwhile."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            assert time.monotonic() < deadline, "the hub did not close the connection"
            self._fill(deadline)
        got = list(self.inbox)
        self.inbox.clear()
        return got

    def silent(self) -> bool:
        """True when nothing is waiting: asks the hub for the unique client id (it answers in
        order) and checks that its answer is the first command to arrive."""
        self.send(UniqueClientID())
        return self.next() == self.ids

    def kill(self) -> None:
        """Reset the connection (RST): what a killed process looks like to the hub."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def signal(event_id: int, data: bytes) -> EventCommand:
    return EventCommand(event_id=event_id, body=NormalEvent(data=data))


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(port=0) as running:
        yield running


@pytest.fixture
def clients(hub: Hub) -> Iterator[Callable[..., Raw]]:
    opened: list[Raw] = []

    def make(**kwargs: Any) -> Raw:
        opened.append(Raw(hub.port, **kwargs))
        return opened[-1]

    yield make
    for raw in opened:
        raw.sock.close()


def test_several_clients_and_federations(hub: Hub, clients: Callable[..., Raw]) -> None:
    pub, b, c, d = clients(), clients(), clients(), clients()
    assert len({x.ids.unique_client_id for x in (pub, b, c, d)}) == 4
    pub.send(SetClientInfo(owner_id=1, owner_name="pub"))
    b.subscribe(0, "fed1.temp")
    c.subscribe(0, "fed2.temp")
    d.subscribe(3, "fed1.temp")
    d.subscribe(7, "fed2.temp")
    pub.send(Publish(event_id=0, event_name="fed1.temp"), Publish(event_id=1, event_name="fed2.temp"))
    pub.send(signal(0, b"one"), signal(1, b"two"), signal(0, b"three"))
    assert b.events(2) == [(0, NormalEvent(data=b"one")), (0, NormalEvent(data=b"three"))]
    assert c.events(1) == [(0, NormalEvent(data=b"two"))]
    assert d.events(3) == [
        (3, NormalEvent(data=b"one")),
        (7, NormalEvent(data=b"two")),
        (3, NormalEvent(data=b"three")),
    ]
    assert b.silent() and c.silent()
    statuses = {s.unique_client_id: s for s in hub.clients()}
    assert statuses[pub.ids.unique_client_id].owner_name == "pub"
    assert {e.name: len(e.subscribers) for e in hub.event_names()} == {"fed1.temp": 2, "fed2.temp": 2}


def test_self_delivery(clients: Callable[..., Raw]) -> None:
    me = clients()
    me.subscribe(0, "fed.me")
    me.send(Publish(event_id=0, event_name="fed.me"), signal(0, b"to myself"))
    assert me.events(1) == [(0, NormalEvent(data=b"to myself"))]


def test_id_translation_with_ids_reused_after_unsubscribe(clients: Callable[..., Raw]) -> None:
    pub, sub = clients(), clients()
    sub.subscribe(0, "fed.a")
    pub.send(Publish(event_id=0, event_name="fed.a"), Publish(event_id=1, event_name="fed.b"))
    pub.send(signal(0, b"a1"))
    assert sub.events(1) == [(0, NormalEvent(data=b"a1"))]
    sub.send(Unsubscribe(event_name="fed.a"))
    sub.until(SetEventIDTranslation)  # the removal (-1): the mapping is gone
    assert sub.translation == {}
    sub.subscribe(0, "fed.b")  # the client re-uses its id 0 for another name
    pub.send(signal(0, b"a2"), signal(1, b"b1"))
    assert sub.events(1) == [(0, NormalEvent(data=b"b1"))]
    pub.send(Unpublish(event_name="fed.a"), Unpublish(event_name="fed.b"), Publish(event_id=0, event_name="fed.b"))
    pub.send(signal(0, b"b2"))  # the publisher re-uses its id 0 too
    assert sub.events(1) == [(0, NormalEvent(data=b"b2"))]


def test_ten_megabyte_stream_end_to_end(clients: Callable[..., Raw]) -> None:
    pub, sub = clients(), clients()
    sub.subscribe(4, "fed.files")
    pub.send(Publish(event_id=0, event_name="fed.files"))
    data = random.Random(4).randbytes(10 * 1024 * 1024 + 123)
    chunk = 16384  # pyimb's default
    frames = [encode_command(EventCommand(event_id=0, body=StreamHeader(stream_id=77, stream_name="big.bin")))]
    frames += [encode_command(EventCommand(event_id=0, body=StreamBody(stream_id=77, data=data[i : i + chunk])))
               for i in range(0, len(data) - chunk, chunk)]  # fmt: skip
    tail = len(frames) - 1
    frames.append(encode_command(EventCommand(event_id=0, body=StreamTail(stream_id=77, data=data[tail * chunk :]))))
    received = bytearray()
    done = threading.Event()

    def read() -> None:
        assert sub.events(1, timeout=20)[0] == (4, StreamHeader(stream_id=77, stream_name="big.bin"))
        while True:
            _, body = sub.events(1, timeout=20)[0]
            received.extend(body.data)
            if isinstance(body, StreamTail):
                break
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    pub.sock.sendall(b"".join(frames))
    reader.join(30)
    assert done.is_set() and bytes(received) == data


def test_client_killed_mid_stream(hub: Hub, clients: Callable[..., Raw]) -> None:
    pub, sub, other = clients(), clients(), clients()
    sub.subscribe(0, "fed.s")
    other.subscribe(0, "fed.other")
    pub.send(Publish(event_id=0, event_name="fed.s"))
    sub.until(Publish)  # notification: fed.s has a publisher
    body = encode_command(EventCommand(event_id=0, body=StreamBody(stream_id=1, data=b"z" * 1000)))
    pub.sock.sendall(encode_command(EventCommand(event_id=0, body=StreamHeader(stream_id=1, stream_name="f"))))
    pub.sock.sendall(body * 5 + body[:500])
    assert [type(b) for _, b in sub.events(6)] == [StreamHeader] + [StreamBody] * 5
    pub.kill()
    assert sub.until(Unpublish) == Unpublish(event_name="fed.s")  # the hub cleaned up
    wait_until(lambda: len(hub.clients()) == 2)
    assert [(e.name, e.publishers) for e in hub.event_names()] == [("fed.s", ()), ("fed.other", ())]
    late = clients()  # the hub and the other clients go on
    late.send(Publish(event_id=2, event_name="fed.s"), signal(2, b"after"))
    assert sub.events(1) == [(0, NormalEvent(data=b"after"))] and other.silent()


def test_trailer_bytes_in_payload(clients: Callable[..., Raw]) -> None:
    pub, sub = clients(), clients()
    sub.subscribe(1, "fed.t")
    nasty = TRAILER + MAGIC + struct.pack("<ii", -15, 4) + TRAILER + b"tail" + TRAILER
    pub.send(Publish(event_id=0, event_name="fed.t"), signal(0, nasty), signal(0, b"next"))
    assert sub.events(2) == [(1, NormalEvent(data=nasty)), (1, NormalEvent(data=b"next"))]


def test_slow_consumer_is_disconnected_while_a_fast_one_gets_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="otwire.servers.imb")
    with Hub(port=0, limits=ServerLimits(max_output_bytes=512 * 1024), notify=False) as hub:
        slow, fast, pub = Raw(hub.port, rcvbuf=4096), Raw(hub.port), Raw(hub.port)
        slow.subscribe(0, "fed.flood")
        fast.subscribe(0, "fed.flood")
        pub.send(Publish(event_id=0, event_name="fed.flood"))
        event = encode_command(signal(0, bytes(1000)))
        batch, batches = 128, 160  # 160 batches of 128 KiB: 20 MiB to each subscriber
        received = 0
        for _ in range(batches):  # the fast one keeps up (the test paces the publisher on it)
            pub.sock.sendall(event * batch)
            received += len(fast.events(batch))
        assert received == batch * batches
        wait_until(lambda: "slow consumer" in caplog.text)
        slow.closed(timeout=10)
        pub.send(signal(0, b"still here"))
        assert fast.events(1) == [(0, NormalEvent(data=b"still here"))]
        assert len(hub.clients()) == 2
        for raw in (slow, fast, pub):
            raw.sock.close()


def test_unknown_command_codes_do_not_kill_the_connection(clients: Callable[..., Raw]) -> None:
    a = clients()
    a.send(UnknownCommand(command_code=-999, payload=b"x"), UnknownCommand(command_code=12), UniqueClientID())
    assert a.until(UniqueClientID) == a.ids


def test_malformed_frame_closes_only_that_connection(hub: Hub, clients: Callable[..., Raw]) -> None:
    bad, good = clients(), clients()
    bad.sock.sendall(MAGIC + struct.pack("<ii", -45, 4) + b"\0\0\0\0" + b"oops")
    bad.closed()
    good.subscribe(0, "fed.ok")
    wait_until(lambda: len(hub.clients()) == 1)


def test_end_session_from_client_and_clean_shutdown() -> None:
    hub = Hub(port=0)
    hub.start()
    try:
        leaver, stayer = Raw(hub.port), Raw(hub.port)
        leaver.send(EndSession())
        leaver.closed()
        stayer.subscribe(0, "fed.x")
    finally:
        hub.stop()
    assert stayer.closed() == [EndSession()]
    leaver.sock.close()
    stayer.sock.close()
    assert not hub.is_running and hub.clients() == []
    assert not any(t.name.startswith("otwire-imb-hub") for t in threading.enumerate())
    hub.stop()  # idempotent


def test_max_connections() -> None:
    with Hub(port=0, limits=ServerLimits(max_connections=1)) as hub:
        first = Raw(hub.port)
        sock = socket.create_connection(("127.0.0.1", hub.port), timeout=TIMEOUT)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""
        sock.close()
        first.subscribe(0, "fed.x")
        first.sock.close()


def test_heartbeat() -> None:
    with Hub(port=0, heartbeat_interval=0.05) as hub:
        raw = Raw(hub.port)
        assert raw.next(2.0) == HeartBeat() and raw.next(2.0) == HeartBeat()
        raw.sock.close()


def test_record(tmp_path: Path) -> None:
    path = tmp_path / "hub.pcap"
    with Hub(port=0, record=path) as hub:
        raw = Raw(hub.port)
        raw.subscribe(0, "fed.rec")
        raw.sock.close()
        wait_until(lambda: not hub.clients())
    with path.open("rb") as f:
        payloads = b"".join(dpkt.ethernet.Ethernet(p).data.data.data for _, p in dpkt.pcap.Reader(f))
    assert encode_command(Subscribe(event_id=0, event_name="fed.rec")) in payloads


def test_start_errors() -> None:
    with Hub(port=0) as hub, pytest.raises(TransportError):
        Hub(port=hub.port).start()
    out = io.StringIO()
    with Hub(port=0) as hub:
        assert serve(port=hub.port, out=out) == 2


def test_serve_for_a_duration() -> None:
    out = io.StringIO()
    assert serve(port=0, duration=0.2, out=out) == 0
    text = out.getvalue()
    assert "otwire IMB3 hub on 127.0.0.1:" in text and text.endswith("stopped\n")


def test_async_hub() -> None:
    async def main() -> list[Any]:
        async with AsyncHub(port=0) as hub:
            reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
            writer.write(encode_command(Subscribe(event_id=1, event_name="fed.async")))
            data = await asyncio.wait_for(reader.readexactly(56), TIMEOUT)
            names = hub.event_names()
        writer.close()
        framer = IMBFramer()
        framer.receive_data(data)
        return [decode_command(f) for f in iter(framer.next_frame, None)] + [names[0].name]

    got = asyncio.run(main())
    assert got[1:] == [SetEventIDTranslation(hub_event_id=0, client_event_id=1), "fed.async"]


def test_clients_that_never_read_stay_within_the_memory_budget(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="otwire.servers.imb")
    limits = ServerLimits(max_output_bytes=12 * MIB, memory_budget=24 * MIB)
    with Hub(port=0, limits=limits, notify=False) as hub:
        setter = Raw(hub.port)
        value = bytes(MIB - 64)
        setter.send(*(SetVariable(var_name=f"v{i}", var_value=value) for i in range(4)))
        wait_until(lambda: hub._call(lambda: len(hub.engine.variables)) == 4, what="4 variables stored")
        readers = [Raw(hub.port, rcvbuf=4096) for _ in range(20)]
        for reader in readers:  # 8 MiB each (under the per-client cap), 160 MiB in all, nothing read
            reader.send(AllVariables(), AllVariables())
        wait_until(lambda: caplog.text.count("budget") >= 10, what="readers dropped for the budget")
        assert hub.driver is not None and hub.driver.held_peak <= limits.memory_budget
        assert caplog.text.count("slow consumer") == caplog.text.count("budget")
        for reader in readers:
            reader.sock.close()
        fresh = Raw(hub.port)
        fresh.send(AllVariables())
        assert fresh.until(SetVariable).var_value == value
        for raw in (setter, fresh):
            raw.sock.close()


def test_unfinished_frames_count_against_the_memory_budget(caplog: pytest.LogCaptureFixture) -> None:
    # The audit's attack scaled down: peers announce a large frame and send all but its end.
    caplog.set_level(logging.INFO, logger="otwire.servers.imb")
    limits = ServerLimits(max_output_bytes=256 * 1024, memory_budget=1 * MIB)
    with Hub(port=0, limits=limits, notify=False) as hub:
        attackers = [Raw(hub.port) for _ in range(8)]
        header = MAGIC_BYTES + struct.pack("<ii", -45, MIB)  # icSetVariable announcing 1 MiB
        for raw in attackers:  # 8 x 400 KiB held: 3.2 MB against a 1 MiB budget
            with contextlib.suppress(OSError):  # a dropped one may be reset mid-send
                raw.sock.sendall(header + bytes(400 * 1024))
        wait_until(lambda: caplog.text.count("unfinished input") >= 6, what="attackers dropped for the budget")
        assert hub.driver is not None and hub.driver.held_peak <= limits.memory_budget
        held = hub._call(lambda: sum(hub.engine.buffered(c.peer) for c in hub.engine.connections))
        assert held is not None and held <= limits.memory_budget
        assert "limit exceeded" in caplog.text
        fresh = Raw(hub.port)
        fresh.send(SetVariable(var_name="v", var_value=b"ok"), AllVariables())
        assert fresh.until(SetVariable).var_value == b"ok"
        for raw in (*attackers, fresh):
            raw.sock.close()


def test_the_deprecated_limit_keywords_map_into_the_limits() -> None:
    with pytest.deprecated_call():
        hub = Hub(port=0, max_queue_bytes=512 * 1024, max_connections=3)
    assert hub.limits == ServerLimits(max_output_bytes=512 * 1024, max_connections=3)
    assert hub.max_queue_bytes == 512 * 1024 and hub.max_connections == 3
    for bad, error in ((0, InvalidArgument), (-1, InvalidArgument), ("x", InvalidArgumentType)):
        with pytest.raises(error), pytest.deprecated_call():
            Hub(port=0, max_connections=bad)
    with pytest.raises(InvalidArgumentType):
        Hub(port=0, limits=5, max_connections=3)  # type: ignore[arg-type]


def test_the_hub_config_reaches_the_engine() -> None:
    config = IMBHubConfig(max_name_bytes=100, heartbeat_interval=2.0)
    hub = Hub(port=0, config=config, max_names_per_client=7, notify=False)
    assert hub.engine.config.max_name_bytes == 100 and hub.engine.config.heartbeat_interval == 2.0
    assert hub.engine.config.max_names_per_client == 7 and not hub.engine.config.notify
    assert hub.engine.config.max_output_bytes == ServerLimits().max_output_bytes  # one source: the limits
    small = Hub(port=0, limits=ServerLimits(max_output_bytes=128 * 1024), max_payload_size=1024)
    assert small.engine.config.max_output_bytes == 128 * 1024
    with pytest.raises(InvalidArgument, match=r"limits\.max_output_bytes"):
        Hub(port=0, max_output_bytes=32 * MIB)
    with pytest.raises(InvalidArgumentType):
        Hub(port=0, no_such_option=1)
    with pytest.raises(InvalidArgument):
        Hub(port=0, max_name_bytes=0)
    with Hub(port=0, max_name_bytes=8, notify=False) as running:
        raw = Raw(running.port)
        raw.send(Subscribe(event_id=0, event_name="fed.far.too.long"), UniqueClientID())
        assert raw.until(UniqueClientID) == raw.ids  # the subscription was refused, the client stays
        assert running.event_names() == []
        raw.sock.close()
