"""The plugin's ``Corker``: one machine step's stanzas leave in one TCP segment (plugin.md §3)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from otwire.clients.xep0323 import _cork

pytestmark = pytest.mark.skipif(not hasattr(socket, "TCP_CORK"), reason="TCP_CORK is Linux-only")


class _Stream:
    """The two attributes of a slixmpp stream the corker uses: ``loop`` and ``transport``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: Any) -> None:
        self.loop = loop
        self.transport = transport


def _corked(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK)


async def _connected_pair() -> tuple[asyncio.StreamWriter, asyncio.StreamReader, asyncio.AbstractServer]:
    accepted: asyncio.Future[asyncio.StreamReader] = asyncio.get_running_loop().create_future()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(reader)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    return writer, await accepted, server


def test_cork_holds_the_writes_of_one_loop_turn_and_releases_them() -> None:
    async def main() -> None:
        writer, reader, server = await _connected_pair()
        sock = writer.transport.get_extra_info("socket")
        corker = _cork.Corker(_Stream(asyncio.get_running_loop(), writer.transport))
        assert _corked(sock) == 0
        corker.cork()
        corker.cork()  # a second burst in the same turn joins the first
        assert _corked(sock) == 1
        writer.write(b"<iq/>")
        writer.write(b"<message/>")
        await asyncio.sleep(0)  # the send-queue task's turn
        await asyncio.sleep(0)
        assert _corked(sock) == 0
        assert await asyncio.wait_for(reader.readexactly(15), 5) == b"<iq/><message/>"
        writer.close()
        server.close()

    asyncio.run(main())


def test_uncork_after_close_and_without_a_socket_is_harmless() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        _cork.Corker(_Stream(loop, None)).cork()  # not connected: nothing to cork
        writer, _, server = await _connected_pair()
        corker = _cork.Corker(_Stream(loop, writer.transport))
        corker.cork()
        writer.transport.abort()
        await writer.wait_closed()
        corker.uncork()  # the socket is closed: the OSError is logged, not raised
        corker.uncork()
        corker.cork()  # nothing to cork any more
        server.close()

    asyncio.run(main())
