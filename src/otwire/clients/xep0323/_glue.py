"""slixmpp stanzas <-> the readout machines' :class:`~otwire.protocols.xep0323.Stanza` (no state, no I/O).

Inbound, the XEP-0323 child of an ``<iq/>`` or ``<message/>`` (namespace
``urn:xmpp:iot:sensordata``) goes through :func:`otwire.codecs.xep0323.decode`; an RFC 6120
``<error/>`` becomes the stanza's ``error``. Outbound, the payload is encoded in the
plugin's dialect and appended to a fresh slixmpp stanza. slixmpp's own ``xep_0323``
stanza classes are never used.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Literal

from slixmpp.stanza import Iq, Message
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.matcher.base import MatcherBase

from otwire.codecs import xep0323 as codec
from otwire.codecs.xep0323 import StanzaError
from otwire.errors import DecodeError
from otwire.protocols.xep0323 import Stanza

__all__ = ["PayloadMatcher", "from_stanza", "payload_element", "to_slixmpp"]

_NS_PREFIX = "{" + codec.NS + "}"


class PayloadMatcher(MatcherBase):
    """Match ``<iq type=get|set>`` (``kind="iq"``) or ``<message>`` stanzas that carry an XEP-0323 child."""

    def match(self, xml: StanzaBase) -> bool:
        element = xml.xml
        if not element.tag.endswith("}" + self._criteria):
            return False
        if self._criteria == "iq" and xml["type"] not in ("get", "set"):
            return False
        return payload_element(element) is not None


def payload_element(element: ET.Element) -> ET.Element | None:
    """Return the first child of ``element`` in the XEP-0323 namespace, or None."""
    for child in element:
        if isinstance(child.tag, str) and child.tag.startswith(_NS_PREFIX):
            return child
    return None


def from_stanza(stanza: StanzaBase) -> Stanza:
    """Convert a received slixmpp stanza into the machines' ``Stanza``.

    Raises:
        DecodeError: the XEP-0323 child is malformed (the element path is in the message).
    """
    element = stanza.xml
    kind: Literal["iq", "message"] = "iq" if element.tag.endswith("}iq") else "message"
    child = payload_element(element)
    payload = codec.decode(child) if child is not None else None
    error = _error_of(element) if stanza["type"] == "error" else None
    return Stanza(
        kind=kind,
        type=stanza["type"] or ("normal" if kind == "message" else ""),
        id=stanza["id"] or None,
        from_jid=str(stanza["from"]),
        to_jid=str(stanza["to"]),
        payload=payload,
        error=error,
    )


def _error_of(element: ET.Element) -> StanzaError:
    error = element.find("{jabber:client}error")
    if error is None:
        error = element.find("error")
    if error is None:
        return StanzaError(type="cancel", condition="undefined-condition", text=None)
    try:
        return codec.decode_stanza_error(error)
    except DecodeError:
        return StanzaError(type="cancel", condition="undefined-condition", text=None)


def to_slixmpp(xmpp: Any, out: Stanza, dialect: codec.Dialect) -> Iq | Message:
    """Build the slixmpp stanza that carries ``out`` (payload encoded in ``dialect``)."""
    stanza: Iq | Message = xmpp.Iq() if out.kind == "iq" else xmpp.Message()
    if out.kind == "iq" or out.type not in ("normal", "", None):
        stanza["type"] = out.type
    if out.id:
        stanza["id"] = out.id
    stanza["to"] = out.to_jid
    if out.from_jid:
        stanza["from"] = out.from_jid
    if out.payload is not None:
        stanza.xml.append(codec.encode(out.payload, dialect=dialect))
    if out.error is not None:
        stanza["error"]["type"] = out.error.type
        stanza["error"]["condition"] = out.error.condition
        if out.error.text:
            stanza["error"]["text"] = out.error.text
    return stanza
