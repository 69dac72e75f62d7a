"""i3x-client 1.0.0's error mapping against an i3X server: unknown ids raise ``NotFoundError``.

Run as ``python errors.py BASE_URL``; prints one line per case and ``ALL OK``; a wrong exception exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import i3x


def expect_not_found(name: str, call: Callable[[], Any]) -> None:
    try:
        result = call()
    except i3x.NotFoundError as exc:
        print(name, "raises NotFoundError", exc, flush=True)
    else:
        raise AssertionError(f"{name} returned {result!r}")


def main(base_url: str) -> None:
    client = i3x.Client(base_url, timeout=20.0)
    client.connect()
    expect_not_found("get_object", lambda: client.get_object("nope"))
    expect_not_found("get_value", lambda: client.get_value("nope"))
    expect_not_found("get_history", lambda: client.get_history("nope"))
    expect_not_found("update_value", lambda: client.update_value("nope", 1))
    expect_not_found("get_subscription", lambda: client.get_subscription("nope"))
    expect_not_found("register_items", lambda: client.register_items("nope", ["pump-101"]))
    expect_not_found("sync_subscription", lambda: client.sync_subscription("nope"))
    # Bulk reads drop the failed items; bulk writes report them per item.
    assert client.list_objects(["nope"]) == []
    assert client.get_values(["nope"]) == {}
    results = client.update_values({"nope": 1.0})
    assert results[0]["success"] is False and results[0]["responseDetail"]["status"] == 404, results
    print("bulk items ok", flush=True)
    # Writes the server refuses item by item (status 400): the client raises I3XError, history stays readable.
    stamp = "2026-01-01T00:00:00Z"
    for name, call in (
        ("update_value bad timestamp", lambda: client.update_value("pump-101-flow", 1.0, timestamp="yesterday")),
        ("update_value bad quality", lambda: client.update_value("pump-101-flow", 1.0, quality="Weird")),
        ("update_history no timestamp", lambda: client.update_history("pump-101-flow", {"value": 1.0})),
        (
            "update_history bad quality",
            lambda: client.update_history("pump-101-flow", [{"value": 1.0, "quality": "Weird", "timestamp": stamp}]),
        ),
    ):
        try:
            call()
        except i3x.I3XError as exc:
            assert exc.status_code == 400, (name, exc.status_code)
            print(name, "refused", exc, flush=True)
        else:
            raise AssertionError(f"{name} was accepted")
    assert client.get_history("pump-101-flow", start_time="2000-01-01T00:00:00Z").values
    client.disconnect()
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
