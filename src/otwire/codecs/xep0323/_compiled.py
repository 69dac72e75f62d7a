"""Decoders compiled once from the tables of ``_schema``: the fast path of ``decode``.

:func:`compile_decoder` turns one :class:`~otwire.codecs.xep0323._schema.ElementSpec` into
a closure with everything prebound: a slot list of the dataclass's fields (defaults in
place), one dispatch dict from attribute name to (slot, converter, lexical slot) or to a
flag bit, the flag members by bit pattern, and the child decoders by their full
``{namespace}tag``. It walks each element once, builds no path strings and catches no
exception per attribute. Anything it does not accept (a missing or malformed attribute,
an unknown child in the namespace) raises out of it; ``decode`` then runs the table
walker ``_schema.decode_element`` on the same element, which reports the error with its
path. So the walker stays the reference and the error reporter, the tables stay the one
source of both, and ``tests/xep0323/test_codec_compiled.py`` proves the two equal.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from otwire.codecs.xep0323 import _schema
from otwire.codecs.xep0323._schema import STR, ElementSpec

__all__ = ["Decoder", "compile_decoder"]

#: ``decoder(element) -> dataclass``; raises on anything the table walker would refuse.
Decoder = Callable[[ET.Element], Any]

_PREFIX = _schema._PREFIX
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_UNSET: Any = object()
#: Bits of one flag group; the second group's bits sit above the first's in one int.
_GROUP_SHIFT = 32
_GROUP_MASK = (1 << _GROUP_SHIFT) - 1


class Unmatched(Exception):
    """Internal: the compiled decoder refuses an element (the walker then says why)."""


def compile_decoder(spec: ElementSpec, compiled: dict[int, Decoder] | None = None) -> Decoder:
    """Compile ``spec`` (and its child specs, once each) into a decoder closure."""
    compiled = {} if compiled is None else compiled
    done = compiled.get(id(spec))
    if done is not None:
        return done
    slots = {name: index for index, (name, _) in enumerate(spec.defaults)}
    defaults = [_UNSET if _required(spec, name) else value for name, value in spec.defaults]
    required = tuple(slots[a.field] for a in spec.required)
    get_handler = _attribute_handlers(spec, slots).get
    every = len(spec.attrs)
    groups = _flag_groups(spec, slots)
    children = _child_table(spec, slots, compiled)
    text_slot = slots[spec.text] if spec.text is not None else -1
    make = spec.make

    def decode(element: ET.Element) -> Any:
        values = defaults.copy()
        bits = found = 0
        for name, text in element.attrib.items():
            handler = get_handler(name)
            if handler is None:
                continue  # unknown attributes are ignored
            slot, parse, lexical, bit = handler
            if bit:
                if _BOOLS[text]:  # KeyError: not an xs:boolean
                    bits |= bit
                continue
            values[slot] = text if parse is None else parse(text)
            if lexical >= 0:
                values[lexical] = text
            found += 1
        if found < every:
            for slot in required:
                if values[slot] is _UNSET:
                    raise Unmatched
        for slot, shift, members in groups:
            values[slot] = members[(bits >> shift) & _GROUP_MASK]
        if children is not None:
            _set_children(element, values, children)
        if text_slot >= 0:
            values[text_slot] = element.text or ""
        return make(*values)

    compiled[id(spec)] = decode
    return decode


def _required(spec: ElementSpec, name: str) -> bool:
    return any(a.field == name for a in spec.required)


#: ``(slot, parse or None for plain text, lexical slot or -1, flag bit or 0)``; a flag has slot -1.
_Handler = tuple[int, Callable[[str], Any] | None, int, int]


def _attribute_handlers(spec: ElementSpec, slots: dict[str, int]) -> dict[str, _Handler]:
    """One dispatch entry per attribute name: value attributes, then flags (group ``g`` at bit ``g * 32``)."""
    table: dict[str, _Handler] = {}
    for shift, group in enumerate(spec.flags):
        for name, (field, bit) in spec.flag_index.items():
            if field == group.field:
                table[name] = (-1, None, -1, bit << (shift * _GROUP_SHIFT))
    for a in spec.attrs:
        parse = None if a.conv is STR else a.conv.parse
        table[a.xml] = (slots[a.field], parse, slots[a.lexical] if a.lexical else -1, 0)
    return table


class _Members(dict[int, enum.Flag]):
    """The members of one flag type by bit pattern, built on first use.

    Bounded by construction: a 14-bit flag has at most 2**14 patterns.
    """

    def __init__(self, flag: type[enum.Flag]) -> None:
        super().__init__()
        self.flag = flag

    def __missing__(self, bits: int) -> enum.Flag:
        member = self[bits] = self.flag(bits)
        return member


def _flag_groups(spec: ElementSpec, slots: dict[str, int]) -> tuple[tuple[int, int, _Members], ...]:
    """``(slot, shift, members)`` of each flag field."""
    return tuple((slots[g.field], i * _GROUP_SHIFT, _Members(g.flag)) for i, g in enumerate(spec.flags))


_Children = tuple[dict[str, tuple[int, Decoder | None]], tuple[int, ...]]


def _child_table(spec: ElementSpec, slots: dict[str, int], compiled: dict[int, Decoder]) -> _Children | None:
    """``({namespace}tag -> (group, decoder or None for a text child)``, the groups' slots)."""
    fields = [c.field for c in spec.children] + [t.field for t in spec.texts]
    if not fields:
        return None
    index: dict[str, tuple[int, Decoder | None]] = {}
    for group, children in enumerate(spec.children):
        for child in children.specs:
            decoder = compile_decoder(child, compiled)
            for tag in (child.tag, *child.aliases):
                index[_PREFIX + tag] = (group, decoder)
    for group, texts in enumerate(spec.texts, start=len(spec.children)):
        index[_PREFIX + texts.tag] = (group, None)
    return index, tuple(slots[name] for name in fields)


def _set_children(element: ET.Element, values: list[Any], table: _Children) -> None:
    index, group_slots = table
    groups: list[list[Any]] = [[] for _ in group_slots]
    for child in element:
        entry = index.get(child.tag)
        if entry is None:
            tag = child.tag
            if isinstance(tag, str) and tag.startswith(_PREFIX):
                raise Unmatched  # an unknown element in the namespace
            continue  # another namespace (or a comment): extensions are ignored
        group, decoder = entry
        groups[group].append((child.text or "") if decoder is None else decoder(child))
    for slot, items in zip(group_slots, groups, strict=True):
        values[slot] = tuple(items)
