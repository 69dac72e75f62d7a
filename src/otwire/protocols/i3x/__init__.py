"""Sans-IO CESMII i3X 1.0 engines on h11 (specs/i3x/notes.md).

* :class:`I3XClientEngine` (``client``): requests on a keep-alive connection pool and
  SSE streams with reconnects; the engine chooses connection ids and asks the driver
  to open them.
* :class:`I3XServer` (``server``): the many-peer server engine (a ``PeerEngine``);
  :mod:`~otwire.protocols.i3x.space` holds the :class:`AddressSpace` it serves and
  :class:`MemorySpace`.

Modules: ``client``, ``server``, ``space``, ``events``, ``config``, ``_state`` (the only
transition tables).
"""

from __future__ import annotations

from otwire.protocols.i3x._state import ConnInput, ConnState, StreamInput, StreamState
from otwire.protocols.i3x.client import I3XClientEngine
from otwire.protocols.i3x.config import I3XClientConfig, I3XServerConfig
from otwire.protocols.i3x.events import (
    GapDetected,
    RequestFailed,
    RequestHandled,
    ResponseReceived,
    StreamEnded,
    StreamEndReason,
    StreamOpened,
    StreamReconnected,
    ValuesChanged,
)
from otwire.protocols.i3x.server import I3XServer
from otwire.protocols.i3x.space import AddressSpace, MemorySpace

__all__ = [
    "AddressSpace",
    "ConnInput",
    "ConnState",
    "GapDetected",
    "I3XClientConfig",
    "I3XClientEngine",
    "I3XServer",
    "I3XServerConfig",
    "MemorySpace",
    "RequestFailed",
    "RequestHandled",
    "ResponseReceived",
    "StreamEndReason",
    "StreamEnded",
    "StreamInput",
    "StreamOpened",
    "StreamReconnected",
    "StreamState",
    "ValuesChanged",
]
