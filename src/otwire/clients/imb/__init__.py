"""TNO IMB3 client with the API of pyimb (ecodistrict/pyimb ``imb.py``), on Python 3.11+.

Port a pyimb script by changing its import::

    import otwire.clients.imb as imb

    c = imb.Client("localhost", 4000, 123, "my name", "my federation")
    e = c.subscribe("my event")
    e.add_handler(imb.ekNormalEvent, lambda payload: print(imb.decode_string(payload)))
    e.signal_string("hello")          # publishes first, as pyimb
    c.disconnect()

:class:`Client` needs no asyncore: one daemon thread per client reads from the hub and
calls the handlers (see :mod:`otwire.clients.imb.client`); it is a context manager and
never blocks interpreter exit. :class:`AsyncClient` offers the same operations as
coroutines plus an async iterator of received events (:mod:`otwire.clients.imb.aio`).
The module also has pyimb's constants (``ekNormalEvent``, ``actionNew``, ``icEvent``,
... as aliases of :mod:`otwire.codecs.imb`'s enums) and helpers (``encode_string``,
``decode_string``, ``encode_int32``, ``decode_int``, ``encode_uint32``, ``decode_uint``,
``encode_double``, ``encode_single``).

Handlers get pyimb's arguments: ekNormalEvent ``f(payload)``, ekChangeObjectEvent
``f(action, object_id, event_name, attribute)``; streams go through
``create_stream_callback(stream_id, stream_name)`` and ``end_stream_callback`` (see
:func:`~otwire.clients.imb._event.handler_args` for the other kinds).

Differences from pyimb worth knowing:

* An event nobody handles, an event on an id the hub never mapped, stream data without a
  stream and flagged kinds (0x104) do not drop the connection: they go to
  ``client.on_unhandled`` (or the log). Flags are masked before handlers are looked up.
* ``federation=None`` (or ``""``) means no prefix; pyimb fails (or gives ``".name"``).
* ``end_stream_callback`` may take ``(stream)`` (as pyimb documents) or
  ``(event_definition, stream)`` (as pyimb calls it).
* Stream ids are a CRC-32 of the name, the local address and a counter (pyimb: Python's
  randomised ``hash``), so interleaved streams of one client never share an id.
* Sends block until the frame is handed to the kernel; after the connection closed they
  raise ``ConnectionLost`` (pyimb drops them silently). ``disconnect()`` does not send
  icEndSession (as pyimb) but half-closes so every sent octet arrives.
* ``EventDefinition.wait_subscribed()`` waits for the hub's id translation.
* otwire's decoders are strict where pyimb's are lenient (``DecodeError``), importing the
  module does not configure logging, and log messages go to ``"otwire.clients.imb"``.
"""

from __future__ import annotations

from otwire.clients.imb._constants import *  # noqa: F403 - pyimb's flat namespace
from otwire.clients.imb._constants import __all__ as _constant_names
from otwire.clients.imb._event import handler_args
from otwire.clients.imb.aio import AsyncClient, AsyncEventDefinition
from otwire.clients.imb.client import Client, EventDefinition
from otwire.codecs.imb import decode_int, decode_string, decode_uint, encode_int32, encode_string, encode_uint32
from otwire.protocols.imb.events import (
    CommandReceived,
    ConnectionTerminated,
    EventReceived,
    JunkSkipped,
    StreamAborted,
    StreamData,
    StreamEnded,
    StreamStarted,
    SubscriptionConfirmed,
    TranslationRemoved,
    UnexpectedStreamData,
    UniqueClientIDReceived,
    UnmappedEventReceived,
)

__all__ = [
    *_constant_names,
    "AsyncClient", "AsyncEventDefinition", "Client", "UniqueClientIDReceived", "CommandReceived",
    "ConnectionTerminated", "EventDefinition", "EventReceived", "JunkSkipped", "StreamAborted",
    "StreamData", "StreamEnded", "StreamStarted", "SubscriptionConfirmed", "TranslationRemoved",
    "UnexpectedStreamData", "UnmappedEventReceived", "decode_int", "decode_string", "decode_uint",
    "encode_int32", "encode_string", "encode_uint32", "handler_args",
]  # fmt: skip
