"""``otwire inspect -i IFACE``: live capture (Linux AF_PACKET)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from otwire.errors import InvalidArgument
from otwire.inspect.dissect import Row


def capture_rows(interface: str, ports: Mapping[int, str], *, duration: float | None = None) -> Iterator[Row]:
    """Capture on ``interface`` and yield rows as packets arrive.

    Raises:
        InvalidArgument: Not available yet.
    """
    raise InvalidArgument("live capture is not available yet")
