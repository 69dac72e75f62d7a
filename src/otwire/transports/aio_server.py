"""asyncio server driver for any many-peer engine (:class:`~otwire.protocols.PeerEngine`), with limits.

:class:`PeerServer` listens, gives every accepted socket a peer id (an ``int``) and one
:class:`PeerSocket` (an :class:`asyncio.Protocol`), and feeds the engine: ``connect`` on
accept, ``receive_data`` per chunk, ``receive_data(b"")`` on EOF, ``connection_lost`` when
the transport fails. After every input it drains the engine (STYLE.md 3.3 rule 1):
events go to ``on_event(peer, event)``, the octets of every peer in
``peers_with_output()`` are written, sockets of closed peers are closed, and ONE loop
timer is re-armed for the engine's ``get_timer()`` and the next limit deadline.

It enforces :class:`~otwire.transports.limits.ServerLimits` whatever the protocol:

* connections at once and per remote address: refused at accept (the socket is aborted at
  once), with one log line per burst of refusals, not one per connection;
* the handshake deadline (``engine.is_established``), the idle deadline
  (``engine.frames_received`` did not advance) and the frame deadline (octets arrived and
  no frame completed within ``frame_timeout``; a byte trickle cannot keep a peer alive);
* the per-connection output cap over everything queued (``engine.queued(peer)`` plus the
  socket's write buffer) and the global ``memory_budget`` over everything held for all
  peers: output (``queued`` and the socket buffers) and input (``engine.buffered(peer)``:
  unfinished frames, reassembly buffers), checked after every input. Over the budget the
  peer holding most is dropped: ``LIMIT_EXCEEDED`` when most of what it holds is input,
  ``SLOW_CONSUMER`` when it is output (one frame is bounded by the protocol's own
  ``max_payload_size``; the budget bounds the sum over many peers);
* the file-descriptor limit: when ``accept`` fails with EMFILE/ENFILE, the connections
  waiting in the listen queue are accepted on a descriptor reserved for this and reset at
  once (refused, not left hanging), asyncio pauses the listener for a second, and the
  driver logs one line per burst instead of asyncio's error report each time.

A breach calls ``engine.abort(peer, now, reason)`` (``HANDSHAKE_TIMEOUT``, ``IDLE_TIMEOUT``,
``SLOW_CONSUMER`` or ``LIMIT_EXCEEDED``) and aborts the socket, with one log line. The frame deadline is
measured per received chunk: when a chunk completes a frame the peer counts as between
frames (the driver cannot see a partial frame that follows a complete one in the same chunk).

No protocol imports, no parsing here. Use it from the event loop thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import ssl as _ssl
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from otwire.errors import LocalProtocolError, RemoteProtocolError, TransportError
from otwire.protocols import Event, PeerEngine, TerminationReason
from otwire.transports._accept_guard import AcceptGuard, Burst
from otwire.transports._common import Direction, RawObserver
from otwire.transports.limits import ServerLimits

__all__ = ["LOGGER", "PeerServer", "PeerSocket"]

LOGGER = logging.getLogger("otwire.transports.server")


PeerEventCallback = Callable[[int, Event], None]
SocketCallback = Callable[["PeerSocket"], None]
AcceptCallback = Callable[["PeerSocket"], bool]


class PeerSocket(asyncio.Protocol):
    """One accepted socket: its peer id, address, limit bookkeeping; hands every input to the driver.

    Attributes:
        peer: The peer id the engine knows this socket by.
        ip: Remote IP address (``"?"`` when unknown).
        port: Remote TCP port.
        name: ``"ip:port"``, used in log lines.
        local: The listening socket's ``(address, port)``.
        observer: Sees every octet received and written (e.g. a pcap session).
        context: Free slot for the server (e.g. its session object).
        dropped: The limit the driver dropped it for (already logged), else ``None``.
    """

    def __init__(self, driver: PeerServer, peer: int) -> None:
        self.driver = driver
        self.peer = peer
        self.transport: asyncio.Transport | None = None
        self.ip, self.port, self.name = "?", 0, f"peer {peer}"
        self.local: tuple[str, int] = ("?", 0)
        self.observer: RawObserver | None = None
        self.context: Any = None
        self.admitted = False
        self.established = False
        self.connected_at = self.last_frame_at = 0.0
        self.partial_since: float | None = None
        #: Its earliest entry in the driver's deadline heap (``None``: it has none).
        self.check_at: float | None = None
        self.frames = 0
        self.held = 0  # octets held for it (input and output) at the last measurement
        self.held_in = 0  # of which input (engine.buffered)
        #: Set when the driver dropped it for a limit (and logged why).
        self.dropped: TerminationReason | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        remote = transport.get_extra_info("peername")
        if remote:
            self.ip, self.port = str(remote[0]), int(remote[1])
            self.name = f"{self.ip}:{self.port}"
        local = transport.get_extra_info("sockname")
        if local:
            self.local = (str(local[0]), int(local[1]))
        self.driver._admit(self)

    def data_received(self, data: bytes) -> None:
        self.driver._received(self, data)

    def eof_received(self) -> bool:
        self.driver._received(self, b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.driver._lost(self, exc)

    @property
    def write_buffer_size(self) -> int:
        """Octets written and not yet taken by the kernel."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def close(self) -> None:
        """Close the socket after its buffered octets are written."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        """Close the socket at once, dropping what is buffered."""
        if self.transport is not None:
            self.transport.abort()


class PeerServer:
    """Run one :class:`~otwire.protocols.PeerEngine` over accepted TCP (or TLS) sockets.

    Args:
        engine: The engine; peer ids are the ``int`` the driver picks.
        limits: The limits to enforce (defaults of :class:`ServerLimits` when ``None``).
        on_event: Called with ``(peer, event)`` for every engine event; it may feed the
            engine (e.g. ``send`` a reply): the output is written in the same pass.
        on_accept: Called with each new socket before the engine sees it (set
            ``observer`` and ``context`` there); returning False refuses the connection.
        on_close: Called with each admitted socket once it is gone.
        logger: Where the one-line limit reports go.
    """

    def __init__(
        self,
        engine: PeerEngine[int],
        *,
        limits: ServerLimits | None = None,
        on_event: PeerEventCallback | None = None,
        on_accept: AcceptCallback | None = None,
        on_close: SocketCallback | None = None,
        logger: logging.Logger = LOGGER,
    ) -> None:
        self.engine = engine
        self.limits = limits if limits is not None else ServerLimits()
        self.on_event, self.on_accept, self.on_close = on_event, on_accept, on_close
        self.logger = logger
        self.sockets: dict[int, PeerSocket] = {}
        self._per_address: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        #: Limit deadlines as ``(when, peer)``: each peer's earliest one is here; entries that a later
        #: frame made stale are checked and dropped when they come up (see ``_check_deadlines``).
        self._deadlines: list[tuple[float, int]] = []
        self._held_total = 0
        #: Most octets held over all peers after a pass (engine queues, input buffers, socket buffers).
        self.held_peak = 0
        self._processing = self._again = self._scheduled = self._accepting = False
        self._refusals = Burst(logger, "connection refused")
        self._guard = AcceptGuard(logger, self._refusals)

    # -- listening -------------------------------------------------------------------

    async def listen(self, host: str, port: int, *, ssl: _ssl.SSLContext | None = None, backlog: int = 100) -> int:
        """Start accepting on ``host:port`` and return the bound port.

        Raises:
            TransportError: The address cannot be bound.
            LocalProtocolError: Already listening.
        """
        if self._server is not None:
            raise LocalProtocolError("the server is already listening")
        loop = self._loop = asyncio.get_running_loop()
        self._accepting = True  # connections may arrive before create_server returns
        try:
            self._server = await loop.create_server(self._new_socket, host, port, ssl=ssl, backlog=backlog)
        except OSError as exc:
            self._accepting = False
            raise TransportError(f"cannot listen on {host}:{port}: {exc}") from exc
        self._guard.install(loop, self._server)
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def listening(self) -> bool:
        """True between :meth:`listen` and :meth:`close`."""
        return self._server is not None

    async def close(self, grace: float = 1.0) -> None:
        """Stop listening, close every peer in order, abort those still open after ``grace`` seconds."""
        server, self._server, self._accepting = self._server, None, False
        if server is not None:
            server.close()
        now = self.now()
        for peer in list(self.sockets):
            self.engine.close(peer, now)
        self.process()
        pending = [s.lost for s in self.sockets.values() if not s.lost.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace)
        for sock in list(self.sockets.values()):
            sock.abort()
        pending = [s.lost for s in self.sockets.values() if not s.lost.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace)
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), grace)
        self._cancel_timer()
        self._guard.uninstall()

    # -- feeding the engine from outside -----------------------------------------------

    def now(self) -> float:
        """The event loop's clock, seconds (the engine's ``now``)."""
        return (self._loop or asyncio.get_running_loop()).time()

    def process_soon(self) -> None:
        """Drain the engine at the end of this loop iteration (after inputs fed from outside).

        A burst of ``send`` calls in one iteration becomes one write per peer.
        """
        if self._processing:
            self._again = True  # the running pass goes round once more
            return
        if self._scheduled or self._loop is None:
            return
        self._scheduled = True
        self._loop.call_soon(self.process)

    def drop(self, sock: PeerSocket, reason: TerminationReason, detail: str) -> None:
        """Disconnect ``sock`` for a limit: one log line, ``engine.abort``, socket aborted."""
        if sock.lost.done() or self.sockets.get(sock.peer) is not sock:
            return
        self.logger.warning("%s: disconnected, %s: %s", sock.name, reason.value, detail)
        sock.dropped = reason
        self.engine.abort(sock.peer, self.now(), reason)
        self._forget_held(sock)
        sock.abort()
        self.process_soon()

    def process(self) -> None:
        """Drain events, write every peer's octets, close finished sockets, check caps, re-arm the timer."""
        self._scheduled = False
        if self._processing:
            self._again = True
            return
        self._processing = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._deliver_events()
                self._write_output()
        finally:
            self._processing = False
        self._arm_timer()

    # -- socket callbacks ----------------------------------------------------------------

    def _new_socket(self) -> PeerSocket:
        return PeerSocket(self, next(self._ids))

    def _admit(self, sock: PeerSocket) -> None:
        now = self.now()
        refusal = self._refusal(sock)
        if refusal is not None:
            self._refusals.note(now, f"{sock.name}: {refusal}")
            sock.abort()
            return
        if self.on_accept is not None and not self._accepted(sock):
            sock.abort()
            return
        sock.admitted, sock.connected_at, sock.last_frame_at = True, now, now
        self.sockets[sock.peer] = sock
        self._per_address[sock.ip] += 1
        self.engine.connect(sock.peer, now, name=sock.name)
        self._expect_deadline(sock, now + self.limits.handshake_timeout)
        self.process()

    def _refusal(self, sock: PeerSocket) -> str | None:
        limits = self.limits
        if not self._accepting:
            return "the server is stopping"
        if len(self.sockets) >= limits.max_connections:
            return f"max_connections={limits.max_connections} reached"
        if self._per_address[sock.ip] >= limits.max_per_address:
            return f"max_per_address={limits.max_per_address} reached for {sock.ip}"
        return None

    def _accepted(self, sock: PeerSocket) -> bool:
        assert self.on_accept is not None
        try:
            return bool(self.on_accept(sock))
        except Exception:
            self.logger.exception("%s: accept callback failed; connection refused", sock.name)
            return False

    def _received(self, sock: PeerSocket, data: bytes) -> None:
        if not sock.admitted or sock.lost.done() or self.engine.is_closed(sock.peer):
            return
        if data and sock.observer is not None:
            sock.observer(Direction.IN, data)
        now = self.now()
        with contextlib.suppress(RemoteProtocolError, LocalProtocolError):
            self.engine.receive_data(sock.peer, data, now)  # on error that peer is closed; its event says why
        if data and not self.engine.is_closed(sock.peer):
            self._track_frames(sock, now)
            self._measure(sock)
        self.process()

    def _track_frames(self, sock: PeerSocket, now: float) -> None:
        frames = self.engine.frames_received(sock.peer)
        if frames != sock.frames:
            sock.frames, sock.last_frame_at, sock.partial_since = frames, now, None
            if self.limits.idle_timeout is not None:
                self._expect_deadline(sock, now + self.limits.idle_timeout)
        elif sock.partial_since is None:
            sock.partial_since = now
            self._expect_deadline(sock, now + self.limits.frame_timeout)

    def _lost(self, sock: PeerSocket, exc: Exception | None) -> None:
        if not sock.lost.done():
            sock.lost.set_result(None)
        if not sock.admitted:
            return
        self.engine.connection_lost(sock.peer, self.now(), exc)
        self.process()
        self.sockets.pop(sock.peer, None)
        self._per_address[sock.ip] -= 1
        if self._per_address[sock.ip] <= 0:
            del self._per_address[sock.ip]
        self._forget_held(sock)
        if self.on_close is not None:
            try:
                self.on_close(sock)
            except Exception:
                self.logger.exception("%s: close callback failed", sock.name)

    # -- draining ------------------------------------------------------------------------

    def _deliver_events(self) -> None:
        engine, on_event = self.engine, self.on_event
        while (item := engine.next_event()) is not None:
            if on_event is None:
                continue
            try:
                on_event(*item)
            except Exception:
                self.logger.exception("event callback failed on %r", item)

    def _write_output(self) -> None:
        engine, cap = self.engine, self.limits.max_output_bytes
        for peer in engine.peers_with_output():
            data = engine.data_to_send(peer)
            sock = self.sockets.get(peer)
            if sock is None or sock.transport is None or sock.transport.is_closing():
                continue
            if data:
                sock.transport.write(data)
                if sock.observer is not None:
                    sock.observer(Direction.OUT, data)
            if engine.is_closed(peer):
                sock.close()  # buffered octets (a goodbye) are still written
                self._forget_held(sock)
                continue
            self._measure(sock)
            if sock.held - sock.held_in > cap:
                self.drop(
                    sock, TerminationReason.SLOW_CONSUMER, f"{sock.held - sock.held_in} octets queued, limit {cap}"
                )
        if self._held_total > self.limits.memory_budget:
            self._enforce_budget()
        self.held_peak = max(self.held_peak, self._held_total)

    def _measure(self, sock: PeerSocket) -> None:
        """Re-measure what ``sock``'s peer holds (input, output, socket buffer) and the total."""
        engine, peer = self.engine, sock.peer
        if engine.is_closed(peer):
            held_in = held = 0
        else:
            held_in = engine.buffered(peer)
            held = held_in + engine.queued(peer) + sock.write_buffer_size
        self._held_total += held - sock.held
        sock.held, sock.held_in = held, held_in

    def _enforce_budget(self) -> None:
        """Re-measure every peer; drop the one holding most until the total fits the budget."""
        budget = self.limits.memory_budget
        for sock in self.sockets.values():
            self._measure(sock)
        for sock in sorted(self.sockets.values(), key=lambda s: s.held, reverse=True):
            if self._held_total <= budget:
                break
            if sock.held_in * 2 > sock.held:
                reason, what = TerminationReason.LIMIT_EXCEEDED, f"{sock.held_in} octets of unfinished input"
            else:
                reason, what = TerminationReason.SLOW_CONSUMER, f"{sock.held - sock.held_in} octets queued"
            detail = f"{self._held_total} octets held over all peers, budget {budget}; it held {what}"
            self.drop(sock, reason, detail)
            self._forget_held(sock)

    def _forget_held(self, sock: PeerSocket) -> None:
        self._held_total -= sock.held
        sock.held = sock.held_in = 0

    # -- the one timer -------------------------------------------------------------------

    def _expect_deadline(self, sock: PeerSocket, when: float) -> None:
        """Make sure ``sock`` is checked at ``when`` at the latest (one heap entry per earlier deadline)."""
        if sock.check_at is None or when < sock.check_at:
            sock.check_at = when
            heapq.heappush(self._deadlines, (when, sock.peer))

    def _arm_timer(self) -> None:
        when = self.engine.get_timer()
        if self._deadlines and (when is None or self._deadlines[0][0] < when):
            when = self._deadlines[0][0]
        if when == self._timer_at and self._timer is not None:
            return
        self._cancel_timer()
        if when is not None and self._loop is not None:
            self._timer, self._timer_at = self._loop.call_at(when, self._on_timer), when

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, None

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, None
        now = self.now()
        due = self.engine.get_timer()
        if due is not None and due <= now:
            self.engine.handle_timer(now)
        if self._deadlines and self._deadlines[0][0] <= now:
            self._check_deadlines(now)
        self.process()

    def _check_deadlines(self, now: float) -> None:
        """Drop the peers whose deadline passed; re-file the others at their next deadline.

        Only the peers with a heap entry due by ``now`` are looked at, so a deadline costs
        O(log peers), not a walk over every peer.
        """
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            when, peer = heapq.heappop(heap)
            sock = self.sockets.get(peer)
            if sock is None or sock.check_at != when:
                continue  # gone, or superseded by an earlier entry that was already checked
            sock.check_at = None
            if self.engine.is_closed(peer):
                continue
            breach = self._breach(sock, now)
            if breach is not None:
                self.drop(sock, *breach)

    def _breach(self, sock: PeerSocket, now: float) -> tuple[TerminationReason, str] | None:
        """Return the deadline ``sock`` missed (reason, detail), else note its next deadline."""
        limits, deadlines = self.limits, []
        if not sock.established:
            sock.established = self.engine.is_established(sock.peer)
        if not sock.established:
            deadlines.append((sock.connected_at + limits.handshake_timeout, TerminationReason.HANDSHAKE_TIMEOUT,
                              f"no opening exchange within {limits.handshake_timeout} s"))  # fmt: skip
        if limits.idle_timeout is not None:
            deadlines.append((sock.last_frame_at + limits.idle_timeout, TerminationReason.IDLE_TIMEOUT,
                              f"no frame within {limits.idle_timeout} s"))  # fmt: skip
        if sock.partial_since is not None:
            deadlines.append((sock.partial_since + limits.frame_timeout, TerminationReason.IDLE_TIMEOUT,
                              f"a frame took longer than {limits.frame_timeout} s"))  # fmt: skip
        for when, reason, detail in deadlines:
            if when <= now:
                return reason, detail
        if deadlines:
            self._expect_deadline(sock, min(when for when, _, _ in deadlines))
        return None
