"""The ``otwire`` command line (also ``python -m otwire``).

* ``otwire inspect [PATH ...]``: dissect captures. Exit codes: 0 when every input was
  read (malformed frames inside are reported, not fatal); 2 with a one-line message
  when an input cannot be read or is not a capture; 1 on an unexpected internal error.
* ``otwire serve PROTOCOL [--host H] [--port N] [--record FILE.pcap] [limits]``: run a
  server (``iec104``: the demo outstation; ``imb-hub``: an IMB3 hub) until Ctrl-C or
  SIGTERM (or ``--duration`` seconds).
* ``otwire client iec104 HOST [--port N] [--record FILE.pcap]``: connect, interrogate,
  print every point and then the spontaneous updates, until Ctrl-C or SIGTERM.
* ``otwire mxgw SUBCOMMAND``: the MXAccess Gateway client commands
  (:mod:`otwire.clients.mxgateway.cli`; exit 1 on a failed call).

The protocols, their default ports and the functions behind ``serve`` and ``client`` come
from :mod:`otwire.registry`. Every bad argument is reported in one line on stderr, with
exit code 2.
"""

from __future__ import annotations

import argparse
import gc
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from otwire import __version__, registry
from otwire.errors import OTWireError

if TYPE_CHECKING:
    from otwire.servers.limits import ServerLimits

#: ``otwire serve`` option -> (ServerLimits field, value parser, help).
LIMIT_OPTIONS: dict[str, tuple[str, str, str]] = {
    "--max-connections": ("max_connections", "count", "most connections at once (default 1000)"),
    "--max-per-address": ("max_per_address", "count", "most connections from one IP address (default 64)"),
    "--handshake-timeout": ("handshake_timeout", "seconds", "seconds to complete the opening exchange (default 30)"),
    "--idle-timeout": ("idle_timeout", "seconds", "seconds without a complete frame before closing (default: never)"),
    "--frame-timeout": ("frame_timeout", "seconds", "seconds a begun frame may take to complete (default 30)"),
    "--max-output": ("max_output_bytes", "octets", "octets queued for one connection (default 16M)"),
    "--memory-budget": (
        "memory_budget",
        "octets",
        "octets held over all connections, queued output and unfinished input (default 256M)",
    ),
}
_OPTION_PREFIX = "option_"  # a command's own options live apart from the common ones in the namespace
_SIZE = re.compile(r"(\d+)([KMG]?)", re.IGNORECASE)


class UsageError(Exception):
    """A bad command-line argument (one line, exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (raised, not printed with the usage)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 internal error, 2 bad input, 130 Ctrl-C)."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["mxgw"]:
        from otwire.clients.mxgateway.cli import main as mxgw_main

        return mxgw_main(words[1:])
    parser = _parser(protocols=words[:1] != ["inspect"])
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.error("choose a command: inspect, serve, client or mxgw")
        if args.command != "inspect" and args.entry is None:
            args.subparser.error(f"choose a protocol: {', '.join(args.choices)}")
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    prefix = f"otwire {args.command}: error:"
    try:
        if args.command == "inspect":
            with _fewer_collections():
                from otwire.inspect.command import run

                return run(args)
        with _sigterm_as_interrupt():
            return _serve(args) if args.command == "serve" else _client(args)
    except (OTWireError, UsageError) as exc:
        print(f"{prefix} {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:
        print(f"{prefix} {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


#: The collector's thresholds while ``otwire inspect`` runs (generation 0 after this many
#: allocations net of frees, the older generations after this many collections of the younger).
INSPECT_GC_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect reference cycles less often for the duration of ``otwire inspect`` (a batch job).

    The command imports the codecs (a few hundred thousand objects the collector would walk
    again and again) and then allocates millions of short-lived objects that form no cycles.
    Cycles are still collected, after :data:`INSPECT_GC_THRESHOLDS` allocations, so memory
    stays bounded; the thresholds are restored afterwards.
    """
    before = gc.get_threshold()
    gc.set_threshold(*INSPECT_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _parser(*, protocols: bool = True) -> argparse.ArgumentParser:
    """The command line's parser; without ``protocols``, ``serve`` and ``client`` get no protocol subcommands.

    ``otwire inspect ...`` never reaches those (``main`` leaves them out for it: fewer parsers to build).
    """
    parser = _Parser(prog="otwire", description="Industrial protocols on the wire.")
    parser.add_argument("--version", action="version", version=f"otwire {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    _inspect_parser(sub)
    _serve_parser(sub, full=protocols)
    _client_parser(sub, full=protocols)
    # Listed for --help only: main() hands "otwire mxgw ..." to its own parser before this one
    # runs, so that the start-up imports no gRPC code.
    sub.add_parser("mxgw", help="MXAccess Gateway client (otwire mxgw --help)")
    return parser


def _inspect_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    dissected = registry.dissectable()
    names = ", ".join(f"{n} on {registry.PROTOCOLS[n].default_port}" for n in dissected)
    inspect = sub.add_parser(
        "inspect",
        help="dissect captured traffic (pcap, pcapng, gzip-compressed, hex dump, raw stream)",
        description="Dissect the protocols otwire knows in captures. With no PATH, dissect the bundled samples.",
    )
    inspect.add_argument("paths", nargs="*", metavar="PATH",
                         help="pcap or pcapng (optionally .gz), - for a pcap or pcapng on stdin; a hex dump "
                         "(one frame per line) or raw stream with --proto")  # fmt: skip
    inspect.add_argument("--port", type=_port_spec, action="append", default=[], metavar="[PROTO:]PORT",
                         help=f"also dissect PROTO (default iec104) on this TCP server port; defaults: {names} "
                         "(repeatable)")  # fmt: skip
    inspect.add_argument("--proto", choices=dissected, metavar="NAME",
                         help=f"decode hex dumps and raw streams as this protocol ({', '.join(dissected)}); "
                         "without it they are refused")  # fmt: skip
    inspect.add_argument("--format", choices=("table", "jsonl", "csv", "fields", "parquet"), default="table",
                         help="output format (csv: the -e fields, or common ones; parquet: tables in the "
                         "folder -w DIR, for DuckDB and Spark)")  # fmt: skip
    inspect.add_argument("--no-summary", action="store_true", help="do not print the summaries")
    inspect.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                         help="progress bar on stderr (auto: terminal and large inputs)")  # fmt: skip
    inspect.add_argument("--jobs", type=_count(1), default=1, metavar="N",
                         help="dissect up to N input files at once, in processes (output in input order; "
                         "not with -c, -w or -)")  # fmt: skip
    _inspect_tshark_options(inspect)


def _inspect_tshark_options(inspect: argparse.ArgumentParser) -> None:
    """The options a tshark user reaches for (issue 12, section 2), wired in otwire.inspect.command."""
    group = inspect.add_argument_group("tshark-like options")
    group.add_argument("-r", "--read", action="append", metavar="FILE", help="read this capture (as PATH; - is stdin)")
    group.add_argument("-Y", "--filter", metavar="EXPR",
                       help='display filter, e.g. \'type == "M_ME_NC_1" and ioa in {1300 1301}\'')  # fmt: skip
    group.add_argument("-c", "--count", type=_count(1), metavar="N", help="stop after N records (those -Y keeps)")
    group.add_argument("-T", dest="output_type", choices=("fields", "json", "text"),
                       help="output as in tshark: fields (with -e), json (JSON lines), text (the table)")  # fmt: skip
    group.add_argument("-e", dest="fields", action="append", metavar="FIELD",
                       help="a field for -T fields or --format csv (repeatable)")  # fmt: skip
    group.add_argument("-E", dest="field_options", action="append", metavar="KEY=VALUE",
                       help="-T fields: header=y|n, separator=/t|/s|C, aggregator=,|/s|C")  # fmt: skip
    group.add_argument("-w", "--write", metavar="FILE.pcap",
                       help="write the packets of the kept records to a pcap (--format parquet: the folder of "
                       "the Parquet tables)")  # fmt: skip
    group.add_argument("-V", dest="detail", action="store_true", help="a detail tree under each record (table)")
    group.add_argument("-x", dest="hexdump", action="store_true", help="a hex dump under each record (table)")
    group.add_argument("-i", "--interface", metavar="IFACE", help="capture live on IFACE (Linux, root)")
    group.add_argument("--duration", type=_seconds, metavar="SECONDS", help="with -i: stop after this many seconds")


def _session_options(parser: argparse.ArgumentParser, port: int, *, allow_zero: bool) -> None:
    free = " (0: any free port)" if allow_zero else ""
    parser.add_argument("--port", type=_port_type(allow_zero), default=port, help=f"TCP port (default {port}){free}")
    parser.add_argument("--record", metavar="FILE.pcap", help="write the session(s) to a pcap for otwire inspect")
    parser.add_argument("--duration", type=_seconds, metavar="SECONDS", help="stop after this many seconds")


def _protocol_subparsers(parser: argparse.ArgumentParser, kind: str) -> argparse._SubParsersAction[_Parser]:
    """Add the protocol subcommands' action; ``kind`` is ``"serve"`` or ``"client"``."""
    choices = [cmd.name for e in registry.PROTOCOLS.values() if (cmd := getattr(e, kind)) is not None]
    parser.set_defaults(entry=None, subparser=parser, choices=choices)
    return parser.add_subparsers(dest="protocol", parser_class=_Parser, metavar="{" + ",".join(choices) + "}")


def _serve_parser(sub: argparse._SubParsersAction[_Parser], *, full: bool) -> None:
    serve = sub.add_parser("serve", help="run a protocol peer with a demo data set",
                           description="Run a protocol peer (outstation, hub) until Ctrl-C or SIGTERM.")  # fmt: skip
    if not full:
        return
    protocols = _protocol_subparsers(serve, "serve")
    for entry in registry.PROTOCOLS.values():
        if entry.serve is not None:
            one = protocols.add_parser(entry.serve.name, help=entry.serve.help, description=entry.serve.description)
            one.set_defaults(entry=entry)
            one.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
            _session_options(one, entry.default_port, allow_zero=True)
            _limit_options(one)
            _command_options(one, entry.title, entry.serve)


def _client_parser(sub: argparse._SubParsersAction[_Parser], *, full: bool) -> None:
    client = sub.add_parser("client", help="connect to a peer and print what it sends")
    if not full:
        return
    protocols = _protocol_subparsers(client, "client")
    for entry in registry.PROTOCOLS.values():
        if entry.client is not None:
            one = protocols.add_parser(entry.client.name, help=entry.client.help, description=entry.client.description)
            one.set_defaults(entry=entry)
            one.add_argument("host", help="peer address, e.g. 127.0.0.1")
            _session_options(one, entry.default_port, allow_zero=False)
            one.add_argument("--retries", type=_count(0), metavar="N",
                             help="connection attempts after the first one fails (default 3)")  # fmt: skip
            one.add_argument("--retry-delay", type=_seconds, metavar="SECONDS",
                             help="seconds between attempts (default 1)")  # fmt: skip
            _command_options(one, entry.title, entry.client)


def _serve(args: argparse.Namespace) -> int:
    entry: registry.ProtocolEntry = args.entry
    assert entry.serve is not None
    extra: dict[str, Any] = {}
    limits = _server_limits(args)
    if limits is not None:  # only when asked: servers without limits= keep working
        extra["limits"] = limits
    extra.update(_given_options(args, entry.serve))
    serve = entry.serve.load()
    return serve(args.host, args.port, record=args.record, duration=args.duration, **extra)


def _client(args: argparse.Namespace) -> int:
    entry: registry.ProtocolEntry = args.entry
    assert entry.client is not None
    extra = {name: getattr(args, name) for name in ("retries", "retry_delay") if getattr(args, name) is not None}
    extra.update(_given_options(args, entry.client))
    monitor = entry.client.load()
    return monitor(args.host, args.port, record=args.record, duration=args.duration, **extra)


# --- option values ---------------------------------------------------------------------


def _port_type(allow_zero: bool) -> Callable[[str], int]:
    low = 0 if allow_zero else 1

    def port(text: str) -> int:
        number = _integer(text, "port number")
        if not low <= number <= 65535:
            raise argparse.ArgumentTypeError(f"port {number} outside {low}..65535")
        return number

    return port


def _port_spec(text: str) -> tuple[int, str]:
    """Parse ``PORT`` or ``PROTO:PORT`` for ``otwire inspect --port``."""
    protocol, _, port = text.rpartition(":")
    protocol = protocol or "iec104"
    if protocol not in registry.dissectable():
        known = ", ".join(registry.dissectable())
        what = "has no dissector yet" if protocol in registry.PROTOCOLS else "is not a known protocol"
        raise argparse.ArgumentTypeError(f"{protocol!r} {what} (dissected: {known})")
    return _port_type(False)(port), protocol


def _integer(text: str, what: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"not a {what}: {text!r}")
    return int(text)


def _count(low: int) -> Callable[[str], int]:
    def count(text: str) -> int:
        number = _integer(text, "whole number")
        if number < low:
            raise argparse.ArgumentTypeError(f"{number} is below {low}")
        return number

    return count


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be positive and finite, not {text!r}")
    return value


def _octets(text: str) -> int:
    """Parse a size in octets with an optional K, M or G suffix (powers of 1024)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size in octets (e.g. 65536, 64K, 16M, 1G): {text!r}")
    return int(match[1]) << 10 * " KMG".index((match[2] or " ").upper())


#: Option kind (``registry.OPTION_KINDS`` but ``switch``) -> (value parser, metavar).
_KINDS: dict[str, tuple[Callable[[str], Any], str]] = {
    "count": (_count(1), "N"), "count0": (_count(0), "N"), "seconds": (_seconds, "SECONDS"),
    "octets": (_octets, "SIZE"), "text": (str, "TEXT"),
}  # fmt: skip


def _limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits (defaults: otwire.servers.limits.ServerLimits)")
    for option, (field, kind, text) in LIMIT_OPTIONS.items():
        parse, metavar = _KINDS[kind]
        group.add_argument(option, dest=field, type=parse, metavar=metavar, help=text)


def _command_options(parser: argparse.ArgumentParser, title: str, command: registry.Command) -> None:
    """Add a protocol command's own options (``registry.Option``) to its subcommand."""
    if not command.options:
        return
    group = parser.add_argument_group(f"{title} options")
    for option in command.options:
        dest = _OPTION_PREFIX + option.dest
        if option.kind == "switch":
            group.add_argument(option.flag, dest=dest, action="store_const", const=True, help=option.help)
        else:
            parse, metavar = _KINDS[option.kind]
            group.add_argument(option.flag, dest=dest, type=parse, metavar=metavar, help=option.help)


def _given_options(args: argparse.Namespace, command: registry.Command) -> dict[str, Any]:
    """Return ``{dest: value}`` of the command's own options that were given."""
    given = ((option.dest, getattr(args, _OPTION_PREFIX + option.dest, None)) for option in command.options)
    return {dest: value for dest, value in given if value is not None}


def _server_limits(args: argparse.Namespace) -> ServerLimits | None:
    """Return the ServerLimits of the limit options given, or ``None`` when none was.

    Raises:
        InvalidArgument: The values are inconsistent (e.g. a budget below the per-connection output).
    """
    given = {field: value for field, *_ in LIMIT_OPTIONS.values() if (value := getattr(args, field)) is not None}
    if not given:
        return None
    from otwire.servers.limits import ServerLimits

    return ServerLimits(**given)


def _interrupt(signum: int, frame: Any) -> None:
    """Handle SIGTERM as SIGINT is handled now (asyncio.run cancels its main task; else KeyboardInterrupt)."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM as Ctrl-C while a server or client runs, so that it stops cleanly.

    Servers and clients handle SIGTERM themselves inside ``serve()``/``monitor()`` (an
    asyncio signal handler replaces this one while they run); this handler covers the
    time around them and any that does not. It does what the SIGINT handler of the moment
    does: inside ``asyncio.run`` that cancels the main task (so no KeyboardInterrupt lands
    in the middle of a write), elsewhere it raises KeyboardInterrupt. It is installed only
    in the main thread and only over the default action, and the default is restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
