"""JSON lines of decoded rows written as text, without building their dicts.

:class:`TextLines` writes the line of an ``apdu`` row whose protocol view has
``json_text`` (:class:`~otwire.inspect.model.ProtocolView`): the common keys
(``source`` ... ``raw``, as :func:`~otwire.inspect.records.row_json` orders them) then
the protocol's own text. The line is byte-equal to msgspec's encoding of the row's dict
(``tests/inspect/test_json_lines.py``); every other row, and any line that would not be
ASCII (a file name or address beyond ASCII: the protocol's text is ASCII), is left to the
dict path (``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otwire.inspect._iec104_text import float_text, json_text
from otwire.inspect.dissect import Found, view
from otwire.inspect.records import Row, record_values

__all__ = ["TextLines"]


class TextLines:
    """The JSON text lines of one input's rows, where a protocol writes them as text."""

    def __init__(self, source: str) -> None:
        self._source = '{"source":' + json_text(source)
        self._protocol: str | None = None  # the last row's protocol, and its json_text
        self._text_of: Callable[[Any], str | None] | None = None
        self._flow: Any = _UNSET  # flow, sender and stream number of the last row
        self._sender: Any = None
        self._number: int | None = None
        self._middle = ""  # their text with the protocol's: from ``,"stream":`` to ``"offset":``
        self._middles: dict[tuple[Any, ...], str] = {}  # the texts of the most recent streams (bounded)
        self._time: Any = _UNSET  # the last row's time, and its text from ``,"time":`` to ``"packet":``
        self._time_text = ""

    def line(self, row: Row) -> str | None:
        """Return the row's JSON line (no newline), or ``None`` for the dict path."""
        finding = row.finding
        if finding is None or row.kind != "apdu":
            return None
        found = (row.timestamp, row.packet_number, row.flow, row.sender, row.protocol, row.stream, [finding])
        lines = self.found_lines(found)  # type: ignore[arg-type]
        return None if lines is None else lines[0]

    def found_lines(self, found: Found) -> list[str] | None:
        """Return the JSON lines (no newlines) of a segment's rows (:func:`~otwire.inspect.dissect.found_rows`).

        ``None`` when the dict path writes any of them (then :meth:`line` tells which).
        """
        ts, n, flow, s, protocol, stream, findings = found
        if protocol != self._protocol:
            self._protocol, self._text_of, self._flow = protocol, self._text_view(protocol), _UNSET
        text_of = self._text_of
        if text_of is None:
            return None
        out: list[str] = []
        lead: str | None = None  # the text up to "offset": of the rows of lead_sender (None: not ASCII)
        lead_sender: Any = _UNSET
        for finding in findings:
            text = text_of(finding) if finding.kind == "apdu" else None
            if text is None:
                return None
            sender = finding.sender or s
            if sender is not lead_sender:
                lead, lead_sender = self._lead(ts, n, flow, sender, protocol, stream), sender
                if lead is None:
                    return None
            out.append(f'{lead}{finding.offset},"raw":"{finding.raw.hex()}",{text}}}')
        return out

    def _lead(
        self, ts: float | None, n: int | None, flow: Any, sender: Any, protocol: str, stream: int | None
    ) -> str | None:
        """The text of a row's keys from ``{"source":`` to ``"offset":``, or ``None`` where it is not ASCII.

        The parts of the last row's are kept. The rest of a line is ASCII: ``json_text`` gives ASCII
        text only (:class:`~otwire.inspect.model.ProtocolView`), a hex string and an integer.
        """
        if flow is not self._flow or sender is not self._sender or stream != self._number:
            self._flow, self._sender, self._number = flow, sender, stream
            self._middle = self._middle_of(flow, sender, stream, protocol)
        if ts != self._time or type(ts) is not type(self._time):
            self._time, self._time_text = ts, _time_text(ts)
        lead = f"{self._source}{self._time_text}{n if type(n) is int else 'null'}{self._middle}"
        return lead if lead.isascii() else None

    def _text_view(self, protocol: str | None) -> Callable[[Any], str | None] | None:
        """``ProtocolView.json_text`` of a protocol, or ``None``."""
        return view(protocol).json_text if protocol is not None else None

    def _middle_of(self, flow: Any, sender: Any, stream: int | None, protocol: str) -> str:
        """:func:`_middle` of a stream, remembered for the most recent streams (bounded)."""
        key = (flow, sender, stream, protocol)
        middle = self._middles.get(key)
        if middle is None:
            if len(self._middles) >= 4096:
                self._middles.clear()
            middle = self._middles[key] = _middle(Row("apdu", None, None, flow, sender, protocol, stream=stream))
        return middle


def _time_text(ts: float | None) -> str:
    """The ``time`` key's text and the ``packet`` key (each with its leading comma), up to the packet's value."""
    return f',"time":{float_text(ts) if type(ts) is float else json_text(ts)},"packet":'


def _middle(row: Row) -> str:
    """The text from ``,"stream"`` to ``"offset":`` (the same for every row of a flow's sender)."""
    values = record_values(Row("apdu", None, None, row.flow, row.sender, row.protocol, stream=row.stream))
    parts = [f',"{key}":{json_text(values[key])}' for key in ("stream", "flow", "direction", "protocol", "kind")]
    return "".join(parts) + ',"offset":'


_UNSET: Any = object()
