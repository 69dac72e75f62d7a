"""Sans-IO CESMII i3X 1.0 engines on h11 (specs/i3x/notes.md).

* :class:`I3XClientEngine` (``client``): requests on a keep-alive connection pool and
  SSE streams with reconnects; the engine chooses connection ids and asks the driver
  to open them.

Modules: ``client``, ``events``, ``config``, ``_state`` (the only transition tables).
"""

from __future__ import annotations

# --- client engine (branch i3x-engine) ------------------------------------------------------
from otwire.protocols.i3x._state import ConnInput, ConnState, StreamInput, StreamState
from otwire.protocols.i3x.client import I3XClientEngine
from otwire.protocols.i3x.config import I3XClientConfig
from otwire.protocols.i3x.events import (
    GapDetected,
    RequestFailed,
    ResponseReceived,
    StreamEnded,
    StreamEndReason,
    StreamOpened,
    StreamReconnected,
    ValuesChanged,
)

# --- end client engine ----------------------------------------------------------------------

__all__ = [
    # client engine (branch i3x-engine)
    "ConnInput",
    "ConnState",
    "GapDetected",
    "I3XClientConfig",
    "I3XClientEngine",
    "RequestFailed",
    "ResponseReceived",
    "StreamEndReason",
    "StreamEnded",
    "StreamInput",
    "StreamOpened",
    "StreamReconnected",
    "StreamState",
    "ValuesChanged",
]
