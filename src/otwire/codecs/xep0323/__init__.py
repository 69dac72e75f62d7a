"""XEP-0323 (IoT sensor data) codec: XML elements of both dialects as frozen dataclasses.

No state, clock or I/O. The mapping is declarative (``_schema.py``: one table per
element); the wire format and its errata are in ``specs/xep0323/notes.md``.

>>> from otwire.codecs.xep0323 import Req, FieldType, decode_bytes, encode_bytes
>>> data = encode_bytes(Req(seqnr=1, types=FieldType.momentary))
>>> data
b'<req xmlns="urn:xmpp:iot:sensordata" seqnr="1" momentary="true" />'
>>> decode_bytes(data) == Req(seqnr=1, types=FieldType.momentary)
True
"""

from __future__ import annotations

from otwire.codecs.xep0323.codec import (
    DIALECTS,
    MAX_DEPTH,
    MAX_SIZE,
    STANZAS_NS,
    Dialect,
    StanzaError,
    decode,
    decode_bytes,
    decode_stanza_error,
    encode,
    encode_bytes,
    encode_stanza_error,
    parse_xml,
    payload_element,
)
from otwire.codecs.xep0323.messages import (
    ALL_TYPES,
    HISTORICAL,
    NO_QOS,
    NO_TYPES,
    NS,
    Accepted,
    Boolean,
    Cancel,
    Cancelled,
    Date,
    DateTime,
    Done,
    Duration,
    Enum,
    Error,
    Failure,
    Field,
    FieldRef,
    Fields,
    FieldType,
    Int,
    Long,
    Message,
    Node,
    Numeric,
    QoS,
    Rejected,
    Req,
    Started,
    String,
    Time,
    Timestamp,
)
from otwire.codecs.xep0323.values import XsDuration

__all__ = [
    "ALL_TYPES",
    "DIALECTS",
    "HISTORICAL",
    "MAX_DEPTH",
    "MAX_SIZE",
    "NO_QOS",
    "NO_TYPES",
    "NS",
    "STANZAS_NS",
    "Accepted",
    "Boolean",
    "Cancel",
    "Cancelled",
    "Date",
    "DateTime",
    "Dialect",
    "Done",
    "Duration",
    "Enum",
    "Error",
    "Failure",
    "Field",
    "FieldRef",
    "FieldType",
    "Fields",
    "Int",
    "Long",
    "Message",
    "Node",
    "Numeric",
    "QoS",
    "Rejected",
    "Req",
    "StanzaError",
    "Started",
    "String",
    "Time",
    "Timestamp",
    "XsDuration",
    "decode",
    "decode_bytes",
    "decode_stanza_error",
    "encode",
    "encode_bytes",
    "encode_stanza_error",
    "parse_xml",
    "payload_element",
]
