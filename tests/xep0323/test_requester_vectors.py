"""The requester reads every flow of the golden vectors (``specs/xep0323/vectors``).

Client stanzas of a flow are replayed through ``request``/``cancel`` (and what the engine
sends must equal the vector's ``req``/``cancel``); device stanzas are fed through
``stanza_from_xml``, with the vector's IQ ids replaced by the ones the engine chose and,
where the vector has no ``from``, the server's stamp (the device JID).
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from otwire.codecs.xep0323 import Cancel, FieldType, Int, Long, Req
from otwire.protocols.xep0323 import (
    FieldsReceived,
    ReadoutCancelled,
    ReadoutCompleted,
    ReadoutRejected,
    Requester,
    RequesterConfig,
    Stanza,
    StanzaDropped,
    stanza_from_xml,
    stanza_to_xml,
)

VECTORS = Path(__file__).resolve().parents[2] / "specs" / "xep0323" / "vectors" / "xep0323_examples.xml"
ROOT = ET.parse(VECTORS).getroot()
STANZAS = {
    f"{example.get('id')}#{stanza.get('n')}": stanza
    for example in ROOT.iter("example")
    for stanza in example.iter("stanza")
}


def flow(example: str, count: int) -> list[str]:
    return [f"{example}#{n}" for n in range(1, count + 1)]


FLOWS = {
    "momentary": (["v06-ex01#1", "v06-ex02#1", "v06-ex03#1"], ReadoutCompleted, {}),
    "failure": (flow("v06-ex04", 3), ReadoutCompleted, {"failed": True}),
    "rejected": (flow("v06-ex05", 2), ReadoutRejected, {}),
    "read-out-all": (flow("v06-ex06", 7), ReadoutCompleted, {}),
    "multiple-devices": (flow("v06-ex07", 4), ReadoutCompleted, {}),
    "specific-fields": (flow("v06-ex08", 3), ReadoutCompleted, {}),
    "cancel": (flow("v06-ex09", 4), ReadoutCancelled, {"refused": False}),
    "localized": (flow("v06-ex12", 3), ReadoutCompleted, {}),
    "v02-rejected": (flow("v02-rejected", 2), ReadoutRejected, {"reasons": ("Access denied.",)}),
    "slix-momentary": (flow("slix-momentary", 3), ReadoutCompleted, {}),
    "slix-historical-crash": (flow("slix-historical-crash", 4), ReadoutCompleted, {"failed": True}),
    "slix-rejected": (flow("slix-rejected", 2), ReadoutRejected, {"reasons": ("Invalid nodeId NoSuchNode",)}),
    "slix-queued-cancel": (flow("slix-queued-cancel", 4), ReadoutCancelled, {}),
    "slix-failure-then-fields": (flow("slix-failure-then-fields", 4), ReadoutCompleted, {}),
}


def element(key: str) -> ET.Element:
    (wrapper,) = list(STANZAS[key])
    return wrapper


class Replay:
    def __init__(self, seqnr: int) -> None:
        self.requester = Requester("client@example.org/amr", RequesterConfig(first_seqnr=seqnr))
        self.ids: dict[str, str] = {}
        self.peer = ""
        self.events: list[object] = []

    def client(self, stanza: Stanza) -> None:
        payload = stanza.payload
        if isinstance(payload, Req):
            self.peer = stanza.to_jid
            nodes, names = [n.node_id for n in payload.nodes], [f.name for f in payload.fields]
            seqnr = self.requester.request(
                stanza.to_jid, 0.0, node_ids=nodes, fields=names, flags=payload.types,
                all_types=payload.all_types, historical=payload.historical, when=payload.when,
            )  # fmt: skip
            assert seqnr == payload.seqnr
        elif isinstance(payload, Cancel):
            self.requester.cancel(stanza.to_jid, payload.seqnr, 0.0)
        else:
            return  # e.g. slixmpp's message error back to the device
        (sent,) = self.requester.messages_to_send()
        assert sent.payload == payload
        self.ids[stanza.id or ""] = sent.id or ""

    def device(self, stanza: Stanza) -> None:
        stamped = Stanza(kind=stanza.kind, type=stanza.type, id=self.ids.get(stanza.id or "", stanza.id),
                         from_jid=stanza.from_jid or self.peer, to_jid=stanza.to_jid, payload=stanza.payload,
                         error=stanza.error)  # fmt: skip
        self.requester.receive_message(stamped, 1.0)
        while (event := self.requester.next_event()) is not None:
            self.events.append(event)


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_requester_reads_the_vector_flow(name: str) -> None:
    keys, final, attributes = FLOWS[name]
    seqnr = int(next(STANZAS[k].get("seqnr") for k in keys if STANZAS[k].get("seqnr")) or 0)
    replay = Replay(seqnr)
    for key in keys:
        stanza = stanza_from_xml(element(key))
        if STANZAS[key].get("direction") == "client-to-device":
            replay.client(stanza)
        else:
            replay.device(stanza)
    assert type(replay.events[-1]) is final
    for attribute, value in attributes.items():
        assert getattr(replay.events[-1], attribute) == value
    drops = [e for e in replay.events if isinstance(e, StanzaDropped)]
    assert len(drops) == (1 if name == "slix-historical-crash" else 0)  # its second answer to one IQ
    assert replay.requester.get_timer() is None


def test_v03_device_flow_with_new_field_types_and_separate_done() -> None:
    replay = Replay(10)
    replay.client(
        Stanza(
            kind="iq",
            type="get",
            id="S0010",
            to_jid="device@example.org",
            payload=Req(seqnr=10, types=FieldType.momentary),
        )
    )
    for key in flow("v3-fields-new-types", 3):
        replay.device(stanza_from_xml(element(key)))
    fields = [
        f
        for e in replay.events
        if isinstance(e, FieldsReceived)
        for n in e.nodes
        for t in n.timestamps
        for f in t.fields
    ]
    # requested momentary only: the status and identity fields are filtered out, as the client must
    assert [f.name for f in fields] == ["Temperature", "Flow", "Count", "Pulses"]
    assert isinstance(fields[2], Int) and isinstance(fields[3], Long) and fields[3].value == 9_000_000_000
    assert type(replay.events[-1]) is ReadoutCompleted


READOUT_STANZAS = sorted(k for k, s in STANZAS.items() if s.get("payload-ns") in (None, "urn:xmpp:iot:sensordata"))


@pytest.mark.parametrize("key", READOUT_STANZAS)
def test_stanzas_round_trip_through_xml(key: str) -> None:
    stanza = stanza_from_xml(element(key))
    dialect = "v0.2" if key.startswith(("v02", "slix")) else "v0.6"
    assert stanza_from_xml(stanza_to_xml(stanza, dialect)) == stanza
