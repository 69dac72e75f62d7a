"""The rich parts of ``otwire inspect``: the table's console and the progress bar on stderr.

Imported only by the outputs that use rich (the table, a progress bar that is shown):
JSON lines, fields and CSV into a file or pipe never load rich.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

__all__ = ["PipeConsole", "progress_bar"]


class PipeConsole(Console):
    """A console whose closed pipe (``otwire inspect | head``) ends the command like any other."""

    def on_broken_pipe(self) -> None:
        try:
            super().on_broken_pipe()  # points stdout at /dev/null, then exits with status 1
        except SystemExit:
            raise BrokenPipeError from None  # otwire.cli.main: exit status 0, as for --format jsonl


def progress_bar(total: int, stack: ExitStack, *, always: bool) -> Callable[[int], None] | None:
    """Start a progress bar over ``total`` octets on stderr, closed with ``stack``.

    Args:
        total: Octets of all inputs.
        stack: The bar is removed when it closes.
        always: Show it even when stderr is not a terminal (as rich judges one).

    Returns:
        ``show(completed)``, moving the bar to ``completed`` octets; ``None`` when no bar
        is shown (stderr is not a terminal and ``always`` is false).
    """
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if not (always or err.is_terminal):
        return None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err)
    stack.enter_context(progress)
    task = progress.add_task("dissecting", total=total)
    return lambda completed: progress.update(task, completed=completed)
