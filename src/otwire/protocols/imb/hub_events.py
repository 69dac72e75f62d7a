"""Deprecated, removed after the merge: the hub's events moved to :mod:`otwire.protocols.imb.events`.

Kept only so that ``otwire.servers.imb`` (owned by the servers helper) imports until it
moves to the ``PeerEngine`` driver. ``ClientIdentified`` is now ``ClientInfoReceived``.
"""

from __future__ import annotations

from otwire.protocols import ConnectionTerminated, TerminationReason
from otwire.protocols.imb._state import HUB_END_INPUTS as END_INPUTS
from otwire.protocols.imb._state import HUB_TRANSITIONS, HubInput, HubState
from otwire.protocols.imb.events import (
    ClientInfoReceived,
    ClientStatus,
    CommandIgnored,
    CommandRejected,
    EventInfo,
    EventPublished,
    EventsDropped,
    EventSubscribed,
    EventUnpublished,
    EventUnsubscribed,
    JunkSkipped,
    VariableChanged,
)

ClientIdentified = ClientInfoReceived  # deprecated alias, removed after the merge

__all__ = [
    "END_INPUTS", "HUB_TRANSITIONS", "ClientIdentified", "ClientInfoReceived", "ClientStatus",
    "CommandIgnored", "CommandRejected", "ConnectionTerminated", "EventInfo", "EventPublished",
    "EventSubscribed", "EventUnpublished", "EventUnsubscribed", "EventsDropped", "HubInput",
    "HubState", "JunkSkipped", "TerminationReason", "VariableChanged",
]  # fmt: skip
