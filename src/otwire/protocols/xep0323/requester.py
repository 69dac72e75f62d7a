"""The XEP-0323 requester (client) machine, sans-IO (``specs/xep0323/notes.md`` §6.1).

One :class:`Requester` runs every readout of one XMPP client. Readouts are keyed by
(peer JID, seqnr); each follows :data:`~otwire.protocols.xep0323._state.READOUT_TRANSITIONS`.

>>> from otwire.codecs.xep0323 import Accepted, FieldType
>>> requester = Requester("client@example.org/amr", RequesterConfig(first_seqnr=1))
>>> requester.request("device@example.org/d", 0.0, flags=FieldType.momentary)
1
>>> (req,) = requester.messages_to_send()
>>> req.kind, req.type, req.to_jid, req.payload
('iq', 'get', 'device@example.org/d', Req(seqnr=1, types=<FieldType.momentary: 1>, ...))
>>> requester.receive_message(Stanza(kind="iq", type="result", id=req.id,
...     from_jid="device@example.org/d", payload=Accepted(seqnr=1)), 0.1)
>>> requester.next_event()
ReadoutAccepted(peer='device@example.org/d', seqnr=1, queued=False, implicit=False)

Inputs: ``request``, ``cancel``, ``receive_message``, ``handle_timer``, ``close``,
``connection_lost`` (all take ``now``, monotonic seconds). Outputs: ``messages_to_send()``
(:class:`Stanza` objects for the carrier to send), ``next_event()``, ``get_timer()``.
A misbehaving peer never raises: its stanzas are dropped and reported (``StanzaDropped``).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from otwire.codecs.xep0323 import (
    NO_TYPES,
    Accepted,
    Cancel,
    Done,
    Failure,
    FieldRef,
    Fields,
    FieldType,
    Node,
    Rejected,
    Req,
    Started,
)
from otwire.errors import InvalidArgumentType, InvalidState, LocalProtocolError
from otwire.protocols import TerminationReason
from otwire.protocols._base import MessageEngineBase
from otwire.protocols.xep0323 import events as ev
from otwire.protocols.xep0323._select import select
from otwire.protocols.xep0323._state import (
    ENGINE_END_INPUTS,
    ENGINE_LOCAL_INPUTS,
    ENGINE_TRANSITIONS,
    READOUT_TERMINAL,
    READOUT_TRANSITIONS,
    EngineInput,
    EngineState,
    ReadoutInput,
    ReadoutState,
)
from otwire.protocols.xep0323.config import RequesterConfig
from otwire.protocols.xep0323.stanza import Stanza, bare_jid, jid_matches, normal_jid

__all__ = ["Requester"]

_I, _S = ReadoutInput, ReadoutState
_MAX_SEQNR = 2**31 - 1
#: Inputs in REQUESTED that do not mean the device took the request.
_NOT_ACCEPTING = frozenset({_I.RECV_REJECTED, _I.CANCEL, _I.TIMEOUT})


@dataclass(slots=True)
class _Readout:
    peer: str
    seqnr: int
    state: ReadoutState
    deadline: float
    names: frozenset[str]
    types: FieldType
    iq_ids: list[str]


def _ending(readout: _Readout, state: ReadoutState, stanza: Stanza | None) -> ev.ReadoutEvent:
    """The event of a terminal ``state``."""
    peer, seqnr = readout.peer, readout.seqnr
    error = stanza.error if stanza else None
    if state is _S.COMPLETED or state is _S.FAILED:
        return ev.ReadoutCompleted(peer=peer, seqnr=seqnr, failed=state is _S.FAILED)
    if state is _S.TIMED_OUT:
        return ev.ReadoutTimedOut(peer=peer, seqnr=seqnr)
    payload = stanza.payload if stanza else None
    reasons = payload.errors if isinstance(payload, Rejected) else ()
    if state is _S.CANCELLED:
        refused = stanza is not None and stanza.type == "error"
        return ev.ReadoutCancelled(peer=peer, seqnr=seqnr, refused=refused, error=error, reasons=reasons)
    return ev.ReadoutRejected(peer=peer, seqnr=seqnr, error=error, reasons=reasons)


class Requester(MessageEngineBase[EngineState, EngineInput, Stanza]):
    """Readouts requested by one XMPP client from any number of devices.

    Args:
        jid: The client's own full JID (``from`` of the stanzas it makes; may be ``""``
            when the carrier stamps it).
        config: Timeouts, limits, first seqnr, filtering (:class:`RequesterConfig`).
    """

    __slots__ = ("_config", "_iq_count", "_iq_prefix", "_iqs", "_next_seqnr", "_readouts", "jid")

    CLOSED = EngineState.CLOSED
    LOCAL_INPUTS = ENGINE_LOCAL_INPUTS
    END_INPUTS = ENGINE_END_INPUTS

    def __init__(self, jid: str = "", config: RequesterConfig | None = None) -> None:
        super().__init__(EngineState.OPEN, ENGINE_TRANSITIONS)
        self.jid = jid
        self._config = config or RequesterConfig()
        first = self._config.first_seqnr
        self._next_seqnr = first if first is not None else random.SystemRandom().randint(1, _MAX_SEQNR)
        self._iq_prefix = "sd-" + secrets.token_hex(4) + "-"
        self._iq_count = 0
        self._readouts: dict[tuple[str, int], _Readout] = {}
        self._iqs: dict[str, tuple[_Readout, bool]] = {}

    @property
    def config(self) -> RequesterConfig:
        """The settings."""
        return self._config

    def readout_state(self, peer: str, seqnr: int) -> ReadoutState | None:
        """The state of the readout (``None`` once it ended or when it never existed)."""
        readout = self._readouts.get((normal_jid(peer), seqnr))
        return readout.state if readout else None

    # -- local verbs -----------------------------------------------------------------------------

    def request(
        self,
        to_jid: str,
        now: float,
        *,
        node_ids: Iterable[str] | None = None,
        fields: Iterable[str] | None = None,
        flags: FieldType = NO_TYPES,
        all_types: bool = False,
        historical: bool = False,
        when: dt.datetime | None = None,
        from_: dt.datetime | None = None,
        to: dt.datetime | None = None,
        timeout: float | None = None,
    ) -> int:
        """Send a ``req`` to ``to_jid`` and return its seqnr (XEP-0323 #readmomentary .. #readfields).

        Args:
            to_jid: The device (a full JID; a bare JID accepts answers from any of its resources).
            now: Monotonic time, seconds.
            node_ids: Nodes to read (none: the device's choice).
            fields: Field names to read (none: all).
            flags: Field types to read, a union (none with ``all_types=False``: the device's choice).
            all_types: Ask for every field type (``all``).
            historical: Ask for every historical period (``historical``).
            when: Schedule the readout on the device (``when``; wall clock).
            from_: Start of a historical range (hint).
            to: End of a historical range (hint).
            timeout: Seconds until ``ReadoutTimedOut`` (default ``config.readout_timeout``).

        Raises:
            InvalidArgumentType: ``to_jid`` is not a str or ``flags`` not a ``FieldType``.
            InvalidState: the engine is closed or ``config.max_readouts`` are outstanding.
            EncodeError: a value the ``req`` cannot carry.
        """
        self._check_verb("request")
        if not isinstance(to_jid, str) or not to_jid or not isinstance(flags, FieldType):
            raise InvalidArgumentType("to_jid must be a non-empty str and flags a FieldType")
        if len(self._readouts) >= self._config.max_readouts:
            raise InvalidState(f"{len(self._readouts)} readouts outstanding (max_readouts)")
        names = tuple(fields or ())
        req = Req(seqnr=self._allocate_seqnr(), types=flags, all_types=all_types, historical=historical,
                  when=when, from_=from_, to=to, nodes=tuple(Node(node_id=n) for n in node_ids or ()),
                  fields=tuple(FieldRef(name=n) for n in names))  # fmt: skip
        self._move(EngineInput.REQUEST)
        deadline = now + (self._config.readout_timeout if timeout is None else timeout)
        names_set = frozenset(names) if self._config.filter_fields else frozenset()
        types = req.requested_types if self._config.filter_fields else NO_TYPES
        readout = _Readout(to_jid, req.seqnr, _S.REQUESTED, deadline, names_set, types, [])
        self._readouts[(normal_jid(to_jid), req.seqnr)] = readout
        self._send_iq(readout, req, cancel=False)
        return req.seqnr

    def cancel(self, to_jid: str, seqnr: int, now: float) -> None:
        """Send a ``cancel`` for the readout (XEP-0323 #cancelreadout); the readout ends with
        ``ReadoutCancelled``, or with ``ReadoutCompleted`` when the device finishes it anyway.

        Raises:
            InvalidState: no such readout is outstanding, or the engine is closed.
            LocalProtocolError: a cancel for it is already outstanding.
        """
        self._check_verb("cancel")
        readout = self._readouts.get((normal_jid(to_jid), seqnr))
        if readout is None:
            raise InvalidState(f"no readout {seqnr} with {to_jid!r} is outstanding")
        if (readout.state, _I.CANCEL) not in READOUT_TRANSITIONS:
            raise LocalProtocolError(f"can't cancel readout {seqnr} in state {readout.state.name}")
        self._move(EngineInput.CANCEL)
        readout.state = READOUT_TRANSITIONS[(readout.state, _I.CANCEL)]
        self._send_iq(readout, Cancel(seqnr=seqnr), cancel=True)

    def close(self, now: float) -> None:
        """Forget every readout and close (``ConnectionTerminated(LOCAL_CLOSE)``); nothing is sent."""
        self._terminate(TerminationReason.LOCAL_CLOSE, None)

    def stream_closed(self, now: float) -> None:
        """The XMPP stream carrying the readouts ended: end each at once (``ReadoutAborted``,
        ``reason="stream closed"``) instead of at its timeout. The engine stays open (a new
        stream may follow); does nothing when closed."""
        self._abort(lambda readout: True, "stream closed")

    def peer_unavailable(self, jid: str, now: float) -> None:
        """``jid`` went offline (``<presence type='unavailable'/>``): end its readouts at once
        (``ReadoutAborted``, ``reason="peer unavailable"``). A full JID ends the readouts of that
        full JID; a bare JID ends those of the bare JID and of every resource of it."""
        self._abort(lambda readout: jid_matches(readout.peer, jid), "peer unavailable")

    def get_timer(self) -> float | None:
        """The earliest readout deadline, or ``None``."""
        return min((r.deadline for r in self._readouts.values()), default=None)

    def handle_timer(self, now: float) -> None:
        """End every readout whose deadline has passed (``ReadoutTimedOut``)."""
        if self.is_closed:
            return
        self._move(EngineInput.TIMER)
        for readout in [r for r in self._readouts.values() if r.deadline <= now]:
            self._step(readout, _I.TIMEOUT, None)

    # -- peer input ------------------------------------------------------------------------------

    def receive_message(self, stanza: Stanza, now: float) -> None:
        """Take one stanza addressed to this client.

        Answers to the engine's IQs are matched by IQ id and sender; ``fields``, ``failure``,
        ``started`` and ``done`` messages by (sender, seqnr). Anything else is dropped and
        reported (``StanzaDropped``), never raised.

        Raises:
            InvalidArgumentType: ``stanza`` is not a :class:`Stanza`.
            LocalProtocolError: the engine is closed.
        """
        self._check_verb("receive_message")
        if not isinstance(stanza, Stanza):
            raise InvalidArgumentType(f"expected a Stanza, not {type(stanza).__name__}")
        self._move(EngineInput.RECEIVE)
        if stanza.kind == "iq" and stanza.type in ("result", "error"):
            self._on_iq_answer(stanza)
        elif stanza.kind == "message" and stanza.type != "error":
            self._on_message(stanza)
        else:
            self._drop(stanza, f"{stanza.kind} of type {stanza.type!r} is not for a requester")

    def _on_iq_answer(self, stanza: Stanza) -> None:
        entry = self._iqs.get(stanza.id or "")
        if entry is None:
            self._drop(stanza, "answers no outstanding request")
            return
        readout, is_cancel = entry
        if not jid_matches(stanza.from_jid, readout.peer):
            self._drop(stanza, f"from {stanza.from_jid!r}, which does not own readout {readout.seqnr}")
            return
        del self._iqs[stanza.id or ""]
        readout.iq_ids.remove(stanza.id or "")
        payload = stanza.payload
        if is_cancel:
            self._step(readout, _I.RECV_CANCELLED if stanza.type == "result" else _I.RECV_CANCEL_ERROR, stanza)
        elif stanza.type == "error":
            self._step(readout, _I.RECV_REJECTED, stanza)
        elif payload is None:
            self._step(readout, _I.RECV_EMPTY_RESULT, stanza)
        elif isinstance(payload, Accepted) and payload.seqnr == readout.seqnr:
            self._step(readout, _I.RECV_QUEUED if payload.queued else _I.RECV_ACCEPTED, stanza)
        elif isinstance(payload, Fields | Failure | Started | Done) and payload.seqnr == readout.seqnr:
            self._on_payload(readout, payload, stanza)  # data inside the IQ result (Waher's older devices)
        else:
            self._drop(stanza, f"IQ result with {type(payload).__name__} does not answer readout {readout.seqnr}")

    def _on_message(self, stanza: Stanza) -> None:
        payload = stanza.payload
        if not isinstance(payload, Fields | Failure | Started | Done):
            self._drop(stanza, "no XEP-0323 readout message")
            return
        sender = normal_jid(stanza.from_jid)
        readout = self._readouts.get((sender, payload.seqnr)) or self._readouts.get((bare_jid(sender), payload.seqnr))
        if readout is None:
            owned = any(seqnr == payload.seqnr for _, seqnr in self._readouts)
            why = "does not own readout" if owned else "has no readout"
            self._drop(stanza, f"{stanza.from_jid!r} {why} {payload.seqnr}")
            return
        self._on_payload(readout, payload, stanza)

    def _on_payload(self, readout: _Readout, payload: Fields | Failure | Started | Done, stanza: Stanza) -> None:
        if isinstance(payload, Fields):
            self._step(readout, _I.RECV_FIELDS_DONE if payload.done else _I.RECV_FIELDS, stanza)
        elif isinstance(payload, Failure):
            self._step(readout, _I.RECV_FAILURE_DONE if payload.done else _I.RECV_FAILURE, stanza)
        elif isinstance(payload, Started):
            self._step(readout, _I.RECV_STARTED, stanza)
        else:
            self._step(readout, _I.RECV_DONE, stanza)

    # -- the table step ----------------------------------------------------------------------------

    def _step(self, readout: _Readout, event: ReadoutInput, stanza: Stanza | None) -> None:
        old = readout.state
        new = READOUT_TRANSITIONS.get((old, event))
        if new is None:
            assert stanza is not None  # every live state has a TIMEOUT row
            self._drop(stanza, f"{event.value} does not fit readout {readout.seqnr} in state {old.name}")
            return
        readout.state = new
        self._report(readout, old, event, stanza)
        if new in READOUT_TERMINAL:
            self._forget(readout)
            self._events.append(_ending(readout, new, stanza))

    def _abort(self, which: Callable[[_Readout], bool], reason: str) -> None:
        if self.is_closed:
            return
        self._move(EngineInput.ABORT)
        for readout in [r for r in self._readouts.values() if which(r)]:
            readout.state = READOUT_TRANSITIONS[(readout.state, _I.ABORT)]
            self._forget(readout)
            self._events.append(ev.ReadoutAborted(peer=readout.peer, seqnr=readout.seqnr, reason=reason))

    def _report(self, readout: _Readout, old: ReadoutState, event: ReadoutInput, stanza: Stanza | None) -> None:
        peer, seqnr = readout.peer, readout.seqnr
        if old is _S.REQUESTED and event not in _NOT_ACCEPTING:
            queued, implicit = event is _I.RECV_QUEUED, event not in (_I.RECV_ACCEPTED, _I.RECV_QUEUED)
            self._events.append(ev.ReadoutAccepted(peer=peer, seqnr=seqnr, queued=queued, implicit=implicit))
        payload = stanza.payload if stanza else None
        if event is _I.RECV_STARTED:
            self._events.append(ev.ReadoutStarted(peer=peer, seqnr=seqnr))
        elif isinstance(payload, Fields):
            nodes = select(payload.nodes, readout.names, readout.types)
            self._events.append(ev.FieldsReceived(peer=peer, seqnr=seqnr, nodes=nodes, done=payload.done))
        elif isinstance(payload, Failure):
            self._events.append(ev.FailureReceived(peer=peer, seqnr=seqnr, errors=payload.errors, done=payload.done))

    # -- helpers ------------------------------------------------------------------------------------

    def _check_verb(self, verb: str) -> None:
        self._check_open(verb)

    def _allocate_seqnr(self) -> int:
        used = {seqnr for _, seqnr in self._readouts}
        seqnr = self._next_seqnr
        while seqnr in used:
            seqnr = seqnr % _MAX_SEQNR + 1
        self._next_seqnr = seqnr % _MAX_SEQNR + 1
        return seqnr

    def _send_iq(self, readout: _Readout, payload: Req | Cancel, *, cancel: bool) -> None:
        self._iq_count += 1
        iq_id = f"{self._iq_prefix}{self._iq_count}"
        self._iqs[iq_id] = (readout, cancel)
        readout.iq_ids.append(iq_id)
        self._emit(Stanza(kind="iq", type="get", id=iq_id, from_jid=self.jid, to_jid=readout.peer, payload=payload))

    def _forget(self, readout: _Readout) -> None:
        self._readouts.pop((normal_jid(readout.peer), readout.seqnr), None)
        for iq_id in readout.iq_ids:
            self._iqs.pop(iq_id, None)

    def _drop(self, stanza: Stanza, reason: str) -> None:
        self._events.append(ev.StanzaDropped(stanza=stanza, reason=reason))

    def _on_terminate(self, reason: TerminationReason) -> None:
        self._readouts.clear()
        self._iqs.clear()
