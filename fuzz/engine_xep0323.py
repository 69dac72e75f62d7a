"""Fuzz harness for the XEP-0323 machines: arbitrary stanzas into a Requester and a Sensor.

``fuzz_xep0323(steps)`` runs one requester with live readouts and one sensor with
registered nodes and live readouts, and applies each step: a stanza (to both engines),
raw XML octets (decoded with ``decode_bytes``, then wrapped in a stanza), a clock
advance with ``handle_timer``, a device report (``fields_ready``/``node_failed``), or a
peer going offline / the stream closing (``peer_unavailable``/``stream_closed``).
Only ``ProtocolError`` may escape (``DecodeError`` from the codec on raw octets); the
engines must never raise on a peer's stanza. After every step, everything the engines
queued must encode in both dialects, and the engines' timers must not lie in the past.
Runs under hypothesis (``fuzz/test_fuzz_xep0323.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otwire.codecs.xep0323 import DIALECTS, Timestamp, decode_bytes, encode
from otwire.errors import DecodeError
from otwire.protocols.xep0323 import Requester, RequesterConfig, Sensor, SensorConfig, Stanza

CLIENT = "client@example.org/amr"
DEVICE = "device@example.org/d"
JIDS = (CLIENT, DEVICE, "device@example.org", "device@example.org/other", "mallory@example.org/x", "")


@dataclass(frozen=True)
class Advance:
    """Move the clock forward by ``seconds`` and run the timers."""

    seconds: float


@dataclass(frozen=True)
class Report:
    """The device reports on readout ``seqnr`` of ``peer`` for ``node_id`` (values, or a failure)."""

    peer: str
    seqnr: int
    node_id: str
    timestamps: tuple[Timestamp, ...] = ()
    failed: bool = False
    done: bool = True


@dataclass(frozen=True)
class Gone:
    """``jid`` went offline (``peer_unavailable`` on both engines), or the stream closed (``jid=""``)."""

    jid: str


@dataclass(frozen=True)
class Raw:
    """XML octets from the network, with the stanza attributes a carrier would give them."""

    data: bytes
    kind: str
    type: str
    id: str | None
    from_jid: str


class Rig:
    """One requester and one sensor with live readouts, and the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.requester = Requester(CLIENT, RequesterConfig(first_seqnr=1, readout_timeout=30.0, max_readouts=8))
        self.sensor = Sensor(DEVICE, SensorConfig(comm_timeout=5.0, max_readouts=8, max_fields_per_message=3),
                             wall_offset=1_700_000_000.0)  # fmt: skip
        self.sensor.register_node("Device01")
        self.sensor.register_node("Device02", comm_timeout=2.0)
        self.iq_ids: list[str] = []
        for target in (DEVICE, "device@example.org"):
            self.requester.request(target, 0.0, node_ids=["Device01"])
        self.requester.cancel(DEVICE, 1, 0.0)
        self._drain()

    def step(self, step: Any) -> None:
        if isinstance(step, Advance):
            self.now += step.seconds
            self.requester.handle_timer(self.now)
            self.sensor.handle_timer(self.now)
        elif isinstance(step, Report):
            self._report(step)
        elif isinstance(step, Raw):
            self._raw(step)
        elif isinstance(step, Gone):
            for engine in (self.requester, self.sensor):
                if step.jid:
                    engine.peer_unavailable(step.jid, self.now)
                else:
                    engine.stream_closed(self.now)
        else:
            self._stanza(step)
        self._drain()
        for timer in (self.requester.get_timer(), self.sensor.get_timer()):
            assert timer is None or timer > self.now or step.__class__ is not Advance, "a due timer was not run"

    def _stanza(self, stanza: Stanza) -> None:
        if stanza.id == "@req" and self.iq_ids:  # aim at a live IQ id of the requester
            stanza = Stanza(kind=stanza.kind, type=stanza.type, id=self.iq_ids[0], from_jid=stanza.from_jid,
                            to_jid=stanza.to_jid, payload=stanza.payload, error=stanza.error)  # fmt: skip
        self.requester.receive_message(stanza, self.now)
        self.sensor.receive_message(stanza, self.now)

    def _raw(self, raw: Raw) -> None:
        try:
            payload = decode_bytes(raw.data)
        except DecodeError:
            return
        kind = "iq" if raw.kind == "iq" else "message"
        self._stanza(Stanza(kind=kind, type=raw.type, id=raw.id, from_jid=raw.from_jid, payload=payload))

    def _report(self, report: Report) -> None:
        if report.failed:
            self.sensor.node_failed(report.peer, report.seqnr, report.node_id, "broken", self.now)
        else:
            self.sensor.fields_ready(report.peer, report.seqnr, report.node_id, report.timestamps, self.now,
                                     done=report.done)  # fmt: skip

    def _drain(self) -> None:
        for engine in (self.requester, self.sensor):
            for stanza in engine.messages_to_send():
                if stanza.kind == "iq" and stanza.type == "get" and stanza.id:
                    self.iq_ids.append(stanza.id)
                if stanza.payload is not None:
                    for dialect in DIALECTS:
                        encode(stanza.payload, dialect)  # type: ignore[arg-type]
            while engine.next_event() is not None:
                pass


def fuzz_xep0323(steps: list[Any]) -> None:
    """Apply ``steps`` to a fresh :class:`Rig`.

    Raises:
        AssertionError: an engine output cannot be encoded, or a due timer was not run.
        Exception: anything an engine raised on a peer's stanza (a bug).
    """
    rig = Rig()
    for step in steps:
        rig.step(step)
