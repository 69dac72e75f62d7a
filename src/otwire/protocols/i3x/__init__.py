"""CESMII i3X 1.0 sans-IO engines on h11 (specs/i3x/notes.md).

# ---- server (branch i3x-server) -------------------------------------------------------------
* :class:`~otwire.protocols.i3x.server.I3XServer`: the many-peer server engine;
  :mod:`~otwire.protocols.i3x.space`: the :class:`AddressSpace` it serves and :class:`MemorySpace`;
  :class:`~otwire.protocols.i3x.config.I3XServerConfig`.
"""

from __future__ import annotations

# ---- server (branch i3x-server) -------------------------------------------------------------
from otwire.protocols.i3x.config import I3XServerConfig
from otwire.protocols.i3x.events import RequestHandled
from otwire.protocols.i3x.server import I3XServer
from otwire.protocols.i3x.space import AddressSpace, MemorySpace

__all__ = [
    # ---- server (branch i3x-server) ----
    "AddressSpace",
    "I3XServer",
    "I3XServerConfig",
    "MemorySpace",
    "RequestHandled",
]
