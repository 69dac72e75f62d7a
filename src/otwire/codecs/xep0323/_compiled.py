"""Decoders compiled once from the tables of ``_schema``: the fast path of ``decode``.

:func:`compile_decoder` turns one :class:`~otwire.codecs.xep0323._schema.ElementSpec` into
a specialised Python function, generated from the table and compiled once (as
``fast_constructor`` does for the dataclasses): straight-line code that reads each
attribute of the table by name, calls its converter, gathers the flag attributes in one
loop (only when the element has attributes beyond the value attributes found), reads the
optional attributes that are seldom written (``module``, ``stringIds``, ``writable``) only
when the attributes outnumber those found and the flags, dispatches
children by their full ``{namespace}tag`` to the child's compiled decoder, and fills the
slots directly (no ``__init__``: the converters already checked every value) through a
builder subclass that is retyped to the dataclass at the end (``_build.py``).
Converters, defaults, flag members and child decoders are bound in the function's
namespace; nothing is looked up per element by name.

It builds no path strings and catches nothing. Anything it does not accept (a missing or
malformed attribute, an unknown child in the namespace) raises out of it; ``decode`` then
runs the table walker ``_schema.decode_element`` on the same element, which reports the
error with its path. So the walker stays the reference and the error reporter, the tables
stay the one source of both, and ``tests/xep0323/test_codec_compiled.py`` proves the two
equal on generated messages of both dialects.

Example: the source generated for ``<started seqnr=.../>``::

    def decode(element):
        a = element.attrib
        found = 1
        t0 = a['seqnr']
        v0 = P0(t0)
        o = NEW(BUILDER)
        o.seqnr = v0
        o.__class__ = CLS
        return o
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from otwire.codecs.xep0323 import _build, _schema
from otwire.codecs.xep0323._schema import REQUIRED, STR, ElementSpec

__all__ = ["Decoder", "Unmatched", "compile_decoder", "decoder_source"]

#: ``decoder(element) -> dataclass``; raises on anything the table walker would refuse.
Decoder = Callable[[ET.Element], Any]

_PREFIX = _schema._PREFIX
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
#: Bits of one flag group; the second group's bits sit above the first's in one int.
_GROUP_SHIFT = 32
_GROUP_MASK = (1 << _GROUP_SHIFT) - 1


class Unmatched(Exception):
    """Internal: the compiled decoder refuses an element (the walker then says why)."""


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


class _Unit:
    """The generated source and the names it uses, built by the ``_*_lines`` helpers."""

    def __init__(self, spec: ElementSpec) -> None:
        self.spec = spec
        required = sum(1 for a in spec.attrs if a.default is REQUIRED)  # value attributes found
        self.lines: list[str] = ["def decode(element):", "    a = element.attrib", f"    found = {required}"]
        self.names: dict[str, object] = {
            "BOOLS": _BOOLS,
            "MASK": _GROUP_MASK,
            "PREFIX": _PREFIX,
            "Unmatched": Unmatched,
            "NEW": object.__new__,
            "CLS": spec.cls,
        }
        self.fields: dict[str, str] = {}  # dataclass field -> expression

    def bind(self, name: str, value: object) -> str:
        self.names[name] = value
        return name

    def add(self, *lines: str) -> None:
        self.lines.extend("    " + line for line in lines)


def compile_decoder(spec: ElementSpec, compiled: dict[int, Decoder] | None = None) -> Decoder:
    """Compile ``spec`` (and its child specs, once each) into a decoder function."""
    compiled = {} if compiled is None else compiled
    done = compiled.get(id(spec))
    if done is not None:
        return done
    unit = _generate(spec, compiled)
    exec("\n".join(unit.lines), unit.names)  # the source comes from our own tables only
    decoder: Decoder = unit.names["decode"]  # type: ignore[assignment]
    compiled[id(spec)] = decoder
    return decoder


def decoder_source(spec: ElementSpec) -> str:
    """The source :func:`compile_decoder` compiles for ``spec`` (for readers and tests)."""
    return "\n".join(_generate(spec, {}).lines)


def _generate(spec: ElementSpec, compiled: dict[int, Decoder]) -> _Unit:
    unit = _Unit(spec)
    rare = _rare_attrs(spec)
    _attribute_lines(unit, [a for a in spec.attrs if a not in rare])
    _flag_lines(unit, counted=bool(rare))
    _rare_lines(unit, rare)
    _child_lines(unit, compiled)
    if spec.text is not None:
        unit.add("txt = element.text or ''")
        unit.fields[spec.text] = "txt"
    _build_lines(unit)
    return unit


def _rare_attrs(spec: ElementSpec) -> list[_schema.Attr]:
    """Optional attributes not written by default (``module``, ``stringIds``...), read only when present.

    Empty when a flag name is also an attribute name (the count below would be wrong).
    """
    if set(spec.flag_index) & set(spec.attr_index):
        return []
    return [a for a in spec.attrs if a.default is not REQUIRED and not a.always]


def _attribute_lines(unit: _Unit, attrs: list[_schema.Attr]) -> None:
    """One read per table attribute: required ``a[name]`` (KeyError refuses), optional ``a.get``."""
    defaults = dict(unit.spec.defaults)
    for attr in attrs:
        i = unit.spec.attrs.index(attr)
        parse = "" if attr.conv is STR else unit.bind(f"P{i}", attr.conv.parse)
        converted = f"{parse}(t{i})" if parse else f"t{i}"
        if attr.default is REQUIRED:
            unit.add(f"t{i} = a[{attr.xml!r}]", f"v{i} = {converted}")
            lexical = f"t{i}"
        else:
            default = unit.bind(f"D{i}", defaults[attr.field])
            unit.add(f"t{i} = a.get({attr.xml!r})", f"if t{i} is None:", f"    v{i} = {default}", "else:")
            unit.add("    found += 1", f"    v{i} = {converted}")
            lexical = f"(t{i} if t{i} is not None else {unit.bind(f'L{i}', defaults.get(attr.lexical or ''))})"
        unit.fields[attr.field] = f"v{i}"
        if attr.lexical:
            unit.fields[attr.lexical] = lexical


def _rare_lines(unit: _Unit, rare: list[_schema.Attr]) -> None:
    """Rare attributes: read only when the attributes outnumber those found and the flags."""
    if not rare:
        return
    outer = unit.lines
    unit.lines = []
    _attribute_lines(unit, rare)
    inner, unit.lines = unit.lines, outer
    flags = " + nflag" if unit.spec.flags else ""
    unit.add(f"if len(a) > found{flags}:", *("    " + line[4:] for line in inner), "else:")
    defaults = dict(unit.spec.defaults)
    for attr in rare:
        i = unit.spec.attrs.index(attr)
        unit.add(f"    t{i} = None", f"    v{i} = {unit.bind(f'D{i}', defaults[attr.field])}")


def _flag_lines(unit: _Unit, counted: bool) -> None:
    """Flags: one pass over the attributes, only when there are more than the value attributes found.

    ``counted``: also count the flag attributes in ``nflag`` (for :func:`_rare_lines`).
    """
    spec = unit.spec
    if not spec.flags:
        return
    bits: dict[str, int] = {}
    for shift, group in enumerate(spec.flags):
        for name, (field, bit) in spec.flag_index.items():
            if field == group.field:
                bits[name] = bit << (shift * _GROUP_SHIFT)
    unit.bind("FLAGS", bits)
    unit.add("bits = 0", "nflag = 0", "if len(a) > found:", "    for k, t in a.items():", "        bit = FLAGS.get(k)")
    if counted:
        unit.add("        if bit is not None:", "            nflag += 1", "            if BOOLS[t]:")
        unit.add("                bits |= bit")
    else:
        unit.add("        if bit is not None and BOOLS[t]:", "            bits |= bit")
    last = len(spec.flags) - 1
    for g, group in enumerate(spec.flags):
        members = unit.bind(f"M{g}", _Members(group.flag))
        shifted = f"(bits >> {g * _GROUP_SHIFT})" if g else "bits"
        unit.fields[group.field] = f"{members}[{shifted}]" if g == last else f"{members}[{shifted} & MASK]"


def _child_lines(unit: _Unit, compiled: dict[int, Decoder]) -> None:
    """Children by ``{namespace}tag``; another namespace is skipped, an unknown tag in ours refused."""
    spec = unit.spec
    fields = [c.field for c in spec.children] + [t.field for t in spec.texts]
    if not fields:
        return
    index: dict[str, tuple[int, Decoder | None]] = {}
    for group, children in enumerate(spec.children):
        for child in children.specs:
            decoder = compile_decoder(child, compiled)
            for tag in (child.tag, *child.aliases):
                index[_PREFIX + tag] = (group, decoder)
    for group, texts in enumerate(spec.texts, start=len(spec.children)):
        index[_PREFIX + texts.tag] = (group, None)
    if len(fields) == 1 and not spec.texts:
        _single_group_lines(unit, {tag: decoder for tag, (_, decoder) in index.items()}, fields[0])
        return
    unit.bind("INDEX", index)
    unit.add(f"groups = ({'[], ' * len(fields)})", "for child in element:", "    entry = INDEX.get(child.tag)")
    unit.add("    if entry is None:", "        tag = child.tag")
    unit.add("        if isinstance(tag, str) and tag.startswith(PREFIX):", "            raise Unmatched(tag)")
    unit.add("        continue", "    group, dec = entry")
    unit.add("    groups[group].append((child.text or '') if dec is None else dec(child))")
    for group, field in enumerate(fields):
        unit.fields[field] = f"tuple(groups[{group}])"


def _single_group_lines(unit: _Unit, index: dict[str, Decoder | None], field: str) -> None:
    """One child group (``node``, ``timestamp``, ...): the index gives the decoder itself."""
    unit.bind("INDEX", index)
    unit.add("children = []", "append = children.append", "for child in element:", "    dec = INDEX.get(child.tag)")
    unit.add("    if dec is not None:", "        append(dec(child))", "        continue", "    tag = child.tag")
    unit.add("    if isinstance(tag, str) and tag.startswith(PREFIX):", "        raise Unmatched(tag)")
    unit.fields[field] = "tuple(children)"


def _build_lines(unit: _Unit) -> None:
    """``o = object.__new__(builder)``, each slot stored (defaults for the rest), ``o.__class__ = cls``.

    The builder is the class's :func:`~otwire.codecs.xep0323._build.builder` subclass: plain
    slot stores instead of one descriptor call per slot.
    """
    unit.names["BUILDER"] = _build.builder(unit.spec.cls)
    unit.add("o = NEW(BUILDER)")
    for i, field in enumerate(dataclasses.fields(unit.spec.cls)):
        value = unit.fields.get(field.name) or unit.bind(f"F{i}", dict(unit.spec.defaults)[field.name])
        unit.add(f"o.{field.name} = {value}")
    unit.add("o.__class__ = CLS", "return o")
