"""The declarative XML mapping of XEP-0323: one table per element, one generic walker.

Each :class:`ElementSpec` lists the element's attributes (:class:`Attr`: XML name, Python
field, converter, default), its boolean flag attributes (:class:`FlagAttrs`: a
:class:`enum.Flag` whose member names are the XML attribute names, plus aliases), its
child element groups (:class:`Children`), its text-only children (:class:`Texts`) and
its own text. :func:`decode_element` and :func:`encode_element` walk these tables; no
element has a parser of its own. The tables are at the end of the module and follow
the v0.6 XSD (``specs/xep0323/notes.md`` §2) with the v0.2 differences marked
(``v02=False``: left out of v0.2 output; ``v02_tag``: the v0.2 element name;
``v02_convert``: how a v0.3+ field type is written for a v0.2 peer).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple
from xml.etree import ElementTree as ET

from otwire.codecs._base import fast_constructor
from otwire.codecs.xep0323 import messages as m
from otwire.codecs.xep0323 import values as xs
from otwire.errors import EncodeError

__all__ = ["SPECS", "Attr", "BadElement", "Children", "ElementSpec", "decode_element", "encode_element"]

_PREFIX = "{" + m.NS + "}"
#: Characters XML 1.0 cannot carry (§2.2 Char), refused on output. Compiled on first use
#: (:func:`_not_xml`): the set's ranges cost about 5 ms to compile, paid only by encoders.
_NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


class BadElement(Exception):
    """Internal: a decoding failure at ``path`` (the codec raises ``DecodeError``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{reason} at {path}")
        self.path = path
        self.reason = reason


class Conv(NamedTuple):
    """A lexical converter: ``parse(text)`` (raises ``ValueError``) and ``format(value)``."""

    parse: Callable[[str], Any]
    format: Callable[[Any], str]


STR = Conv(str, str)
BOOL = Conv(xs.parse_bool, xs.format_bool)
INT = Conv(xs.parse_int, xs.format_integer)
LONG = Conv(xs.parse_long, xs.format_integer)
DOUBLE = Conv(xs.parse_decimal, xs.format_decimal)
DATETIME = Conv(xs.parse_datetime, xs.format_datetime)
DATE = Conv(xs.parse_date, xs.format_date)
TIME = Conv(xs.parse_time, xs.format_time)
DURATION = Conv(xs.XsDuration.parse, str)

REQUIRED: Any = object()


@dataclass(frozen=True, slots=True)
class Attr:
    """One XML attribute mapped onto one dataclass field.

    ``lexical`` names a second field that receives the exact text (field values).
    An attribute equal to its default is left out on output unless ``always``.
    """

    xml: str
    field: str
    conv: Conv = STR
    default: Any = REQUIRED
    lexical: str | None = None
    always: bool = False
    v02: bool = True


@dataclass(frozen=True, slots=True)
class FlagAttrs:
    """Boolean attributes gathered into one :class:`enum.Flag` field (only ``true`` ones are written)."""

    field: str
    flag: type[enum.Flag]
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    v02_omit: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Texts:
    """Child elements ``tag`` holding only text, gathered into a tuple of str."""

    field: str
    tag: str


@dataclass(frozen=True, slots=True)
class Children:
    """Child elements of the given specs, gathered in document order into one tuple field."""

    field: str
    specs: tuple[ElementSpec, ...]


@dataclass(slots=True)
class ElementSpec:
    """The table of one element; the indexes are derived once in ``__post_init__``."""

    tag: str
    cls: type
    attrs: tuple[Attr, ...] = ()
    flags: tuple[FlagAttrs, ...] = ()
    children: tuple[Children, ...] = ()
    texts: tuple[Texts, ...] = ()
    text: str | None = None
    v02_tag: str | None = None
    aliases: tuple[str, ...] = ()
    v02_convert: Callable[[Any], Any] | None = None
    attr_index: dict[str, Attr] = dataclasses.field(default_factory=dict)
    flag_index: dict[str, tuple[str, int]] = dataclasses.field(default_factory=dict)
    flag_fields: dict[str, type[enum.Flag]] = dataclasses.field(default_factory=dict)
    handlers: dict[str, tuple[str, Any, Any]] = dataclasses.field(default_factory=dict)
    defaults: tuple[tuple[str, Any], ...] = ()
    make: Callable[..., Any] | None = None  # fast_constructor(cls), built on first use (:func:`_make`)
    child_index: dict[str, tuple[str, ElementSpec | None]] = dataclasses.field(default_factory=dict)
    required: tuple[Attr, ...] = ()

    def __post_init__(self) -> None:
        self.attr_index = {a.xml: a for a in self.attrs}
        self.required = tuple(a for a in self.attrs if a.default is REQUIRED)
        for group in self.flags:
            self.flag_fields[group.field] = group.flag
            for member in group.flag:
                self.flag_index[str(member.name)] = (group.field, member.value)
            for alias, name in group.aliases.items():
                self.flag_index[alias] = (group.field, group.flag[name].value)
        self.handlers = {name: (field, None, bit) for name, (field, bit) in self.flag_index.items()}
        self.handlers.update({a.xml: (a.field, a.conv.parse, a.lexical) for a in self.attrs})
        self.defaults = tuple((f.name, _default(f)) for f in dataclasses.fields(self.cls))
        for children in self.children:
            for spec in children.specs:
                for tag in (spec.tag, *spec.aliases):
                    self.child_index[tag] = (children.field, spec)
        for texts in self.texts:
            self.child_index[texts.tag] = (texts.field, None)


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    return None  # required: the walker always sets it (required attribute, children, text)


def _string_ids(text: str) -> str:
    if not m.STRING_IDS.match(text):
        raise ValueError(f"malformed stringIds {text[:40]!r}")
    return text


# -- decoding ------------------------------------------------------------------------------


def decode_element(element: ET.Element, spec: ElementSpec, path: str) -> Any:
    """Build ``spec.cls`` from ``element`` by the tables.

    Raises:
        BadElement: a missing or malformed attribute, an unknown child in the namespace,
            or a value the dataclass refuses.
    """
    kwargs: dict[str, Any] = {}
    _decode_attributes(element, spec, path, kwargs)
    if spec.children or spec.texts:
        _decode_children(element, spec, path, kwargs)
    if spec.text is not None:
        kwargs[spec.text] = element.text or ""
    # Every value is valid by construction (the converters checked it), so the dataclass is
    # built without __init__ (fast_constructor); the round-trip tests prove it equal.
    make = spec.make or _make(spec)
    return make(*[kwargs.get(name, default) for name, default in spec.defaults])


def _make(spec: ElementSpec) -> Callable[..., Any]:
    """``spec.make``, built on first use (an ``exec`` per class, paid only by the walker)."""
    make = spec.make = fast_constructor(spec.cls)
    return make


def _flag(flag: type[enum.Flag], bits: int) -> enum.Flag:
    """``flag(bits)``, cached: building a Flag member costs more than the rest of a field.

    The cache is bounded by construction: two 14-bit flag types, at most 2 * 2**14 entries.
    """
    key = (flag, bits)
    member = _FLAG_CACHE.get(key)
    if member is None:
        member = _FLAG_CACHE[key] = flag(bits)
    return member


_FLAG_CACHE: dict[tuple[type[enum.Flag], int], enum.Flag] = {}


def _decode_attributes(element: ET.Element, spec: ElementSpec, path: str, kwargs: dict[str, Any]) -> None:
    flags = dict.fromkeys(spec.flag_fields, 0)
    handlers = spec.handlers
    for name, text in element.attrib.items():
        handler = handlers.get(name)
        if handler is None:
            continue  # unknown attributes are ignored
        field, parse, extra = handler
        if parse is None:  # a flag: extra is its bit
            value = _BOOLS.get(text)
            if value is None:
                raise BadElement(f"{path}@{name}", f"{text[:40]!r} is not an xs:boolean")
            if value:
                flags[field] |= extra
            continue
        try:
            kwargs[field] = parse(text)
        except ValueError as exc:
            raise BadElement(f"{path}@{name}", str(exc)) from None
        if extra is not None:  # the lexical field
            kwargs[extra] = text
    for attr in spec.required:
        if attr.field not in kwargs:
            raise BadElement(path, f"missing attribute {attr.xml!r}")
    for name, bits in flags.items():
        kwargs[name] = _flag(spec.flag_fields[name], bits)


_BOOLS = {"true": True, "1": True, "false": False, "0": False}


def _decode_children(element: ET.Element, spec: ElementSpec, path: str, kwargs: dict[str, Any]) -> None:
    groups: dict[str, list[Any]] = {c.field: [] for c in spec.children}
    groups.update({t.field: [] for t in spec.texts})
    for index, child in enumerate(element):
        tag = child.tag
        if not isinstance(tag, str) or not tag.startswith(_PREFIX):
            continue  # another namespace (or a comment): extensions are ignored
        local = tag[len(_PREFIX) :]
        entry = spec.child_index.get(local)
        child_path = f"{path}/{local}[{index}]"
        if entry is None:
            raise BadElement(child_path, f"unexpected element {local!r} in {spec.tag!r}")
        target, child_spec = entry
        if child_spec is None:
            groups[target].append(child.text or "")
        else:
            groups[target].append(decode_element(child, child_spec, child_path))
    for name, items in groups.items():
        kwargs[name] = tuple(items)


# -- encoding ------------------------------------------------------------------------------


def encode_element(obj: Any, spec: ElementSpec, dialect: str, parent: ET.Element | None = None) -> ET.Element:
    """Build the element of ``obj`` by the tables (``dialect`` is ``"v0.6"`` or ``"v0.2"``)."""
    v02 = dialect == "v0.2"
    if v02 and spec.v02_convert is not None:
        obj = spec.v02_convert(obj)
        spec = SPEC_BY_CLASS[type(obj)]
    tag = _PREFIX + (spec.v02_tag if v02 and spec.v02_tag else spec.tag)
    element = ET.Element(tag) if parent is None else ET.SubElement(parent, tag)
    _encode_attributes(obj, spec, v02, element)
    for children in spec.children:
        by_class = {s.cls: s for s in children.specs}
        for item in getattr(obj, children.field):
            encode_element(item, by_class[type(item)], dialect, element)
    for texts in spec.texts:
        for text in getattr(obj, texts.field):
            ET.SubElement(element, _PREFIX + texts.tag).text = _checked(text, texts.tag)
    if spec.text is not None:
        element.text = _checked(getattr(obj, spec.text), spec.tag) or None
    return element


@functools.cache
def _not_xml() -> re.Pattern[str]:
    return re.compile(_NOT_XML)


def _checked(text: str, where: str) -> str:
    if not isinstance(text, str):
        raise EncodeError(f"{where}: expected a str, not {type(text).__name__}")
    if _not_xml().search(text):
        raise EncodeError(f"{where}: {text[:40]!r} holds a character XML cannot carry")
    return text


def _encode_attributes(obj: Any, spec: ElementSpec, v02: bool, element: ET.Element) -> None:
    attrib = element.attrib
    for attr in spec.attrs:
        if v02 and not attr.v02:
            continue
        if attr.lexical is not None:
            attrib[attr.xml] = _checked(getattr(obj, attr.lexical), attr.xml)
            continue
        value = getattr(obj, attr.field)
        if value is None or (not attr.always and attr.default is not REQUIRED and value == attr.default):
            continue
        attrib[attr.xml] = _checked(attr.conv.format(value), attr.xml)
    for group in spec.flags:
        for member in getattr(obj, group.field):
            name = str(member.name)
            if not (v02 and name in group.v02_omit):
                attrib[name] = "true"


# -- the tables ------------------------------------------------------------------------------

_FIELD_TYPES = FlagAttrs("types", m.FieldType, aliases={"identification": "identity"})
_QOS = FlagAttrs("qos", m.QoS, v02_omit=("inProgress",))
_FIELD_ATTRS = (
    Attr("name", "name"),
    Attr("module", "module", default=None),
    Attr("stringIds", "string_ids", Conv(_string_ids, str), default=None),
    Attr("writable", "writable", BOOL, default=None, v02=False),
)


def _field_spec(cls: type[m.Field], conv: Conv, *extra: Attr, **options: Any) -> ElementSpec:
    value = Attr("value", "value", conv, lexical="lexical")
    return ElementSpec(cls.TAG, cls, (*_FIELD_ATTRS, value, *extra), (_FIELD_TYPES, _QOS), **options)


def _as_numeric(f: m.Int | m.Long) -> m.Numeric:
    return m.Numeric(name=f.name, value=Decimal(f.value), lexical=f.lexical, unit="", types=f.types, qos=f.qos,
                     module=f.module, string_ids=f.string_ids, writable=f.writable)  # fmt: skip


def _as_string(f: m.Date | m.Time) -> m.String:
    return m.String(name=f.name, value=f.lexical, lexical=f.lexical, types=f.types, qos=f.qos,
                    module=f.module, string_ids=f.string_ids, writable=f.writable)  # fmt: skip


FIELD_SPECS = (
    _field_spec(m.Numeric, DOUBLE, Attr("unit", "unit", default="", always=True)),
    _field_spec(m.String, STR),
    _field_spec(m.Enum, STR, Attr("dataType", "data_type", default="", always=True)),
    _field_spec(m.Boolean, BOOL),
    _field_spec(m.DateTime, DATETIME),
    _field_spec(m.Date, DATE, v02_convert=_as_string),
    _field_spec(m.Time, TIME, v02_convert=_as_string),
    _field_spec(m.Duration, DURATION, v02_tag="timeSpan", aliases=("timeSpan",)),
    _field_spec(m.Int, INT, v02_convert=_as_numeric),
    _field_spec(m.Long, LONG, v02_convert=_as_numeric),
)
_NODE_ATTRS = (
    Attr("nodeId", "node_id"),
    Attr("sourceId", "source_id", default=None),
    Attr("cacheType", "cache_type", default=None),
)
TIMESTAMP = ElementSpec("timestamp", m.Timestamp, (Attr("value", "value", DATETIME, lexical="lexical"),),
                        children=(Children("fields", FIELD_SPECS),))  # fmt: skip
NODE = ElementSpec("node", m.Node, _NODE_ATTRS, children=(Children("timestamps", (TIMESTAMP,)),))
REQ_NODE = ElementSpec("node", m.Node, _NODE_ATTRS)
FIELD_REF = ElementSpec("field", m.FieldRef, (Attr("name", "name"),))
ERROR = ElementSpec("error", m.Error, (*_NODE_ATTRS, Attr("timestamp", "timestamp")), text="message")
_SEQNR = Attr("seqnr", "seqnr", INT)
_DONE = Attr("done", "done", BOOL, default=False)

REQ = ElementSpec(
    "req",
    m.Req,
    (
        _SEQNR,
        Attr("all", "all_types", BOOL, default=False),
        Attr("historical", "historical", BOOL, default=False),
        Attr("from", "from_", DATETIME, default=None),
        Attr("to", "to", DATETIME, default=None),
        Attr("when", "when", DATETIME, default=None),
        Attr("serviceToken", "service_token", default=None),
        Attr("deviceToken", "device_token", default=None),
        Attr("userToken", "user_token", default=None),
    ),
    (_FIELD_TYPES,),
    children=(Children("nodes", (REQ_NODE,)), Children("fields", (FIELD_REF,))),
)

#: The top-level elements by their local name.
SPECS: dict[str, ElementSpec] = {
    spec.tag: spec
    for spec in (
        REQ,
        ElementSpec("accepted", m.Accepted, (_SEQNR, Attr("queued", "queued", BOOL, default=False))),
        ElementSpec("rejected", m.Rejected, (_SEQNR,), texts=(Texts("errors", "error"),)),
        ElementSpec("started", m.Started, (_SEQNR,)),
        ElementSpec("done", m.Done, (_SEQNR,)),
        ElementSpec("cancel", m.Cancel, (_SEQNR,)),
        ElementSpec("cancelled", m.Cancelled, (_SEQNR,)),
        ElementSpec("fields", m.Fields, (_SEQNR, _DONE), children=(Children("nodes", (NODE,)),)),
        ElementSpec("failure", m.Failure, (_SEQNR, _DONE), children=(Children("errors", (ERROR,)),)),
    )
}
#: The table of every top-level message class.
SPEC_BY_CLASS: dict[type, ElementSpec] = {spec.cls: spec for spec in (*SPECS.values(), *FIELD_SPECS)}
