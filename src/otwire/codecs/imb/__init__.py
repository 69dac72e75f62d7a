"""TNO IMB3 (Inter-Model Broker) codec: frames, commands and icEvent payloads.

Pure functions over complete frames (no state, clock or I/O); the layouts are
in ``specs/imb/notes.md``.

>>> from otwire.codecs.imb import SetClientInfo, decode_command, encode_command
>>> frame = encode_command(SetClientInfo(owner_id=123, owner_name="my name"))
>>> frame.hex(" ")[:47], len(frame)
('2f 47 61 71 95 ad c5 fb e1 ff ff ff 0f 00 00 00', 35)
>>> decode_command(frame)
SetClientInfo(owner_id=123, owner_name='my name')

:class:`IMBFramer` cuts a TCP byte stream into frames first.
"""

from __future__ import annotations

from otwire.codecs.imb.admin import (
    ConnectToGateway,
    CreateTimer,
    EndClientSession,
    FlushClientQueue,
    FlushQueue,
    HeartBeat,
    HUBFound,
    HUBLocate,
    HumanReadableHeader,
    LogClear,
    LogContents,
    LogRequest,
    RequestPublishers,
    RequestSubscribers,
    ResetMonitor,
    SetMonitor,
    StatusClient,
    StatusClientPlus,
    StatusEvent,
    StatusEventPlus,
    StatusHUB,
    StatusTimer,
)
from otwire.codecs.imb.codec import (
    decode_command,
    decode_command_schema,
    decode_event,
    decode_event_schema,
    encode_command,
    encode_event,
    encode_event_frame,
    encode_payload,
)
from otwire.codecs.imb.commands import (
    AllVariables,
    Command,
    EndSession,
    EventNameEntry,
    EventNames,
    Publish,
    RequestEventNames,
    SetClientInfo,
    SetEventIDTranslation,
    SetEventNameFilter,
    SetNoDelay,
    SetState,
    SetThrottle,
    SetVariable,
    SetVariablePrefixed,
    StartUpdate,
    Subscribe,
    TimeStamp,
    UniqueClientID,
    UnknownCommand,
    Unpublish,
    Unsubscribe,
)
from otwire.codecs.imb.events import (
    BufferEvent,
    ChangeObjectDataEvent,
    ChangeObjectEvent,
    ChildEventAdd,
    ChildEventRemove,
    Event,
    EventBody,
    FocusEvent,
    LogWriteLn,
    NormalEvent,
    StreamBody,
    StreamHeader,
    StreamTail,
    TimerAcknowledge,
    TimerAcknowledgedListAdd,
    TimerAcknowledgedListRemove,
    TimerCancel,
    TimerPrepare,
    TimerSetSpeed,
    TimerStart,
    TimerStatusRequest,
    TimerStop,
    TimerTick,
    UnknownEvent,
)
from otwire.codecs.imb.framing import (
    JUNK_CHUNK,
    Frame,
    FrameError,
    FrameItem,
    FramerItem,
    IMBFramer,
    Junk,
    decode_frame,
    decode_frame_schema,
    encode_frame,
    split_frames,
)
from otwire.codecs.imb.primitives import (
    decode_int,
    decode_string,
    decode_uint,
    encode_int32,
    encode_string,
    encode_uint32,
)
from otwire.codecs.imb.types import (
    END_PAYLOAD_MAGIC_BYTES,
    HEADER_SIZE,
    MAGIC_BYTES,
    MAX_PAYLOAD_SIZE,
    TRAILER_SIZE,
    Action,
    ClientState,
    CommandCode,
    EventFlag,
    EventKind,
    EventNamesFilter,
    LogLevel,
)

__all__ = [
    "END_PAYLOAD_MAGIC_BYTES", "HEADER_SIZE", "JUNK_CHUNK", "MAGIC_BYTES", "MAX_PAYLOAD_SIZE",
    "TRAILER_SIZE", "Action", "AllVariables", "BufferEvent", "ChangeObjectDataEvent",
    "ChangeObjectEvent", "ChildEventAdd", "ChildEventRemove", "ClientState", "Command",
    "CommandCode", "ConnectToGateway", "CreateTimer", "EndClientSession", "EndSession", "Event",
    "EventBody", "EventFlag", "EventKind", "EventNameEntry", "EventNames", "EventNamesFilter",
    "FlushClientQueue", "FlushQueue", "FocusEvent", "Frame", "FrameError", "FrameItem",
    "FramerItem", "HUBFound", "HUBLocate", "HeartBeat", "HumanReadableHeader", "IMBFramer", "Junk",
    "LogClear", "LogContents", "LogLevel", "LogRequest", "LogWriteLn", "NormalEvent", "Publish",
    "RequestEventNames", "RequestPublishers", "RequestSubscribers", "ResetMonitor",
    "SetClientInfo", "SetEventIDTranslation", "SetEventNameFilter", "SetMonitor", "SetNoDelay",
    "SetState", "SetThrottle", "SetVariable", "SetVariablePrefixed", "StartUpdate",
    "StatusClient", "StatusClientPlus", "StatusEvent", "StatusEventPlus", "StatusHUB",
    "StatusTimer", "StreamBody", "StreamHeader", "StreamTail", "Subscribe", "TimeStamp",
    "TimerAcknowledge", "TimerAcknowledgedListAdd", "TimerAcknowledgedListRemove", "TimerCancel",
    "TimerPrepare", "TimerSetSpeed", "TimerStart", "TimerStatusRequest", "TimerStop", "TimerTick",
    "UniqueClientID", "UnknownCommand", "UnknownEvent", "Unpublish", "Unsubscribe",
    "decode_command", "decode_command_schema", "decode_event", "decode_event_schema",
    "decode_frame", "decode_frame_schema", "decode_int", "decode_string", "decode_uint",
    "encode_command", "encode_event", "encode_event_frame", "encode_frame", "encode_int32", "encode_payload",
    "encode_string", "encode_uint32", "split_frames",
]  # fmt: skip
