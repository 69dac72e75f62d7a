"""The hub's limits (IMBHubConfig): each one refuses or closes as ``specs/imb/notes.md`` "Limits" says."""

from __future__ import annotations

import struct
from collections.abc import Hashable
from typing import Any

import pytest

from otwire.codecs.imb import (
    END_PAYLOAD_MAGIC_BYTES as TRAILER,
)
from otwire.codecs.imb import (
    MAGIC_BYTES,
    HeartBeat,
    Publish,
    SetClientInfo,
    SetVariable,
    SetVariablePrefixed,
    Subscribe,
    Unsubscribe,
    encode_command,
)
from otwire.errors import DecodeError, InvalidArgument, InvalidArgumentType, RemoteProtocolError
from otwire.protocols import ConnectionTerminated, TerminationReason
from otwire.protocols.imb import IMBHub, IMBHubConfig
from otwire.protocols.imb.events import (
    NAME_SHOWN,
    ClientInfoReceived,
    CommandRejected,
    EventSubscribed,
    JunkSkipped,
    VariableChanged,
    shown_name,
)


def wire(*commands: Any) -> bytes:
    return b"".join(encode_command(c) for c in commands)


def events_of(hub: IMBHub, peer: Hashable) -> list[Any]:
    out = []
    while (item := hub.next_event()) is not None:
        if item[0] == peer:
            out.append(item[1])
    return out


def hub_with(*peers: str, **options: Any) -> IMBHub:
    hub = IMBHub(**options)
    for peer in peers:
        hub.connect(peer, 0.0)
    return hub


def test_config_validation() -> None:
    with pytest.raises(InvalidArgument):
        IMBHubConfig(max_name_bytes=0)
    with pytest.raises(InvalidArgument):
        IMBHubConfig(max_payload_size=1000, max_output_bytes=1000)
    with pytest.raises(InvalidArgument):
        IMBHub(heartbeat_interval=0)
    with pytest.raises(InvalidArgumentType):
        IMBHub(config=object())  # type: ignore[arg-type]
    hub = IMBHub(config=IMBHubConfig(max_name_bytes=10), max_variables=3)
    assert hub.config.max_name_bytes == 10 and hub.config.max_variables == 3


def test_long_event_names_are_rejected() -> None:
    hub = hub_with("a", max_name_bytes=8)
    hub.receive_data("a", wire(Subscribe(event_id=0, event_name="x" * 9), Publish(event_id=1, event_name="é" * 5)), 0.0)
    hub.receive_data("a", wire(Subscribe(event_id=2, event_name="x" * 8)), 0.0)
    got = events_of(hub, "a")
    assert [type(e) for e in got] == [CommandRejected, CommandRejected, EventSubscribed]
    assert "max_name_bytes" in got[0].reason and hub.routes.get("x" * 9) is None
    assert not hub.is_closed("a")


def test_variable_name_and_value_limits() -> None:
    hub = hub_with("a", max_name_bytes=16, max_value_bytes=4)
    hub.receive_data("a", wire(SetVariable(var_name="v" * 17, var_value=b"1")), 0.0)
    hub.receive_data("a", wire(SetVariable(var_name="v", var_value=b"12345")), 0.0)
    hub.receive_data("a", wire(SetVariablePrefixed(var_prefix=0, var_name="v" * 9, var_value=b"1")), 0.0)  # 8 + 9
    hub.receive_data("a", wire(SetVariable(var_name="v", var_value=b"1234")), 0.0)
    got = events_of(hub, "a")
    assert [type(e) for e in got] == [CommandRejected] * 3 + [VariableChanged]
    assert "max_value_bytes" in got[1].reason and hub.variables.items() == [("v", b"1234")]


def test_one_client_cannot_exhaust_the_name_table() -> None:
    hub = hub_with("greedy", "other", max_names_per_client=3, max_event_names=5)
    names = [Subscribe(event_id=i, event_name=f"n{i}") for i in range(5)]
    hub.receive_data("greedy", wire(*names), 0.0)
    got = events_of(hub, "greedy")
    assert [type(e) for e in got] == [EventSubscribed] * 3 + [CommandRejected] * 2
    assert "max_names_per_client" in got[-1].reason
    hub.receive_data("greedy", wire(Publish(event_id=0, event_name="n0"), Subscribe(event_id=1, event_name="n1")), 0.0)
    assert [type(e).__name__ for e in events_of(hub, "greedy")] == ["EventPublished", "EventSubscribed"]  # held
    hub.receive_data("other", wire(Subscribe(event_id=0, event_name="o0"), Subscribe(event_id=1, event_name="o1")), 0.0)
    assert [type(e) for e in events_of(hub, "other")] == [EventSubscribed, EventSubscribed]
    hub.receive_data("greedy", wire(Unsubscribe(event_name="n2")), 0.0)
    hub.receive_data("other", wire(Subscribe(event_id=2, event_name="o2")), 0.0)  # the table is full again
    hub.receive_data("greedy", wire(Subscribe(event_id=9, event_name="n9")), 0.0)
    got = [e for e in events_of(hub, "greedy")]
    assert [type(e).__name__ for e in got] == ["EventUnsubscribed", "CommandRejected"]
    assert "too many event names" in got[-1].reason


def test_announced_payload_bounds_the_buffered_octets() -> None:
    hub = hub_with("slow", max_payload_size=1024)
    hub.receive_data("slow", MAGIC_BYTES + struct.pack("<ii", -999, 1024), 0.0)
    for _ in range(15):  # trickle: the frame never completes, the buffer never passes one frame
        hub.receive_data("slow", b"\0" * 60, 0.0)
        assert len(hub.connection_of("slow")._rx) <= 1024 + 20  # type: ignore[union-attr]
    assert hub.frames_received("slow") == 0
    with pytest.raises(DecodeError, match="exceeds 1024"):
        hub.receive_data("slow", b"\0" * 124 + TRAILER + MAGIC_BYTES + struct.pack("<ii", -45, 1025), 0.0)
    assert hub.frames_received("slow") == 1
    assert hub.is_closed("slow") and hub.connection_of("slow")._rx == bytearray()  # type: ignore[union-attr]


def test_a_connection_sending_only_junk_is_closed() -> None:
    hub = hub_with("junk", "good", max_junk_bytes=10_000)
    hub.receive_data("junk", b"x" * 5000, 0.0)
    assert not hub.is_closed("junk")
    with pytest.raises(RemoteProtocolError, match="start no frame"):
        for _ in range(10):
            hub.receive_data("junk", b"x" * 5000, 0.0)
    got = events_of(hub, "junk")
    assert isinstance(got[0], JunkSkipped) and isinstance(got[-1], ConnectionTerminated)
    assert got[-1].reason is TerminationReason.PROTOCOL_ERROR and not hub.is_closed("good")


def test_junk_runs_between_frames_are_bounded_by_the_junk_share() -> None:
    frame = wire(SetClientInfo(owner_id=1, owner_name="m"))
    hub = hub_with("a", "b", max_junk_bytes=5000, max_junk_share=1.0)  # the share rule off
    for _ in range(50):  # 4096 octets of junk, then a frame: each run is under the bound
        hub.receive_data("a", b"x" * 4096 + frame, 0.0)
    assert not hub.is_closed("a")
    hub = hub_with("a", "b", max_junk_bytes=5000)  # default share 1/8: junk is 99 % of it
    with pytest.raises(RemoteProtocolError, match="start no frame"):
        for _ in range(50):
            hub.receive_data("a", b"x" * 4096 + frame, 0.0)
    assert hub.is_closed("a") and not hub.is_closed("b")
    assert 5000 < hub.connection_of("a")._junk_total < 3 * 4096 + 5000  # type: ignore[union-attr]


def test_a_little_junk_in_a_lot_of_traffic_is_tolerated() -> None:
    frame = wire(SetClientInfo(owner_id=1, owner_name="m" * 200))
    hub = hub_with("a", max_junk_bytes=100)
    for _ in range(2000):  # 10 octets of junk per ~230-octet frame: 4 %, under 1/8
        hub.receive_data("a", b"x" * 10 + frame, 0.0)
    assert not hub.is_closed("a")


def test_the_junk_share_is_checked() -> None:
    for bad in (-0.1, 1.5, "x", None):
        with pytest.raises(InvalidArgument):
            IMBHubConfig(max_junk_share=bad)


def test_names_in_events_and_reasons_are_cut() -> None:
    hub = hub_with("a", max_name_bytes=10_000)
    long = "n" * 5000
    hub.receive_data("a", wire(SetClientInfo(owner_id=1, owner_name=long), Subscribe(event_id=0, event_name=long)), 0.0)
    hub.receive_data("a", wire(Unsubscribe(event_name=long + "x")), 0.0)
    info, subscribed, rejected = events_of(hub, "a")
    assert isinstance(info, ClientInfoReceived) and info.owner_name == shown_name(long)
    assert isinstance(subscribed, EventSubscribed) and subscribed.event_name.endswith("...(+4900 chars)")
    assert len(subscribed.event_name) < NAME_SHOWN + 20 and len(rejected.reason) < NAME_SHOWN + 60
    assert hub.connection_of("a").owner_name == long  # type: ignore[union-attr]  # the state keeps it whole
    assert "value" not in repr(VariableChanged(name="v", value=bytes(10)))  # values stay out of log lines


def test_the_audit_junk_pattern_is_closed_with_the_defaults() -> None:
    hub = hub_with("a")
    beat = wire(HeartBeat())
    rounds = 0
    with pytest.raises(RemoteProtocolError, match="start no frame"):
        while rounds < 100:  # just under 64 KiB of junk, then a heartbeat, again and again
            rounds += 1
            hub.receive_data("a", b"x" * (64 * 1024 - 1) + beat, 0.0)
    assert rounds == 2 and hub.is_closed("a")
