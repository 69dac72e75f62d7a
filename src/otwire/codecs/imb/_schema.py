"""construct schemas of IMB3 frames, command payloads and event bodies: the spec of record.

Ordered like ``specs/imb/notes.md``: frame (§2), primitives (§3), command payloads
(§4), the icEvent payload and its bodies (§5). Field names are the message
dataclasses' field names, so a parse tree maps onto a message one to one.

Every schema is compiled on first use (the module's ``__getattr__``) and must not
fall back to interpreted parsing (a test checks ``"linkedparsers[" not in source``):
no lambdas, no ``GreedyString`` (it falls back; ``HUBFound`` keeps raw octets and the
message layer decodes them), no ``Terminated``. Compiled ``Bytes(n)``/``PascalString``
read a short or negative length without error, so the schema decoders re-encode
what they parsed and compare it with the input (every IMB3 encoding is
canonical); a mismatch is a ``DecodeError``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from construct import (
    Bytes,
    Const,
    Flag,
    Float64l,
    GreedyBytes,
    If,
    Int32sl,
    Int32ul,
    Int64sl,
    PascalString,
    Prefixed,
    PrefixedArray,
    Struct,
    Switch,
    Tell,
    this,
)

from otwire.codecs.imb.types import (
    END_PAYLOAD_MAGIC_BYTES,
    EVENT_KIND_MASK,
    MAGIC_BYTES,
    CommandCode,
    EventKind,
)

# --- §2 frame ------------------------------------------------------------------------
# magic (8), command_code int32, payload_length int32, then only when payload_length > 0:
# payload (payload_length octets) and the trailer 67 34 F1 10. 0 < length <= 10 MiB is
# checked by the frame decoder (a bound is not a layout).

_FRAME = Struct(
    "magic" / Const(MAGIC_BYTES),
    "command_code" / Int32sl,
    "payload_length" / Int32sl,
    "payload" / If(this.payload_length > 0, Bytes(this.payload_length)),
    "trailer" / If(this.payload_length > 0, Const(END_PAYLOAD_MAGIC_BYTES)),
    "end" / Tell,
)

# --- §3 primitives -------------------------------------------------------------------

_STRING = PascalString(Int32sl, "utf8")  # int32 octet count + UTF-8, no terminator
_BLOCK = Prefixed(Int32sl, GreedyBytes)  # int32 octet count + octets ("ByteBuffer")
_INT32_LIST = PrefixedArray(Int32sl, Int32sl)  # int32 count + int32s (handle lists)
_BOOL = Flag  # one octet; the re-encode check rejects anything but 0 and 1
_RAW = Struct("payload" / GreedyBytes)  # a command whose layout is unknown
_EMPTY = Struct()

# --- §5 icEvent bodies, by event kind (bits 0..7 of event_kind) ---------------------

_CHANGE_OBJECT = Struct("action" / Int32sl, "object_id" / Int32sl, "attribute" / _STRING)
_STREAM_CHUNK = Struct("stream_id" / Int32sl, "data" / GreedyBytes)  # rest of the body, no length
_TIMER_NAME = Struct("timer_name" / _STRING)
_TIMER_CLIENT = Struct("timer_name" / _STRING, "client_name" / _STRING)
_CHILD_EVENT = Struct("event_name" / _STRING)

EVENT_BODIES: dict[int, Any] = {
    EventKind.CHANGE_OBJECT_EVENT: _CHANGE_OBJECT,
    EventKind.STREAM_HEADER: Struct("stream_id" / Int32sl, "stream_name" / _STRING),
    EventKind.STREAM_BODY: _STREAM_CHUNK,
    EventKind.STREAM_TAIL: _STREAM_CHUNK,  # data may be empty
    EventKind.BUFFER: Struct("buffer_id" / Int32sl, "data" / _BLOCK),
    EventKind.NORMAL_EVENT: Struct("data" / GreedyBytes),  # application-defined
    EventKind.CHANGE_OBJECT_DATA_EVENT: Struct(
        "action" / Int32sl,
        "object_id" / Int32sl,
        "attribute" / _STRING,
        "new_values" / _BLOCK,
        "old_values" / _BLOCK,
    ),
    EventKind.CHILD_EVENT_ADD: _CHILD_EVENT,
    EventKind.CHILD_EVENT_REMOVE: _CHILD_EVENT,
    EventKind.LOG_WRITE_LN: Struct("unique_client_id" / Int32sl, "line" / _STRING, "level" / Int32sl),
    EventKind.TIMER_CANCEL: _TIMER_NAME,
    EventKind.TIMER_PREPARE: _TIMER_NAME,
    EventKind.TIMER_START: _TIMER_NAME,
    EventKind.TIMER_STOP: _TIMER_NAME,
    EventKind.TIMER_ACKNOWLEDGED_LIST_ADD: _TIMER_CLIENT,
    EventKind.TIMER_ACKNOWLEDGED_LIST_REMOVE: _TIMER_CLIENT,
    EventKind.TIMER_SET_SPEED: Struct("timer_name" / _STRING, "speed_factor" / Float64l),
    EventKind.TIMER_TICK: Struct(
        "timer_name" / _STRING, "tick" / Int32sl, "tick_time" / Int64sl, "start_time" / Int64sl
    ),
    # client name first, unlike the acknowledged-list kinds 45/46
    EventKind.TIMER_ACKNOWLEDGE: Struct(
        "client_name" / _STRING, "timer_name" / _STRING, "proposed_time_step" / Int32sl
    ),
    EventKind.TIMER_STATUS_REQUEST: Struct("data" / GreedyBytes),  # layout unknown
}
# The Focus event: kind 0 on the event "<federation>.Focus", two doubles.
FOCUS_BODY = Struct("x" / Float64l, "y" / Float64l)

# icEvent payload: event_id, tick, then the kind in bits 0..7 and flags in bits 8..31
# (read unsigned, as pyimb does), then the body. An unknown kind keeps its raw body.
_EVENT = Struct(
    "event_id" / Int32sl,
    "tick" / Int32sl,
    "event_kind" / Int32ul,
    "body" / Switch(this.event_kind & EVENT_KIND_MASK, {int(k): v for k, v in EVENT_BODIES.items()}, GreedyBytes),
)
_FOCUS_EVENT = Struct("event_id" / Int32sl, "tick" / Int32sl, "event_kind" / Int32ul, "body" / FOCUS_BODY)

# --- §4 command payloads, by command code -------------------------------------------

_SUBSCRIPTION = Struct("event_id" / Int32sl, "event_entry_type" / Int32sl, "event_name" / _STRING)
_EVENT_NAME = Struct("event_name" / _STRING)
_UNIQUE_CLIENT_ID = Struct("unique_client_id" / Int32sl)
_VARIABLE = ("var_name" / _STRING, "var_value" / _BLOCK)

C = CommandCode
COMMANDS: dict[int, Any] = {
    C.HEART_BEAT: _RAW,
    C.END_SESSION: _EMPTY,
    C.FLUSH_QUEUE: _RAW,
    C.UNIQUE_CLIENT_ID: Struct("unique_client_id" / Int32sl, "client_id" / Int32sl),
    C.TIME_STAMP: Struct("absolute_time" / Int64sl, "tick" / Int32sl, "tick_delta" / Int32sl),
    C.EVENT: _EVENT,
    C.END_CLIENT_SESSION: _UNIQUE_CLIENT_ID,
    C.FLUSH_CLIENT_QUEUE: _UNIQUE_CLIENT_ID,
    C.CONNECT_TO_GATEWAY: Struct("uri" / _STRING),  # may end in "|C" or "|S"
    C.START_UPDATE: _EVENT_NAME,
    C.SET_CLIENT_INFO: Struct("owner_id" / Int32sl, "owner_name" / _STRING),
    C.SET_VARIABLE: Struct(*_VARIABLE),
    C.ALL_VARIABLES: _EMPTY,
    C.SET_STATE: Struct("state" / Int32sl),
    C.SET_THROTTLE: Struct("throttle" / Int32sl),
    C.SET_NO_DELAY: Struct("no_delay" / _BOOL),
    C.SET_VARIABLE_PREFIXED: Struct("var_prefix" / Int32sl, *_VARIABLE),
    C.SET_EVENT_NAME_FILTER: Struct("event_name_filter" / _STRING),
    C.REQUEST_EVENT_NAMES: Struct("event_name_filter" / _STRING, "filters" / Int32sl),
    C.EVENT_NAMES: Struct(
        "entries"
        / PrefixedArray(
            Int32sl,
            Struct("event_name" / _STRING, "publishers" / Int32sl, "subscribers" / Int32sl, "timers" / Int32sl),
        )
    ),
    C.REQUEST_SUBSCRIBERS: _RAW,
    C.REQUEST_PUBLISHERS: _RAW,
    C.SUBSCRIBE: _SUBSCRIPTION,
    C.UNSUBSCRIBE: _EVENT_NAME,
    C.PUBLISH: _SUBSCRIPTION,
    C.UNPUBLISH: _EVENT_NAME,
    C.SET_EVENT_ID_TRANSLATION: Struct("hub_event_id" / Int32sl, "client_event_id" / Int32sl),
    C.STATUS_EVENT: Struct("command_count" / Int32sl, "event_command_counts" / _INT32_LIST),
    C.STATUS_CLIENT: Struct(
        "handle" / Int32sl,
        "heartbeat" / Int32sl,
        "written_cmds" / Int32sl,
        "written_bytes" / Int32sl,
        "read_cmds" / Int32sl,
        "read_bytes" / Int32sl,
        "state" / Int32sl,
        "queue_len" / Int32sl,
        "max_queue_len" / Int32sl,
    ),
    C.STATUS_EVENT_PLUS: Struct(
        "event_id" / Int32sl, "event_name" / _STRING, "subscribers" / _INT32_LIST, "publishers" / _INT32_LIST
    ),
    C.STATUS_CLIENT_PLUS: Struct(
        "handle" / Int32sl,
        "owner_id" / Int32sl,
        "owner_name" / _STRING,
        "uri" / _STRING,
        "is_server" / _BOOL,
        "no_delay" / _BOOL,
        "throttle" / Int32sl,
    ),
    C.STATUS_HUB: Struct("command_count" / Int32sl, "byte_count" / Int32sl),
    C.STATUS_TIMER: _RAW,
    C.HUMAN_READABLE_HEADER: _RAW,
    C.SET_MONITOR: _RAW,
    C.RESET_MONITOR: _RAW,
    C.CREATE_TIMER: Struct(
        "event_id" / Int32sl,
        "timer_name" / _STRING,
        "start_time" / Int64sl,
        "resolution" / Int32sl,
        "speed_factor" / Float64l,
        "repeat_count" / Int32sl,
    ),
    C.HUB_LOCATE: _EMPTY,
    C.HUB_FOUND: Struct("uri" / GreedyBytes),  # the URI text itself, no length prefix
    C.LOG_CLEAR: _RAW,
    C.LOG_REQUEST: _RAW,
    C.LOG_CONTENTS: Struct("text" / _STRING),
}
# A payload by command code: ``PAYLOAD.parse(payload, command_code=code)``; unknown codes
# keep the raw octets.
_PAYLOAD = Switch(this._params.command_code, {int(k): v for k, v in COMMANDS.items()}, GreedyBytes)

#: The interpreted schemas of record, for the compiled == interpreted test.
INTERPRETED: dict[str, Any] = {"FRAME": _FRAME, "PAYLOAD": _PAYLOAD, "EVENT": _EVENT, "FOCUS_EVENT": _FOCUS_EVENT}


def __getattr__(name: str) -> Any:
    """``FRAME``, ``PAYLOAD``, ``EVENT``, ``FOCUS_EVENT``: the compiled schemas, compiled on first use.

    Compiling takes tens of milliseconds, and only the encoders of record, the schema
    decoders and the tests use them (the runtime decoders read with ``Reader``).
    ``COMPILED``: all four, for the no-interpreted-fallback test.

    Raises:
        AttributeError: ``name`` is none of these.
    """
    if name in INTERPRETED:
        compiled = globals()[name] = INTERPRETED[name].compile()
        return compiled
    if name == "COMPILED":
        return {key: globals()[key] if key in globals() else __getattr__(key) for key in INTERPRETED}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- message <-> schema tree ---------------------------------------------------------


def tree_fields(tree: Any) -> dict[str, Any]:
    """Return the fields of a parsed ``Struct`` as keyword arguments (lists become tuples)."""
    return {k: _plain(v) for k, v in tree.items() if not k.startswith("_")}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def to_tree(message: Any) -> dict[str, Any]:
    """Return the schema value of a message dataclass (nested dataclasses become dicts)."""
    return {f.name: _tree_value(getattr(message, f.name)) for f in dataclasses.fields(message)}


def _tree_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_tree_value(v) for v in value]
    if dataclasses.is_dataclass(value):
        return to_tree(value)
    return value
