"""The stanza envelope the XEP-0323 engines take and give: :class:`Stanza`, and JID helpers.

The carrier (slixmpp, a test, the fuzz harness) owns XML framing and the stanza
attributes; the engines see a small frozen :class:`Stanza` whose ``payload`` is a decoded
XEP-0323 message (``otwire.codecs.xep0323``) or ``None``, and whose ``error`` is the RFC
6120 ``<error/>`` of an ``iq``/``message`` of type ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

from otwire.codecs._base import fast_constructor
from otwire.codecs.xep0323 import (
    Dialect,
    Message,
    StanzaError,
    decode,
    decode_stanza_error,
    encode,
    encode_stanza_error,
    payload_element,
)
from otwire.errors import DecodeError

__all__ = ["CLIENT_NS", "Stanza", "bare_jid", "jid_matches", "normal_jid", "stanza_from_xml", "stanza_to_xml"]

#: The namespace of stanzas on a client connection (RFC 6120 §4.8.3).
CLIENT_NS = "jabber:client"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stanza:
    """One XMPP stanza as the engines see it.

    Attributes:
        kind: ``"iq"`` or ``"message"``.
        type: The stanza ``type``: ``get``/``set``/``result``/``error`` for an IQ;
            ``normal``/``chat``/``error``/... for a message.
        id: The stanza ``id`` (IQ ids are independent of seqnr; messages may have ``None``).
        from_jid: The sender (stamped by the server for stanzas from the network).
        to_jid: The addressee.
        payload: The decoded XEP-0323 element, or ``None`` (empty IQ result, plain error).
        error: The RFC 6120 error of a stanza of type ``error``, or ``None``. A v0.2
            rejection carries ``payload=Rejected(...)``, a hybrid one both.
    """

    kind: Literal["iq", "message"]
    type: str
    id: str | None = None
    from_jid: str = ""
    to_jid: str = ""
    payload: Message | None = None
    error: StanzaError | None = None


#: ``Stanza`` built from its fields in declaration order, without the frozen ``__setattr__``
#: detour of ``__init__`` (``Stanza`` has no validation to skip); used by :func:`stanza_from_xml`.
_make_stanza = fast_constructor(Stanza)


def bare_jid(jid: str) -> str:
    """Return ``local@domain`` of ``local@domain/resource`` (the JID itself when it has no resource)."""
    return jid.partition("/")[0]


def normal_jid(jid: str) -> str:
    """Return ``jid`` with the bare part lower-cased (RFC 7622: local part and domain are case-insensitive)."""
    bare, slash, resource = jid.partition("/")
    return bare.lower() + slash + resource


def jid_matches(sender: str, peer: str) -> bool:
    """True when ``sender`` may speak for ``peer``: the same full JID, or any resource of a bare ``peer``.

    A readout requested from ``device@example.org`` accepts answers from
    ``device@example.org/anything``; one requested from ``device@example.org/a`` only from
    that full JID (research §5.2).
    """
    sender, peer = normal_jid(sender), normal_jid(peer)
    return sender == peer or ("/" not in peer and bare_jid(sender) == peer)


def stanza_from_xml(element: ET.Element) -> Stanza:
    """Read an ``iq`` or ``message`` element (any stanza namespace) into a :class:`Stanza`.

    The payload is its first child in the XEP-0323 namespace (decoded), the error its
    ``error`` child (RFC 6120). A message without ``type`` is ``normal``.

    Raises:
        DecodeError: not an ``iq``/``message``, or a malformed XEP-0323 element or error.
    """
    local = str(element.tag).rpartition("}")[2]
    if local not in ("iq", "message"):
        raise DecodeError(f"not an iq or message stanza: {local[:40]!r}", path="/")
    child = payload_element(element)
    error = None
    for candidate in element:
        if candidate is not child and str(candidate.tag).rpartition("}")[2] == "error":
            error = candidate
            break
    get = element.get
    if local == "iq":
        kind: Literal["iq", "message"] = "iq"
        type_ = get("type", "")
    else:
        kind, type_ = "message", get("type", "normal")
    return _make_stanza(
        kind,
        type_,
        get("id"),
        get("from", ""),
        get("to", ""),
        decode(child) if child is not None else None,
        decode_stanza_error(error) if error is not None else None,
    )


def stanza_to_xml(stanza: Stanza, dialect: Dialect = "v0.6", namespace: str = CLIENT_NS) -> ET.Element:
    """Write a :class:`Stanza` as an ``iq``/``message`` element with its payload and error children.

    Empty ``id``/``from``/``to`` are left out (the server stamps ``from``); a ``normal``
    message has no ``type``.

    Raises:
        EncodeError: the payload cannot be encoded in ``dialect``.
    """
    element = ET.Element(f"{{{namespace}}}{stanza.kind}")
    if not (stanza.kind == "message" and stanza.type == "normal"):
        element.set("type", stanza.type)
    for name, value in (("id", stanza.id), ("from", stanza.from_jid), ("to", stanza.to_jid)):
        if value:
            element.set(name, value)
    if stanza.payload is not None:
        element.append(encode(stanza.payload, dialect))
    if stanza.error is not None:
        element.append(encode_stanza_error(stanza.error, namespace))
    return element
