"""The i3x-client 1.0.0 error classes, placed in otwire's error tree (specs/i3x/notes.md §11).

Every class keeps i3x-client's constructor ``(message, status_code=None)`` and its
``status_code`` attribute (the HTTP status, or ``None``); ``code`` (otwire's
:class:`~otwire.errors.RequestError` attribute) holds the same value.

>>> issubclass(NotFoundError, RequestError), issubclass(TimeoutError, RequestTimeout)
(True, True)
"""

from __future__ import annotations

from otwire.errors import RequestError, RequestTimeout, TransportError

__all__ = [
    "AuthenticationError",
    "ConnectionError",
    "I3XError",
    "InvalidServerResponseError",
    "NotFoundError",
    "NotSupportedError",
    "ServerError",
    "StreamError",
    "SubscriptionError",
    "TimeoutError",
    "UnsupportedVersionError",
    "for_status",
]


class I3XError(RequestError):
    """Base of every i3X client error.

    Attributes:
        status_code: The HTTP status behind the error, or ``None`` (no response).
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message, code=status_code)
        self.status_code = status_code


class ConnectionError(I3XError, TransportError):  # noqa: A001 - i3x-client's name
    """The server could not be reached, or the connection failed mid-request."""


class AuthenticationError(I3XError):
    """The server rejected the credentials (HTTP 401 or 403)."""


class NotFoundError(I3XError):
    """The resource or element does not exist (HTTP 404, or a failed bulk item)."""


class ServerError(I3XError):
    """The server failed (HTTP 5xx other than 501)."""


class TimeoutError(I3XError, RequestTimeout):  # noqa: A001 - i3x-client's name
    """No complete answer within the client's ``timeout``."""


class NotSupportedError(I3XError):
    """The server (HTTP 501) or this client does not support the feature."""


class SubscriptionError(I3XError):
    """A subscription operation failed."""


class StreamError(I3XError):
    """An SSE stream failed for good."""


class UnsupportedVersionError(I3XError):
    """``GET /info`` answered 404: a pre-1.0 server or a wrong ``base_url``."""


class InvalidServerResponseError(I3XError):
    """``GET /info`` answered, but not with an i3X server description."""


_BY_STATUS: dict[int, type[I3XError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    501: NotSupportedError,
}


def for_status(status: int) -> type[I3XError]:
    """The error class for an HTTP status: 401/403, 404, 501, other 5xx, else :class:`I3XError`."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else I3XError
