"""The README examples of i3x-client 1.0.0, run against ``otwire serve i3x``.

Run as ``python readme_examples.py BASE_URL`` in a subprocess. The examples are the README's code, adapted ONLY
where it names a server: the base URL becomes ``BASE``, the element ids ``sensor-001``/``sensor-002`` become the demo
plant's ``pump-101-flow``/``tank-1-level``, and the graph relationship types ``SuppliesTo``/``MonitoredBy`` (absent
from the demo plant) become ``HasChildren``/``HasComponent`` starting from ``line-1``. Lines marked ``# test:`` were
added to check results and to wait (bounded) for the stream or for a queued change (the sync example polls for the
demo plant's next tick instead of writing a value). Prints ``EXAMPLE <name> ok`` per example; ``conformance.py``
imports :data:`EXAMPLES` and runs each as one check.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque

import i3x

BASE = sys.argv[1] if __name__ == "__main__" else ""  # conformance.py sets it when importing this module
TIMEOUT = 20.0  # test: bound of every wait


def done(name: str) -> None:
    print("EXAMPLE", name, "ok", flush=True)


def quick_start() -> None:
    client = i3x.Client(BASE)
    client.connect()
    info = client.get_info()
    print(info.spec_version, info.capabilities)
    namespaces = client.get_namespaces()
    object_types = client.get_object_types()
    objects = client.get_objects(root=True)
    assert namespaces and object_types and objects  # test:
    value = client.get_value("pump-101-flow")
    print(value.value, value.quality, value.timestamp)
    history = client.get_history("pump-101-flow", start_time="2026-01-01T00:00:00Z")
    for vqt in history.values:
        print(vqt.value, vqt.timestamp)
    assert history.values  # test: the demo plant keeps a minute of history
    client.update_value("pump-101-flow", 72.5)
    client.update_value("pump-101-flow", {"value": 72.5, "quality": "Good", "timestamp": "2026-01-01T00:00:00Z"})
    client.update_values({"pump-101-flow": 72.5, "tank-1-level": 18.3})
    levels = client.get_history("tank-1-level", start_time="2000-01-01T00:00:00Z").values  # test: not get_value:
    assert any(v.value == 18.3 for v in levels)  # test: the demo plant may overwrite the current value at once
    client.disconnect()
    done("quick_start")


def context_manager() -> None:
    with i3x.Client(BASE) as client:
        namespaces = client.get_namespaces()
    assert namespaces and not client.is_connected  # test:
    done("context_manager")


def subscriptions() -> None:
    client = i3x.Client(BASE)
    client.on_value_change = lambda client, change: print(f"{change.element_id}: {change.value} ({change.quality})")
    changed = threading.Event()  # test: also signal the first change
    printer = client.on_value_change  # test:
    client.on_value_change = lambda client, change: (printer(client, change), changed.set())  # test:
    client.connect()
    sub = client.subscribe(["pump-101-flow", "tank-1-level"])
    assert changed.wait(TIMEOUT), "no value change"  # test: the demo plant ticks every second
    client.unsubscribe(sub)
    client.disconnect()
    done("subscriptions")


def sync_mode() -> None:
    client = i3x.Client(BASE)  # test: the README reuses the client of the previous example
    client.connect()  # test:
    sub_id = client.create_subscription()
    client.register_items(sub_id, ["pump-101-flow"])
    batches = client.sync_subscription(sub_id)
    last_seq = batches[-1].sequence_number if batches else None
    deadline = time.monotonic() + TIMEOUT  # test: poll until the demo plant's next tick is queued
    while not (batches := client.sync_subscription(sub_id, last_sequence_number=last_seq)):  # test:
        assert time.monotonic() < deadline, "no batch to sync"  # test:
        time.sleep(0.1)  # test: polling interval, not an assertion delay
    for batch in batches:
        for u in batch.updates:
            print(batch.sequence_number, u.element_id, u.value)
    assert any(u.element_id == "pump-101-flow" for b in batches for u in b.updates), "batches without updates"  # test:
    assert client.sync_subscription(sub_id, last_sequence_number=-1) is not None  # test: README "pass -1"
    client.disconnect()  # test:
    done("sync_mode")


def hierarchy() -> None:
    client = i3x.Client(BASE)
    client.connect()
    objects = client.get_objects()
    children_of: dict[str | None, list[i3x.ObjectInstance]] = {}
    for obj in objects:
        children_of.setdefault(obj.parent_id, []).append(obj)

    def print_subtree(parent_id: str | None = None, depth: int = 0) -> None:
        for obj in children_of.get(parent_id, []):
            print("  " * depth + f"{obj.display_name}  [{obj.type_element_id}]")
            print_subtree(obj.element_id, depth + 1)

    print_subtree()
    assert [o.element_id for o in children_of[None]] == ["plant"]  # test:
    walked: list[str] = []  # test:

    def walk_components(element_id: str, depth: int = 0) -> None:
        obj = client.get_object(element_id)
        print("  " * depth + obj.display_name)
        walked.append(element_id)  # test:
        for rel in client.get_related_objects([element_id], relationship_type="HasComponent"):
            walk_components(rel.object.element_id, depth + 1)

    walk_components("pump-101")
    assert {"pump-101", "motor-101", "motor-101-speed", "pump-101-flow"} <= set(walked), walked  # test:
    client.disconnect()
    done("hierarchy")


def graph() -> None:
    client = i3x.Client(BASE)
    client.connect()
    for rel in client.get_related_objects(["line-1"], relationship_type="HasChildren"):
        print(f"line-1 → {rel.object.display_name}")

    def bfs(start_id, rel_types):  # type: ignore[no-untyped-def]
        """Yield every object reachable from start_id via rel_types (breadth-first)."""
        seen, queue = set(), deque([start_id])
        while queue:
            eid = queue.popleft()
            if eid in seen:
                continue
            seen.add(eid)
            yield client.get_object(eid)
            for rel_type in rel_types:
                for rel in client.get_related_objects([eid], relationship_type=rel_type):
                    queue.append(rel.object.element_id)

    names = [obj.display_name for obj in bfs("line-1", ["HasChildren", "HasComponent"])]
    print("\n".join(names))
    assert {"Line 1", "Pump 101", "Tank 1", "Motor 102", "Level"} <= set(names), names  # test:
    client.disconnect()
    done("graph")


def authentication() -> None:
    # The demo server asks for no credentials; each scheme of the README must still be accepted.
    for client in (
        i3x.Client(BASE, token="my-token"),
        i3x.Client(BASE, auth=("user", "password")),
        i3x.Client(BASE, headers={"X-API-Key": "my-key"}),
        i3x.Client(BASE, client_id="my-app-instance-1"),
    ):
        client.connect()
        assert client.get_namespaces()  # test:
        client.disconnect()
    done("authentication")


EXAMPLES = (quick_start, context_manager, subscriptions, sync_mode, hierarchy, graph, authentication)

if __name__ == "__main__":
    for example in EXAMPLES:
        example()
    print("ALL OK", flush=True)
