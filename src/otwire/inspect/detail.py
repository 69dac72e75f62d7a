"""``otwire inspect -V`` and ``-x``: a detail tree and a hex dump under each record."""

from __future__ import annotations

from collections.abc import Iterator

from otwire.inspect.dissect import Row

__all__ = ["hex_dump", "row_extras"]


def hex_dump(data: bytes, indent: str = "    ") -> Iterator[str]:
    """Yield ``0000  68 04 07 00 ...  h...`` lines, 16 octets each (offset, hex, printable ASCII)."""
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        octets = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        yield f"{indent}{at:04x}  {octets:<47}  {text}"


def row_extras(row: Row, *, detail: bool, hexdump: bool) -> Iterator[str]:
    """Yield the lines shown under a table row: its detail tree (``-V``) and hex dump (``-x``)."""
    finding = row.finding
    if finding is None:
        return
    if hexdump:
        yield from hex_dump(finding.raw)
