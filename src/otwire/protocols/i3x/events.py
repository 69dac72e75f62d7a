"""i3X engine events (specs/i3x/notes.md).

Connection ends are the shared :class:`~otwire.protocols.ConnectionTerminated`.
"""

from __future__ import annotations

from dataclasses import dataclass

from otwire.protocols import Event

__all__ = ["RequestHandled"]


# ---- server (branch i3x-server) -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHandled(Event):
    """The server engine answered one request (an SSE stream counts as 200 when it starts).

    Attributes:
        method: The HTTP method (``"POST"``).
        target: The request target (path and query).
        status: The HTTP status sent.
    """

    method: str
    target: str
    status: int
