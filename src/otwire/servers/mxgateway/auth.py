"""API keys with scopes for the gateway simulator: ``authorization: Bearer KEY`` on every call.

A key is given as ``KEY`` (every scope) or ``KEY:scope,scope`` (``--api-key``, repeatable;
several may also be given in one value separated by spaces). Scopes (research §1.2):
``session`` (OpenSession, CloseSession), ``invoke:read`` (handles, advise, reads),
``invoke:write`` (Write, Write2 and their bulk forms, AcknowledgeAlarm), ``invoke:secure``
(secured writes, AuthenticateUser, ArchestrAUserToId), ``events:read`` (StreamEvents,
DrainEvents, the alarm streams), ``metadata:read`` (every Galaxy rpc) and ``admin`` (all).
A missing or unknown key is UNAUTHENTICATED, a key without the scope PERMISSION_DENIED.
Without keys, authentication is off. The key itself never appears in a log line or error.
"""

from __future__ import annotations

import contextvars
import hmac
from collections.abc import Iterable, Mapping

from grpclib.const import Status
from grpclib.events import RecvRequest
from grpclib.exceptions import GRPCError

from otwire.codecs.mxgateway import pb
from otwire.errors import InvalidArgument

__all__ = ["CALLER_SCOPES", "METHOD_SCOPES", "SCOPES", "ApiKeys", "command_scope", "parse_api_keys", "require"]

#: Every scope a key may carry.
SCOPES = frozenset({"invoke:read", "invoke:write", "invoke:secure", "events:read", "metadata:read", "session", "admin"})

_K = pb.MxCommandKind
_WRITE = {_K.WRITE, _K.WRITE2, _K.WRITE_BULK, _K.WRITE2_BULK}
_SECURE = {
    _K.WRITE_SECURED,
    _K.WRITE_SECURED2,
    _K.WRITE_SECURED_BULK,
    _K.WRITE_SECURED2_BULK,
    _K.AUTHENTICATE_USER,
    _K.ARCHESTRA_USER_TO_ID,
}

_GATEWAY = "/mxaccess_gateway.v1.MxAccessGateway/"
_GALAXY = "/galaxy_repository.v1.GalaxyRepository/"
#: The rpc whose scope depends on the command kind (checked by the handler, :func:`command_scope`).
INVOKE = _GATEWAY + "Invoke"
#: rpc path -> scope checked before the handler runs (``Invoke`` is checked per command kind).
METHOD_SCOPES = {
    _GATEWAY + "OpenSession": "session",
    _GATEWAY + "CloseSession": "session",
    _GATEWAY + "StreamEvents": "events:read",
    _GATEWAY + "AcknowledgeAlarm": "invoke:write",
    _GATEWAY + "StreamAlarms": "events:read",
    _GATEWAY + "QueryActiveAlarms": "events:read",
    **{
        _GALAXY + name: "metadata:read"
        for name in ("TestConnection", "GetLastDeployTime", "DiscoverHierarchy", "WatchDeployEvents", "BrowseChildren")
    },
}

#: Scopes of the caller of the running rpc (``None``: authentication off).
CALLER_SCOPES: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar(
    "mxgw_caller_scopes", default=None
)


def command_scope(kind: pb.MxCommandKind) -> str:
    """The scope an ``Invoke`` of ``kind`` needs."""
    if kind in _WRITE:
        return "invoke:write"
    if kind in _SECURE:
        return "invoke:secure"
    if kind == _K.DRAIN_EVENTS:
        return "events:read"
    return "invoke:read"


def parse_api_keys(specs: str | Iterable[str] | None) -> dict[str, frozenset[str]]:
    """Return key -> scopes of ``--api-key`` values (``KEY`` or ``KEY:scope,scope``).

    Raises:
        InvalidArgument: An empty key or an unknown scope (the key is not shown).
    """
    if specs is None:
        return {}
    items = specs.split() if isinstance(specs, str) else [part for spec in specs for part in spec.split()]
    keys: dict[str, frozenset[str]] = {}
    for item in items:
        key, colon, scope_text = item.partition(":")
        scopes = frozenset(scope for scope in scope_text.split(",") if scope) if colon else frozenset({"admin"})
        if not key:
            raise InvalidArgument("--api-key needs a non-empty KEY before ':'")
        unknown = sorted(scopes - SCOPES)
        if unknown:
            raise InvalidArgument(f"unknown API key scope(s) {', '.join(unknown)} (known: {', '.join(sorted(SCOPES))})")
        keys[key] = scopes
    return keys


class ApiKeys:
    """The keys a simulator accepts, checked in a grpclib ``RecvRequest`` listener.

    Args:
        keys: key -> scopes (see :func:`parse_api_keys`); empty turns authentication off.
    """

    def __init__(self, keys: Mapping[str, frozenset[str]]) -> None:
        self._keys = dict(keys)

    @property
    def enabled(self) -> bool:
        """True when calls must carry a key."""
        return bool(self._keys)

    def scopes_of(self, authorization: str | bytes | None) -> frozenset[str]:
        """The scopes of an ``authorization`` metadata value.

        Raises:
            GRPCError: UNAUTHENTICATED when missing, not ``Bearer``, or unknown.
        """
        if not isinstance(authorization, str) or not authorization.startswith("Bearer "):
            raise GRPCError(Status.UNAUTHENTICATED, "missing bearer API key")
        presented = authorization[len("Bearer ") :].strip().encode()
        for key, scopes in self._keys.items():
            if hmac.compare_digest(key.encode(), presented):
                return scopes
        raise GRPCError(Status.UNAUTHENTICATED, "invalid API key")

    async def on_request(self, event: RecvRequest) -> None:
        """grpclib listener: authenticate, check the rpc's fixed scope, remember the caller's scopes.

        Raises:
            GRPCError: UNAUTHENTICATED or PERMISSION_DENIED.
        """
        if not self._keys:
            CALLER_SCOPES.set(None)
            return
        scopes = self.scopes_of(event.metadata.get("authorization"))
        CALLER_SCOPES.set(scopes)
        if event.method_name != INVOKE:
            require(METHOD_SCOPES.get(event.method_name, "admin"))  # unknown rpcs fail closed


def require(scope: str) -> None:
    """Check that the caller of the running rpc has ``scope`` (or ``admin``).

    Raises:
        GRPCError: PERMISSION_DENIED.
    """
    scopes = CALLER_SCOPES.get()
    if scopes is None or scope in scopes or "admin" in scopes:
        return
    raise GRPCError(Status.PERMISSION_DENIED, f"the API key lacks the scope {scope!r}")
