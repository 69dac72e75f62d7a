"""Generic drivers that run any sans-IO engine over real I/O (STYLE.md 3.4).

* :mod:`otwire.transports.sync`: :class:`SocketTransport` and :class:`SelectorLoop`
  (blocking sockets, ``selectors``, optional TLS).
* :mod:`otwire.transports.aio`: :class:`AioTransport`, :func:`open_connection`,
  :func:`start_server` (asyncio).
* :mod:`otwire.transports.record`: :class:`PcapRecorder`, a raw-octet observer that writes
  a pcap of synthetic TCP sessions.

Transports depend only on the :class:`otwire.protocols.Connection` contract: they hold no
parsing, no retries and no protocol knowledge.
"""

from __future__ import annotations

from otwire.transports._common import (
    AsyncReplyMatcher,
    Direction,
    RawObserver,
    ReplyMatcher,
    deadline_to_timeout,
    timeout_to_deadline,
)
from otwire.transports.aio import AioTransport, open_connection, start_server
from otwire.transports.record import PcapRecorder, PcapSession
from otwire.transports.sync import SelectorLoop, SocketTransport, TimerHandle

__all__ = [
    "AioTransport",
    "AsyncReplyMatcher",
    "Direction",
    "PcapRecorder",
    "PcapSession",
    "RawObserver",
    "ReplyMatcher",
    "SelectorLoop",
    "SocketTransport",
    "TimerHandle",
    "deadline_to_timeout",
    "open_connection",
    "start_server",
    "timeout_to_deadline",
]
