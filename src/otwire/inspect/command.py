"""``otwire inspect``: the command behind :func:`otwire.cli.main` (imported only when it runs)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from otwire.inspect.capture import capture_kind, capture_size
from otwire.inspect.dissect import Row, default_ports, dissect
from otwire.inspect.render import Summary, TableWriter, write_jsonl

#: Show a progress bar when the inputs are at least this large (octets) and stderr is a terminal.
PROGRESS_THRESHOLD = 1 << 20


def run(args: argparse.Namespace) -> int:
    """Dissect ``args.paths`` (or the bundled samples) as ``args`` says; return the exit code.

    Raises:
        CaptureError: An input cannot be read or is not a capture (checked before any output).
    """
    from otwire.cli import SAMPLES

    with ExitStack() as stack:
        paths = [Path(p) for p in args.paths] or [
            stack.enter_context(resources.as_file(resources.files("otwire.inspect") / "samples" / name))
            for name in SAMPLES
        ]
        for path in paths:  # fail fast, before any output, on an unreadable input
            capture_kind(path)
        ports = {**default_ports(), **dict(args.port)}
        out = Console(highlight=False, soft_wrap=True)
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        sizes = [capture_size(p) for p in paths]
        show = args.progress == "always" or (
            args.progress == "auto" and err.is_terminal and sum(sizes) >= PROGRESS_THRESHOLD
        )
        progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err,
                            disable=not show)  # fmt: skip
        stack.enter_context(progress)
        task = progress.add_task("dissecting", total=sum(sizes))
        table = TableWriter(out)
        for path, size in zip(paths, sizes, strict=True):
            source = path.name if not args.paths else str(path)
            summary = Summary()
            rows = _counted(dissect(path, ports), summary, source)
            if args.format == "jsonl":
                write_jsonl(rows, source, sys.stdout)
            else:
                table.header(source)
                for row in rows:
                    table.write(row)
            progress.advance(task, size)
            if not args.no_summary:
                if args.format == "jsonl":
                    print(json.dumps({"summary": summary.as_json()}), file=sys.stderr)
                else:
                    summary.render(out)
    return 0


def _counted(rows: Iterator[Row], summary: Summary, source: str) -> Iterator[Row]:
    """Pass rows through, counting each in ``summary``."""
    for row in rows:
        summary.add(source, row)
        yield row
