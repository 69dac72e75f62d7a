"""The protocols otwire knows: one entry each feeds ``otwire inspect``, ``serve`` and ``client``.

A new protocol is added here, in one :class:`ProtocolEntry`: its name (``--port NAME:PORT``,
``--proto NAME``), its default TCP server port, its dissector and table view for
``otwire inspect``, and optionally the function behind ``otwire serve COMMAND`` and
``otwire client COMMAND``. Entries name their code as ``"module:attribute"`` strings and
import it on first use, so the command line starts without importing any codec.

The entry points have fixed shapes:

* dissector: a class (or any zero-argument callable) returning a
  :class:`otwire.inspect.model.Dissector` (loaded by :func:`otwire.inspect.dissect.new_dissector`;
  the registry imports nothing of ``inspect``, which sits above it);
* view: a :class:`otwire.inspect.model.ProtocolView` (loaded by :func:`otwire.inspect.dissect.view`);
* serve: ``serve(host, port, *, duration=None, record=None, limits=None, out=sys.stdout,
  **options) -> int``, where ``options`` are the keywords of the command's own
  :class:`Option` entries (passed only when given on the command line);
* client: ``monitor(host, port, *, record=None, duration=None, out=sys.stdout,
  retries=..., retry_delay=...) -> int``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from otwire.errors import InvalidArgument

__all__ = [
    "OPTION_KINDS",
    "PROTOCOLS",
    "Command",
    "Option",
    "ProtocolEntry",
    "default_ports",
    "dissectable",
    "get",
    "get_dissectable",
    "load",
]

#: How an :class:`Option`'s value is read: ``count`` (an int >= 1), ``count0`` (>= 0),
#: ``seconds`` (a positive number), ``octets`` (an int >= 0 with an optional K/M/G suffix),
#: ``text`` (a string), ``switch`` (no value: ``True`` when given).
OPTION_KINDS = frozenset({"count", "count0", "seconds", "octets", "text", "switch"})


def load(target: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute.

    Raises:
        ImportError: The module cannot be imported.
        AttributeError: The module has no such attribute.
    """
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True, slots=True)
class Option:
    """An option of one protocol's ``serve`` or ``client`` subcommand, beyond the common ones.

    The command line adds it to that subcommand only and passes ``dest=value`` to the
    command's function only when it was given (the function's default applies otherwise).

    Attributes:
        flag: The option (``"--max-name-bytes"``).
        dest: The keyword argument of the function (``"max_name_bytes"``).
        kind: How the value is read (one of :data:`OPTION_KINDS`).
        help: One line for ``--help``, with the default.

    Raises:
        InvalidArgument: ``flag`` does not start with ``--`` or ``kind`` is unknown.
    """

    flag: str
    dest: str
    kind: str
    help: str

    def __post_init__(self) -> None:
        if not self.flag.startswith("--") or self.kind not in OPTION_KINDS or not self.dest.isidentifier():
            raise InvalidArgument(f"bad option {self.flag!r} (dest {self.dest!r}, kind {self.kind!r})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A subcommand of ``otwire serve`` or ``otwire client`` run by one function.

    Attributes:
        name: The subcommand (``otwire serve NAME``).
        target: ``"module:function"`` of the function (shapes in the module docstring).
        help: One line for ``otwire serve --help``.
        description: A paragraph for ``otwire serve NAME --help``.
        options: The command's own options (e.g. an IMB hub's name limits, i3X's ``--profile``).
    """

    name: str
    target: str
    help: str
    description: str = ""
    options: tuple[Option, ...] = ()

    def load(self) -> Callable[..., int]:
        """Import and return the function."""
        function: Callable[..., int] = load(self.target)
        return function


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolEntry:
    """Everything the command line knows about one protocol.

    Attributes:
        name: Short name (``"iec104"``): in ``--port NAME:PORT``, ``--proto NAME`` and JSON ``protocol``.
        title: Human name (``"IEC 60870-5-104"``).
        default_port: The TCP server port ``otwire inspect`` follows, and servers and clients default to.
        dissector: ``"module:attribute"`` of the dissector factory, or ``None`` while the
            protocol has no dissector (``otwire inspect`` then does not follow its port).
        view: ``"module:attribute"`` of the :class:`~otwire.inspect.model.ProtocolView`
            (``None`` exactly when ``dissector`` is).
        serve: ``otwire serve`` subcommand, if the protocol has a server.
        client: ``otwire client`` subcommand, if the protocol has a command-line client.
    """

    name: str
    title: str
    default_port: int
    dissector: str | None = None
    view: str | None = None
    serve: Command | None = None
    client: Command | None = None


#: Every protocol, by name, in the order help texts list them (keyed by ``ProtocolEntry.name``).
PROTOCOLS: Mapping[str, ProtocolEntry] = MappingProxyType(
    {
        entry.name: entry
        for entry in (
            ProtocolEntry(
                name="iec104",
                title="IEC 60870-5-104",
                default_port=2404,
                dissector="otwire.inspect.iec104:IEC104Dissector",
                view="otwire.inspect.iec104:VIEW",
                serve=Command(
                    name="iec104",
                    target="otwire.servers.iec104:serve",
                    help="IEC 60870-5-104 controlled station (outstation) with demo points",
                    description="Run the demo outstation (2 stations, 29 points) until Ctrl-C or SIGTERM.",
                ),
                client=Command(
                    name="iec104",
                    target="otwire.clients.iec104:monitor",
                    help="IEC 60870-5-104 controlling station: interrogate and monitor",
                    description="Connect, run a general interrogation, print every point and then each "
                    "spontaneous update, until Ctrl-C or SIGTERM.",
                ),
            ),
            ProtocolEntry(
                name="imb",
                title="TNO IMB3",
                default_port=4000,
                dissector="otwire.inspect.imb:IMBDissector",
                view="otwire.inspect.imb:VIEW",
                serve=Command(
                    name="imb-hub",
                    target="otwire.servers.imb:serve",
                    help="TNO IMB3 hub (routes events between IMB clients)",
                    description="Run an IMB3 hub until Ctrl-C or SIGTERM.",
                    options=(
                        Option(
                            "--max-name-bytes",
                            "max_name_bytes",
                            "octets",
                            "longest event or variable name accepted (default 1K)",
                        ),
                        Option(
                            "--max-names-per-client",
                            "max_names_per_client",
                            "count",
                            "most event names one client may subscribe or publish (default 4096)",
                        ),
                        Option(
                            "--max-event-names",
                            "max_event_names",
                            "count",
                            "most distinct event names over all clients (default 65536)",
                        ),
                        Option(
                            "--max-value-bytes",
                            "max_value_bytes",
                            "octets",
                            "longest variable value accepted (default 1M)",
                        ),
                        Option(
                            "--max-junk-bytes",
                            "max_junk_bytes",
                            "octets",
                            "octets that start no frame before a client is dropped (default 64K)",
                        ),
                        Option(
                            "--heartbeat-interval",
                            "heartbeat_interval",
                            "seconds",
                            "send icHeartBeat to every client this often (default: never)",
                        ),
                    ),
                ),
            ),
            ProtocolEntry(
                name="i3x",
                title="CESMII i3X 1.0",
                default_port=8080,
                dissector="otwire.inspect.i3x:I3XDissector",
                view="otwire.inspect.i3x:VIEW",
                serve=Command(
                    name="i3x",
                    target="otwire.servers.i3x:serve",
                    help="CESMII i3X 1.0 server (HTTP/JSON + SSE) with a demo plant",
                    description="Run the demo i3X server (a pump plant whose values change every second) "
                    "until Ctrl-C or SIGTERM.",
                    options=(
                        Option("--token", "bearer_token", "text", "require Authorization: Bearer TOKEN (not on /info)"),
                        Option("--basic", "basic_auth", "text", "require HTTP Basic USER:PASSWORD (not on /info)"),
                        Option(
                            "--profile",
                            "profile",
                            "text",
                            "quirks of a real server: 1.0 (default), cesmii-demo, i3x2ua, node-i3x, beta",
                        ),
                        Option(
                            "--queue-size",
                            "queue_size",
                            "count",
                            "most sync batches kept per subscription (default 1000)",
                        ),
                        Option("--max-depth", "max_depth_limit", "count", "deepest composition served (default 8)"),
                        Option("--tick", "tick", "seconds", "seconds between demo value changes (default 1)"),
                        Option(
                            "--fault",
                            "faults",
                            "text",
                            "for client tests: PATH:STATUS[:RETRY_AFTER] or PATH:stall, comma-separated (default none)",
                        ),
                    ),
                ),
            ),
            ProtocolEntry(
                name="mxgateway",
                title="MXAccess Gateway (gRPC)",
                default_port=5000,
                serve=Command(
                    name="mxgateway",
                    target="otwire.servers.mxgateway:serve",
                    help="MXAccess Gateway simulator (gRPC: MxAccessGateway + GalaxyRepository)",
                    description="Run the gateway simulator (sessions, changing items, a demo Galaxy, fault "
                    "injection by tag name) until Ctrl-C or SIGTERM; plaintext unless --tls-cert/--tls-key.",
                    options=(
                        Option(
                            "--api-key",
                            "api_key",
                            "text",
                            "require 'authorization: Bearer KEY'; KEY or KEY:scope,scope, several separated by "
                            "spaces (default: no authentication)",
                        ),
                        Option("--rate", "rate", "text", "value changes of advised items per second, Hz (default 1)"),
                        Option("--items", "items", "count0", "numbered SimTags.TagNNNN attributes (default 100)"),
                        Option("--tls-cert", "tls_cert", "text", "PEM certificate chain: serve TLS (ALPN h2)"),
                        Option("--tls-key", "tls_key", "text", "PEM private key of --tls-cert"),
                        Option(
                            "--deploy-interval",
                            "deploy_interval",
                            "seconds",
                            "seconds between simulated Galaxy deploys (default 60)",
                        ),
                        Option("--slow-delay", "slow_delay", "seconds", "delay of Fault.Slow* commands (default 2)"),
                        Option(
                            "--event-buffer",
                            "event_buffer",
                            "count",
                            "events a stream may fall behind before it is dropped (default 10000)",
                        ),
                        Option("--max-sessions", "max_sessions", "count", "sessions open at once (default 256)"),
                    ),
                ),
            ),
            ProtocolEntry(
                name="xmpp",
                title="XMPP XEP-0323 sensor data",
                default_port=5222,
                dissector="otwire.inspect.xep0323:XEP0323Dissector",
                view="otwire.inspect.xep0323:VIEW",
            ),
        )
    }
)


def get(name: str) -> ProtocolEntry:
    """Return the entry of protocol ``name``.

    Raises:
        InvalidArgument: No protocol has this name (the message lists the known ones).
    """
    entry = PROTOCOLS.get(name)
    if entry is None:
        raise InvalidArgument(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})")
    return entry


def dissectable() -> tuple[str, ...]:
    """Return the names of the protocols ``otwire inspect`` can dissect, in registry order."""
    return tuple(name for name, entry in PROTOCOLS.items() if entry.dissector is not None)


def get_dissectable(name: str) -> ProtocolEntry:
    """Return the entry of protocol ``name``, which must have a dissector.

    Raises:
        InvalidArgument: No protocol has this name, or it has no dissector yet.
    """
    entry = get(name)
    if entry.dissector is None or entry.view is None:
        raise InvalidArgument(f"{name} has no dissector yet (dissected: {', '.join(dissectable())})")
    return entry


def default_ports() -> dict[int, str]:
    """Return TCP server port -> protocol name for the default port of every dissectable protocol."""
    return {entry.default_port: name for name, entry in PROTOCOLS.items() if entry.dissector is not None}
