"""The tree type of :mod:`otwire.inspect.detail` (apart, so that each protocol's tree builder can use it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["SHOWN", "DetailTree"]

#: Octets shown on one tree line before ``...``.
SHOWN: Final = 16


@dataclass(frozen=True, slots=True)
class DetailTree:
    """One field of a decoded frame and the fields inside it.

    Attributes:
        label: ``name: value`` text (``common address: 3``).
        offset: Offset of the field's first octet in the frame, when it owns whole octets.
        raw: The field's octets (empty when it is a part of an octet, or derived).
        children: The fields inside it, in wire order.
    """

    label: str
    offset: int | None = None
    raw: bytes = b""
    children: tuple[DetailTree, ...] = ()

    def lines(self, depth: int = 0, indent: str = "    ") -> Iterator[str]:
        """Yield one text line per node, children indented under their parent."""
        text = indent * depth + self.label
        if self.offset is not None:
            shown = self.raw[:SHOWN].hex(" ") + (" ..." if len(self.raw) > SHOWN else "")
            where = f"@{self.offset}" if len(self.raw) == 1 else f"@{self.offset}-{self.offset + len(self.raw) - 1}"
            text = f"{text:<56} {where:>9}  {shown}"
        yield text.rstrip()
        for child in self.children:
            yield from child.lines(depth + 1, indent)

    def render(self) -> str:
        """Return the tree as text, one line per node (see :meth:`lines`)."""
        return "\n".join(self.lines()) + "\n"

    def find(self, prefix: str) -> DetailTree | None:
        """Return the first node (depth first) whose label starts with ``prefix``, or ``None``."""
        if self.label.startswith(prefix):
            return self
        for child in self.children:
            found = child.find(prefix)
            if found is not None:
                return found
        return None


def _node(label: str, frame: bytes, start: int, end: int, *children: DetailTree) -> DetailTree:
    return DetailTree(label, start, bytes(frame[start:end]), tuple(children))
