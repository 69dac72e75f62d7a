"""The real i3x-client 1.0.0 (CESMII, MIT) against ``otwire serve i3x`` (issue 9 §6).

``tests/i3x`` shadows the ``i3x`` package inside the pytest process, so the client runs in a subprocess (a script
under ``scripts/``, ``cwd`` outside ``tests/``, no inherited ``PYTHONPATH``) against ``otwire serve i3x --port 0``
started as another subprocess and stopped with SIGTERM. Findings: specs/i3x/notes.md, "Conformance with
i3x-client 1.0.0".
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import OtwireProcess

SCRIPTS = Path(__file__).parent / "scripts"


def _installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed, without importing it (``import i3x`` finds tests/i3x here)."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


TIMEOUT = 60.0

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.skipif(not _installed("i3x-client"), reason="i3x-client (dev extra) not installed"),
]


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, "PYTHONUNBUFFERED": "1"}


class Serve(OtwireProcess):
    """``python -m otwire serve i3x --port 0`` (outside ``tests/``, no ``PYTHONPATH``); the URL is in its banner."""

    def __init__(self) -> None:
        super().__init__("serve", "i3x", "--port", "0", env=_env(), cwd=Path(__file__).parents[2], merge_stderr=True)
        self.base_url = self.wait_for(r"(http://[\d.]+:\d+/v1)/info", TIMEOUT).group(1)

    def stop(self) -> int:
        try:
            return self.terminate(TIMEOUT)
        finally:
            self.kill()


@pytest.fixture(scope="module")
def server() -> Iterator[Serve]:
    serve = Serve()
    try:
        yield serve
    finally:
        assert serve.stop() == 0, serve.log()
        assert "Traceback" not in serve.log(), serve.log()


def run_script(name: str, base_url: str, tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / name), base_url],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert done.stdout.rstrip().endswith("ALL OK"), done.stdout
    return done.stdout


def test_the_client_package_is_the_real_one(tmp_path: Path) -> None:
    code = "import i3x, importlib.metadata as m; print(i3x.__file__, m.version('i3x-client'))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, env=_env(), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    path, version = done.stdout.split()
    assert version == "1.0.0" and "site-packages" in path, done.stdout


def test_every_public_client_method(server: Serve, tmp_path: Path) -> None:
    out = run_script("every_method.py", server.base_url, tmp_path)
    steps = set(re.findall(r"^ok (\w+)$", out, re.MULTILINE))
    expected = {
        "connect", "disconnect", "get_info", "get_namespaces", "get_object_types", "query_object_types",
        "get_relationship_types", "query_relationship_types", "get_objects", "get_object", "list_objects",
        "get_related_objects", "get_value", "get_values", "get_history", "update_value", "update_values",
        "update_history", "create_subscription", "register_items", "unregister_items", "get_subscription",
        "list_subscriptions", "subscribe", "unsubscribe", "start_stream", "stop_stream", "sync_subscription",
    }  # fmt: skip
    assert steps == expected, expected ^ steps
    assert "not supported" not in out  # the demo server supports history writes


def test_readme_examples(server: Serve, tmp_path: Path) -> None:
    out = run_script("readme_examples.py", server.base_url, tmp_path)
    names = re.findall(r"^EXAMPLE (\w+) ok$", out, re.MULTILINE)
    assert names == [
        "quick_start", "context_manager", "subscriptions", "sync_mode", "hierarchy", "graph", "authentication",
    ]  # fmt: skip


def test_error_mapping(server: Serve, tmp_path: Path) -> None:
    out = run_script("errors.py", server.base_url, tmp_path)
    assert len(re.findall(r" raises NotFoundError ", out)) == 7, out
    assert len(re.findall(r" refused ", out)) == 4, out


def test_streams(server: Serve, tmp_path: Path) -> None:
    out = run_script("streams.py", server.base_url, tmp_path)
    assert len(re.findall(r"^ok ", out, re.MULTILINE)) == 4, out
