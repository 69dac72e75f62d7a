"""Subscriptions of the i3X server engine: monitored items, the sync queue, ownership, TTL (notes §5, §6).

Pure bookkeeping, no HTTP: :class:`~otwire.protocols.i3x.server.I3XServer` maps the
results to status codes. Every published change becomes one batch
``{sequenceNumber, updates: [change]}`` with the subscription's next sequence number
(1, 2, 3 ...). A subscription with an open stream gets its changes on the stream
(at-most-once, nothing queued); otherwise they queue for ``/sync``, at most
``queue_size`` batches, the oldest dropped first and the overflow reported once (206).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec

from otwire.codecs.i3x import Subscription, SyncBatch, ValueChange
from otwire.protocols.i3x.space import COMPONENT_OF, AddressSpace

__all__ = ["SubscriptionStore", "Watch"]


@dataclass(eq=False)
class Watch:
    """One subscription: owner, monitored ids (elementId -> maxDepth), queue and stream."""

    subscription_id: str
    client_id: str
    display_name: str | None
    last_active: float
    monitored: dict[str, int] = field(default_factory=dict)
    queue: deque[SyncBatch] = field(default_factory=deque)
    next_sequence: int = 1
    dropped: int = 0  # batches dropped since the last sync
    stream_peer: Any = None  # the peer whose SSE response carries it, if any

    def as_model(self, *, with_items: bool = True) -> Subscription:
        """The wire model (``monitoredObjects`` only when ``with_items``)."""
        items = [{"elementId": k, "maxDepth": v} for k, v in self.monitored.items()] if with_items else []
        return Subscription(self.subscription_id, self.client_id, self.display_name, items)


class SubscriptionStore:
    """Every subscription by id, with the limits of the engine's config.

    Args:
        queue_size: Most batches queued per subscription.
        ttl: Seconds a subscription lives without stream or sync.
        limit: Most subscriptions at once.
    """

    def __init__(self, *, queue_size: int, ttl: float, limit: int) -> None:
        self.queue_size, self.ttl, self.limit = queue_size, ttl, limit
        self._watches: dict[str, Watch] = {}
        self._counter = 0

    def __len__(self) -> int:
        return len(self._watches)

    def create(self, client_id: str, display_name: str | None, now: float) -> Watch | None:
        """Create a subscription, or ``None`` when ``limit`` subscriptions exist."""
        if len(self._watches) >= self.limit:
            return None
        self._counter += 1
        watch = Watch(f"sub-{self._counter}", client_id, display_name, now)
        self._watches[watch.subscription_id] = watch
        return watch

    def owned(self, subscription_id: str, client_id: str) -> Watch | None:
        """The subscription if it exists and belongs to ``client_id`` (else ``None``: 404)."""
        watch = self._watches.get(subscription_id)
        return watch if watch is not None and watch.client_id == client_id else None

    def delete(self, watch: Watch) -> None:
        """Forget a subscription (its queue too)."""
        self._watches.pop(watch.subscription_id, None)

    def watching(self, element_id: str) -> list[Watch]:
        """The subscriptions monitoring ``element_id`` itself."""
        return [w for w in self._watches.values() if element_id in w.monitored]

    def interested(self, space: AddressSpace, element_id: str, max_depth: int) -> list[Watch]:
        """The subscriptions monitoring ``element_id``, or a composition owning it within their ``maxDepth``.

        Compositions are found upwards through ``ComponentOf`` in ``space``, at most ``max_depth``
        levels; a subscription registered with ``maxDepth`` 0 sees every level.
        """
        found = {id(w): w for w in self.watching(element_id)}
        current, distance = element_id, 0
        while distance < max_depth:
            owners = space.related(current, COMPONENT_OF) or []
            if not owners:
                break
            current, distance = owners[0].object.element_id, distance + 1
            for watch in self.watching(current):
                depth = watch.monitored[current]
                if depth == 0 or depth > distance:
                    found.setdefault(id(watch), watch)
        return list(found.values())

    def all(self) -> list[Watch]:
        """Every subscription."""
        return list(self._watches.values())

    def enqueue(self, watch: Watch, change: ValueChange) -> SyncBatch:
        """Number ``change`` and queue it as one batch (dropping the oldest when full)."""
        batch = self.number(watch, change)
        watch.queue.append(batch)
        while len(watch.queue) > self.queue_size:
            watch.queue.popleft()
            watch.dropped += 1
        return batch

    @staticmethod
    def number(watch: Watch, change: ValueChange) -> SyncBatch:
        """Give ``change`` the subscription's next sequence number, as a one-update batch."""
        sequence = watch.next_sequence
        watch.next_sequence += 1
        return SyncBatch(sequence, [msgspec.structs.replace(change, sequence_number=sequence)])

    @staticmethod
    def sync(watch: Watch, last: int | None, now: float) -> tuple[list[SyncBatch], int]:
        """Acknowledge up to ``last`` (``-1``: all; ``None`` or out of range: nothing) and return the rest.

        Returns:
            The batches still queued, oldest first, and how many were dropped since the
            previous sync (the counter is reset).
        """
        watch.last_active = now
        if last == -1:
            watch.queue.clear()
        elif last is not None and 0 <= last < watch.next_sequence:
            while watch.queue and watch.queue[0].sequence_number <= last:
                watch.queue.popleft()
        dropped, watch.dropped = watch.dropped, 0
        return list(watch.queue), dropped

    def expired(self, now: float) -> list[Watch]:
        """Remove and return the subscriptions idle (no stream, no sync) for ``ttl`` seconds."""
        gone = [w for w in self._watches.values() if w.stream_peer is None and now - w.last_active >= self.ttl]
        for watch in gone:
            self.delete(watch)
        return gone

    def next_expiry(self) -> float | None:
        """When the next idle subscription expires, or ``None``."""
        times = [w.last_active + self.ttl for w in self._watches.values() if w.stream_peer is None]
        return min(times) if times else None
