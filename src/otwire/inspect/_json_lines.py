"""JSON lines of decoded rows written as text, without building their dicts.

:class:`TextLines` writes the line of an ``apdu`` row whose protocol view has
``json_text`` (:class:`~otwire.inspect.model.ProtocolView`): the common keys
(``source`` ... ``raw``, as :func:`~otwire.inspect.records.row_json` orders them) then
the protocol's own text. The line is byte-equal to msgspec's encoding of the row's dict
(``tests/inspect/test_json_lines.py``); every other row, and any line that would not be
ASCII, is left to the dict path (``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otwire.inspect._iec104_text import float_text, json_text
from otwire.inspect.dissect import view
from otwire.inspect.records import Row, record_values

__all__ = ["TextLines"]


class TextLines:
    """The JSON text lines of one input's rows, where a protocol writes them as text."""

    def __init__(self, source: str) -> None:
        self._source = '{"source":' + json_text(source)
        self._texts: dict[str | None, Callable[[Any], str | None] | None] = {}
        self._stream: tuple[Any, ...] = ()  # flow, sender, stream and protocol of the last row
        self._middle = ""  # their text: from ``,"stream":`` to ``"offset":``
        self._packet: tuple[Any, ...] = ()  # time and packet number of the last row
        self._lead = ""  # the text from ``{"source"`` to ``"offset":``

    def line(self, row: Row) -> str | None:
        """Return the row's JSON line (no newline), or ``None`` for the dict path."""
        finding = row.finding
        if finding is None or row.kind != "apdu":
            return None
        protocol = row.protocol
        text_of = self._texts.get(protocol, _UNSET)
        if text_of is _UNSET:
            text_of = self._texts[protocol] = view(protocol).json_text if protocol is not None else None
        if text_of is None:
            return None
        text = text_of(finding)
        if text is None:
            return None
        stream = self._stream
        if not stream or row.flow is not stream[0] or row.sender is not stream[1] or row.stream != stream[2] \
                or protocol != stream[3]:  # fmt: skip
            self._stream, self._middle, self._packet = (row.flow, row.sender, row.stream, protocol), _middle(row), ()
        packet = (row.timestamp, row.packet_number)
        if packet != self._packet:
            self._packet, self._lead = packet, self._source + _time_packet(row) + self._middle
        line = f'{self._lead}{finding.offset},"raw":"{finding.raw.hex()}",{text}}}'
        return line if line.isascii() else None


def _time_packet(row: Row) -> str:
    """The ``time`` and ``packet`` keys' text (each with its leading comma)."""
    ts, n = row.timestamp, row.packet_number
    return (
        f',"time":{float_text(ts) if type(ts) is float else json_text(ts)},"packet":{n if type(n) is int else "null"}'
    )


def _middle(row: Row) -> str:
    """The text from ``,"stream"`` to ``"offset":`` (the same for every row of a flow's sender)."""
    values = record_values(Row("apdu", None, None, row.flow, row.sender, row.protocol, stream=row.stream))
    parts = [f',"{key}":{json_text(values[key])}' for key in ("stream", "flow", "direction", "protocol", "kind")]
    return "".join(parts) + ',"offset":'


_UNSET: Any = object()
