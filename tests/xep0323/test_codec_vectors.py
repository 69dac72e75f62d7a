"""Golden vectors: the XEP-0323 examples (``specs/xep0323/vectors/xep0323_examples.xml``), both ways.

Each stanza with a payload in ``urn:xmpp:iot:sensordata`` decodes, and encoding the
result gives the same element back (same names, attributes and children; the only
normalisations are the spec's own slips listed in ``specs/xep0323/notes.md`` §4:
``identification`` comes back as ``identity`` and the ``...`` placeholders vanish). The
typed contents of a few stanzas are checked against values written here by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from otwire.codecs import xep0323 as x

VECTORS = Path(__file__).resolve().parents[2] / "specs" / "xep0323" / "vectors" / "xep0323_examples.xml"
NS = "{urn:xmpp:iot:sensordata}"


def _stanzas() -> dict[str, ET.Element]:
    root = ET.parse(VECTORS).getroot()
    found = {}
    for example in root.iter("example"):
        for stanza in example.iter("stanza"):
            found[f"{example.get('id')}#{stanza.get('n')}"] = stanza
    return found


STANZAS = _stanzas()
PAYLOADS = {k: s for k, s in STANZAS.items() if s.get("payload-ns") == x.NS}


def _payload(key: str) -> ET.Element:
    (wrapper,) = list(STANZAS[key])
    element = x.payload_element(wrapper)
    assert element is not None
    return element


def _normal(element: ET.Element) -> tuple[object, ...]:
    attrib = {("identity" if k == "identification" else k): v for k, v in element.attrib.items()}
    return (element.tag, attrib, (element.text or "").strip(" \n.") or None, [_normal(c) for c in element])


def test_the_vector_file_has_every_payload_kind() -> None:
    kinds = {s.get("payload") for s in PAYLOADS.values()}
    assert kinds == {"req", "accepted", "fields", "failure", "started", "done", "cancel", "cancelled", "rejected"}
    assert len(PAYLOADS) == 49


@pytest.mark.parametrize("key", sorted(PAYLOADS))
def test_vector_decodes_and_encodes_back(key: str) -> None:
    element = _payload(key)
    message = x.decode(element)
    assert type(message).__name__.lower() == STANZAS[key].get("payload")
    assert message.seqnr == int(STANZAS[key].get("seqnr", ""))
    dialect = "v0.2" if key.startswith(("v02", "slix")) else "v0.6"
    assert _normal(x.encode(message, dialect)) == _normal(element)


@pytest.mark.parametrize("key", sorted(PAYLOADS))
def test_vector_decodes_from_the_stanza_octets(key: str) -> None:
    (wrapper,) = list(STANZAS[key])
    assert x.decode_bytes(ET.tostring(wrapper)) == x.decode(_payload(key))


def test_momentary_readout_values() -> None:
    assert x.decode(_payload("v06-ex03#1")) == x.Fields(
        seqnr=1,
        done=True,
        nodes=(
            x.Node(
                node_id="Device01",
                timestamps=(
                    x.Timestamp(
                        value=dt.datetime(2013, 3, 7, 16, 24, 30),
                        fields=(
                            x.Numeric(name="Temperature", value=Decimal("23.4"), unit="°C",
                                      types=x.FieldType.momentary, qos=x.QoS.automaticReadout),
                        ),
                    ),
                ),
            ),
        ),
    )  # fmt: skip


def test_request_attributes() -> None:
    assert x.decode(_payload("v06-ex06#1")) == x.Req(seqnr=4, all_types=True, when=dt.datetime(2013, 3, 7, 19, 0))
    assert x.decode(_payload("v06-ex08#1")) == x.Req(
        seqnr=6,
        types=x.FieldType.momentary,
        nodes=(x.Node(node_id="Device04"),),
        fields=(x.FieldRef(name="Energy"), x.FieldRef(name="Power")),
    )
    assert x.decode(_payload("v06-ex09#2")) == x.Accepted(seqnr=8, queued=True)


def test_identification_is_read_as_identity() -> None:
    fields = x.decode(_payload("v06-ex06#4"))
    assert isinstance(fields, x.Fields)
    device_id = fields.nodes[0].timestamps[0].fields[2]
    assert device_id == x.String(
        name="Device ID", value="Device01", types=x.FieldType.identity, qos=x.QoS.automaticReadout
    )


def test_failure_and_rejections() -> None:
    assert x.decode(_payload("v06-ex04#3")) == x.Failure(
        seqnr=2, done=True, errors=(x.Error(node_id="Device01", timestamp="2013-03-07T17:13:30", message="Timeout."),)
    )
    assert x.decode(_payload("v02-rejected#2")) == x.Rejected(seqnr=3, errors=("Access denied.",))
    (iq,) = list(STANZAS["v06-ex05#2"])
    error = iq.find("error")
    assert error is not None
    assert x.decode_stanza_error(error) == x.StanzaError(type="cancel", condition="forbidden", text="Access denied.")


def test_v03_field_types() -> None:
    fields = x.decode(_payload("v3-fields-new-types#2"))
    assert isinstance(fields, x.Fields)
    got = {f.name: (type(f).__name__, f.value) for f in fields.nodes[0].timestamps[0].fields}
    assert got == {
        "Temperature": ("Numeric", Decimal("23.4")),
        "Flow": ("Numeric", Decimal("0.12")),
        "Count": ("Int", 5),
        "Pulses": ("Long", 9_000_000_000),
        "Runtime": ("Duration", x.XsDuration(hours=12345)),
        "Installed": ("Date", dt.date(2012, 1, 1)),
        "Wakeup": ("Time", dt.time(6, 30)),
    }
    flow = fields.nodes[0].timestamps[0].fields[1]
    assert flow.writable is False and flow.qos == x.QoS.inProgress


def test_slixmpp_timespan_is_a_duration() -> None:
    fields = x.decode(_payload("slix-momentary#3"))
    assert isinstance(fields, x.Fields)
    runtime = fields.nodes[0].timestamps[0].fields[-1]
    assert runtime == x.Duration(name="Runtime", value=x.XsDuration(days=1, hours=2), types=x.FieldType.momentary)
    assert x.encode(fields, "v0.2")[0][0][-1].tag == NS + "timeSpan"
    assert x.encode(fields)[0][0][-1].tag == NS + "duration"
