"""``Invoke``: one ``MxCommand`` against a session of the model, answered with an ``MxCommandReply``.

:func:`execute` checks the payload against ``command.kind`` (a missing payload is read as
its empty message), runs the kind's handler (:mod:`._commands` for single items,
:mod:`._bulk` for the bulk kinds) and fills the reply: ``protocol_status`` OK, ``hresult`` 0
and one OK status on success; MXACCESS_FAILURE with an HRESULT and a failed
``MXSTATUS_PROXY`` when MXAccess would refuse (unknown handle, denied write, missing item);
INVALID_REQUEST when the request itself is wrong. Research §1.3, §2.1;
``specs/mxgateway/notes.md``, "Simulator".
"""

from __future__ import annotations

import datetime
from typing import Any

import betterproto2

from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway import faults
from otwire.servers.mxgateway._bulk import BULK
from otwire.servers.mxgateway._commands import SINGLE, BadRequest, Context, Handler, Refused
from otwire.servers.mxgateway.model import GatewayModel, SimSession, ok_status

__all__ = ["HANDLERS", "execute", "payload_of", "slow_delay_of"]

#: Command kind -> (payload class, handler), every kind but UNSPECIFIED.
HANDLERS: dict[pb.MxCommandKind, tuple[type[betterproto2.Message], Handler]] = {**SINGLE, **BULK}


def payload_of(command: pb.MxCommand) -> tuple[Handler, Any]:
    """The handler of ``command.kind`` and its payload (an empty one when none was sent).

    Raises:
        BadRequest: Unknown kind, or a payload of another kind.
    """
    entry = HANDLERS.get(command.kind)
    if entry is None:
        raise BadRequest(f"unsupported command kind {command.kind!r}")
    payload_class, handler = entry
    name, payload = betterproto2.which_one_of(command, "payload")
    expected = command.kind.name.lower() if command.kind.name else ""
    if payload is None:
        return handler, payload_class()
    if name != expected:
        raise BadRequest(f"command kind {command.kind.name} carries the {name} payload")
    return handler, payload


def execute(
    model: GatewayModel, session: SimSession, request: pb.MxCommandRequest, now: datetime.datetime, slow_delay: float
) -> pb.MxCommandReply:
    """Run ``request.command`` on ``session`` and return the reply (never raises for bad input)."""
    command = request.command or pb.MxCommand()
    reply = pb.MxCommandReply(
        session_id=session.session_id,
        correlation_id=request.client_correlation_id,
        kind=command.kind,
        protocol_status=pb.ProtocolStatus(code=pb.ProtocolStatusCode.OK),
    )
    try:
        handler, payload = payload_of(command)
        handler(Context(model, session, reply, now, slow_delay), payload)
    except Refused as refused:
        reply.protocol_status = pb.ProtocolStatus(code=pb.ProtocolStatusCode.MXACCESS_FAILURE, message=refused.message)
        reply.hresult, reply.statuses, reply.diagnostic_message = refused.hresult, [refused.status], refused.message
    except BadRequest as bad:
        reply.protocol_status = pb.ProtocolStatus(code=pb.ProtocolStatusCode.INVALID_REQUEST, message=str(bad))
        reply.diagnostic_message = str(bad)
    else:
        reply.statuses = [ok_status()]
    return reply


def slow_delay_of(session: SimSession, command: pb.MxCommand, slow_delay: float) -> float:
    """Seconds to wait before answering ``command``: the slow delay if it names a ``Fault.Slow*`` tag.

    ``ReadBulk`` waits at most its ``timeout_ms`` (when set and shorter).
    """
    _, payload = betterproto2.which_one_of(command, "payload")
    if payload is None:
        return 0.0
    tags = _tags_of(session, payload)
    if not any(faults.is_slow(tag) for tag in tags):
        return 0.0
    timeout_ms = getattr(payload, "timeout_ms", 0) if isinstance(payload, pb.ReadBulkCommand) else 0
    return min(slow_delay, timeout_ms / 1000.0) if timeout_ms > 0 else slow_delay


def _tags_of(session: SimSession, payload: Any) -> list[str]:
    if hasattr(payload, "tag_addresses"):
        return list(payload.tag_addresses)
    if hasattr(payload, "item_definition"):
        return [payload.item_definition]
    server = session.servers.get(getattr(payload, "server_handle", 0))
    if server is None:
        return []
    handles = list(getattr(payload, "item_handles", ()))
    handles += [entry.item_handle for entry in getattr(payload, "entries", ())]
    if hasattr(payload, "item_handle"):
        handles.append(payload.item_handle)
    return [server.items[handle].tag for handle in handles if handle in server.items]
