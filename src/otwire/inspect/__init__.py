"""``otwire inspect``: read captures and dissect the industrial protocols in them.

:mod:`otwire.inspect.capture` turns a capture file (pcap, pcapng, hex dump or raw
stream) into reassembled per-direction byte streams; :mod:`otwire.inspect.tcp` is
the sans-IO TCP reassembler underneath it.
"""

from __future__ import annotations
