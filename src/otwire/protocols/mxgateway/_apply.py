"""What a successful reply changes in the handle table, per command kind (notes §client "Handles").

Each handler takes the handle table, the command's payload and the reply, and returns the
past-tense events. Bulk commands change state per entry with ``was_successful``; a failed entry
changes nothing (it is reported in the result message, never raised).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otwire.codecs.mxgateway import pb
from otwire.protocols._base import Event

from . import events as ev
from .handles import HandleTable

__all__ = ["APPLY", "ARM_BY_KIND"]

K = pb.MxCommandKind
Handler = Callable[[HandleTable, Any, pb.MxCommandReply], list[Event]]

#: The ``MxCommand.payload`` arm each kind uses.
ARM_BY_KIND: dict[pb.MxCommandKind, str] = {
    K.REGISTER: "register",
    K.UNREGISTER: "unregister",
    K.ADD_ITEM: "add_item",
    K.ADD_ITEM2: "add_item2",
    K.REMOVE_ITEM: "remove_item",
    K.ADVISE: "advise",
    K.UN_ADVISE: "un_advise",
    K.ADVISE_SUPERVISORY: "advise_supervisory",
    K.ADD_BUFFERED_ITEM: "add_buffered_item",
    K.SET_BUFFERED_UPDATE_INTERVAL: "set_buffered_update_interval",
    K.SUSPEND: "suspend",
    K.ACTIVATE: "activate",
    K.WRITE: "write",
    K.WRITE2: "write2",
    K.WRITE_SECURED: "write_secured",
    K.WRITE_SECURED2: "write_secured2",
    K.AUTHENTICATE_USER: "authenticate_user",
    K.ARCHESTRA_USER_TO_ID: "archestra_user_to_id",
    K.ADD_ITEM_BULK: "add_item_bulk",
    K.ADVISE_ITEM_BULK: "advise_item_bulk",
    K.REMOVE_ITEM_BULK: "remove_item_bulk",
    K.UN_ADVISE_ITEM_BULK: "un_advise_item_bulk",
    K.SUBSCRIBE_BULK: "subscribe_bulk",
    K.UNSUBSCRIBE_BULK: "unsubscribe_bulk",
    K.WRITE_BULK: "write_bulk",
    K.WRITE2_BULK: "write2_bulk",
    K.WRITE_SECURED_BULK: "write_secured_bulk",
    K.WRITE_SECURED2_BULK: "write_secured2_bulk",
    K.READ_BULK: "read_bulk",
    K.DRAIN_EVENTS: "drain_events",
}


def returned_handle(reply: pb.MxCommandReply) -> int:
    """The handle a Register/AddItem reply gives: its reply arm, else ``return_value.int32_value``."""
    if reply.register is not None:
        return reply.register.server_handle
    if reply.add_item is not None:
        return reply.add_item.item_handle
    value = reply.return_value
    return (value.int32_value or 0) if value is not None else 0


def _register(handles: HandleTable, payload: pb.RegisterCommand, reply: pb.MxCommandReply) -> list[Event]:
    server_handle = returned_handle(reply)
    handles.register(server_handle, payload.client_name)
    return [ev.ServerRegistered(server_handle=server_handle, client_name=payload.client_name)]


def _unregister(handles: HandleTable, payload: pb.UnregisterCommand, reply: pb.MxCommandReply) -> list[Event]:
    items = handles.unregister(payload.server_handle)
    return [ev.ServerUnregistered(server_handle=payload.server_handle, item_handles=items)]


def _add_item(handles: HandleTable, payload: pb.AddItemCommand, reply: pb.MxCommandReply) -> list[Event]:
    item_handle = returned_handle(reply)
    handles.add_item(payload.server_handle, item_handle, payload.item_definition)
    return [
        ev.ItemAdded(
            server_handle=payload.server_handle, item_handle=item_handle, item_definition=payload.item_definition
        )
    ]


def _remove_item(handles: HandleTable, payload: pb.ItemHandleCommand, reply: pb.MxCommandReply) -> list[Event]:
    handles.remove_item(payload.server_handle, payload.item_handle)
    return [ev.ItemRemoved(server_handle=payload.server_handle, item_handle=payload.item_handle)]


def _advise(supervisory: bool) -> Handler:
    def advise(handles: HandleTable, payload: pb.ItemHandleCommand, reply: pb.MxCommandReply) -> list[Event]:
        handles.set_advised(payload.server_handle, payload.item_handle, True, supervisory)
        return [
            ev.ItemAdvised(
                server_handle=payload.server_handle, item_handle=payload.item_handle, supervisory=supervisory
            )
        ]

    return advise


def _unadvise(handles: HandleTable, payload: pb.ItemHandleCommand, reply: pb.MxCommandReply) -> list[Event]:
    handles.set_advised(payload.server_handle, payload.item_handle, False)
    return [ev.ItemUnadvised(server_handle=payload.server_handle, item_handle=payload.item_handle)]


def _accept_write(handles: HandleTable, server_handle: int, item_handle: int) -> Event:
    record = handles.item(server_handle, item_handle)
    if record is not None:
        record.pending_writes += 1
    return ev.WriteAccepted(server_handle=server_handle, item_handle=item_handle)


def _write(handles: HandleTable, payload: Any, reply: pb.MxCommandReply) -> list[Event]:
    return [_accept_write(handles, payload.server_handle, payload.item_handle)]


def _write_bulk(handles: HandleTable, payload: Any, reply: pb.MxCommandReply) -> list[Event]:
    results = reply.bulk_write.results if reply.bulk_write is not None else []
    return [_accept_write(handles, payload.server_handle, r.item_handle) for r in results if r.was_successful]


def _subscribe_results(reply: pb.MxCommandReply) -> list[pb.SubscribeResult]:
    results = reply.bulk_subscribe.results if reply.bulk_subscribe is not None else []
    return [result for result in results if result.was_successful]


def _bulk(add: bool, remove: bool, advise: bool | None) -> Handler:
    """A handler for the subscribe family: add/remove items and set their advise state per entry."""

    def bulk(handles: HandleTable, payload: Any, reply: pb.MxCommandReply) -> list[Event]:
        out: list[Event] = []
        for result in _subscribe_results(reply):
            server_handle = result.server_handle or payload.server_handle
            item_handle = result.item_handle
            if add:
                handles.add_item(server_handle, item_handle, result.tag_address)
                out.append(
                    ev.ItemAdded(
                        server_handle=server_handle, item_handle=item_handle, item_definition=result.tag_address
                    )
                )
            if advise is not None:
                handles.set_advised(server_handle, item_handle, advise)
                kind = ev.ItemAdvised if advise else ev.ItemUnadvised
                out.append(kind(server_handle=server_handle, item_handle=item_handle))
            if remove:
                handles.remove_item(server_handle, item_handle)
                out.append(ev.ItemRemoved(server_handle=server_handle, item_handle=item_handle))
        return out

    return bulk


APPLY: dict[pb.MxCommandKind, Handler] = {
    K.REGISTER: _register,
    K.UNREGISTER: _unregister,
    K.ADD_ITEM: _add_item,
    K.ADD_ITEM2: _add_item,
    K.ADD_BUFFERED_ITEM: _add_item,
    K.REMOVE_ITEM: _remove_item,
    K.ADVISE: _advise(False),
    K.ADVISE_SUPERVISORY: _advise(True),
    K.UN_ADVISE: _unadvise,
    **{kind: _write for kind in (K.WRITE, K.WRITE2, K.WRITE_SECURED, K.WRITE_SECURED2)},
    **{kind: _write_bulk for kind in (K.WRITE_BULK, K.WRITE2_BULK, K.WRITE_SECURED_BULK, K.WRITE_SECURED2_BULK)},
    K.ADD_ITEM_BULK: _bulk(add=True, remove=False, advise=None),
    K.SUBSCRIBE_BULK: _bulk(add=True, remove=False, advise=True),
    K.ADVISE_ITEM_BULK: _bulk(add=False, remove=False, advise=True),
    K.UN_ADVISE_ITEM_BULK: _bulk(add=False, remove=False, advise=False),
    K.REMOVE_ITEM_BULK: _bulk(add=False, remove=True, advise=None),
    K.UNSUBSCRIBE_BULK: _bulk(add=False, remove=True, advise=False),
}
