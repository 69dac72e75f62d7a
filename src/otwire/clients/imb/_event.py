"""What the threaded and asyncio IMB clients share: event routing and handlers, stream callbacks, stream sending.

:class:`EventBase` holds pyimb's per-event state (handlers by kind, the stream
callbacks, the open incoming streams) and turns engine events into handler calls
with pyimb's argument order (:func:`handler_args`); :func:`route_event` hands each
engine event of a client to its definition. It never sends: the flavours
(``client.EventDefinition``, ``aio.AsyncEventDefinition``) add the sending methods.
"""

from __future__ import annotations

import inspect
import logging
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from otwire.clients._checks import check_int
from otwire.clients.imb._checks import check_stream_args
from otwire.codecs.imb import (
    MAX_PAYLOAD_SIZE,
    BufferEvent,
    ChangeObjectDataEvent,
    ChangeObjectEvent,
    EventCommand,
    EventKind,
    FocusEvent,
    NormalEvent,
    StreamBody,
    StreamHeader,
    StreamTail,
    TimerStatusRequest,
    UnknownEvent,
)
from otwire.errors import InvalidArgument, InvalidArgumentType
from otwire.protocols import Event as EngineEvent
from otwire.protocols.imb.events import (
    ConnectionTerminated,
    EventReceived,
    StreamAborted,
    StreamData,
    StreamEnded,
    StreamStarted,
    SubscriptionConfirmed,
    UniqueClientIDReceived,
)

__all__ = [
    "SEND_TIMEOUT", "EventBase", "Handler", "handler_args", "logger", "new_stream_id", "route_event", "stream_events",
]  # fmt: skip

logger = logging.getLogger("otwire.clients.imb")

#: A handler added with ``add_handler``; its arguments depend on the kind (:func:`handler_args`).
Handler = Callable[..., object]
_STREAM_KINDS = frozenset({EventKind.STREAM_HEADER, EventKind.STREAM_BODY, EventKind.STREAM_TAIL})
#: Seconds one send may wait for a hub that does not read (both clients), then ``ConnectionLost``.
SEND_TIMEOUT = 10.0
#: Largest ``chunk_size`` of ``signal_stream``: the payload limit less the event and stream ids (octets).
MAX_CHUNK_SIZE = MAX_PAYLOAD_SIZE - 16
_ROUTED = (EventReceived, StreamStarted, StreamData, StreamEnded, StreamAborted)


class Writable(Protocol):
    """What ``create_stream_callback`` returns: a binary file-like object."""

    def write(self, data: bytes, /) -> object:
        """Write one chunk."""

    def close(self) -> object:
        """Close after the stream ended."""


class Readable(Protocol):
    """What ``signal_stream`` reads: a binary file-like object."""

    def read(self, size: int, /) -> bytes | bytearray | None:
        """Read at most ``size`` octets (fewer means the end)."""


def handler_args(event: EventReceived) -> tuple[Any, ...]:
    """Return the arguments a handler of ``event``'s kind is called with.

    pyimb's signatures: ekNormalEvent ``f(payload)`` (the raw body octets);
    ekChangeObjectEvent ``f(action, object_id, event_name, attribute)`` with the
    full, federation-prefixed name. pyimb decodes no other kind; otwire passes
    ekBuffer as ``f(tick, buffer_id, data)`` (the reference clients' order),
    ekChangeObjectDataEvent as ``f(action, object_id, event_name, attribute,
    new_values, old_values)``, the Focus event as ``f(x, y)``, kinds without a
    layout as ``f(data)`` and every other kind as ``f(body)`` (the codec dataclass).

    Args:
        event: A received event.

    Returns:
        The positional arguments.
    """
    body = event.body
    if isinstance(body, NormalEvent | UnknownEvent | TimerStatusRequest):
        return (body.data,)
    if isinstance(body, ChangeObjectEvent):
        return (int(body.action), body.object_id, event.event_name, body.attribute)
    if isinstance(body, BufferEvent):
        return (event.tick, body.buffer_id, body.data)
    if isinstance(body, ChangeObjectDataEvent):
        return (int(body.action), body.object_id, event.event_name, body.attribute, body.new_values, body.old_values)
    if isinstance(body, FocusEvent):
        return (body.x, body.y)
    return (body,)


def new_stream_id(name: str, salt: str, counter: int) -> int:
    """Return a stream id (31 bits) for an outgoing stream.

    pyimb hashes the name and the local address with Python's randomised ``hash``;
    this is a CRC-32 of the name, ``salt`` (the local address) and a per-client
    counter, so two streams of one client differ even with the same name.
    """
    return zlib.crc32(f"{name}\0{salt}\0{counter}".encode()) & 0x7FFFFFFF


def stream_events(
    event_id: int, stream_id: int, name: str, stream: Readable, chunk_size: int
) -> Iterator[EventCommand]:
    """Yield the icEvents of one outgoing stream: a header, full-size bodies, then the tail.

    As pyimb: every chunk of exactly ``chunk_size`` octets is an ekStreamBody, the
    first shorter read is the ekStreamTail (empty when the length is a multiple of
    ``chunk_size``).

    Args:
        event_id: The client's id of the event.
        stream_id: The stream id.
        name: The stream name.
        stream: Read with ``read(chunk_size)``; ``None`` counts as an empty read.
        chunk_size: Octets per body, 1..``MAX_CHUNK_SIZE``.

    Yields:
        Events to send in order.

    Raises:
        InvalidArgument: ``chunk_size`` is out of range (also a ``ValueError``).
        InvalidArgumentType: ``name`` is not a str, ``stream`` has no ``read``, ``chunk_size``
            is not an int, or ``read`` returned something else than bytes (also a ``TypeError``).
    """
    check_stream_args(name, stream, chunk_size, MAX_CHUNK_SIZE)
    yield EventCommand(event_id=event_id, body=StreamHeader(stream_id=stream_id, stream_name=name))
    while True:
        chunk = stream.read(chunk_size) or b""
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidArgumentType(f"stream.read() must return bytes, got {type(chunk).__name__}")
        chunk = bytes(chunk)
        if len(chunk) == chunk_size:
            yield EventCommand(event_id=event_id, body=StreamBody(stream_id=stream_id, data=chunk))
        else:
            yield EventCommand(event_id=event_id, body=StreamTail(stream_id=stream_id, data=chunk))
            return


def _call(function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except Exception:
        logger.exception("callback %r failed", function)
        return None


def _end_stream_args(callback: Callable[..., object], definition: EventBase, stream: Writable) -> tuple[Any, ...]:
    """pyimb documents ``end_stream(stream)`` but calls ``end_stream(event, stream)``: accept both."""
    try:
        inspect.signature(callback).bind(definition, stream)
    except TypeError:
        return (stream,)
    except ValueError:  # no signature available (some builtins)
        pass
    return (definition, stream)


class EventBase:
    """One named event of a client: handlers, stream callbacks and incoming streams.

    Do not create it yourself: use the client's ``get_event``, ``subscribe`` or ``publish``.

    Args:
        event_id: The client's id for the event.
        name: Full (federation-prefixed) event name.
        client: The owning client.
    """

    def __init__(self, event_id: int, name: str, client: Any) -> None:
        self.event_id = event_id
        """The client's id for the event (sent in icSubscribe, icPublish and icEvent)."""
        self.name = name
        """Full event name, ``"<federation>.<name>"``."""
        self._client = client
        self._handlers: dict[int, dict[Handler, None]] = {}
        self._streams: dict[int, Writable] = {}
        self.create_stream_callback: Callable[[int, str], Writable | None] | None = None
        """``f(stream_id, stream_name)`` called for each incoming stream header; it returns
        a writable binary object to receive the stream, or ``None`` to ignore it."""
        self.end_stream_callback: Callable[..., object] | None = None
        """Called when a stream ended, just before its object is closed: ``f(stream)``
        (as pyimb documents) or ``f(event_definition, stream)`` (as pyimb calls it)."""

    @property
    def client(self) -> Any:
        """The owning client."""
        return self._client

    @property
    def is_subscribed(self) -> bool:
        """True after ``subscribe()`` until ``unsubscribe()`` (the engine's state)."""
        return bool(self._client._engine.is_subscribed(self.event_id))

    @property
    def is_published(self) -> bool:
        """True after ``publish()`` (or a first signal) until ``unpublish()`` (the engine's state)."""
        return bool(self._client._engine.is_published(self.event_id))

    def add_handler(self, event_kind: int, handler: Handler) -> None:
        """Call ``handler`` for every received event of ``event_kind`` (see :func:`handler_args`).

        Handlers run one at a time on the client's thread (threaded client) or
        event loop (asyncio client); an exception is logged and does not affect the
        connection. Adding the same handler twice has no effect.

        Args:
            event_kind: ``ekNormalEvent``, ``ekChangeObjectEvent``, ... (flags excluded).
            handler: The callable.

        Raises:
            InvalidArgument: ``event_kind`` is a stream kind; use ``create_stream_callback``.
            InvalidArgumentType: ``event_kind`` is not an int or ``handler`` is not callable.
        """
        check_int("event_kind", event_kind)
        if not callable(handler):
            raise InvalidArgumentType(f"handler must be callable, got {type(handler).__name__}")
        if event_kind in _STREAM_KINDS:
            raise InvalidArgument("stream kinds are handled through create_stream_callback and end_stream_callback")
        self._handlers.setdefault(int(event_kind), {})[handler] = None

    def remove_handler(self, handler: Handler) -> None:
        """Stop calling ``handler`` for every kind it was added for (nothing if it never was).

        Raises:
            InvalidArgumentType: ``handler`` is not callable.
        """
        if not callable(handler):
            raise InvalidArgumentType(f"handler must be callable, got {type(handler).__name__}")
        for handlers in self._handlers.values():
            handlers.pop(handler, None)

    def _dispatch(self, event: EngineEvent) -> bool:
        """Hand one engine event to the handlers or streams; False when nothing took it."""
        if isinstance(event, EventReceived):
            handlers = self._handlers.get(int(event.body.event_kind))
            if not handlers:
                return False
            args = handler_args(event)
            for handler in list(handlers):
                _call(handler, *args)
            return True
        if isinstance(event, StreamStarted):
            create = self.create_stream_callback
            stream = _call(create, event.stream_id, event.stream_name) if callable(create) else None
            if stream is None:
                return False
            self._streams[event.stream_id] = stream
            return True
        if isinstance(event, StreamData):
            stream = self._streams.get(event.stream_id)
            if stream is None:
                return False
            try:
                stream.write(event.data)
            except Exception:
                logger.exception("%s: writing stream %r failed; it is dropped", self.name, event.stream_name)
                self._close_stream(event.stream_id)
            return True
        if isinstance(event, StreamEnded):
            stream = self._streams.get(event.stream_id)
            if stream is None:
                return False
            end = self.end_stream_callback
            if callable(end):
                _call(end, *_end_stream_args(end, self, stream))
            self._close_stream(event.stream_id)
            return True
        if isinstance(event, StreamAborted) and event.stream_id in self._streams:
            logger.warning("%s: stream %r aborted: %s", self.name, event.stream_name, event.reason)
            self._close_stream(event.stream_id)
            return True
        return False

    def _close_stream(self, stream_id: int) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is not None:
            _call(stream.close)

    def _on_confirmed(self) -> None:
        """The hub sent the id translation of this event (flavours wake their waiters)."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} id={self.event_id} "
            f"subscribed={self.is_subscribed} published={self.is_published}>"
        )


def route_event(event: EngineEvent, definitions: Mapping[int, EventBase], identified: Callable[[], object]) -> bool:
    """Hand one engine event to the part of a client (either flavour) that takes it.

    Events and streams go to their event's definition (its handlers and stream
    callbacks), icUniqueClientID calls ``identified``, a confirmed subscription wakes
    its definition's ``wait_subscribed``, the end of the connection is logged.

    Args:
        event: An event of the client's :class:`~otwire.protocols.imb.client.IMBClientConnection`.
        definitions: The client's definitions by event id.
        identified: Called when the hub's ids arrived.

    Returns:
        False when nothing took the event (the client's ``on_unhandled`` gets it).

    Raises:
        Exception: whatever a handler or stream callback raised.
    """
    if isinstance(event, _ROUTED):
        definition = definitions.get(event.event_id)
        return definition is not None and definition._dispatch(event)
    if isinstance(event, UniqueClientIDReceived):
        identified()
    elif isinstance(event, SubscriptionConfirmed):
        definition = definitions.get(event.event_id)
        if definition is not None:
            definition._on_confirmed()
    elif isinstance(event, ConnectionTerminated):
        logger.info("connection closed: %s", event.reason.value)
    else:
        return False
    return True
