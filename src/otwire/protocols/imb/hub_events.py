"""States, lifecycle table and events of the IMB3 hub engine (``specs/imb/notes.md`` "Hub behaviour").

One :class:`~otwire.protocols.imb.hub.HubConnection` is one client connection seen
from the hub. Its lifecycle is small: the hub greets every new connection with its
ids (``CONNECTED``), the client may say who it is with icSetClientInfo
(``IDENTIFIED``; optional, every command is accepted in both states), and the
connection ends on EOF, icEndSession, a framing error, a local close or an
output overflow (``CLOSED``). The table below is the whole truth; a missing entry
means the input is refused (``LocalProtocolError``: only a closed connection has
missing entries).

Events are past tense and reported through ``next_event()``. Relayed events are
never reported one by one (that is the hot path); drops and junk are reported
once per ``receive_data`` call, with counts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from otwire.protocols import Event

__all__ = [
    "END_INPUTS",
    "HUB_TRANSITIONS",
    "ClientIdentified",
    "ClientStatus",
    "CommandIgnored",
    "CommandRejected",
    "ConnectionTerminated",
    "EventInfo",
    "EventPublished",
    "EventSubscribed",
    "EventUnpublished",
    "EventUnsubscribed",
    "EventsDropped",
    "HubInput",
    "HubState",
    "JunkSkipped",
    "TerminationReason",
    "VariableChanged",
]


class HubState(enum.Enum):
    """Lifecycle of one client connection inside the hub."""

    CONNECTED = "connected"
    """Accepted; the hub sent icUniqueClientID. No icSetClientInfo yet (the initial state)."""
    IDENTIFIED = "identified"
    """The client sent icSetClientInfo (owner id and name are known)."""
    CLOSED = "closed"
    """The connection is over: no routing to or from it any more."""


class HubInput(enum.Enum):
    """Everything that can happen to a hub connection."""

    RECV_CLIENT_INFO = "receive icSetClientInfo"
    RECV_COMMAND = "receive any other well-framed command (icEvent included)"
    RECV_END_SESSION = "receive icEndSession"
    EOF = "end of stream"
    FRAME_ERROR = "framing error (bad length or trailer)"
    SEND = "send a command to the client"
    TIMER = "timer (heartbeat)"
    CLOSE = "local close"
    OVERFLOW = "output queue over its limit (slow consumer)"


_OPEN = (HubState.CONNECTED, HubState.IDENTIFIED)
_ENDS = (HubInput.RECV_END_SESSION, HubInput.EOF, HubInput.FRAME_ERROR, HubInput.CLOSE, HubInput.OVERFLOW)

#: ``HUB_TRANSITIONS[(state, input)] -> new state``; a missing pair is refused.
HUB_TRANSITIONS: dict[tuple[HubState, HubInput], HubState] = {
    **{(s, i): s for s in _OPEN for i in (HubInput.RECV_COMMAND, HubInput.SEND, HubInput.TIMER)},
    **{(s, i): HubState.CLOSED for s in _OPEN for i in _ENDS},
    (HubState.CONNECTED, HubInput.RECV_CLIENT_INFO): HubState.IDENTIFIED,
    (HubState.IDENTIFIED, HubInput.RECV_CLIENT_INFO): HubState.IDENTIFIED,
}


class TerminationReason(enum.Enum):
    """Why a hub connection ended."""

    LOCAL_CLOSE = "local close"
    """``close()``: the hub sent icEndSession (e.g. on shutdown)."""
    PEER_CLOSED = "peer closed"
    """End of stream without icEndSession (pyimb's way to leave)."""
    END_SESSION = "icEndSession received"
    """The client said goodbye (the C# and Java clients' way to leave)."""
    PROTOCOL_ERROR = "protocol error"
    """A framing error: bad length, wrong trailer, or a frame cut by the end of stream."""
    SLOW_CONSUMER = "slow consumer"
    """The client did not read fast enough: its output queue went over the limit."""


#: The input that ends a connection for each reason.
END_INPUTS: dict[TerminationReason, HubInput] = {
    TerminationReason.LOCAL_CLOSE: HubInput.CLOSE,
    TerminationReason.PEER_CLOSED: HubInput.EOF,
    TerminationReason.END_SESSION: HubInput.RECV_END_SESSION,
    TerminationReason.PROTOCOL_ERROR: HubInput.FRAME_ERROR,
    TerminationReason.SLOW_CONSUMER: HubInput.OVERFLOW,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIdentified(Event):
    """icSetClientInfo arrived (again, possibly: the last one wins)."""

    owner_id: int
    """The client's owner (model) id."""
    owner_name: str
    """The client's owner (model) name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSubscribed(Event):
    """The client subscribed to an event; the translation was queued for it."""

    event_name: str
    """Full event name (``"<federation>.<name>"`` for pyimb)."""
    client_event_id: int
    """The client's own id for the event."""
    hub_event_id: int
    """The hub's id, carried by every event the client receives on it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventUnsubscribed(Event):
    """The client unsubscribed; no more events are routed to it on this name."""

    event_name: str
    """Full event name."""
    hub_event_id: int
    """The hub id the subscription had (its translation was removed with -1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPublished(Event):
    """The client published an event: its icEvents with ``client_event_id`` are now routed."""

    event_name: str
    """Full event name."""
    client_event_id: int
    """The id the client puts in its icEvents."""
    hub_event_id: int
    """The hub's id for the name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventUnpublished(Event):
    """The client unpublished an event (or re-bound its id to another name)."""

    event_name: str
    """Full event name."""
    client_event_id: int
    """The id that is no longer routed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VariableChanged(Event):
    """The client set a global variable; the hub stored it (empty value: removed) and broadcast it."""

    name: str
    """Variable name (prefixed with 8 hex digits for icSetVariablePrefixed)."""
    value: bytes
    """New value (empty: the variable is removed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandIgnored(Event):
    """A well-formed command the hub does not act on (unknown code, monitor, timer, admin...)."""

    command_code: int
    """The command code."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRejected(Event):
    """A well-framed command whose payload is malformed, or that a hub limit refuses.

    The connection stays open (notes §11.16: reject the command, not the connection).
    """

    command_code: int
    """The command code."""
    reason: str
    """What is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsDropped(Event):
    """icEvents on client ids that are not published were dropped (once per ``receive_data``)."""

    count: int
    """Number of dropped icEvents in this input."""
    client_event_ids: tuple[int, ...]
    """The distinct client ids concerned (at most the first 8)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JunkSkipped(Event):
    """Octets that did not start a frame were skipped (once per ``receive_data``)."""

    size: int
    """Octets skipped in this input."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionTerminated(Event):
    """The connection is closed and its subscriptions and publications are gone.

    ``error`` is the framing error for ``PROTOCOL_ERROR`` (also raised from
    ``receive_data``), else ``None``.
    """

    reason: TerminationReason
    """Why it ended."""
    error: Exception | None = None
    """The cause of a ``PROTOCOL_ERROR``."""


# --- snapshots ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientStatus:
    """A snapshot of one connection, for monitoring (what icStatusClient would carry, and more)."""

    handle: int
    """Client handle (small, reused after the client leaves; pyimb ``client_id``)."""
    unique_client_id: int
    """Unique client id (never 0, not reused while the hub runs)."""
    name: str
    """The driver's label (e.g. the peer address)."""
    state: HubState
    """Lifecycle state."""
    owner_id: int | None
    """From icSetClientInfo, or ``None``."""
    owner_name: str | None
    """From icSetClientInfo, or ``None``."""
    connected_at: float
    """``now`` of :meth:`IMBHub.connect` (the driver's clock, seconds)."""
    commands_in: int
    """Frames received (icEvents included)."""
    bytes_in: int
    """Octets received."""
    bytes_out: int
    """Octets handed out by ``data_to_send``."""
    events_dropped: int
    """icEvents received on unpublished ids."""
    queued: int
    """Octets queued and not yet taken by ``data_to_send``."""
    subscriptions: dict[str, int]
    """Subscribed event name -> the client's id for it."""
    publications: dict[str, int]
    """Published event name -> the client's id for it."""
    client_state: int | None
    """The last icSetState value, or ``None``."""
    throttle: int | None
    """The last icSetThrottle value, or ``None`` (recorded, not applied)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventInfo:
    """One event name known to the hub."""

    name: str
    """Full event name."""
    hub_id: int
    """The hub's id for it."""
    subscribers: tuple[int, ...]
    """Handles of the subscribed connections."""
    publishers: tuple[int, ...]
    """Handles of the publishing connections."""
