"""The sans-IO IEC 104 connection engine (IEC 60870-5-104 clause 5, specs/pattern.md "Engines").

One :class:`IEC104Connection` is one TCP connection, from either end. It frames the
byte stream, checks and keeps the sequence numbers V(S)/V(R)/V(A) (modulo 32768),
applies the k window (queueing ASDUs until an acknowledgement opens it), sends
S-frames after ``w`` received I-frames or when t2 runs out, closes on t1, sends
TESTFR act after t3 idle seconds, answers STARTDT/STOPDT/TESTFR acts, and tracks
activations (ACT -> ACT_CON/refusal -> ACT_TERM) as events.

Peer violations (one rule for every otwire engine, ``specs/iec104/notes.md``): a
frame the peer got wrong (a bad start octet or length octet, an undecodable control
field or ASDU: ``DecodeError``; N(S) or N(R) out of sequence: ``SequenceError``; a
frame the table does not allow in this state or role: ``RemoteProtocolError``) is
raised from ``receive_data``. Before raising, the engine has queued the events and
output of the frames before it in the same call, and has moved to CLOSED through
the table's ``PROTOCOL_ERROR`` row, reporting ``ConnectionTerminated(PROTOCOL_ERROR,
error=exc)``. -104 has no resynchronisation, so a bad start or length octet fails
at once, without waiting for more octets. What is well formed but unknown is not a
violation: an unknown type identification or cause of transmission arrives as
``ASDUReceived`` with a plain ``int`` in ``type_id`` or ``cot``.

>>> from otwire.codecs.iec104 import UFrame, UFunction
>>> conn = IEC104Connection(role=Role.CONTROLLING)
>>> conn.send(UFrame(UFunction.STARTDT_ACT), now=0.0)
>>> conn.data_to_send().hex()
'680407000000'
>>> conn.receive_data(bytes.fromhex("68040b000000"), now=0.01)
>>> conn.next_event()
DataTransferStarted()
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from otwire.codecs.iec104 import (
    ASDU,
    IFrame,
    SFrame,
    UFrame,
    UFunction,
    decode_apdu,
    encode_asdu,
    encode_iframe,
    encode_sframe,
    encode_uframe,
)
from otwire.codecs.iec104.framing import apdu_size, apdu_size_error
from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols import Buffer
from otwire.protocols._base import EngineBase, as_octets
from otwire.protocols.iec104._activation import ActivationTracker
from otwire.protocols.iec104._state import END_INPUTS, LOCAL_INPUTS, RECEIVED_U, SENT_U, TRANSITIONS, Input, State
from otwire.protocols.iec104.config import IEC104Config, Role
from otwire.protocols.iec104.events import (
    DataTransferStarted,
    DataTransferStopped,
    FrameReceived,
    FrameSent,
    TerminationReason,
    TestFrameConfirmed,
    TestFrameReceived,
)

__all__ = ["IEC104Connection", "SequenceError"]

_MOD = 0x7FFF  # sequence numbers are 15 bits: arithmetic modulo 32768 is "& _MOD"


class SequenceError(RemoteProtocolError):
    """The peer broke the numbering rules: N(S) != V(R), or N(R) outside V(A)..V(S) (-104 5.1)."""


class IEC104Connection(EngineBase[State, Input]):
    """One IEC 104 connection (either role) as a sans-IO state machine.

    Args:
        role: ``Role.CONTROLLING`` (client) or ``Role.CONTROLLED`` (outstation).
        config: Parameters k, w, t0..t3 (defaults from the standard).
        now: Monotonic time when the TCP connection came up, seconds; starts the t3
            idle timer. When ``None`` the timer starts at the first input.
        report_frames: Also report every APDU as ``FrameReceived``/``FrameSent``.
        queue_limit: Most ASDUs held back by the k window before ``send`` refuses.
        activation_limit: Most activations tracked at once.

    The contract is that of :class:`otwire.protocols.Connection`; the event queue, the
    output buffer and the table-driven lifecycle come from
    :class:`~otwire.protocols._base.EngineBase` (``connection_lost(now, exc)`` ends with
    ``ConnectionTerminated(CONNECTION_LOST, error=exc)``).
    """

    __slots__ = (
        "_ack",
        "_buffer",
        "_discarded",
        "_last_rx",
        "_on_u",
        "_queue",
        "_queue_limit",
        "_sent_at",
        "_t2_deadline",
        "_test_deadline",
        "_u_deadline",
        "_u_pending",
        "_unacked",
        "_vr",
        "_vs",
        "activations",
        "config",
        "report_frames",
        "role",
    )

    CLOSED = State.CLOSED
    LOCAL_INPUTS = LOCAL_INPUTS
    END_INPUTS = END_INPUTS

    def __init__(
        self,
        role: Role = Role.CONTROLLING,
        config: IEC104Config | None = None,
        *,
        now: float | None = None,
        report_frames: bool = False,
        queue_limit: int = 100_000,
        activation_limit: int = 4096,
    ) -> None:
        self.role = role
        self.config = config if config is not None else IEC104Config()
        self.report_frames = report_frames
        super().__init__(State.STOPPED, TRANSITIONS[role])
        self._vs = self._vr = self._ack = 0
        self._sent_at: deque[float] = deque()  # send time of each unacknowledged own I-frame
        self._queue: deque[bytes] = deque()  # encoded ASDUs held back by the k window
        self._queue_limit = queue_limit
        self._discarded = 0  # ASDUs still held back by k when the connection ended
        self._unacked = 0  # received I-frames not yet acknowledged
        self._t2_deadline: float | None = None
        self._u_pending: UFunction | None = None  # STARTDT/STOPDT act awaiting its con
        self._u_deadline: float | None = None
        self._test_deadline: float | None = None  # our TESTFR act awaiting its con
        self._last_rx = now
        self._buffer = bytearray()
        self.activations = ActivationTracker(activation_limit)
        self._on_u: dict[UFunction, Callable[[float, State], None]] = {
            UFunction.STARTDT_ACT: self._on_startdt_act,
            UFunction.STARTDT_CON: self._on_startdt_con,
            UFunction.STOPDT_ACT: self._on_stopdt_act,
            UFunction.STOPDT_CON: self._on_stopdt_con,
            UFunction.TESTFR_ACT: self._on_testfr_act,
            UFunction.TESTFR_CON: self._on_testfr_con,
        }

    # -- observable state ------------------------------------------------------------

    @property
    def vs(self) -> int:
        """V(S): N(S) of the next own I-frame."""
        return self._vs

    @property
    def vr(self) -> int:
        """V(R): N(S) expected in the next received I-frame."""
        return self._vr

    @property
    def ack(self) -> int:
        """V(A): N(S) of the oldest own I-frame not yet acknowledged."""
        return self._ack

    @property
    def unacknowledged(self) -> int:
        """Own I-frames sent and not acknowledged, 0..k."""
        return (self._vs - self._ack) & _MOD

    @property
    def queued(self) -> int:
        """ASDUs accepted by ``send`` but held back by the k window."""
        return len(self._queue)

    @property
    def buffered(self) -> int:
        """Octets received and not yet framed: the start of an APDU still arriving (at most 254)."""
        return len(self._buffer)

    @property
    def discarded(self) -> int:
        """ASDUs accepted by ``send``, never sent: held back by k when the connection ended (0 while open)."""
        return self._discarded

    # -- inputs ------------------------------------------------------------------------

    def receive_data(self, data: Buffer, now: float) -> None:
        """Feed octets from the peer; ``b""`` is end of stream (``PEER_CLOSED``).

        Complete APDUs are handled in order; a partial one waits for more octets. On a
        peer violation the engine is CLOSED (``PROTOCOL_ERROR``) before the error is
        raised, with what came before it in ``data`` already queued (module docstring).

        Args:
            data: Octets as received, cut anywhere.
            now: Monotonic time, seconds.

        Raises:
            DecodeError: malformed APDU (bad start octet or length octet, raised as soon
                as that octet arrives; bad control field or ASDU).
            SequenceError: N(S) or N(R) out of sequence.
            RemoteProtocolError: a frame not allowed in this state or role.
            InvalidArgumentType: ``data`` is not a bytes-like object (nothing changes).
            LocalProtocolError: the connection is already closed.
        """
        if type(data) is not bytes:
            data = as_octets(data)
        self._check_open("receive data")
        if not data:
            self._terminate(TerminationReason.PEER_CLOSED, None)
            return
        self._last_rx = now
        buf = self._buffer
        buf += data
        pos, end = 0, len(buf)
        try:
            while pos < end:
                size = apdu_size(buf, pos, end)
                if size <= 0:
                    if size:  # no resynchronisation in -104: the stream is broken
                        raise apdu_size_error(buf, pos, size)
                    break
                stop = pos + size
                frame = bytes(buf[pos:stop])
                pos = stop
                self._on_frame(frame, now)
        except RemoteProtocolError as exc:
            self._fail(exc)
            raise
        finally:
            del buf[:pos]

    def send(self, message: ASDU | UFrame, now: float) -> None:
        """Send an ASDU in an I-frame, or a STARTDT/STOPDT/TESTFR act.

        ASDUs beyond the k window are queued and go out as acknowledgements arrive.
        Activations (COT 6/8, and reads) are tracked and answered by events.

        Raises:
            EncodeError: the ASDU cannot be encoded (nothing is queued).
            LocalProtocolError: not allowed in this state or role (e.g. an ASDU before
                data transfer started, a U con, an S- or I-frame, a second act while one
                is pending, a full queue) or the connection is closed.
        """
        self._check_open("send")
        if self._last_rx is None:
            self._last_rx = now
        if isinstance(message, ASDU):
            self._send_asdu(message, now)
        elif isinstance(message, UFrame) and message.function in SENT_U:
            self._send_act(message.function, now)
        elif isinstance(message, UFrame):
            raise LocalProtocolError(f"{message.function.name} is sent by the connection itself")
        elif isinstance(message, IFrame | SFrame):
            raise LocalProtocolError("send an ASDU; I- and S-frames are numbered by the connection")
        else:
            raise LocalProtocolError(f"cannot send {type(message).__name__}; expected ASDU or UFrame")

    def start_data_transfer(self, now: float) -> None:
        """Send STARTDT act (controlling station). Same as ``send(UFrame(STARTDT_ACT), now)``."""
        self.send(UFrame(UFunction.STARTDT_ACT), now)

    def stop_data_transfer(self, now: float) -> None:
        """Send STOPDT act (controlling station). Same as ``send(UFrame(STOPDT_ACT), now)``."""
        self.send(UFrame(UFunction.STOPDT_ACT), now)

    def close(self, now: float) -> None:
        """Close locally: acknowledge what was received, then end (``LOCAL_CLOSE``).

        Closing a closed connection does nothing.
        """
        if self._state is State.CLOSED:
            return
        if self._unacked:
            self._send_s()
        self._terminate(TerminationReason.LOCAL_CLOSE, None)

    def handle_timer(self, now: float) -> None:
        """Run the timers due at ``now``: t1 closes, t2 sends an S-frame, t3 sends TESTFR act.

        Raises:
            LocalProtocolError: the connection is already closed.
        """
        self._check_open("handle timer")
        t1 = self.config.t1
        for deadline in (self._u_deadline, self._test_deadline, self._sent_at[0] + t1 if self._sent_at else None):
            if deadline is not None and deadline <= now:
                self._terminate(TerminationReason.T1_TIMEOUT, None)
                return
        if self._t2_deadline is not None and self._t2_deadline <= now:
            self._send_s()
        if self._last_rx is None:
            self._last_rx = now
        elif self._test_deadline is None and self._last_rx + self.config.t3 <= now:
            self._send_act(UFunction.TESTFR_ACT, now)

    def cancel_activation(self, request: ASDU) -> bool:
        """Stop tracking an activation sent earlier (e.g. after a client timeout).

        Returns:
            True if ``request`` was pending.
        """
        return self.activations.cancel(request)

    # -- outputs -----------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """Return the earliest timer deadline (t1, t2 or t3), or ``None`` when closed."""
        if self._state is State.CLOSED:
            return None
        earliest = self._t2_deadline
        for deadline in (
            self._u_deadline,
            self._test_deadline,
            self._sent_at[0] + self.config.t1 if self._sent_at else None,
            self._last_rx + self.config.t3 if self._test_deadline is None and self._last_rx is not None else None,
        ):
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    # -- lifecycle hooks (EngineBase) ----------------------------------------------------

    def _describe(self) -> str:
        return f"{self.role.value} station"

    def _on_terminate(self, reason: TerminationReason) -> None:
        self._buffer.clear()
        self._discarded = len(self._queue)
        self._queue.clear()
        self._sent_at.clear()
        self._t2_deadline = self._u_deadline = self._test_deadline = None

    # -- received frames ---------------------------------------------------------------

    def _on_frame(self, frame: bytes, now: float) -> None:
        apdu = decode_apdu(frame)
        if self.report_frames:
            self._events.append(FrameReceived(data=frame))
        if type(apdu) is IFrame:
            self._move(Input.RECV_I)
            if apdu.ns != self._vr:
                raise SequenceError(f"N(S)={apdu.ns} but V(R)={self._vr}: I-frame lost or repeated")
            self._acknowledge(apdu.nr, now)
            self._vr = (self._vr + 1) & _MOD
            self._unacked += 1
            if self._unacked >= self.config.w:
                self._send_s()
            elif self._t2_deadline is None:
                self._t2_deadline = now + self.config.t2
            self._events.append(self.activations.match(apdu.asdu))
        elif type(apdu) is SFrame:
            self._move(Input.RECV_S)
            self._acknowledge(apdu.nr, now)
        else:
            assert isinstance(apdu, UFrame)
            previous = self._state
            self._move(RECEIVED_U[apdu.function])
            self._on_u[apdu.function](now, previous)

    def _acknowledge(self, nr: int, now: float) -> None:
        count = (nr - self._ack) & _MOD
        if not count:
            return
        if count > ((self._vs - self._ack) & _MOD):
            raise SequenceError(f"N(R)={nr} acknowledges unsent I-frames (V(A)={self._ack}, V(S)={self._vs})")
        sent_at = self._sent_at
        for _ in range(count):
            sent_at.popleft()
        self._ack = nr
        if self._queue and self._state is State.STARTED:
            self._flush_queue(now)
        if self._state is State.STOPPING and self.role is Role.CONTROLLED and not self._sent_at:
            self._confirm_stop()

    def _on_startdt_act(self, now: float, previous: State) -> None:
        self._emit_u(UFunction.STARTDT_CON)
        if previous is not State.STARTED:
            self._events.append(DataTransferStarted())
        if self._queue:
            self._flush_queue(now)

    def _on_startdt_con(self, now: float, previous: State) -> None:
        self._u_pending = self._u_deadline = None
        self._events.append(DataTransferStarted())
        if self._queue:
            self._flush_queue(now)

    def _on_stopdt_act(self, now: float, previous: State) -> None:
        if self._state is State.STOPPED:
            self._emit_u(UFunction.STOPDT_CON)
        elif not self._sent_at:
            self._confirm_stop()
        # else: STOPPING until the peer acknowledges every own I-frame (-104 5.3).

    def _confirm_stop(self) -> None:
        self._move(Input.ALL_ACKNOWLEDGED)
        self._emit_u(UFunction.STOPDT_CON)
        self._events.append(DataTransferStopped())

    def _on_stopdt_con(self, now: float, previous: State) -> None:
        self._u_pending = self._u_deadline = None
        self._events.append(DataTransferStopped())

    def _on_testfr_act(self, now: float, previous: State) -> None:
        self._emit_u(UFunction.TESTFR_CON)
        self._events.append(TestFrameReceived())

    def _on_testfr_con(self, now: float, previous: State) -> None:
        if self._test_deadline is None:
            raise RemoteProtocolError("TESTFR con without a TESTFR act")
        self._test_deadline = None
        self._events.append(TestFrameConfirmed())

    # -- sending -----------------------------------------------------------------------

    def _send_asdu(self, asdu: ASDU, now: float) -> None:
        self._move(Input.SEND_I)
        body = encode_asdu(asdu)
        tracked = ActivationTracker.tracks(asdu)
        if self._queue or ((self._vs - self._ack) & _MOD) >= self.config.k:
            if len(self._queue) >= self._queue_limit:
                raise LocalProtocolError(f"send queue full ({self._queue_limit} ASDUs held back by k)")
            self._queue.append(body)
        else:
            self._emit_i(body, now)
        if tracked:
            self.activations.register(asdu)

    def _flush_queue(self, now: float) -> None:
        queue, k = self._queue, self.config.k
        while queue and ((self._vs - self._ack) & _MOD) < k:
            self._emit_i(queue.popleft(), now)

    def _emit_i(self, body: bytes, now: float) -> None:
        vs = self._vs
        frame = encode_iframe(vs, self._vr, body)
        self._out += frame
        self._vs = (vs + 1) & _MOD
        self._sent_at.append(now)
        self._unacked = 0
        self._t2_deadline = None
        if self.report_frames:
            self._events.append(FrameSent(data=frame))

    def _send_s(self) -> None:
        frame = encode_sframe(self._vr)
        self._out += frame
        self._unacked = 0
        self._t2_deadline = None
        if self.report_frames:
            self._events.append(FrameSent(data=frame))

    def _send_act(self, function: UFunction, now: float) -> None:
        if function is UFunction.TESTFR_ACT:
            if self._test_deadline is not None:
                raise LocalProtocolError("a TESTFR act is already waiting for its con")
            self._move(Input.SEND_TESTFR_ACT)
            self._test_deadline = now + self.config.t1
        else:
            if self.role is not Role.CONTROLLING:
                raise LocalProtocolError(f"only the controlling station sends {function.name}")
            if self._u_pending is not None:
                raise LocalProtocolError(f"{self._u_pending.name} is still waiting for its con")
            self._move(SENT_U[function])
            if function is UFunction.STOPDT_ACT and self._unacked:
                self._send_s()  # acknowledge what we have before stopping (-104 5.3)
            self._u_pending, self._u_deadline = function, now + self.config.t1
        self._emit_u(function)

    def _emit_u(self, function: UFunction) -> None:
        frame = encode_uframe(function)
        self._out += frame
        if self.report_frames:
            self._events.append(FrameSent(data=frame))

    def __repr__(self) -> str:
        return (
            f"<IEC104Connection {self.role.value} {self._state.name} V(S)={self._vs} V(R)={self._vr} "
            f"V(A)={self._ack} queued={len(self._queue)}>"
        )
