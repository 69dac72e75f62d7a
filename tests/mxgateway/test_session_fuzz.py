"""``GatewaySession`` fed arbitrary well-typed commands, replies and events (hypothesis).

Whatever a gateway answers, only ``RemoteProtocolError`` may escape a received input, and only
``LocalProtocolError`` (with its ``InvalidArgument``/``InvalidState`` kinds) a local one; the
session's bookkeeping stays bounded and consistent.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from otwire.codecs.mxgateway import pb
from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols.mxgateway import EventsLost, GatewaySession, ReplayGapReported

from .test_values_wire import messages

K = pb.MxCommandKind
OK = pb.ProtocolStatus(code=pb.ProtocolStatusCode.OK)

actions = st.lists(
    st.one_of(
        st.tuples(st.just("command"), messages(pb.MxCommand)),
        st.tuples(st.just("reply"), messages(pb.MxCommandReply)),
        st.tuples(st.just("event"), messages(pb.MxEvent)),
        st.tuples(st.just("sequenced"), st.integers(0, 40)),
    ),
    max_size=25,
)


def _session(check_handles: bool) -> GatewaySession:
    session = GatewaySession(check_handles=check_handles, correlation_prefix="f")
    session.open_request()
    session.open_reply_received(pb.OpenSessionReply(session_id="s", protocol_status=OK))
    request = session.command_request(pb.MxCommand(kind=K.REGISTER, register=pb.RegisterCommand(client_name="f")))
    reply = pb.MxCommandReply(register=pb.RegisterReply(server_handle=1))
    session.reply_received(request.client_correlation_id, reply)
    return session


def _step(session: GatewaySession, action: str, payload: Any, sent: list[str]) -> None:
    if action == "command":
        with contextlib.suppress(LocalProtocolError):
            sent.append(session.command_request(payload).client_correlation_id)
    elif action == "reply" and sent:
        payload.correlation_id = ""
        if payload.hresult % 2 == 0:  # half of the replies pass the matching checks and get applied
            payload.kind, payload.session_id = K.UNSPECIFIED, ""
        with contextlib.suppress(RemoteProtocolError):
            session.reply_received(sent.pop(0), payload)
    elif action in ("event", "sequenced"):
        event = payload if action == "event" else pb.MxEvent(worker_sequence=payload)
        before = session.sequence.resume_after
        try:
            out = session.event_received(event)
        except RemoteProtocolError:
            assert session.is_closed
            return
        after = session.sequence.resume_after
        if not any(isinstance(e, ReplayGapReported) for e in out):
            assert before is None or (after is not None and after >= before)
        for lost in out:
            if isinstance(lost, EventsLost):
                assert lost.count > 0


@settings(max_examples=80)
@given(actions=actions, check_handles=st.booleans())
def test_arbitrary_traffic_only_raises_protocol_errors(actions: list[tuple[str, Any]], check_handles: bool) -> None:
    session = _session(check_handles)
    sent: list[str] = []
    for action, payload in actions:
        _step(session, action, payload, sent)
    assert set(session.pending) <= set(sent) or session.is_closed
    for server in session.handles.servers.values():
        for item in server.items.values():
            assert item.pending_writes >= 0
