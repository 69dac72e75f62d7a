"""Send a file as a stream on an event (pyimb's module docstring, in our words)."""

from __future__ import annotations

import os

import otwire.clients.imb as imb

host = "localhost"
port = int(os.environ.get("IMB_PORT", "4000"))
owner_id = 123
owner_name = "my name"
federation = "my federation"

c = imb.Client(host, port, owner_id, owner_name, federation)  # connect to the hub
e = c.publish("my event")  # from now on signals can go out on the event
with open("test.txt", "rb") as f:
    e.signal_stream("stream name", f)  # the whole file, in 16 KiB chunks
e.unpublish()
c.disconnect()
print("stream sent")
