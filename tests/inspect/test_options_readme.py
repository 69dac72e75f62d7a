"""The README's examples of otwire inspect's options run, and print what the README shows.

Each ``$ otwire inspect ...`` line of the section's ``console`` blocks is run (with
``< FILE`` as stdin) in a folder holding copies of the bundled captures; the lines after it
must be the start of what it prints (stdout, then stderr), trailing blanks aside.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path

import pytest

from otwire.cli import main
from otwire.inspect.files import SAMPLES

README = Path(__file__).parent.parent.parent / "README.md"
IS_ROOT = sys.platform.startswith("linux") and os.geteuid() == 0


def section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("### Options a tshark user expects") : text.index("## The codec")]


def examples() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", section(), re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                found[-1][1].append(line.rstrip())
    return found


@pytest.fixture
def samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in SAMPLES:
        with resources.as_file(resources.files("otwire.inspect") / "samples" / name) as path:
            shutil.copy(path, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_section_shows_every_option() -> None:
    commands = " ".join(command for command, _ in examples())
    for option in (
        "-r ",
        "inspect - ",
        "-c ",
        "-Y ",
        "-T fields",
        "-e ",
        "-E header=y",
        "--format csv",
        "-w ",
        "-V",
        "-x",
        "-i ",
        "--duration",
    ):
        assert option in commands, option


def test_readme_examples_print_what_the_readme_shows(
    samples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = 0
    for command, expected in examples():  # in order: a later example reads what an earlier one wrote
        words = shlex.split(command)
        assert words[0] == "otwire"
        if "-i" in words and not IS_ROOT:
            continue
        if "<" in words:
            at = words.index("<")
            data = (samples / words[at + 1]).read_bytes()
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
            words = words[:at]
        code = main(words[1:])
        out, err = capsys.readouterr()
        printed = [line.rstrip() for line in (out + err).splitlines()]
        failing = bool(expected) and expected[0].startswith("otwire inspect: error:")
        assert code == (2 if failing else 0), command
        assert printed[: len(expected)] == expected, command
        ran += 1
    assert ran >= 7


def test_readme_explain_example(capsys: pytest.CaptureFixture[str]) -> None:
    code = re.search(r"```python\n(.*?)```", section(), re.DOTALL)
    assert code is not None
    exec(compile(code[1], "README.md", "exec"), {})
    comment = code[1].rsplit("# ", 1)[1].strip()
    assert capsys.readouterr().out.splitlines() == [comment]
