"""What a stream dissector reports, independent of the protocol."""

from __future__ import annotations

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
