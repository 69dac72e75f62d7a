"""The ``mxgateway`` client API on grpclib + betterproto2 (``specs/mxgateway/notes.md`` §client).

``GatewayClient`` (sessions, raw calls), ``Session`` (every MXAccess method, the bulk family,
``stream_events``), ``GalaxyRepositoryClient`` (Galaxy browse and deploy events) and the
``MxGateway*`` errors. Values convert with ``to_mx_value``/``from_mx_value``; the messages
are ``pb`` and ``galaxy``.
"""

from __future__ import annotations

from otwire.codecs.mxgateway import SparseArray, from_mx_value, galaxy, pb, to_mx_value

from .client import GatewayClient
from .errors import (
    MxAccessError,
    MxGatewayAuthenticationError,
    MxGatewayCommandError,
    MxGatewayDeadlineError,
    MxGatewayError,
    MxGatewayPermissionError,
    MxGatewayProtocolError,
    MxGatewayRpcError,
    MxGatewayUnavailableError,
)
from .galaxy import GalaxyRepositoryClient
from .session import Session

__all__ = [
    "GalaxyRepositoryClient",
    "GatewayClient",
    "MxAccessError",
    "MxGatewayAuthenticationError",
    "MxGatewayCommandError",
    "MxGatewayDeadlineError",
    "MxGatewayError",
    "MxGatewayPermissionError",
    "MxGatewayProtocolError",
    "MxGatewayRpcError",
    "MxGatewayUnavailableError",
    "Session",
    "SparseArray",
    "from_mx_value",
    "galaxy",
    "pb",
    "to_mx_value",
]
