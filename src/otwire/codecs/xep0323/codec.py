"""Decode and encode XEP-0323 elements, from trees or untrusted octets (``specs/xep0323/notes.md`` §2-§5).

* :func:`decode` reads an :class:`xml.etree.ElementTree.Element` in the
  ``urn:xmpp:iot:sensordata`` namespace (either dialect: v0.2 ``timeSpan`` and
  ``rejected``, v0.3+ ``duration``, ``int``, ``long``, ``date``, ``time``, ``writable``,
  ``inProgress``; the v0.6 example typo ``identification`` is read as ``identity``).
* :func:`decode_bytes` parses octets first, through defusedxml, with bounds: no DTD, no
  entity declaration, no external reference, at most ``max_size`` octets and ``max_depth``
  nested elements. The octets may hold the payload element itself or an ``iq``/``message``
  around it.
* :func:`encode`/:func:`encode_bytes` write v0.6 by default, or ``dialect="v0.2"`` for
  slixmpp peers: ``timeSpan`` for ``duration``, ``int``/``long`` as ``numeric`` with an empty
  unit, ``date``/``time`` as ``string``, no ``writable`` and no ``inProgress``.
* :class:`StanzaError` is the RFC 6120 ``<error/>`` of an IQ or message (a v0.3+
  rejection); :func:`decode_stanza_error`/:func:`encode_stanza_error` map it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

from otwire.codecs.xep0323 import _compiled, _schema
from otwire.codecs.xep0323.messages import NS, Message
from otwire.errors import DecodeError, EncodeError

__all__ = [
    "DIALECTS",
    "MAX_DEPTH",
    "MAX_SIZE",
    "STANZAS_NS",
    "Dialect",
    "StanzaError",
    "decode",
    "decode_bytes",
    "decode_stanza_error",
    "encode",
    "encode_bytes",
    "encode_stanza_error",
    "parse_xml",
    "payload_element",
]

Dialect = Literal["v0.6", "v0.2"]
#: The dialects :func:`encode` writes.
DIALECTS: tuple[str, ...] = ("v0.6", "v0.2")
#: Default bound on the octets :func:`decode_bytes` accepts (1 MiB; XMPP servers cap stanzas lower).
MAX_SIZE = 1 << 20
#: Default bound on element nesting in :func:`decode_bytes` (a ``fields`` stanza needs 5).
MAX_DEPTH = 32
#: RFC 6120 §8.3 namespace of stanza error conditions and text.
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"

_PREFIX = "{" + NS + "}"
_UTF8_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["'](?:utf-8|us-ascii)["']""", re.IGNORECASE)
_STANZAS = "{" + STANZAS_NS + "}"
_ATTR_ENTITIES = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_TEXT_ENTITIES = {"\r": "&#13;"}
_ERROR_TYPES = ("auth", "cancel", "continue", "modify", "wait")


def decode(element: ET.Element) -> Message:
    """Decode one XEP-0323 element into its dataclass.

    Args:
        element: ``{urn:xmpp:iot:sensordata}req``, ``accepted``, ``rejected``, ``started``,
            ``done``, ``cancel``, ``cancelled``, ``fields`` or ``failure``.

    Returns:
        The message (:data:`~otwire.codecs.xep0323.messages.Message`).

    Raises:
        DecodeError: another element, a missing or malformed attribute, an unknown child in
            the namespace; ``path`` names the element and attribute (``/fields/node[0]@nodeId``).
    """
    tag = element.tag
    local = tag[len(_PREFIX) :] if isinstance(tag, str) and tag.startswith(_PREFIX) else None
    spec = _schema.SPECS.get(local) if local else None
    if spec is None:
        raise DecodeError(f"not an XEP-0323 message element: {str(tag)[:80]!r}", path="/")
    try:
        return _DECODERS[spec.tag](element)  # type: ignore[no-any-return]
    except Exception:  # refused by the fast path: the walker below says why
        pass
    try:
        message: Message = _schema.decode_element(element, spec, f"/{local}")
    except _schema.BadElement as exc:
        raise DecodeError(exc.reason, path=exc.path) from None
    return message


class _Decoders(dict[str, _compiled.Decoder]):
    """The compiled decoder of each top-level element, by local name, compiled on first use."""

    def __missing__(self, local: str) -> _compiled.Decoder:
        decoder = self[local] = _compiled.compile_decoder(_schema.SPECS[local], _COMPILED)
        return decoder


_COMPILED: dict[int, _compiled.Decoder] = {}
#: The compiled decoder of every top-level element (``_compiled.py``), by local name; each is
#: compiled when first asked for (``fields`` takes about 4 ms), so a run pays only for the
#: elements it meets.
_DECODERS = _Decoders()


class _DepthLimit(Exception):
    pass


class _BoundedBuilder(ET.TreeBuilder):
    """A tree builder that refuses nesting deeper than ``max_depth``."""

    def __init__(self, max_depth: int) -> None:
        super().__init__()
        self._depth = 0
        self._max_depth = max_depth

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self._depth += 1
        if self._depth > self._max_depth:
            raise _DepthLimit
        return super().start(tag, attrs)

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        return super().end(tag)


def parse_xml(
    data: bytes | bytearray | memoryview, *, max_size: int = MAX_SIZE, max_depth: int = MAX_DEPTH
) -> ET.Element:
    """Parse untrusted XML octets into a tree, safely and within bounds.

    Raises:
        DecodeError: more than ``max_size`` octets, deeper than ``max_depth``, a DTD, an
            entity or external reference, or malformed XML (``offset`` is the failing octet).
    """
    size = memoryview(data).nbytes
    if size > max_size:
        head = bytes(memoryview(data)[:64])
        raise DecodeError(f"XML of {size} octets exceeds the limit of {max_size}", data=head, offset=len(head))
    data = bytes(data)
    if _plain(data):
        return _parse_plain(data, max_depth)
    # defusedxml is imported here, on the first input that may hold a DTD (its import costs
    # about 2 ms that ``otwire inspect``, which never comes here, need not pay).
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser

    parser = DefusedXMLParser(target=_BoundedBuilder(max_depth), forbid_dtd=True)
    try:
        parser.feed(data)
        root: ET.Element = parser.close()
    except _DepthLimit:
        raise DecodeError(f"XML nested deeper than {max_depth} elements", data=data[:64]) from None
    except DefusedXmlException as exc:
        raise DecodeError(f"forbidden XML construct: {type(exc).__name__}", data=data[:64]) from None
    except ET.ParseError as exc:
        raise DecodeError(f"malformed XML: {exc}", data=data, offset=_offset(data, exc.position)) from None
    return root


def _plain(data: bytes) -> bool:
    """True when ``data`` cannot hold a DTD, so expat's C parser is as safe as defusedxml's.

    No ``<!`` (DOCTYPE, and with it every entity declaration and external reference; also
    comments and CDATA, which take the defusedxml path), no NUL (UTF-16/32, where ``<!``
    would not show as these octets), and no declared encoding other than UTF-8/ASCII.
    """
    if b"<!" in data or b"\0" in data:
        return False
    head = data[:256]
    return b"encoding" not in head or _UTF8_DECLARATION.search(head) is not None


def _parse_plain(data: bytes, max_depth: int) -> ET.Element:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DecodeError(f"malformed XML: {exc}", data=data, offset=_offset(data, exc.position)) from None
    level, depth = [root], 1
    while level:  # the depth check the defusedxml path does while parsing, level by level
        if depth > max_depth:
            raise DecodeError(f"XML nested deeper than {max_depth} elements", data=data[:64])
        level = [child for element in level for child in element]
        depth += 1
    return root


def _offset(data: bytes, position: tuple[int, int]) -> int:
    line, column = position
    start = 0
    for _ in range(line - 1):
        start = data.find(b"\n", start) + 1
    return min(start + column, len(data))


def decode_bytes(
    data: bytes | bytearray | memoryview, *, max_size: int = MAX_SIZE, max_depth: int = MAX_DEPTH
) -> Message:
    """Decode untrusted XML octets holding one XEP-0323 element, or an ``iq``/``message`` around it.

    Args:
        data: UTF-8 XML (an XML declaration is allowed; a DTD is not).
        max_size: Largest input accepted, octets.
        max_depth: Deepest element nesting accepted.

    Returns:
        The first XEP-0323 element, decoded (as :func:`decode`).

    Raises:
        DecodeError: see :func:`parse_xml` and :func:`decode`; also a stanza without an
            XEP-0323 child.
    """
    root = parse_xml(data, max_size=max_size, max_depth=max_depth)
    element = payload_element(root)
    if element is None:
        raise DecodeError(f"no XEP-0323 element in {str(root.tag)[:80]!r}", data=bytes(data[:64]), path="/")
    try:
        return decode(element)
    except DecodeError as exc:
        raise DecodeError(exc.reason, data=bytes(data[:64]), path=exc.path) from None


def payload_element(root: ET.Element) -> ET.Element | None:
    """Return ``root`` when it is in the XEP-0323 namespace, else its first child that is, or ``None``."""
    if isinstance(root.tag, str) and root.tag.startswith(_PREFIX):
        return root
    for child in root:
        if isinstance(child.tag, str) and child.tag.startswith(_PREFIX):
            return child
    return None


def encode(message: Message, dialect: Dialect = "v0.6") -> ET.Element:
    """Encode a message as an element in the ``urn:xmpp:iot:sensordata`` namespace.

    Args:
        message: Any of the message dataclasses.
        dialect: ``"v0.6"`` (default) or ``"v0.2"`` (slixmpp peers; notes §5).

    Raises:
        EncodeError: not a message dataclass, or an unknown dialect.
    """
    if dialect not in DIALECTS:
        raise EncodeError(f"unknown dialect {dialect!r}: use one of {DIALECTS}")
    spec = _schema.SPEC_BY_CLASS.get(type(message))
    if spec is None or spec.tag not in _schema.SPECS:
        raise EncodeError(f"not an XEP-0323 message: {type(message).__name__}")
    return _schema.encode_element(message, spec, dialect)


def encode_bytes(message: Message, dialect: Dialect = "v0.6") -> bytes:
    """Encode a message as UTF-8 XML (``<fields xmlns="urn:xmpp:iot:sensordata" ...>``).

    Raises:
        EncodeError: as :func:`encode`.
    """
    out: list[str] = []
    _serialise(encode(message, dialect), out, f' xmlns="{NS}"')
    return "".join(out).encode("utf-8")


def _escape(text: str, entities: dict[str, str]) -> str:
    """Escape ``&``, ``<``, ``>`` and then ``entities`` (as :func:`xml.sax.saxutils.escape` does).

    Written here: importing :mod:`xml.sax.saxutils` imports :mod:`urllib.request` too
    (about 10 ms of every ``otwire inspect`` run that meets XMPP).
    """
    text = text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    for char, entity in entities.items():
        text = text.replace(char, entity)
    return text


def _quoteattr(text: str, entities: dict[str, str]) -> str:
    """An escaped, quoted attribute value (as :func:`xml.sax.saxutils.quoteattr` writes it).

    Newlines, carriage returns and tabs become character references whatever
    ``entities`` says; double quotes around it, or single quotes when it has double quotes
    and no single quote, else double quotes with ``&quot;`` inside.
    """
    text = _escape(text, {**entities, "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace('"', "&quot;") + '"'


def _serialise(element: ET.Element, out: list[str], xmlns: str = "") -> None:
    tag = str(element.tag).rpartition("}")[2]
    attrs = "".join(f" {k}={_quoteattr(v, _ATTR_ENTITIES)}" for k, v in element.attrib.items())
    out.append(f"<{tag}{xmlns}{attrs}")
    if not len(element) and not element.text:
        out.append(" />")
        return
    out.append(">")
    if element.text:
        out.append(_escape(element.text, _TEXT_ENTITIES))
    for child in element:
        _serialise(child, out)
    out.append(f"</{tag}>")


@dataclass(frozen=True, slots=True, kw_only=True)
class StanzaError:
    """An RFC 6120 §8.3 stanza error: ``type``, the defined ``condition`` and an optional ``text``.

    A v0.3+ device rejects a read-out with one (``cancel``/``forbidden``,
    ``cancel``/``item-not-found``, ``modify``/``bad-request``; XEP-0323 §3.4).
    """

    type: str = "cancel"
    condition: str = "undefined-condition"
    text: str | None = None


def decode_stanza_error(element: ET.Element) -> StanzaError:
    """Decode an ``<error type=...>`` element of any stanza namespace.

    Raises:
        DecodeError: a type outside RFC 6120 or no condition element.
    """
    kind = element.get("type", "")
    if kind not in _ERROR_TYPES:
        raise DecodeError(f"stanza error type {kind[:40]!r} is not one of {_ERROR_TYPES}", path="/error@type")
    condition, text = None, None
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or not tag.startswith(_STANZAS):
            continue
        local = tag[len(_STANZAS) :]
        if local == "text":
            text = child.text or ""
        elif condition is None:
            condition = local
    if condition is None:
        raise DecodeError("stanza error without a condition", path="/error")
    return StanzaError(type=kind, condition=condition, text=text)


def encode_stanza_error(error: StanzaError, namespace: str = "jabber:client") -> ET.Element:
    """Encode an RFC 6120 ``<error/>`` (the element in ``namespace``, its children in the stanzas namespace)."""
    element = ET.Element(f"{{{namespace}}}error" if namespace else "error", {"type": error.type})
    ET.SubElement(element, _STANZAS + error.condition)
    if error.text is not None:
        ET.SubElement(element, _STANZAS + "text").text = error.text
    return element
