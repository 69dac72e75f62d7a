"""Malformed and hostile input: every failure is a ``DecodeError`` naming where, and nothing explodes."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs import xep0323 as x
from otwire.errors import DecodeError
from strategies.xep0323 import messages

VECTORS = Path(__file__).resolve().parents[2] / "specs" / "xep0323" / "vectors" / "xep0323_examples.xml"
HEAD = b'<fields xmlns="urn:xmpp:iot:sensordata" seqnr="1"><node nodeId="n"><timestamp value="2020-01-01T00:00:00">'
TAIL = b"</timestamp></node></fields>"


def _vector_octets() -> list[bytes]:
    root = ET.parse(VECTORS).getroot()
    out = []
    for stanza in root.iter("stanza"):
        if stanza.get("payload-ns") == x.NS:
            (wrapper,) = list(stanza)
            wrapper.tail = None
            out.append(ET.tostring(wrapper))
    return out


def _assert_prefixes_refused(data: bytes, points: list[int]) -> None:
    for end in points:
        with pytest.raises(DecodeError):
            x.decode_bytes(data[:end])


def test_every_prefix_of_every_vector_stanza_is_refused() -> None:
    for data in _vector_octets():
        _assert_prefixes_refused(data, list(range(len(data))))


@given(messages(), st.data())
def test_prefixes_of_serialised_messages_are_refused(message: object, data: st.DataObject) -> None:
    octets = x.encode_bytes(message)  # type: ignore[arg-type]
    points = data.draw(st.lists(st.integers(0, len(octets) - 1), max_size=40))
    _assert_prefixes_refused(octets, [*points, 0, len(octets) - 1])


@pytest.mark.parametrize(
    ("field", "path", "reason"),
    [
        (b'<numeric name="a" value="1,5" unit="" />', "/fields/node[0]/timestamp[0]/numeric[0]@value", "xs:double"),
        (b'<int name="a" value="2147483648" />', "/fields/node[0]/timestamp[0]/int[0]@value", "range"),
        (b'<long name="a" value="1_000" />', "/fields/node[0]/timestamp[0]/long[0]@value", "xs:long"),
        (b'<boolean name="a" value="yes" />', "/fields/node[0]/timestamp[0]/boolean[0]@value", "xs:boolean"),
        (
            b'<dateTime name="a" value="2020-13-01T00:00:00" />',
            "/fields/node[0]/timestamp[0]/dateTime[0]@value",
            "month",
        ),
        (b'<time name="a" value="24:00:00" />', "/fields/node[0]/timestamp[0]/time[0]@value", "hour"),
        (b'<date name="a" value="20-01-01" />', "/fields/node[0]/timestamp[0]/date[0]@value", "xs:date"),
        (b'<duration name="a" value="P" />', "/fields/node[0]/timestamp[0]/duration[0]@value", "xs:duration"),
        (b'<string value="v" />', "/fields/node[0]/timestamp[0]/string[0]", "'name'"),
        (
            b'<string name="a" value="v" momentary="maybe" />',
            "/fields/node[0]/timestamp[0]/string[0]@momentary",
            "xs:boolean",
        ),
        (
            b'<string name="a" value="v" stringIds="x" />',
            "/fields/node[0]/timestamp[0]/string[0]@stringIds",
            "stringIds",
        ),
        (b"<bogus />", "/fields/node[0]/timestamp[0]/bogus[0]", "unexpected element"),
    ],
)
def test_bad_fields_name_the_path(field: bytes, path: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason) as info:
        x.decode_bytes(HEAD + field + TAIL)
    assert info.value.path == path


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'<req xmlns="urn:xmpp:iot:sensordata" />', "missing attribute 'seqnr'"),
        (b'<req xmlns="urn:xmpp:iot:sensordata" seqnr="x" />', "xs:int"),
        (b'<accepted xmlns="urn:xmpp:iot:sensordata" seqnr="1" queued="2" />', "xs:boolean"),
        (b'<bogus xmlns="urn:xmpp:iot:sensordata" />', "not an XEP-0323 message"),
        (b"<iq type='get'><query xmlns='jabber:iq:roster'/></iq>", "no XEP-0323 element"),
        (b"<req seqnr='1'/>", "no XEP-0323 element"),
        (b"", "malformed XML"),
        (b"\xff\xfe", "malformed XML"),
        (b"<a></b>", "malformed XML"),
    ],
)
def test_bad_messages(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        x.decode_bytes(data)


def test_other_namespaces_are_ignored_inside_messages() -> None:
    data = HEAD + b'<x xmlns="urn:example:other"><y /></x><string name="a" value="v" />' + TAIL
    message = x.decode_bytes(data)
    assert isinstance(message, x.Fields)
    assert [f.name for f in message.nodes[0].timestamps[0].fields] == ["a"]


def test_decode_refuses_elements_outside_the_namespace() -> None:
    with pytest.raises(DecodeError, match="not an XEP-0323 message") as info:
        x.decode(ET.Element("fields", {"seqnr": "1"}))
    assert info.value.path == "/"


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b']><fields xmlns="urn:xmpp:iot:sensordata" seqnr="1"><node nodeId="&lol9;"/></fields>'
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<fields xmlns="urn:xmpp:iot:sensordata" seqnr="1"><node nodeId="&e;"/></fields>'
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.invalid/x.dtd">'
    b'<done xmlns="urn:xmpp:iot:sensordata" seqnr="1"/>'
)
DEEP = b"<a>" * 10_000 + b"</a>" * 10_000
HUGE_TEXT = (
    b'<failure xmlns="urn:xmpp:iot:sensordata" seqnr="1"><error nodeId="n" timestamp="t">'
    + b"x" * (50 << 20)
    + b"</error></failure>"
)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (LAUGHS, "forbidden XML construct"),
        (EXTERNAL, "forbidden XML construct"),
        (EXTERNAL_DTD, "forbidden XML construct"),
        (DEEP, "nested deeper than 32"),
        (HUGE_TEXT, "exceeds the limit"),
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "10000-deep", "50MB-text"],
)
def test_hostile_xml_is_refused_with_bounded_memory(data: bytes, reason: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match=reason):
            x.decode_bytes(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # far below what the expansion or the input would need


def test_limits_are_parameters() -> None:
    done = b'<done xmlns="urn:xmpp:iot:sensordata" seqnr="1"/>'
    assert x.decode_bytes(done, max_size=len(done)) == x.Done(seqnr=1)
    with pytest.raises(DecodeError, match="exceeds"):
        x.decode_bytes(done, max_size=len(done) - 1)
    with pytest.raises(DecodeError, match="deeper than 3"):
        x.decode_bytes(HEAD + b'<string name="a" value="v" />' + TAIL, max_depth=3)
    assert isinstance(x.decode_bytes(HEAD + b'<string name="a" value="v" />' + TAIL, max_depth=4), x.Fields)


@given(messages())
def test_the_plain_parse_path_equals_the_defusedxml_path(message: object) -> None:
    from otwire.codecs.xep0323 import codec

    data = x.encode_bytes(message)  # type: ignore[arg-type]
    assert codec._plain(data) and not codec._plain(b"<!-- c -->" + data)
    assert x.decode_bytes(data) == x.decode_bytes(b"<!-- c -->" + data) == message


UTF16_DTD = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "b">]>'
    '<done xmlns="urn:xmpp:iot:sensordata" seqnr="1"/>'
).encode("utf-16")
EBCDIC = b'<?xml version="1.0" encoding="cp037"?>' + '<done xmlns="urn:xmpp:iot:sensordata" seqnr="1"/>'.encode("cp037")
LATIN1 = '<?xml version="1.0" encoding="ISO-8859-1"?><string name="é" value="x"/>'.encode("latin-1")


def test_other_encodings_take_the_defusedxml_path() -> None:
    from otwire.codecs.xep0323 import codec

    assert not codec._plain(UTF16_DTD) and not codec._plain(EBCDIC) and not codec._plain(LATIN1)
    with pytest.raises(DecodeError, match="forbidden XML construct"):
        x.decode_bytes(UTF16_DTD)
    with pytest.raises(DecodeError, match="unknown encoding"):
        x.decode_bytes(EBCDIC)
    assert codec.parse_xml(LATIN1).get("name") == "é"  # harmless in another encoding: still read
