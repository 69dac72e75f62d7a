"""``Session``: the MXAccess methods of one gateway session (notes §client "Session API").

Every method sends one ``Invoke`` and returns when its reply arrived. Unless a method says
otherwise, each raises:

* :class:`~.errors.MxAccessError` when MXAccess failed (``MXACCESS_FAILURE``, HRESULT < 0,
  a failed ``MxStatusProxy``), :class:`~.errors.MxGatewayCommandError` for another protocol
  status; both keep the raw reply as ``.reply``;
* the transport and gRPC errors of ``errors.py`` (authentication, permission, unavailable,
  deadline after ``timeout`` seconds, other statuses);
* ``InvalidArgument``/``InvalidArgumentType`` for bad arguments, ``InvalidState`` for a handle
  the session does not hold or a closed session.

Bulk methods return the generated result message; an entry that failed has
``was_successful = False`` and is never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from typing import Any, Protocol

from otwire.codecs.mxgateway import pb, to_mx_value
from otwire.errors import InvalidArgument, InvalidState, LocalProtocolError, RemoteProtocolError
from otwire.protocols.mxgateway import CommandFailed, GatewaySession, Outcome, returned_handle

from . import _commands as cmd
from .errors import MxAccessError, MxGatewayCommandError, MxGatewayError, MxGatewayProtocolError


class _Client(Protocol):
    """What a :class:`Session` needs from its ``GatewayClient`` (no import cycle)."""

    def redact(self, text: str) -> str: ...

    async def invoke_raw(self, request: pb.MxCommandRequest, *, timeout: float | None = None) -> pb.MxCommandReply: ...

    async def _invoke(self, request: pb.MxCommandRequest, timeout: float | None) -> pb.MxCommandReply: ...

    async def _close_session(self, request: pb.CloseSessionRequest, timeout: float | None) -> pb.CloseSessionReply: ...

    def _stream_events(self, request: pb.StreamEventsRequest) -> AsyncGenerator[list[pb.MxEvent], None]: ...


__all__ = ["Session"]

K = pb.MxCommandKind


class Session:
    """One open gateway session; made by :meth:`GatewayClient.open_session`.

    Usable as ``async with`` (closes on exit). ``logic`` is the sans-IO
    :class:`~otwire.protocols.mxgateway.GatewaySession` with the handles, advise state and
    event sequence.
    """

    def __init__(self, client: _Client, logic: GatewaySession) -> None:
        self._client = client
        self.logic = logic
        self._closing: asyncio.Future[pb.CloseSessionReply | None] | None = None

    def __repr__(self) -> str:
        return f"<Session {self.session_id} {self.logic.state.name}>"

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def session_id(self) -> str:
        """The gateway's session id."""
        return self.logic.session_id

    @property
    def last_worker_sequence(self) -> int | None:
        """The last ``worker_sequence`` seen (the resume point), or ``None``."""
        return self.logic.sequence.resume_after

    # -- the generic path -------------------------------------------------------------

    async def invoke(self, command: pb.MxCommand, *, timeout: float | None = None) -> pb.MxCommandReply:
        """Send any command, track its effect on the session and check the reply for failures."""
        try:
            request = self.logic.command_request(command, timeout=timeout)
        except LocalProtocolError as exc:
            raise _local(exc) from None
        correlation_id = request.client_correlation_id
        try:
            reply = await self._client._invoke(request, timeout)
        except BaseException:
            self.logic.abandon(correlation_id)
            raise
        try:
            events = self.logic.reply_received(correlation_id, reply)
        except RemoteProtocolError as exc:
            raise MxGatewayProtocolError(str(exc), reply=reply) from None
        if isinstance(events[0], CommandFailed):
            raise _command_error(events[0], self._client.redact)
        return reply

    async def invoke_raw(self, command: pb.MxCommand, *, timeout: float | None = None) -> pb.MxCommandReply:
        """Send any command in this session and return the raw reply: no failure check, no tracking.

        Raises:
            The transport and gRPC errors only (module docstring).
        """
        request = pb.MxCommandRequest(
            session_id=self.session_id, client_correlation_id=self.logic.next_correlation_id(), command=command
        )
        return await self._client.invoke_raw(request, timeout=timeout)

    # -- registration and items -------------------------------------------------------

    async def register(self, client_name: str, *, timeout: float | None = None) -> int:
        """``Register``: returns the server handle."""
        reply = await self.invoke(
            pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand(client_name=client_name)), timeout=timeout
        )
        return returned_handle(reply)

    async def unregister(self, server_handle: int, *, timeout: float | None = None) -> pb.MxCommandReply:
        """``Unregister``: the server handle and all its item handles become invalid."""
        payload = pb.UnregisterCommand(server_handle=cmd.handle(server_handle, "server_handle"))
        return await self.invoke(pb.MxCommand(kind=K.UNREGISTER, unregister=payload), timeout=timeout)

    async def add_item(self, server_handle: int, item_definition: str, *, timeout: float | None = None) -> int:
        """``AddItem`` (``item_definition`` such as ``"Obj.Attr"``): returns the item handle."""
        payload = pb.AddItemCommand(
            server_handle=cmd.handle(server_handle, "server_handle"), item_definition=item_definition
        )
        return returned_handle(await self.invoke(pb.MxCommand(kind=K.ADD_ITEM, add_item=payload), timeout=timeout))

    async def add_item2(
        self, server_handle: int, item_definition: str, item_context: str, *, timeout: float | None = None
    ) -> int:
        """``AddItem2``: ``item_context`` is passed through as given; returns the item handle."""
        payload = pb.AddItem2Command(
            server_handle=cmd.handle(server_handle, "server_handle"),
            item_definition=item_definition,
            item_context=item_context,
        )
        return returned_handle(await self.invoke(pb.MxCommand(kind=K.ADD_ITEM2, add_item2=payload), timeout=timeout))

    async def remove_item(
        self, server_handle: int, item_handle: int, *, timeout: float | None = None
    ) -> pb.MxCommandReply:
        """``RemoveItem``."""
        return await self.invoke(
            cmd.item_command(K.REMOVE_ITEM, "remove_item", server_handle, item_handle), timeout=timeout
        )

    async def advise(self, server_handle: int, item_handle: int, *, timeout: float | None = None) -> pb.MxCommandReply:
        """``Advise``: ``OnDataChange`` events follow on :meth:`stream_events` (an initial one first)."""
        return await self.invoke(cmd.item_command(K.ADVISE, "advise", server_handle, item_handle), timeout=timeout)

    async def advise_supervisory(
        self, server_handle: int, item_handle: int, *, timeout: float | None = None
    ) -> pb.MxCommandReply:
        """``AdviseSupervisory``: advise in supervisory (not operator) context."""
        command = cmd.item_command(K.ADVISE_SUPERVISORY, "advise_supervisory", server_handle, item_handle)
        return await self.invoke(command, timeout=timeout)

    async def unadvise(
        self, server_handle: int, item_handle: int, *, timeout: float | None = None
    ) -> pb.MxCommandReply:
        """``UnAdvise``."""
        return await self.invoke(
            cmd.item_command(K.UN_ADVISE, "un_advise", server_handle, item_handle), timeout=timeout
        )

    # -- writes, users, reads ---------------------------------------------------------

    async def write(
        self, server_handle: int, item_handle: int, value: Any, user_id: int = 0, *, timeout: float | None = None
    ) -> pb.MxCommandReply:
        """``Write``: ``value`` through ``to_mx_value``; the result arrives as ``OnWriteComplete``."""
        payload = pb.WriteCommand(
            server_handle=cmd.handle(server_handle, "server_handle"),
            item_handle=cmd.handle(item_handle, "item_handle"),
            value=to_mx_value(value),
            user_id=cmd.handle(user_id, "user_id"),
        )
        return await self.invoke(pb.MxCommand(kind=K.WRITE, write=payload), timeout=timeout)

    async def write2(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        timestamp: dt.datetime,
        user_id: int = 0,
        *,
        timeout: float | None = None,
    ) -> pb.MxCommandReply:
        """``Write2``: a value with its (aware) timestamp."""
        payload = pb.Write2Command(
            server_handle=cmd.handle(server_handle, "server_handle"),
            item_handle=cmd.handle(item_handle, "item_handle"),
            value=to_mx_value(value),
            timestamp_value=cmd.timestamp(timestamp),
            user_id=cmd.handle(user_id, "user_id"),
        )
        return await self.invoke(pb.MxCommand(kind=K.WRITE2, write2=payload), timeout=timeout)

    async def write_secured(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        current_user_id: int,
        verifier_user_id: int = 0,
        *,
        timeout: float | None = None,
    ) -> pb.MxCommandReply:
        """``WriteSecured``: user ids from :meth:`authenticate_user` (verifier for VerifiedWrite)."""
        payload = pb.WriteSecuredCommand(
            server_handle=cmd.handle(server_handle, "server_handle"),
            item_handle=cmd.handle(item_handle, "item_handle"),
            value=to_mx_value(value),
            current_user_id=cmd.handle(current_user_id, "current_user_id"),
            verifier_user_id=cmd.handle(verifier_user_id, "verifier_user_id"),
        )
        return await self.invoke(pb.MxCommand(kind=K.WRITE_SECURED, write_secured=payload), timeout=timeout)

    async def write_secured2(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        timestamp: dt.datetime,
        current_user_id: int,
        verifier_user_id: int = 0,
        *,
        timeout: float | None = None,
    ) -> pb.MxCommandReply:
        """``WriteSecured2``: a secured write with a timestamp."""
        payload = pb.WriteSecured2Command(
            server_handle=cmd.handle(server_handle, "server_handle"),
            item_handle=cmd.handle(item_handle, "item_handle"),
            value=to_mx_value(value),
            timestamp_value=cmd.timestamp(timestamp),
            current_user_id=cmd.handle(current_user_id, "current_user_id"),
            verifier_user_id=cmd.handle(verifier_user_id, "verifier_user_id"),
        )
        return await self.invoke(pb.MxCommand(kind=K.WRITE_SECURED2, write_secured2=payload), timeout=timeout)

    async def authenticate_user(
        self, server_handle: int, user_name: str, password: str, *, timeout: float | None = None
    ) -> int:
        """``AuthenticateUser``: returns the user id (session-scoped; 0 = refused). The password is never logged."""
        payload = pb.AuthenticateUserCommand(
            server_handle=cmd.handle(server_handle, "server_handle"), user_name=user_name, password=password
        )
        reply = await self.invoke(pb.MxCommand(kind=K.AUTHENTICATE_USER, authenticate_user=payload), timeout=timeout)
        if reply.authenticate_user is not None:
            return reply.authenticate_user.user_id
        return returned_handle(reply)

    async def read(
        self, server_handle: int, tag_address: str, *, timeout_ms: int = 0, timeout: float | None = None
    ) -> pb.BulkReadResult:
        """Read one tag (``ReadBulk`` of one entry; ``timeout_ms`` 0 = the worker's default).

        Raises:
            MxAccessError: the entry failed (``was_successful = False``); ``.reply`` is the whole
                ``MxCommandReply`` (the entry in ``.reply.bulk_read.results[0]``).
        """
        reply = await self._read_bulk(server_handle, [tag_address], timeout_ms, timeout)
        results = reply.bulk_read.results if reply.bulk_read is not None else []
        if len(results) != 1:
            raise MxGatewayProtocolError(f"ReadBulk of one tag answered {len(results)} results", reply=reply)
        if not results[0].was_successful:
            text = self._client.redact(f"READ of {tag_address!r} failed: {results[0].error_message}")
            raise MxAccessError(text, reply=reply, statuses=results[0].statuses)
        return results[0]

    async def drain_events(self, max_events: int = 0, *, timeout: float | None = None) -> list[pb.MxEvent]:
        """``DrainEvents`` (diagnostic): events queued for the session, without a stream."""
        payload = pb.DrainEventsCommand(max_events=cmd.handle(max_events, "max_events"))
        reply = await self.invoke(pb.MxCommand(kind=K.DRAIN_EVENTS, drain_events=payload), timeout=timeout)
        return list(reply.drain_events.events) if reply.drain_events is not None else []

    # -- bulk -------------------------------------------------------------------------

    async def _tags(
        self, kind: pb.MxCommandKind, arm: str, server_handle: int, tags: Iterable[str], timeout: float | None
    ) -> pb.BulkSubscribeReply:
        payload = pb.AddItemBulkCommand(
            server_handle=cmd.handle(server_handle, "server_handle"), tag_addresses=cmd.strings(tags, "tag_addresses")
        )
        reply = await self.invoke(cmd.command(kind, arm, payload), timeout=timeout)
        return reply.bulk_subscribe or pb.BulkSubscribeReply()

    async def _items(
        self, kind: pb.MxCommandKind, arm: str, server_handle: int, items: Iterable[int], timeout: float | None
    ) -> pb.BulkSubscribeReply:
        payload = pb.ItemHandleBulkCommand(
            server_handle=cmd.handle(server_handle, "server_handle"), item_handles=cmd.handles(items, "item_handle")
        )
        reply = await self.invoke(cmd.command(kind, arm, payload), timeout=timeout)
        return reply.bulk_subscribe or pb.BulkSubscribeReply()

    async def add_item_bulk(
        self, server_handle: int, tag_addresses: Iterable[str], *, timeout: float | None = None
    ) -> pb.BulkSubscribeReply:
        """``AddItemBulk``: one ``SubscribeResult`` per tag, in order."""
        return await self._tags(K.ADD_ITEM_BULK, "add_item_bulk", server_handle, tag_addresses, timeout)

    async def subscribe_bulk(
        self, server_handle: int, tag_addresses: Iterable[str], *, timeout: float | None = None
    ) -> pb.BulkSubscribeReply:
        """``SubscribeBulk``: add and advise each tag."""
        return await self._tags(K.SUBSCRIBE_BULK, "subscribe_bulk", server_handle, tag_addresses, timeout)

    async def advise_item_bulk(
        self, server_handle: int, item_handles: Iterable[int], *, timeout: float | None = None
    ) -> pb.BulkSubscribeReply:
        """``AdviseItemBulk``."""
        return await self._items(K.ADVISE_ITEM_BULK, "advise_item_bulk", server_handle, item_handles, timeout)

    async def unadvise_item_bulk(
        self, server_handle: int, item_handles: Iterable[int], *, timeout: float | None = None
    ) -> pb.BulkSubscribeReply:
        """``UnAdviseItemBulk``."""
        return await self._items(K.UN_ADVISE_ITEM_BULK, "un_advise_item_bulk", server_handle, item_handles, timeout)

    async def remove_item_bulk(
        self, server_handle: int, item_handles: Iterable[int], *, timeout: float | None = None
    ) -> pb.BulkSubscribeReply:
        """``RemoveItemBulk``."""
        return await self._items(K.REMOVE_ITEM_BULK, "remove_item_bulk", server_handle, item_handles, timeout)

    async def unsubscribe_bulk(
        self, server_handle: int, item_handles: Iterable[int], *, timeout: float | None = None
    ) -> pb.BulkSubscribeReply:
        """``UnsubscribeBulk``: unadvise and remove each item."""
        return await self._items(K.UNSUBSCRIBE_BULK, "unsubscribe_bulk", server_handle, item_handles, timeout)

    async def _bulk_write(self, command: pb.MxCommand, timeout: float | None) -> pb.BulkWriteReply:
        reply = await self.invoke(command, timeout=timeout)
        return reply.bulk_write or pb.BulkWriteReply()

    async def write_bulk(
        self, server_handle: int, entries: Iterable[Sequence[Any]], user_id: int = 0, *, timeout: float | None = None
    ) -> pb.BulkWriteReply:
        """``WriteBulk`` of ``(item_handle, value[, user_id])`` tuples."""
        return await self._bulk_write(cmd.write_bulk(server_handle, entries, user_id), timeout)

    async def write2_bulk(
        self, server_handle: int, entries: Iterable[Sequence[Any]], user_id: int = 0, *, timeout: float | None = None
    ) -> pb.BulkWriteReply:
        """``Write2Bulk`` of ``(item_handle, value, timestamp[, user_id])`` tuples."""
        return await self._bulk_write(cmd.write2_bulk(server_handle, entries, user_id), timeout)

    async def write_secured_bulk(
        self, server_handle: int, entries: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> pb.BulkWriteReply:
        """``WriteSecuredBulk`` of ``(item_handle, value, current_user_id, verifier_user_id)`` tuples."""
        return await self._bulk_write(cmd.write_secured_bulk(server_handle, entries), timeout)

    async def write_secured2_bulk(
        self, server_handle: int, entries: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> pb.BulkWriteReply:
        """``WriteSecured2Bulk`` of ``(item_handle, value, timestamp, current_user_id, verifier_user_id)`` tuples."""
        return await self._bulk_write(cmd.write_secured2_bulk(server_handle, entries), timeout)

    async def read_bulk(
        self, server_handle: int, tag_addresses: Iterable[str], *, timeout_ms: int = 0, timeout: float | None = None
    ) -> pb.BulkReadReply:
        """``ReadBulk``: one ``BulkReadResult`` per tag; ``timeout_ms`` per tag (0 = the worker's default)."""
        reply = await self._read_bulk(server_handle, tag_addresses, timeout_ms, timeout)
        return reply.bulk_read or pb.BulkReadReply()

    async def _read_bulk(
        self, server_handle: int, tag_addresses: Iterable[str], timeout_ms: int, timeout: float | None
    ) -> pb.MxCommandReply:
        if not isinstance(timeout_ms, int) or not 0 <= timeout_ms < 2**31:
            raise InvalidArgument(f"timeout_ms must be an int in 0..2**31-1, got {timeout_ms!r}")
        payload = pb.ReadBulkCommand(
            server_handle=cmd.handle(server_handle, "server_handle"),
            tag_addresses=cmd.strings(tag_addresses, "tag_addresses"),
            timeout_ms=timeout_ms,
        )
        return await self.invoke(pb.MxCommand(kind=K.READ_BULK, read_bulk=payload), timeout=timeout)

    # -- events and close -------------------------------------------------------------

    async def stream_events(self, *, after_worker_sequence: int | None = None) -> AsyncIterator[pb.MxEvent]:
        """The session's events, in order, until the gateway ends the stream.

        Resumes after ``after_worker_sequence``, else after the last sequence this session saw
        (``None`` the first time: from now). The ``ReplayGap`` sentinel is yielded too
        (``event.replay_gap`` set: re-read every item). ``break``, ``aclose()`` or cancelling
        the task closes the gRPC stream; for a prompt close on ``break`` use
        ``async with contextlib.aclosing(session.stream_events()) as events``.

        Raises:
            MxGatewayUnavailableError: the stream was cut (resume with another call).
            InvalidState: the session is not open.
        """
        try:
            request = self.logic.stream_request(after_worker_sequence=after_worker_sequence)
        except LocalProtocolError as exc:
            raise _local(exc) from None
        received = self.logic.event_received
        async with contextlib.aclosing(self._client._stream_events(request)) as batches:
            async for batch in batches:  # the events of one read of the stream
                for event in batch:
                    try:
                        received(event)
                    except RemoteProtocolError:
                        return  # the session closed under the stream
                    yield event

    async def close(self, *, timeout: float | None = None) -> pb.CloseSessionReply | None:
        """``CloseSession`` (idempotent, also when called concurrently: one request is sent).

        Returns the reply, or ``None`` when the session was not open.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close(timeout))
        return await asyncio.shield(self._closing)

    async def _close(self, timeout: float | None) -> pb.CloseSessionReply | None:
        request = self.logic.close_request()
        if request is None:
            return None
        try:
            reply = await self._client._close_session(request, timeout)
        except MxGatewayError as exc:
            self.logic.lost(str(exc))
            raise
        self.logic.close_reply_received(reply)
        return reply


def _local(exc: LocalProtocolError) -> Exception:
    return exc if isinstance(exc, InvalidState | InvalidArgument) else InvalidState(str(exc))


def _command_error(failed: CommandFailed, redact: Any) -> MxGatewayCommandError:
    reply = failed.reply
    text = redact(failed.reason)
    if failed.outcome is Outcome.MXACCESS_FAILED:
        return MxAccessError(text, reply=reply, hresult=reply.hresult, statuses=reply.statuses)
    code = reply.protocol_status.code if reply.protocol_status is not None else None
    return MxGatewayCommandError(text, code=code, reply=reply)
