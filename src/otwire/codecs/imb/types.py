"""IMB3 constants and code tables: command codes, event kinds, flags, actions.

Member names are the IMB3 client constants with the type prefix dropped
(``icEndSession`` -> ``CommandCode.END_SESSION``, ``ekNormalEvent`` ->
``EventKind.NORMAL_EVENT``, ``actionNew`` -> ``Action.NEW``), in UPPER_SNAKE.
Tables: ``specs/imb/notes.md`` §4 (commands), §5 (event kinds), §6 (states, levels).
"""

from __future__ import annotations

import enum

#: The 8 octets that start every frame (as a little-endian uint64: 0xFBC5AD957161472F).
MAGIC_BYTES = bytes.fromhex("2f47617195adc5fb")
#: The 4 octets after a non-empty payload (the int32 0x10F13467, little-endian).
END_PAYLOAD_MAGIC_BYTES = bytes.fromhex("6734f110")
#: Magic, command code and payload length (octets).
HEADER_SIZE = 16
#: Trailer size (octets); only present when the payload is not empty.
TRAILER_SIZE = 4
#: Largest payload the reference readers accept (octets, inclusive): 10 MiB.
MAX_PAYLOAD_SIZE = 10 * 1024 * 1024

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Bits 0..7 of the icEvent kind field are the event kind, the others are flags.
EVENT_KIND_MASK = 0xFF


class CommandCode(enum.IntEnum):
    """Command code, the int32 at frame offset 8 (notes §4). Always negative in IMB3.

    A code outside this table decodes to a plain ``int`` (``UnknownCommand``).
    """

    HEART_BEAT = -4
    END_SESSION = -5
    FLUSH_QUEUE = -6
    UNIQUE_CLIENT_ID = -7
    TIME_STAMP = -8
    EVENT = -15
    END_CLIENT_SESSION = -21
    FLUSH_CLIENT_QUEUE = -22
    CONNECT_TO_GATEWAY = -23
    START_UPDATE = -24
    SET_CLIENT_INFO = -31
    SET_VARIABLE = -32
    ALL_VARIABLES = -33
    SET_STATE = -34
    SET_THROTTLE = -35
    SET_NO_DELAY = -36
    SET_VARIABLE_PREFIXED = -37
    SET_EVENT_NAME_FILTER = -38
    REQUEST_EVENT_NAMES = -41
    EVENT_NAMES = -42
    REQUEST_SUBSCRIBERS = -43
    REQUEST_PUBLISHERS = -44
    SUBSCRIBE = -45
    UNSUBSCRIBE = -46
    PUBLISH = -47
    UNPUBLISH = -48
    SET_EVENT_ID_TRANSLATION = -49
    STATUS_EVENT = -52
    STATUS_CLIENT = -53
    STATUS_EVENT_PLUS = -54
    STATUS_CLIENT_PLUS = -55
    STATUS_HUB = -56
    STATUS_TIMER = -57
    HUMAN_READABLE_HEADER = -60
    SET_MONITOR = -61
    RESET_MONITOR = -62
    CREATE_TIMER = -73
    HUB_LOCATE = -81
    HUB_FOUND = -82
    LOG_CLEAR = -91
    LOG_REQUEST = -92
    LOG_CONTENTS = -93


class EventKind(enum.IntEnum):
    """Event kind, bits 0..7 of the icEvent kind field (notes §5).

    A kind outside this table decodes to ``UnknownEvent`` with a plain ``int``.
    """

    CHANGE_OBJECT_EVENT = 0
    STREAM_HEADER = 1
    STREAM_BODY = 2
    STREAM_TAIL = 3
    BUFFER = 4
    NORMAL_EVENT = 5
    CHANGE_OBJECT_DATA_EVENT = 6
    CHILD_EVENT_ADD = 11
    CHILD_EVENT_REMOVE = 12
    LOG_WRITE_LN = 30
    TIMER_CANCEL = 40
    TIMER_PREPARE = 41
    TIMER_START = 42
    TIMER_STOP = 43
    TIMER_ACKNOWLEDGED_LIST_ADD = 45
    TIMER_ACKNOWLEDGED_LIST_REMOVE = 46
    TIMER_SET_SPEED = 47
    TIMER_TICK = 48
    TIMER_ACKNOWLEDGE = 49
    TIMER_STATUS_REQUEST = 50


class EventFlag(enum.IntFlag):
    """Flags, bits 8..31 of the icEvent kind field (notes §5, ``efPriority``).

    Only ``PRIORITY`` is defined; other bits are kept as they arrived
    (``IntFlag`` keeps unknown bits), so an event is forwarded unchanged.
    """

    PRIORITY = 0x100


class Action(enum.IntEnum):
    """Change-object action (notes §5, ``actionNew``/``actionDelete``/``actionChange``)."""

    NEW = 0
    DELETE = 1
    CHANGE = 2


class ClientState(enum.IntEnum):
    """Connection state sent with icSetState (notes §6.8, ``icsXxx``)."""

    UNINITIALIZED = 0
    INITIALIZED = 1
    CLIENT = 2
    HUB = 3
    ENDED = 4
    TIMER = 10
    GATEWAY = 100
    GATEWAY_CLIENT = 101
    GATEWAY_SERVER = 102


class LogLevel(enum.IntEnum):
    """Level of an ekLogWriteLn line (notes §5)."""

    REMARK = 0
    DUMP = 1
    NORMAL = 2
    START = 3
    FINISH = 4
    PUSH = 5
    POP = 6
    STAMP = 7
    SUMMARY = 8
    WARNING = 9
    ERROR = 10
    OK = 11


class EventNamesFilter(enum.IntFlag):
    """Bits of the ``filters`` field of icRequestEventNames (notes §4)."""

    PUBLISHERS = 1
    SUBSCRIBERS = 2
    TIMERS = 4
