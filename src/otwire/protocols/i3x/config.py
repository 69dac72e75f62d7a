"""Settings of the i3X engines, as frozen dataclasses checked on construction (specs/i3x/notes.md).

>>> I3XClientConfig(host="plant.example", port=8080).authority
'plant.example:8080'
>>> I3XClientConfig(pool_size=0)
Traceback (most recent call last):
...
otwire.errors.InvalidArgument: pool_size=0 must be an int >= 1
"""

from __future__ import annotations

from dataclasses import dataclass

from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = ["I3XClientConfig", "I3XServerConfig"]

_MIB = 1024 * 1024


def _check_int(config: object, name: str, low: int) -> None:
    value = getattr(config, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InvalidArgument(f"{name}={value!r} must be an int >= {low}")


def _check_seconds(config: object, name: str, *, optional: bool = False) -> None:
    value = getattr(config, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidArgument(f"{name}={value!r} must be a number of seconds > 0")


# --- client engine (branch i3x-engine) ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class I3XClientConfig:
    """Settings of :class:`otwire.protocols.i3x.client.I3XClientEngine` (times in seconds, sizes in octets).

    Raises:
        InvalidArgument: a value is out of range (``backoff_max < backoff_min`` too).
        InvalidArgumentType: ``auth`` or ``headers`` has the wrong shape.
    """

    host: str = "localhost"
    """Server host name, sent in ``Host``."""
    port: int = 8080
    """Server TCP port (left out of ``Host`` when it is the scheme's default)."""
    scheme: str = "http"
    """``http`` or ``https`` (TLS is the driver's business; the engine only writes ``Host``)."""
    base_path: str = "/v1"
    """Prefix of every request path (``""`` for none), e.g. ``/v1`` or ``/i3x/v1``."""
    request_timeout: float | None = 30.0
    """Longest wait for a whole response from ``request()`` on (queueing and connecting
    included), and for a stream's response head; ``None``: no limit."""
    pool_size: int = 4
    """Most request connections open (or opening) at once; streams have their own."""
    gzip: bool = True
    """Send ``Accept-Encoding: gzip`` and decompress gzip bodies."""
    token: str | None = None
    """Bearer token for ``Authorization`` (wins over ``auth``)."""
    auth: tuple[str, str] | None = None
    """``(user, secret)`` for HTTP Basic ``Authorization``."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers, in order."""
    user_agent: str = "otwire-i3x"
    """``User-Agent`` value (``""``: none)."""
    backoff_min: float = 0.5
    """First stream reconnect delay; it doubles per failed attempt, with jitter."""
    backoff_max: float = 30.0
    """Longest stream reconnect delay (``Retry-After`` may ask for more)."""
    sse_idle_timeout: float | None = None
    """End an open stream (``IDLE_TIMEOUT``) after this long without one octet; ``None``: off."""
    takeover_window: float | None = 5.0
    """A clean end this soon after a reconnect that itself followed a clean end is a takeover by
    another consumer of the subscription: the stream ends for good (``TAKEN_OVER``, notes §8);
    ``None``: always reconnect."""
    max_body_size: int = 64 * _MIB
    """Largest response body, before and after gzip decompression; more is a ``DecodeError``."""
    max_event_size: int = 4 * _MIB
    """Largest SSE line and event data on a stream."""
    seed: int | None = None
    """Seed of the reconnect jitter's ``random.Random`` (tests pass one; ``None``: OS entropy)."""

    def __post_init__(self) -> None:
        if self.scheme not in ("http", "https"):
            raise InvalidArgument(f"scheme={self.scheme!r} must be 'http' or 'https'")
        if not isinstance(self.host, str) or not self.host:
            raise InvalidArgument(f"host={self.host!r} must be a non-empty string")
        _check_int(self, "port", 1)
        if self.port > 65535:
            raise InvalidArgument(f"port={self.port!r} must be in 1..65535")
        if self.base_path and (not self.base_path.startswith("/") or self.base_path.endswith("/")):
            raise InvalidArgument(f"base_path={self.base_path!r} must start and not end with '/'")
        _check_int(self, "pool_size", 1)
        _check_int(self, "max_body_size", 1)
        _check_int(self, "max_event_size", 1)
        for name in ("backoff_min", "backoff_max"):
            _check_seconds(self, name)
        for name in ("request_timeout", "sse_idle_timeout", "takeover_window"):
            _check_seconds(self, name, optional=True)
        if self.backoff_max < self.backoff_min:
            raise InvalidArgument(f"backoff_max={self.backoff_max!r} is below backoff_min={self.backoff_min!r}")
        if self.auth is not None and (
            not isinstance(self.auth, tuple) or len(self.auth) != 2 or not all(isinstance(x, str) for x in self.auth)
        ):
            raise InvalidArgumentType(f"auth={self.auth!r} must be a (user, secret) tuple of str")
        if not all(isinstance(h, tuple) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in self.headers):
            raise InvalidArgumentType("headers must be a tuple of (name, value) str pairs")

    @property
    def authority(self) -> str:
        """The ``Host`` header value: the host, with ``:port`` unless it is the scheme's default."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


# --- end client engine ----------------------------------------------------------------------


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
