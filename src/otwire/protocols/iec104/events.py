"""Events reported by :class:`~otwire.protocols.iec104.IEC104Connection` (past tense, specs/pattern.md).

``ConnectionTerminated`` and ``TerminationReason`` are the shared ones of
:mod:`otwire.protocols`, re-exported here (this engine ends with ``LOCAL_CLOSE``,
``PEER_CLOSED``, ``CONNECTION_LOST``, ``T1_TIMEOUT`` and ``PROTOCOL_ERROR``).
"""

from __future__ import annotations

from dataclasses import dataclass

from otwire.codecs.iec104 import ASDU
from otwire.protocols import ConnectionTerminated, Event, TerminationReason

__all__ = [
    "ASDUReceived",
    "ActivationConfirmed",
    "ActivationRefused",
    "ActivationTerminated",
    "ConnectionTerminated",
    "DataTransferStarted",
    "DataTransferStopped",
    "FrameReceived",
    "FrameSent",
    "TerminationReason",
    "TestFrameConfirmed",
    "TestFrameReceived",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class DataTransferStarted(Event):
    """STARTDT completed: I-frames may flow (controlling: con received; controlled: con sent)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataTransferStopped(Event):
    """STOPDT completed: no more I-frames until the next STARTDT."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ASDUReceived(Event):
    """An I-frame arrived that is not a reply to a tracked activation."""

    asdu: ASDU


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivationConfirmed(Event):
    """A positive confirmation (ACT_CON, DEACT_CON, or read data COT 5) of ``request``."""

    request: ASDU
    """The ASDU this connection sent (the same object passed to ``send``)."""
    asdu: ASDU
    """The confirmation as received."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivationRefused(Event):
    """A negative confirmation of ``request``: P/N=1, or COT 44-47 (unknown type, COT, CA, IOA)."""

    request: ASDU
    asdu: ASDU


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivationTerminated(Event):
    """ACT_TERM (COT 10) ended ``request`` (interrogations, select-and-execute commands)."""

    request: ASDU
    asdu: ASDU


@dataclass(frozen=True, slots=True, kw_only=True)
class TestFrameReceived(Event):
    """The peer sent TESTFR act; TESTFR con was queued in reply."""

    __test__ = False  # not a pytest class, despite the name


@dataclass(frozen=True, slots=True, kw_only=True)
class TestFrameConfirmed(Event):
    """The peer confirmed our TESTFR act."""

    __test__ = False  # not a pytest class, despite the name


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameReceived(Event):
    """One complete APDU as received (only with ``report_frames=True``)."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameSent(Event):
    """One complete APDU as queued for sending (only with ``report_frames=True``)."""

    data: bytes
