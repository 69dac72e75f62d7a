"""IMB3 hub administration, monitor, timer, locator and log commands (``specs/imb/notes.md`` §4).

Most of these appear only in the comments of the reference client's command
table ([comment] in the notes), so their layouts are plausible but unexercised.
Commands whose layout nobody documents keep their payload raw in a ``payload``
field. Encode and decode them with ``encode_command`` and ``decode_command``
(``codec.py``) like every other command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from otwire.codecs.imb.primitives import Int32, Int64, Message
from otwire.codecs.imb.types import CommandCode

C = CommandCode

# --- commands whose layout is not documented: the payload is kept raw --------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _RawCommand(Message):
    """A command whose payload layout is unknown (assumed empty when sent)."""

    payload: bytes = b""
    """The payload as sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartBeat(_RawCommand):
    """icHeartBeat (-4): no public client sends it; payload kept raw (normally empty).

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.HEART_BEAT


@dataclass(frozen=True, slots=True, kw_only=True)
class FlushQueue(_RawCommand):
    """icFlushQueue (-6): payload layout unknown, kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.FLUSH_QUEUE


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSubscribers(_RawCommand):
    """icRequestSubscribers (-43): payload layout unknown, kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.REQUEST_SUBSCRIBERS


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestPublishers(_RawCommand):
    """icRequestPublishers (-44): payload layout unknown, kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.REQUEST_PUBLISHERS


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusTimer(_RawCommand):
    """icStatusTimer (-57): payload layout unknown, kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.STATUS_TIMER


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanReadableHeader(_RawCommand):
    """icHumanReadableHeader (-60): payload layout unknown, kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.HUMAN_READABLE_HEADER


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMonitor(_RawCommand):
    """icSetMonitor (-61): payload layout unknown, kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.SET_MONITOR


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetMonitor(_RawCommand):
    """icResetMonitor (-62): payload layout unknown, kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.RESET_MONITOR


@dataclass(frozen=True, slots=True, kw_only=True)
class LogClear(_RawCommand):
    """icLogClear (-91): payload layout unknown, kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.LOG_CLEAR


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRequest(_RawCommand):
    """icLogRequest (-92): payload layout unknown (the reply is icLogContents), kept raw.

    Raises:
        EncodeError: ``payload`` is not ``bytes``.
    """

    command_code: ClassVar[CommandCode] = C.LOG_REQUEST


@dataclass(frozen=True, slots=True, kw_only=True)
class EndClientSession(Message):
    """icEndClientSession (-21), admin: ``unique_client_id:int32``.

    Raises:
        EncodeError: ``unique_client_id`` is not an int32.
    """

    command_code: ClassVar[CommandCode] = C.END_CLIENT_SESSION
    unique_client_id: Int32
    """Client whose session the hub ends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FlushClientQueue(Message):
    """icFlushClientQueue (-22), admin: ``unique_client_id:int32``.

    Raises:
        EncodeError: ``unique_client_id`` is not an int32.
    """

    command_code: ClassVar[CommandCode] = C.FLUSH_CLIENT_QUEUE
    unique_client_id: Int32
    """Client whose queue the hub flushes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectToGateway(Message):
    """icConnectToGateway (-23), admin: ``uri:string`` (optional suffix ``"|C"`` or ``"|S"``).

    Raises:
        EncodeError: ``uri`` is not a UTF-8 encodable ``str``.
    """

    command_code: ClassVar[CommandCode] = C.CONNECT_TO_GATEWAY
    uri: str
    """Gateway URI, suffix included."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusEvent(Message):
    """icStatusEvent (-52), monitor: ``command_count:int32``, then an int32 list.

    Raises:
        EncodeError: a field is not an int32 (or a tuple of them).
    """

    command_code: ClassVar[CommandCode] = C.STATUS_EVENT
    command_count: Int32
    """Commands handled."""
    event_command_counts: tuple[Int32, ...] = ()
    """Commands per event id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusClient(Message):
    """icStatusClient (-53), monitor: nine int32 counters.

    Raises:
        EncodeError: a field is not an int32.
    """

    command_code: ClassVar[CommandCode] = C.STATUS_CLIENT
    handle: Int32
    """Client handle."""
    heartbeat: Int32
    """Heartbeat state (semantics in the hub)."""
    written_cmds: Int32
    """Commands written to the client."""
    written_bytes: Int32
    """Octets written to the client."""
    read_cmds: Int32
    """Commands read from the client."""
    read_bytes: Int32
    """Octets read from the client."""
    state: Int32
    """Connection state."""
    queue_len: Int32
    """Current queue length."""
    max_queue_len: Int32
    """Largest queue length seen."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusEventPlus(Message):
    """icStatusEventPlus (-54), monitor: ``event_id, event_name``, subscriber and publisher handle lists.

    Raises:
        EncodeError: a field is out of range or of the wrong type.
    """

    command_code: ClassVar[CommandCode] = C.STATUS_EVENT_PLUS
    event_id: Int32
    """The hub's event id."""
    event_name: str
    """Full event name."""
    subscribers: tuple[Int32, ...] = ()
    """Handles of the subscribers."""
    publishers: tuple[Int32, ...] = ()
    """Handles of the publishers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusClientPlus(Message):
    """icStatusClientPlus (-55), monitor: handle, owner, URI, two booleans, throttle.

    Raises:
        EncodeError: a field is out of range or of the wrong type.
    """

    command_code: ClassVar[CommandCode] = C.STATUS_CLIENT_PLUS
    handle: Int32
    """Client handle."""
    owner_id: Int32
    """Owner id from icSetClientInfo."""
    owner_name: str
    """Owner name from icSetClientInfo."""
    uri: str
    """Client URI."""
    is_server: bool
    """The connection is a server (gateway) link."""
    no_delay: bool
    """icSetNoDelay state."""
    throttle: Int32
    """icSetThrottle value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusHUB(Message):
    """icStatusHUB (-56), monitor: ``command_count:int32, byte_count:int32``.

    Raises:
        EncodeError: a field is not an int32.
    """

    command_code: ClassVar[CommandCode] = C.STATUS_HUB
    command_count: Int32
    """Commands handled by the hub."""
    byte_count: Int32
    """Octets handled by the hub."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTimer(Message):
    """icCreateTimer (-73): event id, timer name, start, resolution, speed, repeat count.

    Body: ``event_id:int32, timer_name:string, start_time:int64, resolution:int32,
    speed_factor:double, repeat_count:int32``.

    Raises:
        EncodeError: a field is out of range or of the wrong type.
    """

    command_code: ClassVar[CommandCode] = C.CREATE_TIMER
    event_id: Int32
    """The client's id of a published event."""
    timer_name: str
    """Name of the timer."""
    start_time: Int64
    """Start time, absolute UTC or relative (unit set by the hub)."""
    resolution: Int32
    """Tick interval (milliseconds)."""
    speed_factor: float
    """Simulation speed relative to real time."""
    repeat_count: Int32
    """Number of ticks (2**31 - 1 = forever)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HUBLocate(Message):
    """icHUBLocate (-81), empty, broadcast on UDP port 4000.

    Raises:
        Nothing: it has no fields.
    """

    command_code: ClassVar[CommandCode] = C.HUB_LOCATE


@dataclass(frozen=True, slots=True, kw_only=True)
class HUBFound(Message):
    """icHUBFound (-82), UDP reply: the payload is the URI text itself, no length prefix.

    Raises:
        EncodeError: ``uri`` is not a UTF-8 encodable ``str``.
    """

    command_code: ClassVar[CommandCode] = C.HUB_FOUND
    uri: str
    """Hub URI, ``protocol://server[:port][/path]``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogContents(Message):
    """icLogContents (-93), hub to client: ``text:string``.

    Raises:
        EncodeError: ``text`` is not a UTF-8 encodable ``str``.
    """

    command_code: ClassVar[CommandCode] = C.LOG_CONTENTS
    text: str
    """The log."""
