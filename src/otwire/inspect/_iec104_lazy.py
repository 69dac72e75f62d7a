"""IEC 104 findings decoded on demand: the frames :func:`decodes` vouches for.

The dissector (:mod:`otwire.inspect.iec104`) gives such an APDU a :class:`DecodedOnDemand`
finding; its JSON view, summary counts and table cells are read from its octets, so it is
decoded only when something reads ``message`` (``-V``, Parquet, a library user).
"""

from __future__ import annotations

from typing import Any

from otwire.codecs.iec104 import decode_apdu
from otwire.codecs.iec104.apci import APDU
from otwire.codecs.iec104.layouts import LAYOUTS, element_size
from otwire.inspect.model import Finding, FindingKind
from otwire.inspect.records import Sender

__all__ = ["FRAME_SIZES", "DecodedOnDemand", "decodes"]


class DecodedOnDemand(Finding):
    """The finding of an APDU that :func:`decodes` vouches for: decoded when ``message`` is first read.

    The JSON view, the summary and the table read its octets (``apdu_json_into``,
    ``apdu_counted``, ``apdu_cells_of`` in :mod:`otwire.inspect.iec104`); ``-V``, Parquet
    and library users read ``message``.
    """

    __slots__ = ()

    def __init__(
        self,
        kind: FindingKind,
        offset: int,
        raw: bytes,
        message: Any = None,
        error: str | None = None,
        error_offset: int | None = None,
        sender: Sender | None = None,
    ) -> None:
        """Finding's ``__init__``, but the message slot is set directly (not through the property)."""
        self.kind = kind
        self.offset = offset
        self.raw = raw
        _SET_MESSAGE(self, message)
        self.error = error
        self.error_offset = error_offset
        self.sender = sender

    @property
    def message(self) -> APDU:
        """The decoded APDU (decoded once)."""
        apdu: APDU | None = _MESSAGE.__get__(self)
        if apdu is None:
            apdu = decode_apdu(self.raw)
            _MESSAGE.__set__(self, apdu)
        return apdu

    @message.setter
    def message(self, value: APDU | None) -> None:
        _MESSAGE.__set__(self, value)

    def __eq__(self, other: object) -> bool:
        """Equal to any :class:`Finding` with equal fields, as a plain ``Finding`` would be (decodes to compare)."""
        if not isinstance(other, Finding):
            return NotImplemented
        return _fields(self) == _fields(other)

    __hash__ = None  # type: ignore[assignment]  # as Finding's (a mutable dataclass)


def _fields(finding: Finding) -> tuple[Any, ...]:
    return (
        finding.kind,
        finding.offset,
        finding.raw,
        finding.message,
        finding.error,
        finding.error_offset,
        finding.sender,
    )


_MESSAGE: Any = Finding.__dict__["message"]  # the slot behind DecodedOnDemand.message
_SET_MESSAGE = _MESSAGE.__set__


def decodes(frame: bytes) -> bool:
    """Whether :func:`decode_apdu` decodes this framed APDU (a :class:`RawAPDU`'s octets) for sure.

    ``True`` for an I-frame whose type has a fixed-size layout and whose information part has
    the size its VSQ says (:data:`FRAME_SIZES`); ``False`` for every other frame (which may
    decode or not). ``tests/inspect/test_iec104_json.py`` checks that ``True`` is never wrong.
    """
    return len(frame) >= 12 and not (frame[2] | frame[4]) & 1 and FRAME_SIZES[frame[6] << 8 | frame[7]] == len(frame)


class _FrameSizes(dict[int, int]):
    """``type_id << 8 | VSQ octet`` -> octets of the whole frame (from 0x68), 0 for a type without
    a fixed-size layout; each computed on its first lookup."""

    def __missing__(self, key: int) -> int:
        size = _OBJECT_SIZES.get(key >> 8)
        vsq = key & 0xFF
        n = vsq & 0x7F
        octets = 0 if size is None else 12 + ((3 + n * size if n else 0) if vsq > 0x7F else n * (3 + size))
        self[key] = octets
        return octets


#: The frames :func:`decodes` vouches for: those whose length is this (by type and VSQ octet).
FRAME_SIZES: dict[int, int] = _FrameSizes()
#: type_id -> element octets per object, for the types with a fixed-size layout.
_OBJECT_SIZES: dict[int, int] = {
    int(t): size for t, layout in LAYOUTS.items() if (size := element_size(layout)) is not None
}
