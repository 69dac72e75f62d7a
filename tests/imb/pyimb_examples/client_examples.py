"""The four examples of pyimb's ``Client`` docstring, in our words, with short waits added."""

from __future__ import annotations

import os
import threading

import otwire.clients.imb as imb

host = "localhost"
port = int(os.environ.get("IMB_PORT", "4000"))
owner_id = 123
owner_name = "my name"
federation = "my federation"

c = imb.Client(host, port, owner_id, owner_name, federation)

# Example 1: strings in the payload of a NormalEvent
e = c.publish("my event")
e.signal_event(imb.ekNormalEvent, imb.encode_string("This string is sent"))
e.signal_string("This is easier but equivalent.")

# Example 2: receive strings in the payload of a NormalEvent
got_string = threading.Event()


def string_handler(payload):
    print(f"Received string {imb.decode_string(payload)}")
    got_string.set()


e.add_handler(imb.ekNormalEvent, string_handler)  # every ekNormalEvent on the event
e.subscribe()  # start listening
e.wait_subscribed()  # (added) the hub has seen the subscription
e.signal_string("to myself")  # (added) the hub hands our own event back to us
got_string.wait(5)  # (added)

# Example 3: a file as a stream (it comes back to us too, maybe before Example 4 is ready for it)
with open("test.txt", "rb") as f:
    e.signal_stream("stream name", f)

# Example 4: receive a stream
got_stream = threading.Event()


def create_stream(stream_id, stream_name):
    filename = str(stream_id) + "_" + stream_name
    return open(filename, "wb+")


def end_stream(stream):
    stream_name = os.path.basename(stream.name).split("_", 1)[1]
    print(f"Received stream {stream_name} of {stream.tell()} bytes")
    if stream_name == "copy.txt":
        got_stream.set()  # the stream is closed right after this


e.create_stream_callback = create_stream
e.end_stream_callback = end_stream  # optional
with open("test.txt", "rb") as f:
    e.signal_stream("copy.txt", f)  # (added) to ourselves again
got_stream.wait(5)  # (added)
e.unsubscribe()  # unsubscribe when done
c.disconnect()  # and always disconnect
