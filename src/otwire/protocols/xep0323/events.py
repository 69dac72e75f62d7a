"""Events of the XEP-0323 engines (past tense; ``specs/xep0323/notes.md`` §6).

Every readout event names the readout by ``peer`` (the device's JID as requested, or the
requester's full JID on the sensor side) and ``seqnr``. Both engines end with the shared
:class:`~otwire.protocols.ConnectionTerminated`.
"""

from __future__ import annotations

from dataclasses import dataclass

from otwire.codecs.xep0323 import Error, FieldType, Node, Req, StanzaError
from otwire.protocols import ConnectionTerminated, TerminationReason
from otwire.protocols import Event as EngineEvent
from otwire.protocols.xep0323.stanza import Stanza

__all__ = [
    "CancelRequested",
    "ConnectionTerminated",
    "FailureReceived",
    "FieldsReceived",
    "NodeTimedOut",
    "ReadoutAborted",
    "ReadoutAccepted",
    "ReadoutCancelled",
    "ReadoutCompleted",
    "ReadoutEvent",
    "ReadoutFinished",
    "ReadoutQueued",
    "ReadoutRejected",
    "ReadoutRequested",
    "ReadoutStarted",
    "ReadoutTimedOut",
    "RequestRefused",
    "StanzaDropped",
    "TerminationReason",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutEvent(EngineEvent):
    """Base of the events about one readout."""

    peer: str
    """The other side's JID (requester: the device as requested; sensor: the requester's full JID)."""
    seqnr: int


# --- requester --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutAccepted(ReadoutEvent):
    """The device accepted the request: ``accepted``, an empty IQ result, or implicitly by sending data."""

    queued: bool = False
    """``accepted queued='true'``: a ``started`` message will follow."""
    implicit: bool = False
    """No ``accepted`` element: data, ``started`` or ``done`` came first, or the IQ result was empty."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutRejected(ReadoutEvent):
    """The device refused the request (terminal)."""

    error: StanzaError | None = None
    """The RFC 6120 error (v0.3+ and hybrid rejections)."""
    reasons: tuple[str, ...] = ()
    """The texts of a v0.2 ``rejected`` element."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutStarted(ReadoutEvent):
    """A queued readout started (``started``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldsReceived(ReadoutEvent):
    """Part of the readout arrived (``fields``), filtered to what was requested when so configured."""

    nodes: tuple[Node, ...]
    done: bool = False
    """This message ended the readout (``ReadoutCompleted`` follows)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureReceived(ReadoutEvent):
    """Some nodes failed (``failure``); without ``done`` the readout goes on."""

    errors: tuple[Error, ...]
    done: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutCompleted(ReadoutEvent):
    """The readout ended (terminal): ``fields@done``, ``<done/>`` or ``failure@done`` (``failed``)."""

    failed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutCancelled(ReadoutEvent):
    """A cancel ended the readout (terminal): ``cancelled``, or an IQ error to the ``cancel``
    (``refused``; ``error`` is its RFC 6120 error, ``reasons`` the texts of a v0.2 ``rejected``)."""

    refused: bool = False
    error: StanzaError | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutTimedOut(ReadoutEvent):
    """The overall readout timeout passed before the end (terminal)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutAborted(ReadoutEvent):
    """The readout ended without its end from the peer (terminal, both sides): the XMPP stream
    closed (``reason="stream closed"``) or the peer went offline (``"peer unavailable"``)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StanzaDropped(EngineEvent):
    """A stanza was ignored: it belongs to no readout, comes from a JID that does not own
    the readout (spoofing), or does not fit the readout's state."""

    stanza: Stanza
    reason: str


# --- sensor -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutQueued(ReadoutEvent):
    """A request with a later ``when`` was accepted with ``queued='true'``."""

    delay: float
    """Seconds until it starts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutRequested(ReadoutEvent):
    """The device must read ``node_ids`` now and report with ``fields_ready``/``node_failed``."""

    node_ids: tuple[str, ...]
    field_names: frozenset[str]
    """Requested field names (empty: every field)."""
    types: FieldType
    """Requested field types, ``all``/``historical`` expanded (empty: the device chooses)."""
    req: Req


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRefused(ReadoutEvent):
    """A request was answered with an IQ error (unknown node, too many readouts, duplicate seqnr)."""

    error: StanzaError


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequested(ReadoutEvent):
    """The requester cancelled the readout; ``cancelled`` was sent and the device should stop."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeTimedOut(ReadoutEvent):
    """A node did not report within its comm timeout; a ``failure`` was sent for it."""

    node_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadoutFinished(ReadoutEvent):
    """Every node is done; the last message carried ``done='true'``."""
