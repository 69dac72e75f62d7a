"""Record the octets a transport exchanges as a classic pcap of synthetic TCP sessions.

Real packets are not captured: each ``record`` call becomes TCP segments (at most ``mss``
octets each) inside made-up Ethernet and IP headers, with sequence and acknowledgement
numbers that let any dissector (Wireshark, :func:`otwire.inspect.capture.read_capture`)
reassemble both directions. Opening a session writes a SYN, SYN-ACK, ACK handshake; closing
it writes FIN-ACK, FIN-ACK, ACK.

The file is flushed after every call that writes packets, so ``otwire inspect`` of a recording
still being written shows the sessions so far, and a process killed without closing the
recorder leaves a readable file.

A recorder or a session is a :data:`~otwire.transports._common.RawObserver`: pass it as the
``observer`` of :class:`~otwire.transports.sync.SocketTransport` or
:class:`~otwire.transports.aio.AioTransport`. A server records every peer into one file
with one :meth:`PcapRecorder.session` per accepted connection.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
import zlib
from typing import BinaryIO, Literal

import dpkt

from otwire.transports._common import Direction

__all__ = ["PcapRecorder", "PcapSession"]

#: Largest TCP payload per synthetic segment (Ethernet MTU minus IPv4 and TCP headers).
DEFAULT_MSS = 1460
_LOCAL_MAC = bytes.fromhex("020000000001")
_REMOTE_MAC = bytes.fromhex("020000000002")
_WINDOW = 65535
_SYN, _FIN, _PSH, _ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_ACK

Endpoint = tuple[str, int]


class PcapRecorder:
    """Write one pcap file (Ethernet link type) holding one or more synthetic TCP sessions.

    Thread-safe: transports in several threads may record into one file.

    Args:
        file: A path, or a binary file object opened for writing (not closed by :meth:`close`).
        local: ``(address, port)`` of this end; with ``remote`` it opens a default session
            used by :meth:`record` and by calling the recorder.
        remote: ``(address, port)`` of the peer.
        initiator: Which end sends the SYN of the default session.
        mss: Largest payload per segment, in octets.

    Raises:
        OSError: The file cannot be opened.
        ValueError: An address is not an IP address, or only one of ``local``/``remote`` is given.
    """

    def __init__(
        self,
        file: str | os.PathLike[str] | BinaryIO,
        *,
        local: Endpoint | None = None,
        remote: Endpoint | None = None,
        initiator: Literal["local", "remote"] = "local",
        mss: int = DEFAULT_MSS,
    ) -> None:
        if (local is None) != (remote is None):
            raise ValueError("give both local and remote, or neither")
        if mss < 1:
            raise ValueError(f"mss must be positive, not {mss}")
        self._owned = isinstance(file, str | os.PathLike)
        self._file: BinaryIO = open(file, "wb") if isinstance(file, str | os.PathLike) else file  # noqa: SIM115
        self._lock = threading.Lock()
        self._writer = dpkt.pcap.Writer(self._file, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
        self._file.flush()
        self._sessions: list[PcapSession] = []
        self._closed = False
        self.mss = mss
        self.default: PcapSession | None = None
        if local is not None and remote is not None:
            self.default = self.session(local, remote, initiator=initiator)

    def session(
        self,
        local: Endpoint,
        remote: Endpoint,
        *,
        initiator: Literal["local", "remote"] = "local",
        timestamp: float | None = None,
    ) -> PcapSession:
        """Open another TCP session in this file (writes its handshake).

        Args:
            local: ``(address, port)`` of this end.
            remote: ``(address, port)`` of the peer (same IP version as ``local``).
            initiator: Which end sends the SYN.
            timestamp: Capture time of the handshake, in seconds since the epoch (default: now).

        Returns:
            The session; call it (or its :meth:`~PcapSession.record`) as an observer.

        Raises:
            ValueError: The recorder is closed, or an address is invalid.
        """
        session = PcapSession(self, local, remote)
        with self._lock:
            self._check_open()
            self._sessions.append(session)
            session._open(initiator, _now(timestamp))
            self._file.flush()
        return session

    def record(self, direction: Direction, data: bytes, timestamp: float | None = None) -> None:
        """Record octets of the default session (see :meth:`PcapSession.record`).

        Raises:
            ValueError: There is no default session, or it or the recorder is closed.
        """
        if self.default is None:
            raise ValueError("this recorder has no default session (give local and remote)")
        self.default.record(direction, data, timestamp)

    def __call__(self, direction: Direction, data: bytes) -> None:
        """Record octets of the default session now (the observer signature)."""
        self.record(direction, data)

    def close(self, timestamp: float | None = None) -> None:
        """Close every open session (writes their FINs), then the file if the recorder opened it.

        Args:
            timestamp: Capture time of the FINs (default: now).
        """
        with self._lock:
            if self._closed:
                return
            for session in self._sessions:
                session._close(_now(timestamp))
            self._closed = True
            self._file.flush()
            if self._owned:
                self._file.close()

    def __enter__(self) -> PcapRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the recorder is closed")

    def _write(self, packet: bytes, timestamp: float) -> None:
        self._writer.writepkt(packet, ts=timestamp)


class PcapSession:
    """One synthetic TCP connection inside a :class:`PcapRecorder` (made by :meth:`PcapRecorder.session`)."""

    def __init__(self, recorder: PcapRecorder, local: Endpoint, remote: Endpoint) -> None:
        self._recorder = recorder
        self.local = local
        self.remote = remote
        local_ip, remote_ip = ipaddress.ip_address(local[0]), ipaddress.ip_address(remote[0])
        if local_ip.version != remote_ip.version:
            raise ValueError(f"{local[0]} and {remote[0]} are not of the same IP version")
        self._ipv6 = local_ip.version == 6
        self._ip = {Direction.OUT: local_ip.packed, Direction.IN: remote_ip.packed}
        self._port = {Direction.OUT: local[1], Direction.IN: remote[1]}
        self._mac = {Direction.OUT: _LOCAL_MAC, Direction.IN: _REMOTE_MAC}
        # Next sequence number each sender uses; initial ones are arbitrary but reproducible.
        key = f"{local}>{remote}".encode()
        self._next = {Direction.OUT: zlib.crc32(key), Direction.IN: zlib.crc32(key[::-1])}
        self._is_open = False

    @property
    def closed(self) -> bool:
        """True once the FIN exchange was written."""
        return not self._is_open

    def record(self, direction: Direction, data: bytes, timestamp: float | None = None) -> None:
        """Write ``data`` as segments sent by one end (``IN``: remote to local).

        Args:
            direction: Who sent the octets.
            data: The octets; empty data writes nothing.
            timestamp: Capture time, in seconds since the epoch (default: now).

        Raises:
            ValueError: The session or the recorder is closed.
        """
        stamp = _now(timestamp)
        view = memoryview(bytes(data))
        with self._recorder._lock:
            self._recorder._check_open()
            if not self._is_open:
                raise ValueError("the session is closed")
            mss = self._recorder.mss
            for start in range(0, len(view), mss):
                self._segment(Direction(direction), _PSH | _ACK, bytes(view[start : start + mss]), stamp)
            self._recorder._file.flush()

    def __call__(self, direction: Direction, data: bytes) -> None:
        """Record octets now (the observer signature)."""
        self.record(direction, data)

    def close(self, timestamp: float | None = None) -> None:
        """Write the FIN exchange (the local end closes first). Idempotent.

        Args:
            timestamp: Capture time, in seconds since the epoch (default: now).
        """
        with self._recorder._lock:
            if not self._recorder._closed:
                self._close(_now(timestamp))
                self._recorder._file.flush()

    def _open(self, initiator: Literal["local", "remote"], stamp: float) -> None:
        first = Direction.OUT if initiator == "local" else Direction.IN
        second = _other(first)
        self._segment(first, _SYN, b"", stamp, ack=0)
        self._next[first] += 1
        self._segment(second, _SYN | _ACK, b"", stamp)
        self._next[second] += 1
        self._segment(first, _ACK, b"", stamp)
        self._is_open = True

    def _close(self, stamp: float) -> None:
        if not self._is_open:
            return
        self._is_open = False
        for sender in (Direction.OUT, Direction.IN):
            self._segment(sender, _FIN | _ACK, b"", stamp)
            self._next[sender] += 1
        self._segment(Direction.OUT, _ACK, b"", stamp)

    def _segment(self, sender: Direction, flags: int, payload: bytes, stamp: float, ack: int | None = None) -> None:
        receiver = _other(sender)
        seq = self._next[sender] & 0xFFFFFFFF
        ack_no = self._next[receiver] & 0xFFFFFFFF if ack is None else ack
        tcp = dpkt.tcp.TCP(
            sport=self._port[sender], dport=self._port[receiver], seq=seq, ack=ack_no, flags=flags, win=_WINDOW
        )
        tcp.data = payload
        src, dst = self._ip[sender], self._ip[receiver]
        if self._ipv6:
            ip: dpkt.Packet = dpkt.ip6.IP6(src=src, dst=dst, nxt=dpkt.ip.IP_PROTO_TCP, hlim=64, plen=len(tcp), data=tcp)
            eth_type = dpkt.ethernet.ETH_TYPE_IP6
        else:
            ip = dpkt.ip.IP(src=src, dst=dst, p=dpkt.ip.IP_PROTO_TCP, ttl=64, data=tcp)
            eth_type = dpkt.ethernet.ETH_TYPE_IP
        frame = dpkt.ethernet.Ethernet(src=self._mac[sender], dst=self._mac[receiver], type=eth_type, data=ip)
        self._recorder._write(bytes(frame), stamp)
        self._next[sender] += len(payload)  # after the write: an interrupted write leaves no hole in the stream


def _other(direction: Direction) -> Direction:
    return Direction.IN if direction is Direction.OUT else Direction.OUT


def _now(timestamp: float | None) -> float:
    return time.time() if timestamp is None else timestamp
