"""Run an asyncio server in a daemon thread, with blocking ``start()``/``stop()`` (shared by every server).

A server class supplies ``_open()`` (start listening, in its event loop) and ``_close()``
(close every connection and stop listening), plus ``lock``, ``_loop`` and ``_port``;
:class:`ThreadedServing` adds the thread, the start-up hand-over of errors and the
context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING, ClassVar, Self

from otwire.errors import TransportError

__all__ = ["ThreadedServing"]


class ThreadedServing:
    """Mixin: a daemon thread runs the server's event loop between ``start()`` and ``stop()``.

    Put it first in the bases so that its ``start``/``stop`` are the blocking ones.
    """

    #: Used in the thread's name and in log messages, e.g. ``"iec104 server"``.
    _label: ClassVar[str] = "server"
    _logger: ClassVar[logging.Logger] = logging.getLogger("otwire.servers")
    _thread: threading.Thread | None = None
    _stop_event: asyncio.Event | None = None
    _start_error: BaseException | None = None

    if TYPE_CHECKING:
        lock: threading.RLock
        _loop: asyncio.AbstractEventLoop | None
        _port: int

        async def _open(self) -> None: ...

        async def _close(self) -> None: ...

    def start(self, timeout: float = 10.0) -> None:
        """Start the thread and wait until the server listens; does nothing when running.

        Args:
            timeout: Seconds to wait for the listening socket.

        Raises:
            TransportError: The address cannot be bound, or the thread did not start in time.
            OSError: The ``record`` file cannot be created.
        """
        with self.lock:
            if self._thread is not None:
                return
            ready = threading.Event()
            self._start_error = None
            name = f"otwire-{self._label.replace(' ', '-')}:{self._port}"
            self._thread = threading.Thread(target=self._thread_main, args=(ready,), name=name, daemon=True)
            self._thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise TransportError(f"the {self._label} did not start within {timeout} s")
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            self.stop()
            raise error

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, stop listening and end the thread; idempotent.

        Args:
            timeout: Seconds to wait for the thread to end.
        """
        with self.lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop_event.set)
        if thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                self._logger.warning("the %s thread did not end within %s s", self._label, timeout)

    def _thread_main(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._thread_serve(ready))
        except BaseException as exc:
            if ready.is_set():
                self._logger.exception("the %s thread failed", self._label)
            else:  # reported by start()
                self._start_error = exc
                ready.set()

    async def _thread_serve(self, ready: threading.Event) -> None:
        self._stop_event = asyncio.Event()
        try:
            await self._open()
        except BaseException as exc:
            self._start_error = exc
            ready.set()
            return
        ready.set()
        try:
            await self._stop_event.wait()
        finally:
            await self._close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
