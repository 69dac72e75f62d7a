"""``otwire mxgw`` against ``otwire serve mxgateway`` in a child process: every subcommand, exit codes,
determinism, key redaction."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otwire.cli import main
from otwire.servers.mxgateway import Server

from .sim_fixtures import KEY, KEYS, READ_ONLY, Child, free_port, serve_subprocess
from .sim_support import certificate

EOR = "__MXGW_BATCH_EOR__"
Capsys = pytest.CaptureFixture[str]


@pytest.fixture(scope="module")
def quiet_child() -> Iterator[Child]:
    """A simulator whose values never change on their own (event streams are deterministic)."""
    with serve_subprocess("--rate", "0", "--items", "5") as child:
        yield child
    assert not any(KEY in line or READ_ONLY in line for line in child.lines)  # nor does the simulator print keys


@pytest.fixture
def quiet(quiet_child: Child) -> str:
    return quiet_child.endpoint


@pytest.fixture(scope="module")
def busy() -> Iterator[str]:
    """A simulator with fast value changes and a Galaxy deploy every 0.2 s."""
    with serve_subprocess("--rate", "50", "--items", "5", "--deploy-interval", "0.2") as child:
        yield child.endpoint


def mxgw(capsys: Capsys, endpoint: str, *words: str, key: str = KEY) -> tuple[int, str, str]:
    """Run ``otwire mxgw WORDS`` in this process; the key must not appear in what it printed."""
    code = main(["mxgw", *words, "--endpoint", endpoint, "--plaintext", "--api-key", key, "--timeout", "10"])
    out, err = capsys.readouterr()
    assert key not in out and key not in err
    return code, out, err


def ok(capsys: Capsys, endpoint: str, *words: str) -> Any:
    code, out, err = mxgw(capsys, endpoint, *words, "--json")
    assert (code, err) == (0, "")
    assert out.count("\n") == 1 and out.endswith("\n")
    return json.loads(out)


def _session(capsys: Capsys, endpoint: str, tag: str) -> list[str]:
    """open-session, register, add-item: the ``--session-id/--server-handle/--item-handle`` options."""
    session_id = ok(capsys, endpoint, "open-session", "--client-name", "cli")["sessionId"]
    server = ok(capsys, endpoint, "register", "--session-id", session_id)["server_handle"]
    item = ok(capsys, endpoint, "add-item", "--session-id", session_id, "--server-handle", str(server), "--item", tag)
    return ["--session-id", session_id, "--server-handle", str(server), "--item-handle", str(item["item_handle"])]


def test_session_subcommands_step_by_step(quiet: str, capsys: Capsys) -> None:
    handles = _session(capsys, quiet, "SimTags.Tag0001")
    assert ok(capsys, quiet, "advise", *handles)["advised"] is True
    assert ok(capsys, quiet, "write", *handles, "--value", "2.5", "--type", "float")["written"] is True
    session = handles[:2]
    events = ok(capsys, quiet, "stream-events", *session, "--max-events", "3")["events"]
    families = [event["family"].removeprefix("MX_EVENT_FAMILY_") for event in events]
    assert families == ["ON_DATA_CHANGE", "ON_WRITE_COMPLETE", "ON_DATA_CHANGE"]
    assert events[2]["decodedValue"] == 2.5 and events[2]["value"]["variantType"] == "VT_R4"
    again = ok(capsys, quiet, "stream-events", *session, "--max-events", "1", "--after-worker-sequence", "2")
    assert again["events"] == events[2:]


def test_smoke_galaxy_and_bench(quiet: str, busy: str, capsys: Capsys) -> None:
    smoke = ok(capsys, quiet, "smoke", "--item", "SimTags.Tag0002", "--value", "5")
    assert smoke["written"] and smoke["closed"] and smoke["first_event"]["workerSequence"] == "1"
    assert ok(capsys, quiet, "galaxy-test-connection") == {"ok": True}
    assert ok(capsys, quiet, "galaxy-last-deploy")["time_of_last_deploy"].endswith("+00:00")
    everything = ok(capsys, quiet, "galaxy-discover", "--page-size", "4")
    assert everything["count"] == 31 and everything["objects"][0]["tag_name"] == "Plant"
    assert ok(capsys, quiet, "galaxy-discover", "--max-objects", "3")["objects"] == everything["objects"][:3]
    watched = ok(capsys, busy, "galaxy-watch", "--max-events", "3")["events"]
    assert watched[0]["isInitialState"] is True and "isInitialState" not in watched[1]
    assert int(watched[2]["sequence"]) == int(watched[1]["sequence"]) + 1
    bench = ok(capsys, busy, "bench-stream-events", "--item", "SimTags.Tag0003", "--max-events", "20")
    assert bench["events"] == 20 and bench["events_per_second"] > 0


CLOCKLESS = [
    ["version"],
    ["galaxy-test-connection"],
    ["galaxy-discover", "--page-size", "7", "--max-objects", "12"],
    ["smoke", "--item", "Fault.WriteDeniedX", "--value", "1"],  # a failure: the same one line
]


@pytest.mark.parametrize("words", CLOCKLESS, ids=[" ".join(w[:1]) + str(i) for i, w in enumerate(CLOCKLESS)])
@pytest.mark.parametrize("compact", [True, False], ids=["json", "indented"])
def test_same_input_same_bytes(quiet: str, words: list[str], compact: bool) -> None:
    argv = [sys.executable, "-m", "otwire", "mxgw", *words, *(["--json"] if compact else [])]
    if words != ["version"]:
        argv += ["--endpoint", quiet, "--plaintext", "--api-key", KEY]
    runs = [subprocess.run(argv, capture_output=True, timeout=60, check=False) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout and runs[0].stderr == runs[1].stderr
    failing = "Fault.WriteDeniedX" in words
    assert runs[0].returncode == runs[1].returncode == (1 if failing else 0)
    if failing:
        assert runs[0].stdout == b"" and runs[0].stderr.count(b"\n") == 1
    else:
        assert runs[0].stderr == b"" and (runs[0].stdout.count(b"\n") == 1) is compact


def test_exit_1_with_one_line_on_failures(quiet: str, capsys: Capsys) -> None:
    handles = _session(capsys, quiet, "Fault.WriteDeniedSetpoint")
    code, out, err = mxgw(capsys, quiet, "write", *handles, "--value", "7")
    assert (code, out) == (1, "")
    assert err == (
        "otwire mxgw: error: WRITE failed: protocol=MXACCESS_FAILURE hresult=0x80040200 status=SECURITY_ERROR/321\n"
    )
    failures = [
        (["register", "--session-id", "no-such-session"], KEY),
        (["write", *handles, "--value", "x", "--type", "int"], KEY),
        (["write", *handles, "--value", "1"], READ_ONLY),  # PERMISSION_DENIED: no invoke:write scope
        (["open-session"], "wrong-key-3f9a"),  # UNAUTHENTICATED
        (["add-item", *handles[:4], "--item", "Fault.MissingTag"], KEY),
    ]
    for words, key in failures:
        code, out, err = mxgw(capsys, quiet, *words, key=key)
        assert (code, out, err.count("\n")) == (1, "", 1), words
        assert err.startswith("otwire mxgw: error: ")
    code, out, err = mxgw(capsys, f"127.0.0.1:{free_port()}", "galaxy-test-connection")  # nobody listens
    assert (code, out, err.count("\n")) == (1, "", 1)


USAGE = [
    ["register", "--plaintext", "--tls", "--session-id", "s"],
    ["register", "--plaintext", "--ca-file", "x.pem", "--session-id", "s"],
    ["register"],
    ["stream-events", "--session-id", "s", "--max-events", "0"],
    ["no-such-subcommand"],
    [],
    ["write", "--session-id", "s", "--server-handle", "1", "--item-handle", "x", "--value", "1"],
    ["galaxy-test-connection", "--plaintext", "--endpoint", "host:notaport"],
    ["smoke", "--endpoint", "host:99999"],
]


@pytest.mark.parametrize("words", USAGE, ids=[str(i) for i in range(len(USAGE))])
def test_exit_2_on_usage_errors(words: list[str]) -> None:
    argv = [sys.executable, "-m", "otwire", "mxgw", *words, "--api-key", KEY]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr.count("\n")) == (2, "", 1), done.stderr
    assert KEY not in done.stderr


def test_api_key_env(quiet: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["mxgw", "galaxy-test-connection", "--endpoint", quiet, "--plaintext", "--json"]
    monkeypatch.setenv("MXGATEWAY_API_KEY", KEY)
    assert main(base) == 0 and capsys.readouterr().out == '{"ok":true}\n'
    monkeypatch.setenv("MXGATEWAY_API_KEY", "")
    monkeypatch.setenv("PLANT_KEY", KEY)
    assert main([*base, "--api-key-env", "PLANT_KEY"]) == 0 and capsys.readouterr().out == '{"ok":true}\n'
    assert main(base) == 1  # no key at all
    out, err = capsys.readouterr()
    assert out == "" and "UNAUTHENTICATED" in err and KEY not in err
    monkeypatch.setenv("MXGATEWAY_ENDPOINT", quiet)
    monkeypatch.setenv("MXGATEWAY_API_KEY", KEY)
    assert main(["mxgw", "smoke", "--plaintext"]) == 0  # issue 10: `otwire mxgw smoke --plaintext ...`
    assert json.loads(capsys.readouterr().out)["closed"] is True


def test_batch(quiet: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        "version",
        "open-session --client-name batch",
        "galaxy-discover --max-objects 1",
        "",
        f"smok --item A.b --api-key {KEY}",  # a typo: the line is echoed, the key must not be
        f"smoke --api-key='{KEY}' --timeout x",  # an argparse error
        f"galaxy-test-connection --api-key {READ_ONLY} --help",
        "smoke --item SimTags.Tag0004",
        "register --session-id nope",
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, err = mxgw(capsys, quiet, "batch")
    assert READ_ONLY not in out and READ_ONLY not in err
    assert (code, err) == (1, "")
    records = out.split(EOR + "\n")
    assert records[-1] == "" and len(records) == 9
    assert all(record.count("\n") == 1 for record in records[:-1])
    results = [json.loads(record) for record in records[:-1]]
    assert results[0]["client"] == "otwire" and results[1]["sessionId"]
    assert results[2]["count"] == 1
    assert [r.get("type") for r in results[3:]] == ["error", "error", "error", None, "error"]
    assert results[3]["error"] == "not a subcommand line: 'smok --item A.b --api-key ***'"
    assert results[6]["closed"] is True and "NOT_FOUND" in results[7]["error"]


def test_tls_options(tmp_path: Path, capsys: Capsys) -> None:
    cert, key = certificate(tmp_path)
    with Server(port=0, rate=0, api_key=KEYS, tls_cert=cert, tls_key=key) as server:
        endpoint = ["--endpoint", f"127.0.0.1:{server.port}", "--api-key", KEY, "--json"]
        trusted = ["--ca-file", str(cert), "--server-name-override", "localhost"]
        assert main(["mxgw", "galaxy-test-connection", *endpoint, "--tls", *trusted]) == 0
        assert capsys.readouterr().out == '{"ok":true}\n'
        assert main(["mxgw", "smoke", *endpoint, *trusted]) == 0  # TLS is the default
        assert json.loads(capsys.readouterr().out)["closed"] is True
        assert main(["mxgw", "galaxy-test-connection", *endpoint]) == 1  # system roots: not trusted
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and KEY not in err
    assert os.path.exists(cert)


def test_a_batch_line_may_choose_tls_over_the_batchs_plaintext(
    quiet: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("galaxy-test-connection\ngalaxy-test-connection --tls\n"))
    code, out, _ = mxgw(capsys, quiet, "batch")
    first, second, rest = out.split(EOR + "\n")
    assert (code, json.loads(first), rest) == (1, {"ok": True}, "")
    assert json.loads(second)["type"] == "error"  # TLS against the plaintext simulator fails


def test_a_reader_that_leaves_early_is_not_an_error(tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("version\n" * 5000, encoding="utf-8")  # far more output than a pipe holds
    argv = [sys.executable, "-m", "otwire", "mxgw", "batch", "--plaintext"]
    with lines.open("rb") as stdin:
        child = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout is not None and child.stderr is not None
        assert json.loads(child.stdout.readline())["client"] == "otwire"
        child.stdout.close()  # `| head -1`
        err = child.stderr.read()
        assert child.wait(60) == 0 and err == b""
