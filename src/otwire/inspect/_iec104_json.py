"""The JSON view of IEC 104 I-frames built straight from their octets (the fast equal of ``apdu_json``).

:func:`compile_json_view` generates, once per type identification with a fixed-size layout,
a function that reads the APCI, the ASDU header and the information objects of an
APDU frame with :mod:`struct` and builds the JSON-ready structure directly, without
the element dataclasses. What each one-octet element shows is taken from the general
view itself (``element_json`` over the 256 octets, in 256-entry tables); R32, NVA and
the plain 16/32-bit values are read by the struct format; the other elements go
through ``element_json`` of the decoded element. ``tests/inspect/test_iec104_json.py``
proves every type equal to ``apdu_json(decode_apdu(frame))`` (hypothesis).

Only for frames :func:`~otwire.codecs.iec104.decode_apdu` decoded without error: the
function checks nothing (the dissector decoded the frame first).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from typing import Any, Generic, TypeVar

from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.layouts import LAYOUTS, element_size

__all__ = [
    "FLAT_OBJECTS",
    "FLAT_VIEWS",
    "FSTRING_FIELDS",
    "CompiledViews",
    "ElementJson",
    "JsonFill",
    "compile_json_view",
    "flat_plan",
    "joined_fstring",
    "non_finite",
    "unpack_plan",
]

#: ``element_json``: an element -> its JSON dict.
ElementJson = Callable[[el.Element], dict[str, Any]]
#: A compiled view: ``fill(frame, out)`` adds the APDU's JSON keys to ``out``.
JsonFill = Callable[[bytes, dict[str, Any]], None]

#: Elements of one integer whose JSON is ``{"element": name, <field>: the integer}``.
_PLAIN: dict[type[el.Element], str] = {
    el.SVA: "value",
    el.BSI: "value",
    el.FBP: "value",
    el.TSC: "value",
    el.NOF: "value",
    el.CP16Time2a: "milliseconds",
}
#: The APCI control octets and the ASDU header, from octet 2: N(S) << 1, N(R) << 1, type, VSQ, COT, OA, CA.
_HEAD = struct.Struct("<HHBBBBH")


def _octet_expr(cls: type[el.OctetElement], i: int, k: int, element_json: ElementJson, env: dict[str, Any]) -> str:
    """Source of the JSON dict of one-octet element ``cls`` at raw value ``v[k]``, from 256-entry tables."""
    views = [element_json(cls._TABLE[octet]) for octet in range(256)]
    keys = list(views[0])
    if any(list(view) != keys for view in views) or keys[0] != "element":
        env[f"C{i}"], env["EJ"] = cls.from_raw, element_json
        return f"EJ(C{i}(v[{k}]))"
    parts = [f'"element": "{views[0]["element"]}"']
    for j, key in enumerate(keys[1:]):
        values = [view[key] for view in views]
        name = f"T{i}_{j}"
        if all(type(value) is list for value in values):
            env[name] = tuple(tuple(value) for value in values)
            parts.append(f'"{key}": list({name}[v[{k}]])')
        else:
            assert not any(isinstance(value, list | dict) for value in values), (cls, key)
            env[name] = tuple(values)
            parts.append(f'"{key}": {name}[v[{k}]]')
    return "{" + ", ".join(parts) + "}"


def _element_expr(cls: type[el.Element], i: int, k: int, element_json: ElementJson, env: dict[str, Any]) -> str:
    """Source of the JSON dict of element ``i`` (raw values from ``v[k]``).

    The expressions' own names (``x``, ``o``) must not be names of ``fill`` (:func:`_source`).
    """
    if issubclass(cls, el.OctetElement):
        return _octet_expr(cls, i, k, element_json, env)
    if cls is el.R32:  # read as a float ("f"): the same number as R32.value; non-finite as strings
        return f'{{"element": "R32", "value": x if (x := v[{k}]) - x == 0 else NF(x)}}'
    if cls is el.NVA:
        return f'{{"element": "NVA", "raw": v[{k}], "value": v[{k}] / 32768}}'
    if cls in _PLAIN:
        return f'{{"element": "{cls.__name__}", "{_PLAIN[cls]}": v[{k}]}}'
    if cls is el.CP56Time2a:  # the seven octets ("7s"): fields as CP56Time2a's properties read them
        return f"CP56(v[{k}])"
    if cls is el.CP24Time2a:
        return (
            f'{{"element": "CP24Time2a", "raw": (o := v[{k}]).hex(), "milliseconds": o[0] | o[1] << 8,'
            ' "minute": o[2] & 0x3F, "invalid": o[2] > 0x7F}'
        )
    env[f"C{i}"], env["EJ"] = cls.from_raw, element_json
    count = 1 if cls.FORMAT.endswith("s") else len(cls.FORMAT)
    return f"EJ(C{i}({', '.join(f'v[{k + j}]' for j in range(count))}))"


def unpack_plan(layout: tuple[type[el.Element], ...]) -> tuple[str, tuple[int, ...]]:
    """Return the ``struct`` format of one object's elements and where each element's values start.

    The format joins the element classes' ``FORMAT`` (an ``R32`` as ``f``: its value, not its
    bits); the second item is, per element, the index of its first value among those
    ``struct.unpack`` returns (an ``Ns`` field is one value). Shared by the compiled JSON and
    table views (the first two values of a whole object are the IOA's, hence their ``+ 2``).
    """
    formats: list[str] = []
    starts: list[int] = []
    k = 0
    for cls in layout:
        formats.append("f" if cls is el.R32 else cls.FORMAT)
        starts.append(k)
        k += 1 if cls.FORMAT.endswith("s") else len(cls.FORMAT)
    return "".join(formats), tuple(starts)


_V = TypeVar("_V")  # a compiled view: JSON text or table cells


class CompiledViews(Generic[_V]):
    """Compiled views of I-frames by ``type_id << 8 | vsq`` (:attr:`by_key`, at most 65,536 references).

    ``compiler(type_id, vsq)`` gives the view of frames with exactly that VSQ octet (a function of
    its own, :data:`FLAT_VIEWS` of them at most, ``None`` where it does not apply);
    ``compiler(type_id, None)`` the type's view with a loop over the objects.
    """

    def __init__(self, compiler: Callable[[int, int | None], _V | None]) -> None:
        self._compile = compiler
        self.by_key: dict[int, _V | None] = {}
        self._by_type: dict[int, _V | None] = {}
        self._flat = 0

    def view(self, type_id: int, vsq: int) -> _V | None:
        """Compile (or find) and remember the view of I-frames with this type and VSQ octet."""
        found = None
        if self._flat < FLAT_VIEWS:
            found = self._compile(type_id, vsq)
            self._flat += found is not None
        if found is None:
            if type_id not in self._by_type:
                self._by_type[type_id] = self._compile(type_id, None)
            found = self._by_type[type_id]
        self.by_key[type_id << 8 | vsq] = found
        return found


#: The most views a :class:`CompiledViews` compiles for one type and VSQ octet (each a function of its own).
FLAT_VIEWS = 256


#: The most objects of a frame a view compiled for one VSQ octet writes (more: the view with a loop).
FLAT_OBJECTS = 16


@cache
def decimals() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The decimal texts of 0..65535 (``U[i]``) and of -32768..32767 (``S[i]``, the negative ones by
    negative index), read by the compiled views instead of formatting each integer: a tuple item
    costs about a third of an f-string's integer field (built once, on the first view; about 5 MiB).
    """
    unsigned = tuple(map(str, range(1 << 16)))
    return unsigned, unsigned[: 1 << 15] + tuple(map(str, range(-(1 << 15), 0)))


def ioa_text(expr: str) -> str:
    """A field of a compiled view's f-string: the decimal text of the IOA ``expr`` (0..16777215),
    from ``U`` (:func:`decimals`) below 65536; the view's globals hold ``U``, its locals no ``x``."""
    return f"{{U[x] if (x := {expr}) < 65536 else x}}"


#: Fields of one f-string in generated source at most: CPython 3.11 builds an f-string of more
#: than 30 parts (fields and the text between them) through a list and ``str.join``.
FSTRING_FIELDS = 14


def joined_fstring(body: str) -> str:
    """Source of the text of the f-string ``f'<body>'``: itself, or ``''.join`` of f-strings of at
    most :data:`FSTRING_FIELDS` fields each (about a tenth faster for the long ones of the compiled
    views). ``body`` is generated source: its fields hold no braces, its literal braces are doubled.
    """
    pieces, start, fields, depth, i = [], 0, 0, 0, 0
    while i < len(body):
        pair = body[i : i + 2]
        if depth == 0 and pair in ("{{", "}}"):
            i += 2
            continue
        if body[i] == "{":
            depth += 1
        elif body[i] == "}":
            depth -= 1
            fields += depth == 0
            if depth == 0 and fields == FSTRING_FIELDS:
                pieces.append(body[start : i + 1])
                start, fields = i + 1, 0
        i += 1
    if start < len(body):
        pieces.append(body[start:])
    if len(pieces) <= 1:
        return f"f'{body}'"
    return "''.join((" + ", ".join(f"f'{piece}'" for piece in pieces) + "))"


def flat_plan(fmt: str, vsq: int) -> tuple[struct.Struct, list[tuple[str, int]]] | None:
    """Return how to read a whole frame whose VSQ octet is ``vsq`` in one ``unpack_from(frame, 2)``.

    ``None`` for no objects or more than :data:`FLAT_OBJECTS` (the views with a loop write those).

    ``fmt`` is one object's elements' format (:func:`unpack_plan`). The struct's values
    ``v`` are the head's seven (N(S) << 1, N(R) << 1, type, VSQ, COT, OA, CA), then per
    object its IOA's two (without SQ) and its elements' values; with SQ the one IOA comes
    before all elements. Per object: the source of its IOA (over ``v``, and ``a``: the SQ
    IOA, ``v[7] | v[8] << 16``) and the index in ``v`` of its first element value. Shared
    by the JSON text and table views compiled for one VSQ octet.
    """
    n, sq = vsq & 0x7F, vsq > 0x7F
    if not 0 < n <= FLAT_OBJECTS:
        return None
    size = len(struct.unpack("<" + fmt, bytes(struct.calcsize("<" + fmt)))) if fmt else 0
    objects = []
    for j in range(n):
        base = 9 + j * size if sq else 9 + j * (size + 2)
        objects.append((f"(a + {j}) & 0xFFFFFF" if sq else f"v[{base - 2}] | v[{base - 1}] << 16", base))
    return struct.Struct("<HHBBBBH" + ("HB" + fmt * n if sq else ("HB" + fmt) * n)), objects


def compile_json_view(
    type_id: int,
    element_json: ElementJson,
    names: tuple[Callable[[int], str], Callable[[int], str]],
    iso: Callable[[bytes], str | None],
) -> JsonFill | None:
    """Return the compiled JSON view of I-frames of ``type_id``, or ``None`` without a fixed-size layout.

    Args:
        type_id: The type identification.
        element_json: The general view of one element (``otwire.inspect.iec104.element_json``).
        names: The type and cause names of the general view (a number -> its mnemonic).
        iso: The ``iso`` text of a CP56Time2a's seven octets, as the general view gives it.

    Returns:
        ``fill(frame, out)``: adds ``format``, ``ns`` ... ``raw_information`` to ``out``, as
        ``out.update(apdu_json(decode_apdu(frame)))`` would, for a frame that decodes.
    """
    layout = LAYOUTS.get(type_id)
    if layout is None or element_size(layout) is None:
        return None
    env: dict[str, Any] = {"H": _HEAD, "TN": names[0](type_id), "CN": names[1], "NF": non_finite}
    env["CP56"] = _cp56_json(iso)
    fmt, starts = unpack_plan(layout)
    exprs0 = [
        _element_expr(cls, i, k + 2, element_json, env) for i, (cls, k) in enumerate(zip(layout, starts, strict=True))
    ]
    exprs1 = [
        _element_expr(cls, i, k, element_json, env) for i, (cls, k) in enumerate(zip(layout, starts, strict=True))
    ]
    env["S0"], env["S1"] = struct.Struct("<HB" + fmt), struct.Struct("<" + (fmt or "x"))
    exec(_source(exprs0, exprs1, fmt), env)
    fill: JsonFill = env["fill"]
    return fill


def _source(exprs0: list[str], exprs1: list[str], fmt: str) -> str:
    """The source of ``fill``, given the element expressions without (``v[k]``) and with SQ."""
    return (
        "def fill(frame, out):\n"
        "    ns, nr, t, vsq, cot, oa, ca = H.unpack_from(frame, 2)\n"
        "    n = vsq & 0x7F\n"
        "    if not n:\n"
        "        objects = []\n"
        "    elif vsq < 0x80:\n"
        "        if n == 1:\n"
        "            v = S0.unpack_from(frame, 12)\n"
        f"            objects = [{{'ioa': v[0] | v[1] << 16, 'elements': [{', '.join(exprs0)}]}}]\n"
        "        else:\n"
        f"            objects = [{{'ioa': v[0] | v[1] << 16, 'elements': [{', '.join(exprs0)}]}}\n"
        "                       for v in S0.iter_unpack(frame[12:])]\n"
        "    else:\n"
        "        a = frame[12] | frame[13] << 8 | frame[14] << 16\n"
        f"        objects = [{{'ioa': (a + i) & 0xFFFFFF, 'elements': [{', '.join(exprs1)}]}}\n"
        f"                   for i, v in {'enumerate(S1.iter_unpack(frame[15:]))' if fmt else 'enumerate(range(n))'}]\n"
        "    c = cot & 0x3F\n"
        "    out['format'] = 'I'\n"
        "    out['ns'] = ns >> 1\n"
        "    out['nr'] = nr >> 1\n"
        "    out['type_id'] = t\n"
        "    out['type'] = TN\n"
        "    out['sq'] = vsq > 0x7F\n"
        "    out['number'] = n\n"
        "    out['cot'] = c\n"
        "    out['cot_name'] = CN(c)\n"
        "    out['negative'] = cot & 0x40 != 0\n"
        "    out['test'] = cot > 0x7F\n"
        "    out['originator_address'] = oa\n"
        "    out['common_address'] = ca\n"
        "    out['objects'] = objects\n"
        "    out['raw_information'] = None\n"
    )


def _cp56_json(iso: Callable[[bytes], str | None]) -> Callable[[bytes], dict[str, Any]]:
    """Return the JSON view of CP56Time2a octets (``element_json`` of the element, the same keys in order)."""

    def view(t: bytes) -> dict[str, Any]:
        return {
            "element": "CP56Time2a",
            "raw": t.hex(),
            "year": t[6] & 0x7F,
            "month": t[5] & 0x0F,
            "day": t[4] & 0x1F,
            "day_of_week": t[4] >> 5,
            "hour": t[3] & 0x1F,
            "minute": t[2] & 0x3F,
            "milliseconds": t[0] | t[1] << 8,
            "invalid": t[2] > 0x7F,
            "summer_time": t[3] > 0x7F,
            "substituted": t[2] & 0x40 != 0,
            "iso": iso(t),
        }

    return view


def non_finite(value: float) -> str:
    """The general view's string of a non-finite float: ``NaN``, ``Infinity`` or ``-Infinity``."""
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
