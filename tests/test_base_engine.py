"""The shared engine parts (``otwire.protocols._base``) through two small test engines.

``ChatEngine`` is a byte-stream engine (newline frames) and ``StanzaEngine`` the
message-level variant (a carrier that owns framing, as slixmpp and grpclib do): they
show the pattern the protocol engines follow and pin down the shared behaviour.
"""

from __future__ import annotations

import enum

import pytest

from helpers import Pair, drain, feed_split
from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols import Connection, ConnectionTerminated, MessageConnection, TerminationReason
from otwire.protocols._base import EngineBase, Event, MessageEngineBase


class State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Input(enum.Enum):
    SEND = "send"
    RECV = "receive"
    CLOSE = "close"
    EOF = "end of stream"
    LOST = "connection lost"
    PROTOCOL_ERROR = "protocol error"


TABLE = {
    (State.OPEN, Input.SEND): State.OPEN,
    (State.OPEN, Input.RECV): State.OPEN,
    **{(State.OPEN, i): State.CLOSED for i in (Input.CLOSE, Input.EOF, Input.LOST, Input.PROTOCOL_ERROR)},
}
END = {
    TerminationReason.LOCAL_CLOSE: Input.CLOSE,
    TerminationReason.PEER_CLOSED: Input.EOF,
    TerminationReason.CONNECTION_LOST: Input.LOST,
    TerminationReason.PROTOCOL_ERROR: Input.PROTOCOL_ERROR,
}


class LineReceived(Event):
    pass


class ChatEngine(EngineBase[State, Input]):
    CLOSED = State.CLOSED
    LOCAL_INPUTS = frozenset({Input.SEND, Input.CLOSE})
    END_INPUTS = END

    def __init__(self) -> None:
        super().__init__(State.OPEN, TABLE)
        self.rx = bytearray()
        self.lines: list[bytes] = []

    def receive_data(self, data: bytes, now: float) -> None:
        self._check_open("receive data")
        if not data:
            self._terminate(TerminationReason.PEER_CLOSED, None)
            return
        self.rx += data
        while (end := self.rx.find(b"\n")) >= 0:
            line = bytes(self.rx[:end])
            del self.rx[: end + 1]
            if line == b"BAD":
                exc = RemoteProtocolError("bad line")
                self._fail(exc)
                raise exc
            self._move(Input.RECV)
            self.lines.append(line)
            self._events.append(LineReceived())

    def send(self, message: bytes, now: float) -> None:
        self._check_open("send")
        self._move(Input.SEND)
        self._out += message + b"\n"

    def close(self, now: float) -> None:
        self._terminate(TerminationReason.LOCAL_CLOSE, None)

    def handle_timer(self, now: float) -> None:
        self._check_open("handle timer")

    def get_timer(self) -> float | None:
        return None

    def _on_terminate(self, reason: TerminationReason) -> None:
        self.rx.clear()


class StanzaEngine(MessageEngineBase[State, Input, str]):
    CLOSED = State.CLOSED
    LOCAL_INPUTS = frozenset({Input.SEND, Input.CLOSE})
    END_INPUTS = END

    def __init__(self) -> None:
        super().__init__(State.OPEN, TABLE)

    def receive_message(self, message: str, now: float) -> None:
        self._check_open("receive message")
        self._move(Input.RECV)
        self._emit(f"echo {message}")

    def send(self, message: str, now: float) -> None:
        self._check_open("send")
        self._move(Input.SEND)
        self._emit(message)

    def close(self, now: float) -> None:
        self._terminate(TerminationReason.LOCAL_CLOSE, None)

    def handle_timer(self, now: float) -> None:
        self._check_open("handle timer")

    def get_timer(self) -> float | None:
        return None


def test_engines_satisfy_the_contracts() -> None:
    assert isinstance(ChatEngine(), Connection)
    assert isinstance(StanzaEngine(), MessageConnection)


def test_pair_carries_lines_split_anywhere() -> None:
    a, b = ChatEngine(), ChatEngine()
    a.send(b"hello", 0.0)
    a.send(b"world", 0.0)
    data = a.data_to_send()
    feed_split(lambda piece: b.receive_data(piece, 0.0), data)
    assert b.lines == [b"hello", b"world"]
    assert [type(e) for e in drain(b)] == [LineReceived, LineReceived]
    pair = Pair(ChatEngine(), ChatEngine())
    pair.client.send(b"x", 0.0)
    pair.pump()
    assert pair.server.lines == [b"x"]


@pytest.mark.parametrize(
    ("end", "reason"),
    [
        (lambda e: e.receive_data(b"", 1.0), TerminationReason.PEER_CLOSED),
        (lambda e: e.connection_lost(1.0, ConnectionResetError("reset")), TerminationReason.CONNECTION_LOST),
        (lambda e: e.close(1.0), TerminationReason.LOCAL_CLOSE),
    ],
)
def test_each_end_is_reported_with_its_reason(end: object, reason: TerminationReason) -> None:
    engine = ChatEngine()
    end(engine)  # type: ignore[operator]
    events = drain(engine)
    assert [type(e) for e in events] == [ConnectionTerminated]
    assert events[0].reason is reason
    assert engine.is_closed
    with pytest.raises(LocalProtocolError, match="can't send in state CLOSED"):
        engine.send(b"x", 2.0)
    engine.close(3.0)  # idempotent
    engine.connection_lost(3.0, None)
    assert drain(engine) == []


def test_lost_connection_carries_the_transport_error() -> None:
    engine = ChatEngine()
    error = ConnectionResetError("reset by peer")
    engine.connection_lost(0.0, error)
    assert drain(engine) == [ConnectionTerminated(reason=TerminationReason.CONNECTION_LOST, error=error)]


def test_peer_violation_closes_then_raises() -> None:
    engine = ChatEngine()
    with pytest.raises(RemoteProtocolError, match="bad line"):
        engine.receive_data(b"ok\nBAD\n", 0.0)
    events = drain(engine)
    assert type(events[0]) is LineReceived
    assert events[-1].reason is TerminationReason.PROTOCOL_ERROR
    assert isinstance(events[-1].error, RemoteProtocolError)
    assert engine.is_closed


def test_missing_table_row_is_local_or_remote_by_input() -> None:
    engine = ChatEngine()
    engine._state = State.CLOSED
    with pytest.raises(LocalProtocolError):
        engine._move(Input.SEND)
    with pytest.raises(RemoteProtocolError):
        engine._move(Input.RECV)


def test_message_engine_queues_messages_not_octets() -> None:
    engine = StanzaEngine()
    engine.send("hi", 0.0)
    engine.receive_message("ping", 0.0)
    assert engine.messages_to_send() == ["hi", "echo ping"]
    assert engine.messages_to_send() == []
    assert engine.data_to_send() == b""
    engine.connection_lost(1.0, None)
    assert drain(engine)[-1].reason is TerminationReason.CONNECTION_LOST
    with pytest.raises(LocalProtocolError):
        engine.receive_message("late", 2.0)
