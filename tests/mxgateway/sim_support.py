"""Shared by the simulator's tests (mxgw-sim): a raw betterproto2/grpclib client, grpcio stubs, certificates.

Not a test module: ``test_server*.py`` and ``test_grpcio_client*.py`` import it as
``from .sim_support import ...``.
"""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from grpclib.client import Channel

from otwire.codecs.mxgateway import galaxy as gpb
from otwire.codecs.mxgateway import pb

T = TypeVar("T")

SPECS = Path(__file__).resolve().parents[2] / "specs" / "mxgateway"
K = pb.MxCommandKind
#: Seconds any one asyncio test may take.
TIMEOUT = 30.0


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` in a fresh event loop, failing it after ``TIMEOUT`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


class RawClient:
    """The generated stubs on one grpclib channel, with a bearer key, and a session helper."""

    def __init__(self, port: int, key: str | None = None, **channel: Any) -> None:
        self.channel = Channel("127.0.0.1", port, **channel)
        metadata = {"authorization": f"Bearer {key}"} if key is not None else None
        self.gateway = pb.MxAccessGatewayStub(self.channel, metadata=metadata)
        self.galaxy = gpb.GalaxyRepositoryStub(self.channel, metadata=metadata)
        self.session_id = ""

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.channel.close()

    async def open(self, name: str = "test") -> str:
        reply = await self.gateway.open_session(pb.OpenSessionRequest(client_session_name=name))
        self.session_id = reply.session_id
        return reply.session_id

    async def invoke(self, kind: pb.MxCommandKind, payload: Any = None, **call: Any) -> pb.MxCommandReply:
        command = pb.MxCommand(kind=kind)
        if payload is not None:
            setattr(command, kind.name.lower(), payload)
        request = pb.MxCommandRequest(session_id=self.session_id, client_correlation_id="c1", command=command)
        return await self.gateway.invoke(request, **call)

    async def register(self) -> int:
        reply = await self.invoke(K.REGISTER, pb.RegisterCommand(client_name="test"))
        assert reply.register is not None
        return reply.register.server_handle

    async def add(self, server_handle: int, tag: str) -> int:
        reply = await self.invoke(K.ADD_ITEM, pb.AddItemCommand(server_handle=server_handle, item_definition=tag))
        assert reply.protocol_status is not None and reply.protocol_status.code == pb.ProtocolStatusCode.OK, reply
        assert reply.add_item is not None
        return reply.add_item.item_handle

    async def advise(self, server_handle: int, item_handle: int) -> pb.MxCommandReply:
        return await self.invoke(K.ADVISE, pb.ItemHandleCommand(server_handle=server_handle, item_handle=item_handle))


def code(reply: Any) -> Any:
    """The ``protocol_status.code`` of a reply."""
    return reply.protocol_status.code


async def take(stream: Any, count: int) -> list[Any]:
    """The next ``count`` messages of an async iterator."""
    found = []
    async for message in stream:
        found.append(message)
        if len(found) == count:
            break
    return found


def certificate(folder: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1/localhost (openssl CLI)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def generate_grpcio(folder: Path) -> dict[str, ModuleType]:
    """Generate the grpcio-tools stubs of both .proto files into ``folder`` and import them.

    Returns:
        ``{"gw": mxaccess_gateway_pb2, "gw_grpc": ..._pb2_grpc, "galaxy": ..., "galaxy_grpc": ...}``.
    """
    names = ("mxaccess_gateway_pb2", "mxaccess_gateway_pb2_grpc", "galaxy_repository_pb2", "galaxy_repository_pb2_grpc")
    if all(name in sys.modules for name in names):  # loaded already (protobuf takes each .proto once per process)
        return dict(zip(("gw", "gw_grpc", "galaxy", "galaxy_grpc"), (sys.modules[n] for n in names), strict=True))
    from grpc_tools import protoc

    include = Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{SPECS}", f"-I{include}", f"--python_out={folder}", f"--grpc_python_out={folder}"]
    for name in ("mxaccess_gateway.proto", "galaxy_repository.proto"):
        assert protoc.main([*args, str(SPECS / name)]) == 0, name
    sys.path.insert(0, str(folder))
    try:
        return {
            "gw": importlib.import_module("mxaccess_gateway_pb2"),
            "gw_grpc": importlib.import_module("mxaccess_gateway_pb2_grpc"),
            "galaxy": importlib.import_module("galaxy_repository_pb2"),
            "galaxy_grpc": importlib.import_module("galaxy_repository_pb2_grpc"),
        }
    finally:
        sys.path.remove(str(folder))
