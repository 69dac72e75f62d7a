"""The records of ``otwire inspect``: what :func:`~otwire.inspect.capture.read_capture` yields
(flows, stream data and stream events) and what :func:`~otwire.inspect.dissect.dissect` yields
(:class:`Row`, one per decoded message or problem, with its JSON view :func:`record_values`).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, TypeAlias

from otwire import registry
from otwire.errors import OTWireError

__all__ = [
    "CaptureError",
    "CaptureKind",
    "CaptureStats",
    "CaptureWarning",
    "Data",
    "Finding",
    "Flow",
    "FlowEvicted",
    "Gap",
    "Record",
    "Retransmission",
    "Row",
    "RowKind",
    "Sender",
    "StreamEnd",
    "StreamStart",
    "record_values",
    "row_json",
]


class CaptureError(OTWireError):
    """A capture file cannot be read at all (missing, unreadable, not parseable)."""


class Sender(enum.StrEnum):
    """Which end of a TCP conversation sent the octets (JSON-ready string values).

    Not :class:`otwire.transports.Direction` (``IN``/``OUT`` of one socket): a capture
    is seen from outside, so what matters is who sent a segment. In JSON output the
    record key ``direction`` says where the octets went (``"to_server"`` for
    :attr:`CLIENT`, ``"to_client"`` for :attr:`SERVER`).
    """

    CLIENT = "client"
    SERVER = "server"

    @property
    def receiver(self) -> Sender:
        """The other end."""
        return Sender.SERVER if self is Sender.CLIENT else Sender.CLIENT

    @property
    def direction(self) -> str:
        """Where the octets went: ``"to_server"`` or ``"to_client"`` (the JSON ``direction``)."""
        return "to_server" if self is Sender.CLIENT else "to_client"


#: Every :class:`Sender`, client first (a tuple: iterating the enum class is a Python call per member).
SENDERS: tuple[Sender, ...] = tuple(Sender)


@dataclass(frozen=True, slots=True)
class Flow:
    """A TCP conversation, oriented client to server (see the module docstring).

    Attributes:
        client: Client address (``"10.0.0.1"``, ``"fe80::1"``) or, for a pseudo
            flow, the file name.
        client_port: Client TCP port (0 for a pseudo flow).
        server: Server address, or the file name for a pseudo flow.
        server_port: Server TCP port, one of ``ports`` (0 for a pseudo flow).
    """

    client: str
    client_port: int
    server: str
    server_port: int
    _hash: int = field(init=False, repr=False, compare=False)  # a dict key per record: hashed once

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.client, self.client_port, self.server, self.server_port)))

    def __hash__(self) -> int:
        """The hash of the four fields (computed once)."""
        return self._hash

    def __reduce__(self) -> tuple[type[Flow], tuple[str, int, str, int]]:
        """Pickled as its four fields (the hash is computed again: string hashes differ between processes)."""
        return Flow, (self.client, self.client_port, self.server, self.server_port)

    @classmethod
    def pseudo(cls, name: str) -> Flow:
        """Return the pseudo flow of a hex dump or raw stream file called ``name``."""
        return cls(name, 0, name, 0)

    @property
    def is_pseudo(self) -> bool:
        """Whether this flow stands for a whole non-packet file."""
        return self.client_port == 0 and self.server_port == 0

    def __str__(self) -> str:
        """Return ``10.0.0.1:51234 -> 10.0.0.2:2404``, or the file name if pseudo."""
        if self.is_pseudo and self.client == self.server:
            return self.client
        client = _endpoint(self.client, self.client_port)
        return f"{client} -> {_endpoint(self.server, self.server_port)}"


@dataclass(frozen=True, slots=True)
class Data:
    """New in-order octets of one direction.

    Attributes:
        flow: The conversation.
        sender: Which end sent the octets.
        timestamp: Capture time of the packet that completed them, in seconds
            since the epoch (0.0 for hex dumps and raw streams).
        data: The octets (never empty).
        packet_number: 1-based packet number (line number in a hex dump, chunk
            number in a raw stream).
    """

    flow: Flow
    sender: Sender
    timestamp: float
    data: bytes
    packet_number: int


@dataclass(frozen=True, slots=True)
class Gap:
    """Octets that will never arrive; the consumer must resynchronise.

    Attributes:
        flow: The conversation.
        sender: The end whose octets are missing.
        timestamp: Capture time when the hole was given up on, in seconds since the epoch.
        missing: Number of missing octets.
        packet_number: 1-based number of the packet that revealed the hole.
    """

    flow: Flow
    sender: Sender
    timestamp: float
    missing: int
    packet_number: int


@dataclass(frozen=True, slots=True)
class Retransmission:
    """Octets received again and dropped (exact or overlapping retransmission).

    Attributes:
        flow: The conversation.
        sender: The end that sent the octets again.
        timestamp: Capture time, in seconds since the epoch.
        length: Number of repeated octets.
        packet_number: 1-based packet number.
    """

    flow: Flow
    sender: Sender
    timestamp: float
    length: int
    packet_number: int


@dataclass(frozen=True, slots=True)
class StreamStart:
    """A new stream starts on ``flow``: reset any state kept for it.

    Attributes:
        flow: The conversation.
        timestamp: Capture time, in seconds since the epoch.
        packet_number: 1-based packet number (line or chunk number for files).
    """

    flow: Flow
    timestamp: float
    packet_number: int


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """One direction of a stream ended.

    Attributes:
        flow: The conversation.
        sender: The end whose stream ended (it sent a FIN or a RST, or one was sent to it).
        timestamp: Capture time, in seconds since the epoch.
        packet_number: 1-based packet number.
        reason: ``"fin"`` (all octets up to the FIN accounted for) or ``"rst"``.
    """

    flow: Flow
    sender: Sender
    timestamp: float
    packet_number: int
    reason: Literal["fin", "rst"]


@dataclass(frozen=True, slots=True)
class FlowEvicted:
    """The reader forgot ``flow`` (its octets were delivered first): drop what is kept for it.

    Consumers free per-flow state here, so memory stays flat over any number of flows.
    Segments arriving later on the same flow start a new stream (a :class:`StreamStart`).

    Attributes:
        flow: The conversation.
        timestamp: Capture time, in seconds since the epoch.
        packet_number: 1-based number of the packet being read when the flow was evicted.
        reason: ``"closed"`` (FIN/RST on both sides, then older than the closed flows
            remembered for late retransmissions), ``"idle"`` (no segment for
            :data:`~otwire.inspect.capture.IDLE_SECONDS`) or ``"full"`` (the flow table
            was at :data:`~otwire.inspect.capture.MAX_LIVE_FLOWS`; the least recently
            active flow goes).
    """

    flow: Flow
    timestamp: float
    packet_number: int
    reason: Literal["closed", "idle", "full"]


@dataclass(frozen=True, slots=True)
class CaptureWarning:
    """Something in the capture was skipped (truncation, undecodable packet).

    Attributes:
        timestamp: Capture time, in seconds since the epoch, if known.
        packet_number: 1-based packet number, if known.
        message: One-line description.
    """

    timestamp: float | None
    packet_number: int | None
    message: str


@dataclass(slots=True)
class CaptureStats:
    """What :func:`~otwire.inspect.capture.read_capture` saw, filled in as it reads.

    Attributes:
        progress: Called with :attr:`position` as reading advances (every 256 packets,
            lines or chunks, and at the end), e.g. to move a progress bar.
        position: Octets read from disk so far (compressed octets for a gzip file).
        packets: Packets (or hex lines, raw chunks) read.
        segments: TCP segments on the followed ports.
        other_ports: TCP segments on other ports, by the lower of their two ports
            (most often the server's).
        flows: TCP connections seen on the followed ports (kept when they are evicted).
        live_flows: Connections in the flow table now (open, or closed recently).
        peak_live_flows: The most connections the flow table held at once.
    """

    progress: Callable[[int], None] | None = None
    position: int = 0
    packets: int = 0
    segments: int = 0
    other_ports: Counter[int] = field(default_factory=Counter)
    flows: int = 0
    live_flows: int = 0
    peak_live_flows: int = 0

    def advance(self, position: int) -> None:
        """Record the octets read so far and report them to :attr:`progress`."""
        self.position = position
        if self.progress is not None:
            self.progress(position)


#: Everything :func:`read_capture` yields.
Record: TypeAlias = Data | Gap | Retransmission | StreamStart | StreamEnd | FlowEvicted | CaptureWarning
#: What :func:`capture_kind` finds a file to be.
CaptureKind: TypeAlias = Literal["pcap", "pcapng", "hex", "raw"]


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


# --- dissected records -------------------------------------------------------------------

FindingKind = Literal["apdu", "error", "junk"]
RowKind = Literal["apdu", "error", "junk", "gap", "retransmission", "warning", "notice"]


@dataclass(slots=True)
class Finding:
    """One thing found in a stream: a decoded message, a malformed frame or junk (read-only).

    Attributes:
        kind: ``"apdu"`` (decoded), ``"error"`` (malformed frame) or ``"junk"``.
        offset: Stream offset of the first octet (octets the sender sent since the stream started).
        raw: The octets.
        message: The decoded message for ``"apdu"``.
        error: One-line description for ``"error"`` and ``"junk"``.
        error_offset: Offset within ``raw`` where decoding failed.
        sender: Who sent the octets when it is not the sender whose octets were being
            fed (a conversation dissector may report a request only once its response arrives).
    """

    kind: FindingKind
    offset: int
    raw: bytes
    message: Any = None
    error: str | None = None
    error_offset: int | None = None
    sender: Sender | None = None


@dataclass(slots=True)
class Row:
    """One output record: a finding placed in its capture context (read-only).

    Attributes:
        kind: What it is (see :data:`otwire.inspect.iec104.JSON_KEYS`).
        timestamp: Seconds since the epoch, or ``None`` for hex dumps and raw files.
        packet_number: 1-based packet (or line) number, if known (JSON ``packet``).
        flow: The conversation, if any.
        sender: Which end sent the octets, if any.
        protocol: Protocol name, if any.
        finding: The dissector's finding for ``apdu``/``error``/``junk``.
        missing: Octets lost, for ``gap``.
        length: Octets repeated, for ``retransmission``.
        message: Text of a ``warning`` or ``notice``.
        stream: The flow's number in its capture (1 for the first flow with a record;
            the ``#N`` of the table, JSON ``stream``), if it has a flow.
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
    stream: int | None = None


def record_values(record: Row) -> dict[str, Any]:
    """Return the values of a record by JSON key, as ``--format jsonl`` writes them (without ``source``).

    Keys: ``time``, ``packet``, ``stream``, ``flow``, ``direction``, ``protocol``, ``kind``,
    then those of the kind (see ``JSON_KEYS`` in :mod:`otwire.inspect.iec104`,
    :mod:`otwire.inspect.imb`, :mod:`otwire.inspect.i3x`). Values are JSON-ready (enum
    names, hex strings, lists); a fresh dict each call.

    Raises:
        InvalidArgument: The record's protocol is unknown.
    """
    return _values(record, {})


def row_json(row: Row, source: str) -> dict[str, Any]:
    """Return the JSON object of a row: ``source`` (the file) then :func:`record_values`."""
    return _values(row, {"source": source})


def _values(row: Row, out: dict[str, Any]) -> dict[str, Any]:
    flow, sender = row.flow, row.sender
    out["time"] = row.timestamp
    out["packet"] = row.packet_number
    out["stream"] = row.stream
    out["flow"] = (_FLOW_TEXTS.get(flow) or _flow_text(flow)) if flow is not None else None
    out["direction"] = _DIRECTIONS[sender]
    out["protocol"] = row.protocol
    out["kind"] = kind = row.kind
    finding = row.finding
    if finding is not None:
        out["offset"] = finding.offset
        out["raw"] = finding.raw.hex()
        if kind == "apdu":
            _json_view(row.protocol or "")(finding, out)
        else:
            out["error"] = finding.error
            out["error_offset"] = finding.error_offset
    elif kind == "gap":
        out["missing"] = row.missing
    elif kind == "retransmission":
        out["length"] = row.length
    elif kind == "warning" or kind == "notice":
        out["message"] = row.message
    return out


@cache
def _json_view(protocol: str) -> Callable[[Finding, dict[str, Any]], None]:
    """Return ``ProtocolView.json_into`` of a protocol (imported once through :mod:`otwire.registry`)."""
    shown: Any = registry.load(str(registry.get_dissectable(protocol).view))
    if shown.json_into is not None:
        fill: Callable[[Finding, dict[str, Any]], None] = shown.json_into
        return fill
    convert: Callable[[Any], dict[str, Any]] = shown.json
    return lambda finding, out: out.update(convert(finding.message))


_FLOW_TEXTS: dict[Flow, str] = {}
#: The JSON ``direction`` of a sender (:attr:`Sender.direction`), ``None`` without one.
_DIRECTIONS: dict[Sender | None, str | None] = {None: None, **{sender: sender.direction for sender in Sender}}


def _flow_text(flow: Flow) -> str:
    """Return ``str(flow)``, remembered for the most recent flows (bounded)."""
    text = _FLOW_TEXTS.get(flow)
    if text is None:
        if len(_FLOW_TEXTS) >= 4096:
            _FLOW_TEXTS.clear()
        text = _FLOW_TEXTS[flow] = str(flow)
    return text
