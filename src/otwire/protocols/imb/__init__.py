"""Sans-IO TNO IMB3 engines: the client role and the hub role (``specs/imb/notes.md``).

* :class:`IMBClientConnection`: one client connection (handshake, event ids,
  federation prefix, subscribe/publish, id translation, stream reassembly);
  a :class:`otwire.protocols.Connection`.
* :class:`IMBHub`: the hub, a :class:`otwire.protocols.PeerEngine` (routing with
  per-connection id translation, notifications, variables, limits), with one
  :class:`HubConnection` per peer.

Modules: ``client``, ``hub`` (the engines), ``events`` (their events), ``config``
(``IMBClientConfig``, ``IMBHubConfig``), ``_state`` (the only transition tables).
"""

from __future__ import annotations

from otwire.protocols import ConnectionTerminated, TerminationReason
from otwire.protocols.imb._connection import HubConnection
from otwire.protocols.imb._state import ClientConnectionState, ClientInput, HubInput, HubPeerState
from otwire.protocols.imb.client import IMBClientConnection, RawEvent, prefixed_name
from otwire.protocols.imb.config import IMBClientConfig, IMBHubConfig
from otwire.protocols.imb.hub import IMBHub

__all__ = [
    "ClientConnectionState",
    "ClientInput",
    "ConnectionTerminated",
    "HubConnection",
    "HubInput",
    "HubPeerState",
    "IMBClientConfig",
    "IMBClientConnection",
    "IMBHub",
    "IMBHubConfig",
    "RawEvent",
    "TerminationReason",
    "prefixed_name",
]
