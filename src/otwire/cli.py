"""The ``otwire`` command line.

* ``otwire inspect [PATH ...]``: dissect captures. Exit codes: 0 when every input was
  read (malformed frames inside are reported, not fatal); 2 with a one-line message
  when an input cannot be read or is not a capture; 1 on an unexpected internal error.
* ``otwire serve iec104 [--host H] [--port N] [--record FILE.pcap]``: run the demo
  outstation until Ctrl-C (or ``--duration`` seconds).
* ``otwire serve imb-hub [--host H] [--port N] [--record FILE.pcap]``: run an IMB3 hub.
* ``otwire client iec104 HOST [--port N] [--record FILE.pcap]``: connect, interrogate,
  print every point and then the spontaneous updates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from otwire import __version__
from otwire.errors import OTWireError

if TYPE_CHECKING:
    from otwire.inspect.dissect import Row
    from otwire.inspect.render import Summary

#: Captures bundled with otwire: IEC 104 from ITI, University of Illinois (CC BY 4.0) and our own
#: IMB3 hub recording (see samples/ATTRIBUTION.md).
SAMPLES = (
    "iti_090813_diverse.pcap",
    "iti_JavaRMI_and_IEC_Misc.pcap",
    "iti_TestDissectIec104.pcap",
    "otwire_imb_hub.pcap",
)
#: Show a progress bar when the inputs are at least this large (octets) and stderr is a terminal.
PROGRESS_THRESHOLD = 1 << 20


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    runners = {"inspect": _inspect, "serve": _serve, "client": _client}
    if args.command not in runners or (args.command != "inspect" and args.protocol is None):
        parser.print_help()
        return 2
    try:
        return runners[args.command](args)
    except OTWireError as exc:
        print(f"otwire {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            return 0
        if args.command == "inspect":
            raise
        print(f"otwire {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otwire", description="Industrial protocols on the wire.")
    parser.add_argument("--version", action="version", version=f"otwire {__version__}")
    sub = parser.add_subparsers(dest="command")
    inspect = sub.add_parser(
        "inspect",
        help="dissect captured traffic (pcap, pcapng, hex dump, raw stream)",
        description="Dissect IEC 60870-5-104 and TNO IMB3 in captures. With no PATH, dissect the bundled samples.",
    )
    inspect.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="pcap, pcapng, hex dump (one APDU per line) or raw stream",
    )
    inspect.add_argument("--port", type=_port_spec, action="append", default=[], metavar="[PROTO:]PORT",
                         help="also dissect PROTO (iec104, imb; default iec104) on this TCP server port; "
                         "defaults: iec104 on 2404, imb on 4000 (repeatable)")  # fmt: skip
    inspect.add_argument("--format", choices=("table", "jsonl"), default="table", help="output format")
    inspect.add_argument("--no-summary", action="store_true", help="do not print the summary")
    inspect.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                         help="progress bar on stderr (auto: terminal and large inputs)")  # fmt: skip
    _serve_parser(sub)
    _client_parser(sub)
    return parser


def _port_spec(text: str) -> tuple[int, str]:
    """Parse ``PORT`` or ``PROTO:PORT`` for ``--port``."""
    from otwire.inspect.dissect import PROTOCOLS

    protocol, _, port = text.rpartition(":")
    protocol = protocol or "iec104"
    if protocol not in PROTOCOLS:
        raise argparse.ArgumentTypeError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {port!r}") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"port {number} outside 1..65535")
    return number, protocol


def _session_options(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--port", type=int, default=port, help=f"TCP port (default {port})")
    parser.add_argument("--record", metavar="FILE.pcap", help="write the session(s) to a pcap for otwire inspect")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run a protocol peer with a demo data set",
                           description="Run a protocol peer (outstation, hub) on loopback until Ctrl-C.")  # fmt: skip
    protocols = serve.add_subparsers(dest="protocol")
    iec104 = protocols.add_parser("iec104", help="IEC 60870-5-104 controlled station (outstation) with demo points")
    iec104.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    _session_options(iec104, 2404)
    hub = protocols.add_parser("imb-hub", help="TNO IMB3 hub (routes events between IMB clients)")
    hub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    _session_options(hub, 4000)


def _client_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    client = sub.add_parser("client", help="connect to a peer and print what it sends")
    protocols = client.add_subparsers(dest="protocol")
    iec104 = protocols.add_parser("iec104", help="IEC 60870-5-104 controlling station: interrogate and monitor",
                                  description="Connect, run a general interrogation, print every point "
                                  "and then each spontaneous update.")  # fmt: skip
    iec104.add_argument("host", help="outstation address, e.g. 127.0.0.1")
    _session_options(iec104, 2404)


def _serve(args: argparse.Namespace) -> int:
    if args.protocol == "imb-hub":
        from otwire.servers.imb import serve as serve_hub

        return serve_hub(args.host, args.port, record=args.record, duration=args.duration)
    from otwire.servers.iec104 import serve

    return serve(args.host, args.port, record=args.record, duration=args.duration)


def _client(args: argparse.Namespace) -> int:
    from otwire.clients.iec104 import monitor

    return monitor(args.host, args.port, record=args.record, duration=args.duration)


def _inspect(args: argparse.Namespace) -> int:
    from otwire.inspect.capture import capture_kind, capture_size
    from otwire.inspect.dissect import default_ports, dissect
    from otwire.inspect.render import Summary, TableWriter, write_jsonl

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
        summary = Summary()
        sizes = [capture_size(p) for p in paths]
        show = args.progress == "always" or (
            args.progress == "auto" and err.is_terminal and sum(sizes) >= PROGRESS_THRESHOLD
        )
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            console=err,
            disable=not show,
        )
        stack.enter_context(progress)
        task = progress.add_task("dissecting", total=sum(sizes))
        table = TableWriter(out)
        for path, size in zip(paths, sizes, strict=True):
            source = path.name if not args.paths else str(path)
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
                err.print(json.dumps({"summary": summary.as_json()}))
            else:
                summary.render(out)
    return 0


def _counted(rows: Iterator[Row], summary: Summary, source: str) -> Iterator[Row]:
    """Pass rows through, counting each in ``summary``."""
    for row in rows:
        summary.add(source, row)
        yield row


if __name__ == "__main__":
    sys.exit(main())
