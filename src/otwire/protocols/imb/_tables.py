"""The hub's shared tables; they know nothing of the wire (``specs/imb/notes.md`` "Hub behaviour").

Members are keyed by any hashable (the hub uses its per-peer connection objects).

* :class:`EventEntry`: one event name, its hub id (``H``), and two maps
  ``member -> client event id``: subscribers (the id ``H`` translates to for
  them) and publishers (the id their icEvents carry).
* :class:`RoutingTable`: ``name -> EventEntry``. A hub id is allocated on the
  first subscribe or publish of a name (the smallest free one, from 0) and freed
  when the last member leaves, so ids stay small and bounded.
* :class:`VariableStore`: ``name -> value`` with a count and a size limit.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

from otwire.errors import InvalidArgument

__all__ = ["CommandRefused", "EventEntry", "RoutingTable", "VariableStore"]

_INT32 = struct.Struct("<i")
M = TypeVar("M", bound=Hashable)


class CommandRefused(Exception):
    """A limit or a rule refuses a command (it is rejected, the connection stays open)."""


class EventEntry(Generic[M]):
    """One event name known to the hub.

    Args:
        name: Full event name.
        hub_id: The hub's id for it (non-negative int32).
    """

    __slots__ = ("hub_id", "id_bytes", "name", "publishers", "subscribers")

    def __init__(self, name: str, hub_id: int) -> None:
        self.name = name
        self.hub_id = hub_id
        #: The hub id as the 4 octets patched into relayed icEvents.
        self.id_bytes = _INT32.pack(hub_id)
        #: Subscribed member -> the client's own id for this name.
        self.subscribers: dict[M, int] = {}
        #: Publishing member -> the id its icEvents carry for this name.
        self.publishers: dict[M, int] = {}

    @property
    def unused(self) -> bool:
        """True when nobody subscribes or publishes (the entry can be freed)."""
        return not self.subscribers and not self.publishers

    def __repr__(self) -> str:
        return (
            f"EventEntry({self.name!r}, hub_id={self.hub_id}, "
            f"subscribers={len(self.subscribers)}, publishers={len(self.publishers)})"
        )


class RoutingTable(Generic[M]):
    """Event names and hub ids, with at most ``max_names`` names at once.

    Args:
        max_names: Most distinct event names subscribed or published at once.

    Raises:
        InvalidArgument: ``max_names`` is not positive.
    """

    def __init__(self, max_names: int) -> None:
        if max_names < 1:
            raise InvalidArgument(f"max_names={max_names} must be >= 1")
        self.max_names = max_names
        self._names: dict[str, EventEntry[M]] = {}
        self._free: list[int] = []  # freed hub ids (a heap: smallest first)
        self._next = 0  # next never-used hub id

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[EventEntry[M]]:
        return iter(list(self._names.values()))

    def get(self, name: str) -> EventEntry[M] | None:
        """Return the entry of ``name``, or ``None`` if nobody uses it."""
        return self._names.get(name)

    def acquire(self, name: str) -> EventEntry[M]:
        """Return the entry of ``name``, creating it (and its hub id) if needed.

        Raises:
            CommandRefused: ``name`` is new and ``max_names`` names exist.
        """
        entry = self._names.get(name)
        if entry is None:
            if len(self._names) >= self.max_names:
                raise CommandRefused(f"too many event names (limit {self.max_names})")
            if self._free:
                hub_id = heapq.heappop(self._free)
            else:
                hub_id, self._next = self._next, self._next + 1
            entry = self._names[name] = EventEntry(name, hub_id)
        return entry

    def release(self, entry: EventEntry[M]) -> bool:
        """Forget ``entry`` and free its hub id if nobody uses it any more.

        Returns:
            True if the entry was freed.
        """
        if not entry.unused or self._names.get(entry.name) is not entry:
            return False
        del self._names[entry.name]
        heapq.heappush(self._free, entry.hub_id)
        return True


class VariableStore:
    """Global variables: ``name -> value``, bounded in count and in total octets.

    Args:
        max_count: Most variables stored.
        max_bytes: Most octets of names (UTF-8) and values together.

    Raises:
        InvalidArgument: a limit is not positive.
    """

    def __init__(self, max_count: int, max_bytes: int) -> None:
        if max_count < 1 or max_bytes < 1:
            raise InvalidArgument(f"variable limits must be >= 1, got {max_count} and {max_bytes}")
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._values: dict[str, bytes] = {}
        self._size = 0

    def __len__(self) -> int:
        return len(self._values)

    @property
    def size(self) -> int:
        """Octets stored (names and values)."""
        return self._size

    def items(self) -> list[tuple[str, bytes]]:
        """Return a snapshot of every ``(name, value)``, in insertion order."""
        return list(self._values.items())

    def get(self, name: str) -> bytes | None:
        """Return the value of ``name``, or ``None``."""
        return self._values.get(name)

    def set(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``; an empty value removes the variable.

        Raises:
            CommandRefused: storing it would exceed ``max_count`` or ``max_bytes``
                (nothing is changed then).
        """
        old = self._values.get(name)
        key_size = len(name.encode())
        old_size = 0 if old is None else key_size + len(old)
        if not value:
            if old is not None:
                del self._values[name]
                self._size -= old_size
            return
        new_size = key_size + len(value)
        if old is None and len(self._values) >= self.max_count:
            raise CommandRefused(f"too many variables (limit {self.max_count})")
        if self._size - old_size + new_size > self.max_bytes:
            raise CommandRefused(f"variables would exceed {self.max_bytes} octets")
        self._values[name] = value
        self._size += new_size - old_size
