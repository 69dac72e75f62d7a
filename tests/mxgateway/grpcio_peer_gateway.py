"""The ``MxAccessGateway`` service of the grpcio test peer: an in-memory gateway.

Behaviour by name, so that tests choose the case with their arguments:

* ``register("slow")`` sleeps 30 s (tests of deadlines and cancellation);
* ``add_item`` of a tag starting ``Missing`` fails in MXAccess (CONFIGURATION_ERROR, detail 6),
  and in bulk commands it is a failed entry;
* writes to a tag starting ``Denied`` fail with MXACCESS_FAILURE, HRESULT 0x80040200 and a
  SECURITY_ERROR/321 status (single) or a failed entry (bulk); other writes are answered OK and
  followed by ``OnWriteComplete`` (and ``OnDataChange`` when advised);
* ``advise`` sends the initial ``OnDataChange``;
* ``kill_streams()`` aborts every open event stream with UNAVAILABLE.

The last :data:`RING` events of a session stay for resuming; older ones are evicted, and a
resume from before them starts with the ``ReplayGap`` sentinel. A stream opened without
``after_worker_sequence`` starts after the last event any stream delivered (events queued
before the first stream are not lost).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import grpc

RING = 8
HRESULT_FAILED = -2147220992


@dataclass
class Item:
    tag: str
    advised: bool = False
    value: Any = None


@dataclass
class PeerSession:
    session_id: str
    name: str
    servers: dict[int, dict[int, Item]] = field(default_factory=dict)
    handles: Any = field(default_factory=lambda: itertools.count(1))
    sequence: int = 0
    delivered: int = 0
    ring: deque[Any] = field(default_factory=lambda: deque(maxlen=RING))
    subscribers: set[asyncio.Queue[Any]] = field(default_factory=set)


class Gateway:
    """Servicer of ``mxaccess_gateway.v1.MxAccessGateway`` (registered by ``GrpcioPeer``)."""

    def __init__(self, stubs: Any, auth: Any) -> None:
        self.m = stubs.mx
        self.auth = auth
        self.sessions: dict[str, PeerSession] = {}
        self.counter = itertools.count(1)
        self.requests: list[Any] = []
        self.closed_sessions: list[str] = []
        self.kills: set[asyncio.Event] = set()
        self.streams_open = 0
        self.streams_cancelled = 0
        self.stream_cancelled = threading.Event()
        self.slow_started = threading.Event()
        self.slow_cancelled = threading.Event()
        self.alarm_stream_cancelled = threading.Event()
        self.acknowledged: list[tuple[str, str, str]] = []

    # -- sessions ---------------------------------------------------------------------

    async def OpenSession(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.auth.check(context, "OpenSession", "session")
        if request.client_session_name == "refuse":
            status = self.m.ProtocolStatus(code=self.m.PROTOCOL_STATUS_CODE_WORKER_UNAVAILABLE, message="no worker")
            return self.m.OpenSessionReply(protocol_status=status)
        session_id = f"sess-{next(self.counter)}"
        self.sessions[session_id] = PeerSession(session_id, request.client_session_name)
        return self.m.OpenSessionReply(
            session_id=session_id,
            backend_name="grpcio-peer",
            gateway_protocol_version=3,
            worker_protocol_version=1,
            protocol_status=self.m.ProtocolStatus(code=self.m.PROTOCOL_STATUS_CODE_OK),
        )

    async def CloseSession(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.auth.check(context, "CloseSession", "session")
        session = self.sessions.pop(request.session_id, None)
        if session is None:
            status = self.m.ProtocolStatus(code=self.m.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND)
            return self.m.CloseSessionReply(session_id=request.session_id, protocol_status=status)
        self.closed_sessions.append(session.session_id)
        return self.m.CloseSessionReply(
            session_id=session.session_id,
            final_state=self.m.SESSION_STATE_CLOSED,
            protocol_status=self.m.ProtocolStatus(code=self.m.PROTOCOL_STATUS_CODE_OK),
        )

    # -- commands ---------------------------------------------------------------------

    async def Invoke(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        m = self.m
        arm = request.command.WhichOneof("payload") or ""
        scope = "invoke:write" if arm.startswith("write") else "invoke:read"
        await self.auth.check(context, "Invoke", scope)
        self.requests.append(request)
        reply = m.MxCommandReply(
            session_id=request.session_id,
            correlation_id=request.client_correlation_id,
            kind=request.command.kind,
            protocol_status=m.ProtocolStatus(code=m.PROTOCOL_STATUS_CODE_OK),
        )
        session = self.sessions.get(request.session_id)
        if session is None:
            reply.protocol_status.code = m.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND
            return reply
        handler = getattr(self, f"_{arm}", None)
        if handler is None:
            reply.protocol_status.code = m.PROTOCOL_STATUS_CODE_INVALID_REQUEST
            return reply
        await handler(session, getattr(request.command, arm), reply)
        return reply

    def _mx_failure(self, reply: Any, category: int, detail: int) -> None:
        m = self.m
        reply.protocol_status.code = m.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE
        reply.hresult = HRESULT_FAILED
        reply.statuses.append(
            m.MxStatusProxy(success=0, category=category, detected_by=m.MX_STATUS_SOURCE_RESPONDING_LMX, detail=detail)
        )

    def _item(self, session: PeerSession, server: int, item: int) -> Item | None:
        return session.servers.get(server, {}).get(item)

    async def _register(self, session: PeerSession, payload: Any, reply: Any) -> None:
        if payload.client_name == "slow":
            self.slow_started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                self.slow_cancelled.set()
                raise
        handle = next(session.handles)
        session.servers[handle] = {}
        reply.register.server_handle = handle

    async def _unregister(self, session: PeerSession, payload: Any, reply: Any) -> None:
        session.servers.pop(payload.server_handle, None)

    def _add(self, session: PeerSession, server: int, tag: str) -> tuple[int, str]:
        if server not in session.servers:
            return 0, f"unknown server handle {server}"
        if tag.startswith("Missing"):
            return 0, f"no such tag {tag}"
        handle = next(session.handles)
        session.servers[server][handle] = Item(tag)
        return handle, ""

    async def _add_item(self, session: PeerSession, payload: Any, reply: Any) -> None:
        handle, error = self._add(session, payload.server_handle, payload.item_definition)
        if error:
            reply.diagnostic_message = error
            self._mx_failure(reply, self.m.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, 6)
        else:
            reply.add_item.item_handle = handle

    _add_item2 = _add_item

    async def _remove_item(self, session: PeerSession, payload: Any, reply: Any) -> None:
        session.servers.get(payload.server_handle, {}).pop(payload.item_handle, None)

    async def _advise(self, session: PeerSession, payload: Any, reply: Any) -> None:
        item = self._item(session, payload.server_handle, payload.item_handle)
        if item is None:
            self._mx_failure(reply, self.m.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, 6)
            return
        item.advised = True
        self._data_change(session, payload.server_handle, payload.item_handle, item)

    _advise_supervisory = _advise

    async def _un_advise(self, session: PeerSession, payload: Any, reply: Any) -> None:
        item = self._item(session, payload.server_handle, payload.item_handle)
        if item is not None:
            item.advised = False

    def _write_one(self, session: PeerSession, server: int, handle: int, value: Any) -> str:
        item = self._item(session, server, handle)
        if item is None:
            return f"unknown item handle {handle}"
        if item.tag.startswith("Denied"):
            return "write denied by security classification"
        item.value = value
        ok = self.m.MxStatusProxy(success=1, category=self.m.MX_STATUS_CATEGORY_OK)
        self._emit(
            session,
            family=self.m.MX_EVENT_FAMILY_ON_WRITE_COMPLETE,
            server_handle=server,
            item_handle=handle,
            statuses=[ok],
            on_write_complete=self.m.OnWriteCompleteEvent(),
        )
        if item.advised:
            self._data_change(session, server, handle, item)
        return ""

    async def _write(self, session: PeerSession, payload: Any, reply: Any) -> None:
        if self._write_one(session, payload.server_handle, payload.item_handle, payload.value):
            self._mx_failure(reply, self.m.MX_STATUS_CATEGORY_SECURITY_ERROR, 321)

    _write2 = _write_secured = _write_secured2 = _write

    async def _authenticate_user(self, session: PeerSession, payload: Any, reply: Any) -> None:
        reply.authenticate_user.user_id = 0 if payload.password == "bad" else 77

    async def _drain_events(self, session: PeerSession, payload: Any, reply: Any) -> None:
        events = list(session.ring)[: payload.max_events or None]
        reply.drain_events.events.extend(events)

    # -- alarms -----------------------------------------------------------------------

    def _alarms(self, prefix: str) -> list[Any]:
        m = self.m
        alarms = [
            m.ActiveAlarmSnapshot(
                alarm_full_reference=f"Area1.Pump{n}.HiAlarm", area="Area1", priority=n, state="ACTIVE"
            )
            for n in (1, 2)
        ]
        return [a for a in alarms if a.alarm_full_reference.startswith(prefix)]

    async def AcknowledgeAlarm(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.auth.check(context, "AcknowledgeAlarm", "invoke:write")
        reply = self.m.AcknowledgeAlarmReply(protocol_status=self.m.ProtocolStatus(code=self.m.PROTOCOL_STATUS_CODE_OK))
        if request.alarm_full_reference.startswith("Denied"):
            self._mx_failure(reply, self.m.MX_STATUS_CATEGORY_SECURITY_ERROR, 321)
        self.acknowledged.append((request.alarm_full_reference, request.comment, request.operator_name))
        return reply

    async def QueryActiveAlarms(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.auth.check(context, "QueryActiveAlarms", "events:read")
        for alarm in self._alarms(request.alarm_filter_prefix):
            yield alarm

    async def StreamAlarms(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.auth.check(context, "StreamAlarms", "events:read")
        for alarm in self._alarms(request.alarm_filter_prefix):
            yield self.m.AlarmFeedMessage(active_alarm=alarm)
        yield self.m.AlarmFeedMessage(snapshot_complete=self.m.SnapshotComplete())
        try:
            await asyncio.Event().wait()  # no transitions in this peer: wait for the client to go
        except asyncio.CancelledError:
            self.alarm_stream_cancelled.set()
            raise

    # -- bulk -------------------------------------------------------------------------

    async def _add_item_bulk(self, session: PeerSession, payload: Any, reply: Any, advise: bool = False) -> None:
        m = self.m
        results = reply.bulk_subscribe.results
        for tag in payload.tag_addresses:
            handle, error = self._add(session, payload.server_handle, tag)
            ok = not error
            results.append(
                m.SubscribeResult(
                    server_handle=payload.server_handle,
                    tag_address=tag,
                    item_handle=handle,
                    was_successful=ok,
                    error_message=error,
                )
            )
            if ok and advise:
                item = session.servers[payload.server_handle][handle]
                item.advised = True
                self._data_change(session, payload.server_handle, handle, item)

    async def _subscribe_bulk(self, session: PeerSession, payload: Any, reply: Any) -> None:
        await self._add_item_bulk(session, payload, reply, advise=True)

    async def _handles_bulk(self, session: PeerSession, payload: Any, reply: Any, action: str) -> None:
        for handle in payload.item_handles:
            item = self._item(session, payload.server_handle, handle)
            result = self.m.SubscribeResult(server_handle=payload.server_handle, item_handle=handle)
            if item is None:
                result.error_message = f"unknown item handle {handle}"
            else:
                result.tag_address, result.was_successful = item.tag, True
                item.advised = action == "advise" or (item.advised and action == "remove")
                if action in ("remove", "unsubscribe"):
                    session.servers[payload.server_handle].pop(handle)
            reply.bulk_subscribe.results.append(result)

    async def _advise_item_bulk(self, session: PeerSession, payload: Any, reply: Any) -> None:
        await self._handles_bulk(session, payload, reply, "advise")

    async def _un_advise_item_bulk(self, session: PeerSession, payload: Any, reply: Any) -> None:
        await self._handles_bulk(session, payload, reply, "unadvise")

    async def _remove_item_bulk(self, session: PeerSession, payload: Any, reply: Any) -> None:
        await self._handles_bulk(session, payload, reply, "remove")

    async def _unsubscribe_bulk(self, session: PeerSession, payload: Any, reply: Any) -> None:
        await self._handles_bulk(session, payload, reply, "unsubscribe")

    async def _write_bulk(self, session: PeerSession, payload: Any, reply: Any) -> None:
        m = self.m
        for entry in payload.entries:
            error = self._write_one(session, payload.server_handle, entry.item_handle, entry.value)
            result = m.BulkWriteResult(item_handle=entry.item_handle, was_successful=not error, error_message=error)
            if error:
                result.hresult = HRESULT_FAILED
                result.statuses.append(m.MxStatusProxy(category=m.MX_STATUS_CATEGORY_SECURITY_ERROR, detail=321))
            reply.bulk_write.results.append(result)

    _write2_bulk = _write_secured_bulk = _write_secured2_bulk = _write_bulk

    async def _read_bulk(self, session: PeerSession, payload: Any, reply: Any) -> None:
        m = self.m
        items = {item.tag: (h, item) for h, item in session.servers.get(payload.server_handle, {}).items()}
        for tag in payload.tag_addresses:
            result = m.BulkReadResult(tag_address=tag)
            if tag.startswith("Missing"):
                result.error_message = f"no such tag {tag}"
            else:
                handle, item = items.get(tag, (0, None))
                value = item.value if item is not None and item.value is not None else m.MxValue(int32_value=0)
                result.item_handle, result.was_successful, result.was_cached = handle, True, item is not None
                result.value.CopyFrom(value)
                result.quality = 192
            reply.bulk_read.results.append(result)

    # -- events -----------------------------------------------------------------------

    def _data_change(self, session: PeerSession, server: int, handle: int, item: Item) -> None:
        value = item.value if item.value is not None else self.m.MxValue(int32_value=0)
        self._emit(
            session,
            family=self.m.MX_EVENT_FAMILY_ON_DATA_CHANGE,
            server_handle=server,
            item_handle=handle,
            value=value,
            quality=192,
            on_data_change=self.m.OnDataChangeEvent(quality=192),
        )

    def _emit(self, session: PeerSession, **fields: Any) -> None:
        session.sequence += 1
        event = self.m.MxEvent(session_id=session.session_id, worker_sequence=session.sequence, **fields)
        session.ring.append(event)
        for queue in session.subscribers:
            queue.put_nowait(event)

    def emit_data_changes(self, session_id: str, count: int) -> None:
        """``count`` OnDataChange events on item 0 (call through ``GrpcioPeer.call``)."""
        session = self.sessions[session_id]
        for n in range(count):
            self._data_change(session, 0, 0, Item("Synthetic", value=self.m.MxValue(int32_value=n)))

    def kill_streams(self) -> None:
        """Abort every open event stream with UNAVAILABLE (call through ``GrpcioPeer.call``)."""
        for kill in self.kills:
            kill.set()

    def shutdown(self) -> None:
        self.kill_streams()

    async def StreamEvents(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.auth.check(context, "StreamEvents", "events:read")
        session = self.sessions.get(request.session_id)
        if session is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"session {request.session_id} not found")
        assert session is not None
        queue: asyncio.Queue[Any] = asyncio.Queue()
        kill = asyncio.Event()
        session.subscribers.add(queue)
        self.kills.add(kill)
        self.streams_open += 1
        try:
            for event in self._replay(session, request):
                session.delivered = max(session.delivered, event.worker_sequence)
                yield event
            while True:
                event = await self._next(queue, kill)
                if event is None:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "event stream killed")
                session.delivered = max(session.delivered, event.worker_sequence)
                yield event
        except (asyncio.CancelledError, GeneratorExit):
            # grpc.aio ends the handler this way when the client resets the stream (break,
            # aclose, task cancel); a kill or a shutdown ends it with an abort instead.
            self.streams_cancelled += 1
            self.stream_cancelled.set()
            raise
        finally:
            self.streams_open -= 1
            session.subscribers.discard(queue)
            self.kills.discard(kill)

    def _replay(self, session: PeerSession, request: Any) -> list[Any]:
        resume = request.HasField("after_worker_sequence")
        after = request.after_worker_sequence if resume else session.delivered
        oldest = session.ring[0].worker_sequence if session.ring else session.sequence + 1
        out = [event for event in session.ring if event.worker_sequence > after]
        if resume and after + 1 < oldest:
            gap = self.m.ReplayGap(requested_after_sequence=after, oldest_available_sequence=oldest)
            out.insert(0, self.m.MxEvent(session_id=session.session_id, replay_gap=gap))
        return out

    @staticmethod
    async def _next(queue: asyncio.Queue[Any], kill: asyncio.Event) -> Any:
        getter = asyncio.ensure_future(queue.get())
        killer = asyncio.ensure_future(kill.wait())
        try:
            await asyncio.wait({getter, killer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            getter.cancel()
            killer.cancel()
        if kill.is_set():
            return None
        return getter.result()
