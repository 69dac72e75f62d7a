"""The threaded client's one loop thread: a ``SelectorLoop`` and the ways to hand it work."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from otwire.clients.iec104._log import logger
from otwire.transports.sync import SelectorLoop, TimerHandle

__all__ = ["SHUTDOWN_WAIT", "LoopThread"]

#: Seconds ``stop()``, ``disconnect()``, ``mute()`` and ``unmute()`` wait for the loop thread.
SHUTDOWN_WAIT = 5.0

T = TypeVar("T")


class LoopThread:
    """One daemon thread running one :class:`~otwire.transports.sync.SelectorLoop`.

    ``loop`` is ``None`` while stopped. :meth:`post` and :meth:`post_and_wait` may be called
    from any thread; the rest from the loop thread.

    Args:
        name: The thread's name.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: SelectorLoop | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> SelectorLoop:
        """Start a fresh loop in a fresh thread and return the loop."""
        loop = SelectorLoop()
        self.loop = loop
        self.thread = threading.Thread(target=self._run, args=(loop,), name=self.name, daemon=True)
        self.thread.start()
        return loop

    def stop(self, shutdown: Callable[[], None]) -> None:
        """Run ``shutdown`` on the loop thread, then end the loop (waits, unless on the loop thread)."""
        loop, thread = self.loop, self.thread
        if loop is None or thread is None:
            return

        def finish() -> None:
            try:
                shutdown()
            finally:
                if self.loop is loop:
                    self.loop = None
                loop.stop()

        if self.in_thread():
            finish()
            return
        done = threading.Event()

        def finish_and_signal() -> None:
            try:
                finish()
            finally:
                done.set()

        loop.call_soon_threadsafe(finish_and_signal)
        done.wait(SHUTDOWN_WAIT)
        thread.join(SHUTDOWN_WAIT)

    def in_thread(self) -> bool:
        """True when called on the loop thread (e.g. from a callback)."""
        thread = self.thread
        return thread is not None and thread.ident == threading.get_ident()

    def post(self, function: Callable[[], object]) -> None:
        """Run ``function`` on the loop thread (now, if this is the loop thread); dropped when stopped."""
        loop = self.loop
        if loop is None:
            return
        if self.in_thread():
            function()
        else:
            loop.call_soon_threadsafe(partial(_guard, function))

    def post_and_wait(self, function: Callable[[], T], default: T) -> T:
        """Run ``function`` on the loop thread and return its result (``default`` if the loop is gone)."""
        loop = self.loop
        if loop is None:
            return default
        if self.in_thread():
            return function()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        try:
            return future.result(SHUTDOWN_WAIT)
        except concurrent.futures.TimeoutError:
            return default

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` on the loop thread after ``delay`` seconds (loop thread only)."""
        loop = self.loop
        if loop is None:
            return TimerHandle(0.0, callback)  # never runs: the loop is gone
        return loop.call_at(time.monotonic() + delay, partial(_guard, callback))

    def _run(self, loop: SelectorLoop) -> None:
        try:
            while True:
                try:
                    loop.run_forever()
                    break
                except Exception:  # a bug must not end the client thread silently
                    logger.exception("client loop error")
                    if self.loop is not loop:
                        break
        finally:
            loop.close()


def _guard(function: Callable[[], object]) -> None:
    try:
        function()
    except Exception:
        logger.exception("internal error")
