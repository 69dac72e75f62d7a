"""What a stream dissector reports, independent of the protocol."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

FindingKind = Literal["apdu", "error", "junk"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found in a stream: a decoded message, a malformed frame or junk.

    Attributes:
        kind: ``"apdu"`` (decoded), ``"error"`` (malformed frame) or ``"junk"``.
        offset: Stream offset of the first octet (octets since the stream started).
        raw: The octets.
        message: The decoded message for ``"apdu"``.
        error: One-line description for ``"error"`` and ``"junk"``.
        error_offset: Offset within ``raw`` where decoding failed.
    """

    kind: FindingKind
    offset: int
    raw: bytes
    message: Any = None
    error: str | None = None
    error_offset: int | None = None


@dataclass(frozen=True, slots=True)
class ProtocolView:
    """How one protocol's decoded messages are shown: JSON, table columns and summary names.

    Attributes:
        json: Message -> JSON-ready dict (merged into the record).
        columns: Message -> the table's ``format``, ``seq``, ``type``, ``cot``, ``ca``, ``objects``.
        format: Message -> a short format tag counted in the summary (``"I"``, ``"EV"``, ...).
        type_name: Message -> the type counted in the summary, or ``None``.
    """

    json: Callable[[Any], dict[str, Any]]
    columns: Callable[[Any], dict[str, str]]
    format: Callable[[Any], str]
    type_name: Callable[[Any], str | None]
