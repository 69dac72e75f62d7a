"""What the IMB3 client engine does with each frame from the hub (``specs/imb/notes.md`` §4-§6).

:class:`FrameReceiver` is the receiving half of
:class:`~otwire.protocols.imb.client.IMBClientConnection` (the other half, in ``client``,
queues what the client sends): icUniqueClientID stores the connection's ids,
icSetEventIDTranslation fills the hub id -> client id table, icEndSession closes, an
icEvent is decoded, translated and reported (stream chunks go to the
:class:`~otwire.protocols.imb._streams.StreamAssembler`), any other command is a
``CommandReceived``.
"""

from __future__ import annotations

from otwire.codecs.imb import (
    CommandCode,
    EndSession,
    Frame,
    SetEventIDTranslation,
    StreamBody,
    StreamHeader,
    StreamTail,
    UniqueClientID,
    decode_command,
    decode_event,
)
from otwire.errors import DecodeError
from otwire.protocols import TerminationReason
from otwire.protocols._base import EngineBase
from otwire.protocols.imb._bindings import EventBindings
from otwire.protocols.imb._state import ClientConnectionState, ClientInput
from otwire.protocols.imb._streams import StreamAssembler
from otwire.protocols.imb.config import IMBClientConfig
from otwire.protocols.imb.events import (
    CommandReceived,
    EventReceived,
    SubscriptionConfirmed,
    TranslationIgnored,
    TranslationRemoved,
    UniqueClientIDReceived,
    UnmappedEventReceived,
)

__all__ = ["FrameReceiver"]

In = ClientInput


class FrameReceiver(EngineBase[ClientConnectionState, ClientInput]):
    """The receiving half of the client engine: act on one decoded frame from the hub.

    The state it keeps is set up by ``IMBClientConnection.__init__``.
    """

    __slots__ = ("_bindings", "_client_id", "_streams", "_translation", "_unique_client_id")

    config: IMBClientConfig
    _bindings: EventBindings
    _translation: dict[int, int]
    _streams: StreamAssembler
    _unique_client_id: int | None
    _client_id: int | None

    def _apply_frame(self, frame: Frame) -> None:
        """Decode one received frame and act on it (raises ``DecodeError`` for a malformed payload)."""
        code = frame.command_code
        if code == CommandCode.EVENT:
            self._move(In.RECV_EVENT)
            self._report_event(frame.payload)
            return
        command = decode_command(frame)
        if type(command) is UniqueClientID:
            self._move(In.RECV_UNIQUE_ID)
            self._unique_client_id, self._client_id = command.unique_client_id, command.client_id
            self._events.append(
                UniqueClientIDReceived(unique_client_id=command.unique_client_id, client_id=command.client_id)
            )
        elif type(command) is SetEventIDTranslation:
            self._move(In.RECV_TRANSLATION)
            self._apply_translation(command.hub_event_id, command.client_event_id)
        elif type(command) is EndSession:
            self._terminate(TerminationReason.END_SESSION, None)
        else:
            self._move(In.RECV_OTHER)
            self._events.append(CommandReceived(command=command))

    def _apply_translation(self, hub_id: int, client_id: int) -> None:
        """Record (client id >= 0) or remove (< 0) the hub's translation of ``hub_id``."""
        if client_id < 0:
            self._events.append(TranslationRemoved(hub_event_id=hub_id, event_id=self._translation.pop(hub_id, None)))
            return
        limit = self.config.max_translations
        if hub_id not in self._translation and len(self._translation) >= limit:
            reason = f"{limit} translations kept (max_translations)"
            self._events.append(TranslationIgnored(hub_event_id=hub_id, event_id=client_id, reason=reason))
            return
        self._translation[hub_id] = client_id
        binding = self._bindings.get(client_id)
        name = binding.name if binding is not None else None
        self._events.append(SubscriptionConfirmed(event_id=client_id, event_name=name, hub_event_id=hub_id))

    def _report_event(self, payload: bytes) -> None:
        """Decode an icEvent, translate its id and report it (stream chunks go to the assembler)."""
        hub_id = int.from_bytes(payload[:4], "little", signed=True) if len(payload) >= 4 else None
        client_id = self._translation.get(hub_id) if hub_id is not None else None
        entry = self._bindings.get(client_id) if client_id is not None else None
        try:
            event = decode_event(payload, focus=entry is not None and _is_focus(entry.name))
        except DecodeError:
            if entry is None or not _is_focus(entry.name):
                raise
            event = decode_event(payload)  # a change-object event on a "Focus" name
        if entry is None or client_id is None:
            self._events.append(UnmappedEventReceived(hub_event_id=event.event_id, event=event))
            return
        body = event.body
        if isinstance(body, StreamHeader | StreamBody | StreamTail):
            self._streams.on_chunk(client_id, entry.name, body)
            return
        self._events.append(
            EventReceived(
                event_id=client_id,
                event_name=entry.name,
                hub_event_id=event.event_id,
                tick=event.tick,
                flags=event.flags,
                body=body,
            )
        )


def _is_focus(name: str) -> bool:
    """True for the Focus event (``"<fed>.Focus"``), whose kind-0 body is two doubles (notes §5)."""
    return name == "Focus" or name.endswith(".Focus")
