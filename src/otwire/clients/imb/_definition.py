"""The sending half of the threaded client's ``EventDefinition`` (pyimb's per-event object).

:class:`BlockingEventSends` holds every blocking send; ``client.EventDefinition`` adds the
typed ``client`` property (this module does not import the client: no import cycle).
Sends run in the caller's thread through the owning client (one whole frame per
``sendall``, at most ``send_timeout`` seconds). Arguments are checked before anything
is sent (``_checks``).
"""

from __future__ import annotations

import threading
from typing import Any

from otwire.clients._checks import check_bytes, check_int, check_seconds, check_str
from otwire.clients.imb._checks import check_stream_args
from otwire.clients.imb._constants import DEFAULT_STREAM_BODY_BUFFER_SIZE
from otwire.clients.imb._event import MAX_CHUNK_SIZE, EventBase, Readable, stream_events
from otwire.codecs.imb import (
    ChangeObjectEvent,
    EventCommand,
    NormalEvent,
    Publish,
    Subscribe,
    Unpublish,
    Unsubscribe,
    encode_string,
)
from otwire.protocols.imb.client import RawEvent

__all__ = ["BlockingEventSends"]


class BlockingEventSends(EventBase):
    """The blocking sends of one named event of a threaded client (see ``client.EventDefinition``).

    Sends raise ``ConnectionLost`` once the connection is closed.
    """

    def __init__(self, event_id: int, name: str, client: Any) -> None:
        super().__init__(event_id, name, client)
        self._confirmed = threading.Event()

    def subscribe(self) -> None:
        """Subscribe to the event (icSubscribe; nothing if already subscribed)."""
        if not self.is_subscribed:
            self._confirmed.clear()
            self._client._send(Subscribe(event_id=self.event_id, event_name=self.name))

    def unsubscribe(self) -> None:
        """Unsubscribe from the event (icUnsubscribe; nothing if not subscribed)."""
        if self.is_subscribed:
            self._client._send(Unsubscribe(event_name=self.name))

    def publish(self) -> None:
        """Publish the event (icPublish; nothing if already published)."""
        if not self.is_published:
            self._client._send(Publish(event_id=self.event_id, event_name=self.name))

    def unpublish(self) -> None:
        """Stop publishing the event (icUnpublish; nothing if not published)."""
        if self.is_published:
            self._client._send(Unpublish(event_name=self.name))

    def signal_event(self, event_kind: int, event_payload: bytes) -> None:
        """Send an event with a raw body (publishing the event first if needed).

        Args:
            event_kind: ``ekNormalEvent``, ... (flags may be or-ed in, e.g. 0x100).
            event_payload: The body octets, sent unchanged.

        Raises:
            InvalidArgumentType: ``event_kind`` is not an int or ``event_payload`` not bytes.
            EncodeError: ``event_kind`` does not fit 32 bits or the body is too long.
            ConnectionLost: the connection is closed, or the hub did not read for ``send_timeout`` seconds.
        """
        kind, payload = check_int("event_kind", event_kind), check_bytes("event_payload", event_payload)
        message = RawEvent(event_id=self.event_id, event_kind=kind, payload=payload)
        self.publish()
        self._client._send(message)

    def signal_change_object(self, action: int, object_id: int, attribute: str) -> None:
        """Send an ekChangeObjectEvent.

        Args:
            action: ``actionNew``, ``actionDelete`` or ``actionChange`` (any int32).
            object_id: The object's id (int32).
            attribute: The changed attribute's name.

        Raises:
            InvalidArgumentType: an argument has the wrong type.
            EncodeError: ``action`` or ``object_id`` does not fit 32 bits.
            ConnectionLost: the connection is closed, or the hub did not read for ``send_timeout`` seconds.
        """
        check_int("action", action), check_int("object_id", object_id), check_str("attribute", attribute)
        self.publish()
        body = ChangeObjectEvent(action=action, object_id=object_id, attribute=attribute)
        self._client._send(EventCommand(event_id=self.event_id, body=body))

    def signal_string(self, value: str) -> None:
        """Send an ekNormalEvent whose body is ``encode_string(value)``.

        Args:
            value: The text.

        Raises:
            InvalidArgumentType: ``value`` is not a str.
            ConnectionLost: the connection is closed, or the hub did not read for ``send_timeout`` seconds.
        """
        check_str("value", value)
        self.publish()
        self._client._send(EventCommand(event_id=self.event_id, body=NormalEvent(data=encode_string(value))))

    def signal_stream(self, name: str, stream: Readable, chunk_size: int = DEFAULT_STREAM_BODY_BUFFER_SIZE) -> None:
        """Send a stream: a header, ``chunk_size`` bodies read from ``stream``, then the tail.

        Blocks until the last chunk is handed to the kernel; ``stream`` is not closed.

        Args:
            name: The stream's name (e.g. a file name).
            stream: A binary file-like object, read with ``read(chunk_size)``.
            chunk_size: Octets per body (default 16 KiB, at most 10 MiB less 16).

        Raises:
            InvalidArgument: ``chunk_size`` is out of range.
            InvalidArgumentType: ``name`` is not a str, ``stream`` has no ``read`` (or it
                returned something else than bytes), ``chunk_size`` is not an int.
            ConnectionLost: the connection is closed, or the hub did not read for ``send_timeout`` seconds.
        """
        check_stream_args(name, stream, chunk_size, MAX_CHUNK_SIZE)
        self.publish()
        stream_id = self._client._new_stream_id(name)
        for event in stream_events(self.event_id, stream_id, name, stream, chunk_size):
            self._client._send(event)

    def wait_subscribed(self, timeout: float = 5.0) -> bool:
        """Wait until the hub confirmed the subscription (its id translation arrived).

        Not in pyimb: events another client sends before the hub saw the
        subscription are not delivered, so wait for this before relying on them.

        Args:
            timeout: Seconds to wait at most.

        Returns:
            True when confirmed.

        Raises:
            InvalidArgumentType: ``timeout`` is not a number (or ``None``: no limit).
            InvalidArgument: ``timeout`` is negative or NaN.
        """
        return self._confirmed.wait(check_seconds("timeout", timeout))

    def _on_confirmed(self) -> None:
        self._confirmed.set()
