"""The XEP-0323 dissector's fast paths equal the general paths they replace.

* Stanzas that cannot give a row (presence, SASL, stream features ...) are only tracked,
  without a tree: :class:`XMPPStreamDissector` equals a subclass that builds a tree for
  every stanza (``_kept`` always true, the dissector as it was), on generated streams cut
  anywhere, malformed ones included.
* :func:`stanza_from_xml` builds its :class:`Stanza` without ``__init__``: it equals the
  stanza built from keyword arguments as before.
* The end of an end tag (``</iq>``) is found with ``bytearray.find``: equal to the scan
  octet by octet that skips quoted attribute values.
* A request's summary names ``types`` (or ``requested_types`` when ``all``/``historical``
  add to them) through a cache: equal to naming ``requested_types`` member by member.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.xep0323 import FieldType, Req, decode, decode_stanza_error, payload_element
from otwire.errors import DecodeError
from otwire.inspect.model import Finding
from otwire.inspect.xep0323 import VIEW, XMPPStreamDissector, _tag_end, _tag_end_scan
from otwire.protocols.xep0323 import Stanza, stanza_from_xml


class GeneralDissector(XMPPStreamDissector):
    """The general path: a tree for every stanza."""

    @staticmethod
    def _kept(tag: str) -> bool:
        return True


HEADERS = [
    b"<stream:stream to='localhost' xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>",
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
]
SD = "xmlns='urn:xmpp:iot:sensordata'"
PIECES = [
    *HEADERS,
    b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    b"</mechanisms></stream:features>",
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>",
    b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    b"<presence/>",
    b"<presence from='a@b/c'><show>away</show><status>x &amp; y</status></presence>",
    b"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>",
    f"<iq type='get' id='1' to='s@l/d'><req {SD} seqnr='1' momentary='true'><node nodeId='N1'/></req></iq>".encode(),
    f"<iq type='result' id='1'><accepted {SD} seqnr='1'/></iq>".encode(),
    f"<iq type='error' id='2'><rejected {SD} seqnr='2'><error>no</error></rejected></iq>".encode(),
    b"<iq type='error' id='3'><error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
    b"</error></iq>",
    f"<message from='s@l/d'><fields {SD} seqnr='1' done='true'><node nodeId='N1'><timestamp "
    f"value='2024-01-01T00:00:00'><numeric name='T' value='2.5' unit='\u00b0C' momentary='true'/></timestamp>"
    f"</node></fields></message>".encode(),
    f"<message><fields {SD} seqnr='x'/></message>".encode(),  # a decode error
    f"<message type='chat'><body>hi</body><done {SD} seqnr='4'/></message>".encode(),
    f"<x:iq xmlns:x='jabber:client' type='get' id='4'><req {SD} seqnr='4'/></x:iq>".encode(),
    f"<presence><req {SD} seqnr='5'/></presence>".encode(),  # XEP-0323 element in a presence: no row
    b"<iq><stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a/></stream:stream></iq>",
    b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    b"<proceed/>",
    b"\n  ",
    b"<!-- note -->",
    b"<a>" * 40,  # too deep
    b"<iq><</iq>",  # malformed
    b"<!DOCTYPE x>",
    b"</stream:stream>",
]


def run(cls: type[XMPPStreamDissector], data: bytes, cuts: list[int]) -> list[Finding]:
    dissector = cls()
    found: list[Finding] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        found += dissector.feed(data[start:cut])
        start = max(start, cut)
    return found + list(dissector.close())


@given(
    st.sampled_from(HEADERS),
    st.lists(st.sampled_from(PIECES), max_size=14),
    st.lists(st.integers(0, 2000), max_size=6),
)
def test_stanzas_without_trees_equal_the_general_path(header: bytes, pieces: list[bytes], cuts: list[int]) -> None:
    data = header + b"".join(pieces)
    cuts = [c for c in cuts if c < len(data)]
    assert run(XMPPStreamDissector, data, cuts) == run(GeneralDissector, data, cuts)


def reference_stanza(element: ET.Element) -> Stanza:
    """``stanza_from_xml`` as it was: ``Stanza`` built by keyword."""
    local = str(element.tag).rpartition("}")[2]
    if local not in ("iq", "message"):
        raise DecodeError(f"not an iq or message stanza: {local[:40]!r}", path="/")
    kind = "iq" if local == "iq" else "message"
    child = payload_element(element)
    error = next((c for c in element if str(c.tag).rpartition("}")[2] == "error" and c is not child), None)
    return Stanza(
        kind=kind,  # type: ignore[arg-type]
        type=element.get("type", "normal" if kind == "message" else ""),
        id=element.get("id"),
        from_jid=element.get("from", ""),
        to_jid=element.get("to", ""),
        payload=decode(child) if child is not None else None,
        error=decode_stanza_error(error) if error is not None else None,
    )


def outcome(function: object, element: ET.Element) -> object:
    try:
        return function(element)  # type: ignore[operator]
    except DecodeError as exc:
        return ("DecodeError", str(exc), exc.path)


@given(st.sampled_from(PIECES), st.sampled_from([None, "get", "result", "error", "chat"]))
def test_stanza_from_xml_equals_the_keyword_construction(piece: bytes, type_: str | None) -> None:
    try:
        element = ET.fromstring(b"<r xmlns='jabber:client'>" + piece + b"</r>")
    except ET.ParseError:
        return
    for stanza in element:
        if type_ is not None:
            stanza.set("type", type_)
        made, reference = outcome(stanza_from_xml, stanza), outcome(reference_stanza, stanza)
        assert made == reference
        if isinstance(made, Stanza):
            assert type(made) is Stanza and repr(made) == repr(reference) and hash(made) == hash(reference)


def reference_types(req: Req) -> str:
    """The ``types=`` part of a request's summary as it was: from ``requested_types``, member by member."""
    types = req.requested_types
    return f"types={'|'.join(str(m.name) for m in types)}" if types else ""


@given(st.integers(0, (1 << len(FieldType)) - 1), st.booleans(), st.booleans())
def test_request_summary_types_equal_the_requested_types(bits: int, all_types: bool, historical: bool) -> None:
    req = Req(seqnr=1, types=FieldType(bits), all_types=all_types, historical=historical)
    summary = VIEW.cells(Stanza(kind="iq", type="get", payload=req))[3]
    assert summary == reference_types(req)
    assert VIEW.json(Stanza(kind="iq", type="get", payload=req))["summary"] == summary


QUOTED = st.binary(max_size=30).map(lambda b: b.replace(b"x", b"'").replace(b"y", b'"').replace(b"z", b">"))


@given(QUOTED, st.from_regex(rb"[a-z][a-z0-9:._-]{0,8}[ \t]{0,2}", fullmatch=True), QUOTED)
def test_tag_end_of_an_end_tag_equals_the_octet_scan(before: bytes, name: bytes, after: bytes) -> None:
    # what expat reports an element's end at: ``</name S?>`` (no quote), then anything
    buffer = bytearray(before + b"</" + name + b">" + after)
    assert _tag_end(buffer, len(before)) == _tag_end_scan(buffer, len(before)) == len(before) + len(name) + 3


@given(QUOTED, st.integers(-2, 40))
def test_tag_end_elsewhere_is_the_octet_scan(data: bytes, index: int) -> None:
    for buffer in (bytearray(data), bytearray(b"<a/" + data), bytearray(b"<a b='>'/>" + data)):
        if buffer[index : index + 2] != b"</" or index < 0:
            assert _tag_end(buffer, index) == _tag_end_scan(buffer, index)
