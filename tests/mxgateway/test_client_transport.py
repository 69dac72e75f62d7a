"""Authentication, deadlines, an unreachable gateway, key redaction and TLS, against the grpcio peer."""

from __future__ import annotations

import logging
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import async_wait_until
from otwire.clients.mxgateway import (
    GalaxyRepositoryClient,
    GatewayClient,
    MxGatewayAuthenticationError,
    MxGatewayDeadlineError,
    MxGatewayError,
    MxGatewayPermissionError,
    MxGatewayUnavailableError,
)
from otwire.errors import InvalidArgument, RequestTimeout, TransportError

from .grpcio_peer import READER, GrpcioPeer
from .grpcio_peer_kit import connect, peer, run

__all__ = ["peer"]
WRONG = "mxgw_wrong_T0pS3cretValue"


def test_wrong_key_is_unauthenticated_and_redacted(peer: GrpcioPeer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> tuple[str, MxGatewayError, MxGatewayError]:
        client = await connect(peer, key=WRONG)
        with pytest.raises(MxGatewayAuthenticationError) as unary:
            await client.open_session("x")
        with pytest.raises(MxGatewayAuthenticationError) as stream:
            async for _ in client.stream_events_raw("sess-1"):
                pass
        text = repr(client)
        await client.close()
        return text, unary.value, stream.value

    text, unary, stream = run(scenario())
    assert peer.auth.seen[0] == ("OpenSession", f"Bearer {WRONG}")  # the peer got the key ...
    for shown in (text, str(unary), repr(unary), str(stream), caplog.text):  # ... nobody shows it
        assert WRONG not in shown
    assert "***" in text and "invalid API key '***'" in str(unary)
    assert unary.code == 16 and unary.status.name == "UNAUTHENTICATED"


def test_missing_scope_is_permission_denied(peer: GrpcioPeer) -> None:
    async def scenario() -> MxGatewayPermissionError:
        async with await connect(peer, key=READER) as client:
            session = await client.open_session()
            server = await session.register("reader")
            item = await session.add_item(server, "A.x")
            with pytest.raises(MxGatewayPermissionError) as denied:
                await session.write(server, item, 1)
            assert session.logic.pending == {}
            return denied.value

    denied = run(scenario())
    assert denied.code == 7 and "invoke:write" in str(denied)


def test_deadline_of_a_slow_call(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await connect(peer) as client:
            session = await client.open_session()
            with pytest.raises(MxGatewayDeadlineError) as expired:
                await session.register("slow", timeout=0.3)
            assert isinstance(expired.value, RequestTimeout) and isinstance(expired.value, TimeoutError)
            await async_wait_until(peer.gateway.slow_cancelled.is_set, what="server saw the deadline")
            assert session.logic.pending == {}
        async with await connect(peer, timeout=0.3) as client:  # the client's default per-call timeout
            session = await client.open_session()
            with pytest.raises(MxGatewayDeadlineError):
                await session.register("slow")
            assert await session.register("fast") == 1

    run(scenario())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_gateway_is_unavailable() -> None:
    async def scenario() -> MxGatewayUnavailableError:
        with pytest.raises(MxGatewayUnavailableError) as refused:
            await GatewayClient.connect(endpoint=f"127.0.0.1:{_free_port()}", api_key=WRONG, plaintext=True)
        return refused.value

    error = run(scenario())
    assert isinstance(error, TransportError) and "ConnectionRefusedError" in str(error) and WRONG not in str(error)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"endpoint": "host:notaport"}, "not a number"),
        ({"endpoint": ":5000"}, "host:port"),
        ({"plaintext": True, "ca_file": "x.pem"}, "need TLS"),
        ({"api_key": "two words"}, "metadata"),
        ({"ca_file": "/nonexistent.pem"}, "cannot be loaded"),
    ],
)
def test_bad_connection_arguments(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"endpoint": "127.0.0.1:1", "api_key": "k", **kwargs}
    with pytest.raises(InvalidArgument, match=match):
        run(GatewayClient.connect(**arguments))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=gw.test",
         "-addext", "subjectAltName=DNS:gw.test"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


def test_tls_with_ca_file_and_server_name_override(certificate: tuple[Path, Path]) -> None:
    key, cert = certificate

    async def scenario(endpoint: str) -> None:
        tls = {"endpoint": endpoint, "api_key": "k", "ca_file": str(cert), "server_name_override": "gw.test"}
        async with await GalaxyRepositoryClient.connect(**tls) as client:  # type: ignore[arg-type]
            with pytest.raises(MxGatewayAuthenticationError):  # TLS works; the key "k" is refused
                await client.test_connection()
        with pytest.raises(MxGatewayUnavailableError, match="certificate"):  # name mismatch without the override
            await GatewayClient.connect(endpoint=endpoint, api_key="k", ca_file=str(cert))
        with pytest.raises(MxGatewayUnavailableError, match="certificate"):  # system roots do not trust it
            await GatewayClient.connect(endpoint=endpoint, api_key="k", server_name_override="gw.test")
        with pytest.raises(MxGatewayUnavailableError):  # TLS is the default: no plaintext fallback
            await GatewayClient.connect(endpoint=plain.endpoint, api_key="k", connect_timeout=2)

    with GrpcioPeer(tls=(key.read_bytes(), cert.read_bytes())) as secure, GrpcioPeer() as plain:
        run(scenario(secure.endpoint))
