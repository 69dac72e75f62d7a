"""The limits every otwire server enforces (re-exported from :mod:`otwire.transports.limits`).

The class lives in the transport layer because the generic asyncio server driver
(:mod:`otwire.transports.aio_server`) enforces it and must not import from ``servers``.
"""

from __future__ import annotations

from otwire.transports.limits import MIB, ServerLimits

__all__ = ["MIB", "ServerLimits"]
