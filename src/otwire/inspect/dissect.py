"""Drive dissectors over a capture: records in, rows out (capture order).

One :class:`~otwire.inspect.model.Dissector` per TCP conversation, chosen by the server
port through :mod:`otwire.registry`; it sees both directions. A gap makes the dissector
end that sender's stream (what was buffered is reported as junk first) and a new
stream on the same flow replaces the dissector, so one bad stretch never hides the
frames after it.

Hex dumps and raw streams carry no port, so they are decoded only as a protocol named
explicitly (``proto``). When nothing at all is decoded, a last ``notice`` row says why
(empty file, no packets, no traffic on the followed ports and which ports were seen, or
traffic that did not decode) and what to try.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from otwire import registry
from otwire.errors import InvalidArgument, InvalidArgumentType
from otwire.inspect.capture import (
    CaptureError,
    CaptureKind,
    CaptureStats,
    CaptureWarning,
    Data,
    Flow,
    Gap,
    Retransmission,
    Sender,
    StreamEnd,
    StreamStart,
    capture_kind,
    capture_size,
    read_capture,
)
from otwire.inspect.model import Dissector, Finding, ProtocolView

RowKind = Literal["apdu", "error", "junk", "gap", "retransmission", "warning", "notice"]


def default_ports() -> dict[int, str]:
    """Return server port -> protocol for every protocol's default port (see :mod:`otwire.registry`)."""
    return registry.default_ports()


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
        message: Text of a ``warning`` or ``notice``.
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


def read(
    path: str | os.PathLike[str], *, ports: Mapping[int, str] | None = None, proto: str | None = None
) -> Iterator[Row]:
    """Yield the records of a capture, decoded: what ``otwire inspect --format jsonl`` prints.

    Example::

        import otwire.inspect

        for row in otwire.inspect.read("capture.pcap", ports={2405: "iec104"}):
            if row.kind == "apdu":
                print(row.timestamp, row.sender, row.finding.message)

    Args:
        path: pcap or pcapng, or with ``proto`` a hex dump or raw stream; gzip-compressed or not.
        ports: Server port -> protocol name, followed besides every protocol's default
            port (as ``--port PROTO:PORT``).
        proto: The protocol of a hex dump or raw stream (as ``--proto``).

    Returns:
        The rows, in capture order; :func:`row_json` gives the JSON object of one.

    Raises:
        CaptureError: The file cannot be read, or is a hex dump or raw stream without ``proto``.
        InvalidArgument: A protocol name is unknown, or a port is not in 1..65535.
        InvalidArgumentType: ``ports`` is not a mapping of int ports.
    """
    return dissect(path, {**default_ports(), **check_ports(ports or {})}, proto=proto)


def check_input(path: str | os.PathLike[str], proto: str | None = None) -> CaptureKind:
    """Return the kind of a capture file after checking that it can be dissected.

    Args:
        path: The file.
        proto: The protocol of a hex dump or raw stream (``None``: refuse them).

    Raises:
        CaptureError: The file cannot be read, or is a hex dump or raw stream (not
            empty) and ``proto`` is ``None``.
        InvalidArgument: ``proto`` is not a known protocol.
    """
    if proto is not None:
        registry.get_dissectable(proto)
    kind = capture_kind(path)
    if kind in ("hex", "raw") and proto is None and capture_size(path):
        names = "|".join(registry.dissectable())
        raise CaptureError(
            f"{os.fsdecode(path)}: not a pcap or pcapng capture; to decode it as a "
            f"{'hex dump' if kind == 'hex' else 'raw stream'} of one protocol, name it (--proto {names})"
        )
    return kind


def dissect(
    path: str | os.PathLike[str],
    ports: Mapping[int, str],
    *,
    proto: str | None = None,
    stats: CaptureStats | None = None,
) -> Iterator[Row]:
    """Dissect every stream of a capture file.

    Args:
        path: pcap or pcapng, or with ``proto`` a hex dump (one frame per line) or raw
            stream; gzip-compressed or not.
        ports: server port -> protocol name (a key of :data:`otwire.registry.PROTOCOLS`).
        proto: The protocol of a hex dump or raw stream.
        stats: Filled in while reading (its ``progress`` callback follows the octets read).

    Raises:
        CaptureError: the file cannot be read, or is a hex dump or raw stream without ``proto``.
        InvalidArgument: a protocol name is unknown, or a port is not in 1..65535.
        InvalidArgumentType: ``ports`` is not a mapping of int ports.
    """
    check_ports(ports)
    kind = check_input(path, proto)
    stats = stats or CaptureStats()
    records = read_capture(path, list(ports), stats=stats)
    state = _Streams(ports, proto or "", per_record=kind == "hex")
    kinds: Counter[str] = Counter()
    for record in records:
        for row in state.record(record):
            kinds[row.kind] += 1
            yield row
    for row in state.finish():
        kinds[row.kind] += 1
        yield row
    if not kinds["apdu"]:
        yield Row("notice", None, None, message=_notice(path, kind, ports, proto, stats, kinds))


def _notice(
    path: str | os.PathLike[str],
    kind: CaptureKind,
    ports: Mapping[int, str],
    proto: str | None,
    stats: CaptureStats,
    kinds: Counter[str],
) -> str:
    """Say why nothing was decoded, and what to try."""
    if not capture_size(path):
        return f"empty file; the right one? record a session with {_RECORD_HINT}"
    if kind in ("hex", "raw"):
        return f"nothing decoded as {proto} ({_problems(kinds)}); another protocol? (--proto NAME)"
    if not stats.packets:
        return f"no packets in this capture; was traffic flowing? record a session with {_RECORD_HINT}"
    if stats.segments:
        return f"nothing decoded ({_problems(kinds)}); another protocol on this port? (--port PROTO:PORT)"
    followed = ", ".join(f"{name} on {port}" for port, name in sorted(ports.items()))
    if not stats.other_ports:
        return f"no TCP traffic in {stats.packets} packets; only TCP conversations are dissected (tcpdump -w F tcp)"
    seen = ", ".join(str(port) for port, _ in stats.other_ports.most_common(8))
    return f"no traffic on the followed ports ({followed}); TCP ports seen: {seen}; dissect one with --port PROTO:PORT"


#: How to get a capture, named in the notices about empty ones.
_RECORD_HINT = "`otwire serve iec104 --record F` or `otwire client iec104 HOST --record F`"


def check_ports(ports: object) -> Mapping[int, str]:
    """Return ``ports`` (server port -> protocol name) after checking it.

    Raises:
        InvalidArgumentType: Not a mapping, or a port that is not an int.
        InvalidArgument: A port outside 1..65535, or an unknown protocol name.
    """
    if not isinstance(ports, Mapping):
        raise InvalidArgumentType(f"ports={ports!r} must map a port (int) to a protocol name")
    for port, name in ports.items():
        if isinstance(port, bool) or not isinstance(port, int):
            raise InvalidArgumentType(f"ports: {port!r} is not a port number (int)")
        if not 1 <= port <= 0xFFFF:
            raise InvalidArgument(f"ports: {port} is not a TCP port (1..65535)")
        registry.get_dissectable(name)
    return ports


def _problems(kinds: Counter[str]) -> str:
    return f"{kinds['error']} decode errors, {kinds['junk']} junk stretches, {kinds['gap']} gaps"


class _Streams:
    def __init__(self, ports: Mapping[int, str], default: str, per_record: bool) -> None:
        self._ports = ports
        self._default = default
        self._per_record = per_record  # hex dump: every line is a stream of its own
        self._open: dict[Flow, tuple[str, Dissector]] = {}

    def record(self, record: Any) -> Iterator[Row]:
        match record:
            case Data(flow=flow, sender=s, timestamp=ts, data=data, packet_number=n):
                ts = None if flow.is_pseudo else ts
                protocol, dissector = self._dissector(flow)
                yield from self._rows(dissector.feed(s, data), ts, n, flow, s, protocol)
                if self._per_record:
                    yield from self._end(flow, s, ts, n)
            case Gap(flow=flow, sender=s, timestamp=ts, missing=missing, packet_number=n):
                yield from self._end(flow, s, ts, n)
                yield Row("gap", ts, n, flow, s, self._protocol(flow), missing=missing)
            case Retransmission(flow=flow, sender=s, timestamp=ts, length=length, packet_number=n):
                yield Row("retransmission", ts, n, flow, s, self._protocol(flow), length=length)
            case StreamStart(flow=flow, timestamp=ts, packet_number=n):
                yield from self._close(flow, ts, n)
            case StreamEnd(flow=flow, sender=s, timestamp=ts, packet_number=n):
                yield from self._end(flow, s, ts, n)
            case CaptureWarning(timestamp=ts, packet_number=n, message=message):
                yield Row("warning", ts, n, message=message)

    def finish(self) -> Iterator[Row]:
        for flow in list(self._open):
            yield from self._close(flow, None, None)

    def _protocol(self, flow: Flow) -> str:
        return self._ports.get(flow.server_port, self._default)

    def _dissector(self, flow: Flow) -> tuple[str, Dissector]:
        entry = self._open.get(flow)
        if entry is None:
            protocol = self._protocol(flow)
            entry = self._open[flow] = (protocol, new_dissector(protocol))
        return entry

    def _end(self, flow: Flow, s: Sender, ts: float | None, n: int | None) -> Iterator[Row]:
        entry = self._open.get(flow)
        if entry is not None:
            yield from self._rows(entry[1].end(s), ts, n, flow, s, entry[0])

    def _close(self, flow: Flow, ts: float | None, n: int | None) -> Iterator[Row]:
        for s in Sender:
            yield from self._end(flow, s, ts, n)
        self._open.pop(flow, None)

    @staticmethod
    def _rows(
        findings: Iterable[Finding],
        ts: float | None,
        n: int | None,
        flow: Flow,
        s: Sender,
        protocol: str,
    ) -> Iterator[Row]:
        for finding in findings:
            yield Row(finding.kind, ts, n, flow, finding.sender or s, protocol, finding)


@cache
def view(protocol: str) -> ProtocolView:
    """Return how ``protocol``'s messages are shown (from :mod:`otwire.registry`, imported once).

    Raises:
        InvalidArgument: The protocol is unknown or has no dissector.
    """
    loaded: ProtocolView = registry.load(str(registry.get_dissectable(protocol).view))
    return loaded


def new_dissector(protocol: str) -> Dissector:
    """Return a fresh dissector of ``protocol`` for one TCP conversation (from :mod:`otwire.registry`).

    Raises:
        InvalidArgument: The protocol is unknown.
    """
    factory: Callable[[], Dissector] = registry.load(str(registry.get_dissectable(protocol).dissector))
    return factory()


def row_json(row: Row, source: str) -> dict[str, Any]:
    """Return the JSON object of a row (keys in ``otwire.inspect.iec104.JSON_KEYS`` and ``imb.JSON_KEYS``)."""
    out: dict[str, Any] = {
        "source": source,
        "time": row.timestamp,
        "packet": row.packet_number,
        "flow": str(row.flow) if row.flow else None,
        "direction": row.sender.direction if row.sender else None,
        "protocol": row.protocol,
        "kind": row.kind,
    }
    finding = row.finding
    if finding is not None:
        out["offset"] = finding.offset
        out["raw"] = finding.raw.hex()
        if finding.kind == "apdu":
            out.update(view(row.protocol or "").json(finding.message))
        else:
            out.update(error=finding.error, error_offset=finding.error_offset)
    elif row.kind == "gap":
        out["missing"] = row.missing
    elif row.kind == "retransmission":
        out["length"] = row.length
    elif row.kind in ("warning", "notice"):
        out["message"] = row.message
    return out
