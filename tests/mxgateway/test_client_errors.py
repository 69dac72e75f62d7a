"""Error mapping and endpoint parsing of the client's connection, without a network."""

from __future__ import annotations

import asyncio

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

from otwire.clients.mxgateway import (
    MxAccessError,
    MxGatewayAuthenticationError,
    MxGatewayCommandError,
    MxGatewayDeadlineError,
    MxGatewayError,
    MxGatewayPermissionError,
    MxGatewayRpcError,
    MxGatewayUnavailableError,
)
from otwire.clients.mxgateway._connection import GatewayConnection, parse_endpoint
from otwire.errors import InvalidArgument, OTWireError, RequestError

KEY = "mxgw_k_s3cret"


def _connection() -> GatewayConnection:
    async def make() -> GatewayConnection:
        return GatewayConnection(endpoint="127.0.0.1:1", api_key=KEY, plaintext=True)

    return asyncio.run(make())


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (GRPCError(Status.UNAUTHENTICATED, f"bad {KEY}"), MxGatewayAuthenticationError),
        (GRPCError(Status.PERMISSION_DENIED), MxGatewayPermissionError),
        (GRPCError(Status.UNAVAILABLE), MxGatewayUnavailableError),
        (GRPCError(Status.DEADLINE_EXCEEDED), MxGatewayDeadlineError),
        (GRPCError(Status.NOT_FOUND), MxGatewayRpcError),
        (TimeoutError(), MxGatewayDeadlineError),
        (StreamTerminatedError("Connection lost"), MxGatewayUnavailableError),
        (ConnectionRefusedError(111, "refused"), MxGatewayUnavailableError),
        (ProtocolError("h2"), MxGatewayUnavailableError),
        (RuntimeError(f"odd {KEY}"), MxGatewayError),
    ],
)
def test_every_transport_failure_maps_into_the_tree(exc: BaseException, cls: type[MxGatewayError]) -> None:
    mapped = _connection().map_error("Invoke", exc, 1.5)
    assert type(mapped) is cls and isinstance(mapped, RequestError) and isinstance(mapped, OTWireError)
    assert KEY not in str(mapped) and str(mapped).startswith("Invoke: ")


def test_client_errors_pass_through_and_keep_their_data() -> None:
    error = MxAccessError("failed", reply="raw", hresult=-5, statuses=[1])
    assert _connection().map_error("Invoke", error, None) is error
    assert isinstance(error, MxGatewayCommandError) and (error.reply, error.code, error.statuses) == ("raw", -5, [1])


def test_repr_and_metadata() -> None:
    connection = _connection()
    assert KEY not in repr(connection) and "***" in repr(connection)
    assert connection.metadata == {"authorization": f"Bearer {KEY}"}
    assert connection.redact(f"x {KEY} y") == "x *** y"
    connection.close()
    connection.close()


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("gw:5001", ("gw", 5001)),
        ("gw", ("gw", 5000)),
        ("http://gw:80/", ("gw", 80)),
        ("https://10.0.0.1:443", ("10.0.0.1", 443)),
        ("[::1]:5000", ("::1", 5000)),
        ("[::1]", ("::1", 5000)),
    ],
)
def test_parse_endpoint(endpoint: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(endpoint) == expected


@pytest.mark.parametrize(
    "endpoint", ["", "gw:0", "gw:70000", "gw:x", ":1", "[::1", "[::1:5000", "[::1]5000", "[]:5000", " h : 5", "g w:5"]
)
def test_bad_endpoints(endpoint: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_endpoint(endpoint)
