"""How every server runs: in the caller's event loop or in a daemon thread of its own.

A server class supplies ``_open()`` (start listening, in its event loop) and ``_close()``
(close every connection and stop listening), plus ``lock``, ``_loop`` and ``_port``.
:class:`AsyncServing` adds the coroutine verbs (``start``, ``stop``, ``serve``, ``async
with``); :class:`ThreadedServing` adds the thread with blocking ``start()``/``stop()``, the
start-up hand-over of errors and the context manager. :func:`run_in_loop` lets other
threads call into the server's loop; :func:`run_until_signal` is the body of every
``serve()`` function (``otwire serve``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TextIO, TypeVar

from otwire.errors import OTWireError, RequestTimeout, TransportError

__all__ = ["CALL_TIMEOUT", "AsyncServing", "ThreadedServing", "run_in_loop", "run_until_signal"]

T = TypeVar("T")

#: Seconds a call from another thread waits for the server's event loop.
CALL_TIMEOUT = 10.0


def run_in_loop(
    loop: asyncio.AbstractEventLoop | None, loop_thread: int, action: Callable[[], T], timeout: float = CALL_TIMEOUT
) -> T | None:
    """Run ``action`` in ``loop``'s thread and return its result.

    Called from the loop's own thread (``loop_thread``, a ``threading.get_ident()``), it
    runs at once; from another thread it waits at most ``timeout`` seconds.

    Returns:
        The result, or ``None`` when the loop is not running (any more).

    Raises:
        RequestTimeout: The loop did not run ``action`` within ``timeout`` seconds (also a
            ``TimeoutError``); ``action`` will not run any more.
        Exception: Whatever ``action`` raised.
    """
    if loop is None or loop.is_closed():
        return None
    if threading.get_ident() == loop_thread:
        return action()
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(action())
            except BaseException as exc:
                future.set_exception(exc)

    try:
        loop.call_soon_threadsafe(run)
    except RuntimeError:  # the loop closed meanwhile
        return None
    done, _ = concurrent.futures.wait([future], timeout)
    if not done and future.cancel():
        raise RequestTimeout(f"the server's event loop did not answer within {timeout} s")
    return future.result()  # done, or running now: its result (or exception)


class AsyncServing:
    """Mixin: the server in the caller's asyncio event loop (put it first in the bases)."""

    if TYPE_CHECKING:
        _loop: asyncio.AbstractEventLoop | None

        async def _open(self) -> None: ...

        async def _close(self) -> None: ...

    async def start(self) -> None:
        """Start listening.

        Raises:
            LocalProtocolError: Already running.
            TransportError: The address cannot be bound.
            InvalidArgument: The ``record`` file cannot be created (the ``OSError`` is the cause).
        """
        await self._open()

    async def stop(self) -> None:
        """Close every client connection and stop listening; does nothing when stopped."""
        if self._loop is not None:
            await self._close()

    async def serve(self) -> None:
        """Run until cancelled (start first if needed); stops cleanly on cancellation.

        Raises:
            TransportError: The address cannot be bound.
        """
        if self._loop is None:
            await self.start()
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            await self.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


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
            InvalidArgument: The ``record`` file cannot be created (the ``OSError`` is the cause).
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


class _Runnable(Protocol):
    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...


def run_until_signal(
    server: _Runnable,
    *,
    command: str,
    banner: Callable[[], str],
    duration: float | None,
    out: TextIO,
    logger: logging.Logger,
) -> int:
    """Run an asyncio server until SIGINT or SIGTERM (or for ``duration`` seconds); blocking.

    Both signals stop it the same clean way (every peer closed, any capture file
    completed). The banner is printed (and flushed) once the server listens; the
    server's log lines go to ``out`` while it runs.

    Args:
        server: The server (``async with`` starts and stops it).
        command: Named in error messages, e.g. ``"otwire serve iec104"``.
        banner: Returns the line printed once listening.
        duration: Stop after this many seconds (``None``: until a signal).
        out: Where the banner and the log go.
        logger: The server's logger.

    Returns:
        0 after a clean stop, 2 when the server cannot start (message on stderr).
    """
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    added = not logger.handlers
    if added:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        asyncio.run(_serve_until_signal(server, banner, duration, out))
    except KeyboardInterrupt:  # a SIGINT outside the main thread's signal handler
        pass
    except (OTWireError, OSError) as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if added:
            logger.removeHandler(handler)
    print("stopped", file=out, flush=True)
    return 0


async def _serve_until_signal(
    server: _Runnable, banner: Callable[[], str], duration: float | None, out: TextIO
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not on Windows
                loop.add_signal_handler(signum, stop.set)
                handled.append(signum)
    try:
        async with server:
            print(banner(), file=out, flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
