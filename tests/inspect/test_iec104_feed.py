"""Differential test: :meth:`IEC104StreamDissector.feed` cuts the leading whole APDUs of a segment
itself; its findings equal those of the framer's items (``_findings`` of ``receive_data`` then
every item) for any stream of valid, mutated and junk octets split anywhere.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs.iec104 import APDUFramer
from otwire.inspect._iec104_lazy import DecodedOnDemand
from otwire.inspect._iec104_stream import IEC104StreamDissector, _findings
from otwire.inspect.model import Finding
from strategies.iec104 import apdu_frames, mutated_frames

GI = bytes.fromhex("680e00000000640106002f0000000014")
BAD_ASDU = bytes.fromhex("680a0000000001ff03000000")  # decodes() refuses it: decoded at once, an error
pieces = st.one_of(
    apdu_frames(),
    mutated_frames(),
    st.sampled_from([GI, BAD_ASDU, b"\x68", b"\x68\x02", b"\x68\xfe", b"\x00\x01"]),
    st.binary(max_size=12),
)


def key(finding: Finding) -> tuple[Any, ...]:
    """Every field of a finding, the decoded message included (read from a lazy one)."""
    return (
        type(finding), finding.kind, finding.offset, finding.raw, finding.message,
        finding.error, finding.error_offset, finding.sender,
    )  # fmt: skip


def reference(segments: list[bytes]) -> list[Finding]:
    framer = APDUFramer()
    out: list[Finding] = []
    for segment in segments:
        framer.receive_data(segment)
        out += _findings(list(framer))
    framer.close()
    return out + _findings(list(framer))


@given(st.lists(pieces, max_size=10), st.data())
def test_feed_equals_the_framer_items(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    segments = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    segments = [s for s in segments if s]  # b"" would mean end of stream
    dissector = IEC104StreamDissector()
    got: list[Finding] = []
    for segment in segments:
        got += dissector.feed(segment)
    got += dissector.close()
    assert [key(f) for f in got] == [key(f) for f in reference(segments)]


def test_whole_apdus_take_the_cut_in_place() -> None:
    """Not vacuous: a segment of whole APDUs, then one with a split APDU and its rest."""
    dissector = IEC104StreamDissector()
    first = dissector.feed(GI + GI + BAD_ASDU + GI[:5])
    assert [(f.kind, f.offset, type(f)) for f in first] == [
        ("apdu", 0, DecodedOnDemand), ("apdu", 16, DecodedOnDemand), ("error", 32, Finding),
    ]  # fmt: skip
    rest = dissector.feed(GI[5:] + GI)
    assert [(f.offset, f.raw) for f in rest] == [(44, GI), (60, GI)]
    assert dissector.close() == []
