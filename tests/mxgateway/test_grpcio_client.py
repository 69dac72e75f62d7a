"""The simulator driven by a grpcio client whose stubs grpcio-tools generates from specs/mxgateway/*.proto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest

from otwire.servers.mxgateway import Server

from .sim_support import generate_grpcio

KEY = "grpcio-key"


@pytest.fixture(scope="session")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleType]:
    return generate_grpcio(tmp_path_factory.mktemp("grpcio_stubs"))


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(port=0, rate=50, slow_delay=0.5, replay_capacity=16, items=40, api_key=f"{KEY} ro:session") as running:
        yield running


@pytest.fixture
def channel(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as opened:
        yield opened


AUTH = (("authorization", f"Bearer {KEY}"),)


class Session:
    """A session opened through the grpcio stub, with command helpers."""

    def __init__(self, stubs: dict[str, ModuleType], channel: grpc.Channel) -> None:
        self.m = stubs["gw"]
        self.stub = stubs["gw_grpc"].MxAccessGatewayStub(channel)
        reply = self.stub.OpenSession(
            self.m.OpenSessionRequest(client_session_name="grpcio"), metadata=AUTH, timeout=10
        )
        assert reply.protocol_status.code == self.m.PROTOCOL_STATUS_CODE_OK
        self.session_id = reply.session_id

    def invoke(self, kind: str, field: str | None = None, timeout: float = 10, **payload: Any) -> Any:
        command = self.m.MxCommand(kind=getattr(self.m, f"MX_COMMAND_KIND_{kind}"))
        if field is not None:
            getattr(command, field).CopyFrom(self._payload(field, payload))
        request = self.m.MxCommandRequest(session_id=self.session_id, command=command)
        return self.stub.Invoke(request, metadata=AUTH, timeout=timeout)

    def _payload(self, field: str, payload: dict[str, Any]) -> Any:
        return self.m.MxCommand.DESCRIPTOR.fields_by_name[field].message_type._concrete_class(**payload)

    def register(self) -> int:
        return int(self.invoke("REGISTER", "register", client_name="grpcio").register.server_handle)

    def add(self, server_handle: int, tag: str) -> int:
        return int(
            self.invoke("ADD_ITEM", "add_item", server_handle=server_handle, item_definition=tag).add_item.item_handle
        )

    def events(self, count: int, **request: Any) -> list[Any]:
        stream = self.stub.StreamEvents(
            self.m.StreamEventsRequest(session_id=self.session_id, **request), metadata=AUTH, timeout=10
        )
        found = []
        for event in stream:
            found.append(event)
            if len(found) == count:
                stream.cancel()
                break
        return found


def test_session_commands_and_stream(stubs: dict[str, ModuleType], channel: grpc.Channel) -> None:
    session = Session(stubs, channel)
    m = session.m
    sh = session.register()
    ih = session.add(sh, "Pump_001.SP")
    assert session.invoke("ADVISE", "advise", server_handle=sh, item_handle=ih).protocol_status.code == 1
    value = m.MxValue(data_type=m.MX_DATA_TYPE_DOUBLE, double_value=12.5)
    write = session.invoke("WRITE", "write", server_handle=sh, item_handle=ih, value=value)
    assert write.protocol_status.code == m.PROTOCOL_STATUS_CODE_OK
    events = session.events(8)  # values tick at 50 Hz: changes may come between the advise and the write
    assert [e.worker_sequence for e in events] == list(range(1, 9))
    assert events[0].family == m.MX_EVENT_FAMILY_ON_DATA_CHANGE and events[0].quality == 192
    assert events[0].HasField("on_data_change") and events[0].HasField("source_timestamp")
    families = [e.family for e in events]
    complete = families.index(m.MX_EVENT_FAMILY_ON_WRITE_COMPLETE)
    assert events[complete].statuses[0].success == 1 and events[complete].item_handle == ih
    assert events[complete + 1].value.double_value == 12.5
    closed = session.stub.CloseSession(m.CloseSessionRequest(session_id=session.session_id), metadata=AUTH)
    assert closed.final_state == m.SESSION_STATE_CLOSED


def test_mxaccess_failure_and_bulk(stubs: dict[str, ModuleType], channel: grpc.Channel) -> None:
    session = Session(stubs, channel)
    m = session.m
    sh = session.register()
    denied = session.add(sh, "Fault.WriteDeniedSetpoint")
    reply = session.invoke("WRITE", "write", server_handle=sh, item_handle=denied, value=m.MxValue(int32_value=1))
    assert reply.protocol_status.code == m.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE
    assert reply.hresult == -2147220992 and reply.statuses[0].category == m.MX_STATUS_CATEGORY_SECURITY_ERROR
    assert reply.statuses[0].detail == 321
    tags = ["Tank_001.Level", "Fault.MissingOne"]
    bulk = session.invoke("SUBSCRIBE_BULK", "subscribe_bulk", server_handle=sh, tag_addresses=tags)
    assert [r.was_successful for r in bulk.bulk_subscribe.results] == [True, False]
    read = session.invoke("READ_BULK", "read_bulk", server_handle=sh, tag_addresses=["Tank_001.Level"])
    assert read.bulk_read.results[0].was_cached and read.bulk_read.results[0].quality == 192


def test_resume_with_replay_gap(stubs: dict[str, ModuleType]) -> None:
    # values do not tick here (rate=0), so the ring holds still between the calls
    with (
        Server(port=0, rate=0, replay_capacity=16, items=40, api_key=KEY) as quiet,
        grpc.insecure_channel(f"127.0.0.1:{quiet.port}") as channel,
    ):
        session = Session(stubs, channel)
        sh = session.register()
        tags = [f"SimTags.Tag{n:04d}" for n in range(1, 31)]
        session.invoke("SUBSCRIBE_BULK", "subscribe_bulk", server_handle=sh, tag_addresses=tags)  # 30 events, ring 16
        head = session.events(2, after_worker_sequence=1)
        assert head[0].HasField("replay_gap") and head[0].family == session.m.MX_EVENT_FAMILY_UNSPECIFIED
        gap = head[0].replay_gap
        assert (gap.requested_after_sequence, gap.oldest_available_sequence) == (1, 15)
        assert head[1].worker_sequence == 15
        again = session.events(1, after_worker_sequence=14)
        assert not again[0].HasField("replay_gap") and again[0].worker_sequence == 15


def test_kill_stream_and_deadline(stubs: dict[str, ModuleType], channel: grpc.Channel) -> None:
    session = Session(stubs, channel)
    sh = session.register()
    ih = session.add(sh, "Fault.KillStreamValue")
    session.invoke("ADVISE", "advise", server_handle=sh, item_handle=ih)
    with pytest.raises(grpc.RpcError) as killed:
        session.events(5)
    assert killed.value.code() == grpc.StatusCode.UNAVAILABLE
    slow = session.add(sh, "Fault.SlowTag")
    with pytest.raises(grpc.RpcError) as late:
        session.invoke("ADVISE", "advise", timeout=0.1, server_handle=sh, item_handle=slow)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_auth_errors(stubs: dict[str, ModuleType], channel: grpc.Channel) -> None:
    m = stubs["gw"]
    stub = stubs["gw_grpc"].MxAccessGatewayStub(channel)
    with pytest.raises(grpc.RpcError) as missing:
        stub.OpenSession(m.OpenSessionRequest(), timeout=10)
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as wrong:
        stub.OpenSession(m.OpenSessionRequest(), metadata=(("authorization", "Bearer nope"),), timeout=10)
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    ro = (("authorization", "Bearer ro"),)
    session_id = stub.OpenSession(m.OpenSessionRequest(), metadata=ro, timeout=10).session_id
    command = m.MxCommand(kind=m.MX_COMMAND_KIND_REGISTER)
    with pytest.raises(grpc.RpcError) as denied:
        stub.Invoke(m.MxCommandRequest(session_id=session_id, command=command), metadata=ro, timeout=10)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_galaxy_paging_and_deploys(stubs: dict[str, ModuleType], channel: grpc.Channel, server: Server) -> None:
    g = stubs["galaxy"]
    stub = stubs["galaxy_grpc"].GalaxyRepositoryStub(channel)
    assert stub.TestConnection(g.TestConnectionRequest(), metadata=AUTH, timeout=10).ok
    ids: list[int] = []
    token = ""
    while True:
        reply = stub.DiscoverHierarchy(
            g.DiscoverHierarchyRequest(page_size=6, page_token=token), metadata=AUTH, timeout=10
        )
        ids += [o.gobject_id for o in reply.objects]
        token = reply.next_page_token
        if not token:
            break
    assert len(ids) == len(set(ids)) == reply.total_object_count
    stale = stub.DiscoverHierarchy(g.DiscoverHierarchyRequest(page_size=6), metadata=AUTH, timeout=10).next_page_token
    watch = stub.WatchDeployEvents(g.WatchDeployEventsRequest(), metadata=AUTH, timeout=10)
    initial = next(watch)
    assert initial.is_initial_state
    server.deploy()
    following = next(watch)
    watch.cancel()
    assert following.sequence == initial.sequence + 1 and not following.is_initial_state
    with pytest.raises(grpc.RpcError) as refused:
        stub.DiscoverHierarchy(g.DiscoverHierarchyRequest(page_size=6, page_token=stale), metadata=AUTH, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_path_for_generated_stubs(stubs: dict[str, ModuleType]) -> None:
    assert Path(stubs["gw"].__file__ or "").name == "mxaccess_gateway_pb2.py"
