"""The connection lifecycle as a transition table (specs/pattern.md "Engines" rule 1; -104 clause 5.3).

Counters (V(S), V(R), V(A), pending acknowledgements) stay outside the table; the
table only says which input is allowed in which state and where it leads. A missing
entry is a protocol error: ``LocalProtocolError`` for a local input, and
``RemoteProtocolError`` for a received one. Every way to end (close, end of stream,
t1, a protocol error, a lost transport) is a row too: ``END_INPUTS`` maps each
``TerminationReason`` to its input, and every open state leads to ``CLOSED`` on it.
"""

from __future__ import annotations

import enum

from otwire.codecs.iec104 import UFunction
from otwire.protocols import TerminationReason
from otwire.protocols.iec104.config import Role

__all__ = ["END_INPUTS", "LOCAL_INPUTS", "RECEIVED_U", "SENT_U", "TRANSITIONS", "Input", "State"]


class State(enum.Enum):
    """Lifecycle of one -104 connection (the TCP connection is already up)."""

    STOPPED = "stopped"
    """Data transfer stopped: only S-frames and TESTFR may flow (the initial state)."""
    STARTING = "starting"
    """Controlling station sent STARTDT act and waits for the con."""
    STARTED = "started"
    """Data transfer started: I-frames flow both ways."""
    STOPPING = "stopping"
    """STOPDT act sent (controlling), or received while own I-frames are unacknowledged (controlled)."""
    CLOSED = "closed"
    """The connection is over."""


class Input(enum.Enum):
    """Everything that can happen to a connection."""

    SEND_STARTDT_ACT = "send STARTDT act"
    SEND_STOPDT_ACT = "send STOPDT act"
    SEND_TESTFR_ACT = "send TESTFR act"
    SEND_I = "send I-frame"
    RECV_STARTDT_ACT = "receive STARTDT act"
    RECV_STARTDT_CON = "receive STARTDT con"
    RECV_STOPDT_ACT = "receive STOPDT act"
    RECV_STOPDT_CON = "receive STOPDT con"
    RECV_TESTFR_ACT = "receive TESTFR act"
    RECV_TESTFR_CON = "receive TESTFR con"
    RECV_I = "receive I-frame"
    RECV_S = "receive S-frame"
    ALL_ACKNOWLEDGED = "all own I-frames acknowledged"
    CLOSE = "close"
    EOF = "end of stream"
    T1_EXPIRED = "t1 expired"
    PROTOCOL_ERROR = "protocol error"
    CONNECTION_LOST = "connection lost"


#: The table input through which each way of ending goes (``EngineBase.END_INPUTS``).
END_INPUTS: dict[TerminationReason, Input] = {
    TerminationReason.LOCAL_CLOSE: Input.CLOSE,
    TerminationReason.PEER_CLOSED: Input.EOF,
    TerminationReason.T1_TIMEOUT: Input.T1_EXPIRED,
    TerminationReason.PROTOCOL_ERROR: Input.PROTOCOL_ERROR,
    TerminationReason.CONNECTION_LOST: Input.CONNECTION_LOST,
}


#: Inputs that come from the local user (a missing entry is LocalProtocolError).
LOCAL_INPUTS = frozenset(
    {Input.SEND_STARTDT_ACT, Input.SEND_STOPDT_ACT, Input.SEND_TESTFR_ACT, Input.SEND_I, Input.CLOSE}
)

S = State
# A controlled station never sends STARTDT act, so it is never STARTING.
_OPEN = {
    Role.CONTROLLING: (S.STOPPED, S.STARTING, S.STARTED, S.STOPPING),
    Role.CONTROLLED: (S.STOPPED, S.STARTED, S.STOPPING),
}

_CONTROLLING: dict[tuple[State, Input], State] = {
    (S.STOPPED, Input.SEND_STARTDT_ACT): S.STARTING,
    (S.STOPPED, Input.SEND_STOPDT_ACT): S.STOPPING,
    (S.STARTING, Input.RECV_STARTDT_CON): S.STARTED,
    (S.STARTED, Input.SEND_I): S.STARTED,
    (S.STARTED, Input.RECV_I): S.STARTED,
    (S.STARTED, Input.SEND_STOPDT_ACT): S.STOPPING,
    # I-frames sent by the station before it saw our STOPDT act are still valid.
    (S.STOPPING, Input.RECV_I): S.STOPPING,
    (S.STOPPING, Input.RECV_STOPDT_CON): S.STOPPED,
}

_CONTROLLED: dict[tuple[State, Input], State] = {
    (S.STOPPED, Input.RECV_STARTDT_ACT): S.STARTED,
    (S.STOPPED, Input.RECV_STOPDT_ACT): S.STOPPED,
    (S.STARTED, Input.SEND_I): S.STARTED,
    (S.STARTED, Input.RECV_I): S.STARTED,
    (S.STARTED, Input.RECV_STARTDT_ACT): S.STARTED,
    (S.STARTED, Input.RECV_STOPDT_ACT): S.STOPPING,
    (S.STOPPING, Input.RECV_I): S.STOPPING,
    (S.STOPPING, Input.RECV_STOPDT_ACT): S.STOPPING,
    (S.STOPPING, Input.RECV_STARTDT_ACT): S.STARTED,
    (S.STOPPING, Input.ALL_ACKNOWLEDGED): S.STOPPED,
}


def _common(role: Role) -> dict[tuple[State, Input], State]:
    table: dict[tuple[State, Input], State] = {}
    for state in _OPEN[role]:
        for same in (Input.RECV_S, Input.RECV_TESTFR_ACT, Input.RECV_TESTFR_CON, Input.SEND_TESTFR_ACT):
            table[state, same] = state
        for end in END_INPUTS.values():
            table[state, end] = S.CLOSED
    return table


#: ``TRANSITIONS[role][(state, input)] -> new state``.
TRANSITIONS: dict[Role, dict[tuple[State, Input], State]] = {
    Role.CONTROLLING: {**_common(Role.CONTROLLING), **_CONTROLLING},
    Role.CONTROLLED: {**_common(Role.CONTROLLED), **_CONTROLLED},
}

#: Received U-frame function -> table input.
RECEIVED_U = {
    UFunction.STARTDT_ACT: Input.RECV_STARTDT_ACT,
    UFunction.STARTDT_CON: Input.RECV_STARTDT_CON,
    UFunction.STOPDT_ACT: Input.RECV_STOPDT_ACT,
    UFunction.STOPDT_CON: Input.RECV_STOPDT_CON,
    UFunction.TESTFR_ACT: Input.RECV_TESTFR_ACT,
    UFunction.TESTFR_CON: Input.RECV_TESTFR_CON,
}
#: U-frame function the user may send -> table input.
SENT_U = {
    UFunction.STARTDT_ACT: Input.SEND_STARTDT_ACT,
    UFunction.STOPDT_ACT: Input.SEND_STOPDT_ACT,
    UFunction.TESTFR_ACT: Input.SEND_TESTFR_ACT,
}
