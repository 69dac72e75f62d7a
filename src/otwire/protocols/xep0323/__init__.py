"""XEP-0323 (IoT sensor data) readout machines, sans-IO: :class:`Requester` and :class:`Sensor`.

Stanzas in (``receive_message(stanza, now)``), stanzas out (``messages_to_send()``),
events (``next_event()``), deadlines (``get_timer()``/``handle_timer(now)``). The carrier
(slixmpp in ``otwire.clients.xep0323``) turns XML into :class:`Stanza` objects with the
codec ``otwire.codecs.xep0323`` and back. Transition tables: ``_state.py``; behaviour:
``specs/xep0323/notes.md`` §6.
"""

from __future__ import annotations

from otwire.protocols.xep0323._select import field_wanted, select
from otwire.protocols.xep0323._state import EngineState, ReadoutState, SensorReadoutState
from otwire.protocols.xep0323.config import RequesterConfig, SensorConfig
from otwire.protocols.xep0323.events import (
    CancelRequested,
    ConnectionTerminated,
    FailureReceived,
    FieldsReceived,
    NodeTimedOut,
    ReadoutAborted,
    ReadoutAccepted,
    ReadoutCancelled,
    ReadoutCompleted,
    ReadoutEvent,
    ReadoutFinished,
    ReadoutQueued,
    ReadoutRejected,
    ReadoutRequested,
    ReadoutStarted,
    ReadoutTimedOut,
    RequestRefused,
    StanzaDropped,
    TerminationReason,
)
from otwire.protocols.xep0323.requester import Requester
from otwire.protocols.xep0323.sensor import RegisteredNode, Sensor
from otwire.protocols.xep0323.stanza import (
    CLIENT_NS,
    Stanza,
    bare_jid,
    jid_matches,
    normal_jid,
    stanza_from_xml,
    stanza_to_xml,
)

__all__ = [
    "CLIENT_NS",
    "CancelRequested",
    "ConnectionTerminated",
    "EngineState",
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
    "ReadoutState",
    "ReadoutTimedOut",
    "RegisteredNode",
    "RequestRefused",
    "Requester",
    "RequesterConfig",
    "Sensor",
    "SensorConfig",
    "SensorReadoutState",
    "Stanza",
    "StanzaDropped",
    "TerminationReason",
    "bare_jid",
    "field_wanted",
    "jid_matches",
    "normal_jid",
    "select",
    "stanza_from_xml",
    "stanza_to_xml",
]
