"""The only transition tables of the XEP-0323 engines (``specs/xep0323/notes.md`` §6, research §5.3).

Three tables, each ``{(state, input): new_state}``:

* :data:`ENGINE_TRANSITIONS`: the lifecycle of a whole engine (requester or sensor): open
  until ``close()`` or ``connection_lost()``.
* :data:`READOUT_TRANSITIONS`: one readout seen by the requester, keyed by (peer full
  JID, seqnr). Acceptance may be implicit (fields, failure, started or done before or
  without ``accepted``); ``failure`` without ``done`` is not terminal; completion comes
  from ``fields@done``, ``failure@done`` or a separate ``<done/>``; a ``cancel`` is
  answered by ``cancelled`` or an IQ error, or the device finishes the readout anyway.
  A pair that is missing for a peer input means the stanza does not fit the readout: it
  is dropped and reported (``StanzaDropped``), the readout goes on. A missing pair for
  the local input ``CANCEL`` is ``LocalProtocolError``.
* :data:`SENSOR_TRANSITIONS`: one readout seen by the sensor. Missing pairs are
  ``LocalProtocolError`` (the device side called a verb at the wrong time).

Terminal states have no rows: the readout is forgotten once it reaches one, so its
seqnr may be used again.
"""

from __future__ import annotations

import enum

from otwire.protocols import TerminationReason

__all__ = [
    "ENGINE_END_INPUTS",
    "ENGINE_LOCAL_INPUTS",
    "ENGINE_TRANSITIONS",
    "READOUT_LOCAL_INPUTS",
    "READOUT_TERMINAL",
    "READOUT_TRANSITIONS",
    "SENSOR_TERMINAL",
    "SENSOR_TRANSITIONS",
    "EngineInput",
    "EngineState",
    "ReadoutInput",
    "ReadoutState",
    "SensorInput",
    "SensorReadoutState",
]


class EngineState(enum.Enum):
    """Lifecycle of a requester or sensor engine."""

    OPEN = "open"
    CLOSED = "closed"


class EngineInput(enum.Enum):
    """Everything that can happen to an engine as a whole."""

    RECEIVE = "receive a stanza"
    REQUEST = "start a readout"
    CANCEL = "cancel a readout"
    DEVICE = "report device data"
    TIMER = "handle a timer"
    ABORT = "end readouts: stream closed or peer unavailable"
    CLOSE = "close"
    CONNECTION_LOST = "transport failed"


ENGINE_TRANSITIONS: dict[tuple[EngineState, EngineInput], EngineState] = {
    **{(EngineState.OPEN, i): EngineState.OPEN for i in EngineInput},
    (EngineState.OPEN, EngineInput.CLOSE): EngineState.CLOSED,
    (EngineState.OPEN, EngineInput.CONNECTION_LOST): EngineState.CLOSED,
}
ENGINE_LOCAL_INPUTS = frozenset(EngineInput)
ENGINE_END_INPUTS = {
    TerminationReason.LOCAL_CLOSE: EngineInput.CLOSE,
    TerminationReason.CONNECTION_LOST: EngineInput.CONNECTION_LOST,
}


class ReadoutState(enum.Enum):
    """A readout on the requester side (research §5.3)."""

    REQUESTED = "requested"
    """``req`` sent, no answer yet."""
    ACCEPTED = "accepted"
    """``accepted`` (not queued), or an empty IQ result."""
    QUEUED = "queued"
    """``accepted queued='true'``: a ``started`` message is expected."""
    STARTED = "started"
    """``started`` received."""
    RECEIVING = "receiving"
    """Some ``fields`` or ``failure`` (without ``done``) received."""
    CANCELLING = "cancelling"
    """``cancel`` sent, no answer yet; data may still arrive."""
    COMPLETED = "completed"
    """Terminal: ``fields@done`` or a ``<done/>``."""
    FAILED = "failed"
    """Terminal: ``failure@done``."""
    REJECTED = "rejected"
    """Terminal: an IQ error (RFC 6120 or v0.2 ``rejected``) answered the ``req``."""
    CANCELLED = "cancelled"
    """Terminal: ``cancelled``, or an IQ error answered the ``cancel``."""
    TIMED_OUT = "timed out"
    """Terminal: the overall readout timeout passed."""
    ABORTED = "aborted"
    """Terminal: the stream closed or the device went offline (``stream_closed``/``peer_unavailable``)."""


READOUT_TERMINAL = frozenset(
    {
        ReadoutState.COMPLETED,
        ReadoutState.FAILED,
        ReadoutState.REJECTED,
        ReadoutState.CANCELLED,
        ReadoutState.TIMED_OUT,
        ReadoutState.ABORTED,
    }
)


class ReadoutInput(enum.Enum):
    """Everything that can happen to a requester readout."""

    RECV_ACCEPTED = "receive accepted"
    RECV_QUEUED = "receive accepted queued"
    RECV_EMPTY_RESULT = "receive an empty IQ result"
    RECV_REJECTED = "receive an IQ error to the request"
    RECV_STARTED = "receive started"
    RECV_FIELDS = "receive fields"
    RECV_FIELDS_DONE = "receive fields done"
    RECV_FAILURE = "receive failure"
    RECV_FAILURE_DONE = "receive failure done"
    RECV_DONE = "receive done"
    RECV_CANCELLED = "receive cancelled"
    RECV_CANCEL_ERROR = "receive an IQ error to the cancel"
    CANCEL = "cancel"
    TIMEOUT = "readout timeout"
    ABORT = "stream closed or device unavailable"


READOUT_LOCAL_INPUTS = frozenset({ReadoutInput.CANCEL, ReadoutInput.TIMEOUT, ReadoutInput.ABORT})

_S, _I = ReadoutState, ReadoutInput
# Data and endings that every live state accepts (implicit acceptance, non-terminal failure).
_DATA_AND_ENDINGS = {
    _I.RECV_FIELDS: _S.RECEIVING,
    _I.RECV_FAILURE: _S.RECEIVING,
    _I.RECV_FIELDS_DONE: _S.COMPLETED,
    _I.RECV_FAILURE_DONE: _S.FAILED,
    _I.RECV_DONE: _S.COMPLETED,
    _I.CANCEL: _S.CANCELLING,
    _I.TIMEOUT: _S.TIMED_OUT,
    _I.ABORT: _S.ABORTED,
}
# Answers to the request IQ: possible while it is unanswered (and late, after data arrived).
_REQUEST_ANSWERS = {
    _I.RECV_ACCEPTED: _S.ACCEPTED,
    _I.RECV_QUEUED: _S.QUEUED,
    _I.RECV_EMPTY_RESULT: _S.ACCEPTED,
    _I.RECV_REJECTED: _S.REJECTED,
}
_LATE_ANSWERS = {
    _I.RECV_ACCEPTED: _S.RECEIVING,
    _I.RECV_QUEUED: _S.RECEIVING,
    _I.RECV_EMPTY_RESULT: _S.RECEIVING,
    _I.RECV_REJECTED: _S.REJECTED,
}


def _rows(
    state: ReadoutState, moves: dict[ReadoutInput, ReadoutState]
) -> dict[tuple[ReadoutState, ReadoutInput], ReadoutState]:
    return {(state, i): new for i, new in moves.items()}


READOUT_TRANSITIONS: dict[tuple[ReadoutState, ReadoutInput], ReadoutState] = {
    **_rows(_S.REQUESTED, {**_DATA_AND_ENDINGS, **_REQUEST_ANSWERS, _I.RECV_STARTED: _S.STARTED}),
    **_rows(_S.ACCEPTED, {**_DATA_AND_ENDINGS, _I.RECV_STARTED: _S.STARTED}),
    **_rows(_S.QUEUED, {**_DATA_AND_ENDINGS, _I.RECV_STARTED: _S.STARTED}),
    **_rows(_S.STARTED, _DATA_AND_ENDINGS),
    **_rows(_S.RECEIVING, {**_DATA_AND_ENDINGS, **_LATE_ANSWERS, _I.RECV_STARTED: _S.RECEIVING}),
    **_rows(
        _S.CANCELLING,
        {
            **_DATA_AND_ENDINGS,
            _I.RECV_FIELDS: _S.CANCELLING,
            _I.RECV_FAILURE: _S.CANCELLING,
            _I.RECV_STARTED: _S.CANCELLING,
            _I.RECV_ACCEPTED: _S.CANCELLING,
            _I.RECV_QUEUED: _S.CANCELLING,
            _I.RECV_EMPTY_RESULT: _S.CANCELLING,
            _I.RECV_REJECTED: _S.REJECTED,
            _I.RECV_CANCELLED: _S.CANCELLED,
            _I.RECV_CANCEL_ERROR: _S.CANCELLED,
        },
    ),
}
del READOUT_TRANSITIONS[(_S.CANCELLING, _I.CANCEL)]


class SensorReadoutState(enum.Enum):
    """A readout on the sensor side."""

    QUEUED = "queued"
    """Accepted with ``queued='true'``: waits for its ``when``."""
    RUNNING = "running"
    """The device is reading its nodes."""
    DONE = "done"
    """Terminal: every node reported, failed or timed out; the last message had ``done``."""
    CANCELLED = "cancelled"
    """Terminal: the requester cancelled it (``cancelled`` was sent)."""
    ABORTED = "aborted"
    """Terminal: the stream closed or the requester went offline; nothing more is sent."""


SENSOR_TERMINAL = frozenset({SensorReadoutState.DONE, SensorReadoutState.CANCELLED, SensorReadoutState.ABORTED})


class SensorInput(enum.Enum):
    """Everything that can happen to a sensor readout."""

    START = "start (when reached)"
    FIELDS = "device reports fields"
    NODE_FAILED = "device reports a node failure"
    COMM_TIMEOUT = "a node's comm timeout"
    FINISH = "every node is done"
    CANCEL = "receive cancel"
    ABORT = "stream closed or requester unavailable"


SENSOR_TRANSITIONS: dict[tuple[SensorReadoutState, SensorInput], SensorReadoutState] = {
    (SensorReadoutState.QUEUED, SensorInput.START): SensorReadoutState.RUNNING,
    (SensorReadoutState.QUEUED, SensorInput.CANCEL): SensorReadoutState.CANCELLED,
    (SensorReadoutState.RUNNING, SensorInput.FIELDS): SensorReadoutState.RUNNING,
    (SensorReadoutState.RUNNING, SensorInput.NODE_FAILED): SensorReadoutState.RUNNING,
    (SensorReadoutState.RUNNING, SensorInput.COMM_TIMEOUT): SensorReadoutState.RUNNING,
    (SensorReadoutState.RUNNING, SensorInput.FINISH): SensorReadoutState.DONE,
    (SensorReadoutState.RUNNING, SensorInput.CANCEL): SensorReadoutState.CANCELLED,
    (SensorReadoutState.QUEUED, SensorInput.ABORT): SensorReadoutState.ABORTED,
    (SensorReadoutState.RUNNING, SensorInput.ABORT): SensorReadoutState.ABORTED,
}
