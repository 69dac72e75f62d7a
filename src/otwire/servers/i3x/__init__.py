"""A CESMII i3X 1.0 server on asyncio: the engine :class:`~otwire.protocols.i3x.server.I3XServer` over HTTP/1.1.

:class:`AsyncServer` runs in the caller's event loop; :class:`Server` in a daemon thread
with blocking ``start()``/``stop()``; :func:`serve` is ``otwire serve i3x`` (the demo
plant of :mod:`otwire.servers.i3x.demo`)::

    from otwire.servers.i3x import Server

    with Server(port=8080) as server:  # GET http://127.0.0.1:8080/v1/info
        ...
"""

from __future__ import annotations

from otwire.servers.i3x.demo import DemoPlant
from otwire.servers.i3x.server import DEFAULT_PORT, AsyncServer, BaseServer, Server, serve

__all__ = ["DEFAULT_PORT", "AsyncServer", "BaseServer", "DemoPlant", "Server", "serve"]
