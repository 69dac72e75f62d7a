"""i3x-client 1.0.0's README quick start with only the import changed, against the demo plant."""

from __future__ import annotations

import threading

import otwire.clients.i3x as i3x
from helpers import wait_event, wait_until
from otwire.servers.i3x import Server


def test_readme_quick_start() -> None:
    with Server(port=0, tick=3600.0) as server:
        base_url = f"http://127.0.0.1:{server.port}/v1"

        # Connect to an i3X server
        client = i3x.Client(base_url)
        client.connect()

        # Check server capabilities
        info = client.get_info()
        print(info.spec_version, info.capabilities)

        # Explore the address space
        namespaces = client.get_namespaces()
        object_types = client.get_object_types()
        objects = client.get_objects(root=True)

        # Read a value
        value = client.get_value("pump-101-flow")
        print(value.value, value.quality, value.timestamp)

        # Read historical values
        history = client.get_history("pump-101-flow", start_time="2026-01-01T00:00:00Z")
        for vqt in history.values:
            print(vqt.value, vqt.timestamp)

        # Write a value (quality defaults to "Good", timestamp to server time)
        client.update_value("pump-101-flow", 72.5)
        client.update_value("pump-101-flow", {"value": 72.5, "quality": "Good", "timestamp": "2026-01-01T00:00:00Z"})

        # Write several values in one request
        client.update_values({"pump-101-flow": 72.5, "pump-102-flow": 18.3})

        client.disconnect()

        with i3x.Client(base_url) as client:
            assert client.get_namespaces() == namespaces

    assert info.spec_version == "1.0"
    assert object_types and objects and namespaces
    assert value.quality == "Good" and history.values
    assert not client.is_connected


def test_readme_subscriptions_and_sync() -> None:
    arrived = threading.Event()
    with Server(port=0, tick=0.05) as server:
        base_url = f"http://127.0.0.1:{server.port}/v1"

        client = i3x.Client(base_url)
        client.on_value_change = lambda client, change: print(f"{change.element_id}: {change.value} ({change.quality})")
        client.connect()

        # Creates subscription, registers items, and starts SSE stream in one call
        sub = client.subscribe(["pump-101-flow", "pump-102-flow"])

        # on_value_change fires automatically as values arrive (the test also waits for one)
        printing = client.on_value_change
        client.on_value_change = lambda client, change: (printing(client, change), arrived.set())
        wait_event(arrived, 10.0, what="on_value_change")

        # Unsubscribe when done
        client.unsubscribe(sub)

        # Sync mode
        sub_id = client.create_subscription()
        client.register_items(sub_id, ["pump-101-flow"])
        batches = client.sync_subscription(sub_id)
        last_seq = batches[-1].sequence_number if batches else None
        wait_until(lambda: client.sync_subscription(sub_id, last_sequence_number=last_seq), what="new batches")
        client.disconnect()
    assert not client.is_connected
