"""``otwire mxgw`` against the grpcio gateway: every subcommand, determinism, exit codes, redaction."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

from otwire.cli import main

from .grpcio_peer import KEY, GrpcioPeer
from .grpcio_peer_kit import peer

__all__ = ["peer"]


def mxgw(peer: GrpcioPeer, capsys: pytest.CaptureFixture[str], *words: str, key: str = KEY) -> tuple[int, str, str]:
    code = main(["mxgw", *words, "--endpoint", peer.endpoint, "--plaintext", "--api-key", key, "--timeout", "5"])
    out, err = capsys.readouterr()
    assert key not in out and key not in err
    return code, out, err


def ok(peer: GrpcioPeer, capsys: pytest.CaptureFixture[str], *words: str) -> Any:
    code, out, err = mxgw(peer, capsys, *words, "--json")
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    return json.loads(out)


def test_version_is_offline_and_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mxgw", "version"]) == 0
    first = capsys.readouterr().out
    assert main(["mxgw", "version"]) == 0
    assert capsys.readouterr().out == first and json.loads(first)["contract_protocol_version"] == 3


def test_session_subcommands_step_by_step(peer: GrpcioPeer, capsys: pytest.CaptureFixture[str]) -> None:
    session_id = ok(peer, capsys, "open-session", "--client-name", "cli")["sessionId"]
    assert session_id == "sess-1"
    server = ok(peer, capsys, "register", "--session-id", session_id)["server_handle"]
    item = ok(peer, capsys, "add-item", "--session-id", session_id, "--server-handle", str(server), "--item", "A.x")
    handles = ["--session-id", session_id, "--server-handle", str(server), "--item-handle", str(item["item_handle"])]
    assert ok(peer, capsys, "advise", *handles)["advised"] is True
    assert ok(peer, capsys, "write", *handles, "--value", "2.5", "--type", "float")["written"] is True
    events = ok(peer, capsys, "stream-events", "--session-id", session_id, "--max-events", "3")["events"]
    assert [e["family"] for e in events] == ["MX_EVENT_FAMILY_ON_DATA_CHANGE", "MX_EVENT_FAMILY_ON_WRITE_COMPLETE",
                                             "MX_EVENT_FAMILY_ON_DATA_CHANGE"]  # fmt: skip
    assert events[2]["decodedValue"] == 2.5 and events[2]["value"]["variantType"] == "VT_R4"
    again = ok(
        peer, capsys, "stream-events", "--session-id", session_id, "--max-events", "1", "--after-worker-sequence", "2"
    )
    assert again["events"] == events[2:]


def test_write_failure_exits_1_with_one_line(peer: GrpcioPeer, capsys: pytest.CaptureFixture[str]) -> None:
    ok(peer, capsys, "open-session")
    ok(peer, capsys, "register", "--session-id", "sess-1")
    item = ok(peer, capsys, "add-item", "--session-id", "sess-1", "--server-handle", "1", "--item", "Denied.x")
    handles = ["--session-id", "sess-1", "--server-handle", "1", "--item-handle", str(item["item_handle"])]
    code, out, err = mxgw(peer, capsys, "write", *handles, "--value", "7")
    assert (code, out) == (1, "")
    assert (
        err
        == "otwire mxgw: error: WRITE failed: protocol=MXACCESS_FAILURE hresult=0x80040200 status=SECURITY_ERROR/321\n"
    )
    code, out, err = mxgw(peer, capsys, "write", *handles, "--value", "x", "--type", "int")
    assert code == 1 and "is not a int" in err


def test_smoke_and_bench(peer: GrpcioPeer, capsys: pytest.CaptureFixture[str]) -> None:
    smoke = ok(peer, capsys, "smoke", "--item", "A.x", "--value", "5")
    assert smoke["written"] and smoke["closed"] and smoke["first_event"]["workerSequence"] == "1"
    assert peer.gateway.closed_sessions == ["sess-1"]
    bench = ok(peer, capsys, "bench-stream-events", "--item", "A.x", "--max-events", "1")
    assert bench["events"] == 1 and bench["events_per_second"] > 0


def test_galaxy_subcommands(peer: GrpcioPeer, capsys: pytest.CaptureFixture[str]) -> None:
    assert ok(peer, capsys, "galaxy-test-connection") == {"ok": True}
    assert ok(peer, capsys, "galaxy-last-deploy") == {"time_of_last_deploy": "2026-06-01T08:00:00+00:00"}
    discovered = ok(peer, capsys, "galaxy-discover", "--page-size", "4")
    assert discovered["count"] == 13 and discovered["objects"][0]["tag_name"] == "Area1"
    code, out, _ = mxgw(peer, capsys, "galaxy-discover", "--page-size", "4")
    code2, out2, _ = mxgw(peer, capsys, "galaxy-discover", "--page-size", "4")
    assert code == code2 == 0 and out == out2 and json.loads(out) == discovered
    assert ok(peer, capsys, "galaxy-discover", "--max-objects", "2")["count"] == 2
    watched = ok(peer, capsys, "galaxy-watch", "--max-events", "1")["events"]
    assert watched[0]["isInitialState"] is True


def test_batch(peer: GrpcioPeer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["version", "open-session --client-name b", "register --session-id sess-1", "", "bogus", "advise --nope",
             "write --help"]  # fmt: skip
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, err = mxgw(peer, capsys, "batch")
    assert code == 1 and err == ""
    records = out.split("__MXGW_BATCH_EOR__\n")
    assert records[-1] == "" and len(records) == 7
    results = [json.loads(record) for record in records[:-1]]
    assert results[0]["client"] == "otwire" and results[1]["sessionId"] == "sess-1"
    assert results[2] == {"server_handle": 1}
    assert results[3] == {"error": "not a subcommand line: 'bogus'", "type": "error"}
    assert results[4]["type"] == "error" and "required: --session-id" in results[4]["error"]
    assert results[5] == {"error": "--help is not available in batch: 'write --help'", "type": "error"}


def test_auth_failure_and_usage_errors(
    peer: GrpcioPeer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "mxgw_cli_Wr0ngS3cret"
    code, out, err = mxgw(peer, capsys, "open-session", key=secret)
    assert code == 1 and out == "" and err.count("\n") == 1 and "UNAUTHENTICATED" in err and "***" in err
    monkeypatch.setenv("MY_KEY", KEY)
    assert (
        main(["mxgw", "galaxy-test-connection", "--endpoint", peer.endpoint, "--plaintext", "--api-key-env", "MY_KEY"])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"ok": True}
    assert main(["mxgw", "register", "--plaintext", "--tls", "--session-id", "s"]) == 2
    assert "not allowed with argument --plaintext" in capsys.readouterr().err
    assert main(["mxgw", "register", "--plaintext", "--ca-file", "x.pem", "--session-id", "s"]) == 2
    assert "need TLS" in capsys.readouterr().err
    assert main(["mxgw"]) == 2
    assert "choose a subcommand" in capsys.readouterr().err
