"""Drive stream dissectors over a capture: records in, rows out (capture order).

One dissector per flow and direction, chosen by the server port. A gap or a new
stream on the same flow resets the dissector (what was buffered is reported as
junk first), so one bad stretch never hides the frames after it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from otwire.inspect import iec104, imb
from otwire.inspect.capture import (
    CaptureWarning,
    Data,
    Flow,
    Gap,
    Retransmission,
    Sender,
    StreamEnd,
    StreamStart,
    capture_kind,
    read_capture,
)
from otwire.inspect.model import Finding, ProtocolView

RowKind = Literal["apdu", "error", "junk", "gap", "retransmission", "warning"]


class StreamDissector(Protocol):
    """One direction of one stream of one protocol."""

    protocol: str

    def feed(self, data: bytes) -> Iterator[Finding]:
        """Consume octets; yield complete findings."""
        ...

    def close(self) -> Iterator[Finding]:
        """End of stream; yield leftovers."""
        ...


#: protocol name -> (default server ports, dissector factory)
PROTOCOLS: dict[str, tuple[tuple[int, ...], Callable[[], StreamDissector]]] = {
    iec104.PROTOCOL: (iec104.DEFAULT_PORTS, iec104.IEC104StreamDissector),
    imb.PROTOCOL: (imb.DEFAULT_PORTS, imb.IMBStreamDissector),
}

#: protocol name -> how its decoded messages are shown
VIEWS: dict[str, ProtocolView] = {
    iec104.PROTOCOL: ProtocolView(iec104.apdu_json, iec104.apdu_columns, iec104.apdu_format, iec104.apdu_type_name),
    imb.PROTOCOL: ProtocolView(imb.command_json, imb.command_columns, imb.command_format, imb.command_type_name),
}


def default_ports() -> dict[int, str]:
    """Return server port -> protocol for every protocol's default ports."""
    return {port: name for name, (ports, _) in PROTOCOLS.items() for port in ports}


@dataclass(frozen=True, slots=True)
class Row:
    """One output record: a finding placed in its capture context.

    Attributes:
        kind: What it is (see :data:`otwire.inspect.iec104.JSON_KEYS`).
        timestamp: Seconds since the epoch, or ``None`` for hex dumps and raw files.
        packet_number: 1-based packet (or line) number, if known.
        flow: The conversation, if any.
        sender: Which end sent the octets, if any.
        protocol: Protocol name, if any.
        finding: The dissector's finding for ``apdu``/``error``/``junk``.
        missing: Octets lost, for ``gap``.
        length: Octets repeated, for ``retransmission``.
        message: Text of a ``warning``.
    """

    kind: RowKind
    timestamp: float | None
    packet_number: int | None
    flow: Flow | None = None
    sender: Sender | None = None
    protocol: str | None = None
    finding: Finding | None = None
    missing: int = 0
    length: int = 0
    message: str = ""


def dissect(path: str | os.PathLike[str], ports: Mapping[int, str]) -> Iterator[Row]:
    """Dissect every stream of a capture file.

    Args:
        path: pcap, pcapng, hex dump (one APDU per line) or raw stream file.
        ports: server port -> protocol name (a key of :data:`PROTOCOLS`).
            Hex dumps and raw streams are dissected with the first protocol.

    Raises:
        CaptureError: the file cannot be read or is not a capture.
    """
    kind = capture_kind(path)
    default = next(iter(ports.values()), iec104.PROTOCOL)
    records = read_capture(path, list(ports))
    state = _Streams(ports, default, per_record=kind == "hex")
    for record in records:
        yield from state.record(record)
    yield from state.finish()


class _Streams:
    def __init__(self, ports: Mapping[int, str], default: str, per_record: bool) -> None:
        self._ports = ports
        self._default = default
        self._per_record = per_record  # hex dump: every line is a stream of its own
        self._open: dict[tuple[Flow, Sender], StreamDissector] = {}

    def record(self, record: Any) -> Iterator[Row]:
        match record:
            case Data(flow=flow, sender=d, timestamp=ts, data=data, packet_number=n):
                ts = None if flow.is_pseudo else ts
                dissector = self._dissector(flow, d)
                yield from self._rows(dissector.feed(data), ts, n, flow, d, dissector.protocol)
                if self._per_record:
                    yield from self._close(flow, d, ts, n)
            case Gap(flow=flow, sender=d, timestamp=ts, missing=missing, packet_number=n):
                yield from self._close(flow, d, ts, n)
                yield Row("gap", ts, n, flow, d, self._protocol(flow), missing=missing)
            case Retransmission(flow=flow, sender=d, timestamp=ts, length=length, packet_number=n):
                yield Row("retransmission", ts, n, flow, d, self._protocol(flow), length=length)
            case StreamStart(flow=flow, timestamp=ts, packet_number=n):
                for d in Sender:
                    yield from self._close(flow, d, ts, n)
            case StreamEnd(flow=flow, sender=d, timestamp=ts, packet_number=n):
                yield from self._close(flow, d, ts, n)
            case CaptureWarning(timestamp=ts, packet_number=n, message=message):
                yield Row("warning", ts, n, message=message)

    def finish(self) -> Iterator[Row]:
        for flow, d in list(self._open):
            yield from self._close(flow, d, None, None)

    def _protocol(self, flow: Flow) -> str:
        return self._ports.get(flow.server_port, self._default)

    def _dissector(self, flow: Flow, d: Sender) -> StreamDissector:
        key = (flow, d)
        dissector = self._open.get(key)
        if dissector is None:
            dissector = self._open[key] = PROTOCOLS[self._protocol(flow)][1]()
        return dissector

    def _close(self, flow: Flow, d: Sender, ts: float | None, n: int | None) -> Iterator[Row]:
        dissector = self._open.pop((flow, d), None)
        if dissector is not None:
            yield from self._rows(dissector.close(), ts, n, flow, d, dissector.protocol)

    @staticmethod
    def _rows(
        findings: Iterator[Finding],
        ts: float | None,
        n: int | None,
        flow: Flow,
        d: Sender,
        protocol: str,
    ) -> Iterator[Row]:
        for finding in findings:
            yield Row(finding.kind, ts, n, flow, d, protocol, finding)
