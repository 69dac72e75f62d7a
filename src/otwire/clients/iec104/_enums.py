"""Enumerations of the IEC 104 client, named like their c104 counterparts.

Member names and values match the c104 library, so ``c104.Init.ALL`` becomes
``otwire.clients.iec104.Init.ALL``. Values that exist on the wire (qualifiers, causes)
carry their wire value; the others (``Init``, ``ConnectionState``, ...) use c104's
numbering for easy comparison in ported code. ``CommandMode`` and ``ResponseState`` are
defined once in :mod:`otwire.codecs.iec104.values` and shared with the outstation.
"""

from __future__ import annotations

import enum

from otwire.codecs.iec104.values import CommandMode, ResponseState

__all__ = [
    "Coi",
    "CommandMode",
    "ConnectionState",
    "Frz",
    "Init",
    "Qoc",
    "Qoi",
    "ResponseState",
    "Rqt",
    "Umc",
]


class Init(enum.IntEnum):
    """What a connection does each time its TCP connection comes up."""

    ALL = 0
    """Start data transfer, then send a general interrogation and a clock synchronisation."""
    INTERROGATION = 1
    """Start data transfer, then send a general interrogation."""
    CLOCK_SYNC = 2
    """Start data transfer, then send a clock synchronisation."""
    MUTED = 3
    """Do not start data transfer (the connection stays ``OPEN_MUTED`` until ``unmute()``)."""
    NONE = 4
    """Start data transfer only."""


class ConnectionState(enum.IntEnum):
    """Lifecycle of a client connection."""

    CLOSED = 0
    """Not connected and not trying to (client stopped or ``disconnect()`` called)."""
    CLOSED_AWAIT_OPEN = 1
    """A TCP (and TLS) connect is in progress."""
    CLOSED_AWAIT_RECONNECT = 2
    """The connection failed or was lost; a reconnect is scheduled (backoff)."""
    OPEN_MUTED = 3
    """Connected, data transfer stopped (before STARTDT con, or after STOPDT)."""
    OPEN = 4
    """Connected and data transfer started: commands and monitor data flow."""
    OPEN_AWAIT_CLOSED = 5
    """A local close is in progress."""


class Qoi(enum.IntEnum):
    """Qualifier of interrogation (QOI): station or group 1..16."""

    STATION = 20
    GROUP_1 = 21
    GROUP_2 = 22
    GROUP_3 = 23
    GROUP_4 = 24
    GROUP_5 = 25
    GROUP_6 = 26
    GROUP_7 = 27
    GROUP_8 = 28
    GROUP_9 = 29
    GROUP_10 = 30
    GROUP_11 = 31
    GROUP_12 = 32
    GROUP_13 = 33
    GROUP_14 = 34
    GROUP_15 = 35
    GROUP_16 = 36


class Rqt(enum.IntEnum):
    """Request part (RQT) of the qualifier of counter interrogation (QCC)."""

    GROUP_1 = 1
    GROUP_2 = 2
    GROUP_3 = 3
    GROUP_4 = 4
    GENERAL = 5


class Frz(enum.IntEnum):
    """Freeze part (FRZ) of the qualifier of counter interrogation (QCC)."""

    READ = 0
    FREEZE_WITHOUT_RESET = 1
    FREEZE_WITH_RESET = 2
    COUNTER_RESET = 3


class Coi(enum.IntEnum):
    """Cause of initialization reported by M_EI_NA_1 (other values arrive as ``int``)."""

    LOCAL_POWER_ON = 0
    LOCAL_MANUAL_RESET = 1
    REMOTE_RESET = 2


class Qoc(enum.IntEnum):
    """Qualifier of command (QU of SCO, DCO and RCO)."""

    NONE = 0
    SHORT_PULSE = 1
    LONG_PULSE = 2
    PERSISTENT = 3


class Umc(enum.IntEnum):
    """Why a received message was reported to ``on_unexpected_message``."""

    NO_ERROR_CAUSE = 0
    UNKNOWN_TYPE_ID = 1
    """The type identification is not known (or not expected in monitor direction)."""
    UNKNOWN_COT = 2
    """The station answered with COT 45 (unknown cause of transmission)."""
    UNKNOWN_CA = 3
    """No station with this common address (or the station answered COT 46)."""
    UNKNOWN_IOA = 4
    """No point with this address (or the station answered COT 47)."""
    INVALID_COT = 5
    """The cause of transmission does not fit the type identification."""
    INVALID_TYPE_ID = 6
    """The station answered with COT 44 (unknown type identification)."""
    MISMATCHED_TYPE_ID = 7
    """The point exists with another type identification."""
    UNIMPLEMENTED_GROUP = 8
