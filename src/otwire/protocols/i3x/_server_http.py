"""HTTP pieces of the i3X server engine: one peer's state, credentials, ``Accept-Encoding`` (notes §10).

Kept apart from :mod:`otwire.protocols.i3x.server` so that the engine reads as routing and
streaming; nothing here keeps state between peers.
"""

from __future__ import annotations

import base64
import binascii
import hmac

import h11

from otwire.protocols.i3x._server_subs import Watch
from otwire.protocols.i3x.config import I3XServerConfig

__all__ = ["Peer", "accepts_gzip", "authorized"]


class Peer:
    """One HTTP connection: its h11 state, the request being read, output, stream.

    ``stalled`` (a test fault, notes §10): ``None``, or how many more octets of ``out`` are sent;
    everything after them is dropped (a half-open connection: open, but silent).
    """

    __slots__ = ("body", "closed", "conn", "gzip", "keepalive_at", "name", "out", "request", "requests", "stalled",
                 "streaming")  # fmt: skip

    def __init__(self, name: str, max_head: int) -> None:
        self.name = name
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head)
        self.out = bytearray()
        self.request: h11.Request | None = None
        self.body = bytearray()
        self.requests = 0
        self.gzip = False
        self.closed = False
        self.stalled: int | None = None
        self.streaming: Watch | None = None
        self.keepalive_at: float | None = None


def authorized(config: I3XServerConfig, header: bytes) -> bool:
    """Whether an ``Authorization`` header value passes ``config``'s Bearer token or HTTP Basic credentials.

    Without either configured every request passes; with both, either scheme does.
    Comparisons are constant-time.
    """
    token, basic = config.bearer_token, config.basic_auth
    if token is None and basic is None:
        return True
    scheme, _, credentials = header.partition(b" ")
    scheme = scheme.lower()
    if token is not None and scheme == b"bearer":
        return hmac.compare_digest(credentials.strip(), token.encode())
    if basic is not None and scheme == b"basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(decoded, f"{basic[0]}:{basic[1]}".encode())
    return False


def accepts_gzip(header: bytes) -> bool:
    """True when an ``Accept-Encoding`` value accepts gzip (``gzip`` or ``*`` without ``q=0``)."""
    for part in header.lower().split(b","):
        name, _, params = part.strip().partition(b";")
        if name.strip() in (b"gzip", b"*"):
            key, _, value = params.strip().partition(b"=")
            if key.strip() != b"q":
                return True
            try:
                return float(value) > 0
            except ValueError:
                return False
    return False
