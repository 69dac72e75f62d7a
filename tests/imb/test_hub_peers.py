"""IMBHub as a many-peer engine: the ``otwire.protocols.PeerEngine`` contract, with driver-chosen peer ids."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pytest

from helpers import drain
from otwire.codecs.imb import (
    EndSession,
    EventCommand,
    HeartBeat,
    IMBFramer,
    NormalEvent,
    Publish,
    SetClientInfo,
    SetEventIDTranslation,
    Subscribe,
    UniqueClientID,
    decode_command,
    encode_command,
)
from otwire.errors import DecodeError, InvalidArgument, LocalProtocolError
from otwire.protocols import ConnectionTerminated, PeerEngine, TerminationReason
from otwire.protocols.imb import IMBHub
from otwire.protocols.imb.events import ClientInfoReceived, EventPublished, EventSubscribed


def wire(*commands: Any) -> bytes:
    return b"".join(encode_command(c) for c in commands)


def decoded(data: bytes) -> list[Any]:
    framer = IMBFramer()
    framer.receive_data(data)
    out = []
    while (frame := framer.next_frame()) is not None:
        out.append(decode_command(frame))
    return out


def flush(hub: IMBHub) -> dict[Hashable, list[Any]]:
    """What a driver does after each input: write the output of every peer that got some."""
    return {peer: decoded(hub.data_to_send(peer)) for peer in hub.peers_with_output()}


@pytest.fixture
def hub() -> IMBHub:
    engine = IMBHub()
    for peer in ("pub", ("10.0.0.2", 4711)):
        engine.connect(peer, 0.0, name=str(peer))
    flush(engine)
    return engine


def test_is_a_peer_engine() -> None:
    assert isinstance(IMBHub(), PeerEngine)


def test_connect_greets_and_refuses_a_peer_twice() -> None:
    hub = IMBHub()
    hub.connect(7, 0.0, name="seven")
    assert hub.peers_with_output() == [7] and hub.queued(7) == 28  # header 16, two int32, trailer 4
    assert decoded(hub.data_to_send(7)) == [UniqueClientID(unique_client_id=1, client_id=1)]
    with pytest.raises(LocalProtocolError, match="already connected"):
        hub.connect(7, 0.0)
    assert not hub.is_closed(7) and hub.is_closed("unknown")


def test_routing_happens_inside_the_engine(hub: IMBHub) -> None:
    sub = ("10.0.0.2", 4711)
    hub.receive_data(sub, wire(Subscribe(event_id=3, event_name="fed.x")), 1.0)
    assert flush(hub) == {sub: [SetEventIDTranslation(hub_event_id=0, client_event_id=3)]}
    hub.receive_data("pub", wire(Publish(event_id=0, event_name="fed.x")), 1.0)
    assert flush(hub) == {
        sub: [Publish(event_id=3, event_name="fed.x")],
        "pub": [Subscribe(event_id=0, event_name="fed.x")],
    }
    hub.receive_data("pub", wire(EventCommand(event_id=0, body=NormalEvent(data=b"hi"))), 1.0)
    assert hub.peers_with_output() == [sub]
    assert decoded(hub.data_to_send(sub)) == [EventCommand(event_id=0, body=NormalEvent(data=b"hi"))]
    assert drain(hub) == [
        (sub, EventSubscribed(event_name="fed.x", client_event_id=3, hub_event_id=0)),
        ("pub", EventPublished(event_name="fed.x", client_event_id=0, hub_event_id=0)),
    ]
    assert hub.frames_received("pub") == 2 and hub.frames_received(sub) == 1


def test_is_established_after_the_first_complete_frame(hub: IMBHub) -> None:
    data = wire(SetClientInfo(owner_id=1, owner_name="model"))
    hub.receive_data("pub", data[:10], 0.0)
    assert not hub.is_established("pub") and hub.frames_received("pub") == 0
    hub.receive_data("pub", data[10:], 0.0)
    assert hub.is_established("pub")
    assert drain(hub) == [("pub", ClientInfoReceived(owner_id=1, owner_name="model"))]
    assert not hub.is_established("nobody")


def test_unknown_or_closed_peer_is_refused(hub: IMBHub) -> None:
    with pytest.raises(LocalProtocolError, match="unknown peer"):
        hub.receive_data("nobody", b"x", 0.0)
    hub.close("pub", 0.0)
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        hub.receive_data("pub", b"x", 0.0)
    with pytest.raises(LocalProtocolError):
        hub.send("pub", HeartBeat(), 0.0)
    hub.close("pub", 0.0)  # closing twice, or an unknown peer, does nothing
    hub.close("nobody", 0.0)
    hub.connection_lost("nobody", 0.0, None)


def test_close_queues_end_session_and_frees_the_peer(hub: IMBHub) -> None:
    hub.receive_data("pub", wire(Publish(event_id=0, event_name="x")), 0.0)
    drain(hub)
    flush(hub)
    hub.close("pub", 1.0)
    assert hub.is_closed("pub") and hub.peers_with_output() == ["pub"]
    assert drain(hub) == [("pub", ConnectionTerminated(reason=TerminationReason.LOCAL_CLOSE))]
    assert decoded(hub.data_to_send("pub")) == [EndSession()]
    assert hub.connection_of("pub") is None  # drained: forgotten
    assert hub.event_names() == []
    hub.connect("pub", 2.0)  # the id may be used again
    assert not hub.is_closed("pub")


def test_connection_lost_reports_the_error(hub: IMBHub) -> None:
    error = ConnectionResetError("reset by peer")
    hub.connection_lost("pub", 1.0, error)
    assert drain(hub) == [("pub", ConnectionTerminated(reason=TerminationReason.CONNECTION_LOST, error=error))]
    assert hub.is_closed("pub") and hub.data_to_send("pub") == b""
    hub.connection_lost("pub", 1.0, error)  # reported again after the close: nothing
    assert drain(hub) == []


@pytest.mark.parametrize(
    "reason",
    [TerminationReason.SLOW_CONSUMER, TerminationReason.IDLE_TIMEOUT, TerminationReason.HANDSHAKE_TIMEOUT],
)
def test_abort_drops_the_output(hub: IMBHub, reason: TerminationReason) -> None:
    hub.send("pub", HeartBeat(), 0.0)
    assert hub.queued("pub") == 16
    hub.abort("pub", 1.0, reason)
    assert hub.queued("pub") == 0 and hub.is_closed("pub")
    assert drain(hub) == [("pub", ConnectionTerminated(reason=reason))]
    with pytest.raises(InvalidArgument):
        hub.abort(("10.0.0.2", 4711), 1.0, TerminationReason.T1_TIMEOUT)


def test_protocol_error_closes_only_that_peer(hub: IMBHub) -> None:
    with pytest.raises(DecodeError):
        hub.receive_data("pub", b"\x2f\x47\x61\x71\x95\xad\xc5\xfb" + b"\xf1\xff\xff\xff\xff\xff\xff\xff", 0.0)
    assert hub.is_closed("pub") and not hub.is_closed(("10.0.0.2", 4711))
    (peer, event), *_ = drain(hub)
    assert peer == "pub" and event.reason is TerminationReason.PROTOCOL_ERROR


def test_close_all_and_heartbeat_timer() -> None:
    hub = IMBHub(heartbeat_interval=2.0)
    hub.connect("a", 0.0)
    hub.connect("b", 1.0)
    flush(hub)
    assert hub.get_timer() == 2.0
    hub.handle_timer(2.0)
    assert flush(hub) == {"a": [HeartBeat()]} and hub.get_timer() == 3.0
    hub.close_all(3.0)
    assert flush(hub) == {"a": [EndSession()], "b": [EndSession()]}
    assert hub.get_timer() is None and hub.connections == ()
