"""``GalaxyRepositoryClient`` against the simulator's Galaxy, and the client over TLS with its certificate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from grpclib.const import Status

from helpers import async_wait_until
from otwire.clients.mxgateway import (
    GalaxyRepositoryClient,
    GatewayClient,
    MxGatewayRpcError,
    MxGatewayUnavailableError,
    galaxy,
)
from otwire.errors import InvalidArgument
from otwire.servers.mxgateway import AsyncServer

from .sim_fixtures import KEY, KEYS, run, simulator
from .sim_support import certificate

OBJECTS = 31  # the simulator's Galaxy (specs/mxgateway/notes.md, "Galaxy")


def test_iter_hierarchy_fetches_one_page_at_a_time() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            repository = GalaxyRepositoryClient(client.connection)
            pages: list[galaxy.DiscoverHierarchyReply] = []
            fetch = repository.discover_hierarchy

            async def counted(**kwargs: Any) -> galaxy.DiscoverHierarchyReply:
                pages.append(await fetch(**kwargs))
                return pages[-1]

            repository.discover_hierarchy = counted  # type: ignore[method-assign]
            objects = repository.iter_hierarchy(page_size=5)
            first = [await anext(objects) for _ in range(5)]
            assert len(pages) == 1  # the second page is not asked for before the first is used up
            sixth = await anext(objects)
            assert len(pages) == 2
            rest = [obj async for obj in objects]
            ids = [obj.gobject_id for obj in [*first, sixth, *rest]]
            assert ids == sorted(ids) and len(set(ids)) == OBJECTS and len(pages) == 7
            assert pages[0].total_object_count == OBJECTS and pages[-1].next_page_token == ""

    run(scenario())


def test_browse_children_and_filters() -> None:
    async def scenario() -> None:
        async with simulator() as (_, client):
            repository = GalaxyRepositoryClient(client.connection)
            assert await repository.test_connection() is True
            roots = await repository.browse_children()
            assert [obj.tag_name for obj in roots.children] == ["Plant"]
            area = await repository.browse_children(parent_tag_name="Area1", include_attributes=False)
            names = [obj.tag_name for obj in area.children]
            assert names == sorted(names, key=str.lower) and "Pump_001" in names and "Motor_001" not in names
            pumps = [o.tag_name async for o in repository.iter_hierarchy(page_size=2, tag_name_glob="pump_*")]
            assert pumps == ["Pump_001", "Pump_002", "Pump_003", "Pump_004"]

    run(scenario())


def test_watch_deploy_events_sees_triggered_deploys() -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            repository = GalaxyRepositoryClient(client.connection)
            before = await repository.get_last_deploy_time()
            assert before is not None
            seen: list[galaxy.DeployEvent] = []

            async def watch() -> None:
                async for event in repository.watch_deploy_events():
                    seen.append(event)
                    if len(seen) == 3:
                        return

            task = asyncio.ensure_future(watch())
            await async_wait_until(lambda: len(seen) == 1, what="the initial state")
            sequences = [server.deploy(), server.deploy()]
            await asyncio.wait_for(task, 10)
            assert seen[0].is_initial_state and not seen[1].is_initial_state
            assert [event.sequence for event in seen[1:]] == sequences
            after = await repository.get_last_deploy_time()
            assert after is not None and after >= before

            assert server.galaxy_service is not None
            watchers = server.galaxy_service.watchers
            await async_wait_until(lambda: not watchers, what="the first watch ended on the simulator")
            skipped = repository.watch_deploy_events(last_seen_deploy_time=after)
            pending = asyncio.ensure_future(anext(skipped))
            await async_wait_until(lambda: len(watchers) == 1, what="the second watch")
            newest = server.deploy()
            event = await pending  # the initial state was not newer than last_seen_deploy_time: skipped
            assert (event.sequence, event.is_initial_state) == (newest, False)
            await skipped.aclose()  # type: ignore[attr-defined]

    run(scenario())


def test_tls_with_the_simulators_certificate(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)

    async def scenario() -> None:
        async with AsyncServer(port=0, rate=0, api_key=KEYS, tls_cert=cert, tls_key=key) as server:
            endpoint = f"127.0.0.1:{server.port}"
            options = {"ca_file": str(cert), "server_name_override": "localhost"}
            async with await GatewayClient.connect(endpoint=endpoint, api_key=KEY, **options) as client:
                session = await client.open_session("tls")
                assert await session.register("tls") >= 1
                repository = GalaxyRepositoryClient(client.connection)
                assert await repository.test_connection()
            with pytest.raises(MxGatewayUnavailableError):  # system roots do not know the self-signed certificate
                async with await GatewayClient.connect(endpoint=endpoint, api_key=KEY) as untrusted:
                    await untrusted.open_session("tls")
            with pytest.raises(MxGatewayUnavailableError):  # plaintext against a TLS port
                async with await GatewayClient.connect(endpoint=endpoint, api_key=KEY, plaintext=True) as plain:
                    await plain.open_session("plain", timeout=5)

    run(scenario())


def test_a_deploy_while_paging_is_a_typed_error_and_a_restart_works() -> None:
    async def scenario() -> None:
        async with simulator() as (server, client):
            repository = GalaxyRepositoryClient(client.connection)
            objects = repository.iter_hierarchy(page_size=10)
            first = [await anext(objects) for _ in range(10)]
            server.deploy()  # the next page token is bound to the old cache sequence
            with pytest.raises(MxGatewayRpcError) as caught:
                await anext(objects)
            assert caught.value.status == Status.INVALID_ARGUMENT and "stale page_token" in str(caught.value)
            again = [obj.gobject_id async for obj in repository.iter_hierarchy(page_size=10)]
            assert again[:10] == [obj.gobject_id for obj in first] and len(again) == OBJECTS
            with pytest.raises(MxGatewayRpcError) as missing:
                await repository.browse_children(parent_tag_name="NoSuchArea")
            assert missing.value.status == Status.NOT_FOUND
            with pytest.raises(InvalidArgument):  # refused before anything is sent
                await repository.discover_hierarchy(no_such_filter=1)

    run(scenario())
