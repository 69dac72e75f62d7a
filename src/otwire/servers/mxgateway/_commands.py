"""The single-item command kinds of ``Invoke`` (``register`` ... ``drain_events``), and their shared checks.

:func:`execute` checks the payload against ``command.kind`` (a missing payload is read as
its empty message), runs the kind's handler and fills the reply: ``protocol_status`` OK,
``hresult`` 0 and one OK status on success; MXACCESS_FAILURE with an HRESULT and a failed
``MXSTATUS_PROXY`` when MXAccess would refuse (unknown handle, denied write, missing
item); INVALID_REQUEST when the request itself is wrong. The bulk kinds live in
:mod:`otwire.servers.mxgateway._bulk`. Research §1.3, §2.1; ``specs/mxgateway/notes.md``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import betterproto2

from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway import faults
from otwire.servers.mxgateway.model import GatewayModel, Item, RegisteredServer, SimSession, ok_status

__all__ = [
    "SINGLE",
    "BadRequest",
    "Context",
    "Handler",
    "Refused",
    "add_item",
    "find_item",
    "find_server",
    "write_value",
]

Kind = pb.MxCommandKind


class Refused(Exception):
    """A command MXAccess refuses: becomes an MXACCESS_FAILURE reply."""

    def __init__(self, hresult: int, status: pb.MxStatusProxy, message: str) -> None:
        super().__init__(message)
        self.hresult, self.status, self.message = hresult, status, message


class BadRequest(Exception):
    """A malformed request: becomes an INVALID_REQUEST reply."""


class Context:
    """What one command runs against: the model, the session, the reply being filled and the time."""

    __slots__ = ("model", "now", "reply", "session", "slow_delay")

    def __init__(
        self,
        model: GatewayModel,
        session: SimSession,
        reply: pb.MxCommandReply,
        now: datetime.datetime,
        slow_delay: float,
    ) -> None:
        self.model, self.session, self.reply, self.now, self.slow_delay = model, session, reply, now, slow_delay


def _invalid(text: str) -> Refused:
    status = faults.failure_status(pb.MxStatusCategory.CONFIGURATION_ERROR, faults.INVALID_REFERENCE_DETAIL, text)
    return Refused(faults.HRESULT_INVALIDARG, status, text)


def find_server(session: SimSession, server_handle: int) -> RegisteredServer:
    """The registered server of ``server_handle``.

    Raises:
        Refused: Unknown handle (E_INVALIDARG).
    """
    server = session.servers.get(server_handle)
    if server is None:
        raise _invalid(f"unknown server_handle {server_handle}")
    return server


def find_item(session: SimSession, server_handle: int, item_handle: int) -> Item:
    """The item ``item_handle`` of server ``server_handle``.

    Raises:
        Refused: Unknown server or item handle (E_INVALIDARG).
    """
    item = find_server(session, server_handle).items.get(item_handle)
    if item is None:
        raise _invalid(f"unknown item_handle {item_handle} of server_handle {server_handle}")
    return item


def add_item(ctx: Context, server: RegisteredServer, tag: str, item_context: str = "") -> Item:
    """Add ``tag`` to ``server``.

    Raises:
        Refused: An empty or ``Fault.Missing*`` reference (MX_E_InvalidReference), or the
            session's item limit (E_OUTOFMEMORY).
    """
    if not tag.strip() or faults.is_missing(tag):
        raise _invalid(f"the reference {tag!r} does not resolve")
    if ctx.session.item_count() >= ctx.session.max_items:
        status = faults.failure_status(pb.MxStatusCategory.OPERATIONAL_ERROR, 0, "item limit")
        raise Refused(faults.HRESULT_OUTOFMEMORY, status, f"the session has {ctx.session.max_items} items (limit)")
    return ctx.session.add_item(server, tag, item_context)


def _check_user(session: SimSession, user_id: int, what: str, *, required: bool) -> None:
    if (required or user_id) and user_id not in session.users:
        text = f"{what} {user_id} is not an authenticated user of this session"
        raise Refused(
            faults.HRESULT_SECURITY,
            faults.failure_status(pb.MxStatusCategory.SECURITY_ERROR, faults.SECURITY_DETAIL, text),
            text,
        )


def write_value(ctx: Context, item: Item, value: pb.MxValue | None, users: tuple[int, ...], secured: bool) -> None:
    """Write ``value`` to ``item``: the tag holds it, then ``OnWriteComplete`` (and ``OnDataChange`` if advised).

    ``users`` is ``(user_id,)`` for plain writes, ``(current_user_id, verifier_user_id)``
    for secured ones (a secured write needs an authenticated current user).

    Raises:
        Refused: ``Fault.WriteDenied*`` (0x80040200, SECURITY_ERROR/321), an unknown user
            id, or no value (E_INVALIDARG).
    """
    if faults.denies_write(item.tag):
        text = f"write to {item.tag} denied"
        status = faults.failure_status(pb.MxStatusCategory.SECURITY_ERROR, faults.SECURITY_DETAIL, text)
        raise Refused(faults.HRESULT_SECURITY, status, text)
    _check_user(ctx.session, users[0], "current_user_id" if secured else "user_id", required=secured)
    if len(users) > 1:
        _check_user(ctx.session, users[1], "verifier_user_id", required=False)
    if value is None:
        raise _invalid("the write carries no value")
    state = ctx.model.tag(item.tag, ctx.now)
    state.write(value, ctx.now)
    ctx.session.emit(
        pb.MxEvent(
            family=pb.MxEventFamily.ON_WRITE_COMPLETE,
            server_handle=item.server_handle,
            item_handle=item.item_handle,
            statuses=[ok_status()],
            worker_timestamp=ctx.now,
            gateway_receive_timestamp=ctx.now,
            hresult=0,
            on_write_complete=pb.OnWriteCompleteEvent(),
        )
    )
    if item.advised and item.active:
        ctx.session.emit(ctx.model.data_change(item, state))


# -- single-item kinds ---------------------------------------------------------------------------


def _register(ctx: Context, payload: pb.RegisterCommand) -> None:
    server = ctx.session.register(payload.client_name)
    ctx.reply.register = pb.RegisterReply(server_handle=server.server_handle)


def _unregister(ctx: Context, payload: pb.UnregisterCommand) -> None:
    find_server(ctx.session, payload.server_handle)
    del ctx.session.servers[payload.server_handle]


def _add_item(ctx: Context, payload: pb.AddItemCommand | pb.AddItem2Command) -> None:
    server = find_server(ctx.session, payload.server_handle)
    item = add_item(ctx, server, payload.item_definition, getattr(payload, "item_context", ""))
    ctx.reply.add_item = pb.AddItemReply(item_handle=item.item_handle)


def _remove_item(ctx: Context, payload: pb.ItemHandleCommand) -> None:
    find_item(ctx.session, payload.server_handle, payload.item_handle)
    del ctx.session.servers[payload.server_handle].items[payload.item_handle]


def _advise(ctx: Context, payload: pb.ItemHandleCommand) -> None:
    item = find_item(ctx.session, payload.server_handle, payload.item_handle)
    ctx.model.advise(ctx.session, item, ctx.now)


def _advise_supervisory(ctx: Context, payload: pb.ItemHandleCommand) -> None:
    item = find_item(ctx.session, payload.server_handle, payload.item_handle)
    ctx.model.advise(ctx.session, item, ctx.now, supervisory=True)


def _un_advise(ctx: Context, payload: pb.ItemHandleCommand) -> None:
    find_item(ctx.session, payload.server_handle, payload.item_handle).advised = False


def _suspend(ctx: Context, payload: pb.ItemHandleCommand) -> None:
    find_item(ctx.session, payload.server_handle, payload.item_handle).active = False


def _activate(ctx: Context, payload: pb.ItemHandleCommand) -> None:
    find_item(ctx.session, payload.server_handle, payload.item_handle).active = True


def _set_interval(ctx: Context, payload: pb.SetBufferedUpdateIntervalCommand) -> None:
    find_server(ctx.session, payload.server_handle)
    if payload.update_interval_ms < 0:
        raise BadRequest(f"update_interval_ms={payload.update_interval_ms} is negative")


def _write(ctx: Context, payload: pb.WriteCommand | pb.Write2Command) -> None:
    item = find_item(ctx.session, payload.server_handle, payload.item_handle)
    write_value(ctx, item, payload.value, (payload.user_id,), secured=False)


def _write_secured(ctx: Context, payload: pb.WriteSecuredCommand | pb.WriteSecured2Command) -> None:
    item = find_item(ctx.session, payload.server_handle, payload.item_handle)
    write_value(ctx, item, payload.value, (payload.current_user_id, payload.verifier_user_id), secured=True)


def _authenticate(ctx: Context, payload: pb.AuthenticateUserCommand | pb.ArchestrAUserToIdCommand) -> None:
    find_server(ctx.session, payload.server_handle)
    name = payload.user_name if isinstance(payload, pb.AuthenticateUserCommand) else payload.archestra_user_name
    if not name:
        text = "no user name"
        status = faults.failure_status(pb.MxStatusCategory.SECURITY_ERROR, faults.SECURITY_DETAIL, text)
        raise Refused(faults.HRESULT_SECURITY, status, text)
    ctx.reply.authenticate_user = pb.AuthenticateUserReply(user_id=ctx.session.authenticate(name))


def _drain(ctx: Context, payload: pb.DrainEventsCommand) -> None:
    if payload.max_events < 0:
        raise BadRequest(f"max_events={payload.max_events} is negative")
    events = ctx.session.drain(payload.max_events or 1000)
    ctx.reply.drain_events = pb.DrainEventsReply(events=events)


Handler = Callable[[Context, Any], None]

#: Single-item command kind -> (payload class, handler).
SINGLE: dict[pb.MxCommandKind, tuple[type[betterproto2.Message], Handler]] = {
    Kind.REGISTER: (pb.RegisterCommand, _register),
    Kind.UNREGISTER: (pb.UnregisterCommand, _unregister),
    Kind.ADD_ITEM: (pb.AddItemCommand, _add_item),
    Kind.ADD_ITEM2: (pb.AddItem2Command, _add_item),
    Kind.ADD_BUFFERED_ITEM: (pb.AddItem2Command, _add_item),
    Kind.REMOVE_ITEM: (pb.ItemHandleCommand, _remove_item),
    Kind.ADVISE: (pb.ItemHandleCommand, _advise),
    Kind.UN_ADVISE: (pb.ItemHandleCommand, _un_advise),
    Kind.ADVISE_SUPERVISORY: (pb.ItemHandleCommand, _advise_supervisory),
    Kind.SET_BUFFERED_UPDATE_INTERVAL: (pb.SetBufferedUpdateIntervalCommand, _set_interval),
    Kind.SUSPEND: (pb.ItemHandleCommand, _suspend),
    Kind.ACTIVATE: (pb.ItemHandleCommand, _activate),
    Kind.WRITE: (pb.WriteCommand, _write),
    Kind.WRITE2: (pb.Write2Command, _write),
    Kind.WRITE_SECURED: (pb.WriteSecuredCommand, _write_secured),
    Kind.WRITE_SECURED2: (pb.WriteSecured2Command, _write_secured),
    Kind.AUTHENTICATE_USER: (pb.AuthenticateUserCommand, _authenticate),
    Kind.ARCHESTRA_USER_TO_ID: (pb.ArchestrAUserToIdCommand, _authenticate),
    Kind.DRAIN_EVENTS: (pb.DrainEventsCommand, _drain),
}
