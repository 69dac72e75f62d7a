"""The ``otwire`` command line: the protocol registry, bad arguments, server limits, client retries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from otwire import cli, registry
from otwire.errors import InvalidArgument
from otwire.inspect.dissect import new_dissector, view
from otwire.inspect.model import Dissector, ProtocolView
from otwire.inspect.records import Sender
from otwire.servers.limits import ServerLimits


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- the registry ------------------------------------------------------------------------


@pytest.mark.parametrize("entry", registry.PROTOCOLS.values(), ids=list(registry.PROTOCOLS))
def test_every_entry_loads(entry: registry.ProtocolEntry) -> None:
    assert (entry.dissector is None) == (entry.view is None)
    if entry.dissector is not None:
        dissector: Dissector = new_dissector(entry.name)
        assert list(dissector.feed(Sender.CLIENT, b"")) == []
        assert isinstance(view(entry.name), ProtocolView)
        assert view(entry.name).columns[-1].width == 0  # the last column is never padded
    else:
        with pytest.raises(InvalidArgument, match="no dissector yet"):
            new_dissector(entry.name)
    for command in (entry.serve, entry.client):
        if command is not None:
            assert callable(command.load())


def test_a_protocol_without_dissector_is_refused_by_inspect(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    toy = registry.ProtocolEntry(name="toy", title="Toy", default_port=9999)  # every real one has a dissector
    monkeypatch.setattr(registry, "PROTOCOLS", MappingProxyType({**registry.PROTOCOLS, "toy": toy}))
    assert "toy" not in registry.dissectable() and 9999 not in registry.default_ports()
    code, _out, err = run(capsys, "inspect", "--port", "toy:9999")
    assert code == 2 and "no dissector yet" in err and len(err.strip().splitlines()) == 1


def test_registry_lookup_and_ports() -> None:
    assert registry.get("imb").default_port == 4000
    assert registry.default_ports() == {2404: "iec104", 4000: "imb", 5222: "xmpp", 8080: "i3x"}
    with pytest.raises(InvalidArgument, match="known: iec104, imb, i3x"):
        registry.get("modbus")


def test_default_ports_agree_with_the_servers() -> None:
    import importlib

    for entry in registry.PROTOCOLS.values():
        if entry.serve is not None:
            module = importlib.import_module(entry.serve.target.partition(":")[0])
            assert getattr(module, "DEFAULT_PORT", entry.default_port) == entry.default_port


def test_start_up_imports_no_protocol_code() -> None:
    code = (
        "import sys, otwire.cli; otwire.cli._parser();"
        "print(sorted(m for m in sys.modules if m.startswith(('otwire.codecs', 'otwire.inspect', 'otwire.servers',"
        " 'otwire.clients', 'dpkt', 'rich'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_subcommands_come_from_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "serve", "--help")
    assert code == 0 and "{iec104,imb-hub,i3x,mxgateway}" in out
    code, out, _ = run(capsys, "client", "--help")
    assert code == 0 and "{iec104}" in out


# -- every bad argument: one line, exit 2 --------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ((), "choose a command"),
        (("bogus",), "invalid choice"),
        (("serve",), "choose a protocol: iec104, imb-hub"),
        (("client",), "choose a protocol: iec104"),
        (("serve", "iec104", "--port", "65536"), "port 65536 outside 0..65535"),
        (("serve", "imb-hub", "--port", "-1"), "not a port number"),
        (("client", "iec104", "h", "--port", "0"), "port 0 outside 1..65535"),
        (("client", "iec104", "h", "--port", "x"), "not a port number"),
        (("client", "iec104"), "required: host"),
        (("client", "iec104", "h", "--retries", "many"), "not a whole number"),
        (("client", "iec104", "h", "--retry-delay", "0"), "positive"),
        (("serve", "iec104", "--duration", "nan"), "positive"),
        (("inspect", "--port", "modbus:502"), "'modbus' is not a known protocol"),
        (("inspect", "--port", "iec104:"), "not a port number"),
        (("inspect", "--port", "99999"), "outside 1..65535"),
        (("inspect", "--proto", "http", "x"), "invalid choice"),
        (("serve", "imb-hub", "--max-output", "12Q"), "not a size in octets"),
        (("serve", "imb-hub", "--max-connections", "0"), "below 1"),
        (("serve", "imb-hub", "--max-output", "1K"), "max_output_bytes=1024"),
        (("serve", "imb-hub", "--max-output", "64M", "--memory-budget", "32M"), "below max_output_bytes"),
    ],
)
def test_bad_argument_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], words: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_missing_file_and_markup_in_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "inspect", str(tmp_path / "[bold]nope.pcap"))
    assert code == 2 and err.count("\n") == 1 and "[bold]nope.pcap" in err


def test_bad_arguments_in_a_subprocess_never_traceback() -> None:
    for argv in (["serve", "iec104", "--port", "99999"], ["inspect", "--port", ":"], ["client", "iec104", "h", "-x"]):
        done = subprocess.run([sys.executable, "-m", "otwire.cli", *argv], capture_output=True, text=True)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# -- options passed to serve() and monitor() -----------------------------------------------


class Recorder:
    """Stands for a serve() or monitor() function: records its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> int:
        self.calls.append((args, kwargs))
        return 0


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    fake = Recorder()
    monkeypatch.setattr(registry.Command, "load", lambda self: fake)
    return fake


def test_serve_passes_limits_only_when_given(recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "serve", "imb-hub", "--port", "0")[0] == 0
    assert recorder.calls[-1] == (("127.0.0.1", 0), {"record": None, "duration": None})
    argv = ["--max-connections", "5", "--max-per-address", "2", "--handshake-timeout", "1.5", "--idle-timeout", "60",
            "--frame-timeout", "2", "--max-output", "64k", "--memory-budget", "1G"]  # fmt: skip
    assert run(capsys, "serve", "iec104", "--host", "::1", *argv)[0] == 0
    args, kwargs = recorder.calls[-1]
    assert args == ("::1", 2404)
    assert kwargs["limits"] == ServerLimits(
        max_connections=5,
        max_per_address=2,
        handshake_timeout=1.5,
        idle_timeout=60.0,
        frame_timeout=2.0,
        max_output_bytes=65536,
        memory_budget=1 << 30,
    )
    assert set(cli.LIMIT_OPTIONS) == set(argv[::2])  # every option was given
    fields = {field for field, *_ in cli.LIMIT_OPTIONS.values()}
    assert fields == set(ServerLimits.__dataclass_fields__)


def test_one_limit_keeps_the_other_defaults(recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "serve", "imb-hub", "--idle-timeout", "9")[0] == 0
    assert recorder.calls[-1][1]["limits"] == ServerLimits(idle_timeout=9.0)


def test_client_passes_retries_only_when_given(recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "client", "iec104", "10.0.0.1", "--record", "x.pcap", "--duration", "3")[0] == 0
    assert recorder.calls[-1] == (("10.0.0.1", 2404), {"record": "x.pcap", "duration": 3.0})
    assert run(capsys, "client", "iec104", "h", "--port", "2405", "--retries", "3", "--retry-delay", "0.5")[0] == 0
    assert recorder.calls[-1] == (("h", 2405), {"record": None, "duration": None, "retries": 3, "retry_delay": 0.5})


@pytest.mark.parametrize("name", ["[bold]x.pcap", "[red]z.pcap", "[link=http:]y.pcap", "a[b.pcap"])
def test_markup_in_file_names_is_shown_as_is(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    from importlib import resources

    sample = resources.files("otwire.inspect") / "samples" / "iti_090813_diverse.pcap"
    path = tmp_path / name
    path.write_bytes(sample.read_bytes())
    code, out, err = run(capsys, "inspect", str(path))
    assert code == 0 and err == ""
    assert f"== {path}\n" in out and f"summary: {path}" in out
    code, out, err = run(capsys, "inspect", "--format", "jsonl", str(path))
    assert code == 0 and f'{{"summary": {{"{path}": ' in err


@pytest.mark.parametrize("output", ["table", "jsonl"])
def test_a_closed_pipe_ends_inspect_quietly(output: str) -> None:
    """``otwire inspect | head -1``: exit status 0 and nothing on stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "otwire", "inspect", "--format", output],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""
    process.stderr.close()


def test_a_protocol_declares_its_own_serve_options(recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--max-name-bytes", "2K", "--max-names-per-client", "10", "--max-event-names", "100",
            "--max-value-bytes", "64K", "--max-junk-bytes", "0", "--heartbeat-interval", "2.5"]  # fmt: skip
    assert run(capsys, "serve", "imb-hub", *argv)[0] == 0
    assert recorder.calls[-1][1] == {
        "record": None,
        "duration": None,
        "max_name_bytes": 2048,
        "max_names_per_client": 10,
        "max_event_names": 100,
        "max_value_bytes": 65536,
        "max_junk_bytes": 0,
        "heartbeat_interval": 2.5,
    }
    hub = registry.get("imb").serve
    assert hub is not None and {o.flag for o in hub.options} == set(argv[::2])
    assert run(capsys, "serve", "imb-hub", "--max-name-bytes", "100")[0] == 0  # only what was given
    assert recorder.calls[-1][1] == {"record": None, "duration": None, "max_name_bytes": 100}
    code, _, err = run(capsys, "serve", "iec104", "--max-name-bytes", "100")  # not an option of iec104
    assert code == 2 and "unrecognized arguments" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "serve", "imb-hub", "--max-names-per-client", "0")
    assert code == 2 and "below 1" in err


def test_the_hub_options_reach_the_engine(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from otwire.servers.imb import hub as hub_module

    seen: list[Any] = []
    monkeypatch.setattr(hub_module, "run_until_signal", lambda hub, **kwargs: seen.append(hub) or 0)
    argv = ["--port", "0", "--max-name-bytes", "300", "--heartbeat-interval", "4", "--max-junk-bytes", "1K"]
    assert run(capsys, "serve", "imb-hub", *argv)[0] == 0
    config = seen[0].engine.config
    assert (config.max_name_bytes, config.heartbeat_interval, config.max_junk_bytes) == (300, 4.0, 1024)
    code, _, err = run(capsys, "serve", "imb-hub", "--port", "0", "--max-name-bytes", "0")
    assert code == 2 and "max_name_bytes=0" in err


def test_option_entries_are_checked() -> None:
    registry.Option("--profile", "profile", "text", "the i3X profile")
    for flag, dest, kind in (("profile", "profile", "text"), ("--x", "x", "float"), ("--x", "not-id", "text")):
        with pytest.raises(InvalidArgument):
            registry.Option(flag, dest, kind, "help")


def test_switch_and_text_options(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = registry.get("imb")
    assert entry.serve is not None
    options = (
        registry.Option("--token", "token", "text", "a token"),
        registry.Option("--basic", "basic", "switch", "basic"),
    )
    command = registry.Command(name="imb-hub", target=entry.serve.target, help="h", options=options)
    fake = registry.ProtocolEntry(name="imb", title="T", default_port=1, dissector="", view="", serve=command)
    monkeypatch.setattr(registry, "PROTOCOLS", {"imb": fake})
    assert run(capsys, "serve", "imb-hub", "--token", "abc", "--basic")[0] == 0
    assert recorder.calls[-1][1] == {"record": None, "duration": None, "token": "abc", "basic": True}
    assert run(capsys, "serve", "imb-hub")[0] == 0
    assert recorder.calls[-1][1] == {"record": None, "duration": None}


def test_client_help_shows_the_retry_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "client", "iec104", "--help")
    out = " ".join(out.split())
    assert code == 0
    assert "fails (default 3)" in out and "attempts (default 1)" in out


def test_inspect_runs_with_fewer_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector's thresholds are raised while ``otwire inspect`` runs, and restored after it."""
    import gc

    import otwire.inspect.command

    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []
    monkeypatch.setattr(otwire.inspect.command, "run", lambda args: seen.append(gc.get_threshold()) or 0)
    assert cli.main(["inspect", "--no-summary"]) == 0
    assert seen == [cli.INSPECT_GC_THRESHOLDS] != [before]
    assert gc.get_threshold() == before
