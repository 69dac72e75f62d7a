"""An MXAccess Gateway simulator on grpclib: ``otwire serve mxgateway``.

Both services of the gateway (``mxaccess_gateway.v1.MxAccessGateway`` and
``galaxy_repository.v1.GalaxyRepository``) on one port: sessions, handles, items whose
values change at a configurable rate, writes with ``OnWriteComplete``, resumable event
streams with a replay ring, bounded subscriber buffers, a Galaxy of a few dozen objects with
paged discovery and periodic deploys, API keys with scopes and fault injection by tag name
(:mod:`otwire.servers.mxgateway.faults`). :class:`AsyncServer` runs in the caller's event
loop, :class:`Server` in a daemon thread::

    from otwire.servers.mxgateway import Server

    with Server(port=5000, api_key="secret") as server:  # grpc://127.0.0.1:5000
        ...

See ``specs/mxgateway/notes.md``, "Simulator".
"""

from __future__ import annotations

from otwire.servers.mxgateway.server import DEFAULT_PORT, AsyncServer, BaseServer, Server, serve

__all__ = ["DEFAULT_PORT", "AsyncServer", "BaseServer", "Server", "serve"]
