"""The bulk command kinds of ``Invoke``: per-entry results, never a failed call for one bad entry.

Entries run in input order (as on the worker's STA) and each gets a result with
``was_successful`` and ``error_message``: ``SubscribeResult`` for the add/advise/remove
family, ``BulkWriteResult`` (with the entry's ``hresult`` and status) for the write family,
``BulkReadResult`` for ``ReadBulk`` (``was_cached`` when the session holds the tag advised;
a ``Fault.Slow*`` tag whose ``timeout_ms`` is shorter than the simulator's slow delay times
out). Only an unknown ``server_handle`` fails the whole command. Research §1.3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import betterproto2

from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway import faults
from otwire.servers.mxgateway._commands import (
    Context,
    Handler,
    Kind,
    Refused,
    add_item,
    find_item,
    find_server,
    write_value,
)
from otwire.servers.mxgateway.model import Item
from otwire.servers.mxgateway.values import QUALITY_GOOD

__all__ = ["BULK", "read_timed_out"]


def _subscribe_result(server_handle: int, tag: str, item_handle: int, error: str = "") -> pb.SubscribeResult:
    return pb.SubscribeResult(
        server_handle=server_handle,
        tag_address=tag,
        item_handle=item_handle,
        was_successful=not error,
        error_message=error,
    )


def _add_bulk(ctx: Context, payload: pb.AddItemBulkCommand, *, advise: bool) -> None:
    server = find_server(ctx.session, payload.server_handle)
    results = []
    for tag in payload.tag_addresses:
        try:
            item = add_item(ctx, server, tag)
        except Refused as refused:
            results.append(_subscribe_result(server.server_handle, tag, 0, refused.message))
            continue
        if advise:
            ctx.model.advise(ctx.session, item, ctx.now)
        results.append(_subscribe_result(server.server_handle, tag, item.item_handle))
    ctx.reply.bulk_subscribe = pb.BulkSubscribeReply(results=results)


def _add_item_bulk(ctx: Context, payload: pb.AddItemBulkCommand) -> None:
    _add_bulk(ctx, payload, advise=False)


def _subscribe_bulk(ctx: Context, payload: pb.AddItemBulkCommand) -> None:
    _add_bulk(ctx, payload, advise=True)


def _handle_bulk(ctx: Context, payload: pb.ItemHandleBulkCommand, action: Callable[[Context, Item], None]) -> None:
    server = find_server(ctx.session, payload.server_handle)
    results = []
    for item_handle in payload.item_handles:
        item = server.items.get(item_handle)
        if item is None:
            error = f"unknown item_handle {item_handle}"
            results.append(_subscribe_result(server.server_handle, "", item_handle, error))
            continue
        action(ctx, item)
        results.append(_subscribe_result(server.server_handle, item.tag, item_handle))
    ctx.reply.bulk_subscribe = pb.BulkSubscribeReply(results=results)


def _do_advise(ctx: Context, item: Item) -> None:
    ctx.model.advise(ctx.session, item, ctx.now)


def _do_unadvise(ctx: Context, item: Item) -> None:
    item.advised = False


def _do_remove(ctx: Context, item: Item) -> None:
    del ctx.session.servers[item.server_handle].items[item.item_handle]


def _do_unsubscribe(ctx: Context, item: Item) -> None:
    _do_unadvise(ctx, item)
    _do_remove(ctx, item)


def _handle_action(action: Callable[[Context, Item], None]) -> Callable[[Context, pb.ItemHandleBulkCommand], None]:
    def run(ctx: Context, payload: pb.ItemHandleBulkCommand) -> None:
        _handle_bulk(ctx, payload, action)

    return run


def _entry_users(entry: Any) -> tuple[tuple[int, ...], bool]:
    if hasattr(entry, "current_user_id"):
        return (entry.current_user_id, entry.verifier_user_id), True
    return (entry.user_id,), False


def _write_bulk(ctx: Context, payload: Any) -> None:
    find_server(ctx.session, payload.server_handle)
    results = []
    for entry in payload.entries:
        users, secured = _entry_users(entry)
        try:
            item = find_item(ctx.session, payload.server_handle, entry.item_handle)
            write_value(ctx, item, entry.value, users, secured)
        except Refused as refused:
            results.append(
                pb.BulkWriteResult(
                    item_handle=entry.item_handle,
                    was_successful=False,
                    error_message=refused.message,
                    hresult=refused.hresult,
                    statuses=[refused.status],
                )
            )
            continue
        results.append(pb.BulkWriteResult(item_handle=entry.item_handle, was_successful=True))
    ctx.reply.bulk_write = pb.BulkWriteReply(results=results)


def read_timed_out(tag: str, timeout_ms: int, slow_delay: float) -> bool:
    """True when a ``ReadBulk`` of ``tag`` with ``timeout_ms`` (0 = no limit here) times out."""
    return faults.is_slow(tag) and 0 < timeout_ms < slow_delay * 1000.0


def _read_one(ctx: Context, tag: str, timeout_ms: int) -> pb.BulkReadResult:
    if not tag.strip() or faults.is_missing(tag):
        return pb.BulkReadResult(tag_address=tag, error_message=f"the reference {tag!r} does not resolve")
    if read_timed_out(tag, timeout_ms, ctx.slow_delay):
        return pb.BulkReadResult(tag_address=tag, error_message=f"no value within timeout_ms={timeout_ms}")
    cached = next((item for item in ctx.session.advised_items() if item.tag == tag), None)
    state = ctx.model.tag(tag, ctx.now)
    return pb.BulkReadResult(
        tag_address=tag,
        item_handle=cached.item_handle if cached is not None else 0,
        was_successful=True,
        was_cached=cached is not None,
        value=state.value,
        quality=QUALITY_GOOD,
        timestamp=state.timestamp,
    )


def _read_bulk(ctx: Context, payload: pb.ReadBulkCommand) -> None:
    find_server(ctx.session, payload.server_handle)
    if payload.timeout_ms < 0:
        raise Refused(
            faults.HRESULT_INVALIDARG,
            faults.failure_status(pb.MxStatusCategory.CONFIGURATION_ERROR, 0, "negative timeout_ms"),
            f"timeout_ms={payload.timeout_ms} is negative",
        )
    results = [_read_one(ctx, tag, payload.timeout_ms) for tag in payload.tag_addresses]
    ctx.reply.bulk_read = pb.BulkReadReply(results=results)


#: Bulk command kind -> (payload class, handler).
BULK: dict[pb.MxCommandKind, tuple[type[betterproto2.Message], Handler]] = {
    Kind.ADD_ITEM_BULK: (pb.AddItemBulkCommand, _add_item_bulk),
    Kind.SUBSCRIBE_BULK: (pb.AddItemBulkCommand, _subscribe_bulk),
    Kind.ADVISE_ITEM_BULK: (pb.ItemHandleBulkCommand, _handle_action(_do_advise)),
    Kind.REMOVE_ITEM_BULK: (pb.ItemHandleBulkCommand, _handle_action(_do_remove)),
    Kind.UN_ADVISE_ITEM_BULK: (pb.ItemHandleBulkCommand, _handle_action(_do_unadvise)),
    Kind.UNSUBSCRIBE_BULK: (pb.ItemHandleBulkCommand, _handle_action(_do_unsubscribe)),
    Kind.WRITE_BULK: (pb.WriteBulkCommand, _write_bulk),
    Kind.WRITE2_BULK: (pb.Write2BulkCommand, _write_bulk),
    Kind.WRITE_SECURED_BULK: (pb.WriteSecuredBulkCommand, _write_bulk),
    Kind.WRITE_SECURED2_BULK: (pb.WriteSecured2BulkCommand, _write_bulk),
    Kind.READ_BULK: (pb.ReadBulkCommand, _read_bulk),
}
