"""The MXAccess session model of the gateway simulator: sessions, handles, items, tag values, events.

Plain objects without I/O or clock of their own (times are given): the gRPC layer
(:mod:`otwire.servers.mxgateway.service`) turns requests into calls here and delivers
what comes out. One :class:`GatewayModel` holds the tag values (shared by every session,
like the Galaxy's) and the open :class:`SimSession`\\ s; a session holds its registered
servers (``server_handle``), their items (``item_handle``), the authenticated users
(``user_id``), the replay ring of its events and its :class:`Subscriber`\\ s.

Events carry a ``worker_sequence`` contiguous per session (1, 2, 3, ...); the ring keeps
the last ``replay_capacity`` of them for resumed streams (``after_worker_sequence``), and
each subscriber has a bounded queue: a subscriber that falls ``event_buffer`` events
behind is detached (``overflowed``). See ``specs/mxgateway/notes.md``, "Simulator".
"""

from __future__ import annotations

import datetime
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway import faults
from otwire.servers.mxgateway.values import QUALITY_GOOD, TagState

__all__ = ["GatewayModel", "Item", "RegisteredServer", "SimSession", "Subscriber", "ok_status"]


def ok_status() -> pb.MxStatusProxy:
    """One ``MXSTATUS_PROXY`` meaning success (``success=1``, category OK, detected by the responding LMX)."""
    return pb.MxStatusProxy(
        success=1,
        category=pb.MxStatusCategory.OK,
        detected_by=pb.MxStatusSource.RESPONDING_LMX,
        raw_category=0,
        raw_detected_by=1,
    )


#: The status of every simulated ``OnDataChange`` (shared: never modified).
OK_STATUS = ok_status()


@dataclass(slots=True)
class Item:
    """One ``AddItem``: a tag of one registered server."""

    item_handle: int
    server_handle: int
    tag: str
    item_context: str = ""
    advised: bool = False
    supervisory: bool = False
    active: bool = True


@dataclass(slots=True)
class RegisteredServer:
    """One ``Register``: a client name and its items by ``item_handle``."""

    server_handle: int
    client_name: str
    items: dict[int, Item] = field(default_factory=dict)


class Subscriber:
    """The bounded queue of one ``StreamEvents`` call.

    Args:
        session: The session it reads.
        limit: Most events held; one more detaches it with ``overflowed`` set.
        notify: Called (no arguments) whenever something arrives or it ends.
    """

    __slots__ = ("ended", "limit", "notify", "overflowed", "pending", "session")

    def __init__(self, session: SimSession, limit: int, notify: Callable[[], None]) -> None:
        self.session, self.limit, self.notify = session, limit, notify
        self.pending: deque[pb.MxEvent] = deque()
        self.overflowed = False
        self.ended = False

    def push(self, event: pb.MxEvent) -> bool:
        """Queue ``event``; return ``False`` (and mark ``overflowed``) when the queue is full."""
        if len(self.pending) >= self.limit:
            self.overflowed = True
            self.notify()
            return False
        self.pending.append(event)
        self.notify()
        return True

    def take(self) -> list[pb.MxEvent]:
        """Return and forget every queued event, oldest first (see :meth:`sent`)."""
        events = list(self.pending)
        self.pending.clear()
        return events

    def sent(self, event: pb.MxEvent) -> None:
        """``event`` went out: a stream without a resume point starts after it."""
        self.session.delivered = max(self.session.delivered, event.worker_sequence)

    def end(self) -> None:
        """End the stream in order (session closed, server stopping)."""
        self.ended = True
        self.notify()


class SimSession:
    """One ``OpenSession``: handles, users, the replay ring and the subscribers.

    Args:
        session_id: The id given to the client.
        client_session_name: The name the client gave.
        replay_capacity: Events kept for resumed streams.
        max_items: Most items over all registered servers.
    """

    def __init__(self, session_id: str, client_session_name: str, *, replay_capacity: int, max_items: int) -> None:
        self.session_id, self.client_session_name = session_id, client_session_name
        self.max_items = max_items
        self.servers: dict[int, RegisteredServer] = {}
        self.users: dict[int, str] = {}
        self.ring: deque[pb.MxEvent] = deque(maxlen=replay_capacity)
        self.subscribers: set[Subscriber] = set()
        self.next_sequence = 1
        self.delivered = 0  # highest worker_sequence sent to any subscriber
        self.drained = 0  # highest worker_sequence returned by DrainEvents
        self.kill_after: int | None = None  # streams end abruptly once they delivered this event
        self._next_server_handle = 1
        self._next_item_handle = 1
        self._next_user_id = 1
        self.closed = False
        self.last_used = 0.0  # monotonic seconds of the last call naming the session (set by the driver)

    # -- handles -----------------------------------------------------------------------------

    def register(self, client_name: str) -> RegisteredServer:
        """Register ``client_name``; return the new server (handles count from 1)."""
        server = RegisteredServer(self._next_server_handle, client_name)
        self._next_server_handle += 1
        self.servers[server.server_handle] = server
        return server

    def item_count(self) -> int:
        """Items over every registered server."""
        return sum(len(server.items) for server in self.servers.values())

    def add_item(self, server: RegisteredServer, tag: str, item_context: str = "") -> Item:
        """Add ``tag`` to ``server``; return the new item (handles count from 1, per session)."""
        item = Item(self._next_item_handle, server.server_handle, tag, item_context)
        self._next_item_handle += 1
        server.items[item.item_handle] = item
        return item

    def authenticate(self, user_name: str) -> int:
        """Return a new session-scoped user id (>= 1) for ``user_name``."""
        user_id = self._next_user_id
        self._next_user_id += 1
        self.users[user_id] = user_name
        return user_id

    def advised_items(self) -> Iterable[Item]:
        """Every advised and active item."""
        for server in self.servers.values():
            for item in server.items.values():
                if item.advised and item.active:
                    yield item

    # -- events ------------------------------------------------------------------------------

    def emit(self, event: pb.MxEvent) -> pb.MxEvent:
        """Number ``event`` (``worker_sequence``), keep it in the ring and queue it for every subscriber."""
        event.session_id = self.session_id
        event.worker_sequence = self.next_sequence
        self.next_sequence += 1
        self.ring.append(event)
        for subscriber in list(self.subscribers):
            if not subscriber.push(event):
                self.subscribers.discard(subscriber)
        return event

    def subscribe(
        self, after: int | None, limit: int, notify: Callable[[], None]
    ) -> tuple[Subscriber, pb.ReplayGap | None]:
        """Attach a subscriber, with the retained events after ``after`` already queued.

        ``after=None`` continues after the last event any subscriber was sent. When the
        events right after ``after`` were evicted from the ring, the returned
        :class:`pb.ReplayGap` says where the replay starts.
        """
        start = self.delivered if after is None else after
        subscriber = Subscriber(self, limit, notify)
        subscriber.pending.extend(event for event in self.ring if event.worker_sequence > start)
        gap = None
        last = self.next_sequence - 1
        if after is not None and self.ring and after + 1 < self.ring[0].worker_sequence and after < last:
            gap = pb.ReplayGap(requested_after_sequence=after, oldest_available_sequence=self.ring[0].worker_sequence)
        self.subscribers.add(subscriber)
        return subscriber, gap

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Detach ``subscriber`` (nothing if already detached)."""
        self.subscribers.discard(subscriber)

    def drain(self, max_events: int) -> list[pb.MxEvent]:
        """Return up to ``max_events`` retained events not drained before (``DrainEvents``)."""
        events = [event for event in self.ring if event.worker_sequence > self.drained][:max_events]
        if events:
            self.drained = events[-1].worker_sequence
        return events

    def close(self) -> None:
        """Close the session: every subscriber's stream ends in order."""
        self.closed = True
        for subscriber in list(self.subscribers):
            subscriber.end()
        self.subscribers.clear()


class GatewayModel:
    """Every session and tag value of one simulator.

    Args:
        max_sessions: Most sessions open at once.
        max_items: Most items per session.
        replay_capacity: Events each session keeps for resumed streams.
    """

    def __init__(self, *, max_sessions: int = 256, max_items: int = 100_000, replay_capacity: int = 4096) -> None:
        self.max_sessions, self.max_items, self.replay_capacity = max_sessions, max_items, replay_capacity
        self.sessions: dict[str, SimSession] = {}
        self.tags: dict[str, TagState] = {}
        self.tick_count = 0

    def open_session(self, client_session_name: str) -> SimSession | None:
        """Open a session (``None`` when ``max_sessions`` are open)."""
        if len(self.sessions) >= self.max_sessions:
            return None
        session_id = secrets.token_hex(8)
        session = SimSession(
            session_id, client_session_name, replay_capacity=self.replay_capacity, max_items=self.max_items
        )
        self.sessions[session_id] = session
        return session

    def close_session(self, session_id: str) -> SimSession | None:
        """Close and forget a session (``None`` if unknown)."""
        session = self.sessions.pop(session_id, None)
        if session is not None:
            session.close()
        return session

    def expire(self, now: float, idle: float) -> list[str]:
        """Close the sessions without a stream whose ``last_used`` is over ``idle`` seconds before ``now``.

        Returns:
            The ids of the sessions closed.
        """
        stale = [
            session_id
            for session_id, session in self.sessions.items()
            if not session.subscribers and now - session.last_used > idle
        ]
        for session_id in stale:
            self.close_session(session_id)
        return stale

    def close_all(self) -> None:
        """Close every session (server stopping)."""
        for session_id in list(self.sessions):
            self.close_session(session_id)

    def tag(self, name: str, now: datetime.datetime) -> TagState:
        """The value state of tag ``name`` (created on first use)."""
        state = self.tags.get(name)
        if state is None:
            state = self.tags[name] = TagState(name, now)
        return state

    def data_change(self, item: Item, state: TagState) -> pb.MxEvent:
        """An ``OnDataChange`` event of ``item`` carrying ``state``'s value (not yet emitted)."""
        return pb.MxEvent(
            family=pb.MxEventFamily.ON_DATA_CHANGE,
            server_handle=item.server_handle,
            item_handle=item.item_handle,
            value=state.value,
            quality=QUALITY_GOOD,
            source_timestamp=state.timestamp,
            statuses=[OK_STATUS],
            worker_timestamp=state.timestamp,
            gateway_receive_timestamp=state.timestamp,
            on_data_change=pb.OnDataChangeEvent(quality=QUALITY_GOOD, source_timestamp=state.timestamp),
        )

    def advise(self, session: SimSession, item: Item, now: datetime.datetime, *, supervisory: bool = False) -> None:
        """Advise ``item`` and emit its initial ``OnDataChange``; a ``Fault.KillStream*`` tag arms the kill."""
        item.advised, item.supervisory = True, supervisory
        event = session.emit(self.data_change(item, self.tag(item.tag, now)))
        if faults.kills_stream(item.tag):
            session.kill_after = event.worker_sequence

    def tick(self, now: datetime.datetime) -> int:
        """Change every advised tag once and emit its ``OnDataChange`` to each advising session.

        Returns:
            The number of events emitted.
        """
        self.tick_count += 1
        emitted = 0
        for session in list(self.sessions.values()):
            for item in list(session.advised_items()):
                state = self.tag(item.tag, now)
                state.advance(self.tick_count, now)
                session.emit(self.data_change(item, state))
                emitted += 1
        return emitted
