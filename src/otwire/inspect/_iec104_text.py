"""The JSON text of IEC 104 I-frames written straight from their octets (the fast equal of ``apdu_json``).

:func:`compile_json_text` generates, once per type identification with a fixed-size layout,
a function that reads an I-frame with :mod:`struct` (the plan of
:func:`~otwire.inspect._iec104_json.unpack_plan`) and returns the JSON text of its keys
``"format"`` ... ``"raw_information"``, exactly as :mod:`msgspec` encodes the dict of
``apdu_json(decode_apdu(frame))``: no dicts are built. One-octet elements come from
256-entry tables of their encoded general view; integers up to 16 bits are read from
tables of their decimal text (:func:`~otwire.inspect._iec104_json.decimals`), larger ones
written with ``%d``; floats by msgspec itself; the other elements encode their general
view. Given the VSQ octet too, it writes a frame with that octet (up to
:data:`~otwire.inspect._iec104_json.FLAT_OBJECTS` objects) by one ``unpack_from`` and one
f-string, with no loop over the objects and CP56Time2a keys inline.
``tests/inspect/test_json_lines.py`` proves every type byte-equal to the encoded dict, and
``tests/inspect/test_iec104_json.py`` the per-VSQ views equal to the views with a loop
(hypothesis).

Only for frames :func:`~otwire.codecs.iec104.decode_apdu` decodes without error: the
function checks nothing (the dissector decoded or vouched for the frame first).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import msgspec

from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.layouts import LAYOUTS, element_size
from otwire.inspect._iec104_json import (
    ElementJson,
    decimals,
    flat_plan,
    ioa_text,
    joined_fstring,
    non_finite,
    unpack_plan,
)

__all__ = ["JsonText", "compile_json_text", "float_text", "json_text"]

#: A compiled view: ``text(frame)`` is the JSON text of the APDU's keys (no braces).
JsonText = Callable[[bytes], str]

_encode = msgspec.json.Encoder().encode

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


def json_text(value: object) -> str:
    """Return ``value`` as msgspec encodes it, as text."""
    return _encode(value).decode()


def float_text(value: float) -> str:
    """Return a float's JSON text as msgspec writes it (a quarter of ``repr``'s time for most floats)."""
    return _encode(value).decode()


def _non_finite_text(value: float) -> str:
    """The JSON text of a non-finite R32 value: the general view's string (quoted)."""
    return f'"{non_finite(value)}"'


def _element_text(cls: type[el.Element], i: int, k: int, element_json: ElementJson, env: dict[str, Any]) -> str:
    """Source of the JSON text of element ``i`` (raw values from ``v[k]``), as a piece of an f-string.

    A CP56Time2a's keys are written in the f-string itself, through the local ``t`` (the
    general view's keys, in order; its ``iso`` text has digits and ``-:.T`` only, no escapes).
    """
    if issubclass(cls, el.OctetElement):
        env[f"O{i}"] = tuple(json_text(element_json(cls._TABLE[octet])) for octet in range(256))
        return f"{{O{i}[v[{k}]]}}"
    if cls is el.R32:  # msgspec's text of a finite value (r - r is 0), else the general view's string
        value = f"(E(r).decode() if (r := v[{k}]) - r == 0 else R(r))"
        return f'{{{{"element":"R32","value":{{{value}}}}}}}'
    if cls is el.NVA:
        return f'{{{{"element":"NVA","raw":{{S[v[{k}]]}},"value":{{F(v[{k}] / 32768)}}}}}}'
    if cls in _PLAIN:
        value = {"h": f"S[v[{k}]]", "H": f"U[v[{k}]]"}.get(cls.FORMAT, f"v[{k}]")  # a table's text, or %d's
        return f'{{{{"element":"{cls.__name__}","{_PLAIN[cls]}":{{{value}}}}}}}'
    if cls is el.CP56Time2a:
        return (
            f'{{{{"element":"CP56Time2a","raw":"{{(t := v[{k}]).hex()}}","year":{{U[t[6] & 0x7F]}},'
            '"month":{U[t[5] & 0x0F]},"day":{U[t[4] & 0x1F]},"day_of_week":{U[t[4] >> 5]},"hour":{U[t[3] & 0x1F]},'
            '"minute":{U[t[2] & 0x3F]},"milliseconds":{U[t[0] | t[1] << 8]},"invalid":{B[t[2] > 0x7F]},'
            '"summer_time":{B[t[3] > 0x7F]},"substituted":{B[t[2] >> 6 & 1]},"iso":{QT.get(t) or QI(t)}}}'
        )
    env[f"C{i}"] = cls.from_raw
    count = 1 if cls.FORMAT.endswith("s") else len(cls.FORMAT)
    return f"{{J(EJ(C{i}({', '.join(f'v[{k + j}]' for j in range(count))})))}}"


def compile_json_text(
    type_id: int,
    element_json: ElementJson,
    names: tuple[Callable[[int], str], Callable[[int], str]],
    iso: Callable[[bytes], str | None],
    vsq: int | None = None,
) -> JsonText | None:
    """Return the compiled JSON text view of I-frames of ``type_id``, or ``None`` without a fixed-size layout.

    With ``vsq`` (the variable structure qualifier octet), the view is for frames with
    exactly that octet only: the whole frame is read by one ``unpack_from`` and written by
    one f-string, without a loop over the objects (``None`` where
    :func:`~otwire.inspect._iec104_json.flat_plan` gives none).

    Args:
        type_id: The type identification.
        element_json: The general view of one element (``otwire.inspect.iec104.element_json``).
        names: The type and cause names of the general view (a number -> its mnemonic).
        iso: The ``iso`` text of a CP56Time2a's seven octets, as the general view gives it.
        vsq: The VSQ octet (octet 7 of the frame) of the frames the view is for, or ``None`` for any.

    Returns:
        ``text(frame)``: ``"format":"I","ns":...,"raw_information":null`` (the keys of
        ``apdu_json(decode_apdu(frame))`` as msgspec encodes them, without the braces), for
        a frame that decodes.
    """
    layout = LAYOUTS.get(type_id)
    if layout is None or element_size(layout) is None:
        return None
    env = _env(element_json, names[1], iso)
    fmt, starts = unpack_plan(layout)
    pairs = list(enumerate(zip(layout, starts, strict=True)))
    name = json_text(names[0](type_id))
    assert "'" not in name and "\\" not in name and "{" not in name, name  # a literal of the f-string
    source: str | None
    if vsq is None:
        source = _loop_source(type_id, name, fmt, pairs, element_json, env)
    elif (source := _flat_source(type_id, name, vsq, fmt, pairs, element_json, env)) is None:
        return None
    exec(source, env)
    text: JsonText = env["text"]
    return text


def _env(
    element_json: ElementJson, cot_name: Callable[[int], str], iso: Callable[[bytes], str | None]
) -> dict[str, Any]:
    """The names the generated source of a view reads (each view gets its own)."""
    quoted: dict[bytes, str] = {}  # the text QI(t) by t: read in the f-string, filled (bounded) by QI
    unsigned, signed = decimals()
    return {
        "H": _HEAD,
        "R": _non_finite_text,
        "E": _encode,
        "F": float_text,
        "EJ": element_json,
        "J": json_text,
        "QT": quoted,
        "QI": _quoted_iso(iso, quoted),
        "CN": tuple(json_text(cot_name(c)) for c in range(64)),
        "B": ("false", "true"),
        "U": unsigned,
        "S": signed,
    }


def _flat_source(
    type_id: int,
    name: str,
    vsq: int,
    fmt: str,
    pairs: list[tuple[int, tuple[type[el.Element], int]]],
    element_json: ElementJson,
    env: dict[str, Any],
) -> str | None:
    """The source of ``text`` for frames whose VSQ octet is ``vsq``: one unpack, one f-string (``v``: see
    :func:`~otwire.inspect._iec104_json.flat_plan`); ``None`` where that gives no plan."""
    planned = flat_plan(fmt, vsq)
    if planned is None:
        return None
    n, sq = vsq & 0x7F, vsq > 0x7F
    env["SF"], plan = planned
    objects = []
    for ioa, base in plan:
        elements = ",".join(_element_text(cls, i, k + base, element_json, env) for i, (cls, k) in pairs)
        objects.append(f'{{{{"ioa":{ioa_text(ioa)},"elements":[{elements}]}}}}')
    text = (
        f'"format":"I","ns":{{U[v[0] >> 1]}},"nr":{{U[v[1] >> 1]}},"type_id":{type_id},"type":{name},'
        f'"sq":{"true" if sq else "false"},"number":{n},"cot":{{c}},"cot_name":{{CN[c]}},'
        '"negative":{B[cot & 0x40 != 0]},"test":{B[cot > 0x7F]},"originator_address":{U[v[5]]},'
        f'"common_address":{{U[v[6]]}},"objects":[{",".join(objects)}],"raw_information":null'
    )
    return (
        "def text(frame):\n"
        "    v = SF.unpack_from(frame, 2)\n"
        "    cot = v[4]\n"
        "    c = cot & 0x3F\n" + ("    a = v[7] | v[8] << 16\n" if sq else "") + f"    return {joined_fstring(text)}\n"
    )


def _loop_source(
    type_id: int,
    name: str,
    fmt: str,
    pairs: list[tuple[int, tuple[type[el.Element], int]]],
    element_json: ElementJson,
    env: dict[str, Any],
) -> str:
    """The source of ``text`` for frames of any VSQ octet: a loop over the objects."""
    elements0 = ",".join(_element_text(cls, i, k + 2, element_json, env) for i, (cls, k) in pairs)
    elements1 = ",".join(_element_text(cls, i, k, element_json, env) for i, (cls, k) in pairs)
    tail = (
        f'"format":"I","ns":{{U[ns >> 1]}},"nr":{{U[nr >> 1]}},"type_id":{type_id},"type":{name},'
        '"sq":{B[vsq > 0x7F]},"number":{U[n]},"cot":{c},"cot_name":{CN[c]},"negative":{B[cot & 0x40 != 0]},'
        '"test":{B[cot > 0x7F]},"originator_address":{U[oa]},"common_address":{U[ca]},"objects":[{objects}],'
        '"raw_information":null'
    )
    env["S0"], env["S1"] = struct.Struct("<HB" + fmt), struct.Struct("<" + (fmt or "x"))
    return _source(
        f'{{{{"ioa":{ioa_text("v[0] | v[1] << 16")},"elements":[{elements0}]}}}}',
        f'{{{{"ioa":{ioa_text("(a + i) & 0xFFFFFF")},"elements":[{elements1}]}}}}',
        tail,
        fmt,
    )


def _source(object0: str, object1: str, tail: str, fmt: str) -> str:
    """The source of ``text``: f-string bodies of one object without (``v[k]``) and with SQ, and of the rest."""
    return (
        "def text(frame):\n"
        "    ns, nr, t, vsq, cot, oa, ca = H.unpack_from(frame, 2)\n"
        "    n = vsq & 0x7F\n"
        "    c = cot & 0x3F\n"
        "    if not n:\n"
        "        objects = ''\n"
        "    elif vsq < 0x80:\n"
        "        if n == 1:\n"
        "            v = S0.unpack_from(frame, 12)\n"
        f"            objects = f'{object0}'\n"
        "        else:\n"
        f"            objects = ','.join([f'{object0}' for v in S0.iter_unpack(frame[12:])])\n"
        "    else:\n"
        "        a = frame[12] | frame[13] << 8 | frame[14] << 16\n"
        f"        objects = ','.join([f'{object1}'\n"
        f"            for i, v in {'enumerate(S1.iter_unpack(frame[15:]))' if fmt else 'enumerate(range(n))'}])\n"
        f"    return f'{tail}'\n"
    )


def _quoted_iso(iso: Callable[[bytes], str | None], texts: dict[bytes, str]) -> Callable[[bytes], str]:
    """Return the JSON text of ``iso(t)`` (``null`` or the quoted text: digits and ``-:.T``, no escapes).

    The text is also kept in ``texts`` (at most 4,096 entries), where the compiled views read it first.
    """

    def quoted(t: bytes) -> str:
        when = iso(t)
        text = "null" if when is None else f'"{when}"'
        if len(texts) >= 4096:
            texts.clear()
        texts[t] = text
        return text

    return quoted
