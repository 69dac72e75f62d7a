"""The ``mxgateway`` error classes, placed in otwire's error tree (``specs/mxgateway/notes.md`` §client "Errors").

::

    RequestError (otwire.errors)
    └── MxGatewayError                      every error of this client
        ├── MxGatewayCommandError           the gateway answered a command with a failure (.reply)
        │   └── MxAccessError               MXAccess ran it and failed (.hresult, .statuses)
        ├── MxGatewayAuthenticationError    gRPC UNAUTHENTICATED: missing or wrong API key
        ├── MxGatewayPermissionError        gRPC PERMISSION_DENIED: the key lacks the scope
        ├── MxGatewayRpcError               any other gRPC status (NOT_FOUND, INVALID_ARGUMENT...)
        ├── MxGatewayProtocolError          the gateway broke the contract (wrong correlation id...)
        ├── MxGatewayUnavailableError       no connection, connection lost, UNAVAILABLE (also TransportError)
        └── MxGatewayDeadlineError          the per-call timeout expired (also RequestTimeout, TimeoutError)

``code`` (otwire's ``RequestError`` attribute) is the gRPC status number for gRPC errors and
the HRESULT for :class:`MxAccessError`. No message ever contains the API key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from otwire.errors import RequestError, RequestTimeout, TransportError

__all__ = [
    "MxAccessError",
    "MxGatewayAuthenticationError",
    "MxGatewayCommandError",
    "MxGatewayDeadlineError",
    "MxGatewayError",
    "MxGatewayPermissionError",
    "MxGatewayProtocolError",
    "MxGatewayRpcError",
    "MxGatewayUnavailableError",
]


class MxGatewayError(RequestError):
    """Base of every MXAccess Gateway client error.

    Attributes:
        status: The gRPC status (``grpclib.const.Status``) behind the error, or ``None``.
    """

    def __init__(self, message: str, *, code: int | None = None, status: Any = None, reply: object = None) -> None:
        super().__init__(message, code=code, reply=reply)
        self.status = status


class MxGatewayCommandError(MxGatewayError):
    """A command reply reported a failure; the raw reply is kept.

    Attributes:
        reply: The ``MxCommandReply`` (or another reply message) exactly as received.
    """

    reply: Any


class MxAccessError(MxGatewayCommandError):
    """MXAccess ran the command and failed: ``MXACCESS_FAILURE``, HRESULT < 0 or a failed status.

    Attributes:
        hresult: The COM HRESULT (negative on failure), also in ``code``.
        statuses: Every ``MxStatusProxy`` of the reply, unchanged.
    """

    def __init__(self, message: str, *, reply: Any, hresult: int = 0, statuses: Sequence[Any] = ()) -> None:
        super().__init__(message, code=hresult, reply=reply)
        self.hresult = hresult
        self.statuses = list(statuses)


class MxGatewayAuthenticationError(MxGatewayError):
    """The gateway refused the API key (gRPC ``UNAUTHENTICATED``): not retryable without a new key."""


class MxGatewayPermissionError(MxGatewayError):
    """The API key lacks the scope for this call (gRPC ``PERMISSION_DENIED``)."""


class MxGatewayRpcError(MxGatewayError):
    """A gRPC status this client has no own class for (``NOT_FOUND``, ``INVALID_ARGUMENT``, ...)."""


class MxGatewayProtocolError(MxGatewayError):
    """The gateway's answer breaks the contract (a reply to another correlation id or session)."""


class MxGatewayUnavailableError(MxGatewayError, TransportError):
    """The gateway cannot be reached, the connection was lost, or it answered ``UNAVAILABLE``; retryable."""


class MxGatewayDeadlineError(MxGatewayError, RequestTimeout):
    """The call's ``timeout`` expired (client deadline or ``DEADLINE_EXCEEDED``)."""
