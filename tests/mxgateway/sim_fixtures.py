"""Shared by the conformance tests (``test_sim_*.py``): otwire's client against otwire's simulator.

Not a test module. ``simulator()`` runs ``otwire.servers.mxgateway.AsyncServer`` on port 0 in the
test's own loop and connects a ``GatewayClient`` to it; ``serve_subprocess()`` starts
``otwire serve mxgateway`` as a child process on a free port, as a newcomer would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from otwire.clients.mxgateway import GatewayClient
from otwire.servers.mxgateway import AsyncServer

T = TypeVar("T")

#: The all-scopes key and a read-only key (no ``invoke:write``) of every simulator started here.
KEY = "conf-key-5b0c7e"
READ_ONLY = "conf-ro-91d2aa"
KEYS = f"{KEY} {READ_ONLY}:session,invoke:read,events:read,metadata:read"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one scenario on a fresh loop, bounded so that a hang fails instead of blocking."""
    return asyncio.run(asyncio.wait_for(coro, 30))


@contextlib.asynccontextmanager
async def simulator(
    key: str = KEY, *, keys: str = KEYS, timeout: float | None = None, **options: Any
) -> AsyncIterator[tuple[AsyncServer, GatewayClient]]:
    """An in-process simulator (``keys``, no value ticks unless ``rate=``) and a client with ``key``.

    ``timeout`` is the client's default per-call timeout (seconds).
    """
    options.setdefault("rate", 0)
    options.setdefault("items", 5)
    async with AsyncServer(port=0, api_key=keys, **options) as server:
        endpoint = f"127.0.0.1:{server.port}"
        client = await GatewayClient.connect(endpoint=endpoint, api_key=key, plaintext=True, timeout=timeout)
        async with client:
            yield server, client


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Child:
    """A simulator child process: its endpoint and every line it printed so far (stdout and stderr)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.lines: list[str] = []


@contextlib.contextmanager
def serve_subprocess(*options: str, keys: str | None = KEYS) -> Iterator[Child]:
    """``otwire serve mxgateway --port P [--api-key keys] ...`` as a child process.

    Waits for the banner line (the server listens then); a thread keeps reading its output
    into ``Child.lines`` (so that a full pipe never blocks it). Stops the child at the end.
    """
    port = free_port()
    args = [sys.executable, "-m", "otwire", "serve", "mxgateway", "--host", "127.0.0.1", "--port", str(port)]
    if keys is not None:
        args += ["--api-key", keys]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([*args, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    found = Child(f"127.0.0.1:{port}")
    try:
        assert child.stdout is not None
        for line in child.stdout:
            found.lines.append(line)
            if f"simulator on 127.0.0.1:{port}" in line:
                break
        assert child.poll() is None, found.lines
        reader = threading.Thread(target=found.lines.extend, args=(child.stdout,), daemon=True)
        reader.start()
        yield found
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
