"""Render dissected rows: a streaming text table, JSON lines, and a summary.

The table is plain padded text lines, written straight to the console's file (rich
styles only the rare stream, problem and notice lines, and the summary); JSON lines
are encoded by :mod:`msgspec` (UTF-8, floats in shortest round-trip form).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

import msgspec

from otwire.inspect._json_lines import TextLines
from otwire.inspect.capture import Sender
from otwire.inspect.dissect import Found, Part, Row, found_rows, row_json, view
from otwire.inspect.model import Finding, ProtocolView

if TYPE_CHECKING:
    from rich.console import Console

_IEC104_FORMATS = ("I-format", "S-format", "U-format")
_ARROW = {Sender.CLIENT: "C>S", Sender.SERVER: "S>C", None: "   "}
#: The common columns: time of day (UTC), frame (packet) number, stream number, direction.
_LEAD = f"{'time':<12} {'frame':>7} {'str':>3} {'dir':<3}"


#: Characters of JSON lines written at once, at most (plus the last line's): under the C
#: allocator's default ``mmap`` threshold of 128 KiB, so the joined text reuses heap memory.
BATCH_CHARS = 1 << 15


def write_jsonl(
    rows: Iterable[Row], source: str, out: IO[str], *, batch: int = 1, summary: Summary | None = None
) -> None:
    """Write one JSON object per row: :func:`write_jsonl_parts` of one part per row."""
    write_jsonl_parts(([row] for row in rows), source, out, batch=batch, summary=summary)


def write_jsonl_parts(
    parts: Iterable[Part], source: str, out: IO[str], *, batch: int = 1, summary: Summary | None = None
) -> None:
    """Write one JSON object per row of ``parts`` (keys: :func:`~otwire.inspect.records.row_json`).

    Rows whose protocol writes its JSON as text (:class:`~otwire.inspect._json_lines.TextLines`)
    become lines without a dict, a segment's at once (its findings need no :class:`Row`:
    :func:`~otwire.inspect.dissect.dissect_parts`); the others are encoded by msgspec (each
    dict is freed at once: holding many would cost the garbage collector more than the
    encoding). The lines are written up to ``batch`` at a time (1: each part's at once, for
    live output): one line, then two, four and so on, so the first lines leave as soon as
    unbatched ones would (``otwire inspect | head -1`` ends the run at once) and a long
    capture is written ``batch`` lines per call, or fewer: a write holds about
    :data:`BATCH_CHARS` characters at most (a larger joined text may be a fresh ``mmap`` of
    the C allocator, its pages faulted in anew on every write). A row with text beyond
    ASCII, or a value msgspec cannot encode (an integer beyond 64 bits), is written by
    :func:`json.dumps` instead, with ``\\uXXXX`` escapes as before, so the output stays ASCII
    whatever the terminal's encoding. Lines already encoded are written when ``parts``
    raises. Each row is counted in ``summary`` first.
    """
    encode = msgspec.json.Encoder().encode
    text_lines = TextLines(source)
    found_lines, text_line = text_lines.found_lines, text_lines.line
    lines: list[str] = []
    size = 1  # lines per write now: doubles up to batch
    chars = 0  # characters held in lines
    try:
        for part in parts:
            if isinstance(part, list):
                rows = part
                if summary is not None:
                    for row in rows:
                        summary.add(source, row)
            else:  # a segment's Found: its lines at once, unless the dict path writes any
                if summary is not None:
                    summary.add_found(source, part)
                texts = found_lines(part)
                if texts is not None:
                    lines += texts
                    chars += sum(map(len, texts))
                    rows = []
                else:
                    rows = found_rows(part)
            for row in rows:
                line = text_line(row)
                if line is None:
                    line = _dict_line(row_json(row, source), encode)
                lines.append(line)
                chars += len(line)
            if len(lines) < size and chars < BATCH_CHARS:
                continue
            _write_lines(lines, out)
            lines, chars = [], 0
            if size < batch:
                size = min(size * 2, batch)
    finally:
        if lines:
            _write_lines(lines, out)


def _dict_line(values: dict[str, Any], encode: Callable[[Any], bytes]) -> str:
    """One row's JSON line from its dict: msgspec's encoding, or json.dumps's ASCII escapes beyond ASCII."""
    try:
        line = encode(values)
    except (TypeError, OverflowError, msgspec.EncodeError):
        line = b"\xff"  # not ASCII: written by json.dumps
    if line.isascii():
        return line.decode("ascii")
    return json.dumps(values, separators=(",", ":"))


def _write_lines(lines: list[str], out: IO[str]) -> None:
    """Write JSON lines, one write."""
    lines.append("")
    out.write("\n".join(lines))


class TableWriter:
    """Print rows as a fixed-width table, streaming (no rows are held).

    The columns after ``time``, ``frame``, ``str`` (stream) and ``dir`` are the protocol's
    own (:attr:`ProtocolView.columns`); their header is printed before the first row of a
    protocol, and again whenever the protocol changes. Decoded rows are plain text lines
    written to the console's file; the rest goes through rich for colour. With ``batch``
    above 1, plain lines are written up to ``batch`` at a time (one, then two, four... as
    ``write_jsonl`` does); :meth:`flush` writes the rest, and is called before anything
    else is printed on the console.
    """

    def __init__(self, console: Console, *, batch: int = 1) -> None:
        self._console = console
        self._out = console.file
        self._batch = batch  # plain lines held before a write: grows 1, 2, 4... up to this
        self._size = 1
        self._held: list[str] = []
        self._plain = console.color_system is None  # no styles to render: lines go straight to the file
        self._shown = 0  # the highest stream number announced
        self._columns_of: str | None = None
        self._template = ""  # str.format template of the protocol's columns (Column.cell for each)
        self._cells: Any = None
        self._second = (-1, "")  # the last whole second and its text
        self._lead_key: tuple[Any, ...] | None = None  # time, packet, stream and sender of the last lead
        self._lead = ""

    def header(self, source: str) -> None:
        """Print the file name and start numbering streams afresh; the column header follows with the first row."""
        self._line(f"== {source}", "bold")
        self._columns_of = None
        self._shown = 0
        self._lead_key = None

    def write(self, row: Row) -> None:
        """Print one row."""
        if row.kind == "notice":
            self._line(f"notice: {row.message}", "yellow")
            return
        protocol = row.protocol
        if protocol is not None and protocol != self._columns_of:
            self._columns_of = protocol
            shown = view(protocol)
            self._cells = shown.cells_of or _cells_of_message(shown)
            self._template = " ".join(f"{{:{c.align}{c.width}}}" if c.width else "{}" for c in shown.columns)
            labels = (c.cell(c.label) for c in shown.columns)
            self._line(" ".join((_LEAD, *labels)), "dim")
        lead_key = self._lead_key
        n, ts = row.packet_number, row.timestamp
        if lead_key is not None and n == lead_key[1] and ts == lead_key[0] and row.sender is lead_key[3] \
                and row.stream == lead_key[2]:  # fmt: skip
            lead = self._lead  # another message of the same packet: the same lead
        else:
            stream = self._stream(row)
            lead = f"{self._clock(ts):<12} {'-' if n is None else n:>7} {stream:>3} {_ARROW[row.sender]:<3}"
            self._lead_key, self._lead = (ts, n, row.stream, row.sender), lead
        finding = row.finding
        if finding is not None and finding.kind == "apdu":
            held = self._held
            held.append(f"{lead} {self._template.format(*self._cells(finding))}".rstrip())
            if len(held) >= self._size:
                self.flush()
        elif finding is not None:
            style = "red" if finding.kind == "error" else "yellow"
            text = f"{lead} {finding.kind.upper():<3} @{finding.offset} {finding.error} | {finding.raw[:32].hex(' ')}"
            self._line(text, style)
        else:
            detail = {
                "gap": f"{row.missing} octets missing",
                "retransmission": f"{row.length} octets repeated",
            }
            text = f"{lead} {row.kind.upper()} {detail.get(row.kind, row.message)}"
            self._line(text, "magenta")

    def _line(self, text: str, style: str) -> None:
        """Print one styled line: through rich on a colour console, else written as it is.

        Written as it is, the text is exactly what it says: rich would also have turned
        emoji codes into emoji (``:cd:`` inside an IPv6 address) and cost about 150 µs a line.
        """
        if self._plain:
            self._held.append(text)
            if len(self._held) >= self._size:
                self.flush()
        else:
            from rich.markup import escape  # a colour console: rich is loaded

            self.flush()
            self._console.print(f"[{style}]{escape(text)}[/{style}]", emoji=False)

    def flush(self) -> None:
        """Write the plain lines held (see ``batch``)."""
        held = self._held
        if held:
            held.append("")
            self._out.write("\n".join(held))
            self._held = []
            if self._size < self._batch:
                self._size = min(self._size * 2, self._batch)

    def _stream(self, row: Row) -> str:
        number = row.stream
        if number is None:
            return ""
        if number > self._shown and row.flow is not None:
            self._shown = number
            day = ""
            if row.timestamp is not None:
                day = _dt.datetime.fromtimestamp(row.timestamp, _dt.UTC).strftime(" (%Y-%m-%d UTC)")
            self._line(f"stream #{number}: {row.flow}{day}", "cyan")
        return f"#{number}"

    def _clock(self, ts: float | None) -> str:
        """Return ``HH:MM:SS.mmm`` (UTC), the whole seconds formatted once per second."""
        if ts is None:
            return "-"
        second = int(ts // 1)
        micros = round((ts - second) * 1e6)  # as datetime.fromtimestamp rounds (half even)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second[0]:
            self._second = (second, _dt.datetime.fromtimestamp(second, _dt.UTC).strftime("%H:%M:%S"))
        return f"{self._second[1]}.{micros // 1000:03d}"


class Summary:
    """Counts per input file: APDUs by format and type, errors, junk, gaps.

    An APDU row costs one count of its ``(format tag, type name)`` pair; :attr:`files` and
    :attr:`types` fold those into the counts by key when read.
    """

    def __init__(self) -> None:
        self._pairs: dict[str, Counter[tuple[str, str | None]]] = {}  # per file: (format tag, type) -> APDUs
        self._other: dict[str, Counter[str]] = {}  # per file: the other counts (errors, gaps...)
        self._counted: dict[str | None, Callable[[Finding], tuple[str, str | None]]] = {}

    def add(self, source: str, row: Row) -> None:
        """Count one row (notices are not counted)."""
        finding = row.finding
        if finding is not None and finding.kind == "apdu":  # the common case first
            pairs = self._pairs.get(source)
            if pairs is None:
                pairs = self._new(source)
            counted = self._counted.get(row.protocol)
            if counted is None:
                counted = self._counted[row.protocol] = _counter(view(row.protocol or ""))
            pairs[counted(finding)] += 1
            return
        kind = row.kind
        if kind == "notice":
            return
        if source not in self._pairs:
            self._new(source)
        counts = self._other[source]
        if finding is None:
            counts[kind + "s"] += 1
            if kind == "gap":
                counts["missing octets"] += row.missing
        elif finding.kind == "junk":
            counts["junk octets"] += len(finding.raw)
        else:
            counts["decode errors"] += 1

    def add_found(self, source: str, found: Found) -> None:
        """Count the rows of a segment's findings (:func:`~otwire.inspect.dissect.found_rows`), as :meth:`add` each."""
        findings, protocol = found[6], found[4]
        pairs = self._pairs.get(source)
        if pairs is None:
            pairs = self._new(source)
        counted = self._counted.get(protocol)
        if counted is None:
            counted = self._counted[protocol] = _counter(view(protocol or ""))
        for finding in findings:
            if finding.kind == "apdu":
                pairs[counted(finding)] += 1
            else:
                ts, n, flow, sender, _, number, _ = found
                self.add(source, found_rows((ts, n, flow, sender, protocol, number, [finding]))[0])

    def _new(self, source: str) -> Counter[tuple[str, str | None]]:
        pairs = self._pairs[source] = Counter()
        self._other[source] = Counter()
        return pairs

    @property
    def files(self) -> dict[str, Counter[str]]:
        """Per input file: ``APDUs``, ``<tag>-format`` counts, then the other counts (first seen first)."""
        files: dict[str, Counter[str]] = {}
        for source, pairs in self._pairs.items():
            counts = files[source] = Counter()
            if pairs:
                counts["APDUs"] = sum(pairs.values())
            for (tag, _), n in pairs.items():
                counts[_FORMAT_KEYS.get(tag) or _format_key(tag)] += n
            counts.update(self._other[source])
        return files

    @property
    def types(self) -> dict[str, Counter[str]]:
        """Per input file: APDUs by type name (first seen first)."""
        types: dict[str, Counter[str]] = {}
        for source, pairs in self._pairs.items():
            counts = types[source] = Counter()
            for (_, type_name), n in pairs.items():
                if type_name is not None:
                    counts[type_name] += n
        return types

    def as_json(self) -> dict[str, Any]:
        """Return ``{file: {"counts": {...}, "types": {...}}}``."""
        types = self.types
        return {f: {"counts": dict(c), "types": dict(types[f])} for f, c in self.files.items()}

    def render(self, console: Console) -> None:
        """Print one summary table per file."""
        from rich.markup import escape
        from rich.table import Table

        types = self.types
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
            for name, n in sorted(types[source].items(), key=lambda kv: (-kv[1], kv[0])):
                table.add_row(f"  {name}", str(n))
            console.print(table)


def _cells_of_message(shown: ProtocolView) -> Callable[[Finding], tuple[str, ...]]:
    """``ProtocolView.cells`` of a finding's message."""
    return lambda finding: shown.cells(finding.message)


def _counter(shown: ProtocolView) -> Callable[[Finding], tuple[str, str | None]]:
    """``ProtocolView.counted``, or the same from the message."""
    if shown.counted is not None:
        return shown.counted
    return lambda finding: (shown.format(finding.message), shown.type_name(finding.message))


_FORMAT_KEYS: dict[str, str] = {}


def _format_key(tag: str) -> str:
    """Return the summary key of a format tag (``"I"`` -> ``"I-format"``)."""
    key = _FORMAT_KEYS.get(tag)
    if key is None:
        key = _FORMAT_KEYS[tag] = f"{tag}-format"
    return key
