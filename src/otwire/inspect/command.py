"""``otwire inspect``: the command behind :func:`otwire.cli.main` (imported only when it runs)."""

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
from importlib import resources
from multiprocessing import Pool
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

from otwire.inspect.capture import CaptureStats, capture_size
from otwire.inspect.dissect import Row, check_input, default_ports, dissect
from otwire.inspect.files import SAMPLES
from otwire.inspect.render import Summary, TableWriter, write_jsonl

#: Show a progress bar when the inputs are at least this large (octets) and stderr is a terminal.
PROGRESS_THRESHOLD = 1 << 20


class _Console(Console):
    """A console whose closed pipe (``otwire inspect | head``) ends the command like any other."""

    def on_broken_pipe(self) -> None:
        try:
            super().on_broken_pipe()  # points stdout at /dev/null, then exits with status 1
        except SystemExit:
            raise BrokenPipeError from None  # otwire.cli.main: exit status 0, as for --format jsonl


def run(args: argparse.Namespace) -> int:
    """Dissect ``args.paths`` (or the bundled samples) as ``args`` says; return the exit code.

    Raises:
        CaptureError: An input cannot be read or is not a capture (checked before any output).
    """
    with ExitStack() as stack:
        paths = [Path(p) for p in args.paths] or [
            stack.enter_context(resources.as_file(resources.files("otwire.inspect") / "samples" / name))
            for name in SAMPLES
        ]
        for path in paths:  # fail fast, before any output, on an input that cannot be dissected
            check_input(path, args.proto)
        sizes = [capture_size(p) for p in paths]
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        show = args.progress == "always" or (
            args.progress == "auto" and err.is_terminal and sum(sizes) >= PROGRESS_THRESHOLD
        )
        progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err,
                            disable=not show)  # fmt: skip
        stack.enter_context(progress)
        task = progress.add_task("dissecting", total=sum(sizes))
        if getattr(args, "jobs", 1) > 1 and len(paths) > 1:
            names = [p.name if not args.paths else str(p) for p in paths]
            _run_jobs(args, paths, names, lambda size: progress.advance(task, size), sizes)
            return 0
        done = 0
        for path, size in zip(paths, sizes, strict=True):
            stats = CaptureStats(progress=_advance(progress, task, done))
            _one_file(args, path, path.name if not args.paths else str(path), stats)
            done += size
            progress.update(task, completed=done)
    return 0


def _one_file(args: argparse.Namespace, path: Path, source: str, stats: CaptureStats) -> None:
    """Dissect one file and print its rows, then its summary."""
    ports = {**default_ports(), **dict(args.port)}
    out = _Console(highlight=False, soft_wrap=True)
    summary = Summary()
    rows = _counted(dissect(path, ports, proto=args.proto, stats=stats), summary, source)
    if args.format == "jsonl":
        write_jsonl(rows, source, sys.stdout)
    else:
        table = TableWriter(out)
        table.header(source)
        for row in rows:
            table.write(row)
    if not args.no_summary and summary.files:
        if args.format == "jsonl":
            print(json.dumps({"summary": summary.as_json()}), file=sys.stderr)
        else:
            summary.render(out)


def _advance(progress: Progress, task: TaskID, base: int) -> Callable[[int], None]:
    """Return a callback moving the bar to ``base`` plus the octets read of the current file."""
    return lambda position: progress.update(task, completed=base + position)


def _counted(rows: Iterator[Row], summary: Summary, source: str) -> Iterator[Row]:
    """Pass rows through, counting each in ``summary``."""
    for row in rows:
        summary.add(source, row)
        yield row


# --- --jobs N: input files dissected in parallel --------------------------------------------


def _run_jobs(
    args: argparse.Namespace, paths: list[Path], names: list[str], advance: Callable[[int], None], sizes: list[int]
) -> None:
    """Dissect the files in up to ``args.jobs`` processes; print each file's output in input order.

    Each worker writes one file's table or JSON lines (and its summary) to a file in a
    temporary directory; they are copied to stdout (and the JSON summaries to stderr) file
    by file, so memory holds no output. An error or a closed pipe stops the workers at once.
    """
    with tempfile.TemporaryDirectory(prefix="otwire-jobs-") as folder, Pool(min(args.jobs, len(paths))) as pool:
        outputs = [os.path.join(folder, f"{i}.out") for i in range(len(paths))]
        jobs = list(zip([args] * len(paths), paths, names, outputs, strict=True))
        for (out_path, err), size in zip(pool.imap(_job, jobs), sizes, strict=True):
            with open(out_path, encoding="utf-8") as out:
                shutil.copyfileobj(out, sys.stdout)
            os.unlink(out_path)
            sys.stdout.flush()
            sys.stderr.write(err)
            advance(size)


def _job(job: tuple[argparse.Namespace, Path, str, str]) -> tuple[str, str]:
    """Dissect one file in a worker into ``out_path``: return it, and the file's stderr text."""
    args, path, source, out_path = job
    err = io.StringIO()
    with open(out_path, "w", encoding="utf-8") as out, redirect_stdout(out), redirect_stderr(err):
        _one_file(args, path, source, CaptureStats())
    return out_path, err.getvalue()
