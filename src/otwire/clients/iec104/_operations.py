"""Requests of a controlling station: one or two ASDUs, then a result (no I/O, no waiting).

The engine tracks every activation (IEC 60870-5-104 clause 7, ``IEC104Connection.activations``)
and reports its replies as ``ActivationConfirmed``/``ActivationRefused``/
``ActivationTerminated`` events carrying the very ASDU object that was sent. This module
keeps no second table of requests: each step of an :class:`Operation` registers a waiter
in the shared reply matcher (:class:`~otwire.transports.ReplyMatcher` on the threaded
client, :class:`~otwire.transports.AsyncReplyMatcher` on asyncio) under ``id(request)``,
and :meth:`RequestRunner.dispatch` hands the engine's event to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

from otwire.clients.iec104._log import logger
from otwire.codecs.iec104 import ASDU
from otwire.errors import InvalidState, OTWireError, RequestError, RequestTimeout
from otwire.protocols import Event
from otwire.protocols.iec104 import ActivationConfirmed, ActivationRefused, ActivationTerminated, IEC104Connection

__all__ = ["Cancellable", "Operation", "Replies", "ReplyFuture", "RequestRunner", "mnemonic"]

_REPLY_EVENTS = (ActivationConfirmed, ActivationRefused, ActivationTerminated)


class Cancellable(Protocol):
    """A scheduled callback (``SelectorLoop`` timer handle or ``asyncio.TimerHandle``)."""

    def cancel(self) -> None:
        """Withdraw the callback."""


class ReplyFuture(Protocol):
    """What a runner needs of a matcher's future (``concurrent.futures`` or ``asyncio``)."""

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...
    def cancel(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def exception(self) -> BaseException | None: ...
    def result(self) -> Any: ...


class Replies(Protocol):
    """A reply matcher keyed by ``id(request)`` (see :mod:`otwire.transports._common`)."""

    def expect(self, key: int) -> ReplyFuture: ...
    def dispatch(self, key: int, value: Event) -> bool: ...
    def fail_all(self, exc: BaseException) -> int: ...
    def __len__(self) -> int: ...


def mnemonic(value: int) -> str:
    """Return an enum member's name (``ACTIVATION``), else the number as text."""
    return getattr(value, "name", str(value))


class Operation:
    """One request: its ASDUs sent in turn (a select, then the execute), then a result.

    Args:
        steps: The ASDUs; each must be confirmed before the next one is sent.
        until_term: Wait for ACT_TERM after ACT_CON (interrogations).
        timeout: Seconds from the start until the operation fails with ``RequestTimeout``.
        on_done: Called once with ``None`` (success) or the error (``RequestError``,
            ``RequestTimeout``, ``InvalidState``, ``ConnectionLost``, ...).
        on_sent: Called once: True after the first ASDU was handed to the engine, False if
            it could not be sent (it is then called before ``on_done``).
    """

    __slots__ = ("finished", "index", "on_done", "on_sent", "steps", "timeout", "timer", "until_term", "waiting")

    def __init__(
        self,
        steps: Sequence[ASDU],
        *,
        until_term: bool,
        timeout: float,
        on_done: Callable[[BaseException | None], None],
        on_sent: Callable[[bool], None] | None = None,
    ) -> None:
        self.steps = tuple(steps)
        self.until_term = until_term
        self.timeout = timeout
        self.on_done = on_done
        self.on_sent = on_sent
        self.index = 0
        self.finished = False
        self.timer: Cancellable | None = None
        self.waiting: list[ReplyFuture] = []

    @property
    def current(self) -> ASDU:
        """The ASDU sent last (or about to be sent)."""
        return self.steps[self.index]

    def describe(self) -> str:
        """Return a short text for log messages, e.g. ``C_SC_NA_1 ACTIVATION ca=47``."""
        asdu = self.current
        return f"{mnemonic(asdu.type_id)} {mnemonic(asdu.cot)} ca={asdu.common_address}"


class RequestRunner:
    """Run :class:`Operation` objects over one connection's engine (one thread or loop).

    Args:
        replies: The reply matcher (its futures resolve on the same thread or loop).
        send: Hands an ASDU to the engine through the transport (raises ``OTWireError``).
        call_later: ``call_later(seconds, callback)`` on the client's thread or loop.
        where: Returns ``host:port`` for log messages.
    """

    def __init__(
        self,
        replies: Replies,
        send: Callable[[ASDU], None],
        call_later: Callable[[float, Callable[[], None]], Cancellable],
        where: Callable[[], str],
    ) -> None:
        self.replies = replies
        self.engine: IEC104Connection | None = None
        self._send = send
        self._call_later = call_later
        self._where = where

    def __len__(self) -> int:
        """Return the number of replies still awaited."""
        return len(self.replies)

    def begin(self, op: Operation, *, ready: bool) -> None:
        """Start ``op`` (``ready``: data transfer is started): arm its timeout, send its first ASDU."""
        if not ready or self.engine is None:
            self.finish(op, InvalidState(f"{self._where()}: data transfer is not started"))
            return
        op.timer = self._call_later(op.timeout, partial(self.expire, op))
        self._advance(op)

    def dispatch(self, event: Event) -> bool:
        """Hand an activation event of the engine to the waiter of its request.

        Returns:
            False when nobody waits for it (a late or unsolicited reply).
        """
        if not isinstance(event, _REPLY_EVENTS):
            return False
        return self.replies.dispatch(id(event.request), event)

    def fail_all(self, exc: BaseException) -> None:
        """Fail every operation waiting for a reply (the connection is gone)."""
        self.engine = None
        self.replies.fail_all(exc)

    def expire(self, op: Operation) -> None:
        """Fail ``op`` with ``RequestTimeout`` unless it finished."""
        if not op.finished:
            logger.info("%s: %s timed out after %.3f s", self._where(), op.describe(), op.timeout)
            timeout = RequestTimeout(f"{op.describe()}: no reply within {op.timeout} s", request=op.current)
            self.finish(op, timeout)

    def abandon(self, op: Operation) -> None:
        """Give up ``op`` (its waiter went away)."""
        self.finish(op, RequestTimeout(f"{op.describe()}: abandoned by the caller", request=op.current))

    def finish(self, op: Operation, error: BaseException | None) -> None:
        """End ``op`` once: cancel its timer and waiters, stop the engine tracking it, report."""
        if op.finished:
            return
        op.finished = True
        if op.timer is not None:
            op.timer.cancel()
        for future in op.waiting:
            future.cancel()  # withdraws the waiter from the matcher
        if self.engine is not None:
            self.engine.cancel_activation(op.current)  # e.g. a GI deactivation: no ACT_TERM follows
        if op.on_sent is not None:
            on_sent, op.on_sent = op.on_sent, None
            on_sent(False)
        op.on_done(error)

    # -- internals -------------------------------------------------------------------

    def _advance(self, op: Operation) -> None:
        asdu = op.current
        confirmation = self.replies.expect(id(asdu))
        # Expect the termination now: on asyncio the confirmation's callback runs a loop
        # turn later, possibly after ACT_TERM (same TCP segment) was dispatched. The matcher
        # serves waiters of one key in order: confirmation first, then termination.
        waiting = [confirmation, self.replies.expect(id(asdu))] if op.until_term else [confirmation]
        op.waiting = waiting
        try:
            self._send(asdu)
        except OTWireError as exc:
            logger.info("%s: cannot send %s: %s", self._where(), op.describe(), exc)
            self.finish(op, exc)
            return
        confirmation.add_done_callback(partial(self._on_confirmation, op, asdu))
        if op.until_term:
            waiting[1].add_done_callback(partial(self._on_termination, op, asdu))
        if op.index == 0 and op.on_sent is not None:
            on_sent, op.on_sent = op.on_sent, None
            on_sent(True)

    def _reply(self, op: Operation, asdu: ASDU, future: ReplyFuture) -> Event | None:
        """The event ``future`` carries, or ``None`` (after finishing ``op`` on a failure)."""
        if future.cancelled():
            return None
        error = future.exception()  # retrieved even when unused: asyncio warns about unretrieved ones
        if op.finished or op.current is not asdu:
            return None
        if error is not None:
            self.finish(op, error)
            return None
        event: Event = future.result()
        if isinstance(event, ActivationRefused):
            reply = event.asdu
            negative = " P/N=1" if reply.negative else ""
            logger.info("%s: %s refused (%s%s)", self._where(), op.describe(), mnemonic(reply.cot), negative)
            refusal = RequestError(
                f"{op.describe()} refused ({mnemonic(reply.cot)}{negative})",
                code=int(reply.cot),
                request=asdu,
                reply=reply,
            )
            self.finish(op, refusal)
            return None
        return event

    def _on_confirmation(self, op: Operation, asdu: ASDU, future: ReplyFuture) -> None:
        event = self._reply(op, asdu, future)
        if event is None or (op.until_term and not isinstance(event, ActivationTerminated)):
            return  # finished, or the termination is awaited by the second waiter
        if op.index + 1 < len(op.steps) and not isinstance(event, ActivationTerminated):
            op.index += 1
            self._advance(op)
        else:
            self.finish(op, None)

    def _on_termination(self, op: Operation, asdu: ASDU, future: ReplyFuture) -> None:
        event = self._reply(op, asdu, future)
        if event is None:
            return
        if isinstance(event, ActivationConfirmed):  # a repeated ACT_CON: wait on for ACT_TERM
            again = self.replies.expect(id(asdu))
            op.waiting.append(again)
            again.add_done_callback(partial(self._on_termination, op, asdu))
            return
        self.finish(op, None)


def log_startup_result(where: str, description: str, error: BaseException | None) -> None:
    """Log the end of a start-up request (``Init``): DEBUG when done, INFO when it failed."""
    level = logging.DEBUG if error is None else logging.INFO
    logger.log(level, "%s: start-up %s %s", where, description, "done" if error is None else "failed")
