"""pyimb's module-level names as aliases of otwire's codec tables (``specs/imb/notes.md`` §4, §5).

``ekNormalEvent is EventKind.NORMAL_EVENT`` (an ``IntEnum``, so it equals 5),
``icEvent is CommandCode.EVENT``, ``actionNew is Action.NEW``, ... The helpers
``encode_string``/``decode_string``/``encode_int32``/... are the codec's; only
``encode_double``/``encode_single`` are defined here.
"""

from __future__ import annotations

import struct

from otwire.codecs.imb import END_PAYLOAD_MAGIC_BYTES, MAGIC_BYTES, Action, CommandCode, EventKind
from otwire.errors import InvalidArgument, InvalidArgumentType

__all__ = [
    "BYTEORDER", "DEFAULT_ENCODING", "DEFAULT_PORT", "DEFAULT_STREAM_BODY_BUFFER_SIZE", "END_PAYLOAD_MAGIC_BYTES",
    "HEADER_LENGTH", "MAGIC_BYTES", "SOCK_SELECT_TIMEOUT", "actionChange", "actionDelete", "actionNew",
    "ekBuffer", "ekChangeObjectDataEvent", "ekChangeObjectEvent", "ekChildEventAdd", "ekChildEventRemove",
    "ekLogWriteLn", "ekNormalEvent", "ekStreamBody", "ekStreamHeader", "ekStreamTail", "ekTimerAcknowledge",
    "ekTimerAcknowledgedListAdd", "ekTimerAcknowledgedListRemove", "ekTimerCancel", "ekTimerPrepare",
    "ekTimerSetSpeed", "ekTimerStart", "ekTimerStatusRequest", "ekTimerStop", "ekTimerTick", "encode_double",
    "encode_single", "icAllVariables", "icConnectToGateway", "icCreateTimer", "icEndClientSession",
    "icEndSession", "icEvent", "icEventNames", "icFlushClientQueue", "icFlushQueue", "icHUBFound",
    "icHUBLocate", "icHeartBeat", "icHumanReadableHeader", "icLogClear", "icLogContents", "icLogRequest",
    "icPublish", "icRequestEventNames", "icRequestPublishers", "icRequestSubscribers", "icResetMonitor",
    "icSetClientInfo", "icSetEventIDTranslation", "icSetMonitor", "icSetNoDelay", "icSetState",
    "icSetThrottle", "icSetVariable", "icSetVariablePrefixed", "icStatusClient", "icStatusClientPlus",
    "icStatusEvent", "icStatusEventPlus", "icStatusHUB", "icStatusTimer", "icSubscribe", "icTimeStamp",
    "icUniqueClientID", "icUnpublish", "icUnsubscribe",
]  # fmt: skip

#: Byte order of every integer on the wire.
BYTEORDER = "little"
#: Text encoding of strings.
DEFAULT_ENCODING = "utf-8"
#: The hub's usual TCP port for IMB3.
DEFAULT_PORT = 4000
#: Octets per ekStreamBody chunk sent by ``signal_stream`` (16 KiB).
DEFAULT_STREAM_BODY_BUFFER_SIZE = 16 * 1024
#: Octets after the magic in a frame header (command code and payload length).
HEADER_LENGTH = 8
#: Kept for pyimb compatibility (seconds); otwire's loop is event driven.
SOCK_SELECT_TIMEOUT = 1

C = CommandCode
icHeartBeat = C.HEART_BEAT
icEndSession = C.END_SESSION
icFlushQueue = C.FLUSH_QUEUE
icUniqueClientID = C.UNIQUE_CLIENT_ID
icTimeStamp = C.TIME_STAMP
icEvent = C.EVENT
icEndClientSession = C.END_CLIENT_SESSION
icFlushClientQueue = C.FLUSH_CLIENT_QUEUE
icConnectToGateway = C.CONNECT_TO_GATEWAY
icSetClientInfo = C.SET_CLIENT_INFO
icSetVariable = C.SET_VARIABLE
icAllVariables = C.ALL_VARIABLES
icSetState = C.SET_STATE
icSetThrottle = C.SET_THROTTLE
icSetNoDelay = C.SET_NO_DELAY
icSetVariablePrefixed = C.SET_VARIABLE_PREFIXED
icRequestEventNames = C.REQUEST_EVENT_NAMES
icEventNames = C.EVENT_NAMES
icRequestSubscribers = C.REQUEST_SUBSCRIBERS
icRequestPublishers = C.REQUEST_PUBLISHERS
icSubscribe = C.SUBSCRIBE
icUnsubscribe = C.UNSUBSCRIBE
icPublish = C.PUBLISH
icUnpublish = C.UNPUBLISH
icSetEventIDTranslation = C.SET_EVENT_ID_TRANSLATION
icStatusEvent = C.STATUS_EVENT
icStatusClient = C.STATUS_CLIENT
icStatusEventPlus = C.STATUS_EVENT_PLUS
icStatusClientPlus = C.STATUS_CLIENT_PLUS
icStatusHUB = C.STATUS_HUB
icStatusTimer = C.STATUS_TIMER
icHumanReadableHeader = C.HUMAN_READABLE_HEADER
icSetMonitor = C.SET_MONITOR
icResetMonitor = C.RESET_MONITOR
icCreateTimer = C.CREATE_TIMER
icHUBLocate = C.HUB_LOCATE
icHUBFound = C.HUB_FOUND
icLogClear = C.LOG_CLEAR
icLogRequest = C.LOG_REQUEST
icLogContents = C.LOG_CONTENTS

actionNew = Action.NEW
actionDelete = Action.DELETE
actionChange = Action.CHANGE

K = EventKind
ekChangeObjectEvent = K.CHANGE_OBJECT_EVENT
ekStreamHeader = K.STREAM_HEADER
ekStreamBody = K.STREAM_BODY
ekStreamTail = K.STREAM_TAIL
ekBuffer = K.BUFFER
ekNormalEvent = K.NORMAL_EVENT
ekChangeObjectDataEvent = K.CHANGE_OBJECT_DATA_EVENT
ekChildEventAdd = K.CHILD_EVENT_ADD
ekChildEventRemove = K.CHILD_EVENT_REMOVE
ekLogWriteLn = K.LOG_WRITE_LN
ekTimerCancel = K.TIMER_CANCEL
ekTimerPrepare = K.TIMER_PREPARE
ekTimerStart = K.TIMER_START
ekTimerStop = K.TIMER_STOP
ekTimerAcknowledgedListAdd = K.TIMER_ACKNOWLEDGED_LIST_ADD
ekTimerAcknowledgedListRemove = K.TIMER_ACKNOWLEDGED_LIST_REMOVE
ekTimerSetSpeed = K.TIMER_SET_SPEED
ekTimerTick = K.TIMER_TICK
ekTimerAcknowledge = K.TIMER_ACKNOWLEDGE
ekTimerStatusRequest = K.TIMER_STATUS_REQUEST

_DOUBLE = struct.Struct("<d")
_SINGLE = struct.Struct("<f")


def encode_double(value: float) -> bytes:
    """Encode an IEEE 754 binary64, little-endian (8 octets).

    Args:
        value: The number.

    Returns:
        The 8 octets.

    Raises:
        InvalidArgumentType: ``value`` is not a number.
    """
    try:
        return _DOUBLE.pack(value)
    except struct.error as exc:
        raise InvalidArgumentType(f"value={value!r} is not a number") from exc


def encode_single(value: float) -> bytes:
    """Encode an IEEE 754 binary32, little-endian (4 octets).

    Args:
        value: The number.

    Returns:
        The 4 octets.

    Raises:
        InvalidArgument: ``value`` is beyond the binary32 range (about 3.4028235e38;
            infinities are fine). Also a ``ValueError``.
        InvalidArgumentType: ``value`` is not a number.
    """
    try:
        return _SINGLE.pack(value)
    except OverflowError as exc:
        raise InvalidArgument(f"value={value!r} is too large for a binary32") from exc
    except struct.error as exc:
        raise InvalidArgumentType(f"value={value!r} is not a number") from exc
