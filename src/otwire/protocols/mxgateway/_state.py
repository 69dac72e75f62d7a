"""The lifecycle of one gateway session as a transition table (specs/pattern.md "Engines" rule 1).

Handles, advise state, pending commands and the event sequence stay outside the table
(``session.py``); the table only says which input is allowed in which state.
``OPEN_SENT``/``INVOKE``/``CLOSE`` are the local inputs; everything else is what the gateway
answered or what happened to the carrier.
"""

from __future__ import annotations

import enum

__all__ = ["LOCAL_INPUTS", "TRANSITIONS", "Input", "State"]


class State(enum.Enum):
    """Lifecycle of one ``OpenSession`` ... ``CloseSession`` session, seen from the client."""

    NEW = "new"
    """Nothing sent yet (the initial state of a session to be opened)."""
    OPENING = "opening"
    """``OpenSession`` sent, no reply yet."""
    READY = "ready"
    """The gateway gave a ``session_id``: commands and event streams are allowed."""
    CLOSING = "closing"
    """``CloseSession`` sent; replies to commands still in flight are accepted."""
    CLOSED = "closed"
    """The session is over (closed, refused or lost)."""


class Input(enum.Enum):
    """Everything that can happen to a session."""

    OPEN_SENT = "send OpenSession"
    OPENED = "receive OpenSession reply (OK)"
    OPEN_REFUSED = "receive OpenSession reply (failed)"
    ATTACH = "attach to an existing session id"
    INVOKE = "send a command"
    REPLY = "receive a command reply"
    EVENT = "receive an event"
    CLOSE = "send CloseSession"
    CLOSED_REPLY = "receive CloseSession reply"
    LOST = "session lost (SESSION_NOT_FOUND, carrier failed)"


#: The inputs the local user causes (refused with ``LocalProtocolError``).
LOCAL_INPUTS = frozenset({Input.OPEN_SENT, Input.ATTACH, Input.INVOKE, Input.CLOSE})

S, In = State, Input
TRANSITIONS: dict[tuple[State, Input], State] = {
    (S.NEW, In.OPEN_SENT): S.OPENING,
    (S.NEW, In.ATTACH): S.READY,
    (S.NEW, In.CLOSE): S.CLOSED,
    (S.NEW, In.LOST): S.CLOSED,
    (S.OPENING, In.OPENED): S.READY,
    (S.OPENING, In.OPEN_REFUSED): S.CLOSED,
    (S.OPENING, In.CLOSE): S.CLOSED,
    (S.OPENING, In.LOST): S.CLOSED,
    (S.READY, In.INVOKE): S.READY,
    (S.READY, In.REPLY): S.READY,
    (S.READY, In.EVENT): S.READY,
    (S.READY, In.CLOSE): S.CLOSING,
    (S.READY, In.LOST): S.CLOSED,
    (S.CLOSING, In.REPLY): S.CLOSING,
    (S.CLOSING, In.EVENT): S.CLOSING,
    (S.CLOSING, In.CLOSE): S.CLOSING,
    (S.CLOSING, In.CLOSED_REPLY): S.CLOSED,
    (S.CLOSING, In.LOST): S.CLOSED,
    (S.CLOSED, In.CLOSE): S.CLOSED,
    (S.CLOSED, In.LOST): S.CLOSED,
}
del S, In
