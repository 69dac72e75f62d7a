"""Differential test: the capture reader's own pcap loop gives dpkt's pcap reader's packets, timestamps
and errors, and counts a short last record as dpkt's reader through ``_TrackedFile.read`` did, for
every pcap variant (byte order, micro/nanoseconds, modified headers) cut anywhere.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import dpkt
from hypothesis import given
from hypothesis import strategies as st

from otwire.inspect.capture import _open_reader, _TrackedFile
from otwire.inspect.files import Source

MAGICS = [0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34, 0xD4C3B2A1, 0x4D3CB2A1, 0x34CDB2A1]


def pcap(magic: int, packets: list[tuple[int, int, bytes, int]]) -> bytes:
    order = ">" if magic in (0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34) else "<"
    out = struct.pack(">I", magic) + struct.pack(order + "HHiIII", 2, 4, 0, 0, 65535, 1)
    for sec, frac, frame, extra in packets:
        out += struct.pack(order + "IIII", sec, frac, len(frame) + extra, len(frame) + extra)
        if magic in (0xA1B2CD34, 0x34CDB2A1):
            out += struct.pack(order + "IHBB", 1, 0x0800, 0, 0)
        out += frame
    return out


def outcome(packets: Any, f: Any) -> tuple[list[tuple[Any, bytes, int]], str | None]:
    """The packets (with the octets missing after each) and the error that ended them, if any."""
    got: list[tuple[Any, bytes, int]] = []
    try:
        for stamp, frame in packets:
            got.append((stamp, frame, f.missing))
            if f.missing:
                break
    except Exception as exc:  # the error itself is compared
        return got, f"{type(exc).__name__}: {exc}"
    return got, None


@given(
    st.sampled_from(MAGICS),
    st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=40), st.just(0)),
        max_size=6,
    ),
    st.integers(0, 400),
)
def test_own_pcap_loop_equals_dpkt(magic: int, packets: list[tuple[int, int, bytes, int]], cut: int) -> None:
    data = pcap(magic, packets)
    data = data[: max(24, len(data) - cut)]
    with Source(io.BytesIO(data)) as source:
        f = _TrackedFile(source)
        own, _ = _open_reader(f, "pcap", "t")
        ours = outcome(own, f)
    with Source(io.BytesIO(data)) as source:
        f = _TrackedFile(source)
        theirs = outcome(dpkt.pcap.Reader(f), f)
    assert ours == theirs


def test_a_huge_record_length_is_corrupt() -> None:
    data = pcap(0xA1B2C3D4, [(1, 2, b"ab", 0)])[:-2]
    data = data[:32] + struct.pack(">I", 1 << 25) + data[36:]
    with Source(io.BytesIO(data)) as source:
        f = _TrackedFile(source)
        own, _ = _open_reader(f, "pcap", "t")
        assert outcome(own, f) == ([], "_CorruptRecord: record length 33554432 is implausible")
