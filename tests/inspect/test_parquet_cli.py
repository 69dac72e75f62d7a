"""``otwire inspect --format parquet -w DIR``: the command writes what the library writes, after -Y and -c."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from otwire.cli import main
from otwire.inspect.parquet import write_parquet

pq = pytest.importorskip("pyarrow.parquet")

SAMPLE = resources.files("otwire.inspect") / "samples" / "iti_090813_diverse.pcap"


def sample(tmp_path: Path) -> Path:
    path = tmp_path / "iti_090813_diverse.pcap"
    path.write_bytes(SAMPLE.read_bytes())
    return path


def rows(out: Path) -> list[dict[str, object]]:
    return [row for file in sorted(out.glob("*/*/*.parquet")) for row in pq.read_table(file).to_pylist()]


def test_command_writes_what_the_library_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = sample(tmp_path)
    assert main(["inspect", "--format", "parquet", "-w", str(tmp_path / "cli"), str(capture)]) == 0
    summary = json.loads(capsys.readouterr().err)["parquet"]
    write_parquet(capture, tmp_path / "lib")
    written = rows(tmp_path / "cli")
    assert written == rows(tmp_path / "lib") and len(written) > 80
    assert summary == {"folder": str(tmp_path / "cli"), "files": 1, "records": 86, "rows": {"iec104": len(written)}}


def test_filter_and_count_choose_the_records(tmp_path: Path) -> None:
    capture, out = sample(tmp_path), tmp_path / "out"
    args = ["inspect", "--no-summary", "--format", "parquet", "-w", str(out), str(capture)]
    assert main([*args, "-Y", 'type == "M_ME_NC_1" and ioa == 1300', "-c", "3"]) == 0
    written = rows(out)
    assert [row["record"] for row in written if row["ioa"] == 1300] == [1, 2, 3]
    assert {row["type"] for row in written} == {"M_ME_NC_1"}


def test_parquet_needs_a_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--format", "parquet"]) == 2
    assert "--format parquet needs -w DIR" in capsys.readouterr().err


def test_help_names_parquet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--help"]) == 0
    assert "parquet" in capsys.readouterr().out
