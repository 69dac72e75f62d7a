"""What a listening server needs at the edges: one log line per burst, clean refusal at the fd limit.

* :class:`Burst` turns a flood of similar incidents (refused connections, failed accepts)
  into one log line per burst and a count.
* :class:`AcceptGuard` handles ``accept`` failing with EMFILE/ENFILE (the process or the
  system is out of file descriptors). asyncio then pauses the listener for a second and
  reports every failure through the loop's exception handler; the guard replaces that
  report with one line per burst, and refuses the connections waiting in the listen queue
  at once (accepted on a descriptor reserved for this, then reset) instead of leaving
  them hanging until descriptors free up.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import struct
from typing import Any

__all__ = ["BURST", "AcceptGuard", "Burst"]

#: Incidents (refusals, fd-limit accept failures) less than this many seconds apart are one burst:
#: one log line. Longer than asyncio's one-second accept retry, so a lasting fd limit is one burst.
BURST = 5.0
_ACCEPT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends a reset


class Burst:
    """One log line per burst of similar incidents (refusals, accept failures), and a count.

    A burst is a run of incidents less than :data:`BURST` seconds apart; its first one is
    logged, with the number of incidents of the burst before it.
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger, self.what = logger, what
        self.until = float("-inf")
        self.total = 0  # incidents since the start
        self.in_burst = 0  # incidents of the current burst

    def note(self, now: float, detail: str) -> None:
        self.total += 1
        if now < self.until:
            self.in_burst += 1
        else:
            before = f" (the previous burst had {self.in_burst})" if self.in_burst else ""
            self.logger.warning("%s: %s%s; more within %g s are counted, not logged", self.what, detail, before, BURST)
            self.in_burst = 1
        self.until = now + BURST


class AcceptGuard:
    """Watch one asyncio server's accept failures (install it after ``create_server``).

    Args:
        logger: Where the one line per burst goes.
        refusals: The burst counter of refused connections (the refused waiting ones count too).
    """

    def __init__(self, logger: logging.Logger, refusals: Burst) -> None:
        self.failures = Burst(logger, "accept failed (file descriptor limit?), listener paused")
        self.refusals = refusals
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_handler: Any = None
        self._reserve: int | None = None

    def install(self, loop: asyncio.AbstractEventLoop, server: asyncio.Server) -> None:
        """Reserve a descriptor and hook the loop's exception handler (others' reports pass through)."""
        self._loop, self._server = loop, server
        with contextlib.suppress(OSError):
            self._reserve = os.open(os.devnull, os.O_RDONLY)
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._report)

    def uninstall(self) -> None:
        """Release the descriptor and restore the previous exception handler (if still ours)."""
        self._server = None
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None
        if self._loop is not None and self._loop.get_exception_handler() == self._report:
            self._loop.set_exception_handler(self._previous_handler)

    def _report(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Report accept failures at the fd limit once per burst; pass everything else on."""
        exc = context.get("exception")
        server, sock = self._server, context.get("socket")
        fileno = sock.fileno() if sock is not None else -1
        listening = server is not None and any(s.fileno() == fileno for s in server.sockets)
        if listening and isinstance(exc, OSError) and exc.errno in _ACCEPT_ERRNOS:
            refused = self._refuse_waiting(fileno)
            self.failures.note(loop.time(), f"{exc.strerror or exc}; {refused} waiting connections refused")
            return
        if self._previous_handler is not None:
            self._previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    def _refuse_waiting(self, fileno: int) -> int:
        """Refuse (reset) every connection waiting on the listener, using the reserved descriptor."""
        if self._reserve is None:
            return 0
        os.close(self._reserve)
        self._reserve, refused = None, 0
        listener = socket.socket(fileno=fileno)  # the same descriptor, not a copy: detached below
        try:
            while True:
                conn, _ = listener.accept()
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                conn.close()
                refused += 1
        except OSError:  # BlockingIOError: none left waiting
            pass
        finally:
            listener.detach()
            with contextlib.suppress(OSError):
                self._reserve = os.open(os.devnull, os.O_RDONLY)
        self.refusals.total += refused
        return refused
