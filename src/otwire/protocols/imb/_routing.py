"""The hub's shared tables and the commands that change them (subscribe, publish, variables).

The tables (first half) know nothing of the wire; members are keyed by
connection object (any hashable).

* :class:`EventEntry`: one event name, its hub id (``H``), and two maps
  ``member -> client event id``: subscribers (the id ``H`` translates to for
  them) and publishers (the id their icEvents carry).
* :class:`RoutingTable`: ``name -> EventEntry``. A hub id is allocated on the
  first subscribe or publish of a name (the smallest free one, from 0) and freed
  when the last member leaves, so ids stay small and bounded.
* :class:`VariableStore`: ``name -> value`` with a count and a size limit.

The command handlers (second part) are called by
:class:`~otwire.protocols.imb.hub.HubConnection` with itself and the decoded
command; they change the tables and queue replies and notifications through
the hub. A :class:`CommandRefused` they raise becomes a ``CommandRejected``
event; the connection stays open. Last, the receive path of a connection:
:func:`cut_frames` (the framing hot path) and :func:`dispatch` (non-event commands).
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from otwire.codecs import imb
from otwire.codecs.imb.types import END_PAYLOAD_MAGIC_BYTES, MAGIC_BYTES, MAX_PAYLOAD_SIZE
from otwire.errors import DecodeError, EncodeError
from otwire.protocols.imb.hub_events import (
    ClientIdentified,
    CommandIgnored,
    CommandRejected,
    EventPublished,
    EventSubscribed,
    EventUnpublished,
    EventUnsubscribed,
    HubInput,
    TerminationReason,
    VariableChanged,
)

if TYPE_CHECKING:
    from otwire.protocols.imb.hub import HubConnection, IMBHub

__all__ = ["HANDLERS", "CommandRefused", "EventEntry", "RoutingTable", "VariableStore", "cut_frames", "dispatch"]

_INT32 = struct.Struct("<i")
_TRAILER = END_PAYLOAD_MAGIC_BYTES
_NAMES_BUDGET = MAX_PAYLOAD_SIZE - 4  # icEventNames payload minus its count
M = TypeVar("M", bound=Hashable)


class CommandRefused(Exception):
    """A limit or a rule refuses a command (it is rejected, the connection stays open)."""


class EventEntry(Generic[M]):
    """One event name known to the hub.

    Args:
        name: Full event name.
        hub_id: The hub's id for it (non-negative int32).
    """

    __slots__ = ("hub_id", "id_bytes", "name", "publishers", "subscribers")

    def __init__(self, name: str, hub_id: int) -> None:
        self.name = name
        self.hub_id = hub_id
        #: The hub id as the 4 octets patched into relayed icEvents.
        self.id_bytes = _INT32.pack(hub_id)
        #: Subscribed member -> the client's own id for this name.
        self.subscribers: dict[M, int] = {}
        #: Publishing member -> the id its icEvents carry for this name.
        self.publishers: dict[M, int] = {}

    @property
    def unused(self) -> bool:
        """True when nobody subscribes or publishes (the entry can be freed)."""
        return not self.subscribers and not self.publishers

    def __repr__(self) -> str:
        return (
            f"EventEntry({self.name!r}, hub_id={self.hub_id}, "
            f"subscribers={len(self.subscribers)}, publishers={len(self.publishers)})"
        )


class RoutingTable(Generic[M]):
    """Event names and hub ids, with at most ``max_names`` names at once.

    Args:
        max_names: Most distinct event names subscribed or published at once.

    Raises:
        ValueError: ``max_names`` is not positive.
    """

    def __init__(self, max_names: int) -> None:
        if max_names < 1:
            raise ValueError(f"max_names={max_names} must be >= 1")
        self.max_names = max_names
        self._names: dict[str, EventEntry[M]] = {}
        self._free: list[int] = []  # freed hub ids (a heap: smallest first)
        self._next = 0  # next never-used hub id

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[EventEntry[M]]:
        return iter(list(self._names.values()))

    def get(self, name: str) -> EventEntry[M] | None:
        """Return the entry of ``name``, or ``None`` if nobody uses it."""
        return self._names.get(name)

    def acquire(self, name: str) -> EventEntry[M]:
        """Return the entry of ``name``, creating it (and its hub id) if needed.

        Raises:
            CommandRefused: ``name`` is new and ``max_names`` names exist.
        """
        entry = self._names.get(name)
        if entry is None:
            if len(self._names) >= self.max_names:
                raise CommandRefused(f"too many event names (limit {self.max_names})")
            if self._free:
                hub_id = heapq.heappop(self._free)
            else:
                hub_id, self._next = self._next, self._next + 1
            entry = self._names[name] = EventEntry(name, hub_id)
        return entry

    def release(self, entry: EventEntry[M]) -> bool:
        """Forget ``entry`` and free its hub id if nobody uses it any more.

        Returns:
            True if the entry was freed.
        """
        if not entry.unused or self._names.get(entry.name) is not entry:
            return False
        del self._names[entry.name]
        heapq.heappush(self._free, entry.hub_id)
        return True


class VariableStore:
    """Global variables: ``name -> value``, bounded in count and in total octets.

    Args:
        max_count: Most variables stored.
        max_bytes: Most octets of names (UTF-8) and values together.

    Raises:
        ValueError: a limit is not positive.
    """

    def __init__(self, max_count: int, max_bytes: int) -> None:
        if max_count < 1 or max_bytes < 1:
            raise ValueError(f"variable limits must be >= 1, got {max_count} and {max_bytes}")
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._values: dict[str, bytes] = {}
        self._size = 0

    def __len__(self) -> int:
        return len(self._values)

    @property
    def size(self) -> int:
        """Octets stored (names and values)."""
        return self._size

    def items(self) -> list[tuple[str, bytes]]:
        """Return a snapshot of every ``(name, value)``, in insertion order."""
        return list(self._values.items())

    def get(self, name: str) -> bytes | None:
        """Return the value of ``name``, or ``None``."""
        return self._values.get(name)

    def set(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``; an empty value removes the variable.

        Raises:
            CommandRefused: storing it would exceed ``max_count`` or ``max_bytes``
                (nothing is changed then).
        """
        old = self._values.get(name)
        key_size = len(name.encode())
        old_size = 0 if old is None else key_size + len(old)
        if not value:
            if old is not None:
                del self._values[name]
                self._size -= old_size
            return
        new_size = key_size + len(value)
        if old is None and len(self._values) >= self.max_count:
            raise CommandRefused(f"too many variables (limit {self.max_count})")
        if self._size - old_size + new_size > self.max_bytes:
            raise CommandRefused(f"variables would exceed {self.max_bytes} octets")
        self._values[name] = value
        self._size += new_size - old_size


# --- command handlers: what a subscribe, publish, ... does to the tables ------------------


def _notify(
    hub: IMBHub,
    receivers: dict[HubConnection, int],
    others: dict[HubConnection, int],
    actor: HubConnection,
    make: Callable[[int], imb.Command],
) -> None:
    """Tell each receiver but ``actor`` when ``others`` (without the receiver) is empty.

    Called before ``actor`` joins ``others`` (so "was empty": it gains its first
    one) or after it left (so "is empty": it lost its last one).
    """
    for receiver, client_id in receivers.items():
        if receiver is not actor and len(others) - (receiver in others) == 0:
            hub._deliver(receiver, imb.encode_command(make(client_id)))


def _has_other(members: dict[HubConnection, int], connection: HubConnection) -> bool:
    return len(members) - (connection in members) > 0


def subscribe(connection: HubConnection, command: imb.Subscribe) -> None:
    """icSubscribe: route ``event_name`` to the client and send the id translation first.

    Subscribing again is idempotent (the translation is sent again, with the new
    client id if it changed).

    Raises:
        CommandRefused: too many event names.
    """
    hub, name, client_id = connection._hub, command.event_name, command.event_id
    entry = hub.routes.acquire(name)
    subscribers = entry.subscribers
    new = connection not in subscribers
    if new and hub.notify:
        _notify(
            hub, entry.publishers, subscribers, connection, lambda cid: imb.Subscribe(event_id=cid, event_name=name)
        )
    subscribers[connection] = client_id
    connection._subs[name] = entry
    translation = imb.SetEventIDTranslation(hub_event_id=entry.hub_id, client_event_id=client_id)
    hub._deliver(connection, imb.encode_command(translation))
    if new and hub.notify and _has_other(entry.publishers, connection):
        hub._deliver(connection, imb.encode_command(imb.Publish(event_id=client_id, event_name=name)))
    connection._events.append(EventSubscribed(event_name=name, client_event_id=client_id, hub_event_id=entry.hub_id))


def _leave_subscription(connection: HubConnection, entry: EventEntry[HubConnection], *, tell: bool) -> None:
    hub, name = connection._hub, entry.name
    entry.subscribers.pop(connection, None)
    if tell:  # only for a translation this hub created (pyimb fails on an unknown one)
        translation = imb.SetEventIDTranslation(hub_event_id=entry.hub_id, client_event_id=-1)
        hub._deliver(connection, imb.encode_command(translation))
    if hub.notify:
        _notify(hub, entry.publishers, entry.subscribers, connection, lambda _: imb.Unsubscribe(event_name=name))
    hub.routes.release(entry)


def unsubscribe(connection: HubConnection, command: imb.Unsubscribe) -> None:
    """icUnsubscribe: stop routing at once, then remove the client's translation (-1).

    Raises:
        CommandRefused: the client does not subscribe to the name.
    """
    entry = connection._subs.pop(command.event_name, None)
    if entry is None:
        raise CommandRefused(f"not subscribed to {command.event_name!r}")
    _leave_subscription(connection, entry, tell=True)
    connection._events.append(EventUnsubscribed(event_name=entry.name, hub_event_id=entry.hub_id))


def _leave_publication(connection: HubConnection, entry: EventEntry[HubConnection]) -> int:
    hub, name = connection._hub, entry.name
    client_id = entry.publishers.pop(connection)
    if connection._pubs.get(client_id) is entry:
        del connection._pubs[client_id]
    if hub.notify:
        _notify(hub, entry.subscribers, entry.publishers, connection, lambda _: imb.Unpublish(event_name=name))
    hub.routes.release(entry)
    return client_id


def publish(connection: HubConnection, command: imb.Publish) -> None:
    """icPublish: route the client's icEvents with ``event_id`` to the name's subscribers.

    A client id already bound to another name is re-bound (its old publication
    ends); publishing the same name again with another id replaces the id.

    Raises:
        CommandRefused: too many event names.
    """
    hub, name, client_id = connection._hub, command.event_name, command.event_id
    entry = hub.routes.acquire(name)
    old = connection._pubs.get(client_id)
    if old is not None and old is not entry:
        _leave_publication(connection, old)
        connection._events.append(EventUnpublished(event_name=old.name, client_event_id=client_id))
    publishers = entry.publishers
    old_id = publishers.get(connection)
    if old_id is not None and old_id != client_id and connection._pubs.get(old_id) is entry:
        del connection._pubs[old_id]
    new = old_id is None
    if new and hub.notify:
        _notify(hub, entry.subscribers, publishers, connection, lambda cid: imb.Publish(event_id=cid, event_name=name))
    publishers[connection] = client_id
    connection._pubs[client_id] = entry
    if new and hub.notify and _has_other(entry.subscribers, connection):
        hub._deliver(connection, imb.encode_command(imb.Subscribe(event_id=client_id, event_name=name)))
    connection._events.append(EventPublished(event_name=name, client_event_id=client_id, hub_event_id=entry.hub_id))


def unpublish(connection: HubConnection, command: imb.Unpublish) -> None:
    """icUnpublish: stop routing the client's icEvents on the name.

    Raises:
        CommandRefused: the client does not publish the name.
    """
    entry = connection._hub.routes.get(command.event_name)
    if entry is None or connection not in entry.publishers:
        raise CommandRefused(f"not publishing {command.event_name!r}")
    client_id = _leave_publication(connection, entry)
    connection._events.append(EventUnpublished(event_name=entry.name, client_event_id=client_id))


def leave_all(connection: HubConnection) -> None:
    """Drop every subscription and publication of a closing connection (others are notified)."""
    for entry in list(connection._subs.values()):
        _leave_subscription(connection, entry, tell=False)
    connection._subs.clear()
    for entry in list(dict.fromkeys(connection._pubs.values())):
        if connection in entry.publishers:
            _leave_publication(connection, entry)
    connection._pubs.clear()


def set_variable(connection: HubConnection, command: imb.SetVariable | imb.SetVariablePrefixed) -> None:
    """icSetVariable / icSetVariablePrefixed: store the value and broadcast icSetVariable to all.

    A prefixed name gets 8 upper-case hex digits of the unique client id
    (``var_prefix`` 0) or of the client handle (1) in front [inferred].

    Raises:
        CommandRefused: a variable limit, or a ``var_prefix`` other than 0 and 1.
        EncodeError: the prefixed name makes the frame too large.
    """
    name = command.var_name
    if type(command) is imb.SetVariablePrefixed:
        if command.var_prefix not in (0, 1):
            raise CommandRefused(f"var_prefix {command.var_prefix} is not 0 or 1")
        ident = connection.unique_client_id if command.var_prefix == 0 else connection.handle
        name = f"{ident & 0xFFFFFFFF:08X}{name}"
    frame = imb.encode_command(imb.SetVariable(var_name=name, var_value=command.var_value))
    hub = connection._hub
    hub.variables.set(name, command.var_value)
    hub._broadcast(frame)
    connection._events.append(VariableChanged(name=name, value=command.var_value))


def all_variables(connection: HubConnection, command: imb.AllVariables) -> None:
    """icAllVariables: send every stored variable to the client as icSetVariable."""
    hub = connection._hub
    for name, value in hub.variables.items():
        hub._deliver(connection, imb.encode_command(imb.SetVariable(var_name=name, var_value=value)))


def event_names(connection: HubConnection, command: imb.RequestEventNames) -> None:
    """icRequestEventNames: answer icEventNames for the names starting with the filter.

    A trailing ``*`` of the filter is ignored [inferred]. ``filters`` bit 0 keeps
    names with publishers, bit 1 names with subscribers (0 keeps all); the hub
    has no timers, so their count is 0. The answer is cut to fit one frame.
    """
    prefix = command.event_name_filter.rstrip("*")
    flags = command.filters
    budget = _NAMES_BUDGET
    entries: list[imb.EventNameEntry] = []
    for entry in connection._hub.routes:
        pubs, subs = len(entry.publishers), len(entry.subscribers)
        if not entry.name.startswith(prefix) or (flags and not ((flags & 1 and pubs) or (flags & 2 and subs))):
            continue
        size = 16 + len(entry.name.encode())
        if size > budget:
            break
        budget -= size
        entries.append(imb.EventNameEntry(event_name=entry.name, publishers=pubs, subscribers=subs, timers=0))
    connection._hub._deliver(connection, imb.encode_command(imb.EventNames(entries=tuple(entries))))


# --- session commands ----------------------------------------------------------------------


def client_info(connection: HubConnection, command: imb.SetClientInfo) -> None:
    """icSetClientInfo: record the owner (the last one wins)."""
    connection._move(HubInput.RECV_CLIENT_INFO)
    connection.owner_id, connection.owner_name = command.owner_id, command.owner_name
    connection._events.append(ClientIdentified(owner_id=command.owner_id, owner_name=command.owner_name))


def unique_id(connection: HubConnection, command: imb.UniqueClientID) -> None:
    """icUniqueClientID (any payload, pyimb sends 0, 0): answer with the connection's ids."""
    reply = imb.UniqueClientID(unique_client_id=connection.unique_client_id, client_id=connection.handle)
    connection._hub._deliver(connection, imb.encode_command(reply))


def end_session(connection: HubConnection, command: imb.EndSession) -> None:
    """icEndSession: the client leaves (no reply)."""
    connection._terminate(TerminationReason.END_SESSION, None)


def record(
    connection: HubConnection,
    command: imb.HeartBeat | imb.SetState | imb.SetThrottle | imb.SetNoDelay | imb.SetEventNameFilter,
) -> None:
    """Commands the hub only records (icSetState, icSetThrottle) or accepts silently."""
    if type(command) is imb.SetState:
        connection.client_state = int(command.state)
    elif type(command) is imb.SetThrottle:
        connection.throttle = command.throttle


#: Command class -> handler; any other command is reported as ``CommandIgnored``.
HANDLERS: dict[type[Any], Callable[[HubConnection, Any], None]] = {
    imb.SetClientInfo: client_info,
    imb.UniqueClientID: unique_id,
    imb.EndSession: end_session,
    imb.HeartBeat: record,
    imb.SetState: record,
    imb.SetThrottle: record,
    imb.SetNoDelay: record,
    imb.SetEventNameFilter: record,
    imb.Subscribe: subscribe,
    imb.Unsubscribe: unsubscribe,
    imb.Publish: publish,
    imb.Unpublish: unpublish,
    imb.SetVariable: set_variable,
    imb.SetVariablePrefixed: set_variable,
    imb.AllVariables: all_variables,
    imb.RequestEventNames: event_names,
}


# --- framing and dispatch: the receive path of HubConnection -------------------------------


def cut_frames(rx: bytearray, limit: int) -> tuple[list[bytearray], int, DecodeError | None]:
    """Cut whole frames off the front of ``rx``: ``(frames, junk octets, framing error)``.

    Well-formed frames are cut here directly (the hot path). At the first
    octet that is not the start of a well-formed frame, the rest goes through
    the codec's :class:`~otwire.codecs.imb.IMBFramer` (junk, resync, framing
    errors); the octets it keeps waiting for stay in ``rx``. ``limit`` is the
    largest payload accepted (octets); after a framing error ``rx`` is emptied.
    """
    frames: list[bytearray] = []
    pos, end = 0, len(rx)
    irregular = False
    while pos < end:
        rest = end - pos
        if rest < 16:  # a frame header in progress, or junk
            irregular = not (MAGIC_BYTES.startswith(rx[pos:end]) if rest < 8 else rx.startswith(MAGIC_BYTES, pos))
            break
        if not rx.startswith(MAGIC_BYTES, pos):
            irregular = True
            break
        length = _INT32.unpack_from(rx, pos + 12)[0]
        size = length + 20 if length else 16
        if not 0 <= length <= limit or (length and rest >= size and not rx.startswith(_TRAILER, pos + size - 4)):
            irregular = True
            break
        if rest < size:
            break
        frames.append(rx[pos : pos + size])
        pos += size
    junk, error = 0, None
    if irregular:
        framer = imb.IMBFramer(max_payload_size=limit)
        framer.receive_data(bytes(rx[pos:end]))
        for item in framer:
            if type(item) is imb.FrameItem:
                frames.append(bytearray(item.data))
            elif type(item) is imb.Junk:
                junk += len(item.data)
            elif isinstance(item, imb.FrameError):
                error = item.error
                break
        pos = end if error is not None else end - framer.buffered
    del rx[:pos]
    return frames, junk, error


def dispatch(connection: HubConnection, raw: bytearray) -> None:
    """Decode one command frame (not icEvent) and apply it; problems become events, never errors."""
    code = _INT32.unpack_from(raw, 8)[0]
    try:
        command = imb.decode_command(code, raw[16 : len(raw) - 4] if len(raw) > 16 else b"")
    except DecodeError as exc:
        connection._events.append(CommandRejected(command_code=code, reason=exc.reason))
        return
    handler = HANDLERS.get(type(command))
    if handler is None:
        connection._events.append(CommandIgnored(command_code=code))
        return
    try:
        handler(connection, command)
    except (CommandRefused, EncodeError) as exc:
        connection._events.append(CommandRejected(command_code=code, reason=str(exc)))
