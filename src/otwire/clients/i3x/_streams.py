"""What the i3X clients make of a stream's engine events: gaps, resync, resubscribe (notes §11).

Shared by :class:`~otwire.clients.i3x.Client` and :class:`~otwire.clients.i3x.AsyncClient`.
:func:`react` turns one engine event of a subscription's stream into actions; each client
carries them out on its own threads or tasks. Sans-IO: no requests are made here.

* A reconnect (``StreamReconnected``, after a clean end, an idle timeout or a lost
  connection) is a :class:`Gap` (``RECONNECT``): changes made while the stream was down
  may be lost, so the client reads the current values of the registered items and
  delivers those that differ from the last delivered one as :class:`ResyncedChange`,
  before any later live change.
* ``GapDetected`` (a jump in ``sequenceNumber``) is a :class:`Gap` (``SEQUENCE``).
* A 404 on a reconnect (the server forgot the subscription: a restart or the TTL) makes
  the client recreate it with the same items (:class:`Gap` ``RESUBSCRIBED``) when it
  knows them; any other final end is a :class:`~otwire.clients.i3x.StreamError`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from otwire.clients.i3x.errors import StreamError
from otwire.codecs.i3x import CurrentValue, ValueChange
from otwire.protocols import Event
from otwire.protocols.i3x.events import (
    GapDetected,
    StreamEnded,
    StreamEndReason,
    StreamOpened,
    StreamReconnected,
    ValuesChanged,
)

__all__ = [
    "ClientStats",
    "Deliver",
    "Fail",
    "Gap",
    "GapCause",
    "Report",
    "Resubscribe",
    "Resync",
    "ResyncedChange",
    "Watch",
    "react",
    "resynced",
]


class GapCause(enum.Enum):
    """Why changes may be missing (notes §11)."""

    RECONNECT = "reconnect"
    """The stream was down between an end and its reconnect; a resync follows."""
    SEQUENCE = "sequence"
    """``sequenceNumber`` jumped on the stream: ``after_sequence + 1 .. next_sequence - 1`` are lost."""
    OVERFLOW = "overflow"
    """``/sync`` answered 206: the server's queue dropped ``after_sequence + 1 .. next_sequence - 1``."""
    RESUBSCRIBED = "resubscribed"
    """The server forgot the subscription (404 on a reconnect); it was recreated as
    ``new_subscription_id`` with the same items, and a resync follows."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """Changes of a subscription that may never arrive (``on_gap(client, gap)``, notes §11).

    Attributes:
        subscription_id: The id the caller subscribed with (kept after a resubscribe).
        cause: Why (:class:`GapCause`).
        after_sequence: Last ``sequenceNumber`` received (or acknowledged) before the gap, if known.
        next_sequence: First ``sequenceNumber`` after the gap, if known.
        stream_end: Why the stream ended (``RECONNECT``/``RESUBSCRIBED``), else ``None``.
        detail: The server's 206 ``responseDetail`` text (``OVERFLOW``), else ``None``.
        new_subscription_id: The server's id of the recreated subscription (``RESUBSCRIBED``).
    """

    subscription_id: str
    cause: GapCause
    after_sequence: int | None = None
    next_sequence: int | None = None
    stream_end: StreamEndReason | None = None
    detail: str | None = None
    new_subscription_id: str | None = None


class ResyncedChange(ValueChange, frozen=True):
    """A current value read after a reconnect (not a change seen on the stream).

    Delivered to ``on_value_change`` and ``changes()`` like any :class:`ValueChange`,
    after the :class:`Gap` and before later live changes; tell them apart with
    ``isinstance(change, ResyncedChange)``. ``sequence_number`` is ``None``.
    """


def resynced(value: CurrentValue) -> ResyncedChange:
    """A :class:`ResyncedChange` of one ``POST /objects/value`` result."""
    return ResyncedChange(value.element_id, value.value, value.quality, value.timestamp, value.components)


@dataclass(slots=True)
class ClientStats:
    """Counters of a client (``client.stats``); never reset while the client lives."""

    reconnects: int = 0
    """Streams reopened after an end."""
    gaps: int = 0
    """:class:`Gap` reports (every cause)."""
    resyncs: int = 0
    """Resyncs whose current values were delivered."""
    resubscribes: int = 0
    """Subscriptions recreated after the server forgot them."""
    partial_responses: int = 0
    """206 answers (truncated depth, sync queue overflow)."""
    failed_items: int = 0
    """Failed items of bulk reads (kept in the results' ``failures``)."""
    dropped_changes: int = 0
    """Changes a ``changes()`` consumer lost (asyncio client: more than twice ``queue_size`` behind)."""
    pauses: int = 0
    """Times a stream's socket stopped being read for a slow ``changes()`` consumer (asyncio client)."""


@dataclass(slots=True)
class Watch:
    """A subscription whose stream this client runs.

    Attributes:
        key: The id the caller knows (the first server id; kept across resubscribes).
        subscription_id: The server's current id.
        display_name: Sent again when the subscription is recreated.
        items: Registered element id -> ``maxDepth`` (from this client's calls and resyncs).
        stream_id: The engine's stream id, or ``None``.
        opened: A stream of this subscription was open once (a later 404 means "forgotten").
        last_end: The last retried end, reported with the reconnect gap.
        last_sequence: Highest ``sequenceNumber`` received.
        pending: A gap to report (and resync) once the stream opens (after a resubscribe).
        busy: A resync or resubscribe is running (the asyncio client holds live changes).
        held: Live changes held until the running resync delivered its values.
        latest: Element id -> the last delivered ``(timestamp, quality, value)``; a resynced
            value equal to it is not delivered again (nothing was missed for that element).
    """

    key: str
    subscription_id: str
    display_name: str | None = None
    items: dict[str, int] = field(default_factory=dict)
    stream_id: int | None = None
    opened: bool = False
    last_end: StreamEnded | None = None
    last_sequence: int | None = None
    pending: Gap | None = None
    busy: bool = False
    held: list[ValueChange] = field(default_factory=list)
    latest: dict[str, tuple[str, str, Any]] = field(default_factory=dict)

    def fresh(self, changes: list[ValueChange]) -> list[ValueChange]:
        """The resynced values that differ from the last one delivered for their element (and remember them)."""
        new = [c for c in changes if self.latest.get(c.element_id) != (c.timestamp, c.quality, c.value)]
        self.seen(new)
        return new

    def seen(self, changes: list[ValueChange]) -> None:
        """Remember the last delivered ``(timestamp, quality, value)`` per element (bounded by the items)."""
        for change in changes:
            self.latest[change.element_id] = (change.timestamp, change.quality, change.value)

    def reopened(self, subscription_id: str, gap: Gap) -> None:
        """The subscription was recreated as ``subscription_id``: start over, report ``gap`` on open."""
        self.subscription_id = subscription_id
        self.opened = False
        self.last_end = None
        self.last_sequence = None
        self.pending = gap


class Deliver(NamedTuple):
    """Hand these changes to the user."""

    changes: list[ValueChange]


class Report(NamedTuple):
    """Report a gap (nothing to fetch)."""

    gap: Gap


class Resync(NamedTuple):
    """Report a gap, read the current values of the items, deliver them, then later changes."""

    gap: Gap


class Resubscribe(NamedTuple):
    """The server forgot the subscription: recreate it and stream again."""

    gap: Gap


class Fail(NamedTuple):
    """The stream is over for good: report the error."""

    error: StreamError


Action = Deliver | Report | Resync | Resubscribe | Fail


def react(watch: Watch, event: Event, stats: ClientStats, *, resubscribe: bool = True) -> list[Action]:
    """The actions for one engine event of ``watch``'s stream (and update ``watch``/``stats``)."""
    if isinstance(event, ValuesChanged):
        _note_sequences(watch, event.changes)
        watch.seen(event.changes)
        return [Deliver(event.changes)]
    if isinstance(event, GapDetected):
        stats.gaps += 1
        gap = Gap(
            subscription_id=watch.key,
            cause=GapCause.SEQUENCE,
            after_sequence=event.after_sequence,
            next_sequence=event.next_sequence,
        )
        return [Report(gap)]
    if isinstance(event, StreamReconnected):
        stats.reconnects += 1
        end = watch.last_end
        gap = Gap(
            subscription_id=watch.key,
            cause=GapCause.RECONNECT,
            after_sequence=watch.last_sequence,
            stream_end=end.reason if end is not None else None,
        )
        return _opened(watch, stats, gap)
    if isinstance(event, StreamOpened):
        pending, watch.pending = watch.pending, None
        return _opened(watch, stats, pending)
    if isinstance(event, StreamEnded):
        return _ended(watch, event, stats, resubscribe)
    return []


def _opened(watch: Watch, stats: ClientStats, gap: Gap | None) -> list[Action]:
    watch.opened = True
    if gap is None:
        return []
    stats.gaps += 1
    return [Resync(gap)]


def _ended(watch: Watch, event: StreamEnded, stats: ClientStats, resubscribe: bool) -> list[Action]:
    if event.retry_in is not None:
        watch.last_end = event
        return []
    if watch.stream_id == event.stream_id:
        watch.stream_id = None
    if event.reason is StreamEndReason.LOCAL_CLOSE:
        return []
    if resubscribe and event.status == 404 and watch.opened and watch.items:
        end = watch.last_end.reason if watch.last_end is not None else None
        gap = Gap(subscription_id=watch.key, cause=GapCause.RESUBSCRIBED, after_sequence=watch.last_sequence,
                  stream_end=end)  # fmt: skip
        return [Resubscribe(gap)]
    message = f"stream of {watch.key} ended: {event.reason.value}"
    if event.error is not None:
        message += f" ({event.error})"
    return [Fail(StreamError(message, status_code=event.status))]


def _note_sequences(watch: Watch, changes: list[ValueChange]) -> None:
    for change in changes:
        seq = change.sequence_number
        if seq is not None and (watch.last_sequence is None or seq > watch.last_sequence):
            watch.last_sequence = seq
