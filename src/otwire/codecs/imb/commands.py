"""IMB3 commands: one dataclass per command payload (``specs/imb/notes.md`` §4).

``encode_command(cmd)`` returns a whole frame; ``decode_command(frame)`` (or
``decode_command(command_code, payload)``) returns the command. A code outside
``CommandCode`` decodes to ``UnknownCommand`` with the raw payload; a command
whose layout nobody documents (icHeartBeat, icFlushQueue, icStatusTimer, ...)
keeps its payload raw in a ``payload`` field. icEvent is ``events.EventCommand``.

The commands of hub administration, monitoring, timers and location are in
``admin.py``; ``Command`` below is the union of all of them. Encoding and
decoding live in ``codec.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from otwire.codecs.imb import admin as a
from otwire.codecs.imb.events import EventCommand
from otwire.codecs.imb.primitives import Int32, Int64, Message
from otwire.codecs.imb.types import ClientState, CommandCode
from otwire.errors import EncodeError

C = CommandCode

# --- §4 session commands (pyimb and the reference clients) -----------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EndSession(Message):
    """icEndSession (-5), empty: the sender closes; the receiver closes too.

    Raises:
        Nothing: it has no fields.
    """

    command_code: ClassVar[CommandCode] = C.END_SESSION


@dataclass(frozen=True, slots=True, kw_only=True)
class UniqueClientID(Message):
    """icUniqueClientID (-7): ``unique_client_id:int32, client_id:int32``.

    Client to hub: a request, ``(0, 0)`` from pyimb. Hub to client: the ids the
    hub gave this connection (pyimb reads 0 as "not received"; it decodes both
    unsigned, otwire signed like every int32).

    Raises:
        EncodeError: a field is not an int32.
    """

    command_code: ClassVar[CommandCode] = C.UNIQUE_CLIENT_ID
    unique_client_id: Int32 = 0
    """The connection's unique client id."""
    client_id: Int32 = 0
    """The connection's client handle (pyimb ``client_id``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeStamp(Message):
    """icTimeStamp (-8), hub to client: ``absolute_time:int64, tick:int32, tick_delta:int32``.

    Raises:
        EncodeError: a field is out of range.
    """

    command_code: ClassVar[CommandCode] = C.TIME_STAMP
    absolute_time: Int64
    """Hub time (epoch and unit unknown)."""
    tick: Int32
    """Tick counter."""
    tick_delta: Int32
    """Ticks since the previous time stamp."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetClientInfo(Message):
    """icSetClientInfo (-31): ``owner_id:int32, owner_name:string``; pyimb's whole handshake.

    Raises:
        EncodeError: ``owner_id`` is not an int32 or ``owner_name`` not a ``str``.
    """

    command_code: ClassVar[CommandCode] = C.SET_CLIENT_INFO
    owner_id: Int32
    """Application-chosen owner id."""
    owner_name: str
    """Owner (model) name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe(Message):
    """icSubscribe (-45): ``event_id:int32, event_entry_type:int32, event_name:string``.

    Client to hub, answered by icSetEventIDTranslation; hub to client, a notification.

    Raises:
        EncodeError: a field is out of range or not a ``str``.
    """

    command_code: ClassVar[CommandCode] = C.SUBSCRIBE
    event_id: Int32
    """The client's own id for the event."""
    event_entry_type: Int32 = 0
    """Always 0 from every public client."""
    event_name: str
    """Full event name, ``"<federation>.<name>"``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe(Message):
    """icUnsubscribe (-46): ``event_name:string`` (no id).

    Raises:
        EncodeError: ``event_name`` is not a UTF-8 encodable ``str``.
    """

    command_code: ClassVar[CommandCode] = C.UNSUBSCRIBE
    event_name: str
    """Full event name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Publish(Message):
    """icPublish (-47): ``event_id:int32, event_entry_type:int32, event_name:string``.

    Raises:
        EncodeError: a field is out of range or not a ``str``.
    """

    command_code: ClassVar[CommandCode] = C.PUBLISH
    event_id: Int32
    """The client's own id for the event."""
    event_entry_type: Int32 = 0
    """Always 0 from every public client."""
    event_name: str
    """Full event name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unpublish(Message):
    """icUnpublish (-48): ``event_name:string`` (no id).

    Raises:
        EncodeError: ``event_name`` is not a UTF-8 encodable ``str``.
    """

    command_code: ClassVar[CommandCode] = C.UNPUBLISH
    event_name: str
    """Full event name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetEventIDTranslation(Message):
    """icSetEventIDTranslation (-49), hub to client: ``hub_event_id:int32, client_event_id:int32``.

    pyimb deletes the mapping when ``client_event_id`` is negative.

    Raises:
        EncodeError: a field is not an int32.
    """

    command_code: ClassVar[CommandCode] = C.SET_EVENT_ID_TRANSLATION
    hub_event_id: Int32
    """Id the hub uses in icEvent frames to this client."""
    client_event_id: Int32
    """The client's own id (-1: remove the mapping)."""


# --- §4 variables, state and event-name queries -----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StartUpdate(Message):
    """icStartUpdate (-24): ``event_name:string``.

    Raises:
        EncodeError: ``event_name`` is not a UTF-8 encodable ``str``.
    """

    command_code: ClassVar[CommandCode] = C.START_UPDATE
    event_name: str
    """Full event name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetVariable(Message):
    """icSetVariable (-32), both ways: ``var_name:string, var_value:block``.

    Raises:
        EncodeError: ``var_name`` is not a ``str`` or ``var_value`` not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.SET_VARIABLE
    var_name: str
    """Global variable name."""
    var_value: bytes = b""
    """Value octets (empty clears it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AllVariables(Message):
    """icAllVariables (-33), empty: asks the hub for every variable as icSetVariable.

    Raises:
        Nothing: it has no fields.
    """

    command_code: ClassVar[CommandCode] = C.ALL_VARIABLES


@dataclass(frozen=True, slots=True, kw_only=True)
class SetState(Message):
    """icSetState (-34): ``state:int32`` (notes §6.8).

    Raises:
        EncodeError: ``state`` is not an int32.
    """

    command_code: ClassVar[CommandCode] = C.SET_STATE
    state: ClientState | int
    """``ClientState`` (any other int32 is kept)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetThrottle(Message):
    """icSetThrottle (-35): ``throttle:int32``.

    Raises:
        EncodeError: ``throttle`` is not an int32.
    """

    command_code: ClassVar[CommandCode] = C.SET_THROTTLE
    throttle: Int32
    """Throttle for flagged events (semantics in the hub)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetNoDelay(Message):
    """icSetNoDelay (-36): ``no_delay:boolean`` (one octet).

    Raises:
        EncodeError: ``no_delay`` is not a ``bool``.
    """

    command_code: ClassVar[CommandCode] = C.SET_NO_DELAY
    no_delay: bool
    """Ask the hub to disable Nagle on this connection."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetVariablePrefixed(Message):
    """icSetVariablePrefixed (-37): ``var_prefix:int32, var_name:string, var_value:block``.

    Raises:
        EncodeError: a field is out of range or of the wrong type.
    """

    command_code: ClassVar[CommandCode] = C.SET_VARIABLE_PREFIXED
    var_prefix: Int32
    """0: prefix the name with the unique client id, 1: with the client handle."""
    var_name: str
    """Variable name before the hub prefixes it."""
    var_value: bytes = b""
    """Value octets."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetEventNameFilter(Message):
    """icSetEventNameFilter (-38): ``event_name_filter:string``.

    Raises:
        EncodeError: ``event_name_filter`` is not a UTF-8 encodable ``str``.
    """

    command_code: ClassVar[CommandCode] = C.SET_EVENT_NAME_FILTER
    event_name_filter: str
    """Event-name prefix filter."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestEventNames(Message):
    """icRequestEventNames (-41): ``event_name_filter:string, filters:int32``.

    Raises:
        EncodeError: a field is out of range or not a ``str``.
    """

    command_code: ClassVar[CommandCode] = C.REQUEST_EVENT_NAMES
    event_name_filter: str
    """Event-name filter, e.g. ``"fed."``."""
    filters: Int32
    """``EventNamesFilter`` bits: 1 publishers, 2 subscribers, 4 timers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventNameEntry(Message):
    """One entry of icEventNames: ``event_name:string, publishers, subscribers, timers:int32``.

    Raises:
        EncodeError: a field is out of range or not a ``str``.
    """

    event_name: str
    """Full event name."""
    publishers: Int32
    """Number of publishers."""
    subscribers: Int32
    """Number of subscribers."""
    timers: Int32
    """Number of timers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventNames(Message):
    """icEventNames (-42), hub to client: ``count:int32``, then ``count`` entries.

    Raises:
        EncodeError: ``entries`` is not a tuple of ``EventNameEntry``.
    """

    _checked_by_class: ClassVar[frozenset[str]] = frozenset({"entries"})
    command_code: ClassVar[CommandCode] = C.EVENT_NAMES
    entries: tuple[EventNameEntry, ...] = ()
    """The event names with their counts."""

    def _check(self) -> None:
        if not (isinstance(self.entries, tuple) and all(type(e) is EventNameEntry for e in self.entries)):
            raise EncodeError("entries must be a tuple of EventNameEntry")


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownCommand(Message):
    """A command code outside ``CommandCode`` (positive codes included): the raw payload.

    Raises:
        EncodeError: ``command_code`` is not an int32 or is a known ``CommandCode``,
            or ``payload`` is not ``bytes``.
    """

    _checked_by_class: ClassVar[frozenset[str]] = frozenset({"command_code"})
    command_code: int
    """The command code."""
    payload: bytes = b""
    """The payload as sent."""

    def _check(self) -> None:
        code = self.command_code
        if not isinstance(code, int) or not -(2**31) <= code < 2**31 or code in _CODES:
            raise EncodeError(f"command_code={code!r} is not an unknown int32 code")


_CODES = frozenset(int(c) for c in CommandCode)


Command = (
    a.HeartBeat | EndSession | a.FlushQueue | UniqueClientID | TimeStamp | EventCommand |
    a.EndClientSession | a.FlushClientQueue | a.ConnectToGateway | StartUpdate | SetClientInfo |
    SetVariable | AllVariables | SetState | SetThrottle | SetNoDelay | SetVariablePrefixed |
    SetEventNameFilter | RequestEventNames | EventNames | a.RequestSubscribers | a.RequestPublishers |
    Subscribe | Unsubscribe | Publish | Unpublish | SetEventIDTranslation | a.StatusEvent |
    a.StatusClient | a.StatusEventPlus | a.StatusClientPlus | a.StatusHUB | a.StatusTimer |
    a.HumanReadableHeader | a.SetMonitor | a.ResetMonitor | a.CreateTimer | a.HUBLocate | a.HUBFound |
    a.LogClear | a.LogRequest | a.LogContents | UnknownCommand
)  # fmt: skip
