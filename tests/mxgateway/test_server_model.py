"""The simulator's sans-IO session model: sequences, ring, subscribers, ticks, values, invoke."""

from __future__ import annotations

import datetime

from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.mxgateway import SparseArray, from_mx_value, pb, to_mx_value
from otwire.servers.mxgateway.invoke import HANDLERS, execute, slow_delay_of
from otwire.servers.mxgateway.model import GatewayModel
from otwire.servers.mxgateway.values import expand_sparse, kind_of, python_value, value_at

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
K = pb.MxCommandKind


def _command(session_id: str, kind: pb.MxCommandKind, payload: object) -> pb.MxCommandRequest:
    command = pb.MxCommand(kind=kind)
    setattr(command, kind.name.lower(), payload)
    return pb.MxCommandRequest(session_id=session_id, command=command)


def test_every_command_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(pb.MxCommandKind) - {K.UNSPECIFIED}


def test_value_kinds_and_determinism() -> None:
    assert [kind_of(t) for t in ("P.Running", "P.StartCount", "P.ShortDesc", "P.PV")] == [
        "bool",
        "int",
        "string",
        "double",
    ]
    assert value_at("A.PV", 7) == value_at("A.PV", 7) and value_at("A.PV", 7) != value_at("A.PV", 8)
    assert python_value(value_at("A.Count", 3)) == value_at("A.Count", 3).int32_value
    assert python_value(None) is None and python_value(pb.MxValue(is_null=True, int32_value=1)) is None


def test_sparse_writes_expand_to_full_default_filled_arrays() -> None:
    cases = [
        (SparseArray(4, {1: 7}), [0, 7, 0, 0], pb.VariantType.VT_I4),
        (SparseArray(3, {0: 2**40}), [2**40, 0, 0], pb.VariantType.VT_I8),
        (SparseArray(3, {2: "x"}), ["", "", "x"], pb.VariantType.VT_BSTR),
        (SparseArray(2, {0: True}), [True, False], pb.VariantType.VT_BOOL),
        (SparseArray(2, {}), [None, None], pb.VariantType.VT_EMPTY),
        (SparseArray(0, {}), [], pb.VariantType.VT_EMPTY),
    ]
    for sparse, expected, variant in cases:
        held = expand_sparse(to_mx_value(sparse))
        assert held.sparse_array_value is None and held.array_value is not None
        assert from_mx_value(held) == expected
        assert held.array_value.element_variant_type == variant
        assert len(bytes(held)) >= 0  # encodable
    typed = pb.MxValue(sparse_array_value=pb.MxSparseArray(element_data_type=pb.MxDataType.DOUBLE, length=2))
    assert from_mx_value(expand_sparse(typed)) == [0.0, 0.0]
    plain = to_mx_value([1, 2])
    assert expand_sparse(plain) is plain


def test_sequences_ring_and_subscribers() -> None:
    model = GatewayModel(replay_capacity=4)
    session = model.open_session("s")
    assert session is not None
    server = session.register("c")
    items = [session.add_item(server, f"T.Tag{n}") for n in range(3)]
    woken: list[int] = []
    subscriber, gap = session.subscribe(None, 100, lambda: woken.append(1))
    assert gap is None
    for item in items:
        model.advise(session, item, NOW)
    assert model.tick(NOW) == 3 and session.next_sequence == 7
    events = subscriber.take()
    assert [e.worker_sequence for e in events] == [1, 2, 3, 4, 5, 6] and woken
    assert [e.worker_sequence for e in session.ring] == [3, 4, 5, 6]
    late, gap = session.subscribe(1, 100, lambda: None)
    assert gap is not None and (gap.requested_after_sequence, gap.oldest_available_sequence) == (1, 3)
    assert [e.worker_sequence for e in late.take()] == [3, 4, 5, 6]
    small, _ = session.subscribe(6, 1, lambda: None)
    model.tick(NOW)
    assert small.overflowed and small not in session.subscribers and len(small.pending) == 1
    model.close_session(session.session_id)
    assert subscriber.ended and session.closed and not model.sessions


def test_session_limit_and_drain() -> None:
    model = GatewayModel(max_sessions=1)
    session = model.open_session("one")
    assert session is not None and model.open_session("two") is None
    reply = execute(model, session, _command(session.session_id, K.REGISTER, pb.RegisterCommand()), NOW, 1.0)
    assert reply.register is not None
    sh = reply.register.server_handle
    bulk = pb.AddItemBulkCommand(server_handle=sh, tag_addresses=["A.PV", "B.PV", "Fault.SlowX"])
    execute(model, session, _command(session.session_id, K.SUBSCRIBE_BULK, bulk), NOW, 1.0)
    drained = execute(
        model, session, _command(session.session_id, K.DRAIN_EVENTS, pb.DrainEventsCommand(max_events=2)), NOW, 1.0
    )
    assert drained.drain_events is not None and [e.worker_sequence for e in drained.drain_events.events] == [1, 2]
    rest = execute(model, session, _command(session.session_id, K.DRAIN_EVENTS, pb.DrainEventsCommand()), NOW, 1.0)
    assert rest.drain_events is not None and [e.worker_sequence for e in rest.drain_events.events] == [3]
    read = pb.ReadBulkCommand(server_handle=sh, tag_addresses=["Fault.SlowX"], timeout_ms=100)
    assert slow_delay_of(session, _command("", K.READ_BULK, read).command or pb.MxCommand(), 1.0) == 0.1
    plain = pb.ItemHandleCommand(server_handle=sh, item_handle=1)
    assert slow_delay_of(session, _command("", K.ADVISE, plain).command or pb.MxCommand(), 1.0) == 0.0


def test_idle_sessions_expire_unless_streaming() -> None:
    model = GatewayModel()
    idle, streaming = model.open_session("idle"), model.open_session("streaming")
    assert idle is not None and streaming is not None
    streaming.subscribe(None, 10, lambda: None)
    idle.last_used = streaming.last_used = 100.0
    assert model.expire(150.0, 60.0) == []
    assert model.expire(200.0, 60.0) == [idle.session_id] and idle.closed and not streaming.closed


@st.composite
def commands(draw: st.DrawFn, handles: tuple[int, ...]) -> pb.MxCommandRequest:
    """A command of any kind whose payload is arbitrary (parsable) bytes or built from known handles."""
    kind = draw(st.sampled_from(sorted(HANDLERS)))
    payload_class = HANDLERS[kind][0]
    fields = {}
    for name in ("server_handle", "item_handle"):
        if name in payload_class.__dataclass_fields__:
            fields[name] = draw(st.sampled_from(handles) | st.integers(-(2**31), 2**31 - 1))
    if "tag_addresses" in payload_class.__dataclass_fields__:
        fields["tag_addresses"] = draw(
            st.lists(st.sampled_from(["A.PV", "Fault.MissingX", "Fault.SlowY", ""]), max_size=3)
        )
    if "item_handles" in payload_class.__dataclass_fields__:
        fields["item_handles"] = draw(st.lists(st.sampled_from(handles), max_size=3))
    payload = payload_class(**fields)
    command = pb.MxCommand(kind=kind)
    setattr(command, kind.name.lower(), payload)
    return pb.MxCommandRequest(session_id="s", command=command)


@given(st.lists(commands((0, 1, 2, 3)), max_size=12))
def test_any_command_sequence_gets_a_reply(requests: list[pb.MxCommandRequest]) -> None:
    model = GatewayModel(replay_capacity=16, max_items=4)
    session = model.open_session("fuzz")
    assert session is not None
    for request in requests:
        reply = execute(model, session, request, NOW, 0.1)
        assert reply.protocol_status is not None and reply.kind == (request.command or pb.MxCommand()).kind
        failed = reply.protocol_status.code != pb.ProtocolStatusCode.OK
        assert failed == (reply.hresult != 0 or reply.protocol_status.code == pb.ProtocolStatusCode.INVALID_REQUEST)
        model.tick(NOW)
    sequences = [e.worker_sequence for e in session.ring]
    assert sequences == list(range(session.next_sequence - len(sequences), session.next_sequence))
    assert session.item_count() <= 4
