"""The logger of the IEC 104 clients (a leaf module: every other module may import it)."""

from __future__ import annotations

import logging

__all__ = ["logger"]

#: Every message of the IEC 104 clients goes to this logger.
logger = logging.getLogger("otwire.clients.iec104")
logger.addHandler(logging.NullHandler())  # a library does not print unless the application configures logging
