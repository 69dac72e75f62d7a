"""Why a client connection failed or closed, in words a user can act on (no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from otwire.errors import ConnectTimeout, RemoteProtocolError, TransportError

__all__ = ["ConnectionFailure", "FailureReason", "connect_failure", "termination_failure", "transport_failure"]


class FailureReason(enum.Enum):
    """Why a connection attempt failed or an open connection ended."""

    REFUSED = "refused"
    """The station refused the TCP connection (ECONNREFUSED: nothing listens on the port)."""
    CONNECT_TIMEOUT = "connect timed out"
    """The TCP (and TLS) connect did not finish within t0."""
    CONNECT_FAILED = "connect failed"
    """Another connect error: unknown host, unreachable network, TLS handshake failure."""
    STARTDT_TIMEOUT = "no STARTDT_CON within t1"
    """The station accepted TCP but did not confirm STARTDT act within t1 (IEC 60870-5-104 5.3)."""
    T1_TIMEOUT = "t1 expired"
    """A sent I-frame or TESTFR act was not acknowledged within t1."""
    PEER_CLOSED = "peer closed"
    """The station closed the TCP connection (orderly end of stream)."""
    CONNECTION_LOST = "connection lost"
    """The TCP connection failed: reset, broken pipe, TLS error."""
    PROTOCOL_ERROR = "protocol error"
    """The station sent something that breaks the protocol; the connection was dropped."""
    LOCAL_CLOSE = "closed locally"
    """``disconnect()``, ``stop()`` or ``reconnect_all()`` closed it."""


@dataclass(frozen=True, slots=True)
class ConnectionFailure:
    """A reason with the detail behind it, e.g. ``refused: [Errno 111] Connection refused``."""

    reason: FailureReason
    detail: str = ""
    error: BaseException | None = None

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}" if self.detail else self.reason.value


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def connect_failure(exc: BaseException) -> ConnectionFailure:
    """Classify an exception from a connect attempt (the transport's or the socket's)."""
    chain = _causes(exc)
    detail = str(chain[-1]) or type(chain[-1]).__name__
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return ConnectionFailure(FailureReason.REFUSED, detail, exc)
    if any(isinstance(e, ConnectTimeout | TimeoutError) for e in chain):
        return ConnectionFailure(FailureReason.CONNECT_TIMEOUT, detail, exc)
    return ConnectionFailure(FailureReason.CONNECT_FAILED, detail, exc)


def transport_failure(error: BaseException | None) -> ConnectionFailure | None:
    """Classify what ended a transport (its ``error``); ``None`` for a clean end."""
    if isinstance(error, RemoteProtocolError):
        return ConnectionFailure(FailureReason.PROTOCOL_ERROR, str(error), error)
    if isinstance(error, TransportError | OSError):
        return ConnectionFailure(FailureReason.CONNECTION_LOST, str(error), error)
    return None


_BY_TERMINATION = {
    "PEER_CLOSED": FailureReason.PEER_CLOSED,
    "CONNECTION_LOST": FailureReason.CONNECTION_LOST,
    "PROTOCOL_ERROR": FailureReason.PROTOCOL_ERROR,
    "LOCAL_CLOSE": FailureReason.LOCAL_CLOSE,
    "T1_TIMEOUT": FailureReason.T1_TIMEOUT,
}


def termination_failure(reason: enum.Enum, error: BaseException | None, *, startdt_pending: bool) -> ConnectionFailure:
    """Classify the engine's ``ConnectionTerminated`` (its ``reason`` member and ``error``).

    Args:
        reason: A ``TerminationReason`` member (matched by name).
        error: The event's ``error``.
        startdt_pending: STARTDT act was sent and not confirmed yet.
    """
    found = _BY_TERMINATION.get(reason.name, FailureReason.CONNECTION_LOST)
    if found is FailureReason.T1_TIMEOUT and startdt_pending:
        found = FailureReason.STARTDT_TIMEOUT
    return ConnectionFailure(found, "" if error is None else str(error), error)
