"""The sans-IO IMB3 hub: routing between many client connections (``specs/imb/notes.md`` "Hub behaviour").

A hub is many-to-many, so the engine is two objects:

* :class:`IMBHub` holds what every connection shares: event names with hub ids,
  subscribers and publishers (with each connection's own event ids), unique
  client ids and handles, global variables, and the set of connections that got
  output or events from another connection's input (:meth:`IMBHub.take_pending`).
* :class:`HubConnection` is one client connection and implements the
  :class:`otwire.protocols.Connection` contract: it cuts the byte stream into
  frames (well-formed ones directly, anything irregular through the codec's
  :class:`~otwire.codecs.imb.IMBFramer`), decodes commands and applies them to
  the shared tables, and queues octets on itself and on other connections.

A driver feeds each connection's received octets to its ``receive_data``, then
writes ``data_to_send()`` of that connection **and of every connection returned by
``take_pending()``**.

>>> from otwire.codecs.imb import Event, NormalEvent, Publish, Subscribe, encode_command
>>> hub = IMBHub()
>>> a, b = hub.connect(0.0), hub.connect(0.0)
>>> b.receive_data(encode_command(Subscribe(event_id=7, event_name="fed.x")), 0.0)
>>> a.receive_data(encode_command(Publish(event_id=0, event_name="fed.x")), 0.0)
>>> a.receive_data(encode_command(Event(event_id=0, body=NormalEvent(data=b"hi"))), 0.0)
>>> [c.unique_client_id for c in hub.take_pending()]
[2, 1]
>>> b.data_to_send()[-18:].hex(" ")  # hub id 0, tick 0, kind 5, b"hi", trailer
'00 00 00 00 00 00 00 00 05 00 00 00 68 69 67 34 f1 10'

Relayed icEvents are not decoded: the hub reads the sender's event id (payload
offset 0), looks up its publication, and appends one copy of the frame with the
hub id patched in to every subscriber's output (ekLogWriteLn also gets the
sender's unique client id patched into its body).
"""

from __future__ import annotations

import heapq
import struct
from collections import deque

from otwire.codecs.imb import (
    Command,
    CommandCode,
    EndSession,
    Frame,
    SetVariable,
    UniqueClientID,
    encode_command,
    encode_frame,
)
from otwire.codecs.imb.types import END_PAYLOAD_MAGIC_BYTES, INT32_MAX, MAX_PAYLOAD_SIZE, EventKind
from otwire.errors import LocalProtocolError
from otwire.protocols import Buffer, Event
from otwire.protocols.imb import _routing as routing
from otwire.protocols.imb._routing import CommandRefused, EventEntry, RoutingTable, VariableStore
from otwire.protocols.imb.hub_events import (
    END_INPUTS,
    HUB_TRANSITIONS,
    ClientStatus,
    CommandRejected,
    ConnectionTerminated,
    EventInfo,
    EventsDropped,
    HubInput,
    HubState,
    JunkSkipped,
    TerminationReason,
)

__all__ = ["ClientStatus", "EventInfo", "HubConnection", "IMBHub"]

_I32 = struct.Struct("<i")
_EVENT = int(CommandCode.EVENT)
_TRAILER = END_PAYLOAD_MAGIC_BYTES
_LOG_KIND = int(EventKind.LOG_WRITE_LN)
_MIN_EVENT_FRAME = 16 + 12 + 4  # header, event_id/tick/kind, trailer
_HEARTBEAT = encode_frame(CommandCode.HEART_BEAT)
_END_SESSION = encode_frame(CommandCode.END_SESSION)
_MIB = 1024 * 1024


class IMBHub:
    """Routing state shared by all connections of one hub.

    Args:
        self_delivery: Deliver a client's events to itself when it also
            subscribes (what pyimb's own tests expect).
        notify: Tell publishers when their event gains its first or loses its
            last subscriber (icSubscribe/icUnsubscribe) and subscribers when it
            gains or loses publishers (icPublish/icUnpublish); the event id in a
            notification is the receiver's own id. pyimb ignores them.
        heartbeat_interval: Send an empty icHeartBeat to every client this often
            (seconds); ``None`` sends none. No public client needs it.
        max_payload_size: Largest frame payload accepted (octets, at most 10 MiB);
            a longer one is a framing error that closes the connection.
        max_output_bytes: Most octets queued on one connection and not yet taken
            by ``data_to_send``; over it the connection is closed as a slow consumer.
        max_event_names: Most distinct event names in use at once.
        max_variables: Most global variables stored.
        max_variable_bytes: Most octets of variable names and values together.

    Raises:
        LocalProtocolError: an argument is out of range.
    """

    def __init__(
        self,
        *,
        self_delivery: bool = True,
        notify: bool = True,
        heartbeat_interval: float | None = None,
        max_payload_size: int = MAX_PAYLOAD_SIZE,
        max_output_bytes: int = 64 * _MIB,
        max_event_names: int = 65_536,
        max_variables: int = 10_000,
        max_variable_bytes: int = 16 * _MIB,
    ) -> None:
        if heartbeat_interval is not None and not heartbeat_interval > 0:
            raise LocalProtocolError(f"heartbeat_interval={heartbeat_interval!r} must be > 0 or None")
        if not 0 <= max_payload_size <= MAX_PAYLOAD_SIZE:
            raise LocalProtocolError(f"max_payload_size={max_payload_size} not in 0..{MAX_PAYLOAD_SIZE}")
        if max_output_bytes < max_payload_size + 20:
            raise LocalProtocolError(
                f"max_output_bytes={max_output_bytes} must hold one frame ({max_payload_size + 20})"
            )
        try:
            self.routes: RoutingTable[HubConnection] = RoutingTable(max_event_names)
            self.variables = VariableStore(max_variables, max_variable_bytes)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from exc
        self.self_delivery = self_delivery
        self.notify = notify
        self.heartbeat_interval = heartbeat_interval
        self.max_payload_size = max_payload_size
        self.max_output_bytes = max_output_bytes
        #: icEvent frames handed to subscribers so far.
        self.relayed = 0
        self._connections: dict[int, HubConnection] = {}  # unique client id -> connection
        self._pending: dict[HubConnection, None] = {}  # ordered set
        self._overflowed: dict[HubConnection, None] = {}
        self._next_uid = 1
        self._free_handles: list[int] = []
        self._next_handle = 1

    # -- connections -----------------------------------------------------------------

    def connect(self, now: float, *, name: str = "") -> HubConnection:
        """Create the engine of a newly accepted client; it greets with icUniqueClientID.

        Args:
            now: Current time (monotonic seconds); starts the heartbeat timer.
            name: A label for logs and :meth:`HubConnection.status` (e.g. ``"127.0.0.1:50123"``).

        Returns:
            The new connection (its greeting is queued in ``data_to_send``).
        """
        uid = self._next_uid
        while uid in self._connections:  # only after 2**31 clients
            uid = uid % INT32_MAX + 1
        self._next_uid = uid % INT32_MAX + 1
        if self._free_handles:
            handle = heapq.heappop(self._free_handles)
        else:
            handle, self._next_handle = self._next_handle, self._next_handle + 1
        connection = HubConnection(self, uid, handle, now, name)
        self._connections[uid] = connection
        return connection

    @property
    def connections(self) -> tuple[HubConnection, ...]:
        """The open connections, oldest first."""
        return tuple(self._connections.values())

    def connection(self, unique_client_id: int) -> HubConnection | None:
        """Return the open connection with ``unique_client_id``, or ``None``."""
        return self._connections.get(unique_client_id)

    def take_pending(self) -> list[HubConnection]:
        """Return (and forget) the connections that got output or events since the last call.

        A driver writes their ``data_to_send()`` and drains their ``next_event()``;
        closed ones are in the list too (their termination event is queued).
        """
        pending = list(self._pending)
        self._pending.clear()
        return pending

    def close(self, now: float) -> None:
        """Close every connection: each gets icEndSession (clients close on it)."""
        for connection in self.connections:
            connection.close(now)

    # -- tables ------------------------------------------------------------------------

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

    # -- internals (used by HubConnection) ---------------------------------------------

    def _deliver(self, connection: HubConnection, data: bytes) -> None:
        out = connection._out
        out += data
        self._pending[connection] = None
        if len(out) > self.max_output_bytes:
            self._overflowed[connection] = None

    def _broadcast(self, data: bytes) -> None:
        for connection in self._connections.values():
            self._deliver(connection, data)

    def _settle(self) -> None:
        """Close the connections whose output went over the limit (that may notify others)."""
        while self._overflowed:
            connection = next(iter(self._overflowed))
            del self._overflowed[connection]
            connection._overflow()

    def _remove(self, connection: HubConnection) -> None:
        if self._connections.pop(connection.unique_client_id, None) is not None:
            heapq.heappush(self._free_handles, connection.handle)
        self._overflowed.pop(connection, None)
        self._pending[connection] = None


class HubConnection:
    """One client connection of an :class:`IMBHub` (create it with :meth:`IMBHub.connect`).

    Implements :class:`otwire.protocols.Connection`. ``send`` queues any IMB
    command (or a ``Frame``) to this client; ``close`` sends icEndSession.
    """

    __slots__ = ("_events", "_hub", "_next_beat", "_out", "_pubs", "_rx", "_state", "_subs", "_uid_bytes",
                 "bytes_in", "bytes_out", "client_state", "commands_in", "connected_at", "events_dropped", "handle",
                 "name", "owner_id", "owner_name", "throttle", "unique_client_id")  # fmt: skip

    def __init__(self, hub: IMBHub, unique_client_id: int, handle: int, now: float, name: str) -> None:
        self._hub = hub
        self.unique_client_id = unique_client_id
        self.handle = handle
        self.name = name or f"client {unique_client_id}"
        self.connected_at = now
        self.owner_id: int | None = None
        self.owner_name: str | None = None
        self.client_state: int | None = None
        self.throttle: int | None = None
        self.commands_in = self.bytes_in = self.bytes_out = self.events_dropped = 0
        self._state = HubState.CONNECTED
        self._rx = bytearray()  # received octets not yet cut into frames
        self._out = bytearray(encode_command(UniqueClientID(unique_client_id=unique_client_id, client_id=handle)))
        self._events: deque[Event] = deque()
        self._pubs: dict[int, EventEntry[HubConnection]] = {}  # client event id -> published entry
        self._subs: dict[str, EventEntry[HubConnection]] = {}  # name -> subscribed entry
        self._uid_bytes = _I32.pack(unique_client_id)
        interval = hub.heartbeat_interval
        self._next_beat = None if interval is None else now + interval

    # -- observable state ----------------------------------------------------------------

    @property
    def state(self) -> HubState:
        """The lifecycle state."""
        return self._state

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed."""
        return self._state is HubState.CLOSED

    @property
    def queued(self) -> int:
        """Octets queued for this client and not yet taken by ``data_to_send``."""
        return len(self._out)

    def status(self) -> ClientStatus:
        """Return a snapshot of this connection's counters, ids and subscriptions."""
        return ClientStatus(
            handle=self.handle,
            unique_client_id=self.unique_client_id,
            name=self.name,
            state=self._state,
            owner_id=self.owner_id,
            owner_name=self.owner_name,
            connected_at=self.connected_at,
            commands_in=self.commands_in,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            events_dropped=self.events_dropped,
            queued=len(self._out),
            subscriptions={n: e.subscribers[self] for n, e in self._subs.items()},
            publications={e.name: cid for cid, e in self._pubs.items()},
            client_state=self.client_state,
            throttle=self.throttle,
        )

    def __repr__(self) -> str:
        return f"<HubConnection {self.name} uid={self.unique_client_id} handle={self.handle} {self._state.name}>"

    # -- inputs --------------------------------------------------------------------------

    def receive_data(self, data: Buffer, now: float) -> None:
        """Feed octets from the client; ``b""`` is end of stream.

        Every complete frame is applied at once; icEvents are relayed to the
        subscribers' outputs (see :meth:`IMBHub.take_pending`). Junk between
        frames is skipped (reported once per call); a frame cut short by the end
        of stream is junk too (a client killed mid-frame).

        Raises:
            DecodeError: a framing error (negative or oversize length, wrong
                trailer); the connection is closed first, the frames before it
                were applied.
            LocalProtocolError: the connection is already closed.
        """
        self._check_open("receive data")
        if not data:
            if self._rx:
                self._events.append(JunkSkipped(size=len(self._rx)))
            self._terminate(TerminationReason.PEER_CLOSED, None)
            return
        self.bytes_in += len(data)
        self._rx += data
        hub = self._hub
        frames, junk, error = routing.cut_frames(self._rx, hub.max_payload_size)
        pending, overflowed = hub._pending, hub._overflowed
        limit = hub.max_output_bytes
        pubs = self._pubs
        skip_self = not hub.self_delivery
        dropped = relayed = 0
        dropped_ids: dict[int, None] = {}
        try:
            for raw in frames:
                if _I32.unpack_from(raw, 8)[0] != _EVENT:
                    routing.dispatch(self, raw)
                    if self._state is HubState.CLOSED:
                        break
                    continue
                if len(raw) < _MIN_EVENT_FRAME:
                    reason = f"icEvent payload of {max(len(raw) - 20, 0)} octets, at least 12 needed"
                    self._events.append(CommandRejected(command_code=_EVENT, reason=reason))
                    continue
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
                    raw[28:32] = self._uid_bytes  # ekLogWriteLn: the hub fills in the sender
                for connection in subscribers:
                    if connection is self and skip_self:
                        continue
                    buffer = connection._out
                    buffer += raw
                    pending[connection] = None
                    relayed += 1
                    if len(buffer) > limit:
                        overflowed[connection] = None
        finally:
            self.commands_in += len(frames)
            self.events_dropped += dropped
            hub.relayed += relayed
            if junk:
                self._events.append(JunkSkipped(size=junk))
            if dropped:
                self._events.append(EventsDropped(count=dropped, client_event_ids=tuple(dropped_ids)))
            hub._settle()
        if error is not None and self._state is not HubState.CLOSED:
            self._terminate(TerminationReason.PROTOCOL_ERROR, error)
            raise error

    def send(self, message: Command | Frame, now: float) -> None:
        """Queue a command (any IMB command dataclass, or a ``Frame``) for this client.

        Sending ``EndSession`` is the same as :meth:`close`.

        Raises:
            LocalProtocolError: the connection is closed, or the message cannot be encoded.
        """
        self._check_open("send")
        if type(message) is EndSession:
            self.close(now)
            return
        data = (
            encode_frame(message.command_code, message.payload)
            if isinstance(message, Frame)
            else encode_command(message)
        )
        self._hub._deliver(self, data)
        self._hub._settle()

    def close(self, now: float) -> None:
        """Close locally: queue icEndSession, leave every subscription and publication.

        Closing a closed connection does nothing.
        """
        if self._state is HubState.CLOSED:
            return
        self._out += _END_SESSION
        self._terminate(TerminationReason.LOCAL_CLOSE, None)

    def overflow(self, now: float) -> None:
        """Close as a slow consumer (a driver's own write buffer for this client is over its limit).

        What was queued is dropped, every subscription and publication ends
        (others are notified) and ``ConnectionTerminated(SLOW_CONSUMER)`` is
        reported; no icEndSession is queued. Does nothing when closed.
        """
        if self._state is not HubState.CLOSED:
            self._overflow()
            self._hub._settle()

    def handle_timer(self, now: float) -> None:
        """Send the heartbeat if it is due at ``now``.

        Raises:
            LocalProtocolError: the connection is already closed.
        """
        self._check_open("handle timer")
        beat = self._next_beat
        interval = self._hub.heartbeat_interval
        if beat is None or interval is None or now < beat:
            return
        self._next_beat = beat + interval if now < beat + interval else now + interval
        self._hub._deliver(self, _HEARTBEAT)
        self._hub._settle()

    # -- outputs ---------------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """Return the next queued event, or ``None``."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        """Return and clear the octets queued for this client."""
        if not self._out:
            return b""
        data = bytes(self._out)
        self._out.clear()
        self.bytes_out += len(data)
        return data

    def get_timer(self) -> float | None:
        """Return the next heartbeat deadline, or ``None`` (no heartbeat, or closed)."""
        return None if self._state is HubState.CLOSED else self._next_beat

    # -- lifecycle ---------------------------------------------------------------------------

    def _check_open(self, verb: str) -> None:
        if self._state is HubState.CLOSED:
            raise LocalProtocolError(f"can't {verb} in state CLOSED")

    def _move(self, event: HubInput) -> None:
        """Apply a state-changing input through the table (a missing pair is refused)."""
        new = HUB_TRANSITIONS.get((self._state, event))
        if new is None:
            raise LocalProtocolError(f"{event.value} not allowed in state {self._state.name}")
        self._state = new

    def _terminate(self, reason: TerminationReason, error: Exception | None) -> None:
        """Close: leave every subscription and publication (others are notified), report why."""
        if self._state is HubState.CLOSED:
            return
        self._move(END_INPUTS[reason])
        self._rx.clear()
        self._next_beat = None
        routing.leave_all(self)
        self._hub._remove(self)
        self._events.append(ConnectionTerminated(reason=reason, error=error))

    def _overflow(self) -> None:
        """Close as a slow consumer: what was queued is dropped (the client cannot take it)."""
        self._out.clear()
        self._terminate(TerminationReason.SLOW_CONSUMER, None)
