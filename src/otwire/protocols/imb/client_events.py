"""Events reported by :class:`~otwire.protocols.imb.client.IMBClientConnection` (past tense, STYLE.md 3.2).

Ids: ``event_id`` is always the *client's* own id for an event (the one sent in
icSubscribe/icPublish); ``hub_event_id`` is the id the hub put in the icEvent frame.
``event_name`` is the full, federation-prefixed name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from otwire.codecs.imb import Command, Event, EventBody, EventFlag
from otwire.errors import DecodeError
from otwire.protocols import Event as EngineEvent

__all__ = [
    "ClientIdentified",
    "CommandReceived",
    "ConnectionTerminated",
    "EventReceived",
    "MalformedReceived",
    "StreamAborted",
    "StreamData",
    "StreamEnded",
    "StreamStarted",
    "SubscriptionConfirmed",
    "TerminationReason",
    "TranslationRemoved",
    "UnexpectedStreamData",
    "UnmappedEventReceived",
]


class TerminationReason(enum.Enum):
    """Why a client connection ended."""

    LOCAL_CLOSE = "local close"
    PEER_CLOSED = "peer closed"
    SESSION_ENDED = "hub ended the session"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIdentified(EngineEvent):
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
    event: Event
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
class MalformedReceived(EngineEvent):
    """Octets that could not be used: a framing fault or an undecodable command.

    The connection stays up: the framer resynchronises on the next magic (notes §11)
    and the bad command is skipped.
    """

    reason: str
    """What was wrong."""
    command_code: int | None
    """The command code when the frame itself was sound, else ``None``."""
    error: DecodeError | None = None
    """The decode error, when there is one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionTerminated(EngineEvent):
    """The connection is closed; no input is accepted any more."""

    reason: TerminationReason
    """Why it closed."""
