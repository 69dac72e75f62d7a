"""What :func:`otwire.inspect.capture.read_capture` yields: flows, stream data and stream events."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from otwire.errors import OTWireError

__all__ = [
    "CaptureError",
    "CaptureKind",
    "CaptureStats",
    "CaptureWarning",
    "Data",
    "Flow",
    "Gap",
    "Record",
    "Retransmission",
    "Sender",
    "StreamEnd",
    "StreamStart",
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
    """

    progress: Callable[[int], None] | None = None
    position: int = 0
    packets: int = 0
    segments: int = 0
    other_ports: Counter[int] = field(default_factory=Counter)

    def advance(self, position: int) -> None:
        """Record the octets read so far and report them to :attr:`progress`."""
        self.position = position
        if self.progress is not None:
            self.progress(position)


#: Everything :func:`read_capture` yields.
Record: TypeAlias = Data | Gap | Retransmission | StreamStart | StreamEnd | CaptureWarning
#: What :func:`capture_kind` finds a file to be.
CaptureKind: TypeAlias = Literal["pcap", "pcapng", "hex", "raw"]


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
