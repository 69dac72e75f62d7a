"""API keys with scopes on the simulator: UNAUTHENTICATED, PERMISSION_DENIED, scopes per command kind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from otwire.codecs.mxgateway import galaxy as gpb
from otwire.codecs.mxgateway import pb
from otwire.errors import InvalidArgument
from otwire.servers.mxgateway import Server
from otwire.servers.mxgateway.auth import command_scope, parse_api_keys

from .sim_support import K, RawClient, code, run, take

KEYS = "admin-key reader:session,invoke:read,events:read writer:session,invoke:read,invoke:write galaxy:metadata:read"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(port=0, rate=10, api_key=KEYS) as running:
        yield running


async def _status(call: Any) -> Status:
    with pytest.raises(GRPCError) as caught:
        await call
    return caught.value.status


def test_parse_api_keys() -> None:
    keys = parse_api_keys(["a", "b:invoke:read,events:read"])
    assert keys == {"a": frozenset({"admin"}), "b": frozenset({"invoke:read", "events:read"})}
    assert parse_api_keys(None) == {} and parse_api_keys("x y") == {"x": {"admin"}, "y": {"admin"}}
    with pytest.raises(InvalidArgument, match="unknown API key scope"):
        parse_api_keys("k:invoke:everything")
    with pytest.raises(InvalidArgument, match="non-empty KEY"):
        parse_api_keys(":session")


def test_command_scopes() -> None:
    assert command_scope(K.REGISTER) == command_scope(K.READ_BULK) == "invoke:read"
    assert command_scope(K.WRITE) == command_scope(K.WRITE2_BULK) == "invoke:write"
    assert command_scope(K.WRITE_SECURED2) == command_scope(K.AUTHENTICATE_USER) == "invoke:secure"
    assert command_scope(K.DRAIN_EVENTS) == "events:read"


def test_missing_and_wrong_keys_are_unauthenticated(server: Server) -> None:
    async def main() -> None:
        for key in (None, "not-a-key"):
            async with RawClient(server.port, key) as client:
                assert await _status(client.gateway.open_session(pb.OpenSessionRequest())) == Status.UNAUTHENTICATED
                assert (
                    await _status(client.galaxy.test_connection(gpb.TestConnectionRequest())) == Status.UNAUTHENTICATED
                )
                stream = client.gateway.stream_events(pb.StreamEventsRequest(session_id="x"))
                assert await _status(take(stream, 1)) == Status.UNAUTHENTICATED

    run(main())


def test_scopes_are_enforced(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port, "reader") as reader, RawClient(server.port, "writer") as writer:
            await reader.open()
            sh = await reader.register()
            ih = await reader.add(sh, "Pump_001.SP")
            write = pb.WriteCommand(server_handle=sh, item_handle=ih, value=pb.MxValue(double_value=1.0))
            assert await _status(reader.invoke(K.WRITE, write)) == Status.PERMISSION_DENIED
            assert await _status(reader.galaxy.test_connection(gpb.TestConnectionRequest())) == Status.PERMISSION_DENIED
            drained = await reader.invoke(K.DRAIN_EVENTS, pb.DrainEventsCommand())
            assert code(drained) == pb.ProtocolStatusCode.OK
            writer.session_id = reader.session_id
            assert code(await writer.invoke(K.WRITE, write)) == pb.ProtocolStatusCode.OK
            secured = pb.AuthenticateUserCommand(server_handle=sh, user_name="u", password="p")
            assert await _status(writer.invoke(K.AUTHENTICATE_USER, secured)) == Status.PERMISSION_DENIED
            stream = writer.gateway.stream_events(pb.StreamEventsRequest(session_id=reader.session_id))
            assert await _status(take(stream, 1)) == Status.PERMISSION_DENIED

    run(main())


def test_admin_and_metadata_keys(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port, "admin-key") as admin, RawClient(server.port, "galaxy") as galaxy:
            await admin.open()
            sh = await admin.register()
            auth = await admin.invoke(K.AUTHENTICATE_USER, pb.AuthenticateUserCommand(server_handle=sh, user_name="u"))
            assert code(auth) == pb.ProtocolStatusCode.OK
            assert (await galaxy.galaxy.test_connection(gpb.TestConnectionRequest())).ok
            assert await _status(galaxy.gateway.open_session(pb.OpenSessionRequest())) == Status.PERMISSION_DENIED
            assert await _status(galaxy.gateway.acknowledge_alarm(pb.AcknowledgeAlarmRequest())) == (
                Status.PERMISSION_DENIED
            )

    run(main())


def test_the_key_is_never_in_errors(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port, "reader") as reader:
            with pytest.raises(GRPCError) as caught:
                await reader.galaxy.test_connection(gpb.TestConnectionRequest())
            assert "reader" not in str(caught.value.message)

    run(main())
