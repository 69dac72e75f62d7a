"""MXAccess Gateway session logic without I/O (``specs/mxgateway/notes.md`` §client "Session logic").

:class:`GatewaySession` is what an ``mxgateway`` client must remember and check: server and
item handles with their advise state, request correlation, MXAccess failure detection,
writes waiting for ``OnWriteComplete`` and the event sequence with gap detection and the
resume point. It is driven by the gRPC messages (``otwire.codecs.mxgateway.pb``) and
reports past-tense events; nothing here imports gRPC.
"""

from __future__ import annotations

from ._apply import returned_handle
from ._state import State
from .events import (
    CommandCompleted,
    CommandFailed,
    EventReceived,
    EventsLost,
    ItemAdded,
    ItemAdvised,
    ItemRemoved,
    ItemUnadvised,
    ReplayGapReported,
    SequenceRegressed,
    ServerRegistered,
    ServerUnregistered,
    SessionClosed,
    SessionLost,
    SessionOpened,
    SessionOpenRefused,
    WriteAccepted,
    WriteCompleted,
)
from .failures import Outcome, Verdict, event_failed, failed_statuses, judge, judge_reply, status_failed
from .handles import HandleTable, ItemRecord, ServerRecord
from .sequence import EventSequence
from .session import GatewaySession, PendingCommand

__all__ = [
    "CommandCompleted",
    "CommandFailed",
    "EventReceived",
    "EventSequence",
    "EventsLost",
    "GatewaySession",
    "HandleTable",
    "ItemAdded",
    "ItemAdvised",
    "ItemRecord",
    "ItemRemoved",
    "ItemUnadvised",
    "Outcome",
    "PendingCommand",
    "ReplayGapReported",
    "SequenceRegressed",
    "ServerRecord",
    "ServerRegistered",
    "ServerUnregistered",
    "SessionClosed",
    "SessionLost",
    "SessionOpenRefused",
    "SessionOpened",
    "State",
    "Verdict",
    "WriteAccepted",
    "WriteCompleted",
    "event_failed",
    "failed_statuses",
    "judge",
    "judge_reply",
    "returned_handle",
    "status_failed",
]
