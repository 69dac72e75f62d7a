"""XEP-0323 (IoT sensor data) readout machines, sans-IO: :class:`Requester` and :class:`Sensor`.

Stanzas in (``receive_message(stanza, now)``), stanzas out (``messages_to_send()``),
events (``next_event()``), deadlines (``get_timer()``/``handle_timer(now)``). The carrier
(slixmpp in ``otwire.clients.xep0323``) turns XML into :class:`Stanza` objects with the
codec ``otwire.codecs.xep0323`` and back. Transition tables: ``_state.py``; behaviour:
``specs/xep0323/notes.md`` §6.

Only the stanza envelope (``stanza.py``) is imported with the package; the machines,
events, configurations and state tables are imported on first access of their names
(``otwire inspect`` needs only :func:`stanza_from_xml`). Every name in ``__all__`` is
importable from here as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otwire.protocols.xep0323.stanza import (
    CLIENT_NS,
    Stanza,
    bare_jid,
    jid_matches,
    normal_jid,
    stanza_from_xml,
    stanza_to_xml,
)

if TYPE_CHECKING:
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

_EVENTS = (
    "CancelRequested ConnectionTerminated FailureReceived FieldsReceived NodeTimedOut ReadoutAborted"
    " ReadoutAccepted ReadoutCancelled ReadoutCompleted ReadoutEvent ReadoutFinished ReadoutQueued"
    " ReadoutRejected ReadoutRequested ReadoutStarted ReadoutTimedOut RequestRefused StanzaDropped"
    " TerminationReason"
)
#: The submodule (relative to this package) of every name imported on first access.
_LAZY: dict[str, str] = {
    "field_wanted": "_select",
    "select": "_select",
    "EngineState": "_state",
    "ReadoutState": "_state",
    "SensorReadoutState": "_state",
    "RequesterConfig": "config",
    "SensorConfig": "config",
    "Requester": "requester",
    "RegisteredNode": "sensor",
    "Sensor": "sensor",
    **dict.fromkeys(_EVENTS.split(), "events"),
}


def __getattr__(name: str) -> Any:
    """Import the submodule of a machine, event, configuration or state name on its first access.

    Raises:
        AttributeError: ``name`` is not one of this package's lazily imported names.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
