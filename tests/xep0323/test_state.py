"""Every (state, input) pair of the XEP-0323 transition tables, driven through the engines' verbs.

Requester: each live readout state is reached through real stanzas, then each input is
applied as the stanza (or verb, or timer) that causes it; the outcome must be what
``READOUT_TRANSITIONS`` says: the new state (or the terminal event, the readout
forgotten), or, for a missing pair, a ``StanzaDropped`` (peer input) or
``LocalProtocolError`` (``cancel``) with the readout untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from otwire.codecs.xep0323 import (
    Accepted,
    Cancel,
    Cancelled,
    Done,
    Error,
    Failure,
    Fields,
    Rejected,
    Req,
    StanzaError,
    Started,
)
from otwire.errors import LocalProtocolError
from otwire.protocols.xep0323 import (
    ReadoutAborted,
    ReadoutCancelled,
    ReadoutCompleted,
    ReadoutRejected,
    ReadoutTimedOut,
    Requester,
    RequesterConfig,
    Sensor,
    SensorConfig,
    Stanza,
    StanzaDropped,
)
from otwire.protocols.xep0323._state import (
    ENGINE_TRANSITIONS,
    READOUT_TERMINAL,
    READOUT_TRANSITIONS,
    SENSOR_TRANSITIONS,
    EngineInput,
    EngineState,
    ReadoutInput,
    ReadoutState,
    SensorInput,
    SensorReadoutState,
)

DEVICE = "device@example.org/d"
CLIENT = "client@example.org/amr"
SEQNR = 7
TIMEOUT = 30.0
_S, _I = ReadoutState, ReadoutInput


class Run:
    """A requester with one readout, and the IQ ids it used."""

    def __init__(self) -> None:
        self.requester = Requester(CLIENT, RequesterConfig(first_seqnr=SEQNR, readout_timeout=TIMEOUT))
        self.requester.request(DEVICE, 0.0)
        (req,) = self.requester.messages_to_send()
        self.req_id = req.id or ""
        self.cancel_id = "unused-id"

    def iq(self, type_: str, iq_id: str, payload: object = None, error: StanzaError | None = None) -> None:
        stanza = Stanza(kind="iq", type=type_, id=iq_id, from_jid=DEVICE, to_jid=CLIENT, payload=payload, error=error)  # type: ignore[arg-type]
        self.requester.receive_message(stanza, 1.0)

    def message(self, payload: object) -> None:
        self.requester.receive_message(
            Stanza(kind="message", type="normal", from_jid=DEVICE, to_jid=CLIENT, payload=payload),  # type: ignore[arg-type]
            1.0,
        )

    def cancel(self) -> None:
        self.requester.cancel(DEVICE, SEQNR, 1.0)
        (cancel,) = self.requester.messages_to_send()
        self.cancel_id = cancel.id or ""

    def events(self) -> list[object]:
        out = []
        while (event := self.requester.next_event()) is not None:
            out.append(event)
        return out

    @property
    def state(self) -> ReadoutState | None:
        return self.requester.readout_state(DEVICE, SEQNR)


REACH: dict[ReadoutState, Callable[[Run], None]] = {
    _S.REQUESTED: lambda run: None,
    _S.ACCEPTED: lambda run: run.iq("result", run.req_id, Accepted(seqnr=SEQNR)),
    _S.QUEUED: lambda run: run.iq("result", run.req_id, Accepted(seqnr=SEQNR, queued=True)),
    _S.STARTED: lambda run: (
        run.iq("result", run.req_id, Accepted(seqnr=SEQNR, queued=True)),
        run.message(Started(seqnr=SEQNR)),
    ),
    _S.RECEIVING: lambda run: run.message(Fields(seqnr=SEQNR)),
    _S.CANCELLING: lambda run: run.cancel(),
}
ERROR = StanzaError(type="cancel", condition="item-not-found", text="no")
FAILURE = Failure(seqnr=SEQNR, errors=(Error(node_id="n", timestamp="t", message="m"),))
APPLY: dict[ReadoutInput, Callable[[Run], None]] = {
    _I.RECV_ACCEPTED: lambda run: run.iq("result", run.req_id, Accepted(seqnr=SEQNR)),
    _I.RECV_QUEUED: lambda run: run.iq("result", run.req_id, Accepted(seqnr=SEQNR, queued=True)),
    _I.RECV_EMPTY_RESULT: lambda run: run.iq("result", run.req_id),
    _I.RECV_REJECTED: lambda run: run.iq("error", run.req_id, Rejected(seqnr=SEQNR, errors=("x",)), ERROR),
    _I.RECV_STARTED: lambda run: run.message(Started(seqnr=SEQNR)),
    _I.RECV_FIELDS: lambda run: run.message(Fields(seqnr=SEQNR)),
    _I.RECV_FIELDS_DONE: lambda run: run.message(Fields(seqnr=SEQNR, done=True)),
    _I.RECV_FAILURE: lambda run: run.message(FAILURE),
    _I.RECV_FAILURE_DONE: lambda run: run.message(Failure(seqnr=SEQNR, errors=FAILURE.errors, done=True)),
    _I.RECV_DONE: lambda run: run.message(Done(seqnr=SEQNR)),
    _I.RECV_CANCELLED: lambda run: run.iq("result", run.cancel_id, Cancelled(seqnr=SEQNR)),
    _I.RECV_CANCEL_ERROR: lambda run: run.iq("error", run.cancel_id, None, ERROR),
    _I.CANCEL: lambda run: run.cancel(),
    _I.TIMEOUT: lambda run: run.requester.handle_timer(TIMEOUT + 1),
    _I.ABORT: lambda run: run.requester.peer_unavailable(DEVICE, 1.0),
}
TERMINAL_EVENT = {
    _S.COMPLETED: ReadoutCompleted,
    _S.FAILED: ReadoutCompleted,
    _S.REJECTED: ReadoutRejected,
    _S.CANCELLED: ReadoutCancelled,
    _S.TIMED_OUT: ReadoutTimedOut,
    _S.ABORTED: ReadoutAborted,
}
LIVE = [s for s in ReadoutState if s not in READOUT_TERMINAL]


def test_terminal_states_have_no_rows_and_every_live_state_can_time_out() -> None:
    assert {state for state, _ in READOUT_TRANSITIONS} == set(LIVE)
    assert all((state, _I.TIMEOUT) in READOUT_TRANSITIONS for state in LIVE)
    assert set(REACH) == set(LIVE) and set(APPLY) == set(ReadoutInput)


@pytest.mark.parametrize("state", LIVE, ids=lambda s: s.name)
@pytest.mark.parametrize("event", list(ReadoutInput), ids=lambda i: i.name)
def test_every_readout_pair(state: ReadoutState, event: ReadoutInput) -> None:
    run = Run()
    REACH[state](run)
    assert run.state is state
    run.events()
    expected = READOUT_TRANSITIONS.get((state, event))
    if expected is None and event is _I.CANCEL:
        with pytest.raises(LocalProtocolError):
            APPLY[event](run)
        assert run.state is state
        return
    APPLY[event](run)
    events = run.events()
    if expected is None:
        assert [type(e) for e in events] == [StanzaDropped]
        assert run.state is state
    elif expected in READOUT_TERMINAL:
        assert run.state is None
        assert type(events[-1]) is TERMINAL_EVENT[expected]
        if isinstance(events[-1], ReadoutCompleted):
            assert events[-1].failed is (expected is _S.FAILED)
    else:
        assert run.state is expected
        assert not any(isinstance(e, StanzaDropped) for e in events)


def test_engine_table() -> None:
    assert ENGINE_TRANSITIONS[(EngineState.OPEN, EngineInput.CLOSE)] is EngineState.CLOSED
    assert not [pair for pair in ENGINE_TRANSITIONS if pair[0] is EngineState.CLOSED]
    requester = Requester()
    requester.close(0.0)
    for verb in (lambda: requester.request(DEVICE, 0.0), lambda: requester.cancel(DEVICE, 1, 0.0),
                 lambda: requester.receive_message(Stanza(kind="message", type="normal"), 0.0)):  # fmt: skip
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            verb()
    requester.close(1.0)  # does nothing
    requester.handle_timer(1.0)


# --- the sensor table ----------------------------------------------------------------------------

_Q, _R = SensorReadoutState.QUEUED, SensorReadoutState.RUNNING
WALL = 1_700_000_000.0


def _sensor(when: bool) -> tuple[Sensor, int]:
    sensor = Sensor("device@example.org/d", SensorConfig(comm_timeout=5.0), wall_offset=WALL)
    sensor.register_node("A")
    sensor.register_node("B", comm_timeout=10.0)
    start = dt.datetime.fromtimestamp(WALL + 100, dt.UTC) if when else None
    req = Req(seqnr=1, when=start)
    sensor.receive_message(Stanza(kind="iq", type="get", id="q1", from_jid=CLIENT, payload=req), 0.0)
    sensor.messages_to_send()
    while sensor.next_event() is not None:
        pass
    return sensor, 1


SENSOR_APPLY: dict[SensorInput, Callable[[Sensor], object]] = {
    # the `when` timer exists only for a queued readout; a running one sees no start at its time
    SensorInput.START: lambda s: s.handle_timer(100.0 if s.readout_state(CLIENT, 1) is _Q else 1.0),
    SensorInput.FIELDS: lambda s: s.fields_ready(CLIENT, 1, "A", [], 1.0, done=False),
    SensorInput.NODE_FAILED: lambda s: s.node_failed(CLIENT, 1, "A", "broken", 1.0),
    SensorInput.COMM_TIMEOUT: lambda s: s.handle_timer(6.0),
    SensorInput.FINISH: lambda s: (s.fields_ready(CLIENT, 1, "A", [], 1.0), s.fields_ready(CLIENT, 1, "B", [], 1.0)),
    SensorInput.CANCEL: lambda s: s.receive_message(
        Stanza(kind="iq", type="get", id="c1", from_jid=CLIENT, payload=Cancel(seqnr=1)), 2.0
    ),
    SensorInput.ABORT: lambda s: s.stream_closed(2.0),
}


@pytest.mark.parametrize("state", [_Q, _R], ids=lambda s: s.name)
@pytest.mark.parametrize("event", list(SensorInput), ids=lambda i: i.name)
def test_every_sensor_pair(state: SensorReadoutState, event: SensorInput) -> None:
    sensor, seqnr = _sensor(when=state is _Q)
    assert sensor.readout_state(CLIENT, seqnr) is state
    result = SENSOR_APPLY[event](sensor)
    expected = SENSOR_TRANSITIONS.get((state, event))
    now = sensor.readout_state(CLIENT, seqnr)
    if expected is None:
        # not reachable from this state: the verb is refused (False) or the timer does nothing yet
        assert now is state
        assert result in (False, None, (False, False))
        assert sensor.messages_to_send() == []
    elif expected in (SensorReadoutState.DONE, SensorReadoutState.CANCELLED, SensorReadoutState.ABORTED):
        assert now is None
    else:
        assert now is expected
