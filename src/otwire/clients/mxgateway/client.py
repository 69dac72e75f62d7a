"""``GatewayClient``: connect to an MXAccess Gateway and open sessions (notes §client "Client API").

::

    async with await GatewayClient.connect(endpoint="host:5000", api_key=KEY, plaintext=True) as client:
        session = await client.open_session(client_session_name="demo")
        server = await session.register("demo")
        item = await session.add_item(server, "Obj.Attr")
        await session.advise(server, item)
        await session.write(server, item, 42, user_id=0)
        async for event in session.stream_events(): ...
        await session.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from otwire.codecs.mxgateway import pb
from otwire.errors import InvalidState
from otwire.protocols.mxgateway import GatewaySession, Outcome, SessionOpenRefused, judge

from ._connection import GatewayConnection
from .errors import MxAccessError, MxGatewayCommandError
from .session import Session

__all__ = ["GatewayClient"]

log = logging.getLogger("otwire.clients.mxgateway")
T = TypeVar("T")
_STREAM_EVENTS = "/mxaccess_gateway.v1.MxAccessGateway/StreamEvents"


class GatewayClient:
    """A connection to the ``MxAccessGateway`` service; make one with :meth:`connect`.

    Usable as ``async with`` (closes on exit). Every call takes ``timeout`` in seconds (default:
    the ``timeout`` given to :meth:`connect`) and raises the errors of ``errors.py`` only.
    """

    def __init__(self, connection: GatewayConnection) -> None:
        self._connection = connection
        self._stub = pb.MxAccessGatewayStub(connection.channel)
        self._sessions: set[Session] = set()
        self._closing: asyncio.Future[None] | None = None

    @classmethod
    async def connect(
        cls,
        *,
        endpoint: str,
        api_key: str,
        plaintext: bool = False,
        ca_file: str | None = None,
        server_name_override: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = 10.0,
    ) -> GatewayClient:
        """Connect to the gateway at ``endpoint`` (``"host:port"``).

        Args:
            endpoint: ``"host:port"`` (port 5000 when omitted).
            api_key: Sent as ``authorization: Bearer <key>`` on every call; never shown.
            plaintext: h2c without TLS. TLS (system roots) is the default.
            ca_file: PEM CA file to trust instead of the system roots.
            server_name_override: Certificate name to expect (and SNI), for IP endpoints.
            timeout: Default per-call timeout of unary calls, seconds (``None``: none).
            connect_timeout: Seconds to wait for the connection (``None``: no bound).

        Raises:
            MxGatewayUnavailableError: connection refused, DNS or TLS failure.
            MxGatewayDeadlineError: not connected within ``connect_timeout``.
            InvalidArgument: bad endpoint or key, TLS options with ``plaintext``, unreadable ``ca_file``.
        """
        connection = await GatewayConnection.opened(
            connect_timeout,
            endpoint=endpoint,
            api_key=api_key,
            plaintext=plaintext,
            ca_file=ca_file,
            server_name_override=server_name_override,
            timeout=timeout,
        )
        return cls(connection)

    def __repr__(self) -> str:
        return f"<GatewayClient {self._connection!r}>"

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connection(self) -> GatewayConnection:
        """The channel, endpoint and TLS settings (the key is not readable from it)."""
        return self._connection

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        return self._connection.redact(text)

    # -- sessions ---------------------------------------------------------------------

    async def open_session(self, client_session_name: str = "", *, timeout: float | None = None) -> Session:
        """``OpenSession``: a :class:`Session` with its own MXAccess worker on the gateway.

        Raises:
            MxGatewayCommandError: the gateway refused (``.reply`` is the ``OpenSessionReply``).
        """
        logic = GatewaySession(client_session_name=client_session_name)
        request = logic.open_request()
        reply = await self._call("OpenSession", lambda t: self._stub.open_session(request, **self._kw(t)), timeout)
        events = logic.open_reply_received(reply)
        if isinstance(events[0], SessionOpenRefused):
            status = reply.protocol_status
            code = status.code if status is not None else None
            raise MxGatewayCommandError(self.redact(events[0].reason), code=code, reply=reply)
        return self._track(Session(self, logic))

    def attach_session(self, session_id: str, *, after_worker_sequence: int | None = None) -> Session:
        """A :class:`Session` for a session opened elsewhere (no handle checks: its handles are unknown here).

        :meth:`close` of the client leaves it open (it was not opened here); ``session.close()``
        closes it.

        Raises:
            InvalidArgument: empty ``session_id``.
        """
        if self._closing is not None:
            raise InvalidState("the client is closed")
        logic = GatewaySession(check_handles=False, after_worker_sequence=after_worker_sequence)
        logic.attach(session_id)
        return Session(self, logic)

    def _track(self, session: Session) -> Session:
        if self._closing is not None:
            raise InvalidState("the client is closed")
        self._sessions.add(session)
        return session

    # -- raw calls ----------------------------------------------------------------------

    async def open_session_raw(
        self, client_session_name: str = "", *, timeout: float | None = None
    ) -> pb.OpenSessionReply:
        """``OpenSession``, returning the raw reply (no failure check, no :class:`Session`)."""
        request = pb.OpenSessionRequest(client_session_name=client_session_name)
        return await self._call("OpenSession", lambda t: self._stub.open_session(request, **self._kw(t)), timeout)

    async def close_session_raw(self, session_id: str, *, timeout: float | None = None) -> pb.CloseSessionReply:
        """``CloseSession`` of any session id, returning the raw reply."""
        return await self._close_session(pb.CloseSessionRequest(session_id=session_id), timeout)

    async def invoke_raw(self, request: pb.MxCommandRequest, *, timeout: float | None = None) -> pb.MxCommandReply:
        """``Invoke`` as given, returning the raw reply (no MXAccess failure detection)."""
        return await self._invoke(request, timeout)

    async def stream_events_raw(
        self, session_id: str, *, after_worker_sequence: int | None = None
    ) -> AsyncIterator[pb.MxEvent]:
        """``StreamEvents`` of any session id: raw events, no sequence tracking.

        ``break``, ``aclose()`` or cancelling the task closes the gRPC stream.

        Raises:
            MxGatewayUnavailableError: the stream was cut.
        """
        request = pb.StreamEventsRequest(session_id=session_id, after_worker_sequence=after_worker_sequence)
        async with contextlib.aclosing(self._stream_events(request)) as batches:
            async for batch in batches:
                for event in batch:
                    yield event

    # -- alarms (session-less) ----------------------------------------------------------

    async def acknowledge_alarm(
        self, alarm_full_reference: str, *, comment: str = "", operator_name: str = "", timeout: float | None = None
    ) -> pb.AcknowledgeAlarmReply:
        """``AcknowledgeAlarm`` (scope ``invoke:write``).

        Raises:
            MxAccessError: MXAccess refused the acknowledgement (``.reply`` is the raw reply).
            MxGatewayCommandError: another protocol status than OK.
        """
        request = pb.AcknowledgeAlarmRequest(
            alarm_full_reference=alarm_full_reference, comment=comment, operator_name=operator_name
        )
        reply = await self._call(
            "AcknowledgeAlarm", lambda t: self._stub.acknowledge_alarm(request, **self._kw(t)), timeout
        )
        verdict = judge("ACKNOWLEDGE_ALARM", reply.protocol_status, reply.hresult, reply.statuses)
        if verdict.outcome is Outcome.MXACCESS_FAILED:
            raise MxAccessError(
                self.redact(verdict.reason), reply=reply, hresult=reply.hresult, statuses=reply.statuses
            )
        if verdict.failed:
            code = reply.protocol_status.code if reply.protocol_status is not None else None
            raise MxGatewayCommandError(self.redact(verdict.reason), code=code, reply=reply)
        return reply

    async def stream_alarms(self, alarm_filter_prefix: str = "") -> AsyncIterator[pb.AlarmFeedMessage]:
        """``StreamAlarms``: the active alarms, one ``snapshot_complete``, then a transition per change.

        ``break``, ``aclose()`` or cancelling the task closes the gRPC stream.
        """
        request = pb.StreamAlarmsRequest(alarm_filter_prefix=alarm_filter_prefix)
        metadata = self._connection.metadata
        source = self._connection.stream("StreamAlarms", lambda: self._stub.stream_alarms(request, metadata=metadata))
        async with contextlib.aclosing(source) as messages:
            async for message in messages:
                yield message

    async def query_active_alarms(self, alarm_filter_prefix: str = "") -> AsyncIterator[pb.ActiveAlarmSnapshot]:
        """``QueryActiveAlarms``: a point-in-time snapshot of the active alarms, as a finite stream."""
        request = pb.QueryActiveAlarmsRequest(alarm_filter_prefix=alarm_filter_prefix)
        metadata = self._connection.metadata
        source = self._connection.stream(
            "QueryActiveAlarms", lambda: self._stub.query_active_alarms(request, metadata=metadata)
        )
        async with contextlib.aclosing(source) as snapshots:
            async for snapshot in snapshots:
                yield snapshot

    # -- close --------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every session this client opened (errors logged, not raised), then the channel.

        Idempotent, also when called concurrently.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        sessions = list(self._sessions)
        results = await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)
        for session, result in zip(sessions, results, strict=True):
            if isinstance(result, Exception):
                log.warning("mxgateway: closing session %s failed: %s", session.session_id, self.redact(str(result)))
        self._connection.close()

    # -- plumbing used by Session ---------------------------------------------------------

    def _kw(self, timeout: float | None) -> dict[str, Any]:
        return {"timeout": timeout, "metadata": self._connection.metadata}

    async def _call(self, what: str, start: Callable[[float | None], Awaitable[T]], timeout: float | None) -> T:
        return await self._connection.unary(what, start, timeout)

    async def _invoke(self, request: pb.MxCommandRequest, timeout: float | None) -> pb.MxCommandReply:
        return await self._call("Invoke", lambda t: self._stub.invoke(request, **self._kw(t)), timeout)

    async def _close_session(self, request: pb.CloseSessionRequest, timeout: float | None) -> pb.CloseSessionReply:
        return await self._call("CloseSession", lambda t: self._stub.close_session(request, **self._kw(t)), timeout)

    def _stream_events(self, request: pb.StreamEventsRequest) -> AsyncGenerator[list[pb.MxEvent], None]:
        """``StreamEvents``: the events, a list per read of the stream (``GatewayConnection.stream_batches``)."""
        return self._connection.stream_batches("StreamEvents", _STREAM_EVENTS, request, pb.MxEvent)
