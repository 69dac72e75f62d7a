"""The two grpclib services of the simulator: ``MxAccessGateway`` and ``GalaxyRepository``.

They implement the generated bases (``pb.MxAccessGatewayBase``, ``galaxy.GalaxyRepositoryBase``)
over the sans-IO model (:mod:`.model`, :mod:`.invoke`, :mod:`.galaxy`). Authentication runs
before each handler (:mod:`.auth`); ``Invoke`` checks its scope per command kind here. The
alarm rpcs (``AcknowledgeAlarm``, ``StreamAlarms``, ``QueryActiveAlarms``) answer
UNIMPLEMENTED. Streams end in order (status OK) when their session closes or the server
stops (:meth:`GatewayService.shutdown`), with RESOURCE_EXHAUSTED when the subscriber's
buffer overflowed and with UNAVAILABLE when a ``Fault.KillStream*`` advise killed them.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from otwire.codecs.mxgateway import galaxy as gpb
from otwire.codecs.mxgateway import pb
from otwire.servers.mxgateway._wire import EventEncoder
from otwire.servers.mxgateway.auth import command_scope, require
from otwire.servers.mxgateway.galaxy import GalaxyError, GalaxyRepository
from otwire.servers.mxgateway.invoke import execute, slow_delay_of
from otwire.servers.mxgateway.model import GatewayModel, SimSession

__all__ = ["GATEWAY_PROTOCOL_VERSION", "GalaxyService", "GatewayService", "StreamTracker", "utc_now"]

#: ``OpenSessionReply.gateway_protocol_version`` the reconstructed contract corresponds to.
GATEWAY_PROTOCOL_VERSION = 3

LOGGER = logging.getLogger("otwire.servers.mxgateway")


def utc_now() -> datetime.datetime:
    """The current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.UTC)


def _ok() -> pb.ProtocolStatus:
    return pb.ProtocolStatus(code=pb.ProtocolStatusCode.OK)


class StreamTracker:
    """Counts the open server streams so that a stop can wait until they have ended."""

    def __init__(self) -> None:
        self.open = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.closing = False

    def enter(self) -> None:
        """A stream started.

        Raises:
            GRPCError: UNAVAILABLE while the server stops.
        """
        if self.closing:
            raise GRPCError(Status.UNAVAILABLE, "the simulator is stopping")
        self.open += 1
        self.idle.clear()

    def leave(self) -> None:
        """A stream ended."""
        self.open -= 1
        if self.open == 0:
            self.idle.set()


class GatewayService(pb.MxAccessGatewayBase):
    """``mxaccess_gateway.v1.MxAccessGateway`` over a :class:`~.model.GatewayModel`.

    Args:
        model: Sessions and tag values.
        tracker: Open streams of the server.
        event_buffer: Events one ``StreamEvents`` subscriber may fall behind before it is dropped.
        slow_delay: Seconds ``Fault.Slow*`` commands wait.
    """

    def __init__(self, model: GatewayModel, tracker: StreamTracker, *, event_buffer: int, slow_delay: float) -> None:
        self.model, self.tracker = model, tracker
        self.event_buffer, self.slow_delay = event_buffer, slow_delay
        self.encoder = EventEncoder()

    async def open_session(self, message: pb.OpenSessionRequest) -> pb.OpenSessionReply:
        """Open a session (RESOURCE_EXHAUSTED over ``max_sessions``, UNAVAILABLE while stopping)."""
        if self.tracker.closing:
            raise GRPCError(Status.UNAVAILABLE, "the simulator is stopping")
        session = self.model.open_session(message.client_session_name)
        if session is None:
            raise GRPCError(Status.RESOURCE_EXHAUSTED, f"{self.model.max_sessions} sessions are open (limit)")
        session.last_used = time.monotonic()
        LOGGER.info("session %s opened (%r)", session.session_id, message.client_session_name)
        return pb.OpenSessionReply(
            session_id=session.session_id,
            backend_name="otwire-simulator",
            gateway_protocol_version=GATEWAY_PROTOCOL_VERSION,
            worker_protocol_version=1,
            protocol_status=_ok(),
        )

    async def close_session(self, message: pb.CloseSessionRequest) -> pb.CloseSessionReply:
        """Close a session (its streams end in order); SESSION_NOT_FOUND in ``protocol_status`` if unknown."""
        session = self.model.close_session(message.session_id)
        if session is None:
            status = pb.ProtocolStatus(code=pb.ProtocolStatusCode.SESSION_NOT_FOUND, message="unknown session_id")
            return pb.CloseSessionReply(session_id=message.session_id, protocol_status=status)
        LOGGER.info("session %s closed", session.session_id)
        return pb.CloseSessionReply(
            session_id=session.session_id, final_state=pb.SessionState.CLOSED, protocol_status=_ok()
        )

    def _session(self, session_id: str) -> SimSession | None:
        session = self.model.sessions.get(session_id)
        if session is None or session.closed:
            return None
        session.last_used = time.monotonic()
        return session

    async def invoke(self, message: pb.MxCommandRequest) -> pb.MxCommandReply:
        """Run one command (scope by kind; ``Fault.Slow*`` items wait ``slow_delay`` seconds first)."""
        command = message.command or pb.MxCommand()
        require(command_scope(command.kind))
        session = self._session(message.session_id)
        delay = slow_delay_of(session, command, self.slow_delay) if session is not None else 0.0
        if delay:
            await asyncio.sleep(delay)
            session = self._session(message.session_id)
        if session is None:
            return pb.MxCommandReply(
                session_id=message.session_id,
                correlation_id=message.client_correlation_id,
                kind=command.kind,
                protocol_status=pb.ProtocolStatus(
                    code=pb.ProtocolStatusCode.SESSION_NOT_FOUND, message="unknown session_id"
                ),
            )
        return execute(self.model, session, message, utc_now(), self.slow_delay)

    async def stream_events(self, message: pb.StreamEventsRequest) -> AsyncIterator[Any]:
        """Yield the session's events (``MxEvent`` or their :class:`~._wire.Preencoded` bytes)."""
        session = self._session(message.session_id)
        if session is None:
            raise GRPCError(Status.NOT_FOUND, "unknown session_id")
        self.tracker.enter()
        wake = asyncio.Event()
        subscriber, gap = session.subscribe(message.after_worker_sequence, self.event_buffer, wake.set)
        try:
            if gap is not None:
                yield pb.MxEvent(session_id=session.session_id, replay_gap=gap)
            while True:
                for event in subscriber.take():
                    yield self.encoder.encode(event)
                    subscriber.sent(event)
                    if event.worker_sequence == session.kill_after:
                        LOGGER.warning("session %s: event stream killed (Fault.KillStream)", session.session_id)
                        raise GRPCError(Status.UNAVAILABLE, "event stream killed by fault injection (Fault.KillStream)")
                if subscriber.overflowed:
                    text = f"event buffer overflow ({self.event_buffer} events behind): subscriber disconnected"
                    LOGGER.warning("session %s: %s", session.session_id, text)
                    raise GRPCError(Status.RESOURCE_EXHAUSTED, text)
                if subscriber.ended:
                    return
                wake.clear()
                await wake.wait()
        finally:
            session.unsubscribe(subscriber)
            session.last_used = time.monotonic()
            self.tracker.leave()


class _Watcher:
    __slots__ = ("dropped", "ended", "pending", "wake")

    def __init__(self) -> None:
        self.pending: deque[gpb.DeployEvent] = deque()
        self.wake = asyncio.Event()
        self.ended = False
        self.dropped = 0


class GalaxyService(gpb.GalaxyRepositoryBase):
    """``galaxy_repository.v1.GalaxyRepository`` over a :class:`~.galaxy.GalaxyRepository`.

    Args:
        repository: The simulated Galaxy.
        tracker: Open streams of the server.
        watch_buffer: Deploy events one watcher may fall behind; more are dropped (a
            ``sequence`` gap tells the watcher).
    """

    def __init__(self, repository: GalaxyRepository, tracker: StreamTracker, *, watch_buffer: int = 64) -> None:
        self.repository, self.tracker, self.watch_buffer = repository, tracker, watch_buffer
        self.watchers: set[_Watcher] = set()

    async def test_connection(self, message: gpb.TestConnectionRequest) -> gpb.TestConnectionReply:
        """Always ``ok``: the simulated repository has no database to lose."""
        return gpb.TestConnectionReply(ok=True)

    async def get_last_deploy_time(self, message: gpb.GetLastDeployTimeRequest) -> gpb.GetLastDeployTimeReply:
        """The time of the last simulated deploy (UTC)."""
        return gpb.GetLastDeployTimeReply(time_of_last_deploy=self.repository.time_of_last_deploy)

    async def discover_hierarchy(self, message: gpb.DiscoverHierarchyRequest) -> gpb.DiscoverHierarchyReply:
        """One page of objects (NOT_FOUND, INVALID_ARGUMENT: see :meth:`.galaxy.GalaxyRepository.discover`)."""
        try:
            return self.repository.discover(message)
        except GalaxyError as error:
            raise GRPCError(error.status, error.message) from None

    async def browse_children(self, message: gpb.BrowseChildrenRequest) -> gpb.BrowseChildrenReply:
        """One page of children (NOT_FOUND, INVALID_ARGUMENT: see :meth:`.galaxy.GalaxyRepository.browse`)."""
        try:
            return self.repository.browse(message)
        except GalaxyError as error:
            raise GRPCError(error.status, error.message) from None

    def publish(self, event: gpb.DeployEvent) -> None:
        """Queue a deploy event for every watcher (dropped for a watcher whose buffer is full)."""
        for watcher in self.watchers:
            if len(watcher.pending) < self.watch_buffer:
                watcher.pending.append(event)
            else:
                watcher.dropped += 1
            watcher.wake.set()

    def end_watches(self) -> None:
        """End every watch in order (server stopping)."""
        for watcher in self.watchers:
            watcher.ended = True
            watcher.wake.set()

    async def watch_deploy_events(self, message: gpb.WatchDeployEventsRequest) -> AsyncIterator[gpb.DeployEvent]:
        """The current state, then one event per deploy, until the server stops."""
        self.tracker.enter()
        watcher = _Watcher()
        self.watchers.add(watcher)
        try:
            yield self.repository.deploy_event(utc_now(), initial=True)
            while not watcher.ended:
                while watcher.pending:
                    yield watcher.pending.popleft()
                if watcher.ended:
                    break
                watcher.wake.clear()
                await watcher.wake.wait()
        finally:
            self.watchers.discard(watcher)
            self.tracker.leave()
