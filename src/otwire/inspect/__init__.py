"""``otwire inspect``: read captures and dissect the protocols otwire knows in them.

The library API is :func:`read` (and :func:`explain`, the detail tree of one frame)::

    import otwire.inspect

    for row in otwire.inspect.read("capture.pcap"):
        print(otwire.inspect.row_json(row, "capture.pcap"))

:mod:`otwire.inspect.capture` turns a capture file (pcap, pcapng, hex dump or raw
stream, gzip-compressed or not) into reassembled per-sender byte streams;
:mod:`otwire.inspect.tcp` is the sans-IO TCP reassembler underneath it, and
:mod:`otwire.inspect.dissect` runs each protocol's dissector (from :mod:`otwire.registry`)
over them.
"""

from __future__ import annotations

from otwire.inspect.detail import DetailTree, explain
from otwire.inspect.dissect import Row, read, row_json

__all__ = ["DetailTree", "Row", "explain", "read", "row_json"]
