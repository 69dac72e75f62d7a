"""The sans-IO IMB3 hub: one engine for many client connections (``specs/imb/notes.md`` "Hub behaviour").

:class:`IMBHub` implements :class:`otwire.protocols.PeerEngine`: the driver picks a
hashable id per accepted socket, calls ``connect(peer, now, name=)`` and tags every
input with it; routing from one client to the others happens inside the engine, and
``peers_with_output()`` says whose octets to write. It holds what every connection
shares (event names with hub ids, subscribers and publishers with each connection's
own event ids, unique client ids and handles, global variables) and one
:class:`~otwire.protocols.imb._connection.HubConnection` per peer.

>>> from otwire.codecs.imb import EventCommand, NormalEvent, Publish, Subscribe, encode_command
>>> hub = IMBHub()
>>> hub.connect("a", 0.0); hub.connect("b", 0.0)
>>> hub.receive_data("b", encode_command(Subscribe(event_id=7, event_name="fed.x")), 0.0)
>>> hub.receive_data("a", encode_command(Publish(event_id=0, event_name="fed.x")), 0.0)
>>> hub.receive_data("a", encode_command(EventCommand(event_id=0, body=NormalEvent(data=b"hi"))), 0.0)
>>> hub.peers_with_output()
['a', 'b']
>>> hub.data_to_send("b")[-18:].hex(" ")  # hub id 0, tick 0, kind 5, b"hi", trailer
'00 00 00 00 00 00 00 00 05 00 00 00 68 69 67 34 f1 10'

Relayed icEvents are not decoded: the hub reads the sender's event id (payload
offset 0), looks up its publication, and appends one copy of the frame with the
hub id patched in to every subscriber's output (ekLogWriteLn also gets the
sender's unique client id patched into its body).

Peer violations (the same rule as the client engine and IEC 104; notes "Peer violations"):

* octets between frames that do not start one are skipped and reported
  (``JunkSkipped``, once per ``receive_data``); more than ``max_junk_bytes`` in a
  row, or junk over ``max_junk_bytes`` plus ``max_junk_share`` of everything received,
  closes the peer with a ``RemoteProtocolError``;
* a framing error (negative or oversize length, wrong trailer) and a framed command
  whose payload is malformed (an icEvent shorter than its 12-octet head included)
  are a ``DecodeError`` raised from ``receive_data`` after that peer was closed;
* unknown command codes are ``CommandIgnored``; a command a limit or rule refuses is
  ``CommandRejected`` (the peer stays); icEvents on unpublished ids are
  ``EventsDropped``. The hub does not decode event bodies, so unknown kinds are relayed.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Hashable
from typing import Any

from otwire.codecs.imb import (
    Command,
    CommandCode,
    EndSession,
    Frame,
    SetVariable,
    encode_command,
    encode_frame,
    split_frames,
)
from otwire.codecs.imb.types import INT32_MAX, EventKind
from otwire.errors import DecodeError, InvalidArgument, LocalProtocolError, RemoteProtocolError
from otwire.protocols import Buffer, Event, TerminationReason
from otwire.protocols._base import as_octets
from otwire.protocols.imb._connection import HubConnection
from otwire.protocols.imb._routing import CommandHandlers
from otwire.protocols.imb._state import HUB_END_INPUTS, HubInput, HubPeerState
from otwire.protocols.imb._tables import CommandRefused, RoutingTable, VariableStore
from otwire.protocols.imb.config import IMBHubConfig, merge_config
from otwire.protocols.imb.events import EventInfo, EventsDropped, JunkSkipped

__all__ = ["HubConnection", "IMBHub"]

_I32 = struct.Struct("<i")
_EVENT = int(CommandCode.EVENT)
_LOG_KIND = int(EventKind.LOG_WRITE_LN)
_MIN_EVENT_FRAME = 16 + 12 + 4  # header, event_id/tick/kind, trailer
_HEARTBEAT = encode_frame(CommandCode.HEART_BEAT)
_END_SESSION = encode_frame(CommandCode.END_SESSION)


class IMBHub(CommandHandlers):
    """The hub engine: a :class:`~otwire.protocols.PeerEngine` over IMB3 client connections.

    Args:
        config: Settings and limits (:class:`~otwire.protocols.imb.config.IMBHubConfig`).
        **options: Fields of ``IMBHubConfig`` that replace those of ``config``
            (``self_delivery=False``, ``heartbeat_interval=5.0``, ...).

    Raises:
        InvalidArgument: a setting is out of range.
        InvalidArgumentType: ``config`` or an option is not one of ``IMBHubConfig``.
    """

    def __init__(self, *, config: IMBHubConfig | None = None, **options: Any) -> None:
        self.config = config = merge_config(IMBHubConfig, config, options)
        self.routes = RoutingTable(config.max_event_names)
        self.variables = VariableStore(config.max_variables, config.max_variable_bytes)
        #: icEvent frames handed to subscribers so far.
        self.relayed = 0
        self._peers: dict[Hashable, HubConnection] = {}  # every peer not yet drained after its close
        self._connections: dict[int, HubConnection] = {}  # unique client id -> open connection
        self._pending: dict[HubConnection, None] = {}  # got output or closed (ordered set)
        self._with_events: dict[HubConnection, None] = {}  # may have events queued (ordered set)
        self._overflowed: dict[HubConnection, None] = {}
        self._next_uid = 1
        self._free_handles: list[int] = []
        #: Heartbeat deadlines ``(when, unique_client_id)``; an entry whose client ended or moved on is stale.
        self._beats: list[tuple[float, int]] = []
        self._next_handle = 1

    @property
    def self_delivery(self) -> bool:
        """``config.self_delivery``."""
        return self.config.self_delivery

    @property
    def heartbeat_interval(self) -> float | None:
        """``config.heartbeat_interval`` (seconds)."""
        return self.config.heartbeat_interval

    # -- PeerEngine: inputs ------------------------------------------------------------------

    def connect(self, peer: Hashable, now: float, *, name: str = "") -> None:
        """Admit a client; its greeting (icUniqueClientID with its ids) is queued for it.

        Args:
            peer: The driver's id for the peer (any hashable).
            now: Current time (monotonic seconds); starts the heartbeat timer.
            name: A label for logs and ``ClientStatus`` (e.g. ``"127.0.0.1:50123"``).

        Raises:
            LocalProtocolError: ``peer`` is already connected.
        """
        if peer in self._peers and not self._peers[peer].is_closed:
            raise LocalProtocolError(f"peer {peer!r} is already connected")
        uid = self._next_uid
        while uid in self._connections:  # only after 2**31 clients
            uid = uid % INT32_MAX + 1
        self._next_uid = uid % INT32_MAX + 1
        if self._free_handles:
            handle = heapq.heappop(self._free_handles)
        else:
            handle, self._next_handle = self._next_handle, self._next_handle + 1
        connection = HubConnection(self, peer, uid, handle, now, name)
        interval = self.config.heartbeat_interval
        self._peers[peer] = self._connections[uid] = connection
        if interval is not None:
            connection._next_beat = now + interval
            heapq.heappush(self._beats, (now + interval, uid))
        self._pending[connection] = None

    def receive_data(self, peer: Hashable, data: Buffer, now: float) -> None:
        """Feed octets from ``peer``; ``b""`` is its end of stream.

        Every complete frame is applied at once; icEvents are relayed to the
        subscribers' outputs. A frame cut short by the end of stream is junk (a
        client killed mid-frame).

        Raises:
            DecodeError: a framing error or a malformed payload (the peer is closed
                first; the frames before it were applied).
            RemoteProtocolError: more than ``max_junk_bytes`` octets in a row started no
                frame, or junk went over ``max_junk_bytes + max_junk_share * octets received``.
            InvalidArgumentType: ``data`` is not bytes-like (nothing changes; a ``LocalProtocolError``).
            LocalProtocolError: ``peer`` is unknown or closed.
        """
        if type(data) is not bytes:
            data = as_octets(data)
        connection = self._open(peer, "receive data")
        self._with_events[connection] = None
        if not data:
            if connection._rx:
                connection._events.append(JunkSkipped(size=len(connection._rx)))
            self._end(connection, TerminationReason.PEER_CLOSED)
            return
        connection.bytes_in += len(data)
        rx = connection._rx
        rx += data
        frames, junk, error = split_frames(rx, self.config.max_payload_size)
        failure: RemoteProtocolError | None = error
        try:
            self._route_frames(connection, frames)
        except DecodeError as exc:
            failure = exc
        finally:
            self._count_junk(connection, junk, bool(frames))
            self._settle()
        if failure is None and junk:
            failure = self._junk_failure(connection)
        if failure is not None and connection._state is not HubPeerState.CLOSED:
            connection._fail(failure)
            self._settle()
            raise failure

    def send(self, peer: Hashable, message: Command | Frame, now: float) -> None:
        """Queue a command (any IMB command dataclass, or a ``Frame``) for ``peer``.

        Sending ``EndSession`` is the same as :meth:`close`.

        Raises:
            LocalProtocolError: ``peer`` is unknown or closed, or the message cannot be encoded.
        """
        connection = self._open(peer, "send")
        if type(message) is EndSession:
            self.close(peer, now)
            return
        if isinstance(message, Frame):
            data = encode_frame(message.command_code, message.payload)
        else:
            data = encode_command(message)
        connection._move(HubInput.SEND)
        self._deliver(connection, data)
        self._settle()

    def close(self, peer: Hashable, now: float) -> None:
        """Close ``peer`` locally: queue icEndSession, leave its subscriptions and publications.

        Closing a closed or unknown peer does nothing.
        """
        connection = self._peers.get(peer)
        if connection is None or connection._state is HubPeerState.CLOSED:
            return
        connection._out += _END_SESSION
        self._end(connection, TerminationReason.LOCAL_CLOSE)

    def close_all(self, now: float) -> None:
        """Close every open peer: each gets icEndSession (clients close on it)."""
        for connection in list(self._connections.values()):
            self.close(connection.peer, now)

    def connection_lost(self, peer: Hashable, now: float, exc: BaseException | None = None) -> None:
        """Report that ``peer``'s transport failed (nothing when it is closed or unknown)."""
        connection = self._peers.get(peer)
        if connection is not None and connection._state is not HubPeerState.CLOSED:
            self._end(connection, TerminationReason.CONNECTION_LOST, exc)

    def abort(self, peer: Hashable, now: float, reason: TerminationReason) -> None:
        """Close ``peer`` at once for a driver limit: its queued output is dropped, no icEndSession.

        Raises:
            InvalidArgument: ``reason`` is not a way a hub connection ends.
        """
        if reason not in HUB_END_INPUTS:
            raise InvalidArgument(f"{reason} is not a reason to end a hub connection")
        connection = self._peers.get(peer)
        if connection is not None and connection._state is not HubPeerState.CLOSED:
            connection._out.clear()
            self._end(connection, reason)

    def handle_timer(self, now: float) -> None:
        """Send the heartbeat to every client whose beat is due at ``now``."""
        interval = self.config.heartbeat_interval
        if interval is None:
            return
        beats = self._beats
        while beats and beats[0][0] <= now:
            beat, uid = heapq.heappop(beats)
            connection = self._connections.get(uid)
            if connection is None or connection._next_beat != beat:
                continue  # that client ended
            connection._next_beat = beat + interval if now < beat + interval else now + interval
            heapq.heappush(beats, (connection._next_beat, uid))
            connection._move(HubInput.TIMER)
            self._deliver(connection, _HEARTBEAT)
        self._settle()

    # -- PeerEngine: outputs -----------------------------------------------------------------

    def get_timer(self) -> float | None:
        """Return the earliest heartbeat deadline over all clients, or ``None``."""
        beats, connections = self._beats, self._connections
        while beats:
            when, uid = beats[0]
            connection = connections.get(uid)
            if connection is not None and connection._next_beat == when:
                return when
            heapq.heappop(beats)  # stale: that client ended
        return None

    def next_event(self) -> tuple[Hashable, Event] | None:
        """Return the next ``(peer, event)``, or ``None``."""
        with_events = self._with_events
        while with_events:
            connection = next(iter(with_events))
            if connection._events:
                return connection.peer, connection._events.popleft()
            del with_events[connection]
            self._forget_if_drained(connection)
        return None

    def peers_with_output(self) -> list[Hashable]:
        """Return (and forget) the peers that got output or closed since the last call."""
        pending = [c.peer for c in self._pending]
        self._pending.clear()
        return pending

    def data_to_send(self, peer: Hashable) -> bytes:
        """Return and clear the octets queued for ``peer`` (``b""`` for an unknown peer)."""
        connection = self._peers.get(peer)
        return b"" if connection is None else connection.data_to_send()

    def is_closed(self, peer: Hashable) -> bool:
        """True once ``peer`` is closed (or unknown): its socket should be closed."""
        connection = self._peers.get(peer)
        return connection is None or connection._state is HubPeerState.CLOSED

    def frames_received(self, peer: Hashable) -> int:
        """Complete frames received from ``peer`` so far (0 for an unknown peer)."""
        connection = self._peers.get(peer)
        return 0 if connection is None else connection.commands_in

    def is_established(self, peer: Hashable) -> bool:
        """True once ``peer`` sent its first complete frame (every public client starts with icSetClientInfo)."""
        return self.frames_received(peer) > 0

    def queued(self, peer: Hashable) -> int:
        """Octets queued for ``peer`` and not yet taken by ``data_to_send``."""
        connection = self._peers.get(peer)
        return 0 if connection is None else len(connection._out)

    def buffered(self, peer: Hashable) -> int:
        """Octets received from ``peer`` and held: its unfinished frame (at most ``max_payload_size`` + 20)."""
        connection = self._peers.get(peer)
        return 0 if connection is None else len(connection._rx)

    # -- tables and monitoring ---------------------------------------------------------------

    @property
    def connections(self) -> tuple[HubConnection, ...]:
        """The open connections, oldest first."""
        return tuple(self._connections.values())

    def connection(self, unique_client_id: int) -> HubConnection | None:
        """Return the open connection with ``unique_client_id``, or ``None``."""
        return self._connections.get(unique_client_id)

    def connection_of(self, peer: Hashable) -> HubConnection | None:
        """Return the connection of ``peer`` (open, or closed and not yet drained), or ``None``."""
        return self._peers.get(peer)

    def event_names(self) -> list[EventInfo]:
        """Return every event name in use, with its hub id and members (handles)."""
        return [
            EventInfo(
                name=e.name,
                hub_id=e.hub_id,
                subscribers=tuple(c.handle for c in e.subscribers),
                publishers=tuple(c.handle for c in e.publishers),
            )
            for e in self.routes
        ]

    def set_variable(self, name: str, value: bytes) -> None:
        """Store a global variable and broadcast it as icSetVariable (empty value: remove it).

        Raises:
            LocalProtocolError: a variable limit refuses it, or it cannot be encoded.
        """
        try:
            frame = encode_command(SetVariable(var_name=name, var_value=value))
            self.variables.set(name, value)
        except CommandRefused as exc:
            raise LocalProtocolError(str(exc)) from exc
        self._broadcast(frame)
        self._settle()

    # -- internals -------------------------------------------------------------------------------

    def _open(self, peer: Hashable, verb: str) -> HubConnection:
        connection = self._peers.get(peer)
        if connection is None:
            raise LocalProtocolError(f"can't {verb}: unknown peer {peer!r}")
        connection._check_open(verb)
        return connection

    def _route_frames(self, connection: HubConnection, frames: list[bytearray]) -> None:
        """Apply commands and relay icEvents, in order (the hot path); stop when the connection closes.

        An icEvent is the table's ``RECV_COMMAND`` self-loop of an open state; the
        caller checked the connection is open, so the hot path skips ``_move``.

        Raises:
            DecodeError: a command payload is malformed, or an icEvent is shorter than its head.
        """
        pubs = connection._pubs
        pending, overflowed, limit = self._pending, self._overflowed, self.config.max_output_bytes
        skip_self = not self.config.self_delivery
        dropped = relayed = 0
        dropped_ids: dict[int, None] = {}
        try:
            for raw in frames:
                code = _I32.unpack_from(raw, 8)[0]
                if code != _EVENT:
                    self.apply_command(connection, code, raw[16:-4] if len(raw) > 16 else b"")
                    if connection._state is HubPeerState.CLOSED:
                        break
                    continue
                if len(raw) < _MIN_EVENT_FRAME:
                    reason = f"icEvent payload of {max(len(raw) - 20, 0)} octets, at least 12 needed"
                    raise DecodeError(reason, data=raw, offset=len(raw) - 4 if len(raw) > 16 else 16)
                client_id = _I32.unpack_from(raw, 16)[0]
                entry = pubs.get(client_id)
                if entry is None:
                    dropped += 1
                    if len(dropped_ids) < 8:
                        dropped_ids[client_id] = None
                    continue
                subscribers = entry.subscribers
                if not subscribers:
                    continue
                raw[16:20] = entry.id_bytes  # the frame is ours: patch the hub id in place
                if raw[24] == _LOG_KIND and len(raw) >= _MIN_EVENT_FRAME + 4:
                    raw[28:32] = connection._uid_bytes  # ekLogWriteLn: the hub fills in the sender
                for receiver in subscribers:
                    if receiver is connection and skip_self:
                        continue
                    buffer = receiver._out
                    buffer += raw
                    pending[receiver] = None
                    relayed += 1
                    if len(buffer) > limit:
                        overflowed[receiver] = None
        finally:
            connection.commands_in += len(frames)
            connection.events_dropped += dropped
            self.relayed += relayed
            if dropped:
                connection._events.append(EventsDropped(count=dropped, client_event_ids=tuple(dropped_ids)))

    def _count_junk(self, connection: HubConnection, junk: int, got_frames: bool) -> None:
        if junk:
            connection._events.append(JunkSkipped(size=junk))
            connection._junk_total += junk
        connection._junk_run = junk if got_frames else connection._junk_run + junk

    def _junk_failure(self, connection: HubConnection) -> RemoteProtocolError | None:
        """The junk rules (``IMBHubConfig.max_junk_bytes`` and ``max_junk_share``)."""
        limit, share = self.config.max_junk_bytes, self.config.max_junk_share
        if connection._junk_run > limit:
            return RemoteProtocolError(f"{connection._junk_run} octets in a row start no frame ({limit=})")
        if connection._junk_total > limit + share * connection.bytes_in:
            total, received = connection._junk_total, connection.bytes_in
            return RemoteProtocolError(f"{total} of {received} octets received start no frame ({share=:g}, {limit=})")
        return None

    def _deliver(self, connection: HubConnection, data: bytes) -> None:
        out = connection._out
        out += data
        self._pending[connection] = None
        if len(out) > self.config.max_output_bytes:
            self._overflowed[connection] = None

    def _broadcast(self, data: bytes) -> None:
        for connection in self._connections.values():
            self._deliver(connection, data)

    def _end(self, connection: HubConnection, reason: TerminationReason, error: BaseException | None = None) -> None:
        """End ``connection`` for ``reason`` (its events are reported), then settle the others."""
        self._with_events[connection] = None
        connection._terminate(reason, error)
        self._settle()

    def _settle(self) -> None:
        """Close the connections whose output went over the limit (that may notify others)."""
        while self._overflowed:
            connection = next(iter(self._overflowed))
            del self._overflowed[connection]
            connection._out.clear()  # the client cannot take it
            self._with_events[connection] = None
            connection._terminate(TerminationReason.SLOW_CONSUMER, None)

    def _connection_closed(self, connection: HubConnection) -> None:
        """Called by a connection as it closes: leave the tables, free its ids, report it."""
        connection._rx.clear()
        connection._next_beat = None
        self._leave_all(connection)
        if self._connections.pop(connection.unique_client_id, None) is not None:
            heapq.heappush(self._free_handles, connection.handle)
        self._overflowed.pop(connection, None)
        self._pending[connection] = None
        self._with_events[connection] = None

    def _forget_if_drained(self, connection: HubConnection) -> None:
        """Drop a closed connection once its output and events were taken."""
        if connection._state is HubPeerState.CLOSED and not connection._out and not connection._events:
            if self._peers.get(connection.peer) is connection:
                del self._peers[connection.peer]
            self._with_events.pop(connection, None)
