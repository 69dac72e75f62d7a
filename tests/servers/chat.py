"""A toy many-peer engine (``PeerEngine``) for the server driver tests: newline-delimited chat.

Lines a peer may send:

* ``HELLO``: the opening exchange (``is_established`` turns true); answered ``welcome``.
* ``ALL <text>``: ``<text>`` goes to every other established peer (routing inside the engine).
* ``SPAM <n>``: ``n`` octets of ``x`` (and a newline) are queued for the sender.
* ``HOLD <n>``: ``n`` octets stay queued inside the engine (``queued``), never released
  (the peer is reported by ``peers_with_output``: its queue grew).
* ``BAD``: a protocol violation: ``bye`` is queued and ``RemoteProtocolError`` raised.
* ``QUIT``: ``bye`` is queued and the peer is closed (``END_SESSION``).
* anything else is echoed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols import Buffer, ConnectionTerminated, Event, TerminationReason


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected(Event):
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LineReceived(Event):
    line: str


@dataclass(slots=True)
class _Peer:
    name: str
    out: bytearray = field(default_factory=bytearray)
    buffer: bytes = b""
    held: int = 0
    frames: int = 0
    established: bool = False
    closed: bool = False


class ChatEngine:
    """The ``PeerEngine`` contract over newline-delimited lines."""

    def __init__(self) -> None:
        self.peers: dict[int, _Peer] = {}
        self._events: deque[tuple[int, Event]] = deque()
        self._touched: dict[int, None] = {}
        self.timer_calls = 0

    def connect(self, peer: int, now: float, *, name: str = "") -> None:
        if peer in self.peers:
            raise LocalProtocolError(f"peer {peer} is already connected")
        self.peers[peer] = _Peer(name)
        self._events.append((peer, Connected(name=name)))

    def receive_data(self, peer: int, data: Buffer, now: float) -> None:
        state = self._open(peer, "receive data")
        if not data:
            self._end(peer, TerminationReason.PEER_CLOSED)
            return
        state.buffer += bytes(data)
        *lines, state.buffer = state.buffer.split(b"\n")
        for line in lines:
            state.frames += 1
            self._on_line(peer, state, line.decode())
            if state.closed:
                break

    def _on_line(self, peer: int, state: _Peer, line: str) -> None:
        self._events.append((peer, LineReceived(line=line)))
        word, _, rest = line.partition(" ")
        if word == "HELLO":
            state.established = True
            self._queue(peer, b"welcome\n")
        elif word == "ALL":
            for other, target in self.peers.items():
                if other != peer and target.established and not target.closed:
                    self._queue(other, rest.encode() + b"\n")
        elif word == "SPAM":
            self._queue(peer, b"x" * int(rest) + b"\n")
        elif word == "HOLD":
            state.held += int(rest)
            self._touched[peer] = None  # its queued output grew
        elif word == "BAD":
            self._queue(peer, b"bye\n")
            error = RemoteProtocolError("BAD line")
            self._end(peer, TerminationReason.PROTOCOL_ERROR, error)
            raise error
        elif word == "QUIT":
            self._queue(peer, b"bye\n")
            self._end(peer, TerminationReason.END_SESSION)
        else:
            self._queue(peer, line.encode() + b"\n")

    def connection_lost(self, peer: int, now: float, exc: BaseException | None = None) -> None:
        state = self.peers.get(peer)
        if state is not None and not state.closed:
            self._end(peer, TerminationReason.CONNECTION_LOST, exc)

    def close(self, peer: int, now: float) -> None:
        state = self.peers.get(peer)
        if state is not None and not state.closed:
            self._queue(peer, b"bye\n")
            self._end(peer, TerminationReason.LOCAL_CLOSE)

    def abort(self, peer: int, now: float, reason: TerminationReason) -> None:
        state = self.peers.get(peer)
        if state is not None and not state.closed:
            state.out.clear()
            self._end(peer, reason)

    def handle_timer(self, now: float) -> None:
        self.timer_calls += 1

    def get_timer(self) -> float | None:
        return None

    def next_event(self) -> tuple[int, Event] | None:
        return self._events.popleft() if self._events else None

    def peers_with_output(self) -> list[int]:
        touched = list(self._touched)
        self._touched.clear()
        return touched

    def data_to_send(self, peer: int) -> bytes:
        state = self.peers.get(peer)
        if state is None:
            return b""
        out = bytes(state.out)
        state.out.clear()
        return out

    def is_closed(self, peer: int) -> bool:
        state = self.peers.get(peer)
        return state is None or state.closed

    def frames_received(self, peer: int) -> int:
        state = self.peers.get(peer)
        return 0 if state is None else state.frames

    def is_established(self, peer: int) -> bool:
        state = self.peers.get(peer)
        return state is not None and state.established

    def buffered(self, peer: int) -> int:
        state = self.peers.get(peer)
        return 0 if state is None or state.closed else len(state.buffer)

    def queued(self, peer: int) -> int:
        state = self.peers.get(peer)
        return 0 if state is None else len(state.out) + state.held

    # -- helpers -------------------------------------------------------------------------

    def _open(self, peer: int, verb: str) -> _Peer:
        state = self.peers.get(peer)
        if state is None or state.closed:
            raise LocalProtocolError(f"can't {verb} in state CLOSED")
        return state

    def _queue(self, peer: int, data: bytes) -> None:
        self.peers[peer].out += data
        self._touched[peer] = None

    def _end(self, peer: int, reason: TerminationReason, error: BaseException | None = None) -> None:
        state = self.peers[peer]
        state.closed, state.held = True, 0
        self._touched[peer] = None
        self._events.append((peer, ConnectionTerminated(reason=reason, error=error)))
