"""Hypothesis runs of the XEP-0323 machine harness (``make fuzz``: the ``fuzz`` profile)."""

from __future__ import annotations

from engine_xep0323 import DEVICE, JIDS, Advance, Gone, Raw, Report, Rig, fuzz_xep0323
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.xep0323 import Done, StanzaError, Timestamp, encode_bytes
from otwire.protocols.xep0323 import ReadoutCompleted, Stanza
from strategies.xep0323 import messages, values

SEQNRS = st.sampled_from([1, 2, 3, 4]) | st.integers(-(2**31), 2**31 - 1)
ERRORS = st.none() | st.builds(
    StanzaError, type=st.sampled_from(["cancel", "wait"]), condition=st.sampled_from(["forbidden", "item-not-found"])
)
STANZAS = st.builds(
    Stanza,
    kind=st.sampled_from(["iq", "message"]),
    type=st.sampled_from(["get", "set", "result", "error", "normal", "chat"]),
    id=st.none() | st.sampled_from(["@req", "x", "sd-1"]),
    from_jid=st.sampled_from(JIDS),
    to_jid=st.sampled_from(JIDS),
    payload=st.none() | messages(),
    error=ERRORS,
)
STAMPS = st.builds(Timestamp, value=st.datetimes(), fields=st.lists(values(), max_size=5).map(tuple))
REPORTS = st.builds(
    Report,
    peer=st.sampled_from(JIDS),
    seqnr=SEQNRS,
    node_id=st.sampled_from(["Device01", "Device02", "Nope"]),
    timestamps=st.lists(STAMPS, max_size=3).map(tuple),
    failed=st.booleans(),
    done=st.booleans(),
)
OCTETS = st.one_of(
    messages().map(encode_bytes),
    messages().map(encode_bytes).map(lambda b: b[: len(b) // 2]),
    st.binary(max_size=200),
)
RAW = st.builds(
    Raw,
    data=OCTETS,
    kind=st.sampled_from(["iq", "message"]),
    type=st.sampled_from(["get", "result", "error", "normal"]),
    id=st.none() | st.just("x"),
    from_jid=st.sampled_from(JIDS),
)
GONE = st.builds(Gone, st.sampled_from(JIDS))
STEPS = st.lists(st.one_of(STANZAS, REPORTS, RAW, GONE, st.builds(Advance, st.floats(0, 40))), max_size=25)


@given(STEPS)
def test_fuzz_xep0323_machines(steps: list[object]) -> None:
    fuzz_xep0323(steps)


def test_the_rig_has_live_readouts() -> None:
    # not vacuous: a device's <done/> for a live readout completes it
    rig = Rig()
    rig.requester.receive_message(Stanza(kind="message", type="normal", from_jid=DEVICE, payload=Done(seqnr=2)), 0.0)
    events = []
    while (event := rig.requester.next_event()) is not None:
        events.append(event)
    assert events[-1] == ReadoutCompleted(peer="device@example.org", seqnr=2)
