"""Record the bundled IMB3 sample capture: otwire's hub and two pyimb-style clients.

Regenerate (needs port 4000 free, so that ``otwire inspect`` finds IMB on its default port)::

    .venv/bin/python tests/imb/make_sample_capture.py src/otwire/inspect/samples/otwire_imb_hub.pcap

Client "sensor" publishes on federation "demo": a normal event (a string), a change-object
event and a small stream. Client "dashboard" subscribes to the same event and receives
them all through the hub (the hub translates event ids per connection).
"""

from __future__ import annotations

import io
import sys
import threading
import time

import otwire.clients.imb as imb
from otwire.servers.imb import Hub

PORT = 4000
STREAM = b"".join(b"reading %03d: 21.%d C\n" % (i, i % 10) for i in range(40))


def record(path: str, port: int = PORT) -> None:
    """Run the scripted session on 127.0.0.1:``port`` and write it to ``path``."""
    done = threading.Event()
    with Hub("127.0.0.1", port, record=path):
        dashboard = imb.Client("127.0.0.1", port, 2, "dashboard", "demo")
        sensor = imb.Client("127.0.0.1", port, 1, "sensor", "demo")
        try:
            seen = dashboard.subscribe("weather")
            seen.add_handler(imb.ekNormalEvent, lambda payload: None)
            seen.add_handler(imb.ekChangeObjectEvent, lambda action, object_id, short_name, attribute: None)
            seen.create_stream_callback = lambda stream_id, name: io.BytesIO()
            seen.end_stream_callback = lambda stream: done.set()
            assert seen.wait_subscribed(5.0)
            weather = sensor.publish("weather")
            weather.signal_string("temperature 21.5 C")
            weather.signal_change_object(imb.actionChange, 42, "temperature")
            weather.signal_stream("readings.txt", io.BytesIO(STREAM), chunk_size=256)
            if not done.wait(5.0):
                raise SystemExit("the dashboard did not receive the stream")
            time.sleep(0.2)
        finally:
            sensor.disconnect()
            dashboard.disconnect()
            time.sleep(0.2)


if __name__ == "__main__":
    record(sys.argv[1] if len(sys.argv) > 1 else "otwire_imb_hub.pcap")
