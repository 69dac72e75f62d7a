"""Sensor scenarios on a fake clock, and requester <-> sensor readouts end to end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from otwire.codecs.xep0323 import (
    Accepted,
    Cancel,
    Cancelled,
    Error,
    Failure,
    FieldRef,
    Fields,
    FieldType,
    Node,
    Numeric,
    Rejected,
    Req,
    StanzaError,
    Started,
    Timestamp,
    decode,
    encode,
)
from otwire.errors import InvalidArgument, InvalidArgumentType, LocalProtocolError
from otwire.protocols.xep0323 import (
    CancelRequested,
    FailureReceived,
    FieldsReceived,
    NodeTimedOut,
    ReadoutCompleted,
    ReadoutFinished,
    ReadoutQueued,
    ReadoutRequested,
    Requester,
    RequesterConfig,
    RequestRefused,
    Sensor,
    SensorConfig,
    SensorReadoutState,
    Stanza,
    StanzaDropped,
)

SENSOR = "sensor@localhost/device"
CLIENT = "requester@localhost/app"
WALL = 1_700_000_000.0  # wall-clock epoch seconds at now == 0
STAMP = dt.datetime(2013, 3, 7, 16, 24, 30)


def field(name: str, types: FieldType = FieldType.momentary, value: str = "1") -> Numeric:
    return Numeric(name=name, value=Decimal(value), unit="u", types=types)


def make_sensor(**config: object) -> Sensor:
    sensor = Sensor(SENSOR, SensorConfig(**config), wall_offset=WALL)  # type: ignore[arg-type]
    sensor.register_node("Device01")
    sensor.register_node("Device02", comm_timeout=2.0)
    return sensor


def request(sensor: Sensor, req: Req, *, sender: str = CLIENT, iq_id: str = "q1", now: float = 0.0) -> list[Stanza]:
    sensor.receive_message(Stanza(kind="iq", type="get", id=iq_id, from_jid=sender, to_jid=SENSOR, payload=req), now)
    return sensor.messages_to_send()


def events(engine: Sensor | Requester) -> list[object]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def test_momentary_readout_of_every_node() -> None:
    sensor = make_sensor()
    (accepted,) = request(sensor, Req(seqnr=4, types=FieldType.momentary))
    assert (accepted.kind, accepted.type, accepted.id, accepted.to_jid) == ("iq", "result", "q1", CLIENT)
    assert accepted.payload == Accepted(seqnr=4)
    (requested,) = events(sensor)
    assert isinstance(requested, ReadoutRequested)
    assert requested.node_ids == ("Device01", "Device02") and requested.types == FieldType.momentary
    stamp = Timestamp(value=STAMP, fields=(field("Temperature"),))
    assert sensor.fields_ready(CLIENT, 4, "Device01", [stamp], 0.1)
    assert sensor.fields_ready(CLIENT, 4, "Device02", [stamp], 0.2)
    first, last = sensor.messages_to_send()
    assert first.payload == Fields(seqnr=4, nodes=(Node(node_id="Device01", timestamps=(stamp,)),))
    assert last.payload == Fields(seqnr=4, done=True, nodes=(Node(node_id="Device02", timestamps=(stamp,)),))
    assert (last.kind, last.type, last.from_jid, last.to_jid) == ("message", "normal", SENSOR, CLIENT)
    assert events(sensor) == [ReadoutFinished(peer=CLIENT, seqnr=4)]
    assert sensor.readout_state(CLIENT, 4) is None
    assert not sensor.fields_ready(CLIENT, 4, "Device01", [stamp], 0.3)  # over: nothing sent
    assert sensor.messages_to_send() == []


@pytest.mark.parametrize("dialect", ["v0.6", "v0.2"])
def test_unknown_node_is_rejected(dialect: str) -> None:
    sensor = make_sensor(dialect=dialect)
    (refusal,) = request(sensor, Req(seqnr=1, nodes=(Node(node_id="NoSuchNode"),)))
    error = StanzaError(type="cancel", condition="item-not-found", text="Invalid nodeId NoSuchNode")
    assert (refusal.type, refusal.id, refusal.error) == ("error", "q1", error)
    expected = Rejected(seqnr=1, errors=("Invalid nodeId NoSuchNode",)) if dialect == "v0.2" else None
    assert refusal.payload == expected
    assert events(sensor) == [RequestRefused(peer=CLIENT, seqnr=1, error=error)]


@pytest.mark.parametrize("dialect", ["v0.6", "v0.2"])
def test_fields_no_read_node_has_are_rejected(dialect: str) -> None:
    sensor = Sensor(SENSOR, SensorConfig(dialect=dialect), wall_offset=WALL)  # type: ignore[arg-type]
    sensor.register_node("Meter", has_field={"Energy", "Power"}.__contains__)
    sensor.register_node("Valve", has_field={"Position"}.__contains__)
    (refusal,) = request(sensor, Req(seqnr=1, fields=(FieldRef(name="Volume"), FieldRef(name="Flow"))))
    error = StanzaError(type="cancel", condition="item-not-found", text="Invalid field Flow")
    assert (refusal.type, refusal.error) == ("error", error)
    assert refusal.payload == (Rejected(seqnr=1, errors=("Invalid field Flow",)) if dialect == "v0.2" else None)
    assert events(sensor) == [RequestRefused(peer=CLIENT, seqnr=1, error=error)]
    # One known name on one read node is enough (slixmpp's rule); only the read nodes count.
    (accepted,) = request(sensor, Req(seqnr=2, fields=(FieldRef(name="Volume"), FieldRef(name="Position"))))
    assert accepted.payload == Accepted(seqnr=2)
    (refused,) = request(sensor, Req(seqnr=3, nodes=(Node(node_id="Meter"),), fields=(FieldRef(name="Position"),)))
    assert refused.error == StanzaError(type="cancel", condition="item-not-found", text="Invalid field Position")
    # A node registered without has_field may have any field.
    sensor.register_node("Any")
    (open_node,) = request(sensor, Req(seqnr=4, nodes=(Node(node_id="Any"),), fields=(FieldRef(name="X"),)))
    assert open_node.payload == Accepted(seqnr=4)
    with pytest.raises(InvalidArgumentType):
        sensor.register_node("Bad", has_field="Energy")  # type: ignore[arg-type]


def test_a_partial_report_restarts_the_comm_timeout() -> None:
    sensor = Sensor(SENSOR, SensorConfig(), wall_offset=WALL)
    sensor.register_node("Meter", comm_timeout=2.0)
    request(sensor, Req(seqnr=1))
    events(sensor)
    assert sensor.get_timer() == 2.0
    stamp = Timestamp(value=dt.datetime(2024, 1, 1), fields=(Numeric(name="E", value=Decimal(1)),))
    assert sensor.fields_ready(CLIENT, 1, "Meter", [stamp], 1.5, done=False)
    assert sensor.get_timer() == 3.5  # restarted at 1.5, as slixmpp's TimerReset.reset()
    sensor.messages_to_send()
    sensor.handle_timer(2.5)
    assert sensor.messages_to_send() == [] and events(sensor) == []
    sensor.handle_timer(3.5)
    assert NodeTimedOut(peer=CLIENT, seqnr=1, node_id="Meter") in events(sensor)


def test_refusals_for_duplicate_seqnr_too_many_readouts_and_far_schedules() -> None:
    sensor = make_sensor(max_readouts=1, max_schedule=60.0)
    request(sensor, Req(seqnr=1))
    (dup,) = request(sensor, Req(seqnr=1))
    assert dup.error is not None and dup.error.condition == "bad-request"
    (full,) = request(sensor, Req(seqnr=2))
    assert full.error is not None and full.error.condition == "resource-constraint"
    other = make_sensor(max_schedule=60.0)
    (far,) = request(other, Req(seqnr=1, when=dt.datetime.fromtimestamp(WALL + 3600, dt.UTC)))
    assert far.error is not None and far.error.text == "when is too far ahead"
    empty = Sensor(SENSOR)
    (none,) = request(empty, Req(seqnr=1))
    assert none.error is not None and none.error.text == "No nodes"


def test_same_seqnr_from_two_requesters_are_two_readouts() -> None:
    sensor = make_sensor()
    request(sensor, Req(seqnr=1))
    (accepted,) = request(sensor, Req(seqnr=1), sender="other@localhost/app")
    assert accepted.payload == Accepted(seqnr=1)
    assert (
        sensor.readout_state(CLIENT, 1) is sensor.readout_state("other@localhost/app", 1) is SensorReadoutState.RUNNING
    )


def test_scheduled_readout_is_queued_then_started() -> None:
    sensor = make_sensor()
    when = dt.datetime.fromtimestamp(WALL + 30, dt.UTC)
    (accepted,) = request(sensor, Req(seqnr=4, all_types=True, when=when))
    assert accepted.payload == Accepted(seqnr=4, queued=True)
    assert events(sensor) == [ReadoutQueued(peer=CLIENT, seqnr=4, delay=30.0)]
    assert sensor.get_timer() == 30.0
    sensor.handle_timer(29.0)
    assert sensor.messages_to_send() == [] and sensor.readout_state(CLIENT, 4) is SensorReadoutState.QUEUED
    sensor.handle_timer(30.0)
    (started,) = sensor.messages_to_send()
    assert started.payload == Started(seqnr=4)
    assert isinstance(events(sensor)[0], ReadoutRequested)
    assert sensor.get_timer() == 32.0  # Device02's comm timeout


def test_when_in_the_past_or_without_a_wall_clock_runs_at_once() -> None:
    sensor = make_sensor()
    (accepted,) = request(sensor, Req(seqnr=1, when=dt.datetime.fromtimestamp(WALL - 30, dt.UTC)))
    assert accepted.payload == Accepted(seqnr=1)
    blind = Sensor(SENSOR)
    blind.register_node("n")
    (accepted,) = request(blind, Req(seqnr=1, when=dt.datetime(2999, 1, 1)))
    assert accepted.payload == Accepted(seqnr=1)


def test_cancel_of_a_queued_readout() -> None:
    sensor = make_sensor()
    request(sensor, Req(seqnr=8, all_types=True, when=dt.datetime.fromtimestamp(WALL + 60, dt.UTC)))
    events(sensor)
    sensor.receive_message(Stanza(kind="iq", type="get", id="c1", from_jid=CLIENT, payload=Cancel(seqnr=8)), 1.0)
    (cancelled,) = sensor.messages_to_send()
    assert (cancelled.type, cancelled.id, cancelled.payload) == ("result", "c1", Cancelled(seqnr=8))
    assert events(sensor) == [CancelRequested(peer=CLIENT, seqnr=8)]
    assert sensor.get_timer() is None
    sensor.handle_timer(61.0)
    assert sensor.messages_to_send() == []


def test_cancel_from_another_jid_or_for_nothing_is_refused() -> None:
    sensor = make_sensor(dialect="v0.2")
    request(sensor, Req(seqnr=8))
    events(sensor)
    sensor.receive_message(
        Stanza(kind="iq", type="get", id="c1", from_jid="mallory@localhost/x", payload=Cancel(seqnr=8)), 1.0
    )
    (refusal,) = sensor.messages_to_send()
    assert refusal.type == "error" and refusal.to_jid == "mallory@localhost/x"
    assert isinstance(refusal.payload, Rejected) and refusal.error is not None
    assert sensor.readout_state(CLIENT, 8) is SensorReadoutState.RUNNING


def test_comm_timeout_fails_one_node_and_the_readout_goes_on() -> None:
    sensor = make_sensor()
    request(sensor, Req(seqnr=2))
    events(sensor)
    sensor.handle_timer(2.0)
    (failure,) = sensor.messages_to_send()
    error = Error(node_id="Device02", timestamp="2023-11-14T22:13:22Z", message="Timeout")
    assert failure.payload == Failure(seqnr=2, errors=(error,))
    assert events(sensor) == [NodeTimedOut(peer=CLIENT, seqnr=2, node_id="Device02")]
    assert not sensor.fields_ready(CLIENT, 2, "Device02", [], 2.5)  # too late for that node
    assert sensor.fields_ready(CLIENT, 2, "Device01", [], 3.0)
    (done,) = sensor.messages_to_send()
    assert done.payload == Fields(seqnr=2, done=True)


def test_last_node_failing_ends_the_readout_with_failure_done() -> None:
    sensor = make_sensor()
    request(sensor, Req(seqnr=2))
    sensor.fields_ready(CLIENT, 2, "Device01", [Timestamp(value=STAMP, fields=(field("a"),))], 0.5)
    sensor.node_failed(CLIENT, 2, "Device02", "Reject", 0.6, timestamp="2026-11-21T22:58:54")
    *_, failure = sensor.messages_to_send()
    assert failure.payload == Failure(
        seqnr=2, done=True, errors=(Error(node_id="Device02", timestamp="2026-11-21T22:58:54", message="Reject"),)
    )
    assert events(sensor)[-1] == ReadoutFinished(peer=CLIENT, seqnr=2)


def test_fields_are_filtered_by_name_and_type() -> None:
    sensor = make_sensor()
    req = Req(seqnr=3, types=FieldType.momentary | FieldType.peak, nodes=(Node(node_id="Device01"),),
              fields=(FieldRef(name="Temperature"), FieldRef(name="Max")))  # fmt: skip
    request(sensor, req)
    (requested,) = events(sensor)
    assert isinstance(requested, ReadoutRequested) and requested.field_names == {"Temperature", "Max"}
    kept = (field("Temperature"), field("Max", FieldType.peak))
    dropped = (field("Humidity"), field("Temperature", FieldType.historicalDay))
    sensor.fields_ready(CLIENT, 3, "Device01", [Timestamp(value=STAMP, fields=kept + dropped)], 0.1)
    (message,) = sensor.messages_to_send()
    assert message.payload == Fields(
        seqnr=3, done=True, nodes=(Node(node_id="Device01", timestamps=(Timestamp(value=STAMP, fields=kept),)),)
    )


def test_large_readouts_are_split() -> None:
    sensor = make_sensor(max_fields_per_message=100)
    request(sensor, Req(seqnr=5, nodes=(Node(node_id="Device01"),)))
    stamps = [
        Timestamp(value=STAMP + dt.timedelta(hours=h), fields=tuple(field(f"f{i}") for i in range(50)))
        for h in range(5)
    ]
    sensor.fields_ready(CLIENT, 5, "Device01", stamps, 0.1)
    messages = [m.payload for m in sensor.messages_to_send()]
    assert all(isinstance(m, Fields) for m in messages)
    counts = [sum(len(t.fields) for n in m.nodes for t in n.timestamps) for m in messages]  # type: ignore[union-attr]
    assert counts == [100, 100, 50]
    assert [m.done for m in messages] == [False, False, True]  # type: ignore[union-attr]
    back = [t for m in messages for n in m.nodes for t in n.timestamps]  # type: ignore[union-attr]
    assert back == stamps


def test_partial_reports_keep_the_node_pending() -> None:
    sensor = make_sensor(max_fields_per_message=3)
    request(sensor, Req(seqnr=6, nodes=(Node(node_id="Device01"),)))
    stamp = Timestamp(value=STAMP, fields=(field("a"), field("b")))
    assert sensor.fields_ready(CLIENT, 6, "Device01", [stamp, stamp], 0.1, done=False)
    assert [m.payload.done for m in sensor.messages_to_send()] == [False, False]  # type: ignore[union-attr]
    assert sensor.fields_ready(CLIENT, 6, "Device01", [], 0.2)
    assert [m.payload for m in sensor.messages_to_send()] == [Fields(seqnr=6, done=True)]


def test_stanzas_that_are_not_requests_are_dropped() -> None:
    sensor = make_sensor()
    for stanza in (
        Stanza(kind="message", type="normal", from_jid=CLIENT, payload=Fields(seqnr=1)),
        Stanza(kind="iq", type="result", id="x", from_jid=CLIENT, payload=Accepted(seqnr=1)),
        Stanza(kind="iq", type="get", id="x", from_jid=CLIENT),
    ):
        sensor.receive_message(stanza, 0.0)
    assert [type(e) for e in events(sensor)] == [StanzaDropped] * 3
    assert sensor.messages_to_send() == []


def test_bad_arguments_and_closed_engine() -> None:
    sensor = make_sensor()
    with pytest.raises(InvalidArgument):
        sensor.register_node("n", comm_timeout=0)
    with pytest.raises(InvalidArgumentType):
        sensor.register_node(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentType):
        sensor.receive_message("<iq/>", 0.0)  # type: ignore[arg-type]
    request(sensor, Req(seqnr=1))
    with pytest.raises(InvalidArgumentType):
        sensor.fields_ready(CLIENT, 1, "Device01", ["not a timestamp"], 0.0)  # type: ignore[list-item]
    with pytest.raises(InvalidArgument, match="dialect"):
        SensorConfig(dialect="v0.9")
    sensor.close(0.0)
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        sensor.fields_ready(CLIENT, 1, "Device01", [], 0.0)
    assert sensor.get_timer() is None


# --- end to end -------------------------------------------------------------------------------------


def pump(requester: Requester, sensor: Sensor, now: float, dialect: str = "v0.6") -> None:
    """Carry stanzas both ways through the codec, as a server would (it stamps ``from``)."""
    moved = True
    while moved:
        moved = False
        for stanza in requester.messages_to_send():
            sensor.receive_message(_through_xml(stanza, CLIENT, dialect), now)
            moved = True
        for stanza in sensor.messages_to_send():
            requester.receive_message(_through_xml(stanza, SENSOR, dialect), now)
            moved = True


def _through_xml(stanza: Stanza, sender: str, dialect: str) -> Stanza:
    payload = decode(encode(stanza.payload, dialect)) if stanza.payload is not None else None  # type: ignore[arg-type]
    return Stanza(kind=stanza.kind, type=stanza.type, id=stanza.id, from_jid=sender, to_jid=stanza.to_jid,
                  payload=payload, error=stanza.error)  # fmt: skip


@pytest.mark.parametrize("dialect", ["v0.6", "v0.2"])
def test_requester_and_sensor_end_to_end(dialect: str) -> None:
    requester = Requester(CLIENT, RequesterConfig(first_seqnr=1))
    sensor = make_sensor(dialect=dialect, max_fields_per_message=2)
    seqnr = requester.request(SENSOR, 0.0, flags=FieldType.momentary, node_ids=["Device01", "Device02"])
    pump(requester, sensor, 0.0, dialect)
    stamp = Timestamp(value=STAMP, fields=(field("a"), field("b"), field("c")))
    sensor.fields_ready(CLIENT, seqnr, "Device01", [stamp], 0.1)
    sensor.handle_timer(2.0)  # Device02 times out
    pump(requester, sensor, 2.0, dialect)
    got = events(requester)
    fields = [f for e in got if isinstance(e, FieldsReceived) for n in e.nodes for t in n.timestamps for f in t.fields]
    assert fields == list(stamp.fields)
    assert any(isinstance(e, FailureReceived) and e.done for e in got)
    assert got[-1] == ReadoutCompleted(peer=SENSOR, seqnr=seqnr, failed=True)


def test_cancel_end_to_end() -> None:
    requester = Requester(CLIENT, RequesterConfig(first_seqnr=1))
    sensor = make_sensor()
    seqnr = requester.request(SENSOR, 0.0, when=dt.datetime.fromtimestamp(WALL + 30, dt.UTC))
    pump(requester, sensor, 0.0)
    requester.cancel(SENSOR, seqnr, 1.0)
    pump(requester, sensor, 1.0)
    assert type(events(requester)[-1]).__name__ == "ReadoutCancelled"
    assert events(sensor)[-1] == CancelRequested(peer=CLIENT, seqnr=seqnr)


def test_v02_rejection_is_written_as_the_hybrid_iq_error() -> None:
    from otwire.protocols.xep0323 import stanza_to_xml

    sensor = make_sensor(dialect="v0.2")
    (refusal,) = request(sensor, Req(seqnr=3, nodes=(Node(node_id="Nope"),)))
    iq = stanza_to_xml(refusal, "v0.2")
    tags = [child.tag for child in iq]
    assert tags == ["{urn:xmpp:iot:sensordata}rejected", "{jabber:client}error"]
    assert iq.find("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found") is not None
    assert iq.findtext("{urn:xmpp:iot:sensordata}rejected/{urn:xmpp:iot:sensordata}error") == "Invalid nodeId Nope"
    assert (iq.get("type"), iq.get("id"), iq.get("to")) == ("error", "q1", CLIENT)


def test_stream_closed_ends_sensor_readouts_and_refuses_late_reports() -> None:
    from otwire.protocols.xep0323 import ReadoutAborted

    sensor = make_sensor()
    request(sensor, Req(seqnr=1))
    request(sensor, Req(seqnr=2), sender="other@example.org/x")
    events(sensor)
    sensor.peer_unavailable("other@example.org", 1.0)
    assert events(sensor) == [ReadoutAborted(peer="other@example.org/x", seqnr=2, reason="peer unavailable")]
    sensor.stream_closed(1.0)
    assert events(sensor) == [ReadoutAborted(peer=CLIENT, seqnr=1, reason="stream closed")]
    assert sensor.get_timer() is None and sensor.readout_state(CLIENT, 1) is None
    assert sensor.fields_ready(CLIENT, 1, "Device01", [], 2.0) is False
    assert sensor.messages_to_send() == []
