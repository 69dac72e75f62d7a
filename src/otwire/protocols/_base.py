"""What every sans-IO engine shares: events, the output buffer, the lifecycle table (STYLE.md 3.1/3.3).

Three engine shapes, one set of parts:

* :class:`EngineBase`: a byte-stream engine of one connection (IEC 104 connection,
  IMB client). Inputs ``receive_data``/``send``/``close``/``connection_lost``/
  ``handle_timer``; outputs ``next_event``/``data_to_send``/``get_timer``.
* :class:`MessageEngineBase`: the same for carriers that own framing (gRPC, XMPP
  stanzas): ``receive_message(msg, now)`` and ``messages_to_send()`` instead of octets
  (STYLE.md 3.3 rule 9).
* One engine with many peers (IMB hub, i3X server, XEP-0323 sensor) implements
  :class:`otwire.protocols.PeerEngine`; it may keep one :class:`EngineBase` per peer
  for that peer's lifecycle (STYLE.md 3.3 rule 10).

The lifecycle of every engine is one transition table ``{(state, input): new_state}``
(the protocol's ``_state.py``); :meth:`EngineBase._move` is the only place a state
changes. A missing pair is ``LocalProtocolError`` for a local input and
``RemoteProtocolError`` for anything the peer caused. Every way to end
(``CLOSE``, ``EOF``, ``CONNECTION_LOST``, ``PROTOCOL_ERROR``, timers, limits) is a row of
the table too, so the table says in which states each can happen.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from otwire.errors import InvalidArgumentType, LocalProtocolError, RemoteProtocolError

__all__ = [
    "ConnectionTerminated",
    "EngineBase",
    "Event",
    "MessageEngineBase",
    "TerminationReason",
    "as_octets",
]

StateT = TypeVar("StateT", bound=enum.Enum)
InputT = TypeVar("InputT", bound=enum.Enum)
MessageT = TypeVar("MessageT")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of every event an engine reports through ``next_event()``."""


class TerminationReason(enum.Enum):
    """Why a connection ended: one list for every protocol (each uses the members that apply)."""

    LOCAL_CLOSE = "local close"
    """``close()`` was called (any goodbye the protocol has was queued)."""
    PEER_CLOSED = "peer closed"
    """End of stream from the peer (``receive_data(b"")``) without a goodbye message."""
    END_SESSION = "peer ended the session"
    """The peer said goodbye in the protocol (IMB icEndSession)."""
    CONNECTION_LOST = "connection lost"
    """The transport failed (``connection_lost(now, exc)``): reset, broken pipe, TLS error."""
    PROTOCOL_ERROR = "protocol error"
    """The peer broke the protocol; the ``RemoteProtocolError`` is in ``error``."""
    T1_TIMEOUT = "t1 expired"
    """IEC 104: a sent I-frame or U-frame act was not acknowledged within t1."""
    HANDSHAKE_TIMEOUT = "handshake timeout"
    """The peer did not complete the opening exchange in time (servers)."""
    IDLE_TIMEOUT = "idle timeout"
    """The peer completed no frame within the idle deadline (servers; a byte trickle counts as idle)."""
    SLOW_CONSUMER = "slow consumer"
    """The peer did not read: its queued output went over the per-connection cap or the global budget."""
    LIMIT_EXCEEDED = "limit exceeded"
    """The peer went over a resource limit (names, buffered octets, junk)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionTerminated(Event):
    """The connection is closed; no input is accepted any more.

    ``error`` is the exception behind ``PROTOCOL_ERROR`` (also raised from
    ``receive_data``) or ``CONNECTION_LOST`` (the transport's exception), else ``None``.
    """

    reason: TerminationReason
    error: BaseException | None = None


def as_octets(data: object) -> bytes | bytearray | memoryview:
    """Return ``data`` as octets for ``receive_data`` (callers skip the call for ``bytes``).

    ``bytes``, ``bytearray`` and ``memoryview`` come back as given; another buffer
    (``array``, ``mmap``, ...) as a ``memoryview`` of its octets.

    Raises:
        InvalidArgumentType: ``data`` is not bytes-like (e.g. ``str``, ``None``, a list).
    """
    if isinstance(data, bytes | bytearray | memoryview):
        return data
    try:
        return memoryview(data).cast("B")  # type: ignore[arg-type]
    except TypeError:
        raise InvalidArgumentType(f"data must be bytes-like, not {type(data).__name__}") from None


class EngineBase(Generic[StateT, InputT]):
    """Event queue, output buffer and transition-table lifecycle of one byte-stream engine.

    A subclass sets the class attributes and calls ``super().__init__(initial, table)``:

    * ``CLOSED``: its closed state;
    * ``LOCAL_INPUTS``: the inputs caused by the local user (refused with
      ``LocalProtocolError``; every other input is refused with ``RemoteProtocolError``);
    * ``END_INPUTS``: the table input that ends the connection for each
      :class:`TerminationReason` it uses.

    It implements ``receive_data``/``send``/``handle_timer``/``get_timer`` itself, and
    calls :meth:`_terminate` to end (or :meth:`_fail` from ``receive_data`` before
    re-raising). :meth:`_on_terminate` is its hook to drop buffers and timers.
    """

    __slots__ = ("_events", "_out", "_state", "_table")

    CLOSED: ClassVar[Any]
    LOCAL_INPUTS: ClassVar[frozenset[Any]] = frozenset()
    END_INPUTS: ClassVar[Mapping[TerminationReason, Any]] = {}

    def __init__(self, initial: StateT, table: Mapping[tuple[StateT, InputT], StateT]) -> None:
        self._state = initial
        self._table = table
        self._events: deque[Event] = deque()
        self._out = bytearray()

    # -- observable state ----------------------------------------------------------

    @property
    def state(self) -> StateT:
        """The lifecycle state."""
        return self._state

    @property
    def is_closed(self) -> bool:
        """True once the engine is closed: every input raises ``LocalProtocolError``."""
        return self._state is self.CLOSED

    # -- inputs shared by every engine -----------------------------------------------

    def connection_lost(self, now: float, exc: BaseException | None = None) -> None:
        """Report that the transport failed (not an orderly close by the peer).

        Ends with ``ConnectionTerminated(CONNECTION_LOST, error=exc)``; does nothing
        when already closed (the transport reports every loss, even after a close).

        Args:
            now: Monotonic time, seconds.
            exc: The transport's exception, if any.
        """
        if self._state is not self.CLOSED:
            self._terminate(TerminationReason.CONNECTION_LOST, exc)

    # -- outputs ---------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """Return the next queued event, or ``None`` when there is none."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        """Return and clear the octets queued for the peer (``b""`` when there are none)."""
        if not self._out:
            return b""
        out = bytes(self._out)
        self._out.clear()
        return out

    # -- helpers for subclasses --------------------------------------------------------

    def _check_open(self, verb: str) -> None:
        """Raise ``LocalProtocolError("can't <verb> in state CLOSED")`` once closed (STYLE 3.3 rule 5)."""
        if self._state is self.CLOSED:
            raise LocalProtocolError(f"can't {verb} in state CLOSED")

    def _describe(self) -> str:
        """Extra words for a refused transition (e.g. the role); empty by default."""
        return ""

    def _move(self, event: InputT) -> StateT:
        """Apply ``event`` through the table and return the new state.

        Raises:
            LocalProtocolError: ``event`` is local and not allowed in this state.
            RemoteProtocolError: ``event`` came from the peer and is not allowed in this state.
        """
        new = self._table.get((self._state, event))
        if new is None:
            detail = self._describe()
            message = f"{event.value} not allowed in state {self._state.name}{f' ({detail})' if detail else ''}"
            if event in self.LOCAL_INPUTS:
                raise LocalProtocolError(message)
            raise RemoteProtocolError(message)
        self._state = new
        return new

    def _terminate(self, reason: TerminationReason, error: BaseException | None) -> None:
        """End through the table row of ``reason``, run :meth:`_on_terminate`, report why.

        Does nothing when already closed.
        """
        if self._state is self.CLOSED:
            return
        self._move(self.END_INPUTS[reason])
        self._on_terminate(reason)
        self._events.append(ConnectionTerminated(reason=reason, error=error))

    def _fail(self, exc: RemoteProtocolError) -> None:
        """End with ``PROTOCOL_ERROR`` (call it before re-raising ``exc`` from ``receive_data``)."""
        self._terminate(TerminationReason.PROTOCOL_ERROR, exc)

    def _on_terminate(self, reason: TerminationReason) -> None:
        """Drop buffers and timers when the engine closes (subclass hook)."""


class MessageEngineBase(EngineBase[StateT, InputT], Generic[StateT, InputT, MessageT]):
    """:class:`EngineBase` for carriers that own framing: messages out instead of octets.

    The subclass implements ``receive_message(msg, now)`` instead of ``receive_data``,
    and queues outgoing messages with :meth:`_emit`; drivers drain them with
    :meth:`messages_to_send`. ``data_to_send`` stays empty.
    """

    __slots__ = ("_outbox",)

    def __init__(self, initial: StateT, table: Mapping[tuple[StateT, InputT], StateT]) -> None:
        super().__init__(initial, table)
        self._outbox: deque[MessageT] = deque()

    def messages_to_send(self) -> list[MessageT]:
        """Return and clear the messages queued for the peer, oldest first."""
        out = list(self._outbox)
        self._outbox.clear()
        return out

    def _emit(self, message: MessageT) -> None:
        self._outbox.append(message)
