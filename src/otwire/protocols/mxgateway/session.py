"""One gateway session as a plain object driven by messages (``specs/mxgateway/notes.md`` §client "Session logic").

:class:`GatewaySession` builds the requests a client sends (``OpenSession``, ``Invoke``,
``StreamEvents``, ``CloseSession``) and takes what came back; each input returns the
past-tense events (``events.py``) it caused. It remembers and checks what MXAccess needs a
client to remember: server and item handles with their advise state (``handles.py``), the
commands in flight by ``client_correlation_id``, the outcome of each reply (``failures.py``),
the writes waiting for ``OnWriteComplete`` and the event sequence (``sequence.py``). gRPC (the
carrier) owns framing and matches each unary reply to its call, so there is no byte buffer,
no timer and no output queue here: see notes §client "Why plain objects".
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from dataclasses import dataclass

import betterproto2

from otwire.codecs.mxgateway import pb
from otwire.errors import InvalidArgument, LocalProtocolError, RemoteProtocolError
from otwire.protocols._base import Event

from . import events as ev
from ._apply import APPLY, ARM_BY_KIND
from ._state import LOCAL_INPUTS, TRANSITIONS, Input, State
from .failures import event_failed, judge_reply
from .handles import HandleTable
from .sequence import EventSequence

__all__ = ["GatewaySession", "PendingCommand"]

K = pb.MxCommandKind
#: Commands whose payload names an existing item (checked before sending).
_NEEDS_ITEM = {K.REMOVE_ITEM, K.ADVISE, K.UN_ADVISE, K.ADVISE_SUPERVISORY, K.SUSPEND, K.ACTIVATE} | {
    K.WRITE,
    K.WRITE2,
    K.WRITE_SECURED,
    K.WRITE_SECURED2,
}
#: Commands that need no server handle.
_SESSION_WIDE = {K.REGISTER, K.DRAIN_EVENTS, K.UNSPECIFIED}


@dataclass(frozen=True, slots=True)
class PendingCommand:
    """A command sent and not answered yet."""

    correlation_id: str
    kind: pb.MxCommandKind
    command: pb.MxCommand


class GatewaySession:
    """The client-side state of one MXAccess gateway session.

    Args:
        client_session_name: Sent in ``OpenSessionRequest``.
        check_handles: Refuse commands naming a server or item handle this session does not
            hold (``InvalidState``) before anything is sent. Off for sessions attached by id,
            whose handles were made elsewhere.
        correlation_prefix: Prefix of generated ``client_correlation_id``\\ s
            (``"<prefix>-<n>"``); random 8 hex digits by default.
        after_worker_sequence: Resume point of the first event stream (``None``: from now).
    """

    def __init__(
        self,
        *,
        client_session_name: str = "",
        check_handles: bool = True,
        correlation_prefix: str | None = None,
        after_worker_sequence: int | None = None,
    ) -> None:
        self.client_session_name = client_session_name
        self.check_handles = check_handles
        self.session_id = ""
        self.handles = HandleTable()
        self.sequence = EventSequence(after_worker_sequence)
        self._state = State.NEW
        self._prefix = correlation_prefix if correlation_prefix is not None else secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._pending: dict[str, PendingCommand] = {}

    # -- observable state ------------------------------------------------------------

    @property
    def state(self) -> State:
        """The lifecycle state (``_state.State``)."""
        return self._state

    @property
    def is_closed(self) -> bool:
        """True once closed, refused or lost."""
        return self._state is State.CLOSED

    @property
    def pending(self) -> dict[str, PendingCommand]:
        """Commands in flight by ``client_correlation_id`` (a copy)."""
        return dict(self._pending)

    def is_advised(self, server_handle: int, item_handle: int) -> bool:
        """True when the item exists and is advised."""
        record = self.handles.item(server_handle, item_handle)
        return record is not None and record.advised

    # -- open and close ---------------------------------------------------------------

    def open_request(self, client_correlation_id: str | None = None) -> pb.OpenSessionRequest:
        """The ``OpenSessionRequest`` to send (moves to OPENING).

        Raises:
            LocalProtocolError: not a new session.
        """
        self._move(Input.OPEN_SENT)
        correlation_id = client_correlation_id or self.next_correlation_id()
        return pb.OpenSessionRequest(client_session_name=self.client_session_name, client_correlation_id=correlation_id)

    def open_reply_received(self, reply: pb.OpenSessionReply) -> list[Event]:
        """Take the ``OpenSessionReply``: READY with its ``session_id``, or CLOSED when refused.

        Raises:
            RemoteProtocolError: no ``OpenSession`` is outstanding.
        """
        code = reply.protocol_status.code if reply.protocol_status is not None else pb.ProtocolStatusCode.UNSPECIFIED
        if not reply.session_id or code not in (pb.ProtocolStatusCode.OK, pb.ProtocolStatusCode.UNSPECIFIED):
            self._move(Input.OPEN_REFUSED)
            message = reply.protocol_status.message if reply.protocol_status is not None else ""
            reason = f"OpenSession refused: {pb.ProtocolStatusCode(code).name or int(code)} {message}".strip()
            return [ev.SessionOpenRefused(reply=reply, reason=reason)]
        self._move(Input.OPENED)
        self.session_id = reply.session_id
        return [
            ev.SessionOpened(
                session_id=reply.session_id,
                backend_name=reply.backend_name,
                gateway_protocol_version=reply.gateway_protocol_version,
                worker_protocol_version=reply.worker_protocol_version,
            )
        ]

    def attach(self, session_id: str) -> list[Event]:
        """Use a session opened elsewhere (e.g. by an earlier CLI run): READY at once.

        Raises:
            InvalidArgument: empty ``session_id``.
            LocalProtocolError: not a new session.
        """
        if not session_id:
            raise InvalidArgument("session_id must not be empty")
        self._move(Input.ATTACH)
        self.session_id = session_id
        return [ev.SessionOpened(session_id=session_id)]

    def close_request(self) -> pb.CloseSessionRequest | None:
        """The ``CloseSessionRequest`` to send, or ``None`` when there is nothing to close.

        Idempotent: a second call while CLOSING returns ``None`` too.
        """
        before = self._state
        self._move(Input.CLOSE)
        if before is State.READY:
            return pb.CloseSessionRequest(session_id=self.session_id)
        return None

    def close_reply_received(self, reply: pb.CloseSessionReply) -> list[Event]:
        """Take the ``CloseSessionReply``: CLOSED, pending commands dropped.

        Raises:
            RemoteProtocolError: no close is outstanding.
        """
        self._move(Input.CLOSED_REPLY)
        self._pending.clear()
        return [ev.SessionClosed(session_id=self.session_id, final_state=reply.final_state)]

    def lost(self, reason: str) -> list[Event]:
        """Report that the session is gone (carrier failed for good, session unknown to the gateway)."""
        if self._state is State.CLOSED:
            return []
        self._move(Input.LOST)
        self._pending.clear()
        return [ev.SessionLost(reason=reason)]

    # -- commands ---------------------------------------------------------------------

    def next_correlation_id(self) -> str:
        """A fresh ``client_correlation_id`` (``"<prefix>-<n>"``)."""
        return f"{self._prefix}-{next(self._counter)}"

    def command_request(self, command: pb.MxCommand, *, timeout: float | None = None) -> pb.MxCommandRequest:
        """Check ``command`` against the handles, record it as pending and return its request.

        Args:
            command: The command; its ``kind`` must be set.
            timeout: Sent as the request's ``timeout`` (seconds), when given.

        Raises:
            InvalidArgument: ``kind`` unset or not matching the payload arm.
            InvalidState: (with ``check_handles``) a handle this session does not hold.
            LocalProtocolError: the session is not READY.
        """
        self._check(Input.INVOKE)
        self._validate(command)
        correlation_id = self.next_correlation_id()
        self._pending[correlation_id] = PendingCommand(correlation_id, command.kind, command)
        request = pb.MxCommandRequest(session_id=self.session_id, client_correlation_id=correlation_id, command=command)
        if timeout is not None:
            request.timeout = dt.timedelta(seconds=timeout)
        return request

    def abandon(self, correlation_id: str) -> None:
        """Forget a pending command that will get no reply (timeout, cancellation, transport error)."""
        self._pending.pop(correlation_id, None)

    def reply_received(self, correlation_id: str, reply: pb.MxCommandReply) -> list[Event]:
        """Take the reply to the pending command ``correlation_id``; apply it to the handles.

        Returns ``CommandCompleted`` or ``CommandFailed`` first, then what the reply changed
        (``ServerRegistered``, ``ItemAdded``, ``WriteAccepted``...; per successful entry for
        bulk commands). A ``SESSION_NOT_FOUND`` status also ends the session (``SessionLost``).

        Raises:
            LocalProtocolError: ``correlation_id`` is not pending.
            RemoteProtocolError: the reply names another correlation id, session or kind.
        """
        pending = self._pending.get(correlation_id)
        if pending is None:
            raise LocalProtocolError(f"no command pending under correlation id {correlation_id!r}")
        self._move(Input.REPLY)
        del self._pending[correlation_id]
        self._match(pending, reply)
        verdict = judge_reply(reply, pending.kind)
        if verdict.failed:
            out: list[Event] = [
                ev.CommandFailed(
                    correlation_id=correlation_id,
                    kind=pending.kind,
                    reply=reply,
                    outcome=verdict.outcome,
                    reason=verdict.reason,
                )
            ]
            if _session_gone(reply):
                out += self.lost(verdict.reason)
            return out
        out = [ev.CommandCompleted(correlation_id=correlation_id, kind=pending.kind, reply=reply)]
        return out + self._apply(pending, reply)

    # -- events -----------------------------------------------------------------------

    def stream_request(self, *, after_worker_sequence: int | None = None) -> pb.StreamEventsRequest:
        """The ``StreamEventsRequest``: resumes after ``after_worker_sequence`` or the last sequence seen.

        Raises:
            LocalProtocolError: the session is not READY.
        """
        self._check(Input.EVENT)
        after = after_worker_sequence if after_worker_sequence is not None else self.sequence.resume_after
        if after_worker_sequence is not None:
            self.sequence = EventSequence(after_worker_sequence)
        return pb.StreamEventsRequest(session_id=self.session_id, after_worker_sequence=after)

    def event_received(self, event: pb.MxEvent) -> list[Event]:
        """Take one ``MxEvent`` of the stream.

        Returns the sequence events first (``EventsLost``, ``SequenceRegressed``,
        ``ReplayGapReported`` for the sentinel, which gives nothing else), then
        ``WriteCompleted`` for ``OnWriteComplete``, then ``EventReceived``.

        Raises:
            RemoteProtocolError: an event while the session is not READY or CLOSING.
        """
        self._move(Input.EVENT)
        out = self.sequence.observe(event)
        if EventSequence.is_sentinel(event):
            return out
        record = self.handles.item(event.server_handle, event.item_handle)
        failed = event_failed(event)
        if event.family == pb.MxEventFamily.ON_WRITE_COMPLETE or event.on_write_complete is not None:
            expected = record is not None and record.pending_writes > 0
            if record is not None and expected:
                record.pending_writes -= 1
            out.append(
                ev.WriteCompleted(
                    server_handle=event.server_handle,
                    item_handle=event.item_handle,
                    statuses=tuple(event.statuses),
                    failed=failed,
                    expected=expected,
                )
            )
        out.append(ev.EventReceived(event=event, failed=failed, known_item=record is not None))
        return out

    # -- internals --------------------------------------------------------------------

    def _check(self, what: Input) -> None:
        if (self._state, what) not in TRANSITIONS:
            raise LocalProtocolError(f"{what.value} not allowed in state {self._state.name}")

    def _move(self, what: Input) -> None:
        new = TRANSITIONS.get((self._state, what))
        if new is None:
            error = LocalProtocolError if what in LOCAL_INPUTS else RemoteProtocolError
            raise error(f"{what.value} not allowed in state {self._state.name}")
        self._state = new

    def _validate(self, command: pb.MxCommand) -> None:
        arm, payload = betterproto2.which_one_of(command, "payload")
        if command.kind == K.UNSPECIFIED:
            raise InvalidArgument("the command kind must be set")
        if arm and arm != ARM_BY_KIND.get(command.kind, arm):
            raise InvalidArgument(f"command kind {command.kind.name} does not match its payload {arm}")
        if not self.check_handles or payload is None or command.kind in _SESSION_WIDE:
            return
        server_handle = getattr(payload, "server_handle", None)
        if server_handle is None:
            return
        if command.kind in _NEEDS_ITEM:
            self.handles.check_item(server_handle, payload.item_handle)
        else:
            self.handles.check_server(server_handle)

    def _match(self, pending: PendingCommand, reply: pb.MxCommandReply) -> None:
        if reply.correlation_id and reply.correlation_id != pending.correlation_id:
            raise RemoteProtocolError(
                f"reply correlation id {reply.correlation_id!r} does not match {pending.correlation_id!r}"
            )
        if reply.session_id and reply.session_id != self.session_id:
            raise RemoteProtocolError(f"reply session id {reply.session_id!r} is not {self.session_id!r}")
        if reply.kind not in (K.UNSPECIFIED, pending.kind):
            raise RemoteProtocolError(f"reply kind {reply.kind!r} answers a {pending.kind.name} command")

    def _apply(self, pending: PendingCommand, reply: pb.MxCommandReply) -> list[Event]:
        handler = APPLY.get(pending.kind)
        _, payload = betterproto2.which_one_of(pending.command, "payload")
        if handler is None or payload is None:
            return []
        return handler(self.handles, payload, reply)


def _session_gone(reply: pb.MxCommandReply) -> bool:
    status = reply.protocol_status
    return status is not None and status.code == pb.ProtocolStatusCode.SESSION_NOT_FOUND
