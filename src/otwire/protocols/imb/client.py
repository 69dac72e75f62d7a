"""The sans-IO TNO IMB3 client engine (``specs/imb/notes.md`` §4-§6, §11).

One :class:`IMBClientConnection` is one client connection to a hub. It

* queues the handshake at construction: icSetClientInfo (pyimb's whole handshake),
  optionally followed by an icUniqueClientID request (what the reference clients do);
* numbers the client's events (``define_event``: 0, 1, 2, ... in order of first use,
  never reused, as pyimb) and prefixes names with the federation;
* sends icSubscribe/icPublish once per event and icUnsubscribe/icUnpublish only
  when subscribed/published; an event signalled on an unpublished event publishes
  it first (pyimb's auto-publish);
* keeps the hub's icSetEventIDTranslation table and translates incoming events to
  the client's ids; an icEvent for an unmapped id or of an unknown kind is an
  event for the user (``UnmappedEventReceived``, ``EventReceived`` with an
  ``UnknownEvent`` body), never a dropped connection;
* reassembles streams by (event, stream id): header, chunks and tail become
  ``StreamStarted``/``StreamData``/``StreamEnded``; interleaved streams are kept apart;
* ends the session: ``close()`` sends icEndSession (unless disabled); an icEndSession
  from the hub closes the engine.

Peer violations (``specs/imb/notes.md`` "Peer violations", the same rule as the hub
and IEC 104):

* octets between frames that do not start one are skipped and reported
  (``JunkSkipped``, once per ``receive_data``); more than ``max_junk_bytes`` in a
  row is a ``RemoteProtocolError`` (the engine closes first);
* a framing error (negative or oversize length, wrong trailer) and a framed command
  or icEvent whose payload is malformed are a ``DecodeError`` raised from
  ``receive_data`` after the engine closed (``ConnectionTerminated(PROTOCOL_ERROR)``);
* unknown command codes and event kinds are not errors: ``CommandReceived`` with an
  ``UnknownCommand``, ``EventReceived`` with an ``UnknownEvent`` body.

A transport failure is ``connection_lost(now, exc)`` (``CONNECTION_LOST``). There are no timers.

>>> conn = IMBClientConnection(123, "my name", federation="fed")
>>> len(conn.data_to_send())  # icSetClientInfo(123, "my name")
35
>>> event_id = conn.define_event("my event")
>>> conn.subscribe(event_id, now=0.0)
>>> conn.event_name(event_id), len(conn.data_to_send())
('fed.my event', 44)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otwire.codecs.imb import (
    Command,
    EndSession,
    EventBody,
    EventCommand,
    EventFlag,
    FrameItem,
    IMBFramer,
    Junk,
    Publish,
    SetClientInfo,
    Subscribe,
    UniqueClientID,
    Unpublish,
    Unsubscribe,
    encode_command,
    encode_event_frame,
)
from otwire.errors import InvalidArgumentType, LocalProtocolError, RemoteProtocolError
from otwire.protocols import Buffer, TerminationReason
from otwire.protocols._base import as_octets
from otwire.protocols.imb._bindings import EventBindings, prefixed_name
from otwire.protocols.imb._receiving import FrameReceiver
from otwire.protocols.imb._state import (
    CLIENT_END_INPUTS,
    CLIENT_LOCAL_INPUTS,
    CLIENT_TRANSITIONS,
    ClientConnectionState,
    ClientInput,
)
from otwire.protocols.imb._streams import StreamAssembler
from otwire.protocols.imb.config import IMBClientConfig, merge_config
from otwire.protocols.imb.events import JunkSkipped

__all__ = ["IMBClientConnection", "RawEvent", "prefixed_name"]

_END_SESSION = encode_command(EndSession())
S, In = ClientConnectionState, ClientInput


@dataclass(frozen=True, slots=True, kw_only=True)
class RawEvent:
    """An icEvent whose body is sent as given, unchecked (pyimb ``signal_event(kind, payload)``).

    Raises:
        EncodeError: a field is out of range or ``payload`` is not bytes (from ``send``).
    """

    event_id: int
    """The client's id of a bound event."""
    event_kind: int
    """The whole kind field: kind in bits 0..7, flags above (-2**31..2**32-1, sent as 32 bits)."""
    payload: bytes
    """The body octets."""
    tick: int = 0
    """The tick field (0 from every public client)."""

    def encode(self) -> bytes:
        """Return the whole icEvent frame (:func:`otwire.codecs.imb.encode_event_frame`).

        Raises:
            EncodeError: a field is out of range, or the payload is too long.
        """
        return encode_event_frame(self.event_id, self.tick, self.event_kind, self.payload)


class IMBClientConnection(FrameReceiver):
    """One IMB3 client connection as a sans-IO state machine.

    Args:
        owner_id: Application-chosen owner id (int32), sent in icSetClientInfo.
        owner_name: Owner (model) name, sent in icSetClientInfo.
        federation: Prefix of event names (``define_event``); ``None``/``""``: none.
        config: Settings and limits (:class:`~otwire.protocols.imb.config.IMBClientConfig`).
        **options: Fields of ``IMBClientConfig`` that replace those of ``config``
            (``request_unique_id=True``, ``max_open_streams=8``, ...).

    Raises:
        EncodeError: ``owner_id`` or ``owner_name`` cannot be encoded.
        InvalidArgument: a setting is out of range.
        InvalidArgumentType: ``config`` or an option is not one of ``IMBClientConfig``.

    The contract is that of :class:`otwire.protocols.Connection`; peer violations
    follow the rule in the module docstring. What each received frame does is in
    :class:`~otwire.protocols.imb._receiving.FrameReceiver`.
    """

    __slots__ = ("_framer", "_junk_run", "config", "end_session_on_close", "federation", "junk_octets")

    CLOSED = S.CLOSED
    LOCAL_INPUTS = CLIENT_LOCAL_INPUTS
    END_INPUTS = CLIENT_END_INPUTS

    def __init__(
        self,
        owner_id: int = 0,
        owner_name: str = "",
        *,
        federation: str | None = None,
        config: IMBClientConfig | None = None,
        **options: Any,
    ) -> None:
        super().__init__(S.AWAITING_ID, CLIENT_TRANSITIONS)
        self.config = config = merge_config(IMBClientConfig, config, options)
        self.federation = federation
        self.end_session_on_close = config.end_session_on_close
        self._framer = IMBFramer(max_payload_size=config.max_payload_size)
        self._out += encode_command(SetClientInfo(owner_id=owner_id, owner_name=owner_name))
        if config.request_unique_id:
            self._out += encode_command(UniqueClientID())
        self._bindings = EventBindings()
        self._translation: dict[int, int] = {}
        self._streams = StreamAssembler(self._events, config.max_open_streams)
        self._unique_client_id: int | None = None
        self._client_id: int | None = None
        self._junk_run = 0  # junk octets since the last complete frame
        self.junk_octets = 0
        """Octets skipped because they did not start a frame."""

    # -- observable state ------------------------------------------------------------

    @property
    def unique_client_id(self) -> int | None:
        """The unique client id from the hub, or ``None`` before icUniqueClientID."""
        return self._unique_client_id

    @property
    def client_id(self) -> int | None:
        """The client handle from the hub, or ``None`` before icUniqueClientID."""
        return self._client_id

    @property
    def translations(self) -> dict[int, int]:
        """A copy of the hub id -> client id table."""
        return dict(self._translation)

    @property
    def open_streams(self) -> int:
        """Incoming streams started and not yet ended."""
        return len(self._streams)

    def full_name(self, name: str, prefix: bool = True) -> str:
        """Return ``name`` with the federation prefix (see :func:`prefixed_name`)."""
        return prefixed_name(self.federation, name, prefix)

    def define_event(self, name: str, *, prefix: bool = True, create: bool = True) -> int | None:
        """Return the client's id for an event, numbering new names 0, 1, 2, ... (pyimb).

        Args:
            name: Event name.
            prefix: Prefix ``name`` with the federation.
            create: Give an unknown name the next free id (else return ``None``).

        Returns:
            The id, or ``None`` for an unknown name with ``create=False``.

        Raises:
            InvalidArgumentType: ``name`` is not a ``str`` (a ``LocalProtocolError``).
            LocalProtocolError: every int32 id is used.
        """
        if not isinstance(name, str):
            raise InvalidArgumentType(f"event name must be a str, got {type(name).__name__}")
        return self._bindings.define(self.full_name(name, prefix), create)

    def event_name(self, event_id: int) -> str | None:
        """Return the full name bound to a client id, or ``None``."""
        binding = self._bindings.get(event_id)
        return binding.name if binding is not None else None

    def event_id(self, name: str) -> int | None:
        """Return the client id bound to the full (already prefixed) ``name``, or ``None``."""
        return self._bindings.id_of(name)

    def is_subscribed(self, event_id: int) -> bool:
        """True when icSubscribe was sent for the event and no icUnsubscribe since."""
        binding = self._bindings.get(event_id)
        return binding is not None and binding.subscribed

    def is_published(self, event_id: int) -> bool:
        """True when icPublish was sent for the event and no icUnpublish since."""
        binding = self._bindings.get(event_id)
        return binding is not None and binding.published

    # -- inputs ------------------------------------------------------------------------

    def receive_data(self, data: Buffer, now: float) -> None:
        """Feed octets from the hub; ``b""`` is end of stream.

        A frame cut short by the end of stream is reported as junk (a hub killed
        mid-frame), then the connection ends with ``PEER_CLOSED``.

        Raises:
            DecodeError: a framing error (negative or oversize length, wrong
                trailer) or a command or icEvent whose payload is malformed; the
                frames before it were applied and the engine is closed.
            RemoteProtocolError: more than ``max_junk_bytes`` octets in a row started no frame.
            InvalidArgumentType: ``data`` is not bytes-like (nothing changes; a ``LocalProtocolError``).
            LocalProtocolError: the connection is already closed.
        """
        if type(data) is not bytes:
            data = as_octets(data)
        self._check_open("receive data")
        framer = self._framer
        if data:
            framer.receive_data(data)
        junk = 0
        try:
            while self._state is not S.CLOSED and (item := framer.next_item()) is not None:
                if type(item) is FrameItem:
                    self._junk_run = 0
                    self._apply_frame(item.frame)
                elif type(item) is Junk:
                    junk += len(item.data)
                    self._count_junk(len(item.data))
                else:
                    raise item.error  # type: ignore[union-attr]
        except RemoteProtocolError as exc:
            self._report_junk(junk)
            self._fail(exc)
            raise
        ended = not data and self._state is not S.CLOSED
        if ended:
            junk += framer.buffered  # a frame cut short by the end of stream
        self._report_junk(junk)
        if ended:
            self._terminate(TerminationReason.PEER_CLOSED, None)

    def _count_junk(self, size: int) -> None:
        self.junk_octets += size
        self._junk_run += size
        if self._junk_run > self.config.max_junk_bytes:
            limit = self.config.max_junk_bytes
            raise RemoteProtocolError(f"{self._junk_run} octets in a row start no frame (max_junk_bytes={limit})")

    def _report_junk(self, size: int) -> None:
        if size:
            self._events.append(JunkSkipped(size=size))

    def send(self, message: Command | RawEvent, now: float) -> None:
        """Send one command.

        icSubscribe/icPublish bind their id to their name (a new pair, or the pair
        already bound) and go out once; icUnsubscribe/icUnpublish go out only when
        subscribed/published; an icEvent (or :class:`RawEvent`) needs a bound id and
        publishes its event first; icEndSession is ``close()``. Other commands are
        sent as given.

        Raises:
            EncodeError: the command cannot be encoded (nothing is sent).
            LocalProtocolError: an id or name conflicts with the bound pairs, an
                event id is not bound, or the connection is closed.
        """
        self._check_open("send")
        if isinstance(message, EndSession):
            self.close(now)
        elif isinstance(message, RawEvent | EventCommand):
            self._send_event(message)
        elif isinstance(message, Subscribe | Publish | Unsubscribe | Unpublish):
            self._send_membership(message)
        else:  # encode_command refuses anything that is not a command
            frame = encode_command(message)
            self._move(In.SEND)
            self._out += frame

    def _send_event(self, message: RawEvent | EventCommand) -> None:
        """Queue an icEvent on a bound id, publishing the event first when it is not published."""
        frame = message.encode() if isinstance(message, RawEvent) else encode_command(message)
        binding = self._bindings.get(message.event_id)
        if binding is None:
            raise LocalProtocolError(f"event id {message.event_id} is not bound to a name (subscribe or publish)")
        self._move(In.SEND)
        if not binding.published:
            self._out += encode_command(Publish(event_id=message.event_id, event_name=binding.name))
            binding.published = True
        self._out += frame

    def _send_membership(self, message: Subscribe | Publish | Unsubscribe | Unpublish) -> None:
        """Queue icSubscribe/icPublish once (binding the pair) and icUnsubscribe/icUnpublish only when in force."""
        frame = encode_command(message)
        subscription = isinstance(message, Subscribe | Unsubscribe)
        if isinstance(message, Subscribe | Publish):
            binding = self._bindings.bind(message.event_id, message.event_name)
            self._move(In.SEND)
            wanted = True
        else:
            self._move(In.SEND)
            event_id = self._bindings.id_of(message.event_name)
            found = self._bindings.get(event_id) if event_id is not None else None
            if found is None:
                return
            binding, wanted = found, False
        if (binding.subscribed if subscription else binding.published) == wanted:
            return
        if subscription:
            binding.subscribed = wanted
        else:
            binding.published = wanted
        self._out += frame

    def subscribe(self, event_id: int, now: float) -> None:
        """Send icSubscribe for a bound event (once).

        Raises:
            LocalProtocolError: the id is not bound, or the connection is closed.
        """
        self.send(Subscribe(event_id=event_id, event_name=self._bindings.bound_name(event_id)), now)

    def publish(self, event_id: int, now: float) -> None:
        """Send icPublish for a bound event (once).

        Raises:
            LocalProtocolError: the id is not bound, or the connection is closed.
        """
        self.send(Publish(event_id=event_id, event_name=self._bindings.bound_name(event_id)), now)

    def unsubscribe(self, event_id: int, now: float) -> None:
        """Send icUnsubscribe when the event is subscribed.

        Raises:
            LocalProtocolError: the id is not bound, or the connection is closed.
        """
        self.send(Unsubscribe(event_name=self._bindings.bound_name(event_id)), now)

    def unpublish(self, event_id: int, now: float) -> None:
        """Send icUnpublish when the event is published.

        Raises:
            LocalProtocolError: the id is not bound, or the connection is closed.
        """
        self.send(Unpublish(event_name=self._bindings.bound_name(event_id)), now)

    def signal(self, event_id: int, body: EventBody, now: float, *, flags: EventFlag | int = 0, tick: int = 0) -> None:
        """Send an icEvent on a bound event (publishing it first if needed).

        Args:
            event_id: The client's id of the event.
            body: The event body (its class gives the kind).
            now: Monotonic time, seconds.
            flags: Bits 8..31 of the kind field (``EventFlag.PRIORITY``).
            tick: The tick field.

        Raises:
            EncodeError: the body cannot be encoded.
            LocalProtocolError: the id is not bound, or the connection is closed.
        """
        self.send(EventCommand(event_id=event_id, tick=tick, flags=EventFlag(flags), body=body), now)

    def request_unique_client_id(self, now: float) -> None:
        """Send icUniqueClientID(0, 0); the hub answers with the connection's ids.

        Raises:
            LocalProtocolError: the connection is closed.
        """
        self.send(UniqueClientID(), now)

    def close(self, now: float) -> None:
        """Close locally, sending icEndSession first when ``end_session_on_close``. Idempotent."""
        if self._state is S.CLOSED:
            return
        if self.end_session_on_close:
            self._out += _END_SESSION
        self._terminate(TerminationReason.LOCAL_CLOSE, None)

    def handle_timer(self, now: float) -> None:
        """Do nothing: the engine has no timers.

        Raises:
            LocalProtocolError: the connection is already closed.
        """
        self._check_open("handle timer")

    def get_timer(self) -> float | None:
        """Return ``None``: the engine has no timers."""
        return None

    # -- internals ---------------------------------------------------------------------

    def _on_terminate(self, reason: TerminationReason) -> None:
        self._framer = IMBFramer()
        self._streams.abort_all("connection closed")

    def __repr__(self) -> str:
        return (
            f"<IMBClientConnection {self._state.name} unique_client_id={self._unique_client_id} "
            f"events={len(self._bindings)} translations={len(self._translation)} streams={len(self._streams)}>"
        )
