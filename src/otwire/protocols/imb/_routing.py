"""What each command from a client does to the hub's tables (``specs/imb/notes.md`` "Hub behaviour").

:class:`CommandHandlers` is a part of :class:`~otwire.protocols.imb.hub.IMBHub`: one method
per command, called with the sending connection and the decoded command. They change
the tables (:mod:`otwire.protocols.imb._tables`) and queue replies and notifications
through ``_deliver``/``_broadcast``. A :class:`~otwire.protocols.imb._tables.CommandRefused`
they raise (a limit or a rule) becomes a ``CommandRejected`` event; the connection
stays open. A malformed payload is a ``DecodeError`` from :meth:`CommandHandlers.apply_command`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otwire.codecs import imb
from otwire.codecs.imb.types import MAX_PAYLOAD_SIZE
from otwire.errors import EncodeError
from otwire.protocols import TerminationReason
from otwire.protocols.imb._connection import HubConnection
from otwire.protocols.imb._state import HubInput
from otwire.protocols.imb._tables import CommandRefused, EventEntry, RoutingTable, VariableStore
from otwire.protocols.imb.config import IMBHubConfig
from otwire.protocols.imb.events import (
    ClientInfoReceived,
    CommandIgnored,
    CommandRejected,
    EventPublished,
    EventSubscribed,
    EventUnpublished,
    EventUnsubscribed,
    VariableChanged,
    shown_name,
)

__all__ = ["CommandHandlers"]

_NAMES_BUDGET = MAX_PAYLOAD_SIZE - 4  # icEventNames payload minus its count
Members = dict[HubConnection, int]


class CommandHandlers:
    """The command half of the hub: decode a non-event frame, check the limits, change the tables."""

    config: IMBHubConfig
    routes: RoutingTable[HubConnection]
    variables: VariableStore

    def _deliver(self, connection: HubConnection, data: bytes) -> None:
        raise NotImplementedError  # pragma: no cover - IMBHub implements it

    def _broadcast(self, data: bytes) -> None:
        raise NotImplementedError  # pragma: no cover - IMBHub implements it

    # -- dispatch ------------------------------------------------------------------------------

    def apply_command(self, connection: HubConnection, code: int, payload: bytes | bytearray) -> None:
        """Decode one command (not icEvent) and apply it; refusals become ``CommandRejected``.

        Raises:
            DecodeError: the payload is malformed for its command code.
        """
        command = imb.decode_command(code, payload)
        handler = _HANDLERS.get(type(command))
        if handler is None:
            connection._move(HubInput.RECV_COMMAND)
            connection._events.append(CommandIgnored(command_code=code))
            return
        try:
            handler(self, connection, command)
        except (CommandRefused, EncodeError) as exc:
            connection._events.append(CommandRejected(command_code=code, reason=str(exc)))

    # -- limits --------------------------------------------------------------------------------

    def _check_name(self, name: str, what: str = "event name") -> None:
        limit = self.config.max_name_bytes
        if len(name) > limit or len(name.encode()) > limit:
            raise CommandRefused(f"{what} {shown_name(name)!r} longer than {limit} octets (max_name_bytes)")

    def _check_quota(self, connection: HubConnection, name: str) -> None:
        quota = self.config.max_names_per_client
        if len(connection._subs) + len(connection._pubs) < quota or name in connection._subs:
            return
        if any(e.name == name for e in connection._pubs.values()):
            return
        if connection.names_held >= quota:
            raise CommandRefused(f"client holds {quota} event names (max_names_per_client)")

    # -- subscriptions and publications ---------------------------------------------------------

    def _join(self, connection: HubConnection, name: str) -> EventEntry[HubConnection]:
        """Check ``name`` and the client's quota, hold the name's routing entry, apply the command.

        Raises:
            CommandRefused: the name is too long, or a name limit is reached.
        """
        self._check_name(name)
        self._check_quota(connection, name)
        entry = self.routes.acquire(name)
        connection._move(HubInput.RECV_COMMAND)
        return entry

    def _notify(self, receivers: Members, others: Members, actor: HubConnection, make: Callable[[int], Any]) -> None:
        """Tell each receiver but ``actor`` when ``others`` (without the receiver) is empty.

        Called before ``actor`` joins ``others`` (so "was empty": it gains its first
        one) or after it left (so "is empty": it lost its last one).
        """
        for receiver, client_id in receivers.items():
            if receiver is not actor and len(others) - (receiver in others) == 0:
                self._deliver(receiver, imb.encode_command(make(client_id)))

    def _apply_subscribe(self, connection: HubConnection, command: imb.Subscribe) -> None:
        """icSubscribe: route ``event_name`` to the client and send the id translation first.

        Subscribing again is idempotent (the translation is sent again, with the new
        client id if it changed).

        Raises:
            CommandRefused: the name is too long, or a name limit is reached.
        """
        name, client_id = command.event_name, command.event_id
        entry = self._join(connection, name)
        subscribers = entry.subscribers
        new = connection not in subscribers
        if new and self.config.notify:
            self._notify(
                entry.publishers, subscribers, connection, lambda c: imb.Subscribe(event_id=c, event_name=name)
            )
        subscribers[connection] = client_id
        connection._subs[name] = entry
        translation = imb.SetEventIDTranslation(hub_event_id=entry.hub_id, client_event_id=client_id)
        self._deliver(connection, imb.encode_command(translation))
        if new and self.config.notify and _has_other(entry.publishers, connection):
            self._deliver(connection, imb.encode_command(imb.Publish(event_id=client_id, event_name=name)))
        shown = shown_name(name)
        connection._events.append(
            EventSubscribed(event_name=shown, client_event_id=client_id, hub_event_id=entry.hub_id)
        )

    def _leave_subscription(self, connection: HubConnection, entry: EventEntry[HubConnection], *, tell: bool) -> None:
        name = entry.name
        entry.subscribers.pop(connection, None)
        if tell:  # only for a translation this hub created (pyimb fails on an unknown one)
            translation = imb.SetEventIDTranslation(hub_event_id=entry.hub_id, client_event_id=-1)
            self._deliver(connection, imb.encode_command(translation))
        if self.config.notify:
            self._notify(entry.publishers, entry.subscribers, connection, lambda _: imb.Unsubscribe(event_name=name))
        self.routes.release(entry)

    def _apply_unsubscribe(self, connection: HubConnection, command: imb.Unsubscribe) -> None:
        """icUnsubscribe: stop routing at once, then remove the client's translation (-1).

        Raises:
            CommandRefused: the client does not subscribe to the name.
        """
        entry = connection._subs.pop(command.event_name, None)
        if entry is None:
            raise CommandRefused(f"not subscribed to {shown_name(command.event_name)!r}")
        connection._move(HubInput.RECV_COMMAND)
        self._leave_subscription(connection, entry, tell=True)
        connection._events.append(EventUnsubscribed(event_name=shown_name(entry.name), hub_event_id=entry.hub_id))

    def _leave_publication(self, connection: HubConnection, entry: EventEntry[HubConnection]) -> int:
        name = entry.name
        client_id = entry.publishers.pop(connection)
        if connection._pubs.get(client_id) is entry:
            del connection._pubs[client_id]
        if self.config.notify:
            self._notify(entry.subscribers, entry.publishers, connection, lambda _: imb.Unpublish(event_name=name))
        self.routes.release(entry)
        return client_id

    def _apply_publish(self, connection: HubConnection, command: imb.Publish) -> None:
        """icPublish: route the client's icEvents with ``event_id`` to the name's subscribers.

        A client id already bound to another name is re-bound (its old publication
        ends); publishing the same name again with another id replaces the id.

        Raises:
            CommandRefused: the name is too long, or a name limit is reached.
        """
        name, client_id = command.event_name, command.event_id
        entry = self._join(connection, name)
        old = connection._pubs.get(client_id)
        if old is not None and old is not entry:
            self._leave_publication(connection, old)
            connection._events.append(EventUnpublished(event_name=shown_name(old.name), client_event_id=client_id))
        publishers = entry.publishers
        old_id = publishers.get(connection)
        if old_id is not None and old_id != client_id and connection._pubs.get(old_id) is entry:
            del connection._pubs[old_id]
        new = old_id is None
        if new and self.config.notify:
            self._notify(entry.subscribers, publishers, connection, lambda c: imb.Publish(event_id=c, event_name=name))
        publishers[connection] = client_id
        connection._pubs[client_id] = entry
        if new and self.config.notify and _has_other(entry.subscribers, connection):
            self._deliver(connection, imb.encode_command(imb.Subscribe(event_id=client_id, event_name=name)))
        shown = shown_name(name)
        connection._events.append(
            EventPublished(event_name=shown, client_event_id=client_id, hub_event_id=entry.hub_id)
        )

    def _apply_unpublish(self, connection: HubConnection, command: imb.Unpublish) -> None:
        """icUnpublish: stop routing the client's icEvents on the name.

        Raises:
            CommandRefused: the client does not publish the name.
        """
        entry = self.routes.get(command.event_name)
        if entry is None or connection not in entry.publishers:
            raise CommandRefused(f"not publishing {shown_name(command.event_name)!r}")
        connection._move(HubInput.RECV_COMMAND)
        client_id = self._leave_publication(connection, entry)
        connection._events.append(EventUnpublished(event_name=shown_name(entry.name), client_event_id=client_id))

    def _leave_all(self, connection: HubConnection) -> None:
        """Drop every subscription and publication of a closing connection (others are notified)."""
        for entry in list(connection._subs.values()):
            self._leave_subscription(connection, entry, tell=False)
        connection._subs.clear()
        for entry in list(dict.fromkeys(connection._pubs.values())):
            if connection in entry.publishers:
                self._leave_publication(connection, entry)
        connection._pubs.clear()

    # -- variables and queries -------------------------------------------------------------------

    def _apply_set_variable(
        self, connection: HubConnection, command: imb.SetVariable | imb.SetVariablePrefixed
    ) -> None:
        """icSetVariable / icSetVariablePrefixed: store the value and broadcast icSetVariable to all.

        A prefixed name gets 8 upper-case hex digits of the unique client id
        (``var_prefix`` 0) or of the client handle (1) in front [inferred].

        Raises:
            CommandRefused: a variable limit, or a ``var_prefix`` other than 0 and 1.
            EncodeError: the prefixed name makes the frame too large.
        """
        name, value = command.var_name, command.var_value
        if type(command) is imb.SetVariablePrefixed:
            if command.var_prefix not in (0, 1):
                raise CommandRefused(f"var_prefix {command.var_prefix} is not 0 or 1")
            ident = connection.unique_client_id if command.var_prefix == 0 else connection.handle
            name = f"{ident & 0xFFFFFFFF:08X}{name}"
        self._check_name(name, "variable name")
        if len(value) > self.config.max_value_bytes:
            raise CommandRefused(
                f"value of {len(value)} octets exceeds {self.config.max_value_bytes} (max_value_bytes)"
            )
        frame = imb.encode_command(imb.SetVariable(var_name=name, var_value=value))
        self.variables.set(name, value)
        connection._move(HubInput.RECV_COMMAND)
        self._broadcast(frame)
        connection._events.append(VariableChanged(name=shown_name(name), value=value))

    def _answer_all_variables(self, connection: HubConnection, command: imb.AllVariables) -> None:
        """icAllVariables: send every stored variable to the client as icSetVariable."""
        connection._move(HubInput.RECV_COMMAND)
        for name, value in self.variables.items():
            self._deliver(connection, imb.encode_command(imb.SetVariable(var_name=name, var_value=value)))

    def _answer_event_names(self, connection: HubConnection, command: imb.RequestEventNames) -> None:
        """icRequestEventNames: answer icEventNames for the names starting with the filter.

        A trailing ``*`` of the filter is ignored [inferred]. ``filters`` bit 0 keeps
        names with publishers, bit 1 names with subscribers (0 keeps all); the hub
        has no timers, so their count is 0. The answer is cut to fit one frame.
        """
        connection._move(HubInput.RECV_COMMAND)
        prefix = command.event_name_filter.rstrip("*")
        flags = command.filters
        budget = _NAMES_BUDGET
        entries: list[imb.EventNameEntry] = []
        for entry in self.routes:
            pubs, subs = len(entry.publishers), len(entry.subscribers)
            if not entry.name.startswith(prefix) or (flags and not ((flags & 1 and pubs) or (flags & 2 and subs))):
                continue
            size = 16 + len(entry.name.encode())
            if size > budget:
                break
            budget -= size
            entries.append(imb.EventNameEntry(event_name=entry.name, publishers=pubs, subscribers=subs, timers=0))
        self._deliver(connection, imb.encode_command(imb.EventNames(entries=tuple(entries))))

    # -- session commands ------------------------------------------------------------------------

    def _apply_client_info(self, connection: HubConnection, command: imb.SetClientInfo) -> None:
        """icSetClientInfo: record the owner (the last one wins).

        Raises:
            CommandRefused: the owner name is longer than ``max_name_bytes``.
        """
        self._check_name(command.owner_name, "owner name")
        connection._move(HubInput.RECV_CLIENT_INFO)
        connection.owner_id, connection.owner_name = command.owner_id, command.owner_name
        shown = shown_name(command.owner_name)
        connection._events.append(ClientInfoReceived(owner_id=command.owner_id, owner_name=shown))

    def _answer_unique_id(self, connection: HubConnection, command: imb.UniqueClientID) -> None:
        """icUniqueClientID (any payload, pyimb sends 0, 0): answer with the connection's ids."""
        connection._move(HubInput.RECV_COMMAND)
        reply = imb.UniqueClientID(unique_client_id=connection.unique_client_id, client_id=connection.handle)
        self._deliver(connection, imb.encode_command(reply))

    def _apply_end_session(self, connection: HubConnection, command: imb.EndSession) -> None:
        """icEndSession: the client leaves (no reply)."""
        connection._terminate(TerminationReason.END_SESSION, None)

    def _record_setting(self, connection: HubConnection, command: imb.Command) -> None:
        """Commands the hub only records (icSetState, icSetThrottle) or accepts silently."""
        connection._move(HubInput.RECV_COMMAND)
        if type(command) is imb.SetState:
            connection.client_state = int(command.state)
        elif type(command) is imb.SetThrottle:
            connection.throttle = command.throttle


def _has_other(members: Members, connection: HubConnection) -> bool:
    return len(members) - (connection in members) > 0


H = CommandHandlers
#: Command class -> handler; any other command is reported as ``CommandIgnored``.
_HANDLERS: dict[type[Any], Callable[[CommandHandlers, HubConnection, Any], None]] = {
    imb.SetClientInfo: H._apply_client_info,
    imb.UniqueClientID: H._answer_unique_id,
    imb.EndSession: H._apply_end_session,
    imb.HeartBeat: H._record_setting,
    imb.SetState: H._record_setting,
    imb.SetThrottle: H._record_setting,
    imb.SetNoDelay: H._record_setting,
    imb.SetEventNameFilter: H._record_setting,
    imb.Subscribe: H._apply_subscribe,
    imb.Unsubscribe: H._apply_unsubscribe,
    imb.Publish: H._apply_publish,
    imb.Unpublish: H._apply_unpublish,
    imb.SetVariable: H._apply_set_variable,
    imb.SetVariablePrefixed: H._apply_set_variable,
    imb.AllVariables: H._answer_all_variables,
    imb.RequestEventNames: H._answer_event_names,
}
