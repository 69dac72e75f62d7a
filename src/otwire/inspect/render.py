"""Render dissected rows: a streaming text table, JSON lines, and a summary."""

from __future__ import annotations

import datetime as _dt
import json
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from otwire.inspect.capture import Flow, Sender
from otwire.inspect.dissect import Row, row_json, view

_IEC104_FORMATS = ("I-format", "S-format", "U-format")
_ARROW = {Sender.CLIENT: "C>S", Sender.SERVER: "S>C", None: "   "}
_LEAD = f"{'time':<12} {'str':>3} {'dir':<3}"


def write_jsonl(rows: Iterable[Row], source: str, out: IO[str]) -> None:
    """Write one JSON object per row."""
    for row in rows:
        out.write(json.dumps(row_json(row, source), separators=(",", ":")) + "\n")


class TableWriter:
    """Print rows as a fixed-width table, streaming (no rows are held).

    The columns after ``time``, ``str`` (stream) and ``dir`` are the protocol's own
    (:attr:`ProtocolView.columns`); their header is printed before the first row of a
    protocol, and again whenever the protocol changes.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._streams: dict[Flow, int] = {}
        self._columns_of: str | None = None

    def header(self, source: str) -> None:
        """Print the file name and start numbering streams afresh; the column header follows with the first row."""
        self._console.print(f"[bold]== {escape(source)}[/bold]")
        self._columns_of = None
        self._streams.clear()

    def write(self, row: Row) -> None:
        """Print one row."""
        if row.kind == "notice":
            self._console.print(f"[yellow]{escape('notice: ' + row.message)}[/yellow]")
            return
        if row.protocol is not None and row.protocol != self._columns_of:
            self._columns_of = row.protocol
            labels = (c.cell(c.label) for c in view(row.protocol).columns)
            self._console.print(f"[dim]{escape(' '.join((_LEAD, *labels)))}[/dim]")
        stream = self._stream(row)
        when = _clock(row.timestamp)
        lead = f"{when:<12} {stream:>3} {_ARROW[row.sender]:<3}"
        finding = row.finding
        if finding is not None and finding.kind == "apdu":
            protocol = view(row.protocol or "")
            cells = (c.cell(t) for c, t in zip(protocol.columns, protocol.cells(finding.message), strict=True))
            self._console.print(escape(" ".join((lead, *cells)).rstrip()))
        elif finding is not None:
            style = "red" if finding.kind == "error" else "yellow"
            text = f"{lead} {finding.kind.upper():<3} @{finding.offset} {finding.error} | {finding.raw[:32].hex(' ')}"
            self._console.print(f"[{style}]{escape(text)}[/{style}]")
        else:
            detail = {
                "gap": f"{row.missing} octets missing",
                "retransmission": f"{row.length} octets repeated",
            }
            text = f"{lead} {row.kind.upper()} {detail.get(row.kind, row.message)}"
            self._console.print(f"[magenta]{escape(text)}[/magenta]")

    def _stream(self, row: Row) -> str:
        if row.flow is None:
            return ""
        number = self._streams.get(row.flow)
        if number is None:
            number = self._streams[row.flow] = len(self._streams) + 1
            day = ""
            if row.timestamp is not None:
                day = _dt.datetime.fromtimestamp(row.timestamp, _dt.UTC).strftime(" (%Y-%m-%d UTC)")
            self._console.print(f"[cyan]stream #{number}: {escape(str(row.flow))}{day}[/cyan]")
        return f"#{number}"


def _clock(ts: float | None) -> str:
    if ts is None:
        return "-"
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%H:%M:%S.%f")[:12]


class Summary:
    """Counts per input file: APDUs by format and type, errors, junk, gaps."""

    def __init__(self) -> None:
        self.files: dict[str, Counter[str]] = {}
        self.types: dict[str, Counter[str]] = {}

    def add(self, source: str, row: Row) -> None:
        """Count one row (notices are not counted)."""
        if row.kind == "notice":
            return
        counts = self.files.setdefault(source, Counter())
        types = self.types.setdefault(source, Counter())
        finding = row.finding
        if finding is None:
            counts[row.kind + "s"] += 1
            if row.kind == "gap":
                counts["missing octets"] += row.missing
            return
        if finding.kind == "apdu":
            shown = view(row.protocol or "")
            counts["APDUs"] += 1
            counts[f"{shown.format(finding.message)}-format"] += 1
            type_name = shown.type_name(finding.message)
            if type_name is not None:
                types[type_name] += 1
        elif finding.kind == "junk":
            counts["junk octets"] += len(finding.raw)
        else:
            counts["decode errors"] += 1

    def as_json(self) -> dict[str, Any]:
        """Return ``{file: {"counts": {...}, "types": {...}}}``."""
        return {f: {"counts": dict(c), "types": dict(self.types[f])} for f, c in self.files.items()}

    def render(self, console: Console) -> None:
        """Print one summary table per file."""
        for source, counts in self.files.items():
            table = Table(title=f"summary: {escape(source)}", show_header=True, title_justify="left")
            table.add_column("what")
            table.add_column("count", justify="right")
            other = sorted(k for k in counts if k.endswith("-format") and k not in _IEC104_FORMATS)
            iec104 = _IEC104_FORMATS if not other or any(k in counts for k in _IEC104_FORMATS) else ()
            for key in ("APDUs", *iec104, *other, "decode errors", "junk octets"):
                table.add_row(key, str(counts.get(key, 0)))
            for key in ("gaps", "missing octets", "retransmissions", "warnings"):
                if counts.get(key):
                    table.add_row(key, str(counts[key]))
            for name, n in sorted(self.types[source].items(), key=lambda kv: (-kv[1], kv[0])):
                table.add_row(f"  {name}", str(n))
            console.print(table)
