"""``otwire inspect -i IFACE``: live capture on Linux, dissected as packets arrive.

:func:`open_live` opens an ``AF_PACKET`` raw socket bound to one interface (root or
``CAP_NET_RAW`` needed) and returns the packets as they arrive, as
:class:`~otwire.inspect.packets.Packet` objects that :func:`~otwire.inspect.packets.packet_rows`
dissects like a capture file (the same reassembly, dissectors and output options). On a
loopback interface each packet is seen once (the kernel's outgoing copy is skipped, as
tcpdump does). Capture stops at ``duration`` seconds, when ``stop()`` becomes true (the
command line makes Ctrl-C set it, see :func:`stop_on_interrupt`: the rows so far are kept
and the summary printed), or when the consumer stops reading (``-c``).
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from otwire.inspect.capture import CaptureError, CaptureWarning
from otwire.inspect.dissect import Row
from otwire.inspect.packets import Packet, packet_rows

__all__ = ["capture_rows", "open_live", "stop_on_interrupt"]

#: ``ETH_P_ALL`` (linux/if_ether.h): every protocol.
ETH_P_ALL: Final = 0x0003
#: ``PACKET_OUTGOING`` (linux/if_packet.h): a copy of a packet this host sent.
PACKET_OUTGOING: Final = 4
#: ARP hardware type (linux/if_arp.h) -> pcap link type.
_LINKTYPES: Final = {1: 1, 772: 1, 65534: 101}  # Ethernet, loopback (Ethernet framing), none (raw IP)
_LOOPBACK: Final = 772
#: Largest frame read, in octets (loopback MTU 65536 plus headers).
SNAPLEN: Final = 262_144
#: Longest wait on the socket before ``stop`` and ``duration`` are looked at again, in seconds.
POLL: Final = 0.2


def open_live(
    interface: str, *, duration: float | None = None, stop: Callable[[], bool] | None = None
) -> Iterator[Packet]:
    """Open a raw socket on ``interface`` now; return its packets as they arrive.

    Args:
        interface: The network interface (``lo``, ``eth0``).
        duration: Stop after this many seconds (``None``: no limit).
        stop: Polled at least every :data:`POLL` seconds; capture ends when it returns true.

    Returns:
        The packets, numbered from 1, time-stamped on arrival (seconds since the epoch).
        The socket is closed when the iterator ends or is closed.

    Raises:
        CaptureError: Not Linux, not allowed (needs root or ``CAP_NET_RAW``), no such
            interface, or an interface type other than Ethernet, loopback or raw IP.
    """
    family = getattr(socket, "AF_PACKET", None)
    if family is None:
        raise CaptureError(f"-i {interface}: live capture needs Linux (AF_PACKET sockets); this is {sys.platform}")
    try:
        sock = socket.socket(family, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError as exc:
        raise CaptureError(f"-i {interface}: live capture needs root or CAP_NET_RAW ({exc.strerror})") from exc
    try:
        sock.bind((interface, 0))
        hatype = sock.getsockname()[3]
    except OSError as exc:
        sock.close()
        raise CaptureError(f"-i {interface}: cannot capture there ({exc.strerror or exc})") from exc
    if hatype not in _LINKTYPES:
        sock.close()
        raise CaptureError(f"-i {interface}: unsupported interface type (ARPHRD {hatype})")
    return _receive(sock, _LINKTYPES[hatype], hatype == _LOOPBACK, duration, stop)


def _receive(
    sock: socket.socket, linktype: int, loopback: bool, duration: float | None, stop: Callable[[], bool] | None
) -> Iterator[Packet]:
    deadline = None if duration is None else time.monotonic() + duration
    number = 0
    try:
        while not (stop is not None and stop()):
            wait = POLL if deadline is None else min(POLL, deadline - time.monotonic())
            if wait <= 0:
                return
            sock.settimeout(wait)
            try:
                frame, address = sock.recvfrom(SNAPLEN)
            except TimeoutError:
                continue
            if loopback and address[2] == PACKET_OUTGOING:
                continue
            number += 1
            yield Packet(number, time.time(), linktype, frame)
    except KeyboardInterrupt:
        return  # Ctrl-C ends the capture; what was captured is still dissected and summed up
    finally:
        sock.close()


def capture_rows(
    interface: str,
    ports: Mapping[int, str],
    *,
    duration: float | None = None,
    stop: Callable[[], bool] | None = None,
    tap: Callable[[Iterator[Packet]], Iterable[Packet | CaptureWarning]] | None = None,
) -> Iterator[Row]:
    """Capture on ``interface`` and yield the dissected rows as packets arrive.

    Args:
        interface: The network interface.
        ports: Server port -> protocol name.
        duration: Stop after this many seconds.
        stop: Capture ends when it returns true (polled).
        tap: Wraps the packet stream (``-w`` remembers packets through it).

    Raises:
        CaptureError: As :func:`open_live` (at once, before any row).
    """
    packets = open_live(interface, duration=duration, stop=stop)
    return packet_rows(tap(packets) if tap else packets, ports, name=interface)


@contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """Turn the first Ctrl-C into an event (set) instead of an exception, while the block runs.

    A capture polls the event (``stop=event.is_set``), so it ends between packets, never in
    the middle of dissecting or printing one; a second Ctrl-C raises KeyboardInterrupt as
    usual. Outside the main thread (where signals cannot be handled) the event is only
    returned.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def interrupted(signum: int, frame: Any) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)
