"""``otwire inspect --jobs N``: files dissected in worker processes, output in input order."""

from __future__ import annotations

from contextlib import ExitStack
from importlib import resources
from pathlib import Path

import pytest

from otwire.cli import main
from otwire.inspect.files import SAMPLES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    assert main(["inspect", *argv]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.mark.parametrize("form", ["table", "jsonl"])
def test_jobs_print_what_one_process_prints_in_input_order(form: str, capsys: pytest.CaptureFixture[str]) -> None:
    with ExitStack() as stack:
        folder = resources.files("otwire.inspect") / "samples"
        paths = [str(stack.enter_context(resources.as_file(folder / name))) for name in reversed(SAMPLES)]
        serial = run(capsys, "--format", form, *paths)
        parallel = run(capsys, "--format", form, "--jobs", "3", *paths)
    assert parallel == serial
    out = serial[0]
    positions = [out.index(Path(p).name) for p in paths]
    assert positions == sorted(positions)  # every file's output in the order the files were given
    if form == "jsonl":
        assert serial[1].count('{"summary"') == len(paths)


def test_jobs_must_be_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--jobs", "0"]) == 2
    assert "--jobs: 0 is below 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options",
    [
        [
            "-Y",
            'kind == "apdu" and direction == "to_server"',
            "-T",
            "fields",
            "-e",
            "packet",
            "-e",
            "type",
            "-E",
            "header=y",
        ],
        ["-Y", "stream == 1", "--format", "csv"],
        ["-Y", 'protocol == "iec104"', "-V", "-x"],
    ],
)
def test_jobs_with_filter_and_outputs_print_what_one_process_prints(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with ExitStack() as stack:
        folder = resources.files("otwire.inspect") / "samples"
        paths = [str(stack.enter_context(resources.as_file(folder / name))) for name in SAMPLES]
        serial = run(capsys, *options, *paths)
        parallel = run(capsys, *options, "--jobs", "2", *paths)
    assert parallel == serial
    assert len(serial[0].splitlines()) > len(paths)
    if "-E" in options or "csv" in options:  # one header line for all the files
        header = serial[0].splitlines()[0]
        assert serial[0].splitlines().count(header) == 1


@pytest.mark.parametrize(
    ("options", "refused"), [(["-c", "3"], "-c"), (["-w", "out.pcap"], "-w"), (["-"], "- (standard input)")]
)
def test_jobs_refuse_options_that_work_across_inputs(
    options: list[str],
    refused: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with resources.as_file(resources.files("otwire.inspect") / "samples" / SAMPLES[0]) as path:
        assert main(["inspect", "--jobs", "2", str(path), *options]) == 2
    assert f"--jobs goes without {refused}" in capsys.readouterr().err
    assert not (tmp_path / "out.pcap").exists()
