"""The README's MXAccess examples run as written against ``otwire serve mxgateway`` in a child process.

The newcomer's path: the library examples of the client section become scripts (only the
endpoint and ``KEY`` are filled in), the shell lines of the simulator section run as
commands with the environment they set, against a simulator started with the README's keys.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from .sim_fixtures import serve_subprocess

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## MXAccess Gateway: {title}")
    return text[start : text.index("\n## ", start + 1)]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


def _shell_lines(block: str) -> Iterator[list[str]]:
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            yield words


def _readme_keys() -> tuple[str, str]:
    """The simulator's ``--api-key`` value in the README and the key its CLI lines export."""
    section = _section("a simulator")
    serve = next(w for b in _blocks(section, "sh") for w in _shell_lines(b) if w[1:3] == ["serve", "mxgateway"])
    exported = next(w for b in _blocks(section, "sh") for w in _shell_lines(b) if w[0] == "export")
    name, _, key = exported[1].partition("=")
    assert name == "MXGATEWAY_API_KEY"
    return serve[serve.index("--api-key") + 1], key


@pytest.fixture(scope="module")
def readme_gateway() -> Iterator[tuple[str, str]]:
    """A simulator with the README's keys; yields ``(endpoint, key the README exports)``."""
    keys, key = _readme_keys()
    with serve_subprocess("--rate", "2", keys=keys) as child:
        yield child.endpoint, key


def _script(block: str, endpoint: str, key: str) -> str:
    imports, _, body = block.partition("\n\n")
    body = body.replace('"localhost:5000"', repr(endpoint))
    main = f"async def main():\n{textwrap.indent(body, '    ')}"
    return f"import asyncio\n{imports}\n\nKEY = {key!r}\n\n\n{main}\n\nasyncio.run(main())\n"


def _run_example(index: int, gateway: tuple[str, str], tmp_path: Path) -> list[str]:
    blocks = _blocks(_section("the `mxgateway` client"), "python")
    assert len(blocks) == 2 and all("from otwire.clients.mxgateway import" in block for block in blocks)
    script = tmp_path / f"example{index}.py"
    script.write_text(_script(blocks[index], *gateway), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout.splitlines()


def test_session_example(readme_gateway: tuple[str, str], tmp_path: Path) -> None:
    [line] = _run_example(0, readme_gateway, tmp_path)
    sequence, family, value = line.split(" ")
    assert (sequence, family) == ("1", "ON_DATA_CHANGE")  # the initial value of the advise comes first
    float(value)


def test_galaxy_example(readme_gateway: tuple[str, str], tmp_path: Path) -> None:
    deploy, *pumps = _run_example(1, readme_gateway, tmp_path)
    assert re.fullmatch(r"last deploy: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00", deploy)
    assert [line.split(" ", 2)[1] for line in pumps] == ["Pump_001", "Pump_002", "Pump_003", "Pump_004"]
    assert all("'PV'" in line and "'ShortDesc'" in line for line in pumps)  # attribute names listed


def test_cli_lines(readme_gateway: tuple[str, str]) -> None:
    endpoint, key = readme_gateway
    lines = [words for b in _blocks(_section("a simulator"), "sh") for words in _shell_lines(b)]
    commands = [words for words in lines if words[:2] == [".venv/bin/otwire", "mxgw"]]
    assert ["smoke", "--plaintext"] in [words[2:] for words in commands]  # issue 10's "done when"
    env = {**os.environ, "MXGATEWAY_API_KEY": key, "MXGATEWAY_ENDPOINT": endpoint}
    for words in commands:
        argv = [sys.executable, "-m", "otwire", *words[1:]]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
        assert (done.returncode, done.stderr) == (0, ""), words
        assert key not in done.stdout
        result = json.loads(done.stdout)
        assert result.get("closed", True) is True and result.get("count", 2) == 2, words
