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

__all__ = ["DecodedOnDemand", "decodes"]


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
    the size its VSQ says; ``False`` for every other frame (which may decode or not).
    ``tests/inspect/test_iec104_json.py`` checks that ``True`` is never wrong.
    """
    n = len(frame)
    if n < 12 or frame[2] & 1 or frame[4] & 1:
        return False
    size = _OBJECT_SIZES.get(frame[6])
    if size is None:
        return False
    vsq = frame[7]
    if vsq > 0x7F:
        return n - 12 == (3 + (vsq & 0x7F) * size if vsq & 0x7F else 0)
    return n - 12 == vsq * (3 + size)


#: type_id -> element octets per object, for the types with a fixed-size layout.
_OBJECT_SIZES: dict[int, int] = {
    int(t): size for t, layout in LAYOUTS.items() if (size := element_size(layout)) is not None
}
