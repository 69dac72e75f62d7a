"""The compiled decoders (``_compiled.py``) against the table walker they are built from."""

from __future__ import annotations

import pytest
from hypothesis import given

from otwire.codecs import xep0323 as x
from otwire.codecs.xep0323 import _compiled, _schema, codec
from otwire.errors import DecodeError
from strategies.xep0323 import messages


def _walk(element: object) -> object:
    local = str(element.tag).rpartition("}")[2]  # type: ignore[attr-defined]
    return _schema.decode_element(element, _schema.SPECS[local], f"/{local}")  # type: ignore[arg-type]


@given(messages("v0.6"))
def test_compiled_equals_the_walker_v06(message: object) -> None:
    element = x.encode(message)  # type: ignore[arg-type]
    local = str(element.tag).rpartition("}")[2]
    assert codec._DECODERS[local](element) == _walk(element) == message


@given(messages("v0.2"))
def test_compiled_equals_the_walker_v02(message: object) -> None:
    element = x.encode(message, "v0.2")  # type: ignore[arg-type]
    local = str(element.tag).rpartition("}")[2]
    assert codec._DECODERS[local](element) == _walk(element)


@pytest.mark.parametrize(
    "data",
    [
        b"<accepted xmlns='urn:xmpp:iot:sensordata'/>",
        b"<accepted xmlns='urn:xmpp:iot:sensordata' seqnr='x'/>",
        b"<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='yes'/>",
        b"<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1'><bogus/></fields>",
    ],
)
def test_compiled_refuses_what_the_walker_refuses(data: bytes) -> None:
    element = x.parse_xml(data)
    local = str(element.tag).rpartition("}")[2]
    with pytest.raises((_compiled.Unmatched, KeyError, ValueError)):
        codec._DECODERS[local](element)
    with pytest.raises(_schema.BadElement):
        _walk(element)
    with pytest.raises(DecodeError):
        x.decode(element)


def test_each_spec_is_compiled_once() -> None:
    compiled: dict[int, _compiled.Decoder] = {}
    first = _compiled.compile_decoder(_schema.SPECS["fields"], compiled)
    count = len(compiled)
    assert _compiled.compile_decoder(_schema.SPECS["fields"], compiled) is first
    assert len(compiled) == count == 3 + len(_schema.FIELD_SPECS)  # fields, node, timestamp, values


def test_the_module_shows_the_source_it_generates() -> None:
    doc = _compiled.__doc__ or ""
    example = doc[doc.index("    def decode(element):") :].strip()
    lines = [line.strip() for line in example.splitlines()]
    assert lines == [line.strip() for line in _compiled.decoder_source(_schema.SPECS["started"]).splitlines()]


_FIELDS = "<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1'><node nodeId='n'><timestamp value='2024-01-01T00:00:00'>{}"


@pytest.mark.parametrize(
    "field",
    [
        "<numeric name='a' value='1' unit='C' momentary='true' module='m' stringIds='1'/>",
        "<numeric name='a' value='1' module='m'/>",
        "<boolean name='a' value='true' writable='false' status='true' other='x'/>",
        "<string name='a' value='b' other='x' identity='false'/>",
        "<enum name='a' value='b' dataType='t' momentary='1' peak='0' writable='true'/>",
        "<int name='a' value='7' stringIds='1|m|2'/>",
    ],
)
def test_rare_attributes_are_read_whatever_the_flags(field: str) -> None:
    element = x.parse_xml((_FIELDS.format(field) + "</timestamp></node></fields>").encode())
    assert codec._DECODERS["fields"](element) == _walk(element)


@pytest.mark.parametrize(
    "field", ["<boolean name='a' value='true' writable='maybe'/>", "<int name='a' value='7' stringIds='|'/>"]
)
def test_a_malformed_rare_attribute_is_refused(field: str) -> None:
    element = x.parse_xml((_FIELDS.format(field) + "</timestamp></node></fields>").encode())
    with pytest.raises((KeyError, ValueError)):
        codec._DECODERS["fields"](element)
    with pytest.raises(DecodeError):
        x.decode(element)


def test_builder_objects_become_ordinary_frozen_instances() -> None:
    import copy
    import pickle
    from dataclasses import FrozenInstanceError

    element = x.encode(x.Fields(seqnr=3, nodes=(x.Node(node_id="n"),)))
    ours, walked = codec._DECODERS["fields"](element), _walk(element)
    assert type(ours) is x.Fields and type(ours.nodes[0]) is x.Node
    assert ours == walked and hash(ours) == hash(walked)
    assert pickle.loads(pickle.dumps(ours)) == copy.copy(ours) == walked
    with pytest.raises(FrozenInstanceError):
        ours.seqnr = 4  # type: ignore[misc]


def test_builder_refuses_a_class_with_a_dict() -> None:
    from otwire.codecs.xep0323._build import builder

    class Plain:
        pass

    with pytest.raises(TypeError):
        builder(Plain)
    assert builder(x.Fields).__setattr__ is object.__setattr__
