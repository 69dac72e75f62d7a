"""The stanza envelope the XEP-0323 engines take and give: :class:`Stanza`, and JID helpers.

The carrier (slixmpp, a test, the fuzz harness) owns XML framing and the stanza
attributes; the engines see a small frozen :class:`Stanza` whose ``payload`` is a decoded
XEP-0323 message (``otwire.codecs.xep0323``) or ``None``, and whose ``error`` is the RFC
6120 ``<error/>`` of an ``iq``/``message`` of type ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from otwire.codecs.xep0323 import Message, StanzaError

__all__ = ["Stanza", "bare_jid", "jid_matches", "normal_jid"]


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
