"""Change-object events and their handler (pyimb's ``add_handler`` docstring and ``test.py``, in our words)."""

from __future__ import annotations

import os
import threading

import otwire.clients.imb as imb

owner_id = 123
owner_name = "rasmus"
federation = "ecodistrict"

c = imb.Client("localhost", int(os.environ.get("IMB_PORT", "4000")), owner_id, owner_name, federation)
print("unique client id", c.unique_client_id > 0)
anything = c.subscribe("anything")
anything.publish()

done = threading.Event()


def my_change_object_handler(action, object_id, short_event_name, attr_name):
    print("ChangeObjectEvent:", action, object_id, short_event_name, attr_name)
    done.set()


def my_normal_event_handler(payload):
    print("NormalEvent:", payload)


anything.add_handler(imb.ekChangeObjectEvent, my_change_object_handler)
anything.add_handler(imb.ekNormalEvent, my_normal_event_handler)
anything.wait_subscribed()  # (added) instead of pyimb's input()
anything.signal_change_object(1, 2, "something")
done.wait(5)  # (added) instead of pyimb's input()

c.unpublish("anything")
c.unsubscribe("anything")
c.disconnect()
