"""Events of the IMB3 engines (past tense, STYLE.md 3.2) and the hub's monitoring snapshots.

Client events (:class:`~otwire.protocols.imb.client.IMBClientConnection`): ``event_id``
is always the *client's* own id for an event (the one sent in icSubscribe/icPublish);
``hub_event_id`` is the id the hub put in the icEvent frame. ``event_name`` is the
full, federation-prefixed name.

Hub events (:class:`~otwire.protocols.imb.hub.IMBHub`, reported per peer): relayed
icEvents are never reported one by one (that is the hot path); drops and junk are
reported once per ``receive_data`` call, with counts. Names in events are cut to
:data:`NAME_SHOWN` characters (see :func:`shown_name`).

Both engines end with the shared :class:`~otwire.protocols.ConnectionTerminated`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from otwire.codecs.imb import Command, EventBody, EventCommand, EventFlag
from otwire.protocols import ConnectionTerminated, TerminationReason
from otwire.protocols import Event as EngineEvent
from otwire.protocols.imb._state import HubPeerState

__all__ = [
    "NAME_SHOWN",
    "ClientInfoReceived",
    "ClientStatus",
    "CommandIgnored",
    "CommandReceived",
    "CommandRejected",
    "ConnectionTerminated",
    "EventInfo",
    "EventPublished",
    "EventReceived",
    "EventSubscribed",
    "EventUnpublished",
    "EventUnsubscribed",
    "EventsDropped",
    "JunkSkipped",
    "StreamAborted",
    "StreamData",
    "StreamEnded",
    "StreamStarted",
    "SubscriptionConfirmed",
    "TerminationReason",
    "TranslationIgnored",
    "TranslationRemoved",
    "UnexpectedStreamData",
    "UniqueClientIDReceived",
    "UnmappedEventReceived",
    "VariableChanged",
    "shown_name",
]

#: Most characters of a peer-chosen name (event, variable, owner) carried in an event or log line.
NAME_SHOWN = 100


def shown_name(name: str) -> str:
    """Return ``name`` cut to :data:`NAME_SHOWN` characters, marked ``...(+N chars)`` when cut."""
    if len(name) <= NAME_SHOWN:
        return name
    return f"{name[:NAME_SHOWN]}...(+{len(name) - NAME_SHOWN} chars)"


# --- client events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UniqueClientIDReceived(EngineEvent):
    """The hub sent icUniqueClientID: the ids it gave this connection (notes §6.3)."""

    unique_client_id: int
    """The connection's unique client id (0 means "not assigned" to pyimb)."""
    client_id: int
    """The connection's client handle (pyimb ``client_id``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionConfirmed(EngineEvent):
    """The hub sent icSetEventIDTranslation for one of this client's events (notes §6.4)."""

    event_id: int
    """The client's id for the event."""
    event_name: str | None
    """Full event name, or ``None`` when the hub mapped an id this client never bound."""
    hub_event_id: int
    """The id the hub will use in icEvent frames for this event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationRemoved(EngineEvent):
    """The hub sent icSetEventIDTranslation with a negative client id: the mapping is gone."""

    hub_event_id: int
    """The hub's id whose mapping was removed."""
    event_id: int | None
    """The client id it mapped to, or ``None`` when there was no mapping."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventReceived(EngineEvent):
    """An icEvent for one of this client's events, any kind except the stream kinds.

    An unknown kind arrives here too, with an ``UnknownEvent`` body.
    """

    event_id: int
    """The client's id for the event."""
    event_name: str
    """Full event name."""
    hub_event_id: int
    """The id in the frame."""
    tick: int
    """The frame's tick field (0 from every public client)."""
    flags: EventFlag
    """Bits 8..31 of the kind field (``EventFlag.PRIORITY``)."""
    body: EventBody
    """The decoded body; its class (``event_kind``) gives the kind."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmappedEventReceived(EngineEvent):
    """An icEvent on a hub id this client has no translation for (pyimb drops the connection)."""

    hub_event_id: int
    """The id in the frame."""
    event: EventCommand
    """The event as decoded (``event.event_id == hub_event_id``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStarted(EngineEvent):
    """An ekStreamHeader opened a stream on an event."""

    event_id: int
    """The client's id for the event."""
    event_name: str
    """Full event name."""
    stream_id: int
    """The sender's stream id (tells interleaved streams apart)."""
    stream_name: str
    """The stream's name (usually a file name)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamData(EngineEvent):
    """A chunk of an open stream (from an ekStreamBody, or a non-empty ekStreamTail)."""

    event_id: int
    """The client's id for the event."""
    event_name: str
    """Full event name."""
    stream_id: int
    """The stream id."""
    stream_name: str
    """The name from the stream's header."""
    offset: int
    """Position of ``data`` in the stream (octets)."""
    data: bytes
    """The chunk."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEnded(EngineEvent):
    """An ekStreamTail closed a stream (its data, if any, came just before as ``StreamData``)."""

    event_id: int
    """The client's id for the event."""
    event_name: str
    """Full event name."""
    stream_id: int
    """The stream id."""
    stream_name: str
    """The name from the stream's header."""
    size: int
    """Total octets received for the stream."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamAborted(EngineEvent):
    """An open stream will never end: a new header reused its id, too many were open, or the connection closed."""

    event_id: int
    """The client's id for the event."""
    event_name: str
    """Full event name."""
    stream_id: int
    """The stream id."""
    stream_name: str
    """The name from the stream's header."""
    size: int
    """Octets received before it was aborted."""
    reason: str
    """Why, e.g. ``"connection closed"``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnexpectedStreamData(EngineEvent):
    """An ekStreamBody or ekStreamTail for a stream that is not open (pyimb drops the connection)."""

    event_id: int
    """The client's id for the event."""
    event_name: str
    """Full event name."""
    stream_id: int
    """The stream id in the chunk."""
    data: bytes
    """The chunk."""
    last: bool
    """True for an ekStreamTail."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandReceived(EngineEvent):
    """A hub command the engine does not act on: notifications (icSubscribe, icPublish, ...),
    icSetVariable, icTimeStamp, icEventNames, monitor commands, ``UnknownCommand``, ..."""

    command: Command
    """The decoded command."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationIgnored(EngineEvent):
    """An icSetEventIDTranslation the client did not record (its ``max_translations`` is reached)."""

    hub_event_id: int
    """The hub's id in the command."""
    event_id: int
    """The client id it would have mapped to."""
    reason: str
    """Why it was ignored."""


# --- hub events
@dataclass(frozen=True, slots=True, kw_only=True)
class ClientInfoReceived(EngineEvent):
    """icSetClientInfo arrived (again, possibly: the last one wins)."""

    owner_id: int
    """The client's owner (model) id."""
    owner_name: str
    """The client's owner (model) name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSubscribed(EngineEvent):
    """The client subscribed to an event; the translation was queued for it."""

    event_name: str
    """Full event name (``"<federation>.<name>"`` for pyimb)."""
    client_event_id: int
    """The client's own id for the event."""
    hub_event_id: int
    """The hub's id, carried by every event the client receives on it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventUnsubscribed(EngineEvent):
    """The client unsubscribed; no more events are routed to it on this name."""

    event_name: str
    """Full event name."""
    hub_event_id: int
    """The hub id the subscription had (its translation was removed with -1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPublished(EngineEvent):
    """The client published an event: its icEvents with ``client_event_id`` are now routed."""

    event_name: str
    """Full event name."""
    client_event_id: int
    """The id the client puts in its icEvents."""
    hub_event_id: int
    """The hub's id for the name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventUnpublished(EngineEvent):
    """The client unpublished an event (or re-bound its id to another name)."""

    event_name: str
    """Full event name."""
    client_event_id: int
    """The id that is no longer routed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VariableChanged(EngineEvent):
    """The client set a global variable; the hub stored it (empty value: removed) and broadcast it."""

    name: str
    """Variable name (prefixed with 8 hex digits for icSetVariablePrefixed)."""
    value: bytes = field(repr=False)
    """New value (empty: the variable is removed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandIgnored(EngineEvent):
    """A well-formed command the hub does not act on (unknown code, monitor, timer, admin...)."""

    command_code: int
    """The command code."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRejected(EngineEvent):
    """A well-framed command whose payload is malformed, or that a hub limit refuses.

    The connection stays open (notes §11.16: reject the command, not the connection).
    """

    command_code: int
    """The command code."""
    reason: str
    """What is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsDropped(EngineEvent):
    """icEvents on client ids that are not published were dropped (once per ``receive_data``)."""

    count: int
    """Number of dropped icEvents in this input."""
    client_event_ids: tuple[int, ...]
    """The distinct client ids concerned (at most the first 8)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JunkSkipped(EngineEvent):
    """Octets that did not start a frame were skipped (once per ``receive_data``)."""

    size: int
    """Octets skipped in this input."""


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
    state: HubPeerState
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
