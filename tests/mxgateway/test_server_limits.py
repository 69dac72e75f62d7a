"""The simulator's limits, options, TLS and ``otwire serve mxgateway``."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError

from helpers import OtwireProcess, async_wait_until
from otwire.codecs.mxgateway import galaxy as gpb
from otwire.codecs.mxgateway import pb
from otwire.errors import InvalidArgument, InvalidArgumentType
from otwire.servers.limits import ServerLimits
from otwire.servers.mxgateway import AsyncServer, Server

from .sim_support import K, RawClient, certificate, code, run


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"rate": -1}, InvalidArgument),
        ({"rate": "fast"}, InvalidArgument),
        ({"items": -1}, InvalidArgument),
        ({"event_buffer": 0}, InvalidArgument),
        ({"deploy_interval": 0}, InvalidArgument),
        ({"tls_cert": "cert.pem"}, InvalidArgument),
        ({"tls_cert": "/nonexistent.pem", "tls_key": "/nonexistent.key"}, InvalidArgument),
        ({"record": "x.pcap"}, InvalidArgument),
        ({"port": 70000}, InvalidArgument),
        ({"limits": "many"}, InvalidArgumentType),
        ({"api_key": "k:nonsense"}, InvalidArgument),
    ],
)
def test_bad_options(options: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Server(**options)  # type: ignore[arg-type]


def test_session_limit() -> None:
    async def main() -> None:
        async with AsyncServer(port=0, max_sessions=1) as server, RawClient(server.port) as client:
            await client.open()
            with pytest.raises(GRPCError) as caught:
                await client.open()
            assert caught.value.status == Status.RESOURCE_EXHAUSTED

    run(main())


def test_item_limit() -> None:
    async def main() -> None:
        async with AsyncServer(port=0, max_items=1) as server, RawClient(server.port) as client:
            await client.open()
            sh = await client.register()
            await client.add(sh, "A.B")
            refused = await client.invoke(K.ADD_ITEM, pb.AddItemCommand(server_handle=sh, item_definition="A.C"))
            assert code(refused) == pb.ProtocolStatusCode.MXACCESS_FAILURE and "limit" in refused.diagnostic_message

    run(main())


def test_request_size_limit() -> None:
    async def main() -> None:
        async with AsyncServer(port=0, max_request_bytes=64) as server, RawClient(server.port) as client:
            with pytest.raises(GRPCError) as caught:
                await client.gateway.open_session(pb.OpenSessionRequest(client_session_name="x" * 100))
            assert caught.value.status == Status.RESOURCE_EXHAUSTED
            assert (await client.gateway.open_session(pb.OpenSessionRequest(client_session_name="ok"))).session_id

    run(main())


def test_connection_limit(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        limits = ServerLimits(max_connections=1)
        async with AsyncServer(port=0, limits=limits) as server, RawClient(server.port) as first:
            assert (await first.galaxy.test_connection(gpb.TestConnectionRequest())).ok
            async with RawClient(server.port) as second:
                with pytest.raises((StreamTerminatedError, ConnectionError, OSError)):
                    await second.galaxy.test_connection(gpb.TestConnectionRequest(), timeout=5)
            assert (await first.galaxy.test_connection(gpb.TestConnectionRequest())).ok

    with caplog.at_level("WARNING", logger="otwire.servers.mxgateway"):
        run(main())
    assert any("max_connections" in record.getMessage() for record in caplog.records)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)

    async def main() -> None:
        async with AsyncServer(port=0, tls_cert=str(cert), tls_key=str(key)) as server:
            assert server.tls
            context = ssl.create_default_context(cafile=str(cert))
            context.set_alpn_protocols(["h2"])
            async with RawClient(server.port, ssl=context) as client:
                assert (await client.galaxy.test_connection(gpb.TestConnectionRequest())).ok
            async with RawClient(server.port) as plaintext:
                with pytest.raises((StreamTerminatedError, ConnectionError, OSError, GRPCError)):
                    await plaintext.galaxy.test_connection(gpb.TestConnectionRequest(), timeout=5)

    run(main())


def test_serve_command_runs_until_sigterm() -> None:
    proc = OtwireProcess("serve", "mxgateway", "--port", "0", "--rate", "5", "--api-key", "k1 k2:metadata:read")
    try:
        match = proc.wait_for(r"simulator on 127\.0\.0\.1:(\d+) \(plaintext, API keys required\)")
        port = int(match[1])

        async def main() -> None:
            async with RawClient(port, "k2") as client:
                assert (await client.galaxy.test_connection(gpb.TestConnectionRequest())).ok

        run(main())
        assert proc.terminate() == 0
        assert "stopped" in proc.rest()
    finally:
        proc.kill()


def test_serve_command_rejects_bad_options() -> None:
    proc = OtwireProcess("serve", "mxgateway", "--port", "0", "--rate", "fast")
    try:
        assert proc.process.wait(timeout=60) == 2
        assert "rate" in proc.stderr()
    finally:
        proc.kill()


def test_idle_sessions_are_closed(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with AsyncServer(port=0, session_idle_timeout=0.05) as server, RawClient(server.port) as client:
            await client.open()
            await async_wait_until(lambda: server.model is not None and not server.model.sessions, what="expiry")
            reply = await client.invoke(K.REGISTER, pb.RegisterCommand(client_name="late"))
            assert code(reply) == pb.ProtocolStatusCode.SESSION_NOT_FOUND

    with caplog.at_level("WARNING", logger="otwire.servers.mxgateway"):
        run(main())
    assert any("idle" in record.getMessage() for record in caplog.records)
