"""Settings of the XEP-0323 engines, frozen and checked on construction (``specs/xep0323/notes.md`` §6).

>>> RequesterConfig(readout_timeout=5.0).readout_timeout
5.0
>>> SensorConfig(max_fields_per_message=0)
Traceback (most recent call last):
...
otwire.errors.InvalidArgument: max_fields_per_message=0 must be >= 1
"""

from __future__ import annotations

from dataclasses import dataclass

from otwire.codecs.xep0323 import DIALECTS
from otwire.errors import InvalidArgument

__all__ = ["RequesterConfig", "SensorConfig"]


def _check_number(config: object, name: str, low: float, *, integer: bool = False) -> None:
    value = getattr(config, name)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value >= low:
        raise InvalidArgument(f"{name}={value!r} must be >= {low}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequesterConfig:
    """Settings of :class:`~otwire.protocols.xep0323.requester.Requester`.

    Raises:
        InvalidArgument: a value out of range.
    """

    readout_timeout: float = 60.0
    """Seconds a readout may take from ``req`` to its end before ``ReadoutTimedOut``
    (the device may never finish; XEP-0323 #readoutfailure). ``request(timeout=...)`` overrides it."""
    max_readouts: int = 1024
    """Most readouts outstanding at once; ``request`` raises ``InvalidState`` beyond."""
    first_seqnr: int | None = None
    """The first seqnr; ``None`` picks a random one (seqnrs are never reused while outstanding)."""
    filter_fields: bool = True
    """Drop fields the request did not ask for (by name and by field type): the client MUST
    filter, the device may ignore every hint (#fieldtypes)."""

    def __post_init__(self) -> None:
        _check_number(self, "readout_timeout", 0.001)
        _check_number(self, "max_readouts", 1, integer=True)
        if self.first_seqnr is not None:
            _check_number(self, "first_seqnr", 0, integer=True)
            if self.first_seqnr > 2**31 - 1:
                raise InvalidArgument(f"first_seqnr={self.first_seqnr} must be an xs:int")


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorConfig:
    """Settings of :class:`~otwire.protocols.xep0323.sensor.Sensor`.

    Raises:
        InvalidArgument: a value out of range, or an unknown dialect.
    """

    dialect: str = "v0.6"
    """``"v0.6"``: rejections are RFC 6120 errors only; ``"v0.2"``: the hybrid error, a
    ``rejected`` element beside the RFC 6120 one, which slixmpp requesters understand."""
    comm_timeout: float = 10.0
    """Default seconds a node may take to report before a ``failure`` "Timeout" is sent for it."""
    max_fields_per_message: int = 100
    """Most field values in one ``fields`` message; larger readouts are split over several."""
    max_readouts: int = 1024
    """Most readouts running or queued at once; more requests are refused (``wait``/``resource-constraint``)."""
    max_schedule: float = 7 * 24 * 3600.0
    """Longest ``when`` delay accepted, seconds; later requests are refused (``modify``/``bad-request``)."""

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise InvalidArgument(f"dialect={self.dialect!r} must be one of {DIALECTS}")
        _check_number(self, "comm_timeout", 0.001)
        _check_number(self, "max_fields_per_message", 1, integer=True)
        _check_number(self, "max_readouts", 1, integer=True)
        _check_number(self, "max_schedule", 0)
