"""Settings of the IMB3 engines, as frozen dataclasses checked on construction (``specs/imb/notes.md``).

>>> IMBHubConfig(max_name_bytes=256).max_name_bytes
256
>>> IMBClientConfig(max_open_streams=0)
Traceback (most recent call last):
...
otwire.errors.InvalidArgument: max_open_streams=0 must be an int >= 1
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from otwire.codecs.imb import MAX_PAYLOAD_SIZE
from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = ["IMBClientConfig", "IMBHubConfig", "merge_config"]

_KIB = 1024
_MIB = 1024 * _KIB
C = TypeVar("C", "IMBClientConfig", "IMBHubConfig")


def _check_int(config: object, name: str, low: int, high: int | None = None) -> None:
    value = getattr(config, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bound = f"in {low}..{high}" if high is not None else f">= {low}"
        raise InvalidArgument(f"{name}={value!r} must be an int {bound}")


@dataclass(frozen=True, slots=True, kw_only=True)
class IMBClientConfig:
    """Settings of :class:`~otwire.protocols.imb.client.IMBClientConnection`.

    Raises:
        InvalidArgument: a value is out of range.
    """

    request_unique_id: bool = False
    """Send an icUniqueClientID request right after icSetClientInfo (the reference
    clients do; pyimb asks only when the id is read)."""
    end_session_on_close: bool = True
    """``close()`` sends icEndSession first (C#, Java); pyimb only closes the socket."""
    max_translations: int = 65_536
    """Most hub id translations kept; more are ignored (``TranslationIgnored``)."""
    max_open_streams: int = 256
    """Most incoming streams open at once; a new header aborts the oldest."""
    max_payload_size: int = MAX_PAYLOAD_SIZE
    """Largest payload accepted from the hub (octets, at most 10 MiB); longer is a framing error."""
    max_junk_bytes: int = 64 * _KIB
    """Most octets that start no frame, in a row, before the connection is dropped
    (``RemoteProtocolError``); a complete frame resets the count."""

    def __post_init__(self) -> None:
        _check_int(self, "max_translations", 1)
        _check_int(self, "max_open_streams", 1)
        _check_int(self, "max_payload_size", 0, MAX_PAYLOAD_SIZE)
        _check_int(self, "max_junk_bytes", 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class IMBHubConfig:
    """Settings and limits of :class:`~otwire.protocols.imb.hub.IMBHub` (every limit is on by default).

    Raises:
        InvalidArgument: a value is out of range, or ``max_output_bytes`` cannot
            hold one frame of ``max_payload_size``.
    """

    self_delivery: bool = True
    """Deliver a client's events to itself when it also subscribes (pyimb's own tests expect it)."""
    notify: bool = True
    """Tell publishers when their event gains its first or loses its last subscriber
    (icSubscribe/icUnsubscribe) and subscribers when it gains or loses publishers
    (icPublish/icUnpublish); pyimb ignores them."""
    heartbeat_interval: float | None = None
    """Send an empty icHeartBeat to every client this often (seconds); ``None``: never."""
    max_payload_size: int = MAX_PAYLOAD_SIZE
    """Largest frame payload accepted (octets, at most 10 MiB); a longer announced length is a
    framing error. It also bounds the octets held for one unfinished frame."""
    max_output_bytes: int = 64 * _MIB
    """Most octets queued for one client and not yet taken; over it: ``SLOW_CONSUMER``."""
    max_event_names: int = 65_536
    """Most distinct event names in use at once, over all clients."""
    max_names_per_client: int = 4_096
    """Most event names one client may subscribe or publish at once (its quota)."""
    max_name_bytes: int = 1 * _KIB
    """Longest event or variable name accepted (UTF-8 octets); longer is ``CommandRejected``."""
    max_variables: int = 10_000
    """Most global variables stored."""
    max_value_bytes: int = 1 * _MIB
    """Longest variable value accepted (octets); longer is ``CommandRejected``."""
    max_variable_bytes: int = 16 * _MIB
    """Most octets of variable names and values together."""
    max_junk_bytes: int = 64 * _KIB
    """Most octets that start no frame, in a row, before the client is dropped
    (``PROTOCOL_ERROR``); a complete frame resets the count."""
    max_junk_share: float = 0.125
    """Junk over the connection's life: beyond a first ``max_junk_bytes`` octets, junk may make
    up at most this share of everything received from the client (``junk > max_junk_bytes +
    max_junk_share * octets received`` closes it, ``PROTOCOL_ERROR``). A client alternating
    junk runs with short frames is closed; ``1.0`` turns the rule off."""

    def __post_init__(self) -> None:
        share = self.max_junk_share
        if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1:
            raise InvalidArgument(f"max_junk_share={share!r} must be a number in 0..1")
        beat = self.heartbeat_interval
        if beat is not None and (not isinstance(beat, int | float) or not beat > 0):
            raise InvalidArgument(f"heartbeat_interval={beat!r} must be > 0 or None")
        _check_int(self, "max_payload_size", 0, MAX_PAYLOAD_SIZE)
        _check_int(self, "max_output_bytes", self.max_payload_size + 20)
        for name in ("max_event_names", "max_names_per_client", "max_name_bytes", "max_variables",
                     "max_value_bytes", "max_variable_bytes"):  # fmt: skip
            _check_int(self, name, 1)
        _check_int(self, "max_junk_bytes", 0)


def merge_config(cls: type[C], config: C | None, options: dict[str, Any]) -> C:
    """Return ``config`` (or the defaults) with the keyword ``options`` replacing its fields.

    Raises:
        InvalidArgumentType: ``config`` is not a ``cls``, or an option is not a field of it.
        InvalidArgument: a value is out of range.
    """
    if config is None:
        config = cls()
    elif not isinstance(config, cls):
        raise InvalidArgumentType(f"config must be a {cls.__name__}, got {type(config).__name__}")
    if not options:
        return config
    unknown = set(options) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise InvalidArgumentType(f"unknown {cls.__name__} option(s): {', '.join(sorted(unknown))}")
    return dataclasses.replace(config, **options)
