"""The table cells of IEC 104 I-frames built straight from their octets (the fast equal of ``apdu_cells``).

:func:`compile_cells_view` generates, once per type identification with a fixed-size layout,
a function that reads an APDU frame with :mod:`struct` and returns the six table cells
without the element dataclasses, as :mod:`otwire.inspect._iec104_json` does for JSON. The
text of each one-octet element is taken from the general view (``element_text`` over the
256 octets); R32, SVA, NVA, BSI and CP16Time2a are formatted from the struct values as
``element_text`` formats them; CP56Time2a by the given function; the other elements through
``element_text`` of the decoded element. Given the VSQ octet too, it builds the cells of a
frame with that octet without a loop over the objects (as the JSON text views do).
``tests/inspect/test_iec104_json.py`` proves every type, both ways, equal to
``apdu_cells(decode_apdu(frame))`` (hypothesis).

Only for frames :func:`~otwire.codecs.iec104.decode_apdu` decodes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.layouts import LAYOUTS, element_size
from otwire.inspect._iec104_json import decimals, flat_plan, ioa_text, joined_fstring, unpack_plan

__all__ = ["CellsOf", "compile_cells_view"]

#: A compiled view: ``cells(frame)``, the six cells of ``otwire.inspect.iec104.COLUMNS``.
CellsOf = Callable[[bytes], tuple[str, ...]]

#: The APCI control octets and the ASDU header, from octet 2: N(S) << 1, N(R) << 1, type, VSQ, COT, OA, CA.
_HEAD = struct.Struct("<HHBBBBH")
#: Elements formatted from their struct value (``V`` stands for it), as ``element_text`` does: f-string
#: fields; an integer's decimal text is read from ``U`` or ``S`` (:func:`~otwire.inspect._iec104_json.decimals`).
_FORMATTED: dict[type[el.Element], str] = {
    el.R32: "{V:g}",
    el.SVA: "{S[V]}",  # an int16: "g" would write it the same (below 10**6)
    el.NVA: "{V / 32768:.5g}",
    el.BSI: "{V:#010x}",
    el.CP16Time2a: "{U[V]}ms",
}


def _text_expr(cls: type[el.Element], i: int, k: int, element_text: Callable[[Any], str], env: dict[str, Any]) -> str:
    """The f-string part (fields in braces, no quotes) giving the text of element ``i`` (raw values from ``v[k]``)."""
    if issubclass(cls, el.OctetElement):
        env[f"T{i}"] = tuple(element_text(cls._TABLE[octet]) for octet in range(256))
        return f"{{T{i}[v[{k}]]}}"
    if cls in _FORMATTED:
        return _FORMATTED[cls].replace("V", f"v[{k}]")
    if cls is el.CP56Time2a:
        return f"{{CP56(v[{k}])}}"
    env[f"C{i}"], env["ET"] = cls.from_raw, element_text
    count = 1 if cls.FORMAT.endswith("s") else len(cls.FORMAT)
    return f"{{ET(C{i}({', '.join(f'v[{k + j}]' for j in range(count))}))}}"


def compile_cells_view(
    type_id: int,
    element_text: Callable[[Any], str],
    names: tuple[Callable[[int], str], Callable[[int], str]],
    cp56_text: Callable[[bytes], str],
    vsq: int | None = None,
) -> CellsOf | None:
    """Return the compiled table view of I-frames of ``type_id``, or ``None`` without a fixed-size layout.

    With ``vsq`` (the variable structure qualifier octet), the view is for frames with exactly
    that octet: one ``unpack_from`` and one f-string, without a loop over the objects
    (``None`` where :func:`~otwire.inspect._iec104_json.flat_plan` gives none).

    Args:
        type_id: The type identification.
        element_text: The general text of one element (``otwire.inspect.iec104.element_text``).
        names: The type and cause names of the general view (a number -> its mnemonic).
        cp56_text: The text of a CP56Time2a's seven octets, as ``element_text`` gives it.
        vsq: The VSQ octet (octet 7 of the frame) of the frames the view is for, or ``None`` for any.

    Returns:
        ``cells(frame)``: what ``apdu_cells(decode_apdu(frame))`` returns, for a frame that decodes.
    """
    layout = LAYOUTS.get(type_id)
    if layout is None or element_size(layout) is None:
        return None
    name = names[0](type_id)
    env: dict[str, Any] = {"H": _HEAD, "TN": name, "TNSQ": name + " SQ", "CN": names[1], "CP56": cp56_text}
    env["U"], env["S"] = decimals()
    fmt, starts = unpack_plan(layout)
    source: str | None
    if vsq is None:
        source = _loop_source(layout, fmt, starts, element_text, env)
    elif (source := _flat_source(layout, fmt, starts, vsq, element_text, env)) is None:
        return None
    exec(source, env)
    cells: CellsOf = env["cells"]
    return cells


def _loop_source(
    layout: tuple[type[el.Element], ...],
    fmt: str,
    starts: tuple[int, ...],
    element_text: Callable[[Any], str],
    env: dict[str, Any],
) -> str:
    """The source of ``cells`` for frames of any VSQ octet: a loop over the objects."""
    texts0 = [
        _text_expr(cls, i, k + 2, element_text, env) for i, (cls, k) in enumerate(zip(layout, starts, strict=True))
    ]
    texts1 = [_text_expr(cls, i, k, element_text, env) for i, (cls, k) in enumerate(zip(layout, starts, strict=True))]
    env["S0"], env["S1"] = struct.Struct("<HB" + fmt), struct.Struct("<" + (fmt or "x"))
    each1 = "enumerate(S1.iter_unpack(frame[15:]))" if fmt else "enumerate(range(n))"
    return (
        "def cells(frame):\n"
        "    ns, nr, t, vsq, cot, oa, ca = H.unpack_from(frame, 2)\n"
        "    n = vsq & 0x7F\n"
        "    if not n:\n"
        "        objects = ''\n"
        "    elif vsq < 0x80:\n"
        f"        objects = '; '.join([f'{ioa_text('v[0] | v[1] << 16')}: {' '.join(texts0)}'\n"
        "                             for v in S0.iter_unpack(frame[12:])])\n"
        "    else:\n"
        "        a = frame[12] | frame[13] << 8 | frame[14] << 16\n"
        f"        objects = '; '.join([f'{ioa_text('(a + i) & 0xFFFFFF')}: {' '.join(texts1)}'\n"
        f"                             for i, v in {each1}])\n"
        "    c = CN(cot & 0x3F) + (' NEG' if cot & 0x40 else '') + (' TEST' if cot > 0x7F else '')\n"
        "    return ('I', f'{U[ns >> 1]}/{U[nr >> 1]}', TNSQ if vsq > 0x7F else TN, c, U[ca], objects)\n"
    )


def _flat_source(
    layout: tuple[type[el.Element], ...],
    fmt: str,
    starts: tuple[int, ...],
    vsq: int,
    element_text: Callable[[Any], str],
    env: dict[str, Any],
) -> str | None:
    """The source of ``cells`` for frames whose VSQ octet is ``vsq``: one unpack, one f-string of the
    objects (``v``: see :func:`~otwire.inspect._iec104_json.flat_plan`); ``None`` where that gives no plan."""
    planned = flat_plan(fmt, vsq)
    if planned is None:
        return None
    sq = vsq > 0x7F
    env["SF"], plan = planned
    pairs = list(enumerate(zip(layout, starts, strict=True)))
    objects = []
    for ioa, base in plan:
        texts = " ".join(_text_expr(cls, i, k + base, element_text, env) for i, (cls, k) in pairs)
        objects.append(f"{ioa_text(ioa)}: {texts}")
    return (
        "def cells(frame):\n"
        "    v = SF.unpack_from(frame, 2)\n"
        "    cot = v[4]\n"
        + ("    a = v[7] | v[8] << 16\n" if sq else "")
        + "    c = CN(cot & 0x3F) + (' NEG' if cot & 0x40 else '') + (' TEST' if cot > 0x7F else '')\n"
        + f"    return ('I', f'{{U[v[0] >> 1]}}/{{U[v[1] >> 1]}}', {'TNSQ' if sq else 'TN'}, c, U[v[6]],"
        + f" {joined_fstring('; '.join(objects))})\n"
    )
