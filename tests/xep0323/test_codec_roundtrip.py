"""Hypothesis round trips of every XEP-0323 element in both dialects, and the v0.2 conversions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given

from otwire.codecs import xep0323 as x
from otwire.errors import DecodeError, EncodeError
from strategies.xep0323 import messages, values

NS = "{urn:xmpp:iot:sensordata}"


@given(messages("v0.6"))
def test_v06_round_trip_through_bytes(message: object) -> None:
    data = x.encode_bytes(message)  # type: ignore[arg-type]
    assert x.decode_bytes(data) == message
    assert x.decode(x.encode(message)) == message  # type: ignore[arg-type]


@given(messages("v0.2"))
def test_v02_round_trip_of_what_v02_carries(message: object) -> None:
    data = x.encode_bytes(message, "v0.2")  # type: ignore[arg-type]
    assert x.decode_bytes(data) == message
    assert b"<duration" not in data


@given(values("v0.6"))
def test_v02_output_uses_only_v02_elements_and_attributes(field: x.Field) -> None:
    message = x.Fields(
        seqnr=1, nodes=(x.Node(node_id="n", timestamps=(x.Timestamp(value=dt.datetime(2020, 1, 1), fields=(field,)),)),)
    )
    element = x.encode(message, "v0.2").find(f"{NS}node/{NS}timestamp")
    assert element is not None
    (out,) = list(element)
    assert out.tag[len(NS) :] in {"numeric", "string", "enum", "boolean", "dateTime", "timeSpan"}
    assert "writable" not in out.attrib and "inProgress" not in out.attrib
    back = x.decode(x.encode(message, "v0.2"))
    assert isinstance(back, x.Fields)
    (decoded,) = back.nodes[0].timestamps[0].fields
    assert decoded.name == field.name and decoded.lexical == field.lexical
    assert decoded.types == field.types and decoded.qos == field.qos & ~x.QoS.inProgress


@given(values("v0.6"))
def test_value_and_lexical_agree_after_decoding(field: x.Field) -> None:
    element = x.encode(
        x.Fields(
            seqnr=1,
            nodes=(x.Node(node_id="n", timestamps=(x.Timestamp(value=dt.datetime(2020, 1, 1), fields=(field,)),)),),
        )
    )
    back = x.decode(element)
    assert isinstance(back, x.Fields)
    assert back.nodes[0].timestamps[0].fields[0].value == field.value


@pytest.mark.parametrize(
    ("field", "tag", "cls"),
    [
        (x.Int(name="c", value=5), "numeric", x.Numeric),
        (x.Long(name="p", value=9_000_000_000), "numeric", x.Numeric),
        (x.Date(name="d", value=dt.date(2012, 1, 1)), "string", x.String),
        (x.Time(name="t", value=dt.time(6, 30)), "string", x.String),
        (x.Duration(name="r", value=x.XsDuration(hours=12345)), "timeSpan", x.Duration),
    ],
)
def test_v02_conversions(field: x.Field, tag: str, cls: type) -> None:
    message = x.Fields(
        seqnr=1, nodes=(x.Node(node_id="n", timestamps=(x.Timestamp(value=dt.datetime(2020, 1, 1), fields=(field,)),)),)
    )
    element = x.encode(message, "v0.2")
    out = element.find(f"{NS}node/{NS}timestamp/{NS}{tag}")
    assert out is not None and out.get("value") == field.lexical
    if tag == "numeric":
        assert out.get("unit") == ""
    decoded = x.decode(element)
    assert isinstance(decoded, x.Fields)
    assert type(decoded.nodes[0].timestamps[0].fields[0]) is cls


def test_timestamp_lexical_defaults_to_the_canonical_form() -> None:
    stamp = x.Timestamp(value=dt.datetime(2020, 1, 1, 0, 0, 0, 500000, dt.UTC))
    assert stamp.lexical == "2020-01-01T00:00:00.5Z"
    written = x.Timestamp(value=stamp.value, lexical="2020-01-01T00:00:00.500Z")
    assert written != stamp and written.value == stamp.value
    with pytest.raises(EncodeError):
        x.Timestamp(value=stamp.value, lexical=5)  # type: ignore[arg-type]


def test_numeric_keeps_its_decimals() -> None:
    ten = [x.Numeric(name="T", value=Decimal(v), unit="°C") for v in ("10", "10.0", "10.00")]
    assert [f.lexical for f in ten] == ["10", "10.0", "10.00"]
    assert len(set(ten)) == 3


def test_lexical_is_kept_exactly() -> None:
    data = (
        b'<fields xmlns="urn:xmpp:iot:sensordata" seqnr="1"><node nodeId="n">'
        b'<timestamp value="2020-01-01T01:00:00.50+01:00">'
        b'<numeric name="a" value="+1.50E2" unit="" /><boolean name="b" value="1" />'
        b'<dateTime name="c" value="2020-01-01T00:00:00.100Z" /></timestamp></node></fields>'
    )
    message = x.decode_bytes(data)
    assert isinstance(message, x.Fields)
    (stamp,) = message.nodes[0].timestamps
    assert (
        stamp.value == dt.datetime(2020, 1, 1, 0, 0, 0, 500000, dt.UTC)
        and stamp.lexical == "2020-01-01T01:00:00.50+01:00"
    )
    a, b, c = stamp.fields
    assert (a.value, a.lexical) == (Decimal("150"), "+1.50E2")
    assert (b.value, b.lexical) == (True, "1")
    assert c.value == dt.datetime(2020, 1, 1, 0, 0, 0, 100000, dt.UTC) and c.lexical.endswith(".100Z")
    assert x.encode_bytes(message) == data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1Y2M3DT4H5M6.5S", x.XsDuration(False, 1, 2, 3, 4, 5, Decimal("6.5"))),
        ("-P1M", x.XsDuration(negative=True, months=1)),
        ("PT12345H", x.XsDuration(hours=12345)),
        ("P0D", x.XsDuration()),
    ],
)
def test_duration_model(text: str, expected: x.XsDuration) -> None:
    assert x.XsDuration.parse(text) == expected


@pytest.mark.parametrize("text", ["P", "PT", "P1DT", "1D", "P1H", "PT1.S", "P-1D", "p1d"])
def test_duration_refuses_non_durations(text: str) -> None:
    with pytest.raises(ValueError, match="xs:duration"):
        x.XsDuration.parse(text)


def test_duration_to_timedelta() -> None:
    assert x.XsDuration(days=1, seconds=Decimal("1.5")).to_timedelta() == dt.timedelta(days=1, seconds=1.5)
    with pytest.raises(ValueError, match="months"):
        x.XsDuration(months=1).to_timedelta()


def test_date_zone_is_kept_in_the_lexical_form() -> None:
    field = x.decode_bytes(
        b'<fields xmlns="urn:xmpp:iot:sensordata" seqnr="1"><node nodeId="n"><timestamp value="2020-01-01T00:00:00">'
        b'<date name="d" value="2012-01-01+02:00" /><date name="e" value="2012-01-01" /></timestamp></node></fields>'
    )
    assert isinstance(field, x.Fields)
    d, e = field.nodes[0].timestamps[0].fields
    assert isinstance(d, x.Date) and isinstance(e, x.Date)
    assert d.value == dt.date(2012, 1, 1) and d.zone == dt.timezone(dt.timedelta(hours=2))
    assert e.zone is None


def test_request_flags_expand() -> None:
    req = x.Req(seqnr=1, historical=True, types=x.FieldType.momentary)
    assert req.requested_types == x.FieldType.momentary | x.HISTORICAL
    assert x.Req(seqnr=1, all_types=True).requested_types == x.ALL_TYPES


@pytest.mark.parametrize(
    "build",
    [
        lambda: x.Int(name="c", value=2**31),
        lambda: x.Long(name="c", value=-(2**63) - 1),
        lambda: x.Int(name="c", value=True),
        lambda: x.Numeric(name="n", value=1.5),  # type: ignore[arg-type]
        lambda: x.Boolean(name="b", value="true"),  # type: ignore[arg-type]
        lambda: x.String(name="s", value="v", string_ids="1,"),
        lambda: x.Req(seqnr=2**31),
        lambda: x.Accepted(seqnr="1"),  # type: ignore[arg-type]
        lambda: x.Timestamp(value="2020-01-01T00:00:00"),  # type: ignore[arg-type]
        lambda: x.Timestamp(value=dt.datetime(2020, 1, 1), fields=("x",)),  # type: ignore[arg-type]
        lambda: x.Node(node_id=1),  # type: ignore[arg-type]
        lambda: x.Req(seqnr=1, when="tomorrow"),  # type: ignore[arg-type]
        lambda: x.Error(node_id="n", timestamp=dt.datetime(2020, 1, 1)),  # type: ignore[arg-type]
        lambda: x.XsDuration(days=-1),
        lambda: x.XsDuration(seconds=Decimal("-1")),
    ],
)
def test_constructors_refuse_bad_values(build: object) -> None:
    with pytest.raises(EncodeError):
        build()  # type: ignore[operator]


def test_encode_refuses_characters_xml_cannot_carry_and_unknown_dialects() -> None:
    with pytest.raises(EncodeError, match="character"):
        x.encode(x.Rejected(seqnr=1, errors=("bad\x00",)))
    with pytest.raises(EncodeError, match="dialect"):
        x.encode(x.Done(seqnr=1), "v0.9")  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="not an XEP-0323 message"):
        x.encode(x.Node(node_id="n"))  # type: ignore[arg-type]


def test_stanza_error_round_trip() -> None:
    error = x.StanzaError(type="cancel", condition="item-not-found", text="no such node")
    assert x.decode_stanza_error(x.encode_stanza_error(error)) == error
    with pytest.raises(DecodeError, match="condition"):
        x.decode_stanza_error(x.encode_stanza_error(error).__class__("error", {"type": "cancel"}))
    with pytest.raises(DecodeError, match="type"):
        x.decode_stanza_error(x.encode_stanza_error(x.StanzaError(type="bogus")))
