"""The IEC 104 engine with a fake clock: handshakes, numbering, k/w, timers, activations, errors."""

from __future__ import annotations

import pytest
from engine_pair import interrogation, single, started_pair

from helpers import drain
from otwire import protocols
from otwire.codecs.iec104 import (
    ASDU,
    SCO,
    Cot,
    IFrame,
    InformationObject,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
    decode_apdu,
    encode_apdu,
)
from otwire.errors import DecodeError, InvalidArgumentType, LocalProtocolError, RemoteProtocolError
from otwire.protocols import Connection
from otwire.protocols._base import EngineBase
from otwire.protocols.iec104 import (
    ActivationConfirmed,
    ActivationRefused,
    ActivationTerminated,
    ASDUReceived,
    ConnectionTerminated,
    DataTransferStarted,
    DataTransferStopped,
    FrameReceived,
    FrameSent,
    IEC104Config,
    IEC104Connection,
    Role,
    SequenceError,
    State,
    TerminationReason,
    TestFrameConfirmed,
    TestFrameReceived,
)

STARTDT_ACT = bytes.fromhex("680407000000")
STARTDT_CON = bytes.fromhex("68040b000000")
STOPDT_ACT = bytes.fromhex("680413000000")
STOPDT_CON = bytes.fromhex("680423000000")
TESTFR_ACT = bytes.fromhex("680443000000")
TESTFR_CON = bytes.fromhex("680483000000")


def i_frame(ns: int, nr: int, asdu: ASDU | None = None) -> bytes:
    return encode_apdu(IFrame(ns, nr, asdu or single(1)))


def s_frame(nr: int) -> bytes:
    return encode_apdu(SFrame(nr))


def started(role: Role, config: IEC104Config | None = None) -> IEC104Connection:
    conn = IEC104Connection(role, config, now=0.0)
    if role is Role.CONTROLLING:
        conn.start_data_transfer(0.0)
        conn.receive_data(STARTDT_CON, 0.0)
    else:
        conn.receive_data(STARTDT_ACT, 0.0)
    conn.data_to_send()
    drain(conn)
    return conn


def sent_frames(conn: IEC104Connection) -> list[object]:
    data, out = conn.data_to_send(), []
    while data:
        n = data[1] + 2
        out.append(decode_apdu(data[:n]))
        data = data[n:]
    return out


class TestConfig:
    def test_defaults_are_the_standard(self) -> None:
        c = IEC104Config()
        assert (c.k, c.w, c.t0, c.t1, c.t2, c.t3) == (12, 8, 30.0, 15.0, 10.0, 20.0)

    @pytest.mark.parametrize(
        "kwargs",
        [{"k": 0}, {"k": 32768}, {"w": 0}, {"k": 12, "w": 9}, {"t1": 0}, {"t2": 15.0}, {"t2": 20.0}, {"t3": -1}],
    )
    def test_invalid(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(LocalProtocolError):
            IEC104Config(**kwargs)  # type: ignore[arg-type]

    def test_w_two_thirds_of_k_is_allowed(self) -> None:
        assert IEC104Config(k=3, w=2).w == 2


class TestHandshakes:
    def test_engine_meets_the_contract(self) -> None:
        assert isinstance(IEC104Connection(), Connection)
        assert isinstance(IEC104Connection(), EngineBase)
        # the shared end-of-connection types, re-exported by the IEC 104 package
        assert TerminationReason is protocols.TerminationReason
        assert ConnectionTerminated is protocols.ConnectionTerminated

    def test_startdt_bytes_and_events(self) -> None:
        client = IEC104Connection(Role.CONTROLLING, now=0.0)
        server = IEC104Connection(Role.CONTROLLED, now=0.0)
        client.send(UFrame(UFunction.STARTDT_ACT), 0.0)
        assert client.state is State.STARTING
        act = client.data_to_send()
        assert act == STARTDT_ACT
        server.receive_data(act, 0.0)
        assert server.data_to_send() == STARTDT_CON
        assert drain(server) == [DataTransferStarted()]
        client.receive_data(STARTDT_CON, 0.0)
        assert client.state is State.STARTED and server.state is State.STARTED
        assert drain(client) == [DataTransferStarted()]

    def test_stopdt_controlling(self) -> None:
        pair = started_pair()
        pair.client.stop_data_transfer(1.0)
        assert pair.client.state is State.STOPPING
        pair.pump()
        assert drain(pair.client) == [DataTransferStopped()]
        assert drain(pair.server) == [DataTransferStopped()]
        assert pair.client.state is State.STOPPED and pair.server.state is State.STOPPED

    def test_controlled_waits_for_acks_before_stopdt_con(self) -> None:
        server = started(Role.CONTROLLED)
        server.send(single(1), 0.0)
        server.send(single(2), 0.0)
        server.data_to_send()
        server.receive_data(STOPDT_ACT, 0.1)
        assert server.state is State.STOPPING
        assert server.data_to_send() == b""
        server.receive_data(s_frame(1), 0.2)
        assert server.state is State.STOPPING
        server.receive_data(s_frame(2), 0.3)
        assert server.data_to_send() == STOPDT_CON
        assert server.state is State.STOPPED
        assert drain(server) == [DataTransferStopped()]
        with pytest.raises(LocalProtocolError, match="not allowed in state STOPPED"):
            server.send(single(3), 0.4)

    def test_stopdt_act_in_stopped_state_is_confirmed(self) -> None:
        server = IEC104Connection(Role.CONTROLLED, now=0.0)
        server.receive_data(STOPDT_ACT, 0.0)
        assert server.data_to_send() == STOPDT_CON
        assert drain(server) == []

    def test_controlling_acks_before_stopdt_act(self) -> None:
        client = started(Role.CONTROLLING)
        client.receive_data(i_frame(0, 0), 0.0)
        client.stop_data_transfer(0.1)
        assert client.data_to_send() == s_frame(1) + STOPDT_ACT

    def test_testfr_answered_in_any_open_state(self) -> None:
        for conn in (IEC104Connection(Role.CONTROLLED), started(Role.CONTROLLING)):
            conn.receive_data(TESTFR_ACT, 1.0)
            assert conn.data_to_send() == TESTFR_CON
            assert drain(conn) == [TestFrameReceived()]

    def test_unsolicited_testfr_con_is_a_protocol_error(self) -> None:
        conn = IEC104Connection(Role.CONTROLLING)
        with pytest.raises(RemoteProtocolError, match="TESTFR con"):
            conn.receive_data(TESTFR_CON, 0.0)
        assert conn.state is State.CLOSED

    def test_second_act_while_pending(self) -> None:
        conn = IEC104Connection(Role.CONTROLLING)
        conn.start_data_transfer(0.0)
        with pytest.raises(LocalProtocolError):
            conn.start_data_transfer(0.0)

    def test_only_controlling_sends_startdt(self) -> None:
        with pytest.raises(LocalProtocolError, match="controlling"):
            IEC104Connection(Role.CONTROLLED).start_data_transfer(0.0)

    def test_controlled_does_not_accept_startdt_con(self) -> None:
        conn = IEC104Connection(Role.CONTROLLED)
        with pytest.raises(RemoteProtocolError, match="STARTDT con"):
            conn.receive_data(STARTDT_CON, 0.0)

    def test_i_frame_before_startdt_closes(self) -> None:
        conn = IEC104Connection(Role.CONTROLLED)
        with pytest.raises(RemoteProtocolError, match="I-frame not allowed in state STOPPED"):
            conn.receive_data(i_frame(0, 0), 0.0)
        assert conn.is_closed
        assert drain(conn)[-1].reason is TerminationReason.PROTOCOL_ERROR  # type: ignore[attr-defined]


class TestNumbering:
    def test_i_frames_carry_vs_and_vr(self) -> None:
        conn = started(Role.CONTROLLED)
        conn.receive_data(i_frame(0, 0) + i_frame(1, 0), 0.0)
        conn.send(single(7), 0.0)
        (frame,) = sent_frames(conn)
        assert isinstance(frame, IFrame) and (frame.ns, frame.nr) == (0, 2)
        assert (conn.vs, conn.vr, conn.ack) == (1, 2, 0)

    def test_wrong_ns_is_a_sequence_error(self) -> None:
        conn = started(Role.CONTROLLING)
        with pytest.raises(SequenceError, match="N\\(S\\)=1 but V\\(R\\)=0"):
            conn.receive_data(i_frame(1, 0), 0.0)
        assert conn.is_closed
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            conn.receive_data(b"x", 0.0)

    @pytest.mark.parametrize("nr", [1, 5, 32767])
    def test_ack_of_unsent_frames_is_a_sequence_error(self, nr: int) -> None:
        conn = started(Role.CONTROLLING)
        with pytest.raises(SequenceError, match="unsent"):
            conn.receive_data(s_frame(nr), 0.0)

    def test_ack_window_test_wraps_modulo_32768(self) -> None:
        pair = started_pair(IEC104Config(k=12, w=8))
        for i in range(32768 + 40):
            pair.server.send(single(i % 1000), pair.now)
            pair.pump()
        events = drain(pair.client)
        assert len(events) == 32768 + 40
        assert (pair.server.vs, pair.client.vr) == (40, 40)
        assert pair.server.unacknowledged == 0
        assert not pair.client.is_closed and not pair.server.is_closed

    def test_duplicate_ack_is_harmless(self) -> None:
        conn = started(Role.CONTROLLED)
        conn.send(single(1), 0.0)
        conn.receive_data(s_frame(1) + s_frame(1), 0.0)
        assert conn.unacknowledged == 0 and not conn.is_closed


class TestWindows:
    def test_k_window_queues_and_resumes(self) -> None:
        conn = started(Role.CONTROLLED, IEC104Config(k=3, w=2))
        for i in range(7):
            conn.send(single(i), 0.0)
        assert [f.ns for f in sent_frames(conn)] == [0, 1, 2]  # type: ignore[attr-defined]
        assert (conn.unacknowledged, conn.queued) == (3, 4)
        conn.receive_data(s_frame(2), 0.1)
        assert [f.ns for f in sent_frames(conn)] == [3, 4]  # type: ignore[attr-defined]
        conn.receive_data(s_frame(5), 0.2)
        assert [f.ns for f in sent_frames(conn)] == [5, 6]  # type: ignore[attr-defined]
        assert conn.queued == 0

    def test_queue_limit(self) -> None:
        conn = IEC104Connection(Role.CONTROLLED, IEC104Config(k=2, w=1), queue_limit=2)
        conn.receive_data(STARTDT_ACT, 0.0)
        for i in range(4):
            conn.send(single(i), 0.0)
        with pytest.raises(LocalProtocolError, match="queue full"):
            conn.send(single(4), 0.0)

    def test_s_frame_after_w_i_frames(self) -> None:
        conn = started(Role.CONTROLLING, IEC104Config(k=12, w=8))
        data = b"".join(i_frame(n, 0) for n in range(7))
        conn.receive_data(data, 0.0)
        assert conn.data_to_send() == b""
        conn.receive_data(i_frame(7, 0), 0.0)
        assert conn.data_to_send() == s_frame(8)

    def test_own_i_frame_carries_the_ack(self) -> None:
        conn = started(Role.CONTROLLED)
        conn.receive_data(i_frame(0, 0), 0.0)
        assert conn.get_timer() == 10.0  # t2
        conn.send(single(1), 1.0)
        conn.data_to_send()
        assert conn.get_timer() == 16.0  # t1 of the I-frame; t2 cleared by the piggy-backed ack


class TestTimers:
    def test_t2_sends_s_frame(self) -> None:
        conn = started(Role.CONTROLLING)
        conn.receive_data(i_frame(0, 0), 5.0)
        assert conn.get_timer() == 15.0
        conn.handle_timer(14.9)
        assert conn.data_to_send() == b""
        conn.handle_timer(15.0)
        assert conn.data_to_send() == s_frame(1)

    def test_t1_closes_when_i_frame_not_acknowledged(self) -> None:
        conn = started(Role.CONTROLLED)
        conn.send(single(1), 2.0)
        conn.data_to_send()
        assert conn.get_timer() == 17.0
        conn.handle_timer(17.0)
        assert conn.is_closed
        assert drain(conn) == [ConnectionTerminated(reason=TerminationReason.T1_TIMEOUT)]
        assert conn.get_timer() is None

    def test_t1_restarts_for_the_next_oldest_frame(self) -> None:
        conn = started(Role.CONTROLLED)
        conn.send(single(1), 0.0)
        conn.send(single(2), 5.0)
        conn.receive_data(s_frame(1), 6.0)
        assert conn.get_timer() == 20.0

    def test_t1_on_startdt_act(self) -> None:
        conn = IEC104Connection(Role.CONTROLLING, now=0.0)
        conn.start_data_transfer(1.0)
        conn.handle_timer(16.0)
        assert drain(conn) == [ConnectionTerminated(reason=TerminationReason.T1_TIMEOUT)]

    def test_t3_sends_testfr_act_then_t1(self) -> None:
        conn = IEC104Connection(Role.CONTROLLING, IEC104Config(t3=20.0), now=0.0)
        assert conn.get_timer() == 20.0
        conn.handle_timer(20.0)
        assert conn.data_to_send() == TESTFR_ACT
        assert conn.get_timer() == 35.0
        conn.receive_data(TESTFR_CON, 21.0)
        assert drain(conn) == [TestFrameConfirmed()]
        assert conn.get_timer() == 41.0
        conn.handle_timer(41.0)
        assert conn.data_to_send() == TESTFR_ACT
        conn.handle_timer(56.0)
        assert drain(conn) == [ConnectionTerminated(reason=TerminationReason.T1_TIMEOUT)]

    def test_received_frames_restart_t3(self) -> None:
        conn = started(Role.CONTROLLED)
        conn.receive_data(s_frame(0), 15.0)
        assert conn.get_timer() == 35.0

    def test_timer_starts_at_first_input_without_now(self) -> None:
        conn = IEC104Connection(Role.CONTROLLED)
        assert conn.get_timer() is None
        conn.handle_timer(100.0)
        assert conn.get_timer() == 120.0

    def test_pair_idles_with_testframes(self) -> None:
        pair = started_pair(IEC104Config(t1=2.0, t2=1.0, t3=3.0))
        for _ in range(10):
            pair.advance(1.0)
        assert not pair.client.is_closed and not pair.server.is_closed
        assert TestFrameConfirmed() in drain(pair.client) + drain(pair.server)


class TestActivations:
    def test_interrogation_confirmed_then_terminated(self) -> None:
        pair = started_pair()
        request = interrogation(ca=0xFFFF)
        pair.client.send(request, 0.0)
        pair.pump()
        (received,) = drain(pair.server)
        assert isinstance(received, ASDUReceived) and received.asdu.cot == Cot.ACTIVATION
        pair.server.send(interrogation(Cot.ACTIVATION_CON, ca=47), 0.0)
        pair.server.send(single(5, cot=Cot.INTERROGATED_BY_STATION, ca=47), 0.0)
        pair.server.send(interrogation(Cot.ACTIVATION_TERMINATION, ca=47), 0.0)
        pair.pump()
        confirmed, data, terminated = drain(pair.client)
        assert isinstance(confirmed, ActivationConfirmed) and confirmed.request is request
        assert isinstance(data, ASDUReceived) and data.asdu.cot == Cot.INTERROGATED_BY_STATION
        assert isinstance(terminated, ActivationTerminated) and terminated.request is request
        assert len(pair.client.activations) == 0

    def test_negative_confirmation_then_unknown_ioa(self) -> None:
        # lib60870 answers an unknown IOA with a negative ACT_CON and then COT 47 (notes 3.5.1).
        conn = started(Role.CONTROLLING)
        command = ASDU(
            type_id=TypeId.C_SC_NA_1,
            cot=Cot.ACTIVATION,
            common_address=47,
            objects=(InformationObject(99, (SCO(scs=True),)),),
        )
        conn.send(command, 0.0)
        refusal = ASDU(
            type_id=TypeId.C_SC_NA_1,
            cot=Cot.ACTIVATION_CON,
            negative=True,
            common_address=47,
            objects=command.objects,
        )
        unknown = ASDU(type_id=TypeId.C_SC_NA_1, cot=Cot.UNKNOWN_IOA, common_address=47, objects=command.objects)
        conn.receive_data(i_frame(0, 1, refusal) + i_frame(1, 1, unknown), 0.1)
        refused, extra = drain(conn)
        assert isinstance(refused, ActivationRefused) and refused.request is command
        assert isinstance(extra, ASDUReceived)

    def test_read_confirmed_by_data_after_c104_con(self) -> None:
        conn = started(Role.CONTROLLING)
        read = ASDU(type_id=TypeId.C_RD_NA_1, cot=Cot.REQUEST, common_address=47, objects=(InformationObject(11),))
        conn.send(read, 0.0)
        con = ASDU(type_id=TypeId.C_RD_NA_1, cot=Cot.ACTIVATION_CON, common_address=47, objects=read.objects)
        conn.receive_data(i_frame(0, 1, con) + i_frame(1, 1, single(11, cot=Cot.REQUEST, ca=47)), 0.1)
        first, second = drain(conn)
        assert isinstance(first, ASDUReceived)
        assert isinstance(second, ActivationConfirmed) and second.request is read

    def test_other_station_does_not_match(self) -> None:
        conn = started(Role.CONTROLLING)
        conn.send(interrogation(ca=1), 0.0)
        conn.receive_data(i_frame(0, 1, interrogation(Cot.ACTIVATION_CON, ca=2)), 0.1)
        assert isinstance(drain(conn)[0], ASDUReceived)
        assert len(conn.activations) == 1

    def test_cancel_and_limit(self) -> None:
        conn = IEC104Connection(Role.CONTROLLING, activation_limit=1)
        conn.start_data_transfer(0.0)
        conn.receive_data(STARTDT_CON, 0.0)
        first = interrogation()
        conn.send(first, 0.0)
        with pytest.raises(LocalProtocolError, match="limit"):
            conn.send(interrogation(), 0.0)
        assert conn.cancel_activation(first)
        assert not conn.cancel_activation(first)
        conn.send(interrogation(), 0.0)


class TestErrorsAndClose:
    @pytest.mark.parametrize(
        "message",
        [IFrame(0, 0, single(1)), SFrame(0), UFrame(UFunction.STARTDT_CON), UFrame(UFunction.TESTFR_CON), "x"],
    )
    def test_send_refuses_what_the_engine_owns(self, message: object) -> None:
        with pytest.raises(LocalProtocolError):
            started(Role.CONTROLLING).send(message, 0.0)  # type: ignore[arg-type]

    def test_asdu_before_startdt(self) -> None:
        with pytest.raises(LocalProtocolError, match="STOPPED"):
            IEC104Connection(Role.CONTROLLING).send(single(1), 0.0)

    @pytest.mark.parametrize(
        "data",
        ["69040700000000", "680207000000", "6804070100", "68040100010068040100", "680d00000000640106000100000000"],
    )
    def test_malformed_bytes_raise_decode_error_and_close(self, data: str) -> None:
        conn = started(Role.CONTROLLING)
        raw = bytes.fromhex(data)
        if raw[1] + 2 > len(raw) and raw[0] == 0x68:
            raw += b"\x00" * (raw[1] + 2 - len(raw))
        with pytest.raises(DecodeError):
            conn.receive_data(raw, 0.0)
        assert conn.is_closed
        assert isinstance(drain(conn)[-1], ConnectionTerminated)

    @pytest.mark.parametrize(
        ("bad", "error"),
        [
            (bytes.fromhex("69"), DecodeError),  # bad start octet: fails at once
            (bytes.fromhex("6802"), DecodeError),  # bad length octet: fails at once
            (bytes.fromhex("680401010000"), DecodeError),  # S-frame with reserved bits set
            (i_frame(5, 0), SequenceError),  # N(S) skips ahead
            (TESTFR_CON, RemoteProtocolError),  # a con without an act
        ],
    )
    def test_violation_after_good_frames_keeps_their_events_and_output(self, bad: bytes, error: type) -> None:
        conn = started(Role.CONTROLLED)
        with pytest.raises(error) as info:
            conn.receive_data(TESTFR_ACT + i_frame(0, 0) + bad, 1.0)
        assert conn.state is State.CLOSED
        assert drain(conn) == [
            TestFrameReceived(),
            ASDUReceived(asdu=single(1)),
            ConnectionTerminated(reason=TerminationReason.PROTOCOL_ERROR, error=info.value),
        ]
        assert conn.data_to_send() == TESTFR_CON  # queued before the violation; no goodbye in -104
        assert conn.get_timer() is None

    def test_unknown_type_id_and_cot_are_events_not_errors(self) -> None:
        conn = started(Role.CONTROLLING)
        private = ASDU(type_id=200, cot=3, common_address=1, number=1, raw_information=b"\x01\x00\x00\x2a")
        unassigned_cot = ASDU(type_id=TypeId.M_SP_NA_1, cot=42, common_address=1, objects=single(1).objects)
        conn.receive_data(i_frame(0, 0, private) + i_frame(1, 0, unassigned_cot), 1.0)
        events = drain(conn)
        assert events == [ASDUReceived(asdu=private), ASDUReceived(asdu=unassigned_cot)]
        assert type(events[0].asdu.type_id) is int and type(events[1].asdu.cot) is int  # type: ignore[attr-defined]
        assert conn.state is State.STARTED

    def test_split_frames_are_reassembled(self) -> None:
        conn = started(Role.CONTROLLING)
        data = i_frame(0, 0) + i_frame(1, 0) + TESTFR_ACT
        for i in range(len(data)):
            conn.receive_data(data[i : i + 1], 0.0)
        events = drain(conn)
        assert [type(e) for e in events] == [ASDUReceived, ASDUReceived, TestFrameReceived]

    def test_eof(self) -> None:
        conn = started(Role.CONTROLLED)
        conn.receive_data(b"", 1.0)
        assert drain(conn) == [ConnectionTerminated(reason=TerminationReason.PEER_CLOSED)]
        assert conn.get_timer() is None

    @pytest.mark.parametrize("role", list(Role))
    def test_connection_lost_carries_the_error_and_is_idempotent(self, role: Role) -> None:
        conn = started(role)
        conn.send(single(1), 0.0)
        conn.receive_data(i_frame(0, 0), 0.0)
        conn.data_to_send()
        drain(conn)
        error = ConnectionResetError("reset by peer")
        conn.connection_lost(0.5, error)
        events = drain(conn)
        assert events == [ConnectionTerminated(reason=TerminationReason.CONNECTION_LOST, error=error)]
        assert events[0].error is error  # type: ignore[attr-defined]
        assert conn.state is State.CLOSED
        assert (conn.get_timer(), conn.queued, conn.data_to_send()) == (None, 0, b"")  # nothing queued on a dead link
        conn.connection_lost(0.6, None)
        conn.close(0.7)
        assert drain(conn) == []
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            conn.receive_data(TESTFR_ACT, 1.0)

    def test_connection_lost_without_exception_and_after_close(self) -> None:
        conn = IEC104Connection(Role.CONTROLLED)
        conn.connection_lost(0.0)
        assert drain(conn) == [ConnectionTerminated(reason=TerminationReason.CONNECTION_LOST)]
        closed = IEC104Connection(Role.CONTROLLING)
        closed.close(0.0)
        closed.connection_lost(0.1, OSError("late report"))
        assert drain(closed) == [ConnectionTerminated(reason=TerminationReason.LOCAL_CLOSE)]

    def test_close_acknowledges_and_is_idempotent(self) -> None:
        conn = started(Role.CONTROLLING)
        conn.receive_data(i_frame(0, 0), 0.0)
        conn.close(0.1)
        conn.close(0.2)
        assert conn.data_to_send() == s_frame(1)
        assert drain(conn)[-1] == ConnectionTerminated(reason=TerminationReason.LOCAL_CLOSE)
        for verb in (lambda: conn.send(single(1), 1.0), lambda: conn.handle_timer(1.0)):
            with pytest.raises(LocalProtocolError, match="CLOSED"):
                verb()

    def test_report_frames(self) -> None:
        conn = IEC104Connection(Role.CONTROLLING, report_frames=True)
        conn.start_data_transfer(0.0)
        conn.receive_data(STARTDT_CON, 0.0)
        assert drain(conn) == [FrameSent(data=STARTDT_ACT), FrameReceived(data=STARTDT_CON), DataTransferStarted()]


@pytest.mark.parametrize("data", ["abc", "", 5, None, [0x68, 0x04]])
def test_receive_data_refuses_what_is_not_bytes_like_before_touching_state(data: object) -> None:
    conn = IEC104Connection(role=Role.CONTROLLED, now=0.0)
    with pytest.raises(InvalidArgumentType, match="bytes-like"):
        conn.receive_data(data, 0.0)  # type: ignore[arg-type]
    assert not conn.is_closed  # "" is not end of stream: nothing changed
    conn.receive_data(bytes.fromhex("680443000000"), 0.0)  # TESTFR act still answered
    assert conn.data_to_send() == bytes.fromhex("680483000000")


def test_receive_data_takes_any_buffer() -> None:
    import array

    conn = IEC104Connection(role=Role.CONTROLLED, now=0.0)
    conn.receive_data(array.array("B", bytes.fromhex("680443000000")), 0.0)
    conn.receive_data(memoryview(bytearray.fromhex("680443000000")), 0.0)
    assert conn.data_to_send() == bytes.fromhex("680483000000") * 2


def test_discarded_counts_the_asdus_held_back_by_k_when_the_connection_ends() -> None:
    conn = IEC104Connection(role=Role.CONTROLLED, config=IEC104Config(k=2, w=1), now=0.0)
    conn.receive_data(bytes.fromhex("680407000000"), 0.0)  # STARTDT act
    for ioa in range(5):
        conn.send(single(ioa), 0.0)
    assert (conn.unacknowledged, conn.queued, conn.discarded) == (2, 3, 0)
    conn.close(0.0)
    assert (conn.queued, conn.discarded) == (0, 3)  # the 2 sent but unacknowledged are not counted


def test_buffered_counts_the_unframed_start_of_an_apdu() -> None:
    conn = started(Role.CONTROLLING)
    frame = bytes.fromhex("680443000000")  # TESTFR act
    assert conn.buffered == 0
    conn.receive_data(frame[:3], 0.0)
    assert conn.buffered == 3
    conn.receive_data(frame[3:], 0.0)
    assert conn.buffered == 0
    assert [type(e).__name__ for e in drain(conn)] == ["TestFrameReceived"]
