"""One SSE stream of the i3X client engine: lifecycle, parsing, gaps, backoff (notes §5).

A :class:`StreamRecord` outlives its connections: each (re)connect sends
``POST {base}/subscriptions/stream`` on a fresh connection; the body goes through
:class:`~otwire.protocols.i3x._client_http.BodyDecoder` (gzip), ``SSEParser`` and
``map_event``. The lifecycle is :data:`otwire.protocols.i3x._state.STREAM_TRANSITIONS`.
"""

from __future__ import annotations

import random
from typing import ClassVar

from otwire.codecs.i3x import SSEParser, StreamClosed, StreamRequest, StreamUpdates, encode, map_event
from otwire.protocols import Event
from otwire.protocols._base import EngineBase
from otwire.protocols.i3x._client_http import BodyDecoder, header
from otwire.protocols.i3x._state import STREAM_LOCAL_INPUTS, STREAM_TRANSITIONS, StreamInput, StreamState
from otwire.protocols.i3x.config import I3XClientConfig
from otwire.protocols.i3x.events import (
    GapDetected,
    StreamEnded,
    StreamEndReason,
    StreamOpened,
    StreamReconnected,
    ValuesChanged,
)

__all__ = ["RETRYABLE_STATUS", "StreamRecord", "retry_after"]

#: HTTP statuses after which a stream is reconnected (others end it for good).
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_FINAL = (StreamEndReason.CLOSE_EVENT, StreamEndReason.LOCAL_CLOSE, StreamEndReason.TAKEN_OVER)


def retry_after(headers: list[tuple[bytes, bytes]]) -> float | None:
    """``Retry-After`` in seconds when it is a delta (an HTTP date needs a wall clock: ignored)."""
    value = header(headers, b"retry-after")
    if value is None or not value.strip().isdigit():
        return None
    return float(int(value))


class StreamRecord(EngineBase[StreamState, StreamInput]):
    """State of one stream across reconnects.

    Attributes:
        stream_id: The engine-chosen id.
        subscription_id: The subscription streamed.
        client_id: The ``clientId`` sent.
        conn_id: The current connection, or ``None``.
        deadline: When the state's timer expires (connect/response timeout, idle
            timeout, reconnect time), or ``None``.
        last_sequence: Highest ``sequenceNumber`` seen (kept across reconnects).
        failures: Ends since the last successful open (drives the backoff).
        reconnects: Reconnect attempts since the last open.
        paused: The driver stopped reading (no idle timeout meanwhile).
    """

    CLOSED: ClassVar[StreamState] = StreamState.CLOSED
    LOCAL_INPUTS = STREAM_LOCAL_INPUTS

    def __init__(self, stream_id: int, subscription_id: str, client_id: str | None, config: I3XClientConfig) -> None:
        super().__init__(StreamState.CONNECTING, STREAM_TRANSITIONS)
        self.stream_id = stream_id
        self.subscription_id = subscription_id
        self.client_id = client_id
        self.config = config
        self.conn_id: int | None = None
        self.deadline: float | None = None
        self.last_sequence: int | None = None
        self.failures = 0
        self.reconnects = 0
        self.opened_once = False
        self.opened_at: float | None = None
        self.paused = False
        self.last_end: StreamEndReason | None = None
        self.sse_retry: int | None = None
        self._parser = SSEParser(max_line=config.max_event_size, max_data=config.max_event_size)
        self._decoder = BodyDecoder(None, None)

    def move(self, event: StreamInput) -> StreamState:
        """Apply one input through the table (see ``EngineBase._move``)."""
        return self._move(event)

    def request(self) -> tuple[bytes, list[tuple[str, str]]]:
        """The body and headers of ``POST /subscriptions/stream`` (notes §5), and move to REQUESTED."""
        self._move(StreamInput.CONNECTED)
        body = encode(StreamRequest(client_id=self.client_id, subscription_id=self.subscription_id))
        fields = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Accept", "text/event-stream"),
            ("Cache-Control", "no-cache"),
        ]
        return body, fields

    def end(
        self,
        reason: StreamEndReason,
        now: float,
        rng: random.Random,
        *,
        error: BaseException | None = None,
        status: int | None = None,
        server_delay: float | None = None,
    ) -> StreamEnded:
        """End the current attempt: for good (``event: close``, local close, a final HTTP
        status, a takeover) or until a reconnect time (:meth:`backoff`); return the event to report."""
        self.conn_id = None
        if self._taken_over(reason, now):
            reason = StreamEndReason.TAKEN_OVER
        self.last_end = reason
        final = reason in _FINAL or (reason is StreamEndReason.HTTP_ERROR and status not in RETRYABLE_STATUS)
        retry_in = None
        if reason is StreamEndReason.LOCAL_CLOSE:
            self._move(StreamInput.CLOSE)
            self.deadline = None
        elif final:
            self._move(StreamInput.ENDED_FINAL)
            self.deadline = None
        else:
            retry_in = self.backoff(rng, server_delay)
            self._move(StreamInput.ENDED_RETRY)
            self.deadline = now + retry_in
        return StreamEnded(stream_id=self.stream_id, reason=reason, error=error, status=status, retry_in=retry_in)

    def _taken_over(self, reason: StreamEndReason, now: float) -> bool:
        """A clean end within ``takeover_window`` of the open that followed a clean end (notes §8)."""
        window = self.config.takeover_window
        if reason is not StreamEndReason.CLEAN_END or window is None or self.last_end is not StreamEndReason.CLEAN_END:
            return False
        return self.opened_at is not None and now - self.opened_at < window

    def connecting(self, conn_id: int, now: float) -> None:
        """A new connection was asked for; the response timeout runs from now."""
        self.conn_id = conn_id
        timeout = self.config.request_timeout
        self.deadline = None if timeout is None else now + timeout

    def opened(self, status: int, headers: list[tuple[bytes, bytes]], now: float) -> Event:
        """A 2xx head arrived: reset the parser and backoff, arm the idle timer.

        Raises:
            DecodeError: an unsupported ``Content-Encoding``.
        """
        self._move(StreamInput.RESPONSE_OK)
        self._decoder = BodyDecoder(header(headers, b"content-encoding"), None)
        self._parser = SSEParser(max_line=self.config.max_event_size, max_data=self.config.max_event_size)
        self.failures = 0
        self.opened_at = now
        self.touch(now)
        event: Event
        if self.opened_once:
            event = StreamReconnected(stream_id=self.stream_id, status=status, attempts=self.reconnects)
        else:
            event = StreamOpened(stream_id=self.stream_id, status=status)
        self.opened_once = True
        self.reconnects = 0
        return event

    def touch(self, now: float) -> None:
        """Octets arrived: restart the idle timer (only while OPEN and not paused)."""
        idle = self.config.sse_idle_timeout
        if self._state is StreamState.OPEN:
            self.deadline = None if idle is None or self.paused else now + idle

    def pause(self, paused: bool, now: float) -> None:
        """The driver stopped (``True``) or resumed reading: hold or restart the idle timer."""
        self.paused = paused
        self.touch(now)

    def feed(self, data: bytes) -> tuple[list[Event], bool]:
        """Body octets of the open stream -> (events, True when ``event: close`` came).

        Raises:
            DecodeError: bad compressed data, an SSE line or event over the limit, or
                a ``message`` event whose JSON is not updates.
        """
        events: list[Event] = []
        for piece in self._decoder.feed(data):
            for sse in self._parser.feed(piece):
                item = map_event(sse)
                if type(item) is StreamUpdates:
                    if item.changes:
                        self._gaps(item, events)
                        last = self.last_sequence
                        events.append(ValuesChanged(stream_id=self.stream_id, changes=item.changes, last_sequence=last))
                elif isinstance(item, StreamClosed):
                    return events, True
        if self._parser.retry is not None:
            self.sse_retry = self._parser.retry
        return events, False

    def _gaps(self, item: StreamUpdates, events: list[Event]) -> None:
        """Track ``last_sequence`` and report each jump past ``last_sequence + 1`` (notes §5).

        The usual batch (numbers ``last + 1, last + 2, ...`` without a hole) is checked
        with two list operations instead of a loop per update; anything else takes the loop.
        (A list comprehension reads the numbers about 2.5x faster than ``map(attrgetter)``:
        the interpreter specializes the slot read.)
        """
        changes = item.changes
        numbers = [change.sequence_number for change in changes]
        first, last = numbers[0], self.last_sequence
        if first is not None and (last is None or first == last + 1):
            end = first + len(numbers)
            if numbers == list(range(first, end)):
                self.last_sequence = end - 1
                return
        for change in changes:
            seq = change.sequence_number
            if seq is None:
                continue
            last = self.last_sequence
            if last is not None and seq > last + 1:
                events.append(GapDetected(stream_id=self.stream_id, after_sequence=last, next_sequence=seq))
            if last is None or seq > last:
                self.last_sequence = seq

    def backoff(self, rng: random.Random, server_delay: float | None) -> float:
        """The delay before the next reconnect (seconds) and count one more failure.

        Exponential from ``backoff_min`` (doubling per consecutive failure, at most
        ``backoff_max``) with "equal jitter" (half fixed, half drawn from ``rng``),
        at least the SSE ``retry`` value and at least ``Retry-After``.
        """
        config = self.config
        base = min(config.backoff_max, config.backoff_min * 2.0 ** min(self.failures, 62))
        delay = base / 2 + rng.random() * base / 2
        if self.sse_retry is not None:
            delay = max(delay, self.sse_retry / 1000)
        if server_delay is not None:
            delay = max(delay, server_delay)
        self.failures += 1
        return delay
