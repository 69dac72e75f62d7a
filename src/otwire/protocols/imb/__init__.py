"""Sans-IO TNO IMB3 engines: the client role and the hub role (``specs/imb/notes.md``).

* :class:`IMBClientConnection`: one client connection (handshake, event ids,
  federation prefix, subscribe/publish, id translation, stream reassembly).
* :class:`IMBHub` with one :class:`HubConnection` per client: routing with
  per-connection id translation, notifications, variables, cleanup.

Both follow the contract of :class:`otwire.protocols.Connection`.
"""

from __future__ import annotations

from otwire.protocols.imb.client import IMBClientConnection, RawEvent, prefixed_name
from otwire.protocols.imb.hub import HubConnection, IMBHub

__all__ = ["HubConnection", "IMBClientConnection", "IMBHub", "RawEvent", "prefixed_name"]
