"""The pyimb-style examples on Python 3.12 and 3.13 (no asyncore there) against ``otwire serve imb-hub``.

The hub runs as the CLI runs it, from this test's interpreter. Each example runs on
the other interpreter with otwire from ``src/`` and its runtime dependencies (from
``pyproject.toml``) installed into a cache folder under ``.venv/``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import listening, wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(__file__).resolve().parent / "pyimb_examples"
CACHE = ROOT / ".venv" / "other-pythons"
DEPENDENCIES = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def find_python(version: str) -> str | None:
    """The interpreter for ``version`` on PATH, or in pyenv's versions folder."""
    for candidate in [
        shutil.which(f"python{version}"),
        *sorted(glob.glob(f"/root/.pyenv/versions/{version}*/bin/python{version}")),
    ]:
        if candidate:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
            )
            if probe.returncode == 0:
                return candidate
    return None


def site_dir(python: str, version: str) -> Path:
    """Install otwire's runtime dependencies for ``python`` into a cached folder (once)."""
    target = CACHE / version
    stamp = target / f".stamp-{hashlib.sha256(' '.join(DEPENDENCIES).encode()).hexdigest()[:12]}"
    if not stamp.exists():
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(target),
                *DEPENDENCIES,
            ],
            check=True,
            timeout=300,
        )
        stamp.touch()
    return target


@pytest.fixture(scope="module")
def hub_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "otwire.cli", "serve", "imb-hub", "--port", str(port), "--duration", "120"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: listening(server, port), 10.0, what="otwire serve imb-hub listening")
        yield port
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("version", ["3.12", "3.13"])
@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("change_object.py", "ChangeObjectEvent: 1 2 ecodistrict.anything something\n"),
        ("get_event.py", "True\nTrue\nmy federation.my_event\nNone\n"),
        ("publish_stream.py", "stream sent\n"),
    ],
)
def test_examples_on_python(version: str, script: str, expected: str, hub_port: int, tmp_path: Path) -> None:
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter on this machine")
    site = site_dir(python, version)
    (tmp_path / "test.txt").write_bytes(b"payload\n" * 5000)
    env = {**os.environ, "IMB_PORT": str(hub_port), "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{site}"}
    result = subprocess.run(
        [python, str(EXAMPLES / script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(expected)
    version_seen = subprocess.run([python, "-c", "import sys; print(sys.version[:4])"], capture_output=True, text=True)
    assert version_seen.stdout.startswith(version)
