"""XEP-0323 dissector: unencrypted XMPP client streams (port 5222) -> readout stanzas.

Each direction is one XML stream (RFC 6120 §4): a ``<stream:stream>`` element whose
children are stanzas. The stream is parsed incrementally with expat, hardened as
defusedxml does (no DTD, so no entity declarations or external references); a stanza
larger than :data:`MAX_STANZA` octets or deeper than :data:`MAX_DEPTH` ends the
dissection of that direction with an ``error`` row. Stream restarts (after SASL or
STARTTLS, with or without an XML declaration) start a fresh parser. After
``<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`` the rest is TLS: reported once as
``junk``.

One row per stanza that carries an XEP-0323 element (``req``, ``accepted``, ``fields`` ...)
and per IQ of type ``error`` (v0.3+ rejections carry no XEP-0323 element); other stanzas
(presence, roster, disco, SASL) are skipped. Keys in :data:`JSON_KEYS`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, NoReturn
from xml.etree import ElementTree as ET
from xml.parsers import expat

from otwire.codecs.xep0323 import Failure, Fields, FieldType, Rejected, Req, payload_element
from otwire.errors import DecodeError
from otwire.inspect.model import Column, Finding, FindingKind, PerSender, ProtocolView
from otwire.protocols.xep0323 import Stanza, stanza_from_xml

__all__ = ["JSON_KEYS", "MAX_DEPTH", "MAX_STANZA", "VIEW", "XEP0323Dissector", "XMPPStreamDissector"]

#: Largest stanza dissected, octets (Prosody's default c2s stanza limit is 256 KiB).
MAX_STANZA = 1 << 20
#: Deepest element nesting inside a stream.
MAX_DEPTH = 32
_STREAMS = "http://etherx.jabber.org/streams"
_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
_SEP = "}"
_TAIL = 4096
_STREAM_TAG = _STREAMS + _SEP + "stream"
_PROCEED_TAG = _TLS + _SEP + "proceed"
_PROCEED = "{" + _TLS + "}proceed"
_KEPT_LOCALS = ("iq", "message")
_KEPT_ENDINGS = ("iq", "message", "proceed")
_NAMES: dict[str, str] = {}  # expat name -> ElementTree name, for the names seen last (bounded)
_NAMES_KEPT = 512


class _Forbidden(Exception):
    pass


class _Stop(Exception):
    pass


def _forbid(*_: object) -> NoReturn:
    raise _Forbidden


class XMPPStreamDissector:
    """Dissect one direction of one XMPP stream; sans-IO, memory bounded by :data:`MAX_STANZA`."""

    def __init__(self) -> None:
        self._buffer = bytearray()  # octets from _base on (the current stanza, or the unparsed tail)
        self._base = 0  # stream offset of _buffer[0]
        self._fed = 0  # stream offset up to which the current parser has been fed
        self._parser_start = 0
        self._stopped = False
        self._found: list[Finding] = []
        self._new_parser(0)

    def _new_parser(self, offset: int) -> None:
        parser = expat.ParserCreate(namespace_separator=_SEP)
        parser.StartDoctypeDeclHandler = _forbid
        parser.EntityDeclHandler = _forbid
        parser.UnparsedEntityDeclHandler = _forbid
        parser.ExternalEntityRefHandler = _forbid
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.buffer_text = True
        self._parser = parser
        self._parser_start = offset
        self._fed = offset
        self._streams: list[int] = []  # depths of open <stream:stream> elements
        self._depth = 0
        self._builder: ET.TreeBuilder | None = None
        self._stanza_at = -1  # stream offset of the open stanza (kept or not), -1 between stanzas

    def feed(self, data: bytes) -> Iterator[Finding]:
        """Consume stream octets and yield the stanzas they completed."""
        if self._stopped:
            return iter(())
        self._buffer += data
        self._parse(bytes(data))
        return self._drain()

    def close(self) -> Iterator[Finding]:
        """End of stream: an unfinished stanza is reported as junk."""
        if not self._stopped and self._stanza_at >= 0:
            raw = bytes(self._buffer[self._stanza_at - self._base :])
            self._found.append(Finding("junk", self._stanza_at, raw, error="stream ended inside a stanza"))
        self._stopped = True
        return self._drain()

    def _drain(self) -> Iterator[Finding]:
        found, self._found = self._found, []
        return iter(found)

    def _parse(self, data: bytes) -> None:
        while data and not self._stopped:
            try:
                self._parser.Parse(data, False)
                self._fed += len(data)
                data = b""
            except _Stop:
                return
            except (_Forbidden, expat.ExpatError) as exc:
                data = self._recover(exc)
        self._trim()

    def _recover(self, exc: Exception) -> bytes:
        """Restart at a new stream header after a parse error there, else stop this direction."""
        where = max(self._parser_start + self._parser.CurrentByteIndex, self._base)
        rest = bytes(self._buffer[where - self._base :])
        header = rest.lstrip()
        if not isinstance(exc, _Forbidden) and header.startswith((b"<?xml", b"<stream:stream")):
            self._new_parser(where + len(rest) - len(header))
            return header
        reason = "forbidden XML construct (DTD or entity)" if isinstance(exc, _Forbidden) else f"malformed XML: {exc}"
        self._stop(where, reason)
        return b""

    def _stop(self, offset: int, reason: str, kind: FindingKind = "error") -> None:
        raw = bytes(self._buffer[max(0, offset - self._base) :][:256])
        self._found.append(Finding(kind, offset, raw, error=reason))
        self._stopped = True
        self._buffer.clear()

    def _trim(self) -> None:
        keep_from = self._stanza_at if self._stanza_at >= 0 else self._parser_start + self._parser.CurrentByteIndex
        keep_from = max(keep_from, self._base)
        if self._stanza_at < 0:  # keep a tail: an unfinished token may be restarted from
            keep_from = max(self._base, min(keep_from, self._fed - _TAIL))
        del self._buffer[: keep_from - self._base]
        self._base = keep_from
        if self._stanza_at >= 0 and len(self._buffer) > MAX_STANZA:
            self._stop(self._stanza_at, f"stanza larger than {MAX_STANZA} octets")

    # -- expat handlers --------------------------------------------------------------------------

    def _offset(self) -> int:
        return self._parser_start + self._parser.CurrentByteIndex

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        depth = self._depth = self._depth + 1
        if depth > MAX_DEPTH:
            self._stop(self._offset(), f"XML nested deeper than {MAX_DEPTH} elements")
            raise _Stop
        if tag == _STREAM_TAG:
            self._streams.append(depth)  # a stream (re)start: its children are stanzas
            return
        if self._stanza_at < 0 and self._streams and depth == self._streams[-1] + 1:
            self._stanza_at = self._offset()
            if self._kept(tag):
                self._builder = ET.TreeBuilder()
        if self._builder is not None:
            self._builder.start(_NAMES.get(tag) or _name(tag), attrs)

    @staticmethod
    def _kept(tag: str) -> bool:
        """True for the stanzas that may give a row: ``iq``, ``message``, and STARTTLS ``proceed``.

        Every other stanza (presence, SASL, stream features) is only tracked for its offset
        and end; no tree is built for it. Overriding this with ``True`` gives the general
        path (a tree per stanza) that ``tests/inspect/test_xep0323_fastpath.py`` compares with.
        """
        return tag.endswith(_KEPT_ENDINGS) and (tag.rpartition(_SEP)[2] in _KEPT_LOCALS or tag == _PROCEED_TAG)

    def _text(self, text: str) -> None:
        if self._builder is not None:
            self._builder.data(text)

    def _end(self, tag: str) -> None:
        depth, self._depth = self._depth, self._depth - 1
        if self._streams and depth == self._streams[-1]:
            self._streams.pop()
            return
        if self._stanza_at < 0:
            return
        builder = self._builder
        if builder is None:  # inside a stanza that is not kept
            if self._streams and depth == self._streams[-1] + 1:
                self._stanza_at = -1
            return
        builder.end(_NAMES.get(tag) or _name(tag))
        if self._streams and depth == self._streams[-1] + 1:
            element = builder.close()
            start, self._builder, self._stanza_at = self._stanza_at, None, -1
            end = _tag_end(self._buffer, self._offset() - self._base)
            raw = bytes(self._buffer[start - self._base : end])
            self._stanza(element, start, raw)

    def _stanza(self, element: ET.Element, offset: int, raw: bytes) -> None:
        if element.tag == _PROCEED:
            self._stop(offset + len(raw), "TLS from here on (STARTTLS): not dissected", "junk")
            raise _Stop
        try:
            stanza = _to_stanza(element)
        except DecodeError as exc:
            self._found.append(Finding("error", offset, raw, error=str(exc)))
            return
        if stanza is not None:
            self._found.append(Finding("apdu", offset, raw, message=stanza))


def _name(tag: str) -> str:
    """The ElementTree name (``{namespace}local``) of an expat name, remembered in :data:`_NAMES`."""
    name = _qualified(tag)
    if len(_NAMES) >= _NAMES_KEPT:
        _NAMES.clear()
    _NAMES[tag] = name
    return name


def _qualified(tag: str) -> str:
    namespace, sep, local = tag.rpartition(_SEP)
    return f"{{{namespace}}}{local}" if sep else tag


def _tag_end(buffer: bytearray, index: int) -> int:
    """Index just after the ``>`` of the tag starting at ``index`` (quotes in attributes skipped)."""
    if index >= 0 and buffer[index : index + 2] == b"</":  # an end tag (``</name>``, expat-checked): no quote
        end = buffer.find(b">", index)
        return end + 1 if end >= 0 else len(buffer)
    return _tag_end_scan(buffer, index)


def _tag_end_scan(buffer: bytearray, index: int) -> int:
    """:func:`_tag_end` octet by octet (any tag: an empty element's attributes may hold ``>``)."""
    quote = 0
    for i in range(max(index, 0), len(buffer)):
        byte = buffer[i]
        if quote:
            quote = 0 if byte == quote else quote
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x3E:
            return i + 1
    return len(buffer)


def _to_stanza(element: ET.Element) -> Stanza | None:
    """The :class:`Stanza` of an ``iq``/``message`` with an XEP-0323 element or an IQ error; else ``None``.

    Raises:
        DecodeError: the XEP-0323 element or the stanza error is malformed.
    """
    local = str(element.tag).rpartition("}")[2]
    if local not in ("iq", "message"):
        return None
    if payload_element(element) is None and not (local == "iq" and element.get("type") == "error"):
        return None
    return stanza_from_xml(element)


class XEP0323Dissector(PerSender):
    """Dissect both directions of an XMPP client connection, each on its own."""

    stream = XMPPStreamDissector


# -- the view ----------------------------------------------------------------------------------------


def _element(stanza: Stanza) -> str:
    payload = stanza.payload
    if payload is not None:
        cls = type(payload)
        name = _ELEMENTS.get(cls)
        if name is None:
            name = cls.__name__
            name = _ELEMENTS[cls] = name[0].lower() + name[1:]
        return name
    return "error"


_ELEMENTS: dict[type, str] = {}  # message class -> element name (a dozen classes)


@functools.lru_cache(maxsize=1024)
def _type_names(types: FieldType) -> str:
    """``momentary|status``: the names of the members of a field-type set (few sets recur)."""
    return "|".join(str(m.name) for m in types)


def _summary(stanza: Stanza) -> str:
    payload = stanza.payload
    parts: list[str] = []
    if isinstance(payload, Req):
        parts += [f"nodes={','.join(n.node_id for n in payload.nodes)}"] if payload.nodes else []
        parts += [f"fields={','.join(f.name for f in payload.fields)}"] if payload.fields else []
        types = payload.requested_types if payload.all_types or payload.historical else payload.types
        parts += [f"types={_type_names(types)}"] if types else []
        parts += [f"when={payload.when.isoformat()}"] if payload.when else []
    elif isinstance(payload, Fields):
        values = [f"{f.name}={f.lexical}" for n in payload.nodes for t in n.timestamps for f in t.fields]
        parts += [f"nodes={','.join(n.node_id for n in payload.nodes)}", *values[:6]]
        parts += [f"(+{len(values) - 6} fields)"] if len(values) > 6 else []
    elif isinstance(payload, Failure):
        parts += [f"{e.node_id}: {e.message}" for e in payload.errors]
    elif isinstance(payload, Rejected):
        parts += [repr(text) for text in payload.errors]
    if stanza.error is not None:
        parts.append(
            f"{stanza.error.type}/{stanza.error.condition}" + (f" {stanza.error.text!r}" if stanza.error.text else "")
        )
    if getattr(payload, "done", False):
        parts.append("done")
    if getattr(payload, "queued", False):
        parts.append("queued")
    text = " ".join(parts)
    return text if len(text) <= 200 else text[:197] + "..."


def stanza_json(stanza: Stanza) -> dict[str, Any]:
    """Return the JSON view of a readout stanza (keys in :data:`JSON_KEYS`)."""
    payload = stanza.payload
    out: dict[str, Any] = {
        "stanza": stanza.kind,
        "type": stanza.type,
        "id": stanza.id,
        "from": stanza.from_jid,
        "to": stanza.to_jid,
        "element": _element(stanza),
        "seqnr": getattr(payload, "seqnr", None),
    }
    nodes = getattr(payload, "nodes", ())
    out["nodes"] = [n.node_id for n in nodes]
    out["fields"] = [
        {
            "node": n.node_id,
            "timestamp": t.value.isoformat(),
            "name": f.name,
            "type": type(f).__name__.lower(),
            "value": f.lexical,
        }
        for n in nodes
        for t in n.timestamps
        for f in t.fields
    ]
    out["done"] = getattr(payload, "done", None)
    out["error"] = None if stanza.error is None else {"type": stanza.error.type, "condition": stanza.error.condition,
                                                      "text": stanza.error.text}  # fmt: skip
    out["summary"] = _summary(stanza)
    return out


#: The table columns of XEP-0323 rows (after time, stream and direction).
COLUMNS = (Column("stanza", 13), Column("element", 9), Column("seqnr", 11, ">"), Column("summary"))


def stanza_cells(stanza: Stanza) -> tuple[str, ...]:
    """Return the table cells of a stanza, one per column of :data:`COLUMNS`."""
    seqnr = getattr(stanza.payload, "seqnr", None)
    return (f"{stanza.kind}/{stanza.type}", _element(stanza), "" if seqnr is None else str(seqnr), _summary(stanza))


def stanza_format(stanza: Stanza) -> str:
    """Return ``"IQ"`` or ``"MSG"``."""
    return "IQ" if stanza.kind == "iq" else "MSG"


def stanza_type_name(stanza: Stanza) -> str:
    """Return the XEP-0323 element name (``req``, ``fields`` ...) or ``error``."""
    return _element(stanza)


JSON_KEYS = """\
XEP-0323 records (protocol "xmpp") have the common keys of every record (see
otwire.inspect.iec104.JSON_KEYS). kind "apdu" (one stanza with an XEP-0323 element, or an
IQ error) adds: stanza ("iq" or "message"), type, id, from, to, element (req, accepted,
rejected, started, fields, failure, done, cancel, cancelled, or "error"), seqnr (int or
null), nodes (node ids), fields (list of {node, timestamp, name, type, value}; value is
the exact wire text), done (bool or null), error (RFC 6120 {type, condition, text} or
null), summary (the table's text).
"""

#: How XEP-0323 stanzas are shown (named by :mod:`otwire.registry`).
VIEW = ProtocolView(stanza_json, COLUMNS, stanza_cells, stanza_format, stanza_type_name)
