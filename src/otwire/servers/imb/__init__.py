"""A TNO IMB3 hub on asyncio: many clients, routing by :class:`~otwire.protocols.imb.hub.IMBHub`.

:class:`AsyncHub` runs in the caller's event loop (``async with`` or ``await
hub.serve()``); :class:`Hub` runs the same thing in a daemon thread with blocking
``start()``/``stop()`` (and ``with``), for tests and scripts; :func:`serve` is
``otwire serve imb-hub``::

    from otwire.servers.imb import Hub

    with Hub(port=4000) as hub:  # pyimb: imb.Client("127.0.0.1", 4000, 1, "me", "fed")
        ...
        print(hub.clients())

This layer only moves octets: the shared server base runs the many-peer engine
:class:`~otwire.protocols.imb.hub.IMBHub` on the generic asyncio driver, which writes,
after every input, the octets of every peer the input reached (once per peer).

Slow consumers do not block fast ones: reading is never paused for a subscriber. A
client holding more than ``limits.max_output_bytes`` is disconnected (logged as "slow
consumer"), and so is the client holding most when all together (output and unfinished
input) go over ``limits.memory_budget``; the others keep everything. The hub's own
limits (name and value sizes, name quotas, junk) are an
:class:`~otwire.protocols.imb.config.IMBHubConfig` (``Hub(config=...)`` or keywords).
"""

from __future__ import annotations

from otwire.protocols import TerminationReason
from otwire.protocols.imb.events import ClientStatus, EventInfo
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
