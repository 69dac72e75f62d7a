"""``GalaxyRepositoryClient`` against the grpcio peer: pages, lazy iteration, browse, deploy events."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import pytest

from helpers import async_wait_until
from otwire.clients.mxgateway import GalaxyRepositoryClient, MxGatewayRpcError, galaxy
from otwire.errors import InvalidArgument

from .grpcio_peer import KEY, GrpcioPeer
from .grpcio_peer_galaxy import T0
from .grpcio_peer_kit import connect, peer, run

__all__ = ["peer"]


async def _galaxy(peer: GrpcioPeer) -> GalaxyRepositoryClient:
    return await GalaxyRepositoryClient.connect(endpoint=peer.endpoint, api_key=KEY, plaintext=True)


def test_connection_and_last_deploy(peer: GrpcioPeer) -> None:
    async def scenario() -> tuple[bool, dt.datetime | None]:
        async with await _galaxy(peer) as client:
            return await client.test_connection(), await client.get_last_deploy_time()

    assert run(scenario()) == (True, T0)


def test_iter_hierarchy_is_lazy(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await _galaxy(peer) as client:
            async with contextlib.aclosing(client.iter_hierarchy(page_size=4)) as objects:  # type: ignore[type-var]
                first = [await anext(objects), await anext(objects)]
            assert [o.tag_name for o in first] == ["Area1", "Area1.Pump1"]
            assert peer.galaxy.pages_served == 1
            every = [o.tag_name async for o in client.iter_hierarchy(page_size=4)]
            assert len(every) == len(peer.galaxy.objects) == 13 and len(set(every)) == 13
            assert peer.galaxy.pages_served == 1 + 4
            filtered = [o.tag_name async for o in client.iter_hierarchy(tag_name_glob="Area2*")]
            assert filtered[0] == "Area2" and all(t.startswith("Area2") for t in filtered)

    run(scenario())


def test_discover_one_page_and_stale_token(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await _galaxy(peer) as client:
            page = await client.discover_hierarchy(page_size=5)
            assert len(page.objects) == 5 and page.next_page_token and page.total_object_count == 13
            assert page.objects[1].attributes[0].full_tag_reference == "Area1.Pump1.Speed"
            peer.call(peer.galaxy.deploy)
            await async_wait_until(lambda: peer.galaxy.cache_sequence == 2)
            with pytest.raises(MxGatewayRpcError, match="INVALID_ARGUMENT stale") as stale:
                await client.discover_hierarchy(page_size=5, page_token=page.next_page_token)
            assert stale.value.code == 3
            with pytest.raises(InvalidArgument, match="unknown filter"):
                await client.discover_hierarchy(no_such_filter=1)

    run(scenario())


def test_browse_children(peer: GrpcioPeer) -> None:
    async def scenario() -> None:
        async with await connect(peer) as gateway:
            client = GalaxyRepositoryClient(gateway.connection)
            roots = await client.browse_children()
            assert [o.tag_name for o in roots.children] == ["Area1", "Area2"] and not roots.next_page_token
            kids = await client.browse_children(parent_gobject_id=100, page_size=2)
            assert len(kids.children) == 2 and kids.next_page_token
            every = [o.browse_name async for o in client.iter_children(parent_tag_name="Area1", page_size=2)]
            assert every == [f"Pump{n}" for n in range(1, 6)]
            with pytest.raises(MxGatewayRpcError, match="NOT_FOUND"):
                await client.browse_children(parent_gobject_id=12345)
            with pytest.raises(InvalidArgument, match="at most one"):
                await client.browse_children(parent_gobject_id=100, parent_tag_name="Area1")
            await client.close()  # the shared channel stays open
            assert await client.test_connection()

    run(scenario())


def test_watch_deploy_events(peer: GrpcioPeer) -> None:
    async def scenario() -> list[galaxy.DeployEvent]:
        async with await _galaxy(peer) as client:
            out: list[galaxy.DeployEvent] = []
            async for event in client.watch_deploy_events():
                out.append(event)
                if len(out) == 1:
                    peer.call(peer.galaxy.deploy)
                else:
                    break
            await async_wait_until(peer.galaxy.watch_cancelled.is_set, what="server saw the cancel")
            skipped = client.watch_deploy_events(last_seen_deploy_time=out[1].time_of_last_deploy)
            task = asyncio.ensure_future(anext(skipped))
            await async_wait_until(lambda: len(peer.galaxy.watchers) == 1)
            peer.call(peer.galaxy.deploy)
            out.append(await task)
            await skipped.aclose()  # type: ignore[attr-defined]
            with pytest.raises(InvalidArgument, match="timezone"):
                await anext(client.watch_deploy_events(last_seen_deploy_time=dt.datetime(2026, 1, 1)))
            return out

    initial, first, second = run(scenario())
    assert initial.is_initial_state and initial.sequence == 1 and initial.time_of_last_deploy == T0
    assert (first.sequence, first.is_initial_state) == (2, False)
    assert second.sequence == 3 and second.time_of_last_deploy == T0 + dt.timedelta(minutes=10)
