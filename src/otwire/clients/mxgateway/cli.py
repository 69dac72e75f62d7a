"""``otwire mxgw``: the ``mxgw-py`` command line, plus Galaxy, benchmark and batch (notes §client "CLI").

Every networked subcommand takes the connection options (``--endpoint``, ``--plaintext`` or
``--tls``, ``--ca-file``, ``--server-name-override``, ``--api-key`` or ``--api-key-env``,
``--timeout``) and prints one JSON document: indented with sorted keys, or one compact line with
``--json``; the same input gives the same bytes. Failures print one line
(``otwire mxgw: error: ...``) on stderr and exit 1; bad arguments exit 2. ``batch`` reads one
subcommand per stdin line and prints each result (or ``{"error": ..., "type": "error"}``)
followed by a line ``__MXGW_BATCH_EOR__``. API keys never appear in any output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from otwire.errors import InvalidArgument, OTWireError

from . import _cli_commands as commands
from ._connection import parse_endpoint

__all__ = ["BATCH_EOR", "UsageError", "main", "parser", "run"]

BATCH_EOR = "__MXGW_BATCH_EOR__"
DEFAULT_ENDPOINT = "localhost:5000"
API_KEY_ENV = "MXGATEWAY_API_KEY"
ENDPOINT_ENV = "MXGATEWAY_ENDPOINT"

_CONNECTION = ("endpoint", "plaintext", "tls", "ca_file", "server_name_override", "api_key", "api_key_env", "timeout")
#: subcommand -> (help, option adders, connects)
_SUBCOMMANDS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "version": ("print the client and contract versions", (), False),
    "open-session": ("open a session and print its id (it stays open)", ("client_name",), True),
    "register": ("Register in a session: print the server handle", ("session", "client_name"), True),
    "add-item": ("AddItem: print the item handle", ("session", "server", "item"), True),
    "advise": ("Advise an item", ("session", "server", "item_handle"), True),
    "stream-events": ("print events of a session", ("session", "max_events", "after"), True),
    "write": ("Write a value", ("session", "server", "item_handle", "value"), True),
    "smoke": (
        "open, register, add, advise, read one event, write (--value), unregister, close",
        ("client_name", "item", "value"),
        True,
    ),
    "galaxy-test-connection": ("TestConnection of the Galaxy Repository", (), True),
    "galaxy-last-deploy": ("the Galaxy's last deploy time", (), True),
    "galaxy-discover": ("every object of the Galaxy (paged)", ("page_size", "max_objects"), True),
    "galaxy-watch": ("print deploy events", ("max_events",), True),
    "bench-stream-events": ("events per second of one advised item", ("client_name", "item", "max_events"), True),
    "batch": ("run one subcommand per stdin line", (), True),
}


def _options(parser: argparse.ArgumentParser, name: str) -> None:
    adders: dict[str, Callable[[], object]] = {
        "session": lambda: parser.add_argument("--session-id", required=True, help="a session id from open-session"),
        "client_name": lambda: parser.add_argument("--client-name", default="otwire-mxgw", help="client name"),
        "server": lambda: parser.add_argument("--server-handle", type=int, required=True, help="from register"),
        "item": lambda: parser.add_argument("--item", required=name != "smoke", default="TestTag.Value", help="tag"),
        "item_handle": lambda: parser.add_argument("--item-handle", type=int, required=True, help="from add-item"),
        "max_events": lambda: parser.add_argument("--max-events", type=_positive, default=10, help="stop after N"),
        "after": lambda: parser.add_argument("--after-worker-sequence", type=int, help="resume after this sequence"),
        "page_size": lambda: parser.add_argument("--page-size", type=_positive, default=500, help="objects per page"),
        "max_objects": lambda: parser.add_argument("--max-objects", type=_positive, help="stop after N objects"),
        "value": lambda: _value_options(parser, required=name == "write"),
    }
    for option in _SUBCOMMANDS[name][1]:
        adders[option]()


def _value_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--value", required=required, help="the value to write")
    parser.add_argument("--type", choices=commands.VALUE_TYPES, default="auto", help="value type (default: guess)")
    parser.add_argument("--user-id", type=int, default=0, help="MXAccess user id (default 0)")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--endpoint", default=os.environ.get(ENDPOINT_ENV, DEFAULT_ENDPOINT), help="host:port")
    tls = group.add_mutually_exclusive_group()
    tls.add_argument("--plaintext", action="store_true", help="h2c without TLS")
    tls.add_argument("--tls", action="store_true", help="TLS (the default)")
    group.add_argument("--ca-file", help="PEM CA file to trust instead of the system roots")
    group.add_argument("--server-name-override", help="certificate name to expect (and SNI)")
    group.add_argument("--api-key", help=f"API key (default: ${API_KEY_ENV}); never printed")
    group.add_argument("--api-key-env", default=API_KEY_ENV, help="environment variable holding the API key")
    group.add_argument("--timeout", type=_seconds, default=30.0, help="seconds per call (default 30)")


class UsageError(Exception):
    """A bad command-line argument (one line on stderr, exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def parser() -> argparse.ArgumentParser:
    """The ``otwire mxgw`` argument parser."""
    mxgw = _Parser(prog="otwire mxgw", description="MXAccess Gateway client (mxgw-py's commands and more).")
    actions = mxgw.add_subparsers(dest="mxgw_command", parser_class=_Parser, metavar="SUBCOMMAND")
    mxgw.set_defaults(mxgw_parser=mxgw, mxgw_choices=actions.choices)
    for name, (text, _, connects) in _SUBCOMMANDS.items():
        one = actions.add_parser(name, help=text, description=text)
        one.add_argument("--json", action="store_true", help="one compact JSON line")
        if connects:
            _connection_options(one)
        _options(one, name)
        one.set_defaults(mxgw_parser=one)
    return mxgw


def main(argv: Sequence[str], *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Parse and run ``otwire mxgw ARGV``; returns the exit code (0, 1 failed call, 2 bad argument, 130 Ctrl-C).

    A closed stdout (``| head``) ends the command with exit code 0.
    """
    try:
        return run(parser().parse_args(list(argv)), stdin=stdin, stdout=stdout)
    except UsageError as exc:  # argparse echoes words of the command line: keys among them are masked
        print(_redact(str(exc), _keys_in(argv)), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `otwire mxgw ... | head`: the reader left, as for the other commands
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests): nothing is flushed at exit
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def run(args: argparse.Namespace, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run a parsed ``otwire mxgw`` command; returns the exit code (0, 1 failure, 2 bad argument)."""
    out = stdout or sys.stdout
    if args.mxgw_command is None:
        args.mxgw_parser.error("choose a subcommand: " + ", ".join(_SUBCOMMANDS))
    if args.mxgw_command == "batch":
        return _batch(args, stdin or sys.stdin, out)
    try:
        result = _execute(args)
    except (OTWireError, ValueError) as exc:
        print(f"otwire mxgw: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    print(_dumps(result, args.json), file=out)
    return 0


def _execute(args: argparse.Namespace) -> Any:
    if args.mxgw_command == "version":
        return commands.version()
    if args.api_key is None:
        args.api_key = os.environ.get(args.api_key_env, "")
    if args.plaintext and (args.ca_file or args.server_name_override):
        args.mxgw_parser.error("--ca-file and --server-name-override need TLS")
    try:
        parse_endpoint(args.endpoint)
    except InvalidArgument as exc:  # a malformed --endpoint (or $MXGATEWAY_ENDPOINT) is a usage error
        args.mxgw_parser.error(f"--endpoint: {exc}")
    return asyncio.run(commands.RUNNERS[args.mxgw_command](args))


def _batch(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    failures = 0
    for line in stdin:
        if not line.strip():
            continue
        keys = [args.api_key or "", *_keys_in(_words(line))]
        try:
            result = _execute(_batch_line(args, line))
        except Exception as exc:  # every failure is one result line
            failures += 1
            result = {"error": _redact(_one_line(exc), keys), "type": "error"}
        except SystemExit:  # --help on a line (its text is not printed)
            failures += 1
            text = f"--help is not available in batch: {line.strip()!r}"
            result = {"error": _redact(text, keys), "type": "error"}
        print(_dumps(result, True), file=out)
        print(BATCH_EOR, file=out, flush=True)
    return 1 if failures else 0


def _batch_line(args: argparse.Namespace, line: str) -> argparse.Namespace:
    """Parse one stdin line; the batch's connection options are the defaults of its own."""
    words = shlex.split(line)
    if not words or words[0] not in args.mxgw_choices or words[0] == "batch":
        raise ValueError(f"not a subcommand line: {line.strip()!r}")
    inherited = {name: getattr(args, name) for name in _CONNECTION if hasattr(args, name)}
    namespace = argparse.Namespace(mxgw_command=words[0], mxgw_choices=args.mxgw_choices, **inherited)
    with contextlib.redirect_stdout(io.StringIO()):  # keep --help text out of the batch's output
        parsed: argparse.Namespace = args.mxgw_choices[words[0]].parse_args(words[1:], namespace=namespace)
    if "--tls" in words:  # the line's own choice beats the batch's (argparse refuses both on one line)
        parsed.plaintext = False
    elif "--plaintext" in words:
        parsed.tls = False
    return parsed


def _dumps(result: Any, compact: bool) -> str:
    if compact:
        return json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(result, sort_keys=True, indent=2, ensure_ascii=False)


def _keys_in(words: Sequence[str]) -> list[str]:
    """The values of ``--api-key KEY`` / ``--api-key=KEY`` among ``words`` (quotes stripped)."""
    keys = []
    for index, word in enumerate(words):
        if word == "--api-key" and index + 1 < len(words):
            keys.append(words[index + 1].strip("'\""))
        elif word.startswith("--api-key="):
            keys.append(word.partition("=")[2].strip("'\""))
    return [key for key in keys if key]


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:  # an open quote: the line fails later, with its own message
        return line.split()


def _redact(text: str, keys: Sequence[str]) -> str:
    for key in sorted(filter(None, keys), key=len, reverse=True):
        text = text.replace(key, "***")
    return text


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not >= 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not > 0 seconds")
    return value
