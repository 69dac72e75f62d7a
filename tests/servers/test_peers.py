"""``ConnectionPeers``: one single-connection engine per peer behind the ``PeerEngine`` contract (fake clock)."""

from __future__ import annotations

import pytest

from helpers import drain
from otwire.codecs.iec104 import ASDU, Cot, InformationObject, TypeId
from otwire.codecs.iec104.values import elements_from_info
from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols import ConnectionTerminated, PeerEngine, TerminationReason
from otwire.protocols._peers import ConnectionPeers
from otwire.protocols.iec104 import DataTransferStarted, IEC104Config, IEC104Connection, Role
from otwire.servers.iec104._session import APDU_OCTETS, APDUCounter, held_octets

STARTDT_ACT = bytes.fromhex("680407000000")
STARTDT_CON = bytes.fromhex("68040b000000")
TESTFR_ACT = bytes.fromhex("680443000000")


def outstation() -> ConnectionPeers[int, IEC104Connection]:
    def factory(peer: int, now: float, name: str) -> IEC104Connection:
        return IEC104Connection(role=Role.CONTROLLED, config=IEC104Config(), now=now)

    return ConnectionPeers(factory, frame_counter=APDUCounter, queued=held_octets)


def test_it_is_a_peer_engine() -> None:
    assert isinstance(outstation(), PeerEngine)


def test_input_reaches_only_its_peer() -> None:
    peers = outstation()
    peers.connect(1, 0.0, name="a")
    peers.connect(2, 0.0, name="b")
    assert sorted(peers.peers_with_output()) == [1, 2]
    peers.receive_data(1, STARTDT_ACT, 1.0)
    assert drain(peers) == [(1, DataTransferStarted())]
    assert peers.peers_with_output() == [1]
    assert peers.data_to_send(1) == STARTDT_CON and peers.data_to_send(2) == b""


def test_frames_established_and_split_input() -> None:
    peers = outstation()
    peers.connect(1, 0.0)
    assert not peers.is_established(1) and peers.frames_received(1) == 0
    for octet in STARTDT_ACT + TESTFR_ACT[:3]:
        peers.receive_data(1, bytes([octet]), 1.0)
    assert peers.frames_received(1) == 1 and peers.is_established(1)
    peers.receive_data(1, TESTFR_ACT[3:] + TESTFR_ACT, 2.0)
    assert peers.frames_received(1) == 3


def test_abort_drops_output_reports_the_reason_and_forgets_the_peer() -> None:
    peers = outstation()
    peers.connect(1, 0.0)
    peers.connect(2, 0.0)
    peers.receive_data(1, STARTDT_ACT, 1.0)  # STARTDT con queued, not taken
    peers.abort(1, 2.0, TerminationReason.SLOW_CONSUMER)
    events = drain(peers)
    assert events[-1] == (1, ConnectionTerminated(reason=TerminationReason.SLOW_CONSUMER))
    assert peers.is_closed(1) and peers.data_to_send(1) == b""
    assert 1 not in peers and len(peers) == 1
    peers.abort(1, 3.0, TerminationReason.SLOW_CONSUMER)  # unknown now: nothing
    assert peers.is_closed(1) and drain(peers) == []


def test_connection_lost_and_protocol_errors_close_one_peer() -> None:
    peers = outstation()
    peers.connect(1, 0.0)
    peers.connect(2, 0.0)
    error = ConnectionResetError()
    peers.connection_lost(1, 1.0, error)
    assert drain(peers) == [(1, ConnectionTerminated(reason=TerminationReason.CONNECTION_LOST, error=error))]
    with pytest.raises(RemoteProtocolError):
        peers.receive_data(2, b"\x69\x04", 1.0)
    ((peer, end),) = drain(peers)
    assert peer == 2 and isinstance(end, ConnectionTerminated) and end.reason is TerminationReason.PROTOCOL_ERROR
    with pytest.raises(LocalProtocolError):
        peers.receive_data(2, STARTDT_ACT, 2.0)


def test_misuse_is_a_local_protocol_error() -> None:
    peers = outstation()
    peers.connect(1, 0.0)
    with pytest.raises(LocalProtocolError):
        peers.connect(1, 0.0)
    with pytest.raises(LocalProtocolError):
        peers.receive_data(9, STARTDT_ACT, 0.0)
    with pytest.raises(LocalProtocolError):
        peers.connection(9)
    peers.connection_lost(9, 0.0)  # unknown: nothing
    peers.close(9, 0.0)
    assert peers.frames_received(9) == 0 and peers.queued(9) == 0 and not peers.is_established(9)


def test_timers_run_per_peer_and_queued_counts_the_k_window() -> None:
    peers = outstation()
    peers.connect(1, 0.0)
    peers.connect(2, 5.0)
    t3 = IEC104Config().t3
    assert peers.get_timer() == t3
    peers.handle_timer(t3)  # only peer 1 is due: TESTFR act
    assert peers.data_to_send(1) == TESTFR_ACT and peers.data_to_send(2) == b""
    peers.receive_data(2, STARTDT_ACT, 6.0)
    asdu = ASDU(
        type_id=TypeId.M_SP_NA_1,
        cot=Cot.SPONTANEOUS,
        common_address=1,
        objects=(InformationObject(1, elements_from_info(TypeId.M_SP_NA_1, True)),),
    )
    for _ in range(IEC104Config().k + 3):
        peers.send(2, asdu, 7.0)
    assert peers.queued(2) == 3 * APDU_OCTETS


def test_buffered_counts_the_unframed_input() -> None:
    peers = ConnectionPeers(
        lambda peer, now, name: IEC104Connection(role=Role.CONTROLLED, config=IEC104Config(), now=now),
        buffered=lambda engine: 7,
    )
    peers.connect(1, 0.0)
    assert peers.buffered(1) == 7 and peers.buffered(9) == 0
    assert outstation().buffered(1) == 0  # no callable: nothing known
