"""Event sequence tracking: contiguity, gaps, ``ReplayGap`` and the resume point (notes §client "Events").

``worker_sequence`` is contiguous per session. A stream opened with
``after_worker_sequence = N`` replays the events after ``N``; when ``N`` was already evicted
the gateway first sends a sentinel ``MxEvent`` with ``replay_gap`` set (family UNSPECIFIED,
no body), and resuming gap-free means ``after_worker_sequence = oldest_available_sequence - 1``.
"""

from __future__ import annotations

from otwire.codecs.mxgateway import pb
from otwire.protocols._base import Event

from .events import EventsLost, ReplayGapReported, SequenceRegressed

__all__ = ["EventSequence"]


class EventSequence:
    """The last ``worker_sequence`` seen and what each new event says about it.

    Args:
        after: The resume point to start from (``None``: the stream starts wherever the
            gateway starts it, and the first event is accepted as is).
    """

    __slots__ = ("_last", "lost")

    def __init__(self, after: int | None = None) -> None:
        self._last = after
        self.lost = 0
        """Events known to be missing so far (sum of every :class:`EventsLost`)."""

    @property
    def resume_after(self) -> int | None:
        """The ``after_worker_sequence`` to resume with (the last sequence seen), or ``None``."""
        return self._last

    @staticmethod
    def is_sentinel(event: pb.MxEvent) -> bool:
        """True for the ``ReplayGap`` sentinel (it carries no sequence of its own)."""
        return event.replay_gap is not None

    def observe(self, event: pb.MxEvent) -> list[Event]:
        """Account for one event of the stream; returns the gap events it reveals (or none).

        A sentinel moves the resume point to ``oldest_available_sequence - 1``; a jump gives
        :class:`EventsLost`; a repeat or a restart gives :class:`SequenceRegressed` and leaves
        the resume point where it was.
        """
        gap = event.replay_gap
        if gap is not None:
            self._last = max(gap.oldest_available_sequence - 1, 0)
            return [
                ReplayGapReported(
                    requested_after_sequence=gap.requested_after_sequence,
                    oldest_available_sequence=gap.oldest_available_sequence,
                )
            ]
        received = event.worker_sequence
        last = self._last
        if last is not None and received <= last:
            return [SequenceRegressed(last_sequence=last, received_sequence=received)]
        self._last = received
        if last is not None and received > last + 1:
            self.lost += received - last - 1
            return [EventsLost(expected_sequence=last + 1, received_sequence=received)]
        return []
