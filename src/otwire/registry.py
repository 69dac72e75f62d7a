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
* serve: ``serve(host, port, *, duration=None, record=None, limits=None, out=sys.stdout) -> int``;
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

__all__ = ["PROTOCOLS", "Command", "ProtocolEntry", "default_ports", "dissectable", "get", "get_dissectable", "load"]


def load(target: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute.

    Raises:
        ImportError: The module cannot be imported.
        AttributeError: The module has no such attribute.
    """
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A subcommand of ``otwire serve`` or ``otwire client`` run by one function.

    Attributes:
        name: The subcommand (``otwire serve NAME``).
        target: ``"module:function"`` of the function (shapes in the module docstring).
        help: One line for ``otwire serve --help``.
        description: A paragraph for ``otwire serve NAME --help``.
    """

    name: str
    target: str
    help: str
    description: str = ""

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


#: Every protocol, by name, in the order help texts list them.
PROTOCOLS: Mapping[str, ProtocolEntry] = MappingProxyType(
    {
        "iec104": ProtocolEntry(
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
        "imb": ProtocolEntry(
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
            ),
        ),
        "i3x": ProtocolEntry(
            name="i3x",
            title="CESMII i3X 1.0",
            default_port=8080,
            # no dissector yet (issue 9 §5): otwire inspect does not follow port 8080
            serve=Command(
                name="i3x",
                target="otwire.servers.i3x:serve",
                help="CESMII i3X 1.0 server (HTTP/JSON + SSE) with a demo plant",
                description="Run the demo i3X server (a pump plant whose values change every second) "
                "until Ctrl-C or SIGTERM.",
            ),
        ),
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
