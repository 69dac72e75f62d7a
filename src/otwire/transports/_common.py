"""Helpers shared by the transports: deadlines, reply matching, raw-byte observers.

Nothing here touches a socket. :class:`ReplyMatcher` (threads) and
:class:`AsyncReplyMatcher` (asyncio) let a client wait for the reply that an
engine reports as an event: the client calls ``expect(key)`` before sending a
request and ``dispatch(key, value)`` when the matching event arrives.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "AsyncReplyMatcher",
    "Direction",
    "RawObserver",
    "ReplyMatcher",
    "deadline_to_timeout",
    "timeout_to_deadline",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_INVALID_STATE = (concurrent.futures.InvalidStateError, asyncio.InvalidStateError)


class Direction(enum.StrEnum):
    """Which way raw octets travelled, seen from the local end."""

    IN = "in"
    """Octets received from the peer (remote to local)."""
    OUT = "out"
    """Octets sent to the peer (local to remote)."""


#: Callback that sees every octet a transport receives (``IN``) or sends (``OUT``).
RawObserver = Callable[[Direction, bytes], None]


def timeout_to_deadline(timeout: float | None, now: float) -> float | None:
    """Turn a relative timeout into an absolute deadline.

    Args:
        timeout: Seconds from ``now``, or ``None`` for no limit. Negative means ``now``.
        now: The current time of the clock the deadline is compared with (seconds).

    Returns:
        ``now + timeout`` (never before ``now``), or ``None`` for no limit.
    """
    if timeout is None:
        return None
    return now + max(timeout, 0.0)


def deadline_to_timeout(deadline: float | None, now: float) -> float | None:
    """Turn an absolute deadline into the time left until it.

    Args:
        deadline: Absolute time on the same clock as ``now``, or ``None``.
        now: The current time (seconds).

    Returns:
        Seconds left, never negative, or ``None`` when there is no deadline.
    """
    if deadline is None:
        return None
    return max(deadline - now, 0.0)


class _Settable(Protocol):
    """What the matchers need of a future (both future kinds have it)."""

    def set_result(self, result: Any, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...
    def done(self) -> bool: ...
    def cancel(self) -> bool: ...


F = TypeVar("F", bound=_Settable)


class _MatcherBase(Generic[K, V, F]):
    """FIFO waiters per key; waiters that were cancelled are skipped and forgotten."""

    def __init__(self) -> None:
        self._waiters: dict[K, deque[F]] = {}
        self._lock = threading.Lock()

    def _new_future(self) -> F:
        raise NotImplementedError

    def expect(self, key: K) -> F:
        """Register a waiter for the next value dispatched under ``key``.

        Args:
            key: What identifies the reply (an invoke id, a sequence number, ...).

        Returns:
            A future resolved by :meth:`dispatch` or failed by :meth:`fail`. Cancelling it
            withdraws the waiter.
        """
        future = self._new_future()
        with self._lock:
            self._waiters.setdefault(key, deque()).append(future)
        return future

    def _pop(self, key: K) -> F | None:
        with self._lock:
            waiters = self._waiters.get(key)
            future = None
            while waiters and future is None:
                candidate = waiters.popleft()
                future = None if candidate.done() else candidate
            if waiters is not None and not waiters:
                del self._waiters[key]
            return future

    def dispatch(self, key: K, value: V) -> bool:
        """Resolve the oldest live waiter for ``key`` with ``value``.

        Args:
            key: The reply's key.
            value: The reply (usually an engine event).

        Returns:
            True if a waiter took the value, False if nobody was waiting for ``key``.
        """
        while (future := self._pop(key)) is not None:
            try:
                future.set_result(value)
            except _INVALID_STATE:  # cancelled by another thread after _pop
                continue
            return True
        return False

    def fail(self, key: K, exc: BaseException) -> bool:
        """Fail the oldest live waiter for ``key`` with ``exc``.

        Args:
            key: The reply's key.
            exc: The exception the waiter raises.

        Returns:
            True if a waiter was failed, False if nobody was waiting for ``key``.
        """
        while (future := self._pop(key)) is not None:
            try:
                future.set_exception(exc)
            except _INVALID_STATE:
                continue
            return True
        return False

    def fail_all(self, exc: BaseException) -> int:
        """Fail every waiter (the connection is gone).

        Args:
            exc: The exception every waiter raises.

        Returns:
            How many waiters were failed.
        """
        with self._lock:
            waiters = [f for queue in self._waiters.values() for f in queue]
            self._waiters.clear()
        count = 0
        for future in waiters:
            try:
                future.set_exception(exc)
            except _INVALID_STATE:
                continue
            count += 1
        return count

    def cancel(self, key: K) -> int:
        """Cancel and forget every waiter for ``key``.

        Args:
            key: The key to withdraw.

        Returns:
            How many waiters were cancelled.
        """
        with self._lock:
            waiters = self._waiters.pop(key, deque())
        return sum(1 for future in waiters if future.cancel())

    def __len__(self) -> int:
        """Return the number of waiters still pending (cancelled ones are pruned)."""
        with self._lock:
            for key in list(self._waiters):
                live = deque(f for f in self._waiters[key] if not f.done())
                if live:
                    self._waiters[key] = live
                else:
                    del self._waiters[key]
            return sum(len(queue) for queue in self._waiters.values())


class ReplyMatcher(_MatcherBase[K, V, "concurrent.futures.Future[V]"]):
    """Correlate requests and replies for threads (:class:`concurrent.futures.Future`).

    Thread-safe: the loop thread dispatches while user threads ``expect`` and wait with
    ``future.result(timeout)``. Several waiters may share a key; they are served FIFO.
    """

    def _new_future(self) -> concurrent.futures.Future[V]:
        return concurrent.futures.Future()


class AsyncReplyMatcher(_MatcherBase[K, V, "asyncio.Future[V]"]):
    """Correlate requests and replies in asyncio (:class:`asyncio.Future`).

    Use it from the event loop thread only. ``await asyncio.wait_for(matcher.expect(k), t)``
    cancels the future on timeout, which withdraws the waiter.

    Args:
        loop: The loop that owns the futures; default: the running loop at each ``expect``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__()
        self._loop = loop

    def _new_future(self) -> asyncio.Future[V]:
        loop = self._loop or asyncio.get_running_loop()
        return loop.create_future()
