"""Threaded IMB3 client with pyimb's API (``Client``, ``EventDefinition``), without asyncore.

Threading: each :class:`Client` runs one daemon thread (``otwire-imb-client``) with a
:class:`~otwire.transports.sync.SelectorLoop` that reads from the hub and calls every
handler and stream callback, one at a time. Sends (``subscribe``, ``signal_string``,
``signal_stream``, ...) run in the caller's thread: each frame is written whole with a
blocking ``sendall`` under the transport lock, so sends from several threads never
interleave and a fast sender is slowed down by TCP instead of filling memory.
Handlers may send too.

``disconnect()`` half-closes the socket (all sent octets still arrive), keeps reading
until the hub closes its side (at most :data:`LINGER` seconds), then closes. The
thread is a daemon and an ``atexit`` hook disconnects, so a script that never calls
``disconnect()`` still exits promptly.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import socket
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial

from otwire.clients._checks import check_bytes, check_int, check_str
from otwire.clients.imb._checks import check_client_args
from otwire.clients.imb._constants import DEFAULT_PORT
from otwire.clients.imb._definition import BlockingEventSends
from otwire.clients.imb._event import (
    SEND_TIMEOUT,
    logger,
    new_stream_id,
    route_event,
)
from otwire.codecs.imb import (
    Command,
    Publish,
    Subscribe,
    UniqueClientID,
    Unpublish,
    Unsubscribe,
)
from otwire.errors import InvalidState, OTWireError
from otwire.protocols import Event as EngineEvent
from otwire.protocols.imb.client import IMBClientConnection, RawEvent
from otwire.protocols.imb.events import JunkSkipped
from otwire.transports.sync import SelectorLoop, SocketTransport

__all__ = ["ID_WAIT", "LINGER", "Client", "EventDefinition"]

#: Seconds ``disconnect()`` waits for the hub to close after our half-close.
LINGER = 2.0
#: Seconds ``unique_client_id`` waits for the hub's icUniqueClientID (pyimb: 10 x 0.5 s).
ID_WAIT = 5.0


class EventDefinition(BlockingEventSends):
    """One named event of a :class:`Client` (pyimb's ``EventDefinition``).

    Get it from ``client.get_event``, ``client.subscribe`` or ``client.publish``. The
    sends (``subscribe``, ``publish``, ``signal_string``, ``signal_stream``, ...) are
    :class:`~otwire.clients.imb._definition.BlockingEventSends`'; they raise
    ``ConnectionLost`` once the connection is closed.
    """

    @property
    def client(self) -> Client:
        """The owning client."""
        return self._client  # type: ignore[no-any-return]


class Client:
    """A connection to an IMB3 hub: a drop-in for pyimb's ``imb.Client``.

    Connects at once and sends icSetClientInfo; the hub's ids arrive by themselves.

    Args:
        host: Host name or address of the hub.
        port: TCP port (usually 4000).
        owner_id: Owner id sent to the hub (int32; ``None``: 0).
        owner_name: Owner name sent to the hub (``None``: empty).
        federation: Prefix of event names, ``"<federation>.<name>"``; ``None`` or
            ``""`` adds no prefix (pyimb fails on ``None``).
        timeout: Seconds allowed for the TCP connect.
        send_timeout: Seconds one send may block on a hub that does not read; then the
            connection is dropped and the send raises ``ConnectionLost`` (``None``: no limit).

    Raises:
        ConnectTimeout: The connect took longer than ``timeout``.
        TransportError: The hub cannot be reached.
        EncodeError: ``owner_id`` or ``owner_name`` cannot be encoded.
        InvalidArgumentType: an argument has the wrong type (also a ``TypeError``).
        InvalidArgument: ``port`` is not in 1..65535 or a timeout is not positive (also a ``ValueError``).

    Event ids, names and the subscribed/published flags are the engine's
    (:class:`~otwire.protocols.imb.client.IMBClientConnection`); the client keeps only
    the :class:`EventDefinition` objects (handlers) by event id.
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
        send_timeout: float | None = SEND_TIMEOUT,
    ) -> None:
        check_client_args(host, port, owner_id, owner_name, federation, timeout, send_timeout)
        self._engine = IMBClientConnection(
            0 if owner_id is None else owner_id,
            "" if owner_name is None else owner_name,
            federation=federation,
            end_session_on_close=False,
        )
        self._lock = threading.RLock()
        self._definitions: dict[int, EventDefinition] = {}  # engine event id -> handlers
        self._identified = threading.Event()
        self._closed = threading.Event()
        self._disconnecting = False
        self._id_wait_failed = False
        self._stream_counter = itertools.count()
        self.on_unhandled: Callable[[EngineEvent], object] | None = None
        """Called on the client thread with each engine event nothing else took: an event
        without a handler, an event on an unmapped hub id, stream data without a stream,
        a hub notification, a malformed frame. Not in pyimb (which drops the connection)."""
        logger.info("connecting to %s:%s (owner %s %r, federation %r)", host, port, owner_id, owner_name, federation)
        self._loop = SelectorLoop()
        try:
            self._transport = SocketTransport.connect(
                self._engine,
                host,
                port,
                timeout=timeout,
                on_event=self._on_event,
                on_close=self._on_close,
                write_timeout=send_timeout,
            )
        except BaseException:
            self._loop.close()
            raise
        self._loop.add(self._transport)
        self._thread = threading.Thread(target=self._run_loop, name="otwire-imb-client", daemon=True)
        self._thread.start()
        self._atexit: Callable[[], None] | None = partial(_disconnect_at_exit, weakref.ref(self))
        atexit.register(self._atexit)

    # -- pyimb properties ------------------------------------------------------------------

    @property
    def federation(self) -> str | None:
        """The federation given to the constructor."""
        return self._engine.federation

    @property
    def unique_client_id(self) -> int:
        """The unique client id the hub gave this connection (unsigned), or -1.

        As pyimb: when it is not known yet, an icUniqueClientID request is sent and
        the hub's answer awaited (:data:`ID_WAIT` seconds); without one, later reads
        do not wait again. From a handler (the client thread) nothing is awaited.
        """
        known = bool(self._engine.unique_client_id)
        if not known and not self._id_wait_failed and not self._closed.is_set() and not self._in_loop_thread():
            self._request_unique_id()
        uid = self._engine.unique_client_id
        return uid & 0xFFFFFFFF if uid else -1

    def _request_unique_id(self) -> None:
        self._identified.clear()
        with contextlib.suppress(OTWireError):
            self._send(UniqueClientID())
        deadline = time.monotonic() + ID_WAIT
        while not self._engine.unique_client_id and (left := deadline - time.monotonic()) > 0:
            if self._closed.is_set():
                break
            self._identified.wait(min(left, 0.5))  # set on icUniqueClientID and on close
            self._identified.clear()
        self._id_wait_failed = not self._engine.unique_client_id

    @property
    def client_id(self) -> int:
        """The client handle the hub gave this connection (unsigned).

        Raises:
            InvalidState: The hub never sent it (pyimb raises ``AttributeError`` then).
        """
        if self._engine.client_id is None:
            _ = self.unique_client_id
        handle = self._engine.client_id
        if handle is None:
            raise InvalidState("client_id: the hub has not sent icUniqueClientID")
        return handle & 0xFFFFFFFF

    @property
    def socket(self) -> socket.socket:
        """The socket, for ``getsockname()``/``getpeername()``; never read or write it."""
        return self._transport.socket

    @property
    def is_connected(self) -> bool:
        """True until the connection closed (either side)."""
        return not self._closed.is_set()

    # -- events ------------------------------------------------------------------------------

    def get_event(self, event_name: str, prefix: bool = True, create: bool = True) -> EventDefinition | None:
        """Return the :class:`EventDefinition` of an event (not subscribed or published by this call).

        Args:
            event_name: The event name.
            prefix: Prefix it with ``"<federation>."``.
            create: Create the definition when it does not exist yet (else return ``None``).

        Returns:
            The definition (the same object for the same full name), or ``None``.
        """
        with self._lock:  # the loop thread only reads the engine's event table
            event_id = self._engine.define_event(event_name, prefix=prefix, create=create)
            if event_id is None:
                return None
            definition = self._definitions.get(event_id)
            if definition is None:
                name = self._engine.event_name(event_id) or event_name
                definition = self._definitions[event_id] = EventDefinition(event_id, name, self)
            return definition

    def subscribe(self, event_name: str, prefix: bool = True) -> EventDefinition:
        """Get the event's definition and subscribe to it. See :meth:`get_event`."""
        definition = self._definition(event_name, prefix)
        definition.subscribe()
        return definition

    def publish(self, event_name: str, prefix: bool = True) -> EventDefinition:
        """Get the event's definition and publish it. See :meth:`get_event`."""
        definition = self._definition(event_name, prefix)
        definition.publish()
        return definition

    def unsubscribe(self, event_name: str, prefix: bool = True) -> EventDefinition | None:
        """Unsubscribe from an existing event; returns its definition, or ``None`` if unknown."""
        definition = self.get_event(event_name, prefix, create=False)
        if definition is not None:
            definition.unsubscribe()
        return definition

    def unpublish(self, event_name: str, prefix: bool = True) -> EventDefinition | None:
        """Stop publishing an existing event; returns its definition, or ``None`` if unknown."""
        definition = self.get_event(event_name, prefix, create=False)
        if definition is not None:
            definition.unpublish()
        return definition

    # -- pyimb's low-level senders -------------------------------------------------------------

    def signal_subscribe(self, event_id: int, event_entry_type: int, event_name: str) -> None:
        """Send icSubscribe as given (prefer :meth:`subscribe`).

        Raises:
            InvalidArgumentType: an argument has the wrong type.
            EncodeError: an int does not fit 32 bits.
            LocalProtocolError: the id or name is bound to another name or id.
            ConnectionLost: the connection is closed.
        """
        check_int("event_id", event_id), check_int("event_entry_type", event_entry_type)
        check_str("event_name", event_name)
        self._send(Subscribe(event_id=event_id, event_entry_type=event_entry_type, event_name=event_name))

    def signal_publish(self, event_id: int, event_entry_type: int, event_name: str) -> None:
        """Send icPublish as given (prefer :meth:`publish`); raises as :meth:`signal_subscribe`."""
        check_int("event_id", event_id), check_int("event_entry_type", event_entry_type)
        check_str("event_name", event_name)
        self._send(Publish(event_id=event_id, event_entry_type=event_entry_type, event_name=event_name))

    def signal_unsubscribe(self, event_name: str) -> None:
        """Send icUnsubscribe (prefer :meth:`unsubscribe`); ``InvalidArgumentType`` when not a str."""
        check_str("event_name", event_name)
        self._send(Unsubscribe(event_name=event_name))

    def signal_unpublish(self, event_name: str) -> None:
        """Send icUnpublish (prefer :meth:`unpublish`); ``InvalidArgumentType`` when not a str."""
        check_str("event_name", event_name)
        self._send(Unpublish(event_name=event_name))

    def signal_normal_event(self, event_id: int, event_kind: int, event_payload: bytes) -> None:
        """Send an icEvent with a raw body on a subscribed or published id (prefer ``signal_event``).

        Raises:
            InvalidArgumentType: an argument has the wrong type.
            EncodeError: an int does not fit 32 bits or the body is too long.
            LocalProtocolError: ``event_id`` is not bound to an event.
            ConnectionLost: the connection is closed.
        """
        check_int("event_id", event_id)
        kind, payload = check_int("event_kind", event_kind), check_bytes("event_payload", event_payload)
        self._send(RawEvent(event_id=event_id, event_kind=kind, payload=payload))

    # -- lifecycle ------------------------------------------------------------------------------

    def disconnect(self) -> None:
        """Close the connection gracefully and stop the client thread. Idempotent.

        Everything sent before arrives: the socket is half-closed, the hub's last
        events are still handled, and the socket closes when the hub closes its side
        (or after :data:`LINGER` seconds). Called from a handler it returns at once.
        """
        with self._lock:
            first = not self._disconnecting
            self._disconnecting = True
            if self._atexit is not None:
                atexit.unregister(self._atexit)
                self._atexit = None
        in_loop = self._in_loop_thread()
        if not self._closed.is_set():
            if in_loop:
                if first:
                    self._half_close()
                return
            if first:
                self._loop.call_soon_threadsafe(self._half_close)
            if not self._closed.wait(LINGER + 1.0):
                self._transport.close()  # the loop thread is stuck or gone
        if not in_loop:
            self._loop.stop()
            self._thread.join(LINGER)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    # -- internals ------------------------------------------------------------------------------

    def _definition(self, event_name: str, prefix: bool) -> EventDefinition:
        definition = self.get_event(event_name, prefix)
        if definition is None:  # pragma: no cover - create=True always gives one
            raise InvalidState(f"no definition for {event_name!r}")
        return definition

    def _send(self, message: Command | RawEvent) -> None:
        self._transport.send(message)

    def _new_stream_id(self, name: str) -> int:
        try:
            local = repr(self._transport.socket.getsockname())
        except OSError:
            local = ""
        return new_stream_id(name, local, next(self._stream_counter))

    def _in_loop_thread(self) -> bool:
        return self._thread.ident == threading.get_ident()

    def _run_loop(self) -> None:
        try:
            while True:
                try:
                    self._loop.run_forever()
                    return
                except Exception:  # a bug must not end the client thread silently
                    logger.exception("client loop error")
                    if self._closed.is_set():
                        return
        finally:
            self._loop.close()

    def _half_close(self) -> None:
        """Loop thread: send FIN after everything queued; close for good after LINGER."""
        transport = self._transport
        if transport.closed:
            return
        try:
            transport.socket.shutdown(socket.SHUT_WR)
        except OSError:
            transport.close()
            return
        self._loop.call_at(time.monotonic() + LINGER, transport.close)

    def _on_close(self, transport: SocketTransport) -> None:
        if transport.error is not None:
            logger.warning("connection closed: %s", transport.error)
        self._closed.set()
        self._identified.set()
        self._loop.stop()

    def _on_event(self, event: EngineEvent) -> None:
        """Client thread: route one engine event to its definition or to ``on_unhandled``."""
        try:
            if not route_event(event, self._definitions, self._identified.set):
                self._unhandled(event)
        except Exception:
            logger.exception("error handling %r", event)

    def _unhandled(self, event: EngineEvent) -> None:
        callback = self.on_unhandled
        if callback is not None:
            callback(event)
        elif isinstance(event, JunkSkipped):
            logger.warning("%d octets of junk from the hub skipped", event.size)
        else:
            logger.debug("unhandled: %r", event)

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else "open"
        return f"<imb.Client {state} federation={self.federation!r} events={len(self._definitions)}>"


def _disconnect_at_exit(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is not None:
        client.disconnect()
