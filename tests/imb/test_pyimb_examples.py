"""pyimb's documented usage (``tests/imb/pyimb_examples``) runs unchanged against the real hub.

Each script runs in a subprocess (as a user would run it) against a hub on a free
port, with a bounded timeout; a listener client in this process checks what the
script sent where the script itself cannot (it only publishes).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import otwire.clients.imb as imb
from helpers import listening, wait_until
from otwire.servers.imb import Hub

EXAMPLES = Path(__file__).resolve().parent / "pyimb_examples"
SRC = Path(__file__).resolve().parents[2] / "src"
TEXT = b"".join(b"line %05d of the test file\n" % i for i in range(2000))  # 54 000 octets: 4 chunks


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    with Hub("127.0.0.1", 0) as running:
        yield running


def run_example(name: str, hub: Hub | int, cwd: Path) -> str:
    (cwd / "test.txt").write_bytes(TEXT)
    port = hub if isinstance(hub, int) else hub.port
    env = {**os.environ, "IMB_PORT": str(port), "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Listener:
    """A client of federation "my federation" that records strings and streams on "my event"."""

    def __init__(self, hub: Hub) -> None:
        self.client = imb.Client("127.0.0.1", hub.port, 9, "listener", "my federation")
        self.strings: list[str] = []
        self.streams: dict[str, bytes] = {}
        self.stream_done = threading.Event()
        event = self.client.subscribe("my event")
        event.add_handler(imb.ekNormalEvent, lambda payload: self.strings.append(imb.decode_string(payload)))
        event.create_stream_callback = self._create
        assert event.wait_subscribed(5.0)

    def _create(self, stream_id: int, stream_name: str) -> io.BytesIO:
        listener = self

        class Keep(io.BytesIO):
            def close(self) -> None:
                listener.streams[stream_name] = self.getvalue()
                listener.stream_done.set()
                super().close()

        return Keep()


def test_publish_stream(hub: Hub, tmp_path: Path) -> None:
    listener = Listener(hub)
    try:
        assert run_example("publish_stream.py", hub, tmp_path) == "stream sent\n"
        assert listener.stream_done.wait(5.0)
        assert listener.streams == {"stream name": TEXT}
    finally:
        listener.client.disconnect()


def test_client_examples(hub: Hub, tmp_path: Path) -> None:
    listener = Listener(hub)
    try:
        out = run_example("client_examples.py", hub, tmp_path)
        lines = out.splitlines()
        assert lines[0] == "Received string to myself"
        # Example 3's stream comes back too, taken or not depending on whether Example 4 was ready
        assert set(lines[1:]) <= {
            f"Received stream {name} of {len(TEXT)} bytes" for name in ("stream name", "copy.txt")
        }
        assert f"Received stream copy.txt of {len(TEXT)} bytes" in lines
        written = [p for p in tmp_path.iterdir() if p.name.endswith("_copy.txt")]
        assert len(written) == 1 and written[0].read_bytes() == TEXT  # str(stream_id) + '_' + stream_name
        assert listener.strings[:3] == ["This string is sent", "This is easier but equivalent.", "to myself"]
        assert listener.stream_done.wait(5.0)
        assert listener.streams == {"stream name": TEXT, "copy.txt": TEXT}
    finally:
        listener.client.disconnect()


def test_change_object(hub: Hub, tmp_path: Path) -> None:
    out = run_example("change_object.py", hub, tmp_path)
    assert out.splitlines() == ["unique client id True", "ChangeObjectEvent: 1 2 ecodistrict.anything something"]


def test_get_event(hub: Hub, tmp_path: Path) -> None:
    out = run_example("get_event.py", hub, tmp_path)
    assert out.splitlines() == ["True", "True", "my federation.my_event", "None"]


SERVE = "import sys; from otwire.servers.imb import serve; sys.exit(serve('127.0.0.1', {port}, duration=20))"


def test_examples_against_a_hub_process(tmp_path: Path) -> None:
    """The hub as ``otwire serve imb-hub`` runs it (its ``serve()``), in a process of its own."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(port=port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: listening(server, port), 10.0, what="the hub process listening")
        assert run_example("change_object.py", port, tmp_path).endswith("ecodistrict.anything something\n")
        assert run_example("client_examples.py", port, tmp_path).startswith("Received string to myself\n")
    finally:
        server.terminate()
        server.wait(10)
