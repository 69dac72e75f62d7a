"""Record the bundled i3X sample capture: otwire's i3X server and an ``http.client`` client.

Regenerate (needs port 8080 free, so that ``otwire inspect`` finds i3X on its default port)::

    .venv/bin/python tests/i3x/make_sample_capture.py src/otwire/inspect/samples/otwire_i3x.pcap

One keep-alive connection reads ``/v1/info``, the namespaces (gzip), a bulk value read
with one unknown element id, creates a subscription, registers two sensors and syncs
once the demo plant has changed them. A second connection opens the subscription's SSE
stream and reads a few updates and one keep-alive comment, then closes.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from typing import Any

from otwire.servers.i3x import Server

PORT = 8080
CLIENT = "inspect-demo"
SENSORS = ["pump-101-flow", "pump-101-bearing-temperature"]


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, **headers: str) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    octets = response.read()
    if response.status >= 500:
        raise SystemExit(f"{method} {path}: {response.status}")
    return octets


def _read_stream(port: int, subscription: str, updates: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"clientId": CLIENT, "subscriptionId": subscription}).encode()
    conn.request("POST", "/v1/subscriptions/stream", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    seen = comments = 0
    while seen < updates or comments < 2:  # ": connected" and one ": keepalive"
        line = response.fp.readline()
        if not line:
            raise SystemExit("the stream ended early")
        seen += line.startswith(b"data:") and b"elementId" in line
        comments += line.startswith(b":")
    conn.close()


def record(path: str, port: int = PORT) -> None:
    """Run the scripted session on 127.0.0.1:``port`` and write it to ``path``."""
    with Server("127.0.0.1", port, record=path, tick=0.2, keepalive_interval=0.5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        _call(conn, "GET", "/v1/info")
        _call(conn, "GET", "/v1/namespaces", **{"Accept-Encoding": "gzip"})
        _call(conn, "POST", "/v1/objects/value", {"elementIds": [*SENSORS, "no-such-element"]})
        created = json.loads(_call(conn, "POST", "/v1/subscriptions", {"clientId": CLIENT, "displayName": "demo"}))
        subscription = created["result"]["subscriptionId"]
        register = {"clientId": CLIENT, "subscriptionId": subscription, "elementIds": SENSORS}
        _call(conn, "POST", "/v1/subscriptions/register", register)
        time.sleep(0.5)  # pacing only: let the demo plant change the values (nothing is asserted on time)
        _call(conn, "POST", "/v1/subscriptions/sync", {"clientId": CLIENT, "subscriptionId": subscription})
        _read_stream(port, subscription, updates=4)
        conn.close()
        time.sleep(0.2)


if __name__ == "__main__":
    record(sys.argv[1] if len(sys.argv) > 1 else "otwire_i3x.pcap")
