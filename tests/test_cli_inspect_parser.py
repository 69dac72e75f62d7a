"""``otwire inspect`` is parsed by a parser without the serve/client protocol subcommands: the same results."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire import cli

OPTIONS = [
    ["cap.pcap"],
    ["-", "b.pcapng"],
    ["--port", "2405"],
    ["--port", "imb:4001"],
    ["--port", "nope:1"],
    ["--proto", "iec104"],
    ["--proto", "mxgateway"],
    ["--format", "jsonl"],
    ["--format", "bogus"],
    ["--no-summary"],
    ["--progress", "never"],
    ["--jobs", "2"],
    ["--jobs", "0"],
    ["-r", "x.pcap"],
    ["-Y", 'type == "M_ME_NC_1"'],
    ["-c", "5"],
    ["-T", "fields", "-e", "ioa"],
    ["-E", "header=y"],
    ["-w", "out.pcap"],
    ["-V"],
    ["-x"],
    ["-i", "lo", "--duration", "1.5"],
    ["--duration", "-1"],
    ["--unknown"],
    ["serve"],
]


def _outcome(parser: cli.argparse.ArgumentParser, argv: list[str]) -> tuple[str, object]:
    """The namespace parsed, or the error raised (usage errors by message, exits by code and output)."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            return "args", vars(parser.parse_args(argv))
    except cli.UsageError as exc:
        return "usage", str(exc)
    except SystemExit as exc:
        return "exit", (exc.code, out.getvalue())


@given(st.lists(st.sampled_from(OPTIONS), max_size=5))
def test_inspect_arguments_parse_the_same(parts: list[list[str]]) -> None:
    argv = ["inspect", *(word for part in parts for word in part)]
    assert _outcome(cli._parser(protocols=False), argv) == _outcome(cli._parser(), argv)


@pytest.mark.parametrize("argv", [["inspect", "--help"], ["inspect", "-h", "x.pcap"]])
def test_inspect_help_is_the_same(argv: list[str]) -> None:
    assert _outcome(cli._parser(protocols=False), argv) == _outcome(cli._parser(), argv)


def test_the_full_parser_has_the_protocol_subcommands() -> None:
    assert _outcome(cli._parser(), ["serve", "iec104"])[0] == "args"
    assert _outcome(cli._parser(protocols=False), ["serve", "iec104"])[0] == "usage"
