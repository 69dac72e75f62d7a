"""Call every public method of i3x-client 1.0.0's ``Client`` once against an i3X server.

Run as ``python every_method.py BASE_URL`` in a subprocess (never inside the pytest process: ``tests/i3x`` shadows
the ``i3x`` package there). Prints ``ok <step>`` per step and ``ALL OK`` at the end; any failure raises (exit 1).
Element ids are the otwire demo plant's (``otwire serve i3x``).
"""

from __future__ import annotations

import sys
import threading

import i3x

TIMEOUT = 20.0
SENSOR, OTHER = "pump-101-flow", "tank-1-level"


def step(name: str) -> None:
    print("ok", name, flush=True)


def explore(client: i3x.Client) -> None:
    info = client.get_info()
    assert info.spec_version.startswith("1."), info
    step("get_info")
    namespaces = client.get_namespaces()
    assert namespaces and namespaces[0].uri, namespaces
    step("get_namespaces")
    types = client.get_object_types()
    assert {"Pump", "Measurement"} <= {t.element_id for t in types}, types
    assert client.get_object_types(namespace_uri=namespaces[0].uri), "by namespace"
    step("get_object_types")
    assert [t.element_id for t in client.query_object_types(["Pump"])] == ["Pump"]
    step("query_object_types")
    rel_types = client.get_relationship_types()
    assert "HasComponent" in {r.element_id for r in rel_types}, rel_types
    assert client.get_relationship_types(namespace_uri=namespaces[0].uri)
    step("get_relationship_types")
    assert [r.element_id for r in client.query_relationship_types(["HasComponent"])] == ["HasComponent"]
    step("query_relationship_types")
    objects = client.get_objects()
    assert SENSOR in {o.element_id for o in objects}, objects
    assert [o.element_id for o in client.get_objects(root=True)] == ["plant"]
    pumps = client.get_objects(type_element_id="Pump", include_metadata=True)
    assert {o.element_id for o in pumps} == {"pump-101", "pump-102"}, pumps
    assert all(o.metadata is not None for o in pumps), pumps
    step("get_objects")
    pump = client.get_object("pump-101", include_metadata=True)
    assert pump.element_id == "pump-101" and pump.parent_id == "line-1", pump
    step("get_object")
    listed = client.list_objects(["pump-101", SENSOR])
    assert [o.element_id for o in listed] == ["pump-101", SENSOR], listed
    step("list_objects")
    related = client.get_related_objects(["pump-101"], relationship_type="HasComponent")
    assert SENSOR in {r.object.element_id for r in related}, related
    assert client.get_related_objects(["pump-101"])
    step("get_related_objects")


def values(client: i3x.Client) -> None:
    value = client.get_value(SENSOR)
    assert value.element_id == SENSOR and isinstance(value.value, float), value
    assert client.get_value("pump-101", max_depth=0).components, "composition"
    step("get_value")
    both = client.get_values([SENSOR, OTHER])
    assert set(both) == {SENSOR, OTHER}, both
    step("get_values")
    history = client.get_history(SENSOR, start_time="2000-01-01T00:00:00Z")
    assert history.element_id == SENSOR and len(history.values) > 1, history
    step("get_history")
    client.update_value(SENSOR, 72.5)
    assert client.get_value(SENSOR).value == 72.5
    client.update_value(SENSOR, {"value": 73.5, "quality": "Good", "timestamp": "2026-01-01T00:00:00Z"})
    assert client.get_value(SENSOR).value == 73.5
    step("update_value")
    results = client.update_values({SENSOR: 74.5, OTHER: 18.3})
    assert len(results) == 2, results
    assert client.get_value(OTHER).value == 18.3
    step("update_values")
    try:
        client.update_history(SENSOR, [{"value": 1.0, "quality": "Good", "timestamp": "2026-01-01T00:00:00Z"}])
    except i3x.NotSupportedError:
        print("update_history: not supported", flush=True)
    step("update_history")


def low_level_subscriptions(client: i3x.Client) -> None:
    sub_id = client.create_subscription(display_name="conformance")
    assert sub_id, sub_id
    step("create_subscription")
    client.register_items(sub_id, [SENSOR, OTHER])
    step("register_items")
    client.unregister_items(sub_id, [OTHER])
    step("unregister_items")
    sub = client.get_subscription(sub_id)
    assert sub.subscription_id == sub_id and sub.display_name == "conformance", sub
    step("get_subscription")
    listed = client.list_subscriptions([sub_id])
    assert [s.subscription_id for s in listed] == [sub_id], listed
    step("list_subscriptions")
    batches = client.sync_subscription(sub_id)
    client.update_value(SENSOR, 80.5)
    last = batches[-1].sequence_number if batches else None
    batches = client.sync_subscription(sub_id, last_sequence_number=last)
    seen = [(u.element_id, u.value) for b in batches for u in b.updates]
    assert (SENSOR, 80.5) in seen, seen
    step("sync_subscription")
    changed = threading.Event()
    client.on_value_change = lambda _client, change: changed.set() if change.element_id == SENSOR else None
    client.start_stream(sub_id)
    assert changed.wait(TIMEOUT), "no value change on the stream"  # the demo plant ticks every second
    step("start_stream")
    client.stop_stream(sub_id)
    step("stop_stream")
    client.unsubscribe(sub_id)


def high_level_subscriptions(client: i3x.Client) -> None:
    changed = threading.Event()
    client.on_value_change = lambda _client, change: changed.set() if change.element_id == OTHER else None
    sub = client.subscribe([OTHER], display_name="high level")
    assert sub.subscription_id, sub
    client.update_value(OTHER, 19.5)
    assert changed.wait(TIMEOUT), "no value change after subscribe"
    step("subscribe")
    client.unsubscribe(sub)
    try:
        client.get_subscription(sub.subscription_id)
    except i3x.NotFoundError:
        pass
    else:
        raise AssertionError("subscription still exists after unsubscribe")
    step("unsubscribe")


def main(base_url: str) -> None:
    client = i3x.Client(base_url, timeout=TIMEOUT)
    client.connect()
    assert client.is_connected and client.server_info is not None
    step("connect")
    explore(client)
    values(client)
    low_level_subscriptions(client)
    high_level_subscriptions(client)
    client.disconnect()
    assert not client.is_connected
    step("disconnect")
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
