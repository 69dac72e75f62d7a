"""The XEP-0323 dissector on XMPP client streams (``otwire.inspect.xep0323``).

The registry entry is not in this branch yet (see the module's report); the capture test
adds it the way ``test_dissect.py`` adds its toy protocol.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire import registry
from otwire.codecs.xep0323 import Accepted, Fields, FieldType, Node, Numeric, Req, Timestamp, encode_bytes
from otwire.inspect.capture import Sender
from otwire.inspect.dissect import dissect, row_json
from otwire.inspect.model import Finding
from otwire.inspect.xep0323 import MAX_STANZA, VIEW, XMPPStreamDissector
from otwire.protocols.xep0323 import Stanza
from otwire.transports import Direction
from otwire.transports.record import PcapRecorder

CLIENT_HEADER = (
    b"<stream:stream to='localhost' xmlns:stream='http://etherx.jabber.org/streams' "
    b"xmlns='jabber:client' version='1.0'>"
)
SERVER_HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    b"id='s1' from='localhost' version='1.0' xml:lang='en'>"
)
FIELDS = Fields(
    seqnr=1,
    done=True,
    nodes=(
        Node(
            node_id="Device01",
            timestamps=(
                Timestamp(
                    value=dt.datetime(2013, 3, 7, 16, 24, 30),
                    fields=(Numeric(name="Temperature", value=Decimal("23.4"), unit="°C", types=FieldType.momentary),),
                ),
            ),
        ),
    ),
)


def iq(type_: str, iq_id: str, body: bytes, to: str = "", frm: str = "") -> bytes:
    attrs = f" to='{to}'" if to else ""
    attrs += f" from='{frm}'" if frm else ""
    return f"<iq type='{type_}' id='{iq_id}'{attrs}>".encode() + body + b"</iq>"


def message(body: bytes, frm: str = "sensor@localhost/device", to: str = "requester@localhost/app") -> bytes:
    return f"<message from='{frm}' to='{to}'>".encode() + body + b"</message>"


CLIENT_STREAM = [
    CLIENT_HEADER,
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>",
    CLIENT_HEADER,  # the restart after SASL: no XML declaration, nested in the first stream
    b"<presence/>",
    iq("get", "sd-1", encode_bytes(Req(seqnr=1, types=FieldType.momentary)), to="sensor@localhost/device"),
]
SERVER_STREAM = [
    SERVER_HEADER,
    b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    b"</mechanisms></stream:features>",
    b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    SERVER_HEADER,  # the restart after SASL: a new XML declaration
    iq("result", "sd-1", encode_bytes(Accepted(seqnr=1)), frm="sensor@localhost/device"),
    b"\n ",  # whitespace keep-alive
    message(encode_bytes(FIELDS)),
    iq("error", "x1", b"<error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"),
]


def feed(chunks: list[bytes], size: int | None = None) -> list[Finding]:
    data = b"".join(chunks)
    dissector = XMPPStreamDissector()
    step = size or len(data)
    found = [f for i in range(0, len(data), step) for f in dissector.feed(data[i : i + step])]
    return found + list(dissector.close())


def test_server_stream() -> None:
    found = feed(SERVER_STREAM)
    data = b"".join(SERVER_STREAM)
    assert [f.kind for f in found] == ["apdu", "apdu", "apdu"]
    for finding in found:
        assert data[finding.offset : finding.offset + len(finding.raw)] == finding.raw
    accepted, fields, error = (f.message for f in found)
    assert isinstance(accepted, Stanza) and accepted.payload == Accepted(seqnr=1) and accepted.id == "sd-1"
    assert fields.payload == FIELDS and fields.from_jid == "sensor@localhost/device"
    assert error.payload is None and error.error.condition == "forbidden"
    assert VIEW.cells(fields) == ("message/normal", "fields", "1", "nodes=Device01 Temperature=23.4 done")
    assert VIEW.type_name(error) == "error" and VIEW.format(accepted) == "IQ"
    record = VIEW.json(fields)
    assert record["fields"] == [
        {
            "node": "Device01",
            "timestamp": "2013-03-07T16:24:30",
            "name": "Temperature",
            "type": "numeric",
            "value": "23.4",
        }
    ]
    assert record["seqnr"] == 1 and record["done"] is True and record["element"] == "fields"


def test_client_stream_with_a_restart_without_declaration() -> None:
    (req,) = feed(CLIENT_STREAM)
    assert req.message.payload == Req(seqnr=1, types=FieldType.momentary)
    assert "types=momentary" in VIEW.cells(req.message)[3]


@given(st.integers(1, 64))
def test_results_do_not_depend_on_how_the_stream_is_cut(size: int) -> None:
    assert feed(SERVER_STREAM, size) == feed(SERVER_STREAM)


def test_starttls_ends_the_dissection() -> None:
    found = feed([SERVER_HEADER, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", b"\x16\x03\x01\x02\x00binary"])
    assert [(f.kind, f.error) for f in found] == [("junk", "TLS from here on (STARTTLS): not dissected")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", "forbidden"),
        (SERVER_HEADER + b"<iq>" + b"<a>" * 40, "deeper than"),
        (SERVER_HEADER + b"<iq><</iq>", "malformed XML"),
        (SERVER_HEADER + b"<message><body>" + b"x" * (MAX_STANZA + 10), "larger than"),
        (SERVER_HEADER + message(b"<fields xmlns='urn:xmpp:iot:sensordata' seqnr='x'/>"), "xs:int"),
    ],
    ids=["dtd", "deep", "malformed", "huge", "bad-seqnr"],
)
def test_bad_streams_give_one_error(data: bytes, reason: str) -> None:
    found = feed([data], 4096)
    assert [f.kind for f in found] == ["error"]
    assert reason in (found[0].error or "")


def test_unfinished_stanza_at_the_end_is_junk() -> None:
    found = feed([SERVER_HEADER, b"<message><fields xmlns='urn:xmpp:iot:sensordata'"])
    assert [f.kind for f in found] == ["junk"]


RECORDED = Path(__file__).resolve().parents[2] / "specs" / "xep0323" / "vectors" / "xmpp_c2s.pcap"


@pytest.fixture
def xmpp_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = registry.ProtocolEntry(
        name="xmpp",
        title="XMPP XEP-0323 sensor data",
        default_port=5222,
        dissector="otwire.inspect.xep0323:XEP0323Dissector",
        view="otwire.inspect.xep0323:VIEW",
    )
    monkeypatch.setattr(registry, "PROTOCOLS", MappingProxyType({**registry.PROTOCOLS, "xmpp": entry}))


def test_recorded_slixmpp_traffic_through_prosody(xmpp_protocol: None) -> None:
    # specs/xep0323/record_capture.py: two slixmpp 1.17 clients (its own xep_0323) via Prosody 0.12
    rows = list(dissect(RECORDED, {5222: "xmpp"}))
    assert {r.kind for r in rows} == {"apdu"}  # SASL, restarts, presence, disco: all read, none reported
    seen = [(r.sender, VIEW.type_name(r.finding.message), r.finding.message.payload.seqnr) for r in rows if r.finding]
    # requester's connection and sensor's connection each carry the stanza once
    assert sorted(seen, key=str) == sorted(
        [(sender, element, seqnr) for element, seqnr in
         [("req", 1), ("accepted", 1), ("fields", 1), ("req", 2), ("rejected", 2)]
         for sender in (Sender.CLIENT, Sender.SERVER)],
        key=str,
    )  # fmt: skip
    fields = next(
        r.finding.message.payload for r in rows if r.finding and VIEW.type_name(r.finding.message) == "fields"
    )
    assert fields.done and fields.nodes[0].timestamps[0].fields[0].lexical == "23.4"


def test_capture_rows(tmp_path: Path, xmpp_protocol: None) -> None:
    path = tmp_path / "xmpp.pcap"
    with PcapRecorder(path, local=("127.0.0.1", 50000), remote=("127.0.0.1", 5222)) as recorder:
        for out, back in zip(CLIENT_STREAM, SERVER_STREAM, strict=False):
            recorder.record(Direction.OUT, out, timestamp=1_700_000_000.0)
            recorder.record(Direction.IN, back, timestamp=1_700_000_000.5)
        for back in SERVER_STREAM[len(CLIENT_STREAM) :]:
            recorder.record(Direction.IN, back, timestamp=1_700_000_001.0)
    rows = [r for r in dissect(path, {5222: "xmpp"}) if r.kind == "apdu"]
    assert [(r.sender, VIEW.type_name(r.finding.message)) for r in rows if r.finding] == [
        (Sender.CLIENT, "req"),
        (Sender.SERVER, "accepted"),
        (Sender.SERVER, "fields"),
        (Sender.SERVER, "error"),
    ]
    record = row_json(rows[2], str(path))
    assert record["element"] == "fields" and record["protocol"] == "xmpp" and record["seqnr"] == 1
