"""Requester scenarios on a fake clock (research §1.6 and §5; XEP-0323 examples).

The device is played by hand-written stanzas, as a v0.6 device, a v0.2 (slixmpp) device,
or a third account forging stanzas.
"""

from __future__ import annotations

import datetime as dt
import doctest
from decimal import Decimal

import pytest

from otwire.codecs.xep0323 import (
    Accepted,
    Cancel,
    Cancelled,
    Done,
    Error,
    Failure,
    Fields,
    FieldType,
    Node,
    Numeric,
    Rejected,
    Req,
    StanzaError,
    Started,
    String,
    Timestamp,
)
from otwire.errors import InvalidArgumentType, InvalidState, LocalProtocolError
from otwire.protocols import xep0323 as machines
from otwire.protocols.xep0323 import (
    FailureReceived,
    FieldsReceived,
    ReadoutAccepted,
    ReadoutCancelled,
    ReadoutCompleted,
    ReadoutRejected,
    ReadoutStarted,
    ReadoutTimedOut,
    Requester,
    RequesterConfig,
    Stanza,
    StanzaDropped,
)

CLIENT = "client@example.org/amr"
DEVICE = "device@example.org/d"
MALLORY = "mallory@example.org/x"
STAMP = dt.datetime(2013, 3, 7, 16, 24, 30)


def temperature(name: str = "Temperature", types: FieldType = FieldType.momentary) -> Numeric:
    return Numeric(name=name, value=Decimal("23.4"), unit="°C", types=types)


def node(*fields: Numeric | String, node_id: str = "Device01") -> Node:
    return Node(node_id=node_id, timestamps=(Timestamp(value=STAMP, fields=fields),))


class Device:
    """Hand-written device stanzas to one requester."""

    def __init__(self, requester: Requester, jid: str = DEVICE) -> None:
        self.requester, self.jid = requester, jid

    def answer(
        self, request: Stanza, payload: object = None, *, error: StanzaError | None = None, now: float = 0.1
    ) -> None:
        kind = "error" if error or isinstance(payload, Rejected) else "result"
        self.requester.receive_message(
            Stanza(kind="iq", type=kind, id=request.id, from_jid=self.jid, to_jid=CLIENT, payload=payload, error=error),  # type: ignore[arg-type]
            now,
        )

    def send(self, payload: object, now: float = 0.2) -> None:
        self.requester.receive_message(
            Stanza(kind="message", type="normal", from_jid=self.jid, to_jid=CLIENT, payload=payload),  # type: ignore[arg-type]
            now,
        )


def events(requester: Requester) -> list[object]:
    out = []
    while (event := requester.next_event()) is not None:
        out.append(event)
    return out


def start(config: RequesterConfig | None = None, **request: object) -> tuple[Requester, Device, Stanza, int]:
    requester = Requester(CLIENT, config or RequesterConfig(first_seqnr=1))
    seqnr = requester.request(DEVICE, 0.0, **request)  # type: ignore[arg-type]
    (stanza,) = requester.messages_to_send()
    return requester, Device(requester), stanza, seqnr


def test_momentary_readout() -> None:
    requester, device, req, seqnr = start(flags=FieldType.momentary)
    assert (req.kind, req.type, req.from_jid, req.to_jid) == ("iq", "get", CLIENT, DEVICE)
    assert req.payload == Req(seqnr=seqnr, types=FieldType.momentary)
    device.answer(req, Accepted(seqnr=seqnr))
    device.send(Fields(seqnr=seqnr, done=True, nodes=(node(temperature()),)))
    assert events(requester) == [
        ReadoutAccepted(peer=DEVICE, seqnr=seqnr),
        FieldsReceived(peer=DEVICE, seqnr=seqnr, nodes=(node(temperature()),), done=True),
        ReadoutCompleted(peer=DEVICE, seqnr=seqnr),
    ]
    assert requester.readout_state(DEVICE, seqnr) is None and requester.get_timer() is None


def test_implicit_acceptance_then_late_accepted() -> None:
    requester, device, req, seqnr = start()
    device.send(Fields(seqnr=seqnr, nodes=(node(temperature()),)))
    device.answer(req, Accepted(seqnr=seqnr))
    device.send(Done(seqnr=seqnr))
    kinds = [type(e) for e in events(requester)]
    assert kinds == [ReadoutAccepted, FieldsReceived, ReadoutCompleted]


def test_empty_iq_result_is_acceptance() -> None:
    requester, device, req, seqnr = start()
    device.answer(req)
    assert events(requester) == [ReadoutAccepted(peer=DEVICE, seqnr=seqnr, implicit=True)]


def test_data_inside_the_iq_result() -> None:
    requester, device, req, seqnr = start()
    device.answer(req, Fields(seqnr=seqnr, done=True, nodes=(node(temperature()),)))
    assert [type(e) for e in events(requester)] == [ReadoutAccepted, FieldsReceived, ReadoutCompleted]


def test_failure_without_done_is_not_terminal() -> None:
    requester, device, req, seqnr = start(node_ids=["Device02", "Device01"])
    assert req.payload == Req(seqnr=seqnr, nodes=(Node(node_id="Device02"), Node(node_id="Device01")))
    device.answer(req, Accepted(seqnr=seqnr))
    failure = Failure(
        seqnr=seqnr, errors=(Error(node_id="Device02", timestamp="2026-11-21T22:58:54", message="Reject"),)
    )
    device.send(failure)
    device.send(Fields(seqnr=seqnr, done=True, nodes=(node(temperature()),)))
    got = events(requester)
    assert got[1] == FailureReceived(peer=DEVICE, seqnr=seqnr, errors=failure.errors)
    assert got[-1] == ReadoutCompleted(peer=DEVICE, seqnr=seqnr)


def test_failure_done_completes_as_failed() -> None:
    requester, device, req, seqnr = start()
    device.answer(req, Accepted(seqnr=seqnr))
    device.send(Failure(seqnr=seqnr, done=True, errors=(Error(node_id="Device01", timestamp="t", message="Timeout."),)))
    assert events(requester)[-1] == ReadoutCompleted(peer=DEVICE, seqnr=seqnr, failed=True)


@pytest.mark.parametrize(
    ("payload", "error", "reasons"),
    [
        (None, StanzaError(type="cancel", condition="forbidden", text="Access denied."), ()),
        (Rejected(seqnr=1, errors=("Invalid nodeId NoSuchNode",)), None, ("Invalid nodeId NoSuchNode",)),
        (Rejected(seqnr=1, errors=("x",)), StanzaError(type="cancel", condition="item-not-found"), ("x",)),
    ],
    ids=["rfc6120", "v0.2", "hybrid"],
)
def test_rejections(payload: Rejected | None, error: StanzaError | None, reasons: tuple[str, ...]) -> None:
    requester, device, req, seqnr = start()
    device.answer(req, payload, error=error)
    assert events(requester) == [ReadoutRejected(peer=DEVICE, seqnr=seqnr, error=error, reasons=reasons)]
    assert requester.readout_state(DEVICE, seqnr) is None


def test_scheduled_readout_queued_started_and_separate_done() -> None:
    when = dt.datetime(2013, 3, 7, 19, 0)
    requester, device, req, seqnr = start(all_types=True, when=when)
    assert req.payload == Req(seqnr=seqnr, all_types=True, when=when)
    device.answer(req, Accepted(seqnr=seqnr, queued=True))
    assert requester.readout_state(DEVICE, seqnr) is machines.ReadoutState.QUEUED
    device.send(Started(seqnr=seqnr))
    device.send(Fields(seqnr=seqnr, nodes=(node(temperature()),)))
    device.send(Done(seqnr=seqnr))
    assert [type(e) for e in events(requester)] == [
        ReadoutAccepted,
        ReadoutStarted,
        FieldsReceived,
        ReadoutCompleted,
    ]


def test_cancel_answered_by_cancelled_with_its_own_iq_id() -> None:
    requester, device, req, seqnr = start(when=dt.datetime(2013, 3, 9, 23, 30))
    device.answer(req, Accepted(seqnr=seqnr, queued=True))
    requester.cancel(DEVICE, seqnr, 1.0)
    (cancel,) = requester.messages_to_send()
    assert cancel.id != req.id and cancel.payload == Cancel(seqnr=seqnr) and cancel.to_jid == DEVICE
    with pytest.raises(LocalProtocolError, match="can't cancel"):
        requester.cancel(DEVICE, seqnr, 1.0)
    device.answer(cancel, Cancelled(seqnr=seqnr))
    assert events(requester)[-1] == ReadoutCancelled(peer=DEVICE, seqnr=seqnr)
    with pytest.raises(InvalidState, match="no readout"):
        requester.cancel(DEVICE, seqnr, 2.0)


def test_cancel_answered_by_an_iq_error() -> None:
    requester, device, req, seqnr = start()
    device.answer(req, Accepted(seqnr=seqnr))
    requester.cancel(DEVICE, seqnr, 1.0)
    (cancel,) = requester.messages_to_send()
    error = StanzaError(type="cancel", condition="item-not-found", text="no such readout")
    device.answer(cancel, error=error)
    assert events(requester)[-1] == ReadoutCancelled(peer=DEVICE, seqnr=seqnr, refused=True, error=error)


def test_cancel_refused_by_a_v02_device() -> None:
    requester, device, req, seqnr = start()
    device.answer(req, Accepted(seqnr=seqnr))
    requester.cancel(DEVICE, seqnr, 1.0)
    (cancel,) = requester.messages_to_send()
    text = "Cancel request received, no matching request is active."
    device.answer(cancel, Rejected(seqnr=seqnr, errors=(text,)))
    assert events(requester)[-1] == ReadoutCancelled(peer=DEVICE, seqnr=seqnr, refused=True, reasons=(text,))


def test_device_finishes_despite_cancel() -> None:
    requester, device, req, seqnr = start()
    device.answer(req, Accepted(seqnr=seqnr))
    requester.cancel(DEVICE, seqnr, 1.0)
    (cancel,) = requester.messages_to_send()
    device.send(Fields(seqnr=seqnr, done=True, nodes=(node(temperature()),)))
    assert events(requester)[-1] == ReadoutCompleted(peer=DEVICE, seqnr=seqnr)
    device.answer(cancel, Cancelled(seqnr=seqnr))  # late: the readout is over
    assert [type(e) for e in events(requester)] == [StanzaDropped]


def test_overall_timeout() -> None:
    requester, device, req, seqnr = start(RequesterConfig(first_seqnr=1, readout_timeout=10.0))
    device.answer(req, Accepted(seqnr=seqnr))
    assert requester.get_timer() == 10.0
    requester.handle_timer(9.9)
    assert requester.readout_state(DEVICE, seqnr) is machines.ReadoutState.ACCEPTED
    requester.handle_timer(10.0)
    assert events(requester)[-1] == ReadoutTimedOut(peer=DEVICE, seqnr=seqnr)
    assert requester.get_timer() is None
    device.send(Fields(seqnr=seqnr, done=True))  # the device wakes up too late
    assert [type(e) for e in events(requester)] == [StanzaDropped]


def test_per_request_timeout() -> None:
    requester, _, _, _ = start(timeout=2.5)
    assert requester.get_timer() == 2.5


def test_forged_fields_from_another_jid_are_dropped() -> None:
    requester, device, req, seqnr = start()
    device.answer(req, Accepted(seqnr=seqnr))
    events(requester)
    mallory = Device(requester, MALLORY)
    mallory.send(Fields(seqnr=seqnr, done=True, nodes=(node(temperature()),)))
    mallory.answer(req, Accepted(seqnr=seqnr))
    dropped = events(requester)
    assert [type(e) for e in dropped] == [StanzaDropped, StanzaDropped]
    assert "does not own readout" in dropped[0].reason  # type: ignore[attr-defined]
    assert requester.readout_state(DEVICE, seqnr) is machines.ReadoutState.ACCEPTED
    device.send(Fields(seqnr=seqnr, done=True, nodes=(node(temperature()),)))
    assert [type(e) for e in events(requester)] == [FieldsReceived, ReadoutCompleted]


def test_forged_answer_to_the_request_iq_is_dropped_and_the_real_one_still_counts() -> None:
    requester, device, req, seqnr = start()
    Device(requester, MALLORY).answer(req, error=StanzaError(type="cancel", condition="forbidden"))
    assert [type(e) for e in events(requester)] == [StanzaDropped]
    device.answer(req, Accepted(seqnr=seqnr))
    assert events(requester) == [ReadoutAccepted(peer=DEVICE, seqnr=seqnr)]


def test_a_bare_jid_readout_accepts_any_resource_of_that_account_only() -> None:
    requester = Requester(CLIENT, RequesterConfig(first_seqnr=1))
    seqnr = requester.request("Device@Example.org", 0.0)
    requester.messages_to_send()
    Device(requester, "device@example.org/other").send(Fields(seqnr=seqnr, done=True))
    assert [type(e) for e in events(requester)] == [ReadoutAccepted, FieldsReceived, ReadoutCompleted]
    seqnr = requester.request("device@example.org/d", 0.0)
    Device(requester, "device@example.org/other").send(Fields(seqnr=seqnr, done=True))
    assert [type(e) for e in events(requester)] == [StanzaDropped]


def test_second_answer_to_an_answered_iq_is_dropped() -> None:
    # slixmpp's historical crash (research B1): accepted, then an IQ error with the same id
    requester, device, req, seqnr = start()
    device.answer(req, Accepted(seqnr=seqnr))
    device.answer(
        req, error=StanzaError(type="cancel", condition="undefined-condition", text="Slixmpp got into trouble.")
    )
    assert [type(e) for e in events(requester)] == [ReadoutAccepted, StanzaDropped]
    assert requester.readout_state(DEVICE, seqnr) is machines.ReadoutState.ACCEPTED


def test_iq_ids_are_independent_of_seqnr_and_seqnr_is_never_reused_while_outstanding() -> None:
    requester = Requester(CLIENT, RequesterConfig(first_seqnr=2**31 - 2))
    seqnrs, ids = [], []
    for _ in range(3):
        seqnrs.append(requester.request(DEVICE, 0.0))
        ids.append(requester.messages_to_send()[0].id)
    assert seqnrs == [2**31 - 2, 2**31 - 1, 1]
    assert all(i is not None and i != str(s) for i, s in zip(ids, seqnrs, strict=True))
    assert len(set(ids)) == 3
    # wrap around onto outstanding seqnrs: they are skipped
    small = Requester(CLIENT, RequesterConfig(first_seqnr=5))
    first = small.request(DEVICE, 0.0)
    small._next_seqnr = first  # force the counter back onto an outstanding seqnr
    assert small.request("other@example.org/d", 0.0) == first + 1


def test_random_first_seqnr() -> None:
    starts = {Requester().request(DEVICE, 0.0) for _ in range(8)}
    assert len(starts) > 1 and all(1 <= s <= 2**31 - 1 for s in starts)


def test_fields_are_filtered_to_the_request() -> None:
    requester, device, _, seqnr = start(fields=["Temperature"], flags=FieldType.momentary)
    wanted = temperature()
    device.send(
        Fields(
            seqnr=seqnr,
            done=True,
            nodes=(node(wanted, temperature("Humidity"), temperature(types=FieldType.historicalDay)),),
        )
    )
    received = [e for e in events(requester) if isinstance(e, FieldsReceived)]
    assert received[0].nodes == (node(wanted),)
    unfiltered, device2, _, seqnr2 = start(RequesterConfig(first_seqnr=1, filter_fields=False), fields=["Temperature"])
    device2.send(Fields(seqnr=seqnr2, nodes=(node(temperature("Humidity")),)))
    assert next(e for e in events(unfiltered) if isinstance(e, FieldsReceived)).nodes == (
        node(temperature("Humidity")),
    )


def test_limits_and_bad_arguments() -> None:
    requester = Requester(CLIENT, RequesterConfig(first_seqnr=1, max_readouts=2))
    requester.request(DEVICE, 0.0)
    requester.request(DEVICE, 0.0)
    with pytest.raises(InvalidState, match="max_readouts"):
        requester.request(DEVICE, 0.0)
    with pytest.raises(InvalidArgumentType):
        requester.request("", 0.0)
    with pytest.raises(InvalidArgumentType):
        requester.receive_message(b"<iq/>", 0.0)  # type: ignore[arg-type]


def test_stanzas_that_are_not_for_a_requester_are_dropped() -> None:
    requester, device, req, seqnr = start()
    for stanza in (
        Stanza(kind="iq", type="get", id="x", from_jid=DEVICE, payload=Req(seqnr=1)),
        Stanza(kind="message", type="error", from_jid=DEVICE, error=StanzaError()),
        Stanza(kind="message", type="chat", from_jid=DEVICE),
        Stanza(kind="iq", type="result", id="unknown", from_jid=DEVICE),
    ):
        requester.receive_message(stanza, 0.0)
    device.answer(req, Cancelled(seqnr=seqnr))  # a cancelled to a req IQ answers nothing
    assert [type(e) for e in events(requester)] == [StanzaDropped] * 5


def test_close_forgets_every_readout() -> None:
    requester, *_ = start()
    requester.close(1.0)
    assert requester.get_timer() is None
    assert isinstance(events(requester)[-1], machines.ConnectionTerminated)


def test_docstring_examples() -> None:
    from otwire.protocols.xep0323 import config, requester

    for module in (requester, config):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0


def _drain(engine: Requester) -> list[object]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def test_stream_closed_and_peer_unavailable_end_readouts_at_once() -> None:
    from otwire.protocols.xep0323 import ReadoutAborted

    requester = Requester(CLIENT, RequesterConfig(first_seqnr=1, readout_timeout=60.0))
    a = requester.request(DEVICE, 0.0)
    b = requester.request("device@example.org/other", 0.0)
    c = requester.request("device@example.org", 0.0)
    d = requester.request("meter@example.org/m", 0.0)
    requester.messages_to_send()
    requester.peer_unavailable("Device@Example.org/d", 1.0)  # one full JID: only its readout
    assert _drain(requester) == [ReadoutAborted(peer=DEVICE, seqnr=a, reason="peer unavailable")]
    requester.peer_unavailable("device@example.org", 1.0)  # the bare JID: every resource and the bare peer
    assert {(e.peer, e.seqnr) for e in _drain(requester)} == {  # type: ignore[attr-defined]
        ("device@example.org/other", b),
        ("device@example.org", c),
    }
    assert requester.readout_state("meter@example.org/m", d) is not None
    requester.stream_closed(2.0)
    assert _drain(requester) == [ReadoutAborted(peer="meter@example.org/m", seqnr=d, reason="stream closed")]
    assert requester.get_timer() is None and not requester.is_closed
    late = Stanza(kind="message", type="normal", from_jid="meter@example.org/m", to_jid=CLIENT, payload=Done(seqnr=d))
    requester.receive_message(late, 3.0)
    assert [type(e) for e in _drain(requester)] == [StanzaDropped]
    requester.close(4.0)
    requester.stream_closed(5.0)  # closed: nothing
    assert [type(e).__name__ for e in _drain(requester)] == ["ConnectionTerminated"]
