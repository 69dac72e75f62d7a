"""Typed results of the i3X clients: bulk failures and 206 kept, and the sync ack helper (notes §11).

i3x-client returns plain lists and dicts and drops what went wrong. These are still a
``list``/``dict`` (drop-in), with what went wrong attached:

* :class:`Results` (``list_objects``, ``query_object_types``, ``get_related_objects``...)
  and :class:`ValueResults` (``get_values``): ``failures`` maps each failed id to its
  :class:`~otwire.clients.i3x.I3XError` (``status_code`` from its ``responseDetail``);
  ``response_detail`` is the 206 detail (e.g. a clamped ``maxDepth``), ``partial`` its flag.
* :class:`SyncBatches` (``sync_subscription``): the batches, plus ``response_detail`` and
  ``gap`` when the server's queue overflowed (206).
* :class:`SyncCursor` and :class:`SyncResult` (``sync_changes``): acknowledge what was
  received on the next call, resend the ack after a failure, drop duplicates by sequence
  number, ``-1`` on request (notes §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from otwire.clients.i3x._streams import ClientStats, Gap, GapCause
from otwire.clients.i3x.errors import I3XError
from otwire.codecs.i3x import ResponseDetail, SyncBatch, ValueChange

__all__ = ["Results", "SyncBatches", "SyncCursor", "SyncResult", "ValueResults", "account"]

T = TypeVar("T")


class Results(list[T]):
    """The successful items of a bulk read, in request order, with the failures kept.

    Attributes:
        failures: Failed id -> its error (``NotFoundError`` for 404, ...), in request order.
        response_detail: The 206 ``responseDetail`` of a partial success, or ``None``.
    """

    def __init__(
        self,
        items: list[T] | None = None,
        failures: dict[str, I3XError] | None = None,
        response_detail: ResponseDetail | None = None,
    ) -> None:
        super().__init__(items or ())
        self.failures: dict[str, I3XError] = failures or {}
        self.response_detail = response_detail

    @property
    def partial(self) -> bool:
        """True when the server answered 206 (truncated depth, overflow)."""
        return self.response_detail is not None


class ValueResults(dict[str, Any]):
    """``get_values``: element id -> ``CurrentValue``, with ``failures`` and ``response_detail`` as :class:`Results`."""

    def __init__(
        self,
        values: dict[str, Any] | None = None,
        failures: dict[str, I3XError] | None = None,
        response_detail: ResponseDetail | None = None,
    ) -> None:
        super().__init__(values or {})
        self.failures: dict[str, I3XError] = failures or {}
        self.response_detail = response_detail

    @property
    def partial(self) -> bool:
        """True when the server answered 206 (e.g. a clamped ``maxDepth``)."""
        return self.response_detail is not None


class SyncBatches(list[SyncBatch]):
    """``sync_subscription``: the batches, and the overflow when the server answered 206.

    Attributes:
        response_detail: The 206 ``responseDetail`` (queue overflow), or ``None``.
        gap: The lost range (``OVERFLOW``) on a 206, or ``None``.
    """

    def __init__(
        self, batches: list[SyncBatch], response_detail: ResponseDetail | None = None, gap: Gap | None = None
    ) -> None:
        super().__init__(batches)
        self.response_detail = response_detail
        self.gap = gap

    @property
    def partial(self) -> bool:
        """True when the server's queue overflowed (HTTP 206)."""
        return self.response_detail is not None


def overflow_gap(
    subscription_id: str, acked: int | None, batches: list[SyncBatch], detail: ResponseDetail | None
) -> Gap | None:
    """The ``OVERFLOW`` gap of a sync answer: last ack + 1 .. first returned - 1 (research §6); ``None`` unless 206."""
    if detail is None:
        return None
    return Gap(
        subscription_id=subscription_id,
        cause=GapCause.OVERFLOW,
        after_sequence=acked if acked is not None and acked >= 0 else None,
        next_sequence=min((b.sequence_number for b in batches), default=None),
        detail=detail.detail or detail.title,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    """One ``sync_changes`` call.

    Attributes:
        changes: The new updates, in order, duplicates removed.
        batches: The batches as the server sent them.
        last_sequence_number: What the next call acknowledges (``None``: nothing yet).
        duplicates: Updates dropped because they were delivered before.
        gap: The overflow range on a 206, else ``None``.
        response_detail: The 206 detail, else ``None``.
    """

    changes: list[ValueChange]
    batches: list[SyncBatch]
    last_sequence_number: int | None
    duplicates: int = 0
    gap: Gap | None = None
    response_detail: ResponseDetail | None = None


@dataclass(slots=True)
class SyncCursor:
    """Tracks ``lastSequenceNumber`` across ``/sync`` calls of one subscription (notes §6).

    The ack of what a call returned goes out with the next call (one round trip for both,
    at-least-once delivery). A failed call changes nothing, so the same ack is resent.
    Updates are de-duplicated by their own ``sequenceNumber`` when the server sends one
    (i3x2ua, node-i3x), else by their batch's number. Persist ``last_sequence_number`` to
    resume after a restart: ``SyncCursor(last_sequence_number=saved)``.

    Attributes:
        last_sequence_number: The ack of the next call (``None``: the first call, nothing acked).
        clear_pending: The next call sends ``-1`` (drop the server's whole queue).
    """

    last_sequence_number: int | None = None
    clear_pending: bool = False
    _seen_update: int | None = field(default=None, repr=False)
    _seen_batch: int | None = field(default=None, repr=False)

    @property
    def ack(self) -> int | None:
        """The ``lastSequenceNumber`` to send now (``-1`` after :meth:`clear`)."""
        return -1 if self.clear_pending else self.last_sequence_number

    def clear(self) -> None:
        """Make the next call send ``-1``: the server drops everything queued."""
        self.clear_pending = True

    def accept(
        self, subscription_id: str, batches: list[SyncBatch], detail: ResponseDetail | None = None
    ) -> SyncResult:
        """Take one successful answer: new changes, the next ack, and the overflow gap of a 206."""
        gap = overflow_gap(subscription_id, self.ack, batches, detail)
        changes: list[ValueChange] = []
        duplicates = 0
        for batch in sorted(batches, key=lambda b: b.sequence_number):
            for update in batch.updates:
                if self._is_new(update, batch.sequence_number):
                    changes.append(update)
                else:
                    duplicates += 1
            self._seen_batch = _max(self._seen_batch, batch.sequence_number)
        self.clear_pending = False
        newest = max((b.sequence_number for b in batches), default=None)
        if newest is not None and newest >= 0:
            self.last_sequence_number = _max(self.last_sequence_number, newest)
        return SyncResult(
            changes=changes,
            batches=list(batches),
            last_sequence_number=self.last_sequence_number,
            duplicates=duplicates,
            gap=gap,
            response_detail=detail,
        )

    def _is_new(self, update: ValueChange, batch_sequence: int) -> bool:
        seq = update.sequence_number
        if seq is not None:
            if self._seen_update is not None and seq <= self._seen_update:
                return False
            self._seen_update = seq
            return True
        return self._seen_batch is None or batch_sequence > self._seen_batch


def _max(current: int | None, new: int) -> int:
    return new if current is None or new > current else current


def account(stats: ClientStats, result: object) -> None:
    """Count a call's 206 and failed items in ``stats``."""
    if isinstance(result, Results | ValueResults | SyncBatches) and result.response_detail is not None:
        stats.partial_responses += 1
    if isinstance(result, Results | ValueResults):
        stats.failed_items += len(result.failures)
