"""Two slixmpp clients exchange a chat message through the test Prosody (the set-up itself works)."""

from __future__ import annotations

import asyncio

from .prosody import ProsodyServer, connect_client, disconnect_client


def test_two_clients_exchange_a_message(prosody: ProsodyServer) -> None:
    async def scenario() -> tuple[str, str]:
        alice = await connect_client(prosody, "requester", "chat")
        bob = await connect_client(prosody, "sensor", "chat")
        got: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        bob.add_event_handler("message", lambda msg: got.done() or got.set_result((str(msg["from"]), str(msg["body"]))))
        alice.send_message(mto=bob.boundjid.full, mbody="hello through prosody", mtype="chat")
        try:
            return await asyncio.wait_for(got, 5.0)
        finally:
            await disconnect_client(alice)
            await disconnect_client(bob)

    sender, body = asyncio.run(scenario())
    assert sender == f"{prosody.accounts['requester'].jid}/chat"
    assert body == "hello through prosody"


def test_server_log_shows_no_errors(prosody: ProsodyServer) -> None:
    assert prosody.process is not None and prosody.process.poll() is None
    errors = [line for line in prosody.read_log().splitlines() if "\terror\t" in line]
    assert errors == []
