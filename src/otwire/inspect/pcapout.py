"""``otwire inspect -w FILE``: write the packets of the records a filter kept to a pcap.

:class:`PacketTap` sits between the packet reader and the dissector: it remembers the
last :data:`RECENT` packets and, for each kept record, writes the packet that completed
it (once, in capture order), with its original timestamp and link type. Packets are
written whole; as with ``tshark -w``, a record whose octets came in several packets is
written as its last packet only, and a filter that keeps part of a conversation leaves
holes that a later read reports as gaps.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, Any, Final

import dpkt

from otwire.errors import InvalidArgument
from otwire.inspect.capture import CaptureError, CaptureWarning
from otwire.inspect.dissect import Row
from otwire.inspect.packets import Packet

__all__ = ["RECENT", "PacketTap"]

#: Packets remembered for writing (a record is written only while its packet is among them).
RECENT: Final = 4096
#: Snapshot length written in the pcap header, in octets.
SNAPLEN: Final = 262_144


class PacketTap:
    """Remember recent packets and write those of the kept records to a pcap file.

    Args:
        path: The pcap file to write (created or truncated).

    Raises:
        CaptureError: The file cannot be created.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.name = os.fsdecode(path)
        try:
            self._file: IO[bytes] = open(self.name, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise CaptureError(f"cannot write {self.name}: {exc.strerror or exc}") from exc
        self._writer: Any = None
        self._linktype: int | None = None
        self._recent: OrderedDict[int, Packet] = OrderedDict()
        self._written: set[int] = set()
        self.written = 0

    def watch(self, packets: Iterable[Packet | CaptureWarning]) -> Iterator[Packet | CaptureWarning]:
        """Pass packets through, remembering the last :data:`RECENT` of them.

        Call once per input; packet numbers start afresh with each.

        Raises:
            InvalidArgument: An input's link type differs from the first input's (one pcap has one).
        """
        self._recent.clear()
        self._written.clear()
        for packet in packets:
            if isinstance(packet, Packet):
                self._check_linktype(packet.linktype)
                self._recent[packet.number] = packet
                if len(self._recent) > RECENT:
                    old, _ = self._recent.popitem(last=False)
                    self._written.discard(old)
            yield packet

    def _check_linktype(self, linktype: int) -> None:
        if self._linktype is None:
            self._linktype = linktype
            self._writer = dpkt.pcap.Writer(self._file, snaplen=SNAPLEN, linktype=linktype)
        elif linktype != self._linktype:
            raise InvalidArgument(f"-w: link type {linktype} differs from the first input's ({self._linktype})")

    def keep(self, row: Row) -> None:
        """Write the packet that completed ``row``, unless already written or forgotten."""
        number = row.packet_number
        if number is None or number in self._written:
            return
        packet = self._recent.get(number)
        if packet is None:
            return
        self._written.add(number)
        self._writer.writepkt(packet.frame, ts=packet.timestamp)
        self.written += 1

    def close(self) -> None:
        """Finish the file (an empty pcap with an Ethernet header if nothing was read)."""
        if self._writer is None:
            self._writer = dpkt.pcap.Writer(self._file, snaplen=SNAPLEN)
        self._file.close()

    def __enter__(self) -> PacketTap:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
