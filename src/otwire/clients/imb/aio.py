"""asyncio IMB3 client: pyimb's operations as coroutines, received events as an async iterator.

Everything runs on the event loop that called :meth:`AsyncClient.connect`; there are no
threads. Sends are coroutines that wait for the write buffer to drain, so a fast sender
(``signal_stream``) cannot fill memory. Received events reach handlers added with
``add_handler`` and stream callbacks as in pyimb (called on the loop), and, unless
``queue_events=False``, a bounded queue read with :meth:`AsyncClient.events`::

    async with AsyncClient("localhost", 4000, 1, "model", "fed") as client:
        event = await client.subscribe("my event")
        await event.wait_subscribed()
        await event.signal_string("hello")
        async for received in client.events():
            if isinstance(received, EventReceived):
                print(received.event_name, received.body)

When the queue holds ``max_queue`` events the client stops reading from the socket
until the consumer has taken half of them (TCP then slows the hub down), so nothing
is lost and memory stays bounded. Clients that only use handlers should pass
``queue_events=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable

from otwire.clients._checks import check_bytes, check_int, check_seconds, check_str
from otwire.clients.imb._checks import check_client_args, check_stream_args
from otwire.clients.imb._constants import DEFAULT_PORT, DEFAULT_STREAM_BODY_BUFFER_SIZE
from otwire.clients.imb._event import (
    MAX_CHUNK_SIZE,
    SEND_TIMEOUT,
    EventBase,
    Readable,
    logger,
    new_stream_id,
    route_event,
    stream_events,
)
from otwire.codecs.imb import (
    ChangeObjectEvent,
    Command,
    EventCommand,
    NormalEvent,
    Publish,
    Subscribe,
    UniqueClientID,
    Unpublish,
    Unsubscribe,
    encode_string,
)
from otwire.errors import ConnectionLost, InvalidArgument, InvalidState, OTWireError
from otwire.protocols import Event as EngineEvent
from otwire.protocols.imb.client import IMBClientConnection, RawEvent
from otwire.protocols.imb.events import JunkSkipped
from otwire.transports.aio import AioTransport, open_connection

__all__ = ["AsyncClient", "AsyncEventDefinition"]

#: Seconds ``disconnect()`` waits for the hub to close after our half-close.
LINGER = 2.0
#: Seconds ``unique_client_id()`` waits by default.
ID_WAIT = 5.0


class AsyncEventDefinition(EventBase):
    """One named event of an :class:`AsyncClient`: ``EventDefinition`` with coroutine sends."""

    def __init__(self, event_id: int, name: str, client: AsyncClient) -> None:
        super().__init__(event_id, name, client)
        self._confirmed = asyncio.Event()

    @property
    def client(self) -> AsyncClient:
        """The owning client."""
        return self._client  # type: ignore[no-any-return]

    async def subscribe(self) -> None:
        """Subscribe to the event (icSubscribe; nothing if already subscribed)."""
        if not self.is_subscribed:
            self._confirmed.clear()
            await self._client._send(Subscribe(event_id=self.event_id, event_name=self.name))

    async def unsubscribe(self) -> None:
        """Unsubscribe from the event (icUnsubscribe; nothing if not subscribed)."""
        if self.is_subscribed:
            await self._client._send(Unsubscribe(event_name=self.name))

    async def publish(self) -> None:
        """Publish the event (icPublish; nothing if already published)."""
        if not self.is_published:
            await self._client._send(Publish(event_id=self.event_id, event_name=self.name))

    async def unpublish(self) -> None:
        """Stop publishing the event (icUnpublish; nothing if not published)."""
        if self.is_published:
            await self._client._send(Unpublish(event_name=self.name))

    async def signal_event(self, event_kind: int, event_payload: bytes) -> None:
        """Send an event with a raw body (publishing first if needed); see ``EventDefinition.signal_event``.

        Raises:
            InvalidArgumentType: ``event_kind`` is not an int or ``event_payload`` not bytes.
            EncodeError: ``event_kind`` does not fit 32 bits or the body is too long.
            ConnectionLost: the connection is closed, or the hub did not read for ``send_timeout`` seconds.
        """
        kind, payload = check_int("event_kind", event_kind), check_bytes("event_payload", event_payload)
        await self.publish()
        await self._client._send(RawEvent(event_id=self.event_id, event_kind=kind, payload=payload))

    async def signal_change_object(self, action: int, object_id: int, attribute: str) -> None:
        """Send an ekChangeObjectEvent (``actionNew``/``actionDelete``/``actionChange``, object id, attribute).

        Raises:
            InvalidArgumentType: an argument has the wrong type.
            EncodeError: ``action`` or ``object_id`` does not fit 32 bits.
            ConnectionLost: the connection is closed, or the hub did not read for ``send_timeout`` seconds.
        """
        check_int("action", action), check_int("object_id", object_id), check_str("attribute", attribute)
        await self.publish()
        body = ChangeObjectEvent(action=action, object_id=object_id, attribute=attribute)
        await self._client._send(EventCommand(event_id=self.event_id, body=body))

    async def signal_string(self, value: str) -> None:
        """Send an ekNormalEvent whose body is ``encode_string(value)``.

        Raises:
            InvalidArgumentType: ``value`` is not a str.
            ConnectionLost: the connection is closed, or the hub did not read for ``send_timeout`` seconds.
        """
        check_str("value", value)
        await self.publish()
        await self._client._send(EventCommand(event_id=self.event_id, body=NormalEvent(data=encode_string(value))))

    async def signal_stream(
        self, name: str, stream: Readable, chunk_size: int = DEFAULT_STREAM_BODY_BUFFER_SIZE
    ) -> None:
        """Send a stream: a header, ``chunk_size`` bodies read from ``stream``, then the tail.

        ``stream.read`` is called on the loop (a file read blocks briefly); ``stream``
        is not closed.

        Raises:
            InvalidArgument: ``chunk_size`` is out of range.
            InvalidArgumentType: ``name`` is not a str, ``stream`` has no ``read`` (or it
                returned something else than bytes), ``chunk_size`` is not an int.
            ConnectionLost: the connection is closed, or the hub did not read for ``send_timeout`` seconds.
        """
        check_stream_args(name, stream, chunk_size, MAX_CHUNK_SIZE)
        await self.publish()
        stream_id = self._client._new_stream_id(name)
        for event in stream_events(self.event_id, stream_id, name, stream, chunk_size):
            await self._client._send(event)

    async def wait_subscribed(self, timeout: float = 5.0) -> bool:
        """Wait until the hub confirmed the subscription; True when it did within ``timeout`` seconds.

        Raises:
            InvalidArgumentType: ``timeout`` is not a number (or ``None``: no limit).
            InvalidArgument: ``timeout`` is negative or NaN.
        """
        limit = check_seconds("timeout", timeout)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                await self._confirmed.wait()
        return self._confirmed.is_set()

    def _on_confirmed(self) -> None:
        self._confirmed.set()


class AsyncClient:
    """A connection to an IMB3 hub on an asyncio loop (``async with`` or :meth:`connect`).

    Args:
        host: Host name or address of the hub.
        port: TCP port (usually 4000).
        owner_id: Owner id sent to the hub (int32; ``None``: 0).
        owner_name: Owner name sent to the hub (``None``: empty).
        federation: Prefix of event names; ``None`` or ``""``: none.
        timeout: Seconds allowed for the TCP connect.
        queue_events: Queue every engine event for :meth:`events`/:meth:`next_event`.
        max_queue: Events queued before reading pauses (at least 2).
        send_timeout: Seconds one send may wait for a hub that does not read (as the
            threaded client); then the connection is dropped and the send raises
            ``ConnectionLost`` (``None``: no limit).

    Raises:
        EncodeError: ``owner_id`` or ``owner_name`` cannot be encoded.
        InvalidArgument: ``max_queue`` is below 2, ``port`` not in 1..65535 or a timeout
            not positive (also a ``ValueError``).
        InvalidArgumentType: an argument has the wrong type (also a ``TypeError``).

    Event ids, names and the subscribed/published flags are the engine's; the client
    keeps only the :class:`AsyncEventDefinition` objects (handlers) by event id.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        owner_id: int | None = None,
        owner_name: str | None = None,
        federation: str | None = None,
        *,
        timeout: float | None = 10.0,
        queue_events: bool = True,
        max_queue: int = 10_000,
        send_timeout: float | None = SEND_TIMEOUT,
    ) -> None:
        check_client_args(host, port, owner_id, owner_name, federation, timeout, send_timeout)
        if check_int("max_queue", max_queue) < 2:
            raise InvalidArgument(f"max_queue={max_queue!r} must be an int >= 2")
        self.host, self.port, self._timeout = host, port, timeout
        self._send_timeout = send_timeout
        self._engine = IMBClientConnection(
            0 if owner_id is None else owner_id,
            "" if owner_name is None else owner_name,
            federation=federation,
            end_session_on_close=False,
        )
        self._queue_events = queue_events
        self._max_queue = max_queue
        self._queue: deque[EngineEvent] = deque()
        self._wakeup = asyncio.Event()
        self._identified = asyncio.Event()
        self._paused = False
        self._transport: AioTransport | None = None
        self._closing = False
        self._definitions: dict[int, AsyncEventDefinition] = {}  # engine event id -> handlers
        self._id_wait_failed = False
        self._stream_counter = itertools.count()
        self.on_unhandled: Callable[[EngineEvent], object] | None = None
        """Called on the loop with each engine event no handler or stream took (see ``Client.on_unhandled``)."""

    async def connect(self) -> AsyncClient:
        """Connect and send icSetClientInfo.

        Returns:
            The client itself.

        Raises:
            ConnectTimeout: The connect took longer than ``timeout``.
            TransportError: The hub cannot be reached.
            InvalidState: Already connected.
        """
        if self._transport is not None:
            raise InvalidState("already connected once; create a new AsyncClient")
        logger.info("connecting to %s:%s (federation %r)", self.host, self.port, self.federation)
        self._transport = await open_connection(
            self._engine, self.host, self.port, timeout=self._timeout, on_event=self._on_event, on_close=self._on_close
        )
        return self

    async def __aenter__(self) -> AsyncClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    # -- properties --------------------------------------------------------------------------

    @property
    def federation(self) -> str | None:
        """The federation given to the constructor."""
        return self._engine.federation

    @property
    def client_id(self) -> int | None:
        """The client handle from the hub (unsigned), or ``None`` before it arrived."""
        handle = self._engine.client_id
        return None if handle is None else handle & 0xFFFFFFFF

    @property
    def is_connected(self) -> bool:
        """True between :meth:`connect` and the close."""
        return self._transport is not None and not self._transport.closed

    async def unique_client_id(self, timeout: float = ID_WAIT) -> int:
        """Return the unique client id, asking the hub and waiting if it is not known (-1 without one).

        Args:
            timeout: Seconds to wait for the hub's answer (only the first time it does not come).

        Raises:
            InvalidArgumentType: ``timeout`` is not a number.
            InvalidArgument: ``timeout`` is negative or NaN.
        """
        limit = check_seconds("timeout", timeout, optional=False)
        if not self._engine.unique_client_id and not self._id_wait_failed and self.is_connected:
            self._identified.clear()
            with contextlib.suppress(OTWireError):
                await self._send(UniqueClientID())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    while not self._engine.unique_client_id and self.is_connected:
                        await self._identified.wait()
                        self._identified.clear()
            self._id_wait_failed = not self._engine.unique_client_id
        uid = self._engine.unique_client_id
        return uid & 0xFFFFFFFF if uid else -1

    # -- events --------------------------------------------------------------------------------

    def get_event(self, event_name: str, prefix: bool = True, create: bool = True) -> AsyncEventDefinition | None:
        """Return the definition of an event (see ``Client.get_event``); no I/O."""
        event_id = self._engine.define_event(event_name, prefix=prefix, create=create)
        if event_id is None:
            return None
        definition = self._definitions.get(event_id)
        if definition is None:
            name = self._engine.event_name(event_id) or event_name
            definition = self._definitions[event_id] = AsyncEventDefinition(event_id, name, self)
        return definition

    async def subscribe(self, event_name: str, prefix: bool = True) -> AsyncEventDefinition:
        """Get the event's definition and subscribe to it."""
        definition = self._definition(event_name, prefix)
        await definition.subscribe()
        return definition

    async def publish(self, event_name: str, prefix: bool = True) -> AsyncEventDefinition:
        """Get the event's definition and publish it."""
        definition = self._definition(event_name, prefix)
        await definition.publish()
        return definition

    async def unsubscribe(self, event_name: str, prefix: bool = True) -> AsyncEventDefinition | None:
        """Unsubscribe from an existing event; returns its definition, or ``None`` if unknown."""
        definition = self.get_event(event_name, prefix, create=False)
        if definition is not None:
            await definition.unsubscribe()
        return definition

    async def unpublish(self, event_name: str, prefix: bool = True) -> AsyncEventDefinition | None:
        """Stop publishing an existing event; returns its definition, or ``None`` if unknown."""
        definition = self.get_event(event_name, prefix, create=False)
        if definition is not None:
            await definition.unpublish()
        return definition

    async def next_event(self, timeout: float | None = None) -> EngineEvent | None:
        """Return the next queued engine event (``EventReceived``, ``StreamData``, ...).

        Args:
            timeout: Seconds to wait (``None``: until an event or the close).

        Returns:
            The event; ``None`` on timeout, or once the connection is closed and the
            queue is empty.

        Raises:
            InvalidArgumentType: ``timeout`` is not a number (or ``None``).
            InvalidArgument: ``timeout`` is negative or NaN.
        """
        limit = check_seconds("timeout", timeout)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                while not self._queue and self.is_connected:
                    self._wakeup.clear()
                    await self._wakeup.wait()
        if not self._queue:
            return None
        event = self._queue.popleft()
        if self._paused and len(self._queue) <= self._max_queue // 2:
            self._pause(False)
        return event

    async def events(self) -> AsyncIterator[EngineEvent]:
        """Yield queued engine events until the connection is closed and the queue is empty."""
        while (event := await self.next_event()) is not None:
            yield event

    # -- lifecycle -----------------------------------------------------------------------------

    async def disconnect(self) -> None:
        """Close gracefully: half-close, let the hub close (at most ``LINGER`` s), then close. Idempotent."""
        transport = self._transport
        if transport is None or self._closing:
            return
        self._closing = True
        if transport.closed:
            return
        if self._paused:
            self._pause(False)  # read to the hub's EOF
        raw = transport.transport
        try:
            if raw is not None and raw.can_write_eof():
                raw.write_eof()
            async with asyncio.timeout(LINGER):
                await transport.wait_closed()
        except (TimeoutError, OSError, RuntimeError):
            transport.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LINGER):
                    await transport.wait_closed()

    # -- internals ---------------------------------------------------------------------------

    def _definition(self, event_name: str, prefix: bool) -> AsyncEventDefinition:
        definition = self.get_event(event_name, prefix)
        if definition is None:  # pragma: no cover - create=True always gives one
            raise InvalidState(f"no definition for {event_name!r}")
        return definition

    async def _send(self, message: Command | RawEvent) -> None:
        """Send one message and wait (at most ``send_timeout``) until the write buffer drained.

        Raises:
            ConnectionLost: not connected, or the hub did not read for ``send_timeout``
                seconds (the connection is dropped then).
        """
        transport = self._transport
        if transport is None or self._closing:
            raise ConnectionLost("not connected")
        transport.send(message)
        try:
            async with asyncio.timeout(self._send_timeout):
                await transport.drain()
        except TimeoutError as exc:
            raw = transport.transport
            if raw is not None:
                raw.abort()
            raise ConnectionLost(f"the hub did not read for {self._send_timeout} s") from exc

    def _new_stream_id(self, name: str) -> int:
        raw = self._transport.transport if self._transport is not None else None
        local = repr(raw.get_extra_info("sockname")) if raw is not None else ""
        return new_stream_id(name, local, next(self._stream_counter))

    def _pause(self, pause: bool) -> None:
        raw = self._transport.transport if self._transport is not None else None
        if raw is None or raw.is_closing():
            self._paused = False
            return
        self._paused = pause
        if pause:
            raw.pause_reading()
        else:
            raw.resume_reading()

    def _on_close(self, transport: AioTransport) -> None:
        if transport.error is not None:
            logger.warning("connection closed: %s", transport.error)
        self._paused = False
        self._wakeup.set()
        self._identified.set()

    def _on_event(self, event: EngineEvent) -> None:
        """Loop callback: route one engine event to its definition, then queue it."""
        try:
            if not route_event(event, self._definitions, self._identified.set):
                self._unhandled(event)
        except Exception:
            logger.exception("error handling %r", event)
        if self._queue_events:
            self._queue.append(event)
            self._wakeup.set()
            if not self._paused and len(self._queue) >= self._max_queue:
                self._pause(True)

    def _unhandled(self, event: EngineEvent) -> None:
        callback = self.on_unhandled
        if callback is not None:
            callback(event)
        elif isinstance(event, JunkSkipped):
            logger.warning("%d octets of junk from the hub skipped", event.size)
        elif not self._queue_events:
            logger.debug("unhandled: %r", event)

    def __repr__(self) -> str:
        state = "open" if self.is_connected else "closed"
        return f"<imb.AsyncClient {state} federation={self.federation!r} events={len(self._definitions)}>"
