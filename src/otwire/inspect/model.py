"""What a dissector is and reports, independent of the protocol.

A :class:`Dissector` is given both directions of one TCP conversation, in capture order
(an HTTP dissector needs the request to read its response). Protocols whose frames stand
alone in each direction (IEC 104, IMB3) write a :class:`StreamDissector` for one direction
and get the conversation dissector from :class:`PerSender`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from otwire.inspect.records import Finding, FindingKind, Sender

__all__ = [
    "Column",
    "Dissector",
    "Finding",
    "FindingKind",
    "PerSender",
    "ProtocolView",
    "StreamDissector",
]


class Dissector(Protocol):
    """Both directions of one TCP conversation of one protocol; sans-IO, bounded memory."""

    def feed(self, sender: Sender, data: bytes) -> Iterable[Finding]:
        """Consume the next octets ``sender`` sent; return the findings they complete."""
        ...

    def end(self, sender: Sender) -> Iterable[Finding]:
        """``sender``'s stream ended or broke (gap): report leftovers; its next octets start afresh."""
        ...


class StreamDissector(Protocol):
    """One direction of one conversation, for protocols whose directions are independent."""

    def feed(self, data: bytes) -> Iterable[Finding]:
        """Consume octets; return or yield complete findings."""
        ...

    def close(self) -> Iterable[Finding]:
        """End of stream; return or yield leftovers."""
        ...


class PerSender:
    """A :class:`Dissector` made of one :class:`StreamDissector` per sender.

    Subclasses set :attr:`stream`; each sender gets its own on its first octets, and
    again after :meth:`end` (so a gap resynchronises that direction only).
    """

    stream: ClassVar[Callable[[], StreamDissector]]

    def __init__(self) -> None:
        self._streams: dict[Sender, StreamDissector] = {}

    def feed(self, sender: Sender, data: bytes) -> Iterable[Finding]:
        """Feed ``sender``'s stream dissector."""
        stream = self._streams.get(sender)
        if stream is None:
            stream = self._streams[sender] = type(self).stream()
        return stream.feed(data)

    def end(self, sender: Sender) -> Iterable[Finding]:
        """Close ``sender``'s stream dissector, if it has one."""
        stream = self._streams.pop(sender, None)
        return stream.close() if stream is not None else ()


@dataclass(frozen=True, slots=True)
class Column:
    """One protocol-specific column of the text table.

    Attributes:
        label: The header text.
        width: Characters, the cell padded to it; 0 for the last column (never padded).
        align: ``"<"`` (left) or ``">"`` (right).
    """

    label: str
    width: int = 0
    align: Literal["<", ">"] = "<"

    def cell(self, text: str) -> str:
        """Return ``text`` padded to the column (longer text is kept whole)."""
        return f"{text:{self.align}{self.width}}" if self.width else text


@dataclass(frozen=True, slots=True)
class ProtocolView:
    """How one protocol's decoded messages are shown: JSON, table columns and summary names.

    Attributes:
        json: Message -> JSON-ready dict (merged into the record).
        columns: The table columns after the common ``time``, ``str``, ``dir``.
        cells: Message -> one text per column.
        format: Message -> a short format tag counted in the summary (``"I"``, ``"EV"``, ...).
        type_name: Message -> the type counted in the summary, or ``None``.
        json_into: ``(finding, out)``: add the keys of ``json(finding.message)`` to the dict ``out``,
            reading the finding's octets where that is faster (the same keys and values, proven
            by a differential test; a dissector may then decode the message only when asked);
            ``None``: ``out.update(json(finding.message))``.
        counted: ``finding -> (format(message), type_name(message))``, read from the finding's
            octets where that is faster (the summary's counts); ``None``: from the message.
        cells_of: ``finding -> cells(finding.message)``, read from the finding's octets where
            that is faster (proven equal by a differential test); ``None``: from the message.
        json_text: ``finding -> text | None``: the keys of ``json(finding.message)`` as JSON text
            (``"format":"I",...`` without braces), byte-equal to what :mod:`msgspec` writes for
            them (proven by a differential test), read from the finding's octets; ASCII only
            (``None`` where it would not be); ``None`` (the function's result or the
            attribute): the record is encoded from its dict.
    """

    json: Callable[[Any], dict[str, Any]]
    columns: tuple[Column, ...]
    cells: Callable[[Any], tuple[str, ...]]
    format: Callable[[Any], str]
    type_name: Callable[[Any], str | None]
    json_into: Callable[[Finding, dict[str, Any]], None] | None = None
    counted: Callable[[Finding], tuple[str, str | None]] | None = None
    cells_of: Callable[[Finding], tuple[str, ...]] | None = None
    json_text: Callable[[Finding], str | None] | None = None
