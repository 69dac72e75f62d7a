"""The XEP-0323 sensor (device) machine, sans-IO (``specs/xep0323/notes.md`` §6.2).

One :class:`Sensor` serves every requester of one XMPP entity. It answers ``req`` and
``cancel`` IQs, schedules ``when`` requests, runs a comm timeout per node, filters the
device's fields by the request (names; types as a union), splits large readouts over
several ``fields`` messages and marks the last message ``done``. Readouts are keyed by
(requester full JID, seqnr); each follows
:data:`~otwire.protocols.xep0323._state.SENSOR_TRANSITIONS`.

The device side is the caller: on ``ReadoutRequested`` it reads the nodes and reports
with :meth:`Sensor.fields_ready` and :meth:`Sensor.node_failed`.

Wall time: ``when`` (xs:dateTime) and the ``timestamp`` of a comm-timeout ``failure``
need the wall clock. The engine reads no clock: it takes ``wall_offset``, the wall-clock
epoch seconds minus the ``now`` clock (``time.time() - time.monotonic()``). Without it,
``when`` is ignored (the readout runs at once; the XEP lets a device process a request
"when it can") and timeout failures carry an empty timestamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from otwire.codecs.xep0323 import (
    Accepted,
    Cancel,
    Cancelled,
    Error,
    Failure,
    Fields,
    FieldType,
    Node,
    Rejected,
    Req,
    StanzaError,
    Started,
    Timestamp,
)
from otwire.errors import InvalidArgument, InvalidArgumentType
from otwire.protocols import TerminationReason
from otwire.protocols._base import MessageEngineBase
from otwire.protocols.xep0323 import events as ev
from otwire.protocols.xep0323._select import select
from otwire.protocols.xep0323._state import (
    ENGINE_END_INPUTS,
    ENGINE_LOCAL_INPUTS,
    ENGINE_TRANSITIONS,
    SENSOR_TERMINAL,
    SENSOR_TRANSITIONS,
    EngineInput,
    EngineState,
    SensorInput,
    SensorReadoutState,
)
from otwire.protocols.xep0323.config import SensorConfig
from otwire.protocols.xep0323.stanza import Stanza, jid_matches, normal_jid

__all__ = ["RegisteredNode", "Sensor"]

_Q, _R = SensorReadoutState.QUEUED, SensorReadoutState.RUNNING


@dataclass(frozen=True, slots=True)
class RegisteredNode:
    """A node the sensor serves (``register_node``)."""

    node_id: str
    comm_timeout: float
    source_id: str | None = None
    cache_type: str | None = None
    has_field: Callable[[str], bool] | None = None


@dataclass(slots=True)
class _Readout:
    peer: str
    seqnr: int
    state: SensorReadoutState
    req: Req
    node_ids: tuple[str, ...]
    names: frozenset[str]
    types: FieldType
    start_at: float
    pending: dict[str, float]


class Sensor(MessageEngineBase[EngineState, EngineInput, Stanza]):
    """Readouts served by one XMPP entity to any number of requesters.

    Args:
        jid: The sensor's own full JID (``from`` of the stanzas it makes; may be ``""``).
        config: Dialect, timeouts, limits (:class:`SensorConfig`).
        wall_offset: Wall-clock epoch seconds minus the ``now`` clock, or ``None`` (see the module).
    """

    __slots__ = ("_config", "_nodes", "_readouts", "jid", "wall_offset")

    CLOSED = EngineState.CLOSED
    LOCAL_INPUTS = ENGINE_LOCAL_INPUTS
    END_INPUTS = ENGINE_END_INPUTS

    def __init__(self, jid: str = "", config: SensorConfig | None = None, *, wall_offset: float | None = None) -> None:
        super().__init__(EngineState.OPEN, ENGINE_TRANSITIONS)
        self.jid = jid
        self.wall_offset = wall_offset
        self._config = config or SensorConfig()
        self._nodes: dict[str, RegisteredNode] = {}
        self._readouts: dict[tuple[str, int], _Readout] = {}

    @property
    def config(self) -> SensorConfig:
        """The settings."""
        return self._config

    @property
    def nodes(self) -> dict[str, RegisteredNode]:
        """The registered nodes by node id (a copy)."""
        return dict(self._nodes)

    def readout_state(self, peer: str, seqnr: int) -> SensorReadoutState | None:
        """The state of a live readout, or ``None``."""
        readout = self._readouts.get((normal_jid(peer), seqnr))
        return readout.state if readout else None

    # -- device side -------------------------------------------------------------------------------

    def register_node(
        self,
        node_id: str,
        *,
        comm_timeout: float | None = None,
        source_id: str | None = None,
        cache_type: str | None = None,
        has_field: Callable[[str], bool] | None = None,
    ) -> None:
        """Serve ``node_id`` (replacing an earlier registration).

        Args:
            node_id: The node's id (``nodeId``).
            comm_timeout: Seconds the device may take to report the node (default ``config.comm_timeout``).
            source_id: The node's data source (``sourceId``), for reference.
            cache_type: The node's cache type (``cacheType``), for reference.
            has_field: ``has_field(name) -> bool``, whether the node has a field of that name
                (called while a request is checked; it must not raise). A request naming fields
                none of whose nodes has is rejected (notes §6.2). ``None``: any name may exist.

        Raises:
            InvalidArgumentType: ``node_id`` is not a str, or ``has_field`` is not callable.
            InvalidArgument: ``comm_timeout`` is not positive.
        """
        if not isinstance(node_id, str):
            raise InvalidArgumentType(f"node_id must be a str, not {type(node_id).__name__}")
        timeout = self._config.comm_timeout if comm_timeout is None else comm_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise InvalidArgument(f"comm_timeout={timeout!r} must be a positive number of seconds")
        if has_field is not None and not callable(has_field):
            raise InvalidArgumentType(f"has_field must be callable, not {type(has_field).__name__}")
        self._nodes[node_id] = RegisteredNode(node_id, float(timeout), source_id, cache_type, has_field)

    def unregister_node(self, node_id: str) -> None:
        """Stop serving ``node_id`` (readouts already running are not affected)."""
        self._nodes.pop(node_id, None)

    def fields_ready(
        self, peer: str, seqnr: int, node_id: str, timestamps: Iterable[Timestamp], now: float, *, done: bool = True
    ) -> bool:
        """Send the device's values of ``node_id`` for a readout (filtered, split, ``done`` on the last).

        Args:
            peer: The requester's full JID (``ReadoutRequested.peer``).
            seqnr: The readout's seqnr.
            node_id: The node the values belong to.
            timestamps: The values, grouped by timestamp.
            now: Monotonic time, seconds.
            done: The node is complete (its comm timeout stops); when ``False`` more follows and
                the node's comm timeout starts again from ``now``.

        Returns:
            ``False`` when the readout or the node is no longer pending (cancelled, timed
            out, finished): nothing was sent.

        Raises:
            LocalProtocolError: the engine is closed.
            InvalidArgumentType: ``timestamps`` holds something other than ``Timestamp``.
        """
        self._check_open("fields_ready")
        readout = self._live(peer, seqnr, node_id)
        if readout is None:
            return False
        stamps = tuple(timestamps)
        if not all(isinstance(t, Timestamp) for t in stamps):
            raise InvalidArgumentType("timestamps must be Timestamp objects")
        self._move(EngineInput.DEVICE)
        self._advance(readout, SensorInput.FIELDS)
        node = self._nodes.get(node_id)
        ref = Node(
            node_id=node_id, source_id=node.source_id if node else None, cache_type=node.cache_type if node else None
        )
        if done:
            del readout.pending[node_id]
        elif node is not None:  # a partial report restarts the node's comm timeout (notes §6.2)
            readout.pending[node_id] = now + node.comm_timeout
        messages = self._split(readout, ref, stamps)
        if not readout.pending and not messages:
            messages = [Fields(seqnr=seqnr)]
        for index, message in enumerate(messages):
            last = index == len(messages) - 1 and not readout.pending
            self._send(readout, Fields(seqnr=seqnr, nodes=message.nodes, done=True) if last else message)
        self._finish_if_done(readout)
        return True

    def node_failed(
        self, peer: str, seqnr: int, node_id: str, message: str, now: float, *, timestamp: str | None = None
    ) -> bool:
        """Send a ``failure`` for ``node_id``; the node is done (``done`` when it was the last).

        Args:
            peer: The requester's full JID.
            seqnr: The readout's seqnr.
            node_id: The failing node.
            message: The error text.
            now: Monotonic time, seconds.
            timestamp: The ``timestamp`` text (default: the wall time at ``now``, or ``""``).

        Returns:
            ``False`` when the readout or the node is no longer pending: nothing was sent.

        Raises:
            LocalProtocolError: the engine is closed.
        """
        self._check_open("node_failed")
        readout = self._live(peer, seqnr, node_id)
        if readout is None:
            return False
        self._move(EngineInput.DEVICE)
        self._advance(readout, SensorInput.NODE_FAILED)
        self._fail_node(readout, node_id, message, now if timestamp is None else timestamp)
        return True

    # -- timers --------------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The earliest ``when`` start or node comm deadline, or ``None``."""
        deadlines = [
            r.start_at if r.state is _Q else min(r.pending.values(), default=None) for r in self._readouts.values()
        ]
        return min((d for d in deadlines if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Start queued readouts that are due and fail the nodes past their comm timeout."""
        if self.is_closed:
            return
        self._move(EngineInput.TIMER)
        for readout in list(self._readouts.values()):
            if readout.state is _Q and readout.start_at <= now:
                self._start(readout, now, queued=True)
            elif readout.state is _R:
                for node_id in [n for n, deadline in readout.pending.items() if deadline <= now]:
                    self._advance(readout, SensorInput.COMM_TIMEOUT)
                    self._events.append(ev.NodeTimedOut(peer=readout.peer, seqnr=readout.seqnr, node_id=node_id))
                    self._fail_node(readout, node_id, "Timeout", now)

    def stream_closed(self, now: float) -> None:
        """The XMPP stream ended: end every readout at once, sending nothing (``ReadoutAborted``,
        ``reason="stream closed"``); late device reports are then refused (``False``). The
        engine stays open for the next stream; does nothing when closed."""
        self._abort(lambda readout: True, "stream closed")

    def peer_unavailable(self, jid: str, now: float) -> None:
        """The requester ``jid`` went offline: end its readouts at once, sending nothing
        (``ReadoutAborted``, ``reason="peer unavailable"``); a bare ``jid`` covers every resource."""
        self._abort(lambda readout: jid_matches(readout.peer, jid), "peer unavailable")

    def _abort(self, which: Callable[[_Readout], bool], reason: str) -> None:
        if self.is_closed:
            return
        self._move(EngineInput.ABORT)
        for readout in [r for r in self._readouts.values() if which(r)]:
            self._advance(readout, SensorInput.ABORT)
            self._events.append(ev.ReadoutAborted(peer=readout.peer, seqnr=readout.seqnr, reason=reason))

    def close(self, now: float) -> None:
        """Forget every readout and close (``ConnectionTerminated(LOCAL_CLOSE)``); nothing is sent."""
        self._terminate(TerminationReason.LOCAL_CLOSE, None)

    # -- requests -------------------------------------------------------------------------------------

    def receive_message(self, stanza: Stanza, now: float) -> None:
        """Take one stanza addressed to the sensor: ``req`` and ``cancel`` IQs; anything else is dropped.

        Raises:
            InvalidArgumentType: ``stanza`` is not a :class:`Stanza`.
            LocalProtocolError: the engine is closed.
        """
        self._check_open("receive_message")
        if not isinstance(stanza, Stanza):
            raise InvalidArgumentType(f"expected a Stanza, not {type(stanza).__name__}")
        self._move(EngineInput.RECEIVE)
        payload = stanza.payload
        if stanza.kind == "iq" and stanza.type in ("get", "set") and isinstance(payload, Req):
            self._on_request(stanza, payload, now)
        elif stanza.kind == "iq" and stanza.type in ("get", "set") and isinstance(payload, Cancel):
            self._on_cancel(stanza, payload)
        else:
            self._events.append(ev.StanzaDropped(stanza=stanza, reason="not a req or cancel IQ"))

    def _on_request(self, stanza: Stanza, req: Req, now: float) -> None:
        key = (normal_jid(stanza.from_jid), req.seqnr)
        node_ids = tuple(n.node_id for n in req.nodes) or tuple(self._nodes)
        unknown = [n for n in node_ids if n not in self._nodes]
        delay = self._delay(req.when, now)
        if key in self._readouts:
            refusal = StanzaError(type="modify", condition="bad-request", text=f"seqnr {req.seqnr} is in use")
        elif len(self._readouts) >= self._config.max_readouts:
            refusal = StanzaError(type="wait", condition="resource-constraint", text="Too many readouts")
        elif unknown or not node_ids:
            text = f"Invalid nodeId {unknown[0]}" if unknown else "No nodes"
            refusal = StanzaError(type="cancel", condition="item-not-found", text=text)
        elif req.fields and not self._has_any_field(node_ids, req):
            text = f"Invalid field {req.fields[-1].name}"
            refusal = StanzaError(type="cancel", condition="item-not-found", text=text)
        elif delay > self._config.max_schedule:
            refusal = StanzaError(type="modify", condition="bad-request", text="when is too far ahead")
        else:
            names = frozenset(f.name for f in req.fields)
            state = _Q if delay > 0 else _R
            readout = _Readout(
                stanza.from_jid, req.seqnr, state, req, node_ids, names, req.requested_types, now + delay, {}
            )
            self._readouts[key] = readout
            self._reply(stanza, Accepted(seqnr=req.seqnr, queued=delay > 0))
            if delay > 0:
                self._events.append(ev.ReadoutQueued(peer=readout.peer, seqnr=req.seqnr, delay=delay))
            else:
                self._start(readout, now, queued=False)
            return
        self._refuse(stanza, req.seqnr, refusal)

    def _has_any_field(self, node_ids: tuple[str, ...], req: Req) -> bool:
        """Whether one of the read nodes has one of the requested fields (a node without ``has_field``: yes)."""
        for node_id in node_ids:
            check = self._nodes[node_id].has_field
            if check is None or any(check(f.name) for f in req.fields):
                return True
        return False

    def _on_cancel(self, stanza: Stanza, cancel: Cancel) -> None:
        readout = self._readouts.get((normal_jid(stanza.from_jid), cancel.seqnr))
        if readout is None:
            text = "Cancel request received, no matching request is active."
            self._refuse(stanza, cancel.seqnr, StanzaError(type="cancel", condition="item-not-found", text=text))
            return
        self._advance(readout, SensorInput.CANCEL)
        self._reply(stanza, Cancelled(seqnr=cancel.seqnr))
        self._events.append(ev.CancelRequested(peer=readout.peer, seqnr=readout.seqnr))

    # -- helpers ------------------------------------------------------------------------------------------

    def _delay(self, when: dt.datetime | None, now: float) -> float:
        if when is None or self.wall_offset is None:
            return 0.0
        try:
            epoch = when.timestamp()  # naive: the zone is undefined, assume local (XEP-0323 #timezones)
        except (OverflowError, OSError, ValueError):
            return self._config.max_schedule + 1
        return max(0.0, epoch - (now + self.wall_offset))

    def _wall(self, now: float) -> str:
        if self.wall_offset is None:
            return ""
        stamp = dt.datetime.fromtimestamp(now + self.wall_offset, dt.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _start(self, readout: _Readout, now: float, *, queued: bool) -> None:
        if queued:
            readout.state = self._table_step(readout, SensorInput.START)
        readout.pending = {n: now + self._nodes[n].comm_timeout for n in readout.node_ids if n in self._nodes}
        if queued:
            self._send(readout, Started(seqnr=readout.seqnr))
        self._events.append(
            ev.ReadoutRequested(peer=readout.peer, seqnr=readout.seqnr, node_ids=tuple(readout.pending),
                                field_names=readout.names, types=readout.types, req=readout.req)
        )  # fmt: skip
        if not readout.pending:  # every node was unregistered while it waited
            self._send(readout, Fields(seqnr=readout.seqnr, done=True))
            self._finish_if_done(readout)

    def _live(self, peer: str, seqnr: int, node_id: str) -> _Readout | None:
        readout = self._readouts.get((normal_jid(peer), seqnr))
        if readout is None or readout.state is not _R or node_id not in readout.pending:
            return None
        return readout

    def _fail_node(self, readout: _Readout, node_id: str, message: str, when: float | str) -> None:
        node = self._nodes.get(node_id)
        stamp = when if isinstance(when, str) else self._wall(when)
        error = Error(node_id=node_id, timestamp=stamp, message=message, source_id=node.source_id if node else None,
                      cache_type=node.cache_type if node else None)  # fmt: skip
        del readout.pending[node_id]
        self._send(readout, Failure(seqnr=readout.seqnr, errors=(error,), done=not readout.pending))
        self._finish_if_done(readout)

    def _finish_if_done(self, readout: _Readout) -> None:
        if readout.state is _R and not readout.pending:
            self._advance(readout, SensorInput.FINISH)
            self._events.append(ev.ReadoutFinished(peer=readout.peer, seqnr=readout.seqnr))

    def _split(self, readout: _Readout, ref: Node, stamps: tuple[Timestamp, ...]) -> list[Fields]:
        """The wanted fields of ``stamps`` in messages of at most ``max_fields_per_message`` values."""
        (node,) = select((Node(node_id=ref.node_id, timestamps=stamps),), readout.names, readout.types) or (ref,)
        limit, messages, current, count = self._config.max_fields_per_message, [], [], 0
        for stamp in node.timestamps:
            fields = stamp.fields
            while fields:
                room = limit - count
                current.append(replace(stamp, fields=fields[:room]))
                count, fields = count + len(fields[:room]), fields[room:]
                if count == limit:
                    messages.append(current)
                    current, count = [], 0
        if current:
            messages.append(current)
        return [Fields(seqnr=readout.seqnr, nodes=(Node(node_id=ref.node_id, source_id=ref.source_id,
                       cache_type=ref.cache_type, timestamps=tuple(part)),)) for part in messages]  # fmt: skip

    def _table_step(self, readout: _Readout, event: SensorInput) -> SensorReadoutState:
        new = SENSOR_TRANSITIONS.get((readout.state, event))
        if new is None:  # pragma: no cover - the verbs check the state first
            raise AssertionError(f"{event.value} in state {readout.state.name}")
        return new

    def _advance(self, readout: _Readout, event: SensorInput) -> None:
        readout.state = self._table_step(readout, event)
        if readout.state in SENSOR_TERMINAL:
            self._readouts.pop((normal_jid(readout.peer), readout.seqnr), None)

    def _send(self, readout: _Readout, payload: Fields | Failure | Started) -> None:
        self._emit(Stanza(kind="message", type="normal", from_jid=self.jid, to_jid=readout.peer, payload=payload))

    def _reply(self, stanza: Stanza, payload: Accepted | Cancelled) -> None:
        self._emit(
            Stanza(kind="iq", type="result", id=stanza.id, from_jid=self.jid, to_jid=stanza.from_jid, payload=payload)
        )

    def _refuse(self, stanza: Stanza, seqnr: int, error: StanzaError) -> None:
        rejected = Rejected(seqnr=seqnr, errors=(error.text or "",)) if self._config.dialect == "v0.2" else None
        self._emit(Stanza(kind="iq", type="error", id=stanza.id, from_jid=self.jid, to_jid=stanza.from_jid,
                          payload=rejected, error=error))  # fmt: skip
        self._events.append(ev.RequestRefused(peer=stanza.from_jid, seqnr=seqnr, error=error))

    def _on_terminate(self, reason: TerminationReason) -> None:
        self._readouts.clear()
