"""otwire.clients.i3x.AsyncClient against otwire's own i3X server (threaded, in-process)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator

import pytest

import otwire.clients.i3x as i3x
from helpers import async_wait_until
from otwire.servers.i3x import Server

TIMEOUT = 10.0
FLOW = "pump-101-flow"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(port=0, tick=0.05) as running:
        yield running


def run(server: Server, body: Callable[[i3x.AsyncClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with i3x.AsyncClient(f"http://127.0.0.1:{server.port}/v1", timeout=TIMEOUT) as client:
            await body(client)
        assert not client.is_connected

    asyncio.run(asyncio.wait_for(main(), 30))


def test_reads(server: Server) -> None:
    async def body(client: i3x.AsyncClient) -> None:
        assert client.is_connected and client.server_info is not None
        assert (await client.get_info()).spec_version == "1.0"
        assert [ns.uri for ns in await client.get_namespaces()] == ["urn:otwire:i3x:demo"]
        types = await client.get_object_types()
        assert [t.element_id for t in await client.query_object_types([types[0].element_id])] == [types[0].element_id]
        assert await client.get_relationship_types()
        roots = await client.get_objects(root=True)
        assert roots and (await client.get_object(FLOW)).element_id == FLOW
        assert [o.element_id for o in await client.list_objects([FLOW, "missing"])] == [FLOW]
        assert await client.get_related_objects(["pump-101"])
        values = await asyncio.gather(client.get_value(FLOW), client.get_values([FLOW]), client.get_history(FLOW))
        assert values[0].element_id == FLOW and list(values[1]) == [FLOW] and values[2].values
        with pytest.raises(i3x.NotFoundError):
            await client.get_value("missing")

    run(server, body)


def test_subscription_sync_and_changes(server: Server) -> None:
    async def body(client: i3x.AsyncClient) -> None:
        subscription_id = await client.create_subscription()
        await client.register_items(subscription_id, [FLOW])
        await client.update_value(FLOW, 5.0)
        batches = await client.sync_subscription(subscription_id)
        assert any(c.element_id == FLOW for b in batches for c in b.updates)
        assert (await client.get_subscription(subscription_id)).subscription_id == subscription_id
        await client.unsubscribe(subscription_id)

        seen: list[i3x.ValueChange] = []
        got_callback = asyncio.Event()

        def on_change(_client: i3x.AsyncClient, change: i3x.ValueChange) -> None:
            seen.append(change)
            got_callback.set()

        client.on_value_change = on_change
        sub = await client.subscribe([FLOW])
        async for change in client.changes(sub):
            assert change.element_id == FLOW
            break
        await asyncio.wait_for(got_callback.wait(), TIMEOUT)
        assert seen[0].element_id == FLOW
        await client.unsubscribe(sub)

    run(server, body)


def test_changes_end_on_stop_and_fail_on_unknown(server: Server) -> None:
    async def body(client: i3x.AsyncClient) -> None:
        with pytest.raises(i3x.StreamError):
            async for _change in client.changes("no-such-subscription"):
                pass
        sub = await client.subscribe([FLOW])
        received = 0
        async for _change in client.changes(sub):
            received += 1
            client.stop_stream(sub.subscription_id)  # the iterator ends after what is queued
        assert received >= 1

    run(server, body)


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        client = i3x.AsyncClient(f"http://127.0.0.1:{port}/v1", timeout=TIMEOUT)
        with pytest.raises(i3x.ConnectionError):
            await client.connect()
        assert not client.is_connected

    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_consumer_that_falls_behind_pauses_the_stream_and_loses_nothing(server: Server) -> None:
    async def main() -> None:
        url = f"http://127.0.0.1:{server.port}/v1"
        async with i3x.AsyncClient(url, timeout=TIMEOUT, queue_size=2) as client:
            sub = await client.subscribe([FLOW])
            changes = client.changes(sub).__aiter__()
            first = await changes.__anext__()  # the iterator's queue exists now; nothing reads it
            await async_wait_until(lambda: client.stats.pauses >= 1, TIMEOUT)  # the demo ticks every 50 ms
            core = client._driver.core  # type: ignore[union-attr]
            [stream_conn] = [c for c, t in core._transports.items() if not t.is_reading()]  # type: ignore[attr-defined]
            assert stream_conn == core.engine._streams[client._watches[sub.subscription_id].stream_id].conn_id
            seqs = [first.sequence_number]
            for _ in range(12):  # reading again resumes the socket
                seqs.append((await changes.__anext__()).sequence_number)
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
            assert client.dropped_changes == 0 and client.stats.gaps == 0
            assert core._transports[stream_conn].is_reading()  # type: ignore[attr-defined]
            await changes.aclose()
            await client.unsubscribe(sub)

    asyncio.run(asyncio.wait_for(main(), 30))
