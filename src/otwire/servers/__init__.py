"""Real peers built on otwire's sans-IO engines (products, not test mocks).

* :mod:`otwire.servers.iec104`: an IEC 60870-5-104 controlled station (outstation)
  simulator: stations, points, interrogation, commands, periodic and spontaneous data.
* :mod:`otwire.servers.imb`: a TNO IMB3 hub.

Every server is built on :mod:`otwire.servers._base` (the generic asyncio driver
:mod:`otwire.transports.aio_server` with :class:`~otwire.servers.limits.ServerLimits`,
sessions, recording, threaded and asyncio flavours) and has a
``serve(host, port, *, duration, record, limits, out, **proto_opts)`` for ``otwire serve``.
"""

from __future__ import annotations
