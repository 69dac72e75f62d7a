"""Connection parameters k, w, t0..t3 and the station roles (IEC 60870-5-104 clause 9.6).

See ``specs/iec104/notes.md`` ("Parameters k, w, t0..t3") for the defaults and ranges.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from otwire.errors import LocalProtocolError

__all__ = ["IEC104Config", "Role"]


class Role(enum.Enum):
    """Which end of the link a connection plays (-104 clause 5)."""

    CONTROLLING = "controlling"
    """Controlling station (client, master): sends STARTDT/STOPDT act."""
    CONTROLLED = "controlled"
    """Controlled station (server, outstation): answers STARTDT/STOPDT."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IEC104Config:
    """The -104 protocol parameters; defaults are the standard's.

    Times are in seconds (floats allowed, for tests); counts are APDUs.

    Raises:
        LocalProtocolError: ``k`` or ``w`` outside 1..32767, ``w > 2k/3``, a time
            not positive, ``t2 >= t1``, or ``t3`` above 48 hours.
    """

    k: int = 12
    """Maximum number of own I-frames sent and not yet acknowledged."""
    w: int = 8
    """Acknowledge at the latest after receiving ``w`` I-frames."""
    t0: float = 30.0
    """Time-out of connection establishment (TCP connect), seconds. Used by clients."""
    t1: float = 15.0
    """Time-out of sent I-frames and U-frame acts (STARTDT/STOPDT/TESTFR), seconds."""
    t2: float = 10.0
    """Time-out for acknowledging received I-frames with an S-frame, seconds (t2 < t1)."""
    t3: float = 20.0
    """Idle time after which a TESTFR act is sent, seconds."""

    def __post_init__(self) -> None:
        for name in ("k", "w"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 1 <= value <= 32767):
                raise LocalProtocolError(f"{name}={value!r} not in 1..32767")
        if 3 * self.w > 2 * self.k:
            raise LocalProtocolError(f"w={self.w} exceeds 2k/3 (k={self.k}); the standard recommends w <= 2k/3")
        for name in ("t0", "t1", "t2", "t3"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise LocalProtocolError(f"{name}={value!r} must be a positive number of seconds")
        if self.t2 >= self.t1:
            raise LocalProtocolError(f"t2={self.t2} must be less than t1={self.t1}")
        if self.t3 > 48 * 3600:
            raise LocalProtocolError(f"t3={self.t3} above 48 hours")
