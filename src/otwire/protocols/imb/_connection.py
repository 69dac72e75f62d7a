"""One client connection of the IMB3 hub: its lifecycle, buffers, ids and counters.

:class:`HubConnection` is the per-peer state object of :class:`~otwire.protocols.imb.hub.IMBHub`
(an :class:`~otwire.protocols._base.EngineBase` for its lifecycle, event queue and output
buffer). The hub changes it; drivers address peers through the hub's
:class:`~otwire.protocols.PeerEngine` verbs (``receive_data(peer, ...)``, ``send(peer, ...)``,
``close(peer, ...)``, ...) and read it for monitoring (``status()``, ``queued``, ids).
"""

from __future__ import annotations

import struct
from collections.abc import Hashable
from typing import Protocol

from otwire.codecs.imb import UniqueClientID, encode_command
from otwire.protocols import Event, TerminationReason
from otwire.protocols._base import EngineBase
from otwire.protocols.imb._state import HUB_END_INPUTS, HUB_LOCAL_INPUTS, HUB_TRANSITIONS, HubInput, HubPeerState
from otwire.protocols.imb._tables import EventEntry
from otwire.protocols.imb.events import ClientStatus

__all__ = ["HubConnection"]

_I32 = struct.Struct("<i")


class _Hub(Protocol):
    """What a connection needs of its hub."""

    def _forget_if_drained(self, connection: HubConnection) -> None: ...
    def _connection_closed(self, connection: HubConnection) -> None: ...


class HubConnection(EngineBase[HubPeerState, HubInput]):
    """One client connection of an :class:`~otwire.protocols.imb.hub.IMBHub` (made by ``IMBHub.connect``).

    Attributes:
        peer: The driver's id of the peer.
        unique_client_id: Unique client id (never 0, not reused while the hub runs).
        handle: Client handle (small, reused after the client leaves; pyimb ``client_id``).
        name: The driver's label (e.g. the peer address).
    """

    __slots__ = ("_hub", "_junk_run", "_junk_total", "_next_beat", "_pubs", "_rx", "_subs", "_uid_bytes", "bytes_in",
                 "bytes_out", "client_state", "commands_in", "connected_at", "events_dropped", "handle", "name",
                 "owner_id", "owner_name", "peer", "throttle", "unique_client_id")  # fmt: skip

    CLOSED = HubPeerState.CLOSED
    LOCAL_INPUTS = HUB_LOCAL_INPUTS
    END_INPUTS = HUB_END_INPUTS

    def __init__(self, hub: _Hub, peer: Hashable, unique_client_id: int, handle: int, now: float, name: str) -> None:
        super().__init__(HubPeerState.CONNECTED, HUB_TRANSITIONS)
        self._hub = hub
        self.peer = peer
        self.unique_client_id = unique_client_id
        self.handle = handle
        self.name = name or f"client {unique_client_id}"
        self.connected_at = now
        self.owner_id: int | None = None
        self.owner_name: str | None = None
        self.client_state: int | None = None
        self.throttle: int | None = None
        self.commands_in = self.bytes_in = self.bytes_out = self.events_dropped = 0
        self._junk_run = 0  # junk octets since the last complete frame
        self._junk_total = 0  # junk octets over the connection's life
        self._rx = bytearray()  # received octets not yet cut into frames
        self._out += encode_command(UniqueClientID(unique_client_id=unique_client_id, client_id=handle))
        self._pubs: dict[int, EventEntry[HubConnection]] = {}  # client event id -> published entry
        self._subs: dict[str, EventEntry[HubConnection]] = {}  # name -> subscribed entry
        self._uid_bytes = _I32.pack(unique_client_id)
        self._next_beat: float | None = None

    # -- observable state ----------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Octets queued for this client and not yet taken by ``data_to_send``."""
        return len(self._out)

    @property
    def names_held(self) -> int:
        """Distinct event names this client subscribes or publishes (counted against its quota)."""
        return len(self._subs.keys() | {e.name for e in self._pubs.values()})

    def status(self) -> ClientStatus:
        """Return a snapshot of this connection's counters, ids and subscriptions."""
        return ClientStatus(
            handle=self.handle,
            unique_client_id=self.unique_client_id,
            name=self.name,
            state=self._state,
            owner_id=self.owner_id,
            owner_name=self.owner_name,
            connected_at=self.connected_at,
            commands_in=self.commands_in,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            events_dropped=self.events_dropped,
            queued=len(self._out),
            subscriptions={n: e.subscribers[self] for n, e in self._subs.items()},
            publications={e.name: cid for cid, e in self._pubs.items()},
            client_state=self.client_state,
            throttle=self.throttle,
        )

    def __repr__(self) -> str:
        return f"<HubConnection {self.name} uid={self.unique_client_id} handle={self.handle} {self._state.name}>"

    def _on_terminate(self, reason: TerminationReason) -> None:
        self._hub._connection_closed(self)

    # -- queues (the hub's ``next_event``/``data_to_send`` for this peer read them) -------

    def next_event(self) -> Event | None:
        """Return the next event of this connection, or ``None``."""
        event = super().next_event()
        if event is None:
            self._hub._forget_if_drained(self)
        return event

    def data_to_send(self) -> bytes:
        """Return and clear the octets queued for this client."""
        data = super().data_to_send()
        self.bytes_out += len(data)
        if self._state is HubPeerState.CLOSED:
            self._hub._forget_if_drained(self)
        return data
