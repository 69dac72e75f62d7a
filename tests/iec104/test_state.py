"""Every (role, state, input) pair of the transition table, and two engines over a lossy, slow link.

The table test drives a real engine into each reachable state and applies each input,
then checks the result against ``TRANSITIONS``: allowed inputs lead to the listed
state; refused local inputs raise ``LocalProtocolError`` and change nothing; refused
received frames raise ``RemoteProtocolError`` and close the connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pytest
from engine_pair import single
from hypothesis import given
from hypothesis import strategies as st

from helpers import drain
from otwire.codecs.iec104 import IFrame, SFrame, UFrame, UFunction, encode_apdu
from otwire.errors import DecodeError, LocalProtocolError, RemoteProtocolError
from otwire.protocols.iec104 import (
    ASDUReceived,
    ConnectionTerminated,
    IEC104Config,
    IEC104Connection,
    Input,
    Role,
    State,
    TerminationReason,
)
from otwire.protocols.iec104._state import END_INPUTS, LOCAL_INPUTS, TRANSITIONS

U = {f: bytes((0x68, 4, int(f), 0, 0, 0)) for f in UFunction}


def _fresh(role: Role) -> IEC104Connection:
    return IEC104Connection(role, now=0.0)


def _started(role: Role) -> IEC104Connection:
    conn = _fresh(role)
    if role is Role.CONTROLLING:
        conn.start_data_transfer(0.0)
        conn.receive_data(U[UFunction.STARTDT_CON], 0.0)
    else:
        conn.receive_data(U[UFunction.STARTDT_ACT], 0.0)
    return conn


def _starting(role: Role) -> IEC104Connection:
    conn = _fresh(role)
    conn.start_data_transfer(0.0)
    return conn


def _stopping(role: Role) -> IEC104Connection:
    conn = _started(role)
    if role is Role.CONTROLLING:
        conn.stop_data_transfer(0.0)
    else:
        conn.send(single(1), 0.0)
        conn.receive_data(U[UFunction.STOPDT_ACT], 0.0)
    return conn


def _closed(role: Role) -> IEC104Connection:
    conn = _fresh(role)
    conn.close(0.0)
    return conn


REACH: dict[tuple[Role, State], Callable[[Role], IEC104Connection]] = {
    (Role.CONTROLLING, State.STOPPED): _fresh,
    (Role.CONTROLLING, State.STARTING): _starting,
    (Role.CONTROLLING, State.STARTED): _started,
    (Role.CONTROLLING, State.STOPPING): _stopping,
    (Role.CONTROLLING, State.CLOSED): _closed,
    (Role.CONTROLLED, State.STOPPED): _fresh,
    (Role.CONTROLLED, State.STARTED): _started,
    (Role.CONTROLLED, State.STOPPING): _stopping,
    (Role.CONTROLLED, State.CLOSED): _closed,
}


def _recv(function: UFunction) -> Callable[[IEC104Connection], None]:
    return lambda conn: conn.receive_data(U[function], 1.0)


def _recv_testfr_con(conn: IEC104Connection) -> None:
    if not conn.is_closed:
        conn.send(UFrame(UFunction.TESTFR_ACT), 1.0)  # a con is only valid after our act
    conn.receive_data(U[UFunction.TESTFR_CON], 1.0)


def _t1_expires(conn: IEC104Connection) -> None:
    if not conn.is_closed:
        conn.send(UFrame(UFunction.TESTFR_ACT), 1.0)  # something for t1 to wait on, in any open state
    conn.handle_timer(1.0 + conn.config.t1)


def _malformed(conn: IEC104Connection) -> None:
    if conn.is_closed:
        conn.receive_data(b"\x00", 1.0)  # refused locally once closed
    with pytest.raises(DecodeError):
        conn.receive_data(b"\x00", 1.0)  # a bad start octet: the table's PROTOCOL_ERROR row


DRIVERS: dict[Input, Callable[[IEC104Connection], None]] = {
    Input.SEND_STARTDT_ACT: lambda conn: conn.send(UFrame(UFunction.STARTDT_ACT), 1.0),
    Input.SEND_STOPDT_ACT: lambda conn: conn.send(UFrame(UFunction.STOPDT_ACT), 1.0),
    Input.SEND_TESTFR_ACT: lambda conn: conn.send(UFrame(UFunction.TESTFR_ACT), 1.0),
    Input.SEND_I: lambda conn: conn.send(single(1), 1.0),
    Input.RECV_STARTDT_ACT: _recv(UFunction.STARTDT_ACT),
    Input.RECV_STARTDT_CON: _recv(UFunction.STARTDT_CON),
    Input.RECV_STOPDT_ACT: _recv(UFunction.STOPDT_ACT),
    Input.RECV_STOPDT_CON: _recv(UFunction.STOPDT_CON),
    Input.RECV_TESTFR_ACT: _recv(UFunction.TESTFR_ACT),
    Input.RECV_TESTFR_CON: _recv_testfr_con,
    Input.RECV_I: lambda conn: conn.receive_data(encode_apdu(IFrame(conn.vr, conn.ack, single(2))), 1.0),
    Input.RECV_S: lambda conn: conn.receive_data(encode_apdu(SFrame(conn.ack)), 1.0),
    Input.CLOSE: lambda conn: conn.close(1.0),
    Input.EOF: lambda conn: conn.receive_data(b"", 1.0),
    Input.CONNECTION_LOST: lambda conn: conn.connection_lost(1.0, ConnectionResetError("reset")),
    Input.T1_EXPIRED: _t1_expires,
    Input.PROTOCOL_ERROR: _malformed,
}
#: Inputs that do nothing once closed (the transport may report a loss after a close).
IDEMPOTENT = {Input.CLOSE, Input.CONNECTION_LOST}
#: Raised by the engine itself when the peer acknowledged everything (controlled STOPPING, below).
INTERNAL = {Input.ALL_ACKNOWLEDGED}


def test_every_input_has_a_driver_and_every_state_is_reached() -> None:
    assert set(DRIVERS) | INTERNAL == set(Input)
    assert {state for (_, state) in REACH} == set(State)
    for role, table in TRANSITIONS.items():
        assert {(r, s) for (s, _) in table for r in [role]} <= set(REACH)


@pytest.mark.parametrize(("role", "state"), list(REACH))
@pytest.mark.parametrize("event", list(DRIVERS))
def test_transition_table(role: Role, state: State, event: Input) -> None:
    conn = REACH[role, state](role)
    assert conn.state is state
    expected = TRANSITIONS[role].get((state, event))
    if state is State.CLOSED:
        if event in IDEMPOTENT:
            drain(conn)
            DRIVERS[event](conn)  # closing twice is allowed and changes nothing
            assert conn.state is State.CLOSED
            assert drain(conn) == []
            return
        with pytest.raises(LocalProtocolError, match="in state CLOSED"):
            DRIVERS[event](conn)
        return
    if expected is None:
        if event in LOCAL_INPUTS:
            with pytest.raises(LocalProtocolError):
                DRIVERS[event](conn)
            assert conn.state is state
        else:
            with pytest.raises(RemoteProtocolError):
                DRIVERS[event](conn)
            assert conn.state is State.CLOSED
            assert drain(conn)[-1].reason is TerminationReason.PROTOCOL_ERROR  # type: ignore[attr-defined]
        return
    DRIVERS[event](conn)
    if expected is State.CLOSED:
        reason = {v: k for k, v in END_INPUTS.items()}[event]
        assert drain(conn)[-1].reason is reason  # type: ignore[attr-defined]
    if expected is State.STOPPING and role is Role.CONTROLLED and conn.unacknowledged == 0:
        expected = TRANSITIONS[role][State.STOPPING, Input.ALL_ACKNOWLEDGED]
    assert conn.state is expected


# -- two engines over a slow, lossy TCP link ----------------------------------------------

OPS = st.one_of(
    st.tuples(st.just("send"), st.sampled_from(["client", "server"]), st.integers(1, 20)),
    st.tuples(st.just("deliver"), st.sampled_from(["client", "server"]), st.integers(1, 400)),
    st.tuples(st.just("wait"), st.just(""), st.integers(1, 40)),  # tenths of a second
    st.tuples(st.just("lose"), st.sampled_from(["client", "server"]), st.just(0)),
)


class _Link:
    """Two engines over a slow TCP link: octets wait on the wire until delivered; a lost end sends nothing."""

    PEER: ClassVar[dict[str, str]] = {"client": "server", "server": "client"}

    def __init__(self, config: IEC104Config) -> None:
        self.now = 0.0
        self.config = config
        self.ends = {
            "client": IEC104Connection(Role.CONTROLLING, config, now=0.0),
            "server": IEC104Connection(Role.CONTROLLED, config, now=0.0),
        }
        self.wire = {"client": bytearray(), "server": bytearray()}  # octets in flight from each end
        self.lost = {"client": False, "server": False}
        self.sent: dict[str, list[int]] = {"client": [], "server": []}
        self.received: dict[str, list[int]] = {"client": [], "server": []}

    def collect(self, name: str) -> None:
        conn = self.ends[name]
        self.wire[name] += conn.data_to_send()
        if self.lost[name]:
            self.wire[name].clear()  # TCP gave up: nothing from this end arrives any more
        for event in drain(conn):
            if isinstance(event, ASDUReceived):
                self.received[name].append(event.asdu.objects[0].ioa)
            elif isinstance(event, ConnectionTerminated):
                assert event.reason is TerminationReason.T1_TIMEOUT, event

    def deliver(self, name: str, count: int) -> None:
        target = self.ends[self.PEER[name]]
        chunk, self.wire[name][:] = bytes(self.wire[name][:count]), self.wire[name][count:]
        if chunk and not target.is_closed:
            target.receive_data(chunk, self.now)  # in-order TCP octets never break the protocol
        self.collect(self.PEER[name])

    def send(self, name: str, count: int) -> None:
        if self.ends[name].state is State.STARTED:
            for _ in range(count):
                ioa = len(self.sent[name])
                self.ends[name].send(single(ioa), self.now)
                self.sent[name].append(ioa)

    def wait(self, seconds: float) -> None:
        self.now += seconds
        for name, conn in self.ends.items():
            if (deadline := conn.get_timer()) is not None and deadline <= self.now:
                conn.handle_timer(self.now)
            self.collect(name)

    def check(self) -> None:
        for side, conn in self.ends.items():
            self.collect(side)
            assert conn.unacknowledged <= self.config.k
            assert self.received[side] == self.sent[self.PEER[side]][: len(self.received[side])]  # in order, once

    def heal(self) -> None:
        """Deliver until quiet, letting t2 acknowledge the rest (bounded)."""
        for _ in range(200):
            if any(conn.is_closed for conn in self.ends.values()):
                return
            if self.wire["client"] or self.wire["server"]:
                for side in self.ends:
                    self.deliver(side, len(self.wire[side]))
            elif any(conn.queued or conn.unacknowledged for conn in self.ends.values()):
                self.wait(self.config.t2)
            else:
                return


@given(st.lists(OPS, max_size=60))
def test_pair_over_slow_lossy_link(ops: list[tuple[str, str, int]]) -> None:
    link = _Link(IEC104Config(k=4, w=2, t1=3.0, t2=1.0, t3=2.0))
    link.ends["client"].start_data_transfer(link.now)
    for op, name, n in ops:
        if op == "send":
            link.send(name, n)
        elif op == "deliver":
            link.deliver(name, n)
        elif op == "wait":
            link.wait(n / 10)
        elif op == "lose":
            link.lost[name] = True
        link.check()
    link.heal()
    if not any(link.lost.values()) and not any(conn.is_closed for conn in link.ends.values()):
        for side, conn in link.ends.items():
            peer = link.PEER[side]
            assert link.received[side] == link.sent[peer][: len(link.received[side])]
            assert conn.queued + conn.unacknowledged == len(link.sent[side]) - len(link.received[peer])
