"""i3x-client 1.0.0's SSE streams against ``otwire serve i3x`` beyond one call per method.

Run as ``python streams.py BASE_URL``; prints ``ok <case>`` per case and ``ALL OK``; any failure exits 1.
Every wait is bounded (the demo plant changes its sensors every second).
"""

from __future__ import annotations

import sys
import threading

import i3x

TIMEOUT = 20.0


class Watcher:
    """``on_value_change`` that signals once every id of ``wanted`` changed."""

    def __init__(self, client: i3x.Client, wanted: set[str]) -> None:
        self.wanted, self.seen, self.done, self.errors = wanted, set[str](), threading.Event(), list[Exception]()
        client.on_value_change = self.changed
        client.on_error = lambda _client, error: self.errors.append(error)

    def changed(self, _client: i3x.Client, change: i3x.ValueChange) -> None:
        self.seen.add(change.element_id)
        if self.wanted <= self.seen:
            self.done.set()

    def wait(self, case: str) -> None:
        assert self.done.wait(TIMEOUT), f"{case}: saw {self.seen}, errors {self.errors}"
        assert not self.errors, self.errors
        print("ok", case, flush=True)
        self.seen.clear()
        self.done.clear()


def main(base_url: str) -> None:
    client = i3x.Client(base_url, timeout=TIMEOUT)
    client.connect()
    sensors = {"motor-101-speed", "motor-101-current", "pump-101-flow", "pump-101-bearing-temperature"}
    watcher = Watcher(client, sensors)
    sub = client.subscribe(["pump-101"], max_depth=0)
    watcher.wait("a composition registered with max_depth=0 streams its components' changes")
    client.unsubscribe(sub)

    watcher.wanted = {"tank-1-level"}
    sub_id = client.create_subscription()
    client.start_stream(sub_id)
    client.register_items(sub_id, ["tank-1-level"])
    watcher.wait("items registered after the stream opened")
    client.stop_stream(sub_id)
    watcher.seen.clear()
    client.start_stream(sub_id)
    watcher.wait("stop_stream then start_stream again")

    other = i3x.Client(base_url, timeout=TIMEOUT, client_id=client.client_id)
    other.connect()
    takeover = Watcher(other, {"tank-1-level"})
    other.start_stream(sub_id)
    takeover.wait("a second stream on the subscription takes it over")
    other.disconnect()
    client.unsubscribe(sub_id)
    client.disconnect()
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
