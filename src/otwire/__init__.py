"""otwire: wire codecs, sans-IO protocol engines and dissectors for industrial protocols.

The package imports nothing heavy at import time; use the subpackages, e.g.
``otwire.codecs.iec104``.
"""

from __future__ import annotations

from otwire.errors import (
    DecodeError,
    EncodeError,
    LocalProtocolError,
    OTWireError,
    ProtocolError,
    RemoteProtocolError,
)

__version__ = "0.1.0"

__all__ = [
    "DecodeError",
    "EncodeError",
    "LocalProtocolError",
    "OTWireError",
    "ProtocolError",
    "RemoteProtocolError",
    "__version__",
]
