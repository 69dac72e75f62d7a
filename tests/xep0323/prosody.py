"""A throw-away Prosody XMPP server on loopback for the XEP-0323 tests (research xep0323.md §3.1).

:class:`ProsodyServer` writes a minimal configuration into a temporary directory (127.0.0.1,
a free port, plain c2s without TLS, no s2s, ``run_as_root`` only when the tests run as root),
creates the accounts with ``prosodyctl register`` (no running server needed), starts
``prosody -F`` as a child process, polls the c2s port until it accepts, and on :meth:`stop`
sends SIGTERM, waits, and deletes the directory.

:func:`client_settings` applies the slixmpp settings a clear-text stream needs (slixmpp
refuses every SASL mechanism on an unencrypted stream unless told otherwise).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Seconds Prosody may take to accept on its port, and to exit after SIGTERM.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

DOMAIN = "localhost"

#: Account name -> password. ``intruder`` is the third party of the spoofing tests.
ACCOUNTS = {
    "sensor": "sensor-pass",
    "requester": "requester-pass",
    "intruder": "intruder-pass",
    "sensor2": "sensor2-pass",
    "requester2": "requester2-pass",
}


class ProsodyUnavailable(RuntimeError):
    """Prosody is not installed, or it could not be started."""


@dataclass(frozen=True, slots=True)
class Account:
    """One XMPP account on the test server: bare ``jid`` (``user@localhost``) and password."""

    jid: str
    password: str


@dataclass
class ProsodyServer:
    """One Prosody instance: ``host``/``port`` of its c2s listener and its ``accounts`` by user name."""

    host: str = "127.0.0.1"
    port: int = 0
    domain: str = DOMAIN
    accounts: dict[str, Account] = field(default_factory=dict)
    directory: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Write the configuration, create the accounts, start Prosody and wait for its port.

        Raises:
            ProsodyUnavailable: ``prosody``/``prosodyctl`` missing, an account could not be
                created, or the port did not accept within :data:`START_TIMEOUT` seconds.
        """
        if shutil.which("prosody") is None or shutil.which("prosodyctl") is None:
            raise ProsodyUnavailable("prosody is not installed (make test installs it with apt-get)")
        self.directory = Path(tempfile.mkdtemp(prefix="otwire-prosody-"))
        self.port = _free_port(self.host)
        for sub in ("data", "certs"):
            (self.directory / sub).mkdir()
        config = self.directory / "prosody.cfg.lua"
        config.write_text(_config_text(self.directory, self.host, self.port, self.domain), encoding="utf-8")
        for user, password in ACCOUNTS.items():
            self._register(config, user, password)
            self.accounts[user] = Account(f"{user}@{self.domain}", password)
        log = (self.directory / "stdout.log").open("wb")
        self.process = subprocess.Popen(
            ["prosody", "--config", str(config), "-F"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self._wait_for_port()

    def _register(self, config: Path, user: str, password: str) -> None:
        done = subprocess.run(
            ["prosodyctl", "--config", str(config), "register", user, self.domain, password],
            capture_output=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise ProsodyUnavailable(f"prosodyctl register {user} failed: {done.stdout!r} {done.stderr!r}")

    def _wait_for_port(self) -> None:
        end = time.monotonic() + START_TIMEOUT
        delay = 0.005
        while time.monotonic() < end:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection((self.host, self.port), timeout=1.0).close()
            except OSError:
                time.sleep(delay)  # polling the port: nothing announces readiness
                delay = min(delay * 2, 0.05)
                continue
            return
        logs = self.read_log()
        self.stop()
        raise ProsodyUnavailable(f"prosody did not accept on {self.host}:{self.port}:\n{logs}")

    def read_log(self) -> str:
        """Return Prosody's log and console output (for failure messages)."""
        if self.directory is None:
            return ""
        parts = [p.read_text(errors="replace") for p in self.directory.glob("*.log") if p.is_file()]
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM the server, wait up to :data:`STOP_TIMEOUT` seconds (then SIGKILL), delete the directory."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        directory, self.directory = self.directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _config_text(directory: Path, host: str, port: int, domain: str) -> str:
    root = "run_as_root = true\n" if os.geteuid() == 0 else ""
    return f"""-- written by tests/xep0323/prosody.py, deleted after the test session
{root}pidfile = "{directory}/prosody.pid"
data_path = "{directory}/data"
certificates = "{directory}/certs"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{directory}/prosody.log" }} }}
interfaces = {{ "{host}" }}
local_interfaces = {{ "{host}" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
c2s_require_encryption = false
authentication = "internal_hashed"
storage = "internal"
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "posix" }}
modules_disabled = {{ "s2s"; "offline"; "tls" }}
VirtualHost "{domain}"
"""


def client_settings(client: Any) -> None:
    """Make a slixmpp ``ClientXMPP`` log in over plain c2s (no TLS, SCRAM without channel binding).

    The ``feature_mechanisms`` plugin must also be configured with
    ``{"unencrypted_scram": True}`` when the client is built (see :func:`plugin_config`).
    """
    client.enable_plaintext = True
    client.enable_starttls = False
    client.enable_direct_tls = False


def plugin_config() -> dict[str, dict[str, Any]]:
    """The ``plugin_config`` a clear-text slixmpp client needs: SCRAM allowed without TLS."""
    return {"feature_mechanisms": {"unencrypted_scram": True}}


async def connect_client(
    server: ProsodyServer,
    user: str,
    resource: str,
    *,
    plugins: dict[str, dict[str, Any] | None] | None = None,
    timeout: float = 10.0,
) -> Any:
    """Log a slixmpp client in as ``user@localhost/resource`` and wait for its session to start.

    ``plugins`` maps plugin names to ``register_plugin`` keyword arguments (``{"pconfig": {...},
    "module": m}``) or ``None``. slixmpp's plugin registry is process-wide, so for ``xep_0323``
    the implementation is put in the registry right before the client enables it: the class
    ``xep_0323`` of ``module`` (otwire's), or slixmpp's own when no module is given.

    Raises:
        TimeoutError: the session did not start within ``timeout`` seconds.
    """
    import asyncio

    from slixmpp import ClientXMPP
    from slixmpp.plugins.base import register_plugin

    account = server.accounts[user]
    client = ClientXMPP(f"{account.jid}/{resource}", account.password, plugin_config=plugin_config())
    client_settings(client)
    client.register_plugin("xep_0030")
    for name, options in (plugins or {}).items():
        options = dict(options or {})
        if name == "xep_0323":
            module = options.pop("module", None)
            if module is None:
                from slixmpp.plugins.xep_0323 import XEP_0323 as implementation
            else:
                implementation = module.xep_0323
            register_plugin(implementation, "xep_0323")
        client.register_plugin(name, **options)
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _event: started.done() or started.set_result(None))
    client.add_event_handler(
        "failed_auth", lambda _event: started.done() or started.set_exception(ConnectionError("auth failed"))
    )
    client.connect(server.host, server.port)
    await asyncio.wait_for(started, timeout)
    return client


async def disconnect_client(client: Any) -> None:
    """Close the client's stream and wait until slixmpp reports it disconnected."""
    await client.disconnect(wait=1.0)
