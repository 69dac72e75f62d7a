"""``otwire inspect``: the command behind :func:`otwire.cli.main` (imported only when it runs).

Rows flow from each input (a file through :func:`~otwire.inspect.dissect.dissect`; stdin,
``-w`` inputs and live capture through :mod:`otwire.inspect.packets`) through the display
filter (``-Y``) and the record limit (``-c``) to one output: the table (with ``-V`` trees
and ``-x`` hex dumps), JSON lines, ``-T fields`` or CSV; ``-w`` writes the kept packets.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otwire.errors import InvalidArgument
from otwire.inspect.capture import CaptureStats, capture_size
from otwire.inspect.dissect import Part, Row, check_input, default_ports, dissect_parts, rows_of
from otwire.inspect.fields import CsvWriter, FieldsWriter, known_fields, record_values
from otwire.inspect.files import SAMPLES, Source
from otwire.inspect.filter import Predicate, compile_filter
from otwire.inspect.packets import packet_rows, read_packets
from otwire.inspect.pcapout import PacketTap
from otwire.inspect.render import Summary, TableWriter, write_jsonl_parts

if TYPE_CHECKING:
    from rich.console import Console

#: Show a progress bar when the inputs are at least this large (octets) and stderr is a terminal.
PROGRESS_THRESHOLD = 1 << 20
#: The name of standard input among the paths.
STDIN = "-"


@dataclass
class Selection:
    """What ``-Y``, ``-c`` and ``-w`` ask, and the records kept so far (over every input).

    Attributes:
        predicate: The compiled ``-Y`` filter, or ``None``.
        limit: ``-c``: stop after this many records (``None``: no limit).
        tap: ``-w``: where the kept records' packets go.
        kept: Records kept so far (counted when there is a filter, a limit or a tap).
    """

    predicate: Predicate | None = None
    limit: int | None = None
    tap: PacketTap | None = None
    kept: int = 0

    _last: tuple[Row | None, dict[str, object]] = field(default=(None, {}), init=False, repr=False)

    def values(self, row: Row, source: str) -> dict[str, object]:
        """Return the row's mapping view, computed once for the filter and the output."""
        if self._last[0] is not row:
            self._last = (row, record_values(row, source))
        return self._last[1]

    @property
    def done(self) -> bool:
        """Whether ``-c`` records were kept."""
        return self.limit is not None and self.kept >= self.limit

    def select(self, rows: Iterator[Row], source: str) -> Iterator[Row]:
        """Return the rows that pass the filter, until the limit, tapping each kept one (without any: ``rows``)."""
        if self.predicate is None and self.limit is None and self.tap is None:  # every row: nothing to do per row
            return rows
        return self._selected(rows, source)

    def select_parts(self, parts: Iterator[Part], source: str) -> Iterator[Part]:
        """:meth:`select` over parts (:data:`~otwire.inspect.dissect.Part`): ``parts`` itself when all pass."""
        if self.predicate is None and self.limit is None and self.tap is None:
            return parts
        return ([row] for row in self._selected(rows_of(parts), source))

    def _selected(self, rows: Iterator[Row], source: str) -> Iterator[Row]:
        for row in rows:
            if self.done:
                return
            if self.predicate is not None and not self.predicate(self.values(row, source)):
                continue
            self.kept += 1
            if self.tap is not None:
                self.tap.keep(row)
            yield row
            if self.done:  # stop reading at once (a live capture would wait for one more packet)
                return


def run(args: argparse.Namespace) -> int:
    """Dissect ``args.paths`` (or the bundled samples, or stdin, or ``-i``) as ``args`` says; return the exit code.

    Raises:
        CaptureError: An input cannot be read or is not a capture (checked before any output).
        FilterError: The ``-Y`` filter is bad (before any output).
        InvalidArgument: Options that do not go together, or an unknown ``-e`` field.
    """
    _check_options(args)
    if args.format == "parquet":
        return _run_parquet(args)
    predicate = _compiled(args)
    with ExitStack() as stack:
        live = getattr(args, "interface", None)
        paths = [] if live else _paths(args, stack)
        _check_inputs(args, paths)
        tap = stack.enter_context(PacketTap(args.write)) if getattr(args, "write", None) else None
        selection = Selection(predicate, getattr(args, "count", None), tap)
        output = _output(args)
        if live:
            from otwire.inspect.live import capture_rows, stop_on_interrupt

            ports = {**default_ports(), **dict(args.port)}
            interrupted = stack.enter_context(stop_on_interrupt())
            watch = tap.watch if tap else None
            rows = capture_rows(live, ports, duration=args.duration, stop=interrupted.is_set, tap=watch)
            print(f"capturing on {live}", file=sys.stderr, flush=True)  # as tshark says; the socket is open
            _emit(args, output, selection, selection.select_parts(_as_parts(rows), live), live)
        else:
            _dissect_all(args, stack, paths, selection, output)
    return 0


def _run_parquet(args: argparse.Namespace) -> int:
    """``--format parquet -w DIR``: the records ``-Y`` and ``-c`` keep, as Parquet tables under DIR.

    Raises:
        InvalidArgument: No ``-w DIR``, or ``-i`` (live capture is not written as Parquet).
        InvalidState: pyarrow is not installed (``pip install 'otwire[parquet]'``).
        CaptureError: An input cannot be read or is not a capture (before anything is written).
    """
    from otwire.inspect.parquet import write_captures

    if not getattr(args, "write", None) or getattr(args, "interface", None):
        raise InvalidArgument("--format parquet needs -w DIR (the folder of the tables) and capture files, not -i")
    selection = Selection(_compiled(args), getattr(args, "count", None))
    with ExitStack() as stack:
        paths = _paths(args, stack)
        for path in paths:
            if str(path) != STDIN:
                check_input(path, args.proto)
        named = bool(args.paths or getattr(args, "read", None))

        def captures() -> Iterator[tuple[str, Iterator[Row]]]:
            for path in paths:
                source = str(path) if named else path.name
                if not selection.done:
                    yield source, selection.select(_rows(args, path, CaptureStats(), selection, stack), source)

        summary = write_captures(captures(), args.write)
    if not args.no_summary:
        written = {"folder": args.write, "files": len(summary.files), "records": summary.records, "rows": summary.rows}
        print(json.dumps({"parquet": written}), file=sys.stderr)
    return 0


def _check_inputs(args: argparse.Namespace, paths: list[Path]) -> None:
    """Fail fast, before any output, on an input that cannot be dissected or would be overwritten by ``-w``."""
    write = getattr(args, "write", None)
    for path in paths:
        if str(path) == STDIN:
            continue
        kind = check_input(path, args.proto)
        if write is not None and kind not in ("pcap", "pcapng"):
            raise InvalidArgument(f"-w needs pcap or pcapng inputs; {path} is a {kind} file")
        if write is not None and os.path.exists(write) and os.path.samefile(write, path):
            raise InvalidArgument(f"-w {write} would overwrite an input")


def _dissect_all(
    args: argparse.Namespace, stack: ExitStack, paths: list[Path], selection: Selection, output: _Output
) -> None:
    """Dissect the inputs in turn (until ``-c`` is reached), with a progress bar over their octets."""
    sizes = [0 if str(p) == STDIN else capture_size(p) for p in paths]
    show = _progress_bar(args, sum(sizes), stack)
    named = bool(args.paths or getattr(args, "read", None))
    if getattr(args, "jobs", 1) > 1 and len(paths) > 1:
        names = [str(p) if named else p.name for p in paths]
        _run_jobs(args, paths, names, show, sizes)
        return
    done = 0
    for path, size in zip(paths, sizes, strict=True):
        if selection.done:
            break
        stats = CaptureStats(progress=None if show is None else _advance(show, done))
        source = str(path) if named else path.name
        parts = _parts(args, path, stats, selection, stack)
        _emit(args, output, selection, selection.select_parts(parts, source), source)
        done += size
        if show is not None:
            show(done)


def _progress_bar(args: argparse.Namespace, total: int, stack: ExitStack) -> Callable[[int], None] | None:
    """``--progress``: the bar's ``show(completed octets)``, or ``None`` when no bar is shown.

    ``auto`` shows one for inputs of :data:`PROGRESS_THRESHOLD` octets or more when rich
    judges stderr a terminal; rich is not even imported where it could not (stderr no tty,
    and neither ``TTY_COMPATIBLE=1`` nor ``FORCE_COLOR`` set, the variables rich obeys).
    """
    if args.progress == "never" or (args.progress == "auto" and total < PROGRESS_THRESHOLD):
        return None
    environ = os.environ
    if args.progress == "auto" and not (
        sys.stderr.isatty() or environ.get("TTY_COMPATIBLE") == "1" or environ.get("FORCE_COLOR")
    ):
        return None
    from otwire.inspect._terminal import progress_bar

    return progress_bar(total, stack, always=args.progress == "always")


def _check_options(args: argparse.Namespace) -> None:
    """Resolve ``-T``/``-e`` into ``args.format`` and reject combinations that make no sense."""
    fields = getattr(args, "fields", None) or []
    kind = getattr(args, "output_type", None)
    if kind is not None:
        args.format = {"fields": "fields", "json": "jsonl", "text": "table"}[kind]
    elif fields and args.format == "table":
        args.format = "fields"
    if args.format == "fields" and not fields:
        raise InvalidArgument("-T fields needs at least one -e FIELD")
    if fields and args.format not in ("fields", "csv"):
        raise InvalidArgument("-e FIELD goes with -T fields or --format csv")
    if getattr(args, "interface", None) and (args.paths or getattr(args, "read", None)):
        raise InvalidArgument("-i captures live; give no capture files with it")
    if (getattr(args, "detail", False) or getattr(args, "hexdump", False)) and args.format != "table":
        raise InvalidArgument("-V and -x go with the table output (not --format/-T " + args.format + ")")
    if getattr(args, "duration", None) and not getattr(args, "interface", None):
        raise InvalidArgument("--duration goes with -i IFACE")
    _check_jobs(args)


def _check_jobs(args: argparse.Namespace) -> None:
    """``--jobs N`` dissects files each on its own: refuse it with what works across all inputs."""
    if getattr(args, "jobs", 1) <= 1:
        return
    for option, given in (("-c", getattr(args, "count", None)), ("-w", getattr(args, "write", None)),
                          ("-i", getattr(args, "interface", None))):  # fmt: skip
        if given:
            raise InvalidArgument(f"--jobs goes without {option} (it counts or writes across all inputs)")
    if STDIN in [*(getattr(args, "read", None) or []), *args.paths]:
        raise InvalidArgument("--jobs goes without - (standard input)")


def _compiled(args: argparse.Namespace) -> Predicate | None:
    expr = getattr(args, "filter", None)
    return compile_filter(expr, known_fields()) if expr is not None else None


def _paths(args: argparse.Namespace, stack: ExitStack) -> list[Path]:
    given = [*(getattr(args, "read", None) or []), *args.paths]
    if given.count(STDIN) > 1:
        raise InvalidArgument("standard input (-) can be read once")
    return [Path(p) for p in given] or [
        stack.enter_context(resources.as_file(resources.files("otwire.inspect") / "samples" / name)) for name in SAMPLES
    ]


def _rows(
    args: argparse.Namespace, path: Path, stats: CaptureStats, selection: Selection, stack: ExitStack
) -> Iterator[Row]:
    """The rows of one input (:func:`_parts`)."""
    return rows_of(_parts(args, path, stats, selection, stack))


def _as_parts(rows: Iterator[Row]) -> Iterator[Part]:
    """Rows as parts, one row each."""
    return ([row] for row in rows)


def _parts(
    args: argparse.Namespace, path: Path, stats: CaptureStats, selection: Selection, stack: ExitStack
) -> Iterator[Part]:
    """The rows of one input in parts: files by path dissected, stdin and ``-w`` inputs as a packet stream."""
    ports = {**default_ports(), **dict(args.port)}
    if str(path) != STDIN and selection.tap is None:
        return dissect_parts(path, ports, proto=args.proto, stats=stats)
    if str(path) == STDIN:
        packets = read_packets(sys.stdin.buffer, STDIN)
    else:
        source = stack.enter_context(Source(path))
        packets = read_packets(source.file, str(path))
    if selection.tap is not None:
        packets = selection.tap.watch(packets)
    return _as_parts(packet_rows(packets, ports, name=str(path), stats=stats))


@dataclass
class _Output:
    """The chosen output: a table console (with ``-V``/``-x`` extras), or a writer of fields or CSV lines."""

    format: str
    writer: Any = None
    detail: bool = False
    hexdump: bool = False
    _console: Console | None = field(default=None, init=False, repr=False)

    @property
    def console(self) -> Console:
        """The table's console on stdout (rich: made, and imported, on first use)."""
        if self._console is None:
            from otwire.inspect._terminal import PipeConsole

            self._console = PipeConsole(highlight=False, soft_wrap=True)
        return self._console


def _output(args: argparse.Namespace, *, header: bool = True) -> _Output:
    """Return the output ``args`` ask for (``header=False``: no fields/CSV header line, as a ``--jobs`` worker)."""
    out = _Output(args.format)
    out.detail, out.hexdump = bool(getattr(args, "detail", False)), bool(getattr(args, "hexdump", False))
    fields = getattr(args, "fields", None) or []
    if args.format == "fields":
        options = _field_options(getattr(args, "field_options", None) or [])
        options["header"] = options.get("header", False) and header
        out.writer = FieldsWriter(sys.stdout, fields, **options)
    elif args.format == "csv":
        out.writer = CsvWriter(sys.stdout, *([fields] if fields else []), header=header)
    return out


#: ``-E`` separator names, as tshark spells them.
_SEPARATORS = {"/t": "\t", "/s": " "}


def _field_options(items: list[str]) -> dict[str, Any]:
    """Parse ``-E header=y|n``, ``-E separator=/t|/s|C``, ``-E aggregator=,|/s|C``.

    Raises:
        InvalidArgument: An unknown option or value.
    """
    options: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key == "header" and value in ("y", "n"):
            options["header"] = value == "y"
        elif key in ("separator", "aggregator") and value:
            options[key] = _SEPARATORS.get(value, value)
        else:
            raise InvalidArgument(f"-E {item}: expected header=y|n, separator=/t|/s|C or aggregator=,|/s|C")
    return options


def _emit(args: argparse.Namespace, output: _Output, selection: Selection, parts: Iterator[Part], source: str) -> None:
    """Write the rows of one input in the chosen format (each counted in its summary), then its summary."""
    summary = Summary()
    count = summary.add
    rows = rows_of(parts)
    if output.format == "jsonl":
        write_jsonl_parts(parts, source, sys.stdout, batch=_batch(args, source), summary=summary)
    elif output.writer is not None:
        for row in rows:
            count(source, row)
            output.writer.write(selection.values(row, source))
    else:
        _table(output, rows, source, _batch(args, source), count)
    if not args.no_summary and summary.files:
        if output.format == "table":
            summary.render(output.console)
        else:
            print(json.dumps({"summary": summary.as_json()}), file=sys.stderr)


#: JSON lines or table lines written at once when reading a file into a file or pipe.
LINES_BATCH = 256


def _batch(args: argparse.Namespace, source: str) -> int:
    """Lines per write: one by one for live input (``-i``, stdin) or a terminal, else :data:`LINES_BATCH`."""
    live = getattr(args, "interface", None) or source == STDIN
    return 1 if live or sys.stdout.isatty() else LINES_BATCH


def _table(output: _Output, rows: Iterator[Row], source: str, batch: int, count: Callable[[str, Row], None]) -> None:
    """Print the rows as the table (with ``-V``/``-x`` extras under each), ``batch`` plain lines per write."""
    extras = output.detail or output.hexdump
    table = TableWriter(output.console, batch=1 if extras else batch)
    try:
        table.header(source)
        for row in rows:
            count(source, row)
            table.write(row)
            if extras:
                from otwire.inspect.detail import row_extras

                for line in row_extras(row, detail=output.detail, hexdump=output.hexdump):
                    output.console.print(line, markup=False, highlight=False)
    finally:
        table.flush()


def _advance(show: Callable[[int], None], base: int) -> Callable[[int], None]:
    """Return a callback moving the bar to ``base`` plus the octets read of the current file."""
    return lambda position: show(base + position)


# --- --jobs N: input files dissected in parallel --------------------------------------------


def _run_jobs(
    args: argparse.Namespace,
    paths: list[Path],
    names: list[str],
    show: Callable[[int], None] | None,
    sizes: list[int],
) -> None:
    """Dissect the files in up to ``args.jobs`` processes; print each file's output in input order.

    Each worker writes one file's output (and summary) to a file in a temporary directory,
    with its own ``-Y`` filter and output writer (the fields/CSV header is the parent's,
    printed before); they are copied to stdout (and their stderr text to stderr) file by file, so
    memory holds no output. An error or a closed pipe stops the workers at once.
    """
    from multiprocessing import Pool  # --jobs only

    sys.stdout.flush()  # the header, if any, before the workers start (forked with a copy of the buffer)
    with tempfile.TemporaryDirectory(prefix="otwire-jobs-") as folder, Pool(min(args.jobs, len(paths))) as pool:
        outputs = [os.path.join(folder, f"{i}.out") for i in range(len(paths))]
        jobs = list(zip([args] * len(paths), paths, names, outputs, strict=True))
        done = 0
        for (out_path, err), size in zip(pool.imap(_job, jobs), sizes, strict=True):
            with open(out_path, encoding="utf-8") as out:
                shutil.copyfileobj(out, sys.stdout)
            os.unlink(out_path)
            sys.stdout.flush()
            sys.stderr.write(err)
            done += size
            if show is not None:
                show(done)


def _job(job: tuple[argparse.Namespace, Path, str, str]) -> tuple[str, str]:
    """Dissect one file in a worker into ``out_path``: return it, and the file's stderr text."""
    args, path, source, out_path = job
    err = io.StringIO()
    with open(out_path, "w", encoding="utf-8") as out, redirect_stdout(out), redirect_stderr(err):
        output = _output(args, header=False)  # the parent's output printed the header
        selection = Selection(_compiled(args))
        parts = dissect_parts(path, {**default_ports(), **dict(args.port)}, proto=args.proto, stats=CaptureStats())
        _emit(args, output, selection, selection.select_parts(parts, source), source)
    return out_path, err.getvalue()
