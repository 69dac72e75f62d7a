"""Detail trees (``otwire inspect -V``, :func:`explain`) and hex dumps (``-x``).

A :class:`DetailTree` is one node per field: a label (``type_id: 13 M_ME_NC_1``), and for a
field that owns whole octets, their offset in the frame and the octets themselves. An IEC
104 APDU gives the APCI (start, length, control field and its sequence numbers), the ASDU
header (type, variable structure qualifier, cause of transmission with its T and P/N bits,
originator and common address) and every information object with its IOA and elements,
each element with the values of its fields. An IMB3 frame gives its header, its payload
and each field of the command (or of the event and its body) with its octets.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, Final

from otwire.codecs.iec104 import IFrame, SFrame, UFrame, decode_apdu
from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.asdu import ASDU
from otwire.errors import DecodeError, InvalidArgument, InvalidArgumentType
from otwire.inspect._detail_tree import DetailTree, _node
from otwire.inspect.dissect import Row, view
from otwire.inspect.iec104 import element_json, element_text

__all__ = ["EXPLAINED", "DetailTree", "explain", "hex_dump", "row_extras"]

#: Protocols :func:`explain` takes.
EXPLAINED: Final = ("iec104", "imb")


def explain(hex_or_bytes: str | bytes | bytearray | memoryview, proto: str = "iec104") -> DetailTree:
    """Return the detail tree of one frame (like ``tshark -V`` for a single packet).

    Example::

        from otwire.inspect.detail import explain

        print(explain("68 0e 00 00 00 00 64 01 06 00 03 00 00 00 00 14").render())

    Args:
        hex_or_bytes: The frame: octets, or hex text (spaces, colons and a ``0x`` prefix allowed).
        proto: ``"iec104"`` (an APDU, from 0x68) or ``"imb"`` (an IMB3 frame, from its magic).

    Returns:
        The tree; its :meth:`~DetailTree.render` gives the text.

    Raises:
        DecodeError: The frame does not decode (offset and excerpt in the error).
        InvalidArgument: ``proto`` is not one of :data:`EXPLAINED`, or the text is not hex.
        InvalidArgumentType: ``hex_or_bytes`` is neither text nor octets.
    """
    frame = _octets(hex_or_bytes)
    if proto == "iec104":
        return _iec104(frame)
    if proto == "imb":
        from otwire.inspect._detail_imb import imb_tree

        return imb_tree(frame)
    raise InvalidArgument(f"explain: protocol {proto!r} is not one of {', '.join(EXPLAINED)}")


def _octets(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if not isinstance(value, str):
        raise InvalidArgumentType(f"explain: expected hex text or octets, not {type(value).__name__}")
    text = value.strip()
    text = text[2:] if text[:2].lower() == "0x" else text
    try:
        return bytes.fromhex(text.replace(":", " "))
    except ValueError:
        raise InvalidArgument(f"explain: not hex: {value[:40]!r}") from None


# --- IEC 60870-5-104 ------------------------------------------------------------------


def _iec104(frame: bytes) -> DetailTree:
    apdu = decode_apdu(frame)
    children = [_apci(frame, apdu)]
    if isinstance(apdu, IFrame):
        children.append(_asdu(frame, apdu.asdu))
    return DetailTree(f"IEC 60870-5-104 APDU, {len(frame)} octets", children=tuple(children))


def _apci(frame: bytes, apdu: IFrame | SFrame | UFrame) -> DetailTree:
    start = _node("start: 0x68", frame, 0, 1)
    length = _node(f"length: {frame[1]}", frame, 1, 2)
    match apdu:
        case IFrame(ns=ns, nr=nr):
            control = _node(
                "control field: I-format",
                frame, 2, 6,
                _node(f"N(S) send sequence number: {ns}", frame, 2, 4),
                _node(f"N(R) receive sequence number: {nr}", frame, 4, 6),
            )  # fmt: skip
        case SFrame(nr=nr):
            control = _node(
                "control field: S-format",
                frame, 2, 6,
                _node("format bits: 01 (S), the rest 0", frame, 2, 4),
                _node(f"N(R) receive sequence number: {nr}", frame, 4, 6),
            )  # fmt: skip
        case UFrame(function=function):
            control = _node(f"control field: U-format {function.name}", frame, 2, 6)
    return _node("APCI", frame, 0, 6, start, length, control)


def _name(value: Any) -> str:
    return f"{int(value)} {value.name}" if hasattr(value, "name") else str(value)


def _asdu(frame: bytes, asdu: ASDU) -> DetailTree:
    header = (
        _node(f"type_id: {_name(asdu.type_id)}", frame, 6, 7),
        _node(
            f"variable structure qualifier: SQ={int(asdu.sq)} number={asdu.number}",
            frame, 7, 8,
            DetailTree(f"SQ (sequence): {int(asdu.sq)}"),
            DetailTree(f"number of objects: {asdu.number}"),
        ),
        _node(
            f"cause of transmission: {_name(asdu.cot)}",
            frame, 8, 9,
            DetailTree(f"T (test): {int(asdu.test)}"),
            DetailTree(f"P/N (negative confirm): {int(asdu.negative)}"),
            DetailTree(f"cause: {_name(asdu.cot)}"),
        ),
        _node(f"originator address: {asdu.originator_address}", frame, 9, 10),
        _node(f"common address: {asdu.common_address}", frame, 10, 12),
    )  # fmt: skip
    objects: list[DetailTree] = []
    if asdu.raw_information:
        objects.append(_node("information (type not decoded)", frame, 12, len(frame)))
    pos = 12
    for i, obj in enumerate(asdu.objects):
        start = pos
        parts: list[DetailTree] = []
        if not asdu.sq or i == 0:
            parts.append(_node(f"IOA: {obj.ioa}", frame, pos, pos + 3))
            pos += 3
        else:
            parts.append(DetailTree(f"IOA: {obj.ioa} (SQ: previous + 1)"))
        for element in obj.elements:
            size = _element_size(element)
            parts.append(_node(_element_label(element), frame, pos, pos + size, *_element_fields(element)))
            pos += size
        objects.append(_node(f"information object {i + 1}: IOA {obj.ioa}", frame, start, pos, *parts))
    return _node("ASDU", frame, 6, len(frame), *header, *objects)


def _element_size(element: el.Element) -> int:
    if isinstance(element, el.Segment):
        return 1 + len(element.data)  # LOS, then the segment octets
    return struct.calcsize("<" + type(element).FORMAT)


def _element_label(element: el.Element) -> str:
    return f"{type(element).__name__}: {element_text(element)}"


def _element_fields(element: el.Element) -> Iterator[DetailTree]:
    for key, value in element_json(element).items():
        if key != "element":
            yield DetailTree(f"{key}: {value}")


# --- rows: what -V and -x print under a table line -----------------------------------


def hex_dump(data: bytes, indent: str = "    ") -> Iterator[str]:
    """Yield ``0000  68 04 07 00 ...  h...`` lines, 16 octets each (offset, hex, printable ASCII)."""
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        octets = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        yield f"{indent}{at:04x}  {octets:<47}  {text}".rstrip()


def row_tree(row: Row) -> DetailTree | None:
    """Return the detail tree of a row's decoded message (``None`` for other rows).

    IEC 104 and IMB3 messages are explained octet by octet; other protocols' messages
    as the tree of their JSON view.
    """
    finding = row.finding
    if finding is None or finding.kind != "apdu" or row.protocol is None:
        return None
    if row.protocol in EXPLAINED:
        try:
            return explain(finding.raw, row.protocol)
        except DecodeError:  # decoded in the stream, so only a codec disagreement lands here
            return None
    return json_tree(f"{row.protocol} message", view(row.protocol).json(finding.message))


def json_tree(label: str, value: object) -> DetailTree:
    """Return the tree of a JSON value: one node per key or list item."""
    if isinstance(value, dict):
        return DetailTree(label, children=tuple(json_tree(str(k), v) for k, v in value.items()))
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return DetailTree(label, children=tuple(json_tree(f"[{i}]", v) for i, v in enumerate(value)))
    return DetailTree(f"{label}: {value}")


def row_extras(row: Row, *, detail: bool, hexdump: bool) -> Iterator[str]:
    """Yield the lines shown under a table row: its detail tree (``-V``) and hex dump (``-x``)."""
    finding = row.finding
    if finding is None:
        return
    if detail:
        tree = row_tree(row)
        if tree is not None:
            yield from tree.lines(1)
        elif finding.error:
            yield f"    {finding.kind} at octet {finding.error_offset}: {finding.error}"
    if hexdump:
        yield from hex_dump(finding.raw)
