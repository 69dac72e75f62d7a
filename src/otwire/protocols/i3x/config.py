"""i3X engine configuration (specs/i3x/notes.md): one frozen dataclass per engine."""

from __future__ import annotations

from dataclasses import dataclass

from otwire.errors import InvalidArgument

__all__ = ["I3XServerConfig"]


# ---- server (branch i3x-server) -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class I3XServerConfig:
    """Settings of :class:`~otwire.protocols.i3x.server.I3XServer`.

    Attributes:
        base_path: URL prefix of every endpoint (research §2: ``/v1``).
        bearer_token: Require ``Authorization: Bearer <token>`` (except ``GET /info``).
        basic_auth: Require HTTP Basic with this ``(user, password)`` (except ``GET /info``).
            With both set, either is accepted; with neither, no authentication.
        max_body_size: Largest request body, octets (over it: 413 and the connection closes).
        max_header_size: Largest request head, octets (h11's limit; over it: 400 and the connection closes).
        max_depth_limit: Deepest composition served; ``maxDepth`` 0 or above it is clamped (206).
        queue_size: Most batches queued per subscription for ``/sync`` (oldest dropped; 206).
        max_subscriptions: Most subscriptions at once (more: 400).
        subscription_ttl: Seconds a subscription lives without a stream or a sync call.
        keepalive_interval: Seconds between SSE keep-alive comments.
        gzip_min_size: Smallest JSON body compressed when the client accepts gzip, octets.
        server_name: ``serverName`` in ``GET /info``.
        server_version: ``serverVersion`` in ``GET /info``.
    """

    base_path: str = "/v1"
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    max_body_size: int = 1 << 20
    max_header_size: int = 16 * 1024
    max_depth_limit: int = 8
    queue_size: int = 1000
    max_subscriptions: int = 1000
    subscription_ttl: float = 300.0
    keepalive_interval: float = 15.0
    gzip_min_size: int = 0
    server_name: str = "otwire i3X server"
    server_version: str = "0"

    def __post_init__(self) -> None:
        for name in ("max_body_size", "max_header_size", "max_depth_limit", "queue_size", "max_subscriptions"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgument(f"{name}={value!r} must be an int >= 1")
        for name in ("subscription_ttl", "keepalive_interval"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
                raise InvalidArgument(f"{name}={value!r} must be a number of seconds > 0")
        if not self.base_path.startswith("/") or self.base_path.endswith("/"):
            raise InvalidArgument(f"base_path={self.base_path!r} must start with '/' and not end with one")
