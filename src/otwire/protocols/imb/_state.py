"""The only transition tables of the IMB3 engines: the client and one hub connection (STYLE.md 3.1).

Each table is ``{(state, input): new_state}``; :meth:`otwire.protocols._base.EngineBase._move`
is the only place a state changes, and a missing pair is refused
(``LocalProtocolError`` for an input in ``*_LOCAL_INPUTS``, else ``RemoteProtocolError``).
Every way to end is a row too (``*_END_INPUTS`` maps each
:class:`~otwire.protocols.TerminationReason` to its input), so the tables say in
which states each can happen: in every open state, never in ``CLOSED``.
"""

from __future__ import annotations

import enum

from otwire.protocols import TerminationReason

__all__ = [
    "CLIENT_END_INPUTS",
    "CLIENT_LOCAL_INPUTS",
    "CLIENT_TRANSITIONS",
    "HUB_END_INPUTS",
    "HUB_LOCAL_INPUTS",
    "HUB_TRANSITIONS",
    "ClientConnectionState",
    "ClientInput",
    "HubInput",
    "HubPeerState",
]

R = TerminationReason

# --- the client ---------------------------------------------------------------------------


class ClientConnectionState(enum.Enum):
    """Lifecycle of one client connection (the TCP connection is already up).

    Not the wire enum :class:`otwire.codecs.imb.types.ClientState` (icSetState values).
    """

    AWAITING_ID = "awaiting id"
    """icSetClientInfo is queued; the hub has not sent icUniqueClientID yet (everything is allowed)."""
    READY = "ready"
    """The hub sent the connection's unique client id and handle."""
    CLOSED = "closed"
    """The connection is over."""


class ClientInput(enum.Enum):
    """Everything that can happen to a client connection."""

    SEND = "send a command"
    RECV_UNIQUE_ID = "receive icUniqueClientID"
    RECV_TRANSLATION = "receive icSetEventIDTranslation"
    RECV_EVENT = "receive icEvent"
    RECV_END_SESSION = "receive icEndSession"
    RECV_OTHER = "receive another command"
    CLOSE = "close"
    EOF = "end of stream"
    CONNECTION_LOST = "transport failed"
    PROTOCOL_ERROR = "framing error, malformed payload or too much junk"


#: Inputs that come from the local user (a missing entry is ``LocalProtocolError``).
CLIENT_LOCAL_INPUTS = frozenset({ClientInput.SEND, ClientInput.CLOSE})

_C_OPEN = (ClientConnectionState.AWAITING_ID, ClientConnectionState.READY)
_C_STAY = (ClientInput.SEND, ClientInput.RECV_TRANSLATION, ClientInput.RECV_EVENT, ClientInput.RECV_OTHER)
_C_ENDS = (
    ClientInput.RECV_END_SESSION,
    ClientInput.CLOSE,
    ClientInput.EOF,
    ClientInput.CONNECTION_LOST,
    ClientInput.PROTOCOL_ERROR,
)

#: ``CLIENT_TRANSITIONS[(state, input)] -> new state``; CLOSED accepts nothing.
CLIENT_TRANSITIONS: dict[tuple[ClientConnectionState, ClientInput], ClientConnectionState] = {
    **{(s, i): s for s in _C_OPEN for i in _C_STAY},
    **{(s, ClientInput.RECV_UNIQUE_ID): ClientConnectionState.READY for s in _C_OPEN},
    **{(s, i): ClientConnectionState.CLOSED for s in _C_OPEN for i in _C_ENDS},
}

#: The input that ends a client connection for each reason.
CLIENT_END_INPUTS: dict[TerminationReason, ClientInput] = {
    R.LOCAL_CLOSE: ClientInput.CLOSE,
    R.PEER_CLOSED: ClientInput.EOF,
    R.END_SESSION: ClientInput.RECV_END_SESSION,
    R.CONNECTION_LOST: ClientInput.CONNECTION_LOST,
    R.PROTOCOL_ERROR: ClientInput.PROTOCOL_ERROR,
}

# --- one connection of the hub ----------------------------------------------------------------


class HubPeerState(enum.Enum):
    """Lifecycle of one client connection (one peer) inside the hub."""

    CONNECTED = "connected"
    """Accepted; the hub sent icUniqueClientID. No icSetClientInfo yet (the initial state)."""
    IDENTIFIED = "identified"
    """The client sent icSetClientInfo (owner id and name are known)."""
    CLOSED = "closed"
    """The connection is over: no routing to or from it any more."""


class HubInput(enum.Enum):
    """Everything that can happen to a hub connection."""

    RECV_CLIENT_INFO = "receive icSetClientInfo"
    RECV_COMMAND = "receive any other well-framed command (icEvent included)"
    RECV_END_SESSION = "receive icEndSession"
    EOF = "end of stream"
    PROTOCOL_ERROR = "framing error, malformed payload or too much junk"
    SEND = "send a command to the client"
    TIMER = "timer (heartbeat)"
    CLOSE = "local close"
    CONNECTION_LOST = "transport failed"
    OVERFLOW = "output queue over its limit (slow consumer)"
    TIMEOUT = "driver deadline (handshake or idle)"
    LIMIT = "a resource limit of the hub"


#: Inputs that come from the local user (the hub's owner or the driver).
HUB_LOCAL_INPUTS = frozenset({HubInput.SEND, HubInput.TIMER, HubInput.CLOSE})

_H_OPEN = (HubPeerState.CONNECTED, HubPeerState.IDENTIFIED)
_H_ENDS = (
    HubInput.RECV_END_SESSION,
    HubInput.EOF,
    HubInput.PROTOCOL_ERROR,
    HubInput.CLOSE,
    HubInput.CONNECTION_LOST,
    HubInput.OVERFLOW,
    HubInput.TIMEOUT,
    HubInput.LIMIT,
)

#: ``HUB_TRANSITIONS[(state, input)] -> new state``; CLOSED accepts nothing.
HUB_TRANSITIONS: dict[tuple[HubPeerState, HubInput], HubPeerState] = {
    **{(s, i): s for s in _H_OPEN for i in (HubInput.RECV_COMMAND, HubInput.SEND, HubInput.TIMER)},
    **{(s, i): HubPeerState.CLOSED for s in _H_OPEN for i in _H_ENDS},
    (HubPeerState.CONNECTED, HubInput.RECV_CLIENT_INFO): HubPeerState.IDENTIFIED,
    (HubPeerState.IDENTIFIED, HubInput.RECV_CLIENT_INFO): HubPeerState.IDENTIFIED,
}

#: The input that ends a hub connection for each reason.
HUB_END_INPUTS: dict[TerminationReason, HubInput] = {
    R.LOCAL_CLOSE: HubInput.CLOSE,
    R.PEER_CLOSED: HubInput.EOF,
    R.END_SESSION: HubInput.RECV_END_SESSION,
    R.PROTOCOL_ERROR: HubInput.PROTOCOL_ERROR,
    R.CONNECTION_LOST: HubInput.CONNECTION_LOST,
    R.SLOW_CONSUMER: HubInput.OVERFLOW,
    R.IDLE_TIMEOUT: HubInput.TIMEOUT,
    R.HANDSHAKE_TIMEOUT: HubInput.TIMEOUT,
    R.LIMIT_EXCEEDED: HubInput.LIMIT,
}
