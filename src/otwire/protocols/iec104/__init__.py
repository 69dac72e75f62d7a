"""Sans-IO IEC 60870-5-104 connection engine (both roles).

>>> from otwire.protocols.iec104 import IEC104Connection, IEC104Config, Role
>>> conn = IEC104Connection(role=Role.CONTROLLING, config=IEC104Config(k=12, w=8))
>>> conn.state.name
'STOPPED'
"""

from __future__ import annotations

from otwire.protocols.iec104._state import Input, State
from otwire.protocols.iec104.config import IEC104Config, Role
from otwire.protocols.iec104.connection import IEC104Connection, SequenceError
from otwire.protocols.iec104.events import (
    ActivationConfirmed,
    ActivationRefused,
    ActivationTerminated,
    ASDUReceived,
    ConnectionTerminated,
    DataTransferStarted,
    DataTransferStopped,
    FrameReceived,
    FrameSent,
    TerminationReason,
    TestFrameConfirmed,
    TestFrameReceived,
)

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
    "IEC104Config",
    "IEC104Connection",
    "Input",
    "Role",
    "SequenceError",
    "State",
    "TerminationReason",
    "TestFrameConfirmed",
    "TestFrameReceived",
]
