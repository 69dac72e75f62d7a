"""One ``EventDefinition`` per event name (pyimb's ``get_event``/``subscribe``/``publish`` docstrings, in our words)."""

from __future__ import annotations

import os

import otwire.clients.imb as imb

host, port = "localhost", int(os.environ.get("IMB_PORT", "4000"))
c = imb.Client(host, port, 123, "my name", "my federation")

e = c.get_event("my event")
e.publish()  # now signals can go out on it

e1 = c.get_event("my_event")
e1.subscribe()
e2 = c.subscribe("my_event")  # the same object again
print(e1 is e2)

e3 = c.publish("my_event")  # publishing gives it too
print(e1 is e3)
print(e1.name)
print(c.get_event("unknown", create=False))
c.disconnect()
