"""Real peers built on otwire's sans-IO engines (products, not test mocks).

* :mod:`otwire.servers.iec104`: an IEC 60870-5-104 controlled station (outstation)
  simulator: stations, points, interrogation, commands, periodic and spontaneous data.
"""

from __future__ import annotations
