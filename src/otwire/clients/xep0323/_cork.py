"""Send the stanzas of one machine step in one TCP segment (``specs/xep0323/plugin.md`` §3).

A sensor answers a request with an IQ result (``accepted``) and, a moment later in the
same step, a ``<fields/>`` message. slixmpp writes each stanza with its own
``transport.write``, so they leave as two segments; when the server reads them apart
it forwards them apart, and the second waits on Nagle's algorithm in the server until the
requester's delayed ACK (about 40 ms on Linux; Prosody does this, research xep0323.md
§3.1). Setting ``TCP_NODELAY`` does not help: asyncio already sets it on the client.

:class:`Corker` sets ``TCP_CORK`` on the stream's socket before the step's stanzas are
queued and clears it two loop turns later, after slixmpp's send queue (one task that
drains every queued stanza without yielding, when its filters are synchronous) has
written them: the kernel then sends them together. Only the timing of the stream's own
writes changes; slixmpp's queue, order and outgoing filters are untouched. Where the
platform has no ``TCP_CORK`` (not Linux) or the stream has no socket, it does nothing;
the kernel also ends a cork by itself after 200 ms.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

__all__ = ["Corker"]

log = logging.getLogger("otwire.clients.xep0323")

_TCP_CORK: int | None = getattr(socket, "TCP_CORK", None)


class Corker:
    """Cork the socket of ``xmpp``'s stream for one burst of sends (:meth:`cork`), uncorked two loop turns later."""

    def __init__(self, xmpp: Any) -> None:
        self._xmpp = xmpp
        self._corked: socket.socket | None = None

    def cork(self) -> None:
        """Hold the stream's writes until the sends queued in this loop turn are written."""
        if self._corked is not None or _TCP_CORK is None:
            return
        transport = getattr(self._xmpp, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None or not _set(sock, 1):
            return
        self._corked = sock
        loop: asyncio.AbstractEventLoop = self._xmpp.loop
        loop.call_soon(loop.call_soon, self.uncork)  # after the send-queue task's next turn

    def uncork(self) -> None:
        """Send what the kernel holds now (also called when the plugin ends)."""
        sock, self._corked = self._corked, None
        if sock is not None:
            _set(sock, 0)


def _set(sock: socket.socket, value: int) -> bool:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK or 0, value)
    except OSError as exc:  # closed meanwhile, or not TCP
        log.debug("TCP_CORK=%d not set: %s", value, exc)
        return False
    return True
