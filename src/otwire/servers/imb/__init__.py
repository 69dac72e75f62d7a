"""A TNO IMB3 hub on asyncio: many clients, routing by :class:`~otwire.protocols.imb.hub.IMBHub`.

:class:`AsyncHub` runs in the caller's event loop (``async with`` or ``await
hub.serve()``); :class:`Hub` runs the same thing in a daemon thread with blocking
``start()``/``stop()`` (and ``with``), for tests and scripts; :func:`serve` is
``otwire serve imb-hub``::

    from otwire.servers.imb import Hub

    with Hub(port=4000) as hub:  # pyimb: imb.Client("127.0.0.1", 4000, 1, "me", "fed")
        ...
        print(hub.clients())

This layer only moves octets: each accepted socket gets a
:class:`~otwire.protocols.imb.hub.HubConnection`; after every input the octets
queued on *every* connection the input touched are written, once per connection
(one ``write`` per received chunk, however many events it held).

Slow consumers do not block fast ones: reading is never paused for a subscriber.
A client whose transport write buffer goes over ``max_queue_bytes`` is
disconnected (logged as "slow consumer"); the others keep everything.
"""

from __future__ import annotations

from otwire.protocols.imb.hub_events import ClientStatus, EventInfo, TerminationReason
from otwire.servers.imb.hub import CLOSE_GRACE, DEFAULT_PORT, AsyncHub, BaseHub, Hub, serve

__all__ = [
    "CLOSE_GRACE",
    "DEFAULT_PORT",
    "AsyncHub",
    "BaseHub",
    "ClientStatus",
    "EventInfo",
    "Hub",
    "TerminationReason",
    "serve",
]
