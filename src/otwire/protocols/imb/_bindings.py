"""The client engine's event table: full name <-> client event id, subscribed and published flags.

pyimb numbers a client's events 0, 1, 2, ... in order of first use and never reuses an
id; a raw icSubscribe/icPublish may bind any free id to a new name. One name has one id
and one id one name for the life of the connection (``specs/imb/notes.md`` §6.2).
"""

from __future__ import annotations

from otwire.codecs.imb.types import INT32_MAX
from otwire.errors import LocalProtocolError

__all__ = ["Binding", "EventBindings", "prefixed_name"]


def prefixed_name(federation: str | None, name: str, prefix: bool = True) -> str:
    """Return the full event name: ``"<federation>.<name>"`` (notes §6.1).

    Args:
        federation: The federation; ``None`` or ``""`` adds no prefix (as the
            reference clients; pyimb fails on ``None`` and gives ``".name"`` for ``""``).
        name: The event name.
        prefix: False returns ``name`` unchanged.

    Returns:
        The full name.
    """
    return f"{federation}.{name}" if prefix and federation else name


class Binding:
    """One bound event: its full name and whether icSubscribe/icPublish are in force."""

    __slots__ = ("name", "published", "subscribed")

    def __init__(self, name: str) -> None:
        self.name = name
        self.subscribed = False
        self.published = False


class EventBindings:
    """Full name <-> client id, for one connection."""

    __slots__ = ("_by_id", "_by_name", "_next_id")

    def __init__(self) -> None:
        self._by_name: dict[str, int] = {}
        self._by_id: dict[int, Binding] = {}
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def id_of(self, name: str) -> int | None:
        """Return the id bound to the full ``name``, or ``None``."""
        return self._by_name.get(name)

    def get(self, event_id: int) -> Binding | None:
        """Return the binding of ``event_id``, or ``None``."""
        return self._by_id.get(event_id)

    def define(self, name: str, create: bool) -> int | None:
        """Return the id of the full ``name``; a new name gets the next free id when ``create``.

        Raises:
            LocalProtocolError: every int32 id is used.
        """
        event_id = self._by_name.get(name)
        if event_id is None and create:
            while self._next_id in self._by_id:
                self._next_id += 1
            if self._next_id > INT32_MAX:
                raise LocalProtocolError("no free event id left")
            event_id = self._next_id
            self.bind(event_id, name)
        return event_id

    def bind(self, event_id: int, name: str) -> Binding:
        """Bind a free id to a new name, or return the binding of that very pair.

        Raises:
            LocalProtocolError: ``event_id`` is out of range, or the id or the name is
                bound to something else.
        """
        if not isinstance(event_id, int) or not 0 <= event_id <= INT32_MAX:
            raise LocalProtocolError(f"event id {event_id!r} must be in 0..{INT32_MAX}")
        bound_id = self._by_name.get(name)
        binding = self._by_id.get(event_id)
        if bound_id is None and binding is None:
            binding = self._by_id[event_id] = Binding(name)
            self._by_name[name] = event_id
            return binding
        if bound_id != event_id or binding is None:
            other = f"is bound to {binding.name!r}" if binding is not None else "is free"
            raise LocalProtocolError(f"event {name!r} has id {bound_id}, but id {event_id} {other}")
        return binding

    def bound_name(self, event_id: int) -> str:
        """Return the full name of a bound id.

        Raises:
            LocalProtocolError: the id is not bound.
        """
        binding = self._by_id.get(event_id)
        if binding is None:
            raise LocalProtocolError(f"event id {event_id} is not bound to a name (use define_event)")
        return binding.name
