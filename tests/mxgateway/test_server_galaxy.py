"""The simulator's GalaxyRepository: discovery with filters and paging, browsing, deploy events."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from otwire.codecs.mxgateway import galaxy as gpb
from otwire.servers.mxgateway import AsyncServer, Server
from otwire.servers.mxgateway.galaxy import glob_pattern

from .sim_support import RawClient, run, take

ITEMS = 5


@pytest.fixture
def server() -> Iterator[Server]:
    with Server(port=0, rate=1, items=ITEMS) as running:
        yield running


async def _all(client: RawClient, page_size: int, **filters: object) -> tuple[list[gpb.GalaxyObject], int]:
    objects: list[gpb.GalaxyObject] = []
    token, pages = "", 0
    while True:
        reply = await client.galaxy.discover_hierarchy(
            gpb.DiscoverHierarchyRequest(page_size=page_size, page_token=token, **filters)  # type: ignore[arg-type]
        )
        objects.extend(reply.objects)
        pages += 1
        assert reply.total_object_count == len(objects) or reply.next_page_token
        token = reply.next_page_token
        if not token:
            return objects, pages


def test_glob_pattern() -> None:
    assert glob_pattern("pump_*").fullmatch("Pump_001")
    assert glob_pattern("Pump_00?").fullmatch("pump_004") and not glob_pattern("Pump_00?").fullmatch("Pump_0010")
    assert not glob_pattern("Pump").fullmatch("Pump_001") and glob_pattern("a.b").fullmatch("A.B")
    assert not glob_pattern("a.b").fullmatch("axb")


def test_connection_and_last_deploy(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            assert (await client.galaxy.test_connection(gpb.TestConnectionRequest())).ok
            reply = await client.galaxy.get_last_deploy_time(gpb.GetLastDeployTimeRequest())
            assert server.galaxy is not None and reply.time_of_last_deploy == server.galaxy.time_of_last_deploy

    run(main())


def test_discover_pages_through_everything(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            whole, pages = await _all(client, 0)
            assert pages == 1 and 24 <= len(whole) <= 48
            paged, pages = await _all(client, 7)
            assert pages == -(-len(whole) // 7) and [o.gobject_id for o in paged] == [o.gobject_id for o in whole]
            by_id = {o.gobject_id: o for o in whole}
            pump = next(o for o in whole if o.tag_name == "Pump_001")
            assert (
                pump.template_chain == ["$Pump", "$gPump", "$UserDefined"]
                and pump.contained_path == "Plant/Area1/Pump_001"
            )
            assert by_id[pump.parent_gobject_id].is_area and pump.has_children
            pv = next(a for a in pump.attributes if a.attribute_name == "PV")
            assert pv.full_tag_reference == "Pump_001.PV" and pv.is_historized and pv.mx_data_type == 4
            motor = next(o for o in whole if o.parent_gobject_id == pump.gobject_id)
            assert (motor.contained_name, motor.browse_name, motor.tag_name) == ("Motor", "Motor", "Motor_001")
            sim = next(o for o in whole if o.tag_name == "SimTags")
            assert [a.full_tag_reference for a in sim.attributes if not a.is_built_in][-1] == f"SimTags.Tag{ITEMS:04d}"

    run(main())


def test_discover_filters(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            areas, _ = await _all(client, 0, category_ids=[13])
            assert sorted(o.tag_name for o in areas) == ["Area1", "Area2", "Plant", "Utilities"]
            pumps, _ = await _all(client, 0, tag_name_glob="pump_*", include_attributes=False)
            assert [o.tag_name for o in pumps] == [f"Pump_00{n}" for n in range(1, 5)]
            assert all(not o.attributes for o in pumps)
            subtree, _ = await _all(client, 0, root_tag_name="Area1", max_depth=1)
            names = {o.tag_name for o in subtree}
            assert "Area1" in names and "Pump_001" in names and "Motor_001" not in names
            deep, _ = await _all(client, 0, root_contained_path="Plant/Area1")
            assert "Motor_001" in {o.tag_name for o in deep}
            alarms, _ = await _all(client, 0, alarm_bearing_only=True)
            assert alarms and all(any(a.is_alarm for a in o.attributes) for o in alarms)
            historized, _ = await _all(client, 0, historized_only=True, template_chain_contains=["$Tank"])
            assert [o.tag_name for o in historized] == ["Tank_001", "Tank_002"]
            with pytest.raises(GRPCError) as caught:
                await _all(client, 0, root_gobject_id=9999)
            assert caught.value.status == Status.NOT_FOUND

    run(main())


def test_stale_or_foreign_page_tokens_are_refused(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            first = await client.galaxy.discover_hierarchy(gpb.DiscoverHierarchyRequest(page_size=5))
            assert first.next_page_token
            with pytest.raises(GRPCError) as foreign:
                await client.galaxy.discover_hierarchy(
                    gpb.DiscoverHierarchyRequest(page_size=5, page_token=first.next_page_token, category_ids=[13])
                )
            assert foreign.value.status == Status.INVALID_ARGUMENT
            sequence = server.deploy()
            assert sequence == first.cache_sequence + 1
            with pytest.raises(GRPCError) as stale:
                await client.galaxy.discover_hierarchy(
                    gpb.DiscoverHierarchyRequest(page_size=5, page_token=first.next_page_token)
                )
            assert stale.value.status == Status.INVALID_ARGUMENT and "stale" in str(stale.value.message)
            with pytest.raises(GRPCError) as garbage:
                await client.galaxy.discover_hierarchy(gpb.DiscoverHierarchyRequest(page_token="x"))
            assert garbage.value.status == Status.INVALID_ARGUMENT

    run(main())


def test_browse_children(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            roots = await client.galaxy.browse_children(gpb.BrowseChildrenRequest())
            assert [o.tag_name for o in roots.children] == ["Plant"]
            plant = await client.galaxy.browse_children(gpb.BrowseChildrenRequest(parent_tag_name="Plant"))
            kinds = [o.is_area for o in plant.children]
            assert kinds == sorted(kinds, reverse=True) and kinds[0]
            areas = [o.browse_name for o in plant.children if o.is_area]
            assert areas == sorted(areas, key=str.lower)
            names: list[str] = []
            token = ""
            while True:
                page = await client.galaxy.browse_children(
                    gpb.BrowseChildrenRequest(parent_contained_path="Plant/Area1", page_size=2, page_token=token)
                )
                names += [o.browse_name for o in page.children]
                token = page.next_page_token
                if not token:
                    break
            assert names == sorted(names, key=str.lower) and len(names) == 9
            with pytest.raises(GRPCError) as caught:
                await client.galaxy.browse_children(gpb.BrowseChildrenRequest(parent_gobject_id=4242))
            assert caught.value.status == Status.NOT_FOUND

    run(main())


def test_watch_deploy_events(server: Server) -> None:
    async def main() -> None:
        async with RawClient(server.port) as client:
            request = gpb.WatchDeployEventsRequest()
            async with contextlib.aclosing(client.galaxy.watch_deploy_events(request)) as events:
                initial = (await take(events, 1))[0]
                assert initial.is_initial_state and initial.object_count > 20
                server.deploy()
                following = (await take(events, 1))[0]
            assert not following.is_initial_state and following.sequence == initial.sequence + 1
            assert following.time_of_last_deploy is not None and initial.time_of_last_deploy is not None
            assert following.time_of_last_deploy >= initial.time_of_last_deploy

    run(main())


def test_periodic_deploys() -> None:
    async def main() -> None:
        async with AsyncServer(port=0, deploy_interval=0.05) as server, RawClient(server.port) as client:
            events = await take(client.galaxy.watch_deploy_events(gpb.WatchDeployEventsRequest()), 3)
            assert [e.is_initial_state for e in events] == [True, False, False]
            assert events[2].sequence == events[1].sequence + 1

    run(main())
