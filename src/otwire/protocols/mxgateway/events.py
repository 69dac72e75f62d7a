"""What a gateway session reports, in the past tense (``specs/mxgateway/notes.md`` §client "Session logic").

Every event is a frozen dataclass; the raw message stays available where there is one
(``reply``/``event``), so nothing the gateway sent is lost to the caller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from otwire.codecs.mxgateway import pb
from otwire.protocols._base import Event

from .failures import Outcome

__all__ = [
    "CommandCompleted",
    "CommandFailed",
    "EventReceived",
    "EventsLost",
    "ItemAdded",
    "ItemAdvised",
    "ItemRemoved",
    "ItemUnadvised",
    "ReplayGapReported",
    "SequenceRegressed",
    "ServerRegistered",
    "ServerUnregistered",
    "SessionClosed",
    "SessionLost",
    "SessionOpenRefused",
    "SessionOpened",
    "WriteAccepted",
    "WriteCompleted",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpened(Event):
    """``OpenSession`` succeeded (or the session was attached by id: versions 0)."""

    session_id: str
    backend_name: str = ""
    gateway_protocol_version: int = 0
    worker_protocol_version: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpenRefused(Event):
    """``OpenSession`` answered without a session id or with a protocol status other than OK."""

    reply: pb.OpenSessionReply
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClosed(Event):
    """``CloseSession`` answered; ``final_state`` as the gateway reported it."""

    session_id: str
    final_state: pb.SessionState


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionLost(Event):
    """The session is gone without a close (``SESSION_NOT_FOUND``, or the caller reported a loss)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandCompleted(Event):
    """A command reply arrived and judged OK (``failures.judge_reply``)."""

    correlation_id: str
    kind: pb.MxCommandKind
    reply: pb.MxCommandReply


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandFailed(Event):
    """A command reply arrived and reports a failure; ``outcome`` says which layer."""

    correlation_id: str
    kind: pb.MxCommandKind
    reply: pb.MxCommandReply
    outcome: Outcome
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerRegistered(Event):
    """``Register`` gave a server handle."""

    server_handle: int
    client_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerUnregistered(Event):
    """``Unregister`` invalidated the server handle and these item handles with it."""

    server_handle: int
    item_handles: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemAdded(Event):
    """An item handle was given (``AddItem``/``AddItem2``/``AddBufferedItem`` or a bulk entry)."""

    server_handle: int
    item_handle: int
    item_definition: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRemoved(Event):
    """An item handle was released (it may be reused by the gateway later)."""

    server_handle: int
    item_handle: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemAdvised(Event):
    """An item is advised; ``supervisory`` for ``AdviseSupervisory``."""

    server_handle: int
    item_handle: int
    supervisory: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemUnadvised(Event):
    """An item is no longer advised."""

    server_handle: int
    item_handle: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteAccepted(Event):
    """A write (single or bulk entry) was accepted; its result comes as ``OnWriteComplete``."""

    server_handle: int
    item_handle: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteCompleted(Event):
    """``OnWriteComplete`` arrived; ``failed`` when its HRESULT or a status failed."""

    server_handle: int
    item_handle: int
    statuses: tuple[pb.MxStatusProxy, ...]
    failed: bool
    expected: bool
    """A write to this item was waiting for its completion."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventReceived(Event):
    """An ``MxEvent`` of the stream (every family, replay sentinels excluded).

    Attributes:
        event: The message as received.
        failed: Its HRESULT or a status reports a failure.
        known_item: The (server_handle, item_handle) pair is one this session holds.
    """

    event: pb.MxEvent
    failed: bool
    known_item: bool

    @property
    def worker_sequence(self) -> int:
        """The event's ``worker_sequence``."""
        return self.event.worker_sequence

    @property
    def source_timestamp(self) -> dt.datetime | None:
        """The event's source timestamp, if any."""
        return self.event.source_timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsLost(Event):
    """``worker_sequence`` jumped: events ``expected_sequence .. received_sequence - 1`` were dropped."""

    expected_sequence: int
    received_sequence: int

    @property
    def count(self) -> int:
        """How many events are missing."""
        return self.received_sequence - self.expected_sequence


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceRegressed(Event):
    """An event arrived with a ``worker_sequence`` at or below the last one (repeat or restart)."""

    last_sequence: int
    received_sequence: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayGapReported(Event):
    """The gateway could not replay from the requested point: re-read the state of every item.

    The resume point moved to ``oldest_available_sequence - 1``.
    """

    requested_after_sequence: int
    oldest_available_sequence: int
