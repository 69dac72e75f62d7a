"""slixmpp stanzas <-> the readout machines' :class:`~otwire.protocols.xep0323.Stanza` (no state, no I/O).

The conversion itself is the protocol package's (``stanza_from_xml``/``stanza_to_xml``: the
XEP-0323 child through the codec, an RFC 6120 ``<error/>`` as the stanza's ``error``); this
module only wraps slixmpp's stanza objects around it and matches the stanzas to take.
slixmpp's own ``xep_0323`` stanza classes are never used.
"""

from __future__ import annotations

from typing import Any

from slixmpp.stanza import Iq, Message
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.matcher.base import MatcherBase

from otwire.codecs import xep0323 as codec
from otwire.protocols.xep0323 import Stanza
from otwire.protocols.xep0323.stanza import stanza_from_xml, stanza_to_xml

__all__ = ["PayloadMatcher", "from_stanza", "to_slixmpp"]


class PayloadMatcher(MatcherBase):
    """Match ``<iq type=get|set>`` (``kind="iq"``) or ``<message>`` stanzas that carry an XEP-0323 child."""

    def match(self, xml: StanzaBase) -> bool:
        element = xml.xml
        if not element.tag.endswith("}" + self._criteria):
            return False
        if self._criteria == "iq" and xml["type"] not in ("get", "set"):
            return False
        return codec.payload_element(element) is not None


def from_stanza(stanza: StanzaBase) -> Stanza:
    """Convert a received slixmpp stanza into the machines' ``Stanza`` (``stanza_from_xml`` of its element).

    Raises:
        DecodeError: the XEP-0323 child or the RFC 6120 error is malformed (the element path is in the message).
    """
    return stanza_from_xml(stanza.xml)


def to_slixmpp(xmpp: Any, out: Stanza, dialect: codec.Dialect) -> Iq | Message:
    """Build the slixmpp stanza that carries ``out`` (``stanza_to_xml``, payload encoded in ``dialect``).

    Raises:
        EncodeError: the payload cannot be encoded in ``dialect``.
    """
    element = stanza_to_xml(out, dialect)
    stanza: Iq | Message = xmpp.Iq(xml=element) if out.kind == "iq" else xmpp.Message(xml=element)
    return stanza
