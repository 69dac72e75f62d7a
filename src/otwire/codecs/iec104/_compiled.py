"""Generated per-layout codecs of IEC 104 information objects (the ``struct`` fast paths of :mod:`.asdu`).

:func:`compile_objects_decoder` and :func:`compile_objects_encoder` write the source of one
layout's decoder or encoder and ``exec`` it (like construct's ``compile``). :mod:`.asdu` calls
them on the first use of each type identification, so start-up compiles none of the 60 layouts.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from otwire.codecs._base import fast_constructor
from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.layouts import Layout

#: ``decode(data, start, end, sq, n)``: the ``n`` objects in ``data[start:end]`` (``sq``: one IOA, consecutive).
ObjectsDecoder = Callable[[bytes, int, int, bool, int], tuple[Any, ...]]
#: ``encode(objects, sq)``: the information part of the objects (at least one).
ObjectsEncoder = Callable[[tuple[Any, ...], bool], bytes]


def _raw_count(cls: type[el.Element]) -> int:
    """Number of raw values ``struct`` yields for one element (``"7s"`` is one value)."""
    return 1 if cls.FORMAT.endswith("s") else len(cls.FORMAT)


def _element_expr(cls: type[el.Element], i: int, k: int, env: dict[str, Any]) -> str:
    """Source of an expression building element ``i`` from raw values ``v[k]...``."""
    if issubclass(cls, el.OctetElement):
        env[f"T{i}"] = cls._TABLE
        return f"T{i}[v[{k}]]"
    if _raw_count(cls) == 1:
        env[f"F{i}"] = fast_constructor(cls)
        return f"F{i}(v[{k}])"
    env[f"C{i}"] = cls.from_raw
    return f"C{i}({', '.join(f'v[{k + j}]' for j in range(_raw_count(cls)))})"


def compile_objects_decoder(layout: Layout, make_object: Callable[[int, tuple[Any, ...]], Any]) -> ObjectsDecoder:
    """Generate the objects decoder of one fixed-size layout.

    Args:
        layout: The element classes of one object, in wire order (no ``Segment``).
        make_object: Builds one information object from its IOA and elements (unchecked).

    Returns:
        The decoder; it trusts the caller to have checked that ``end - start`` fits ``n`` objects.
    """
    fmt = "".join(cls.FORMAT for cls in layout)
    env: dict[str, Any] = {
        "IO": make_object,
        "S0": struct.Struct("<HB" + fmt),
        "S1": struct.Struct("<" + fmt),
    }
    exprs0, exprs1, k0, k1 = [], [], 2, 0
    for i, cls in enumerate(layout):
        exprs0.append(_element_expr(cls, i, k0, env))
        exprs1.append(_element_expr(cls, i, k1, env))
        k0 += _raw_count(cls)
        k1 += _raw_count(cls)
    tuple0 = f"({', '.join(exprs0)}{',' if exprs0 else ''})"
    tuple1 = f"({', '.join(exprs1)}{',' if exprs1 else ''})"
    seq = (
        f"[IO((ioa + i) & 0xFFFFFF, {tuple1}) for i, v in enumerate(S1.iter_unpack(data[start + 3:end]))]"
        if fmt
        else "[IO((ioa + i) & 0xFFFFFF, ()) for i in range(n)]"
    )
    source = (
        "def decode(data, start, end, sq, n):\n"
        "    if not sq:\n"
        "        if n == 1:\n"
        "            v = S0.unpack_from(data, start)\n"
        f"            return (IO(v[0] | v[1] << 16, {tuple0}),)\n"
        f"        return tuple([IO(v[0] | v[1] << 16, {tuple0}) for v in S0.iter_unpack(data[start:end])])\n"
        "    ioa = data[start] | data[start + 1] << 8 | data[start + 2] << 16\n"
        f"    return tuple({seq})\n"
    )
    exec(source, env)
    return env["decode"]  # type: ignore[no-any-return]


def compile_objects_encoder(layout: Layout) -> ObjectsEncoder:
    """Generate the objects encoder of one fixed-size layout (mirror of the decoder).

    The encoder raises ``struct.error`` or ``OverflowError`` for a value that does not fit its field.
    """
    fmt = "".join(cls.FORMAT for cls in layout)
    env: dict[str, Any] = {"S0": struct.Struct("<HB" + fmt), "S1": struct.Struct("<" + fmt)}
    raws = ", ".join(f"*e[{i}].to_raw()" for i in range(len(layout)))
    tail = f", {raws}" if raws else ""
    source = (
        "def encode(objects, sq):\n"
        "    if sq:\n"
        "        out = [objects[0].ioa.to_bytes(3, 'little')]\n"
        "        for o in objects:\n"
        "            e = o.elements\n"
        f"            out.append(S1.pack({raws}))\n"
        "        return b''.join(out)\n"
        "    out = []\n"
        "    for o in objects:\n"
        "        e = o.elements\n"
        f"        out.append(S0.pack(o.ioa & 0xFFFF, o.ioa >> 16{tail}))\n"
        "    return b''.join(out)\n"
    )
    exec(source, env)
    return env["encode"]  # type: ignore[no-any-return]
