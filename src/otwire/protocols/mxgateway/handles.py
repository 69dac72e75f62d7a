"""Server and item handles with their advise state (``specs/mxgateway/notes.md`` §client "Handles").

MXAccess scopes everything to a server handle (``Register``); item handles live inside it and
die with it (``Unregister`` invalidates every item of that registration). Handle numbers are
the gateway's: they may be reused after a remove, so a record is dropped as soon as its
handle is released.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from otwire.errors import InvalidState

__all__ = ["HandleTable", "ItemRecord", "ServerRecord"]


@dataclass(slots=True)
class ItemRecord:
    """One item handle: what was added and whether it is advised."""

    item_handle: int
    item_definition: str
    advised: bool = False
    supervisory: bool = False
    pending_writes: int = 0
    """Writes accepted whose ``OnWriteComplete`` has not arrived yet."""


@dataclass(slots=True)
class ServerRecord:
    """One server handle and its items by item handle."""

    server_handle: int
    client_name: str
    items: dict[int, ItemRecord] = field(default_factory=dict)


class HandleTable:
    """Every server handle of a session and the items under each."""

    __slots__ = ("servers",)

    def __init__(self) -> None:
        self.servers: dict[int, ServerRecord] = {}

    def register(self, server_handle: int, client_name: str) -> None:
        """Record a new server handle (a reused number replaces the old record)."""
        self.servers[server_handle] = ServerRecord(server_handle, client_name)

    def unregister(self, server_handle: int) -> tuple[int, ...]:
        """Drop a server handle; returns the item handles that died with it."""
        record = self.servers.pop(server_handle, None)
        return tuple(record.items) if record is not None else ()

    def add_item(self, server_handle: int, item_handle: int, item_definition: str) -> None:
        """Record an item handle under its server (a server unknown so far is recorded too)."""
        server = self.servers.setdefault(server_handle, ServerRecord(server_handle, ""))
        server.items[item_handle] = ItemRecord(item_handle, item_definition)

    def remove_item(self, server_handle: int, item_handle: int) -> None:
        """Drop an item handle (no error when unknown)."""
        server = self.servers.get(server_handle)
        if server is not None:
            server.items.pop(item_handle, None)

    def item(self, server_handle: int, item_handle: int) -> ItemRecord | None:
        """The record of an item, or ``None``."""
        server = self.servers.get(server_handle)
        return server.items.get(item_handle) if server is not None else None

    def set_advised(self, server_handle: int, item_handle: int, advised: bool, supervisory: bool = False) -> None:
        """Set the advise state of a known item (unknown items are ignored)."""
        record = self.item(server_handle, item_handle)
        if record is not None:
            record.advised = advised
            record.supervisory = supervisory and advised

    def check_server(self, server_handle: int) -> None:
        """Raise unless the server handle is registered in this session.

        Raises:
            InvalidState: unknown (or unregistered) server handle.
        """
        if server_handle not in self.servers:
            raise InvalidState(f"server handle {server_handle} is not registered in this session")

    def check_item(self, server_handle: int, item_handle: int) -> None:
        """Raise unless the item handle exists under the server handle.

        Raises:
            InvalidState: unknown server or item handle (removed, or its server unregistered).
        """
        self.check_server(server_handle)
        if item_handle not in self.servers[server_handle].items:
            raise InvalidState(f"item handle {item_handle} does not exist under server handle {server_handle}")
