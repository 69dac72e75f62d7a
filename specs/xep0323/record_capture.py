"""Record ``vectors/xmpp_c2s.pcap``: two slixmpp clients speaking XEP-0323 through Prosody.

Usage (needs ``prosody``/``prosodyctl`` on PATH and slixmpp installed)::

    .venv/bin/python specs/xep0323/record_capture.py specs/xep0323/vectors/xmpp_c2s.pcap

A throw-away Prosody (own config and accounts in a temporary directory, loopback only,
no TLS) is started; both clients connect through a recording TCP proxy, so the capture
holds both c2s connections, server port shown as 5222. The requester (slixmpp's own
``xep_0323``, v0.2 dialect) reads a momentary value from the sensor, then asks for an
unknown node (a v0.2 rejection). Prosody is stopped at the end, also on failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from otwire.transports import Direction
from otwire.transports.record import PcapRecorder

DOMAIN = "localhost"
ACCOUNTS = {"sensor": "sensor-pass", "requester": "requester-pass"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_prosody(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """Write a minimal config, create the accounts, start Prosody and wait for its port."""
    root = "run_as_root = true\n" if os.geteuid() == 0 else ""
    config = directory / "prosody.cfg.lua"
    (directory / "data").mkdir()
    config.write_text(
        f'{root}pidfile = "{directory}/prosody.pid"\ndata_path = "{directory}/data"\n'
        f'log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{directory}/prosody.log" }} }}\n'
        f'interfaces = {{ "127.0.0.1" }}\nc2s_ports = {{ {port} }}\nc2s_direct_tls_ports = {{ }}\n'
        'c2s_require_encryption = false\nauthentication = "internal_hashed"\nstorage = "internal"\n'
        'modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "posix"; }\n'
        'modules_disabled = { "s2s"; "offline" }\n'
        f'VirtualHost "{DOMAIN}"\n'
    )
    for user, password in ACCOUNTS.items():
        subprocess.run(["prosodyctl", "--config", str(config), "register", user, DOMAIN, password], check=True)
    process = subprocess.Popen(["prosody", "--config", str(config), "-F"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("prosody did not start")


async def proxy(recorder: PcapRecorder, server_port: int) -> asyncio.Server:
    """A loopback TCP proxy to Prosody that records both directions of each connection."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: object, way: Direction) -> None:
        while data := await reader.read(65536):
            record(way, data)  # type: ignore[operator]
            writer.write(data)
            await writer.drain()
        writer.close()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", server_port)
        peer = client_writer.get_extra_info("peername")
        session = recorder.session((peer[0], peer[1]), ("127.0.0.1", 5222))
        await asyncio.gather(
            pipe(client_reader, server_writer, session.record, Direction.OUT),
            pipe(server_reader, client_writer, session.record, Direction.IN),
            return_exceptions=True,
        )
        session.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def client(jid: str, password: str) -> object:
    import slixmpp

    xmpp = slixmpp.ClientXMPP(jid, password, plugin_config={"feature_mechanisms": {"unencrypted_scram": True}})
    xmpp.enable_plaintext = True
    xmpp.enable_starttls = False
    xmpp.enable_direct_tls = False
    xmpp.register_plugin("xep_0030")
    xmpp.register_plugin("xep_0323", {"threaded": False})
    return xmpp


async def scenario(port: int) -> list[tuple[str, str | None]]:
    """Momentary readout, then an unknown node; returns the requester callbacks (result, node)."""
    from slixmpp.plugins.xep_0323.device import Device

    sensor, requester = (
        client(f"sensor@{DOMAIN}/device", "sensor-pass"),
        client(f"requester@{DOMAIN}/app", "requester-pass"),
    )
    device = Device("Device01")
    device._add_field(name="Temperature", typename="numeric", unit="°C")
    device._add_field_momentary_data("Temperature", "23.4", flags={"automaticReadout": "true"})
    sensor.plugin["xep_0323"].register_node("Device01", device, commTimeout=5)  # type: ignore[index]
    results: list[tuple[str, str | None]] = []
    finished = asyncio.Event()

    def callback(from_jid: object, result: str, nodeId: str | None = None, **_: object) -> None:
        results.append((result, nodeId))
        if result in ("done", "rejected"):
            finished.set()

    for xmpp in (sensor, requester):
        ready = asyncio.Event()
        xmpp.add_event_handler("session_start", lambda _e, x=xmpp, r=ready: (x.send_presence(), r.set()))  # type: ignore[attr-defined]
        xmpp.connect("127.0.0.1", port)  # type: ignore[attr-defined]
        await asyncio.wait_for(ready.wait(), 10)
    for nodes in (["Device01"], ["NoSuchNode"]):
        finished.clear()
        requester.plugin["xep_0323"].request_data(  # type: ignore[index]
            f"requester@{DOMAIN}/app", f"sensor@{DOMAIN}/device", callback, nodeIds=nodes, flags={"momentary": "true"}
        )
        await asyncio.wait_for(finished.wait(), 10)
    for xmpp in (requester, sensor):
        xmpp.disconnect()  # type: ignore[attr-defined]
        await asyncio.wait_for(xmpp.disconnected, 10)  # type: ignore[attr-defined]
    return results


async def record(path: str, server_port: int) -> list[tuple[str, str | None]]:
    with PcapRecorder(path) as recorder:
        server = await proxy(recorder, server_port)
        try:
            return await scenario(server.sockets[0].getsockname()[1])
        finally:
            server.close()


def main(path: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    directory = Path(tempfile.mkdtemp(prefix="otwire-xmpp-"))
    port = _free_port()
    process = start_prosody(directory, port)
    try:
        print(asyncio.run(record(path, port)))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "xmpp_c2s.pcap")
