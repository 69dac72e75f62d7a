"""The i3X client over TLS: a self-signed certificate (openssl CLI) on a TLS front of the in-process server."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import otwire.clients.i3x as i3x
from otwire.servers.i3x import Server

TIMEOUT = 10.0

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@pytest.fixture(scope="module")
def tls_front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A TLS listener on localhost forwarding to an otwire i3X server; yields (port, CA file)."""
    cert, key = _certificate(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    with Server(port=0, tick=0.05) as server:
        writers: list[asyncio.StreamWriter] = []

        async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            back_reader, back_writer = await asyncio.open_connection("127.0.0.1", server.port)
            writers.extend((writer, back_writer))
            await asyncio.gather(_pipe(reader, back_writer), _pipe(back_reader, writer))

        listener = loop.run_until_complete(asyncio.start_server(forward, "127.0.0.1", 0, ssl=context))
        port = listener.sockets[0].getsockname()[1]
        thread = threading.Thread(target=lambda: (ready.set(), loop.run_forever()), daemon=True)
        thread.start()
        ready.wait(TIMEOUT)
        try:
            yield port, cert
        finally:

            async def stop() -> None:
                listener.close()
                for writer in writers:
                    writer.close()
                await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)

            asyncio.run_coroutine_threadsafe(stop(), loop).result(TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(TIMEOUT)
            loop.close()


def test_https_with_ca_file(tls_front: tuple[int, Path]) -> None:
    port, cert = tls_front
    with i3x.Client(f"https://localhost:{port}/v1", verify=str(cert), timeout=TIMEOUT) as client:
        assert client.get_value("pump-101-flow").element_id == "pump-101-flow"


def test_https_without_verification(tls_front: tuple[int, Path]) -> None:
    with i3x.Client(f"https://127.0.0.1:{tls_front[0]}/v1", verify=False, timeout=TIMEOUT) as client:
        assert client.get_namespaces()


def test_https_untrusted_certificate_is_connection_error(tls_front: tuple[int, Path]) -> None:
    client = i3x.Client(f"https://localhost:{tls_front[0]}/v1", timeout=TIMEOUT)
    with pytest.raises(i3x.ConnectionError):
        client.connect()
    assert not client.is_connected
