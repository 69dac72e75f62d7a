"""``otwire inspect``: read captures and dissect the protocols otwire knows in them.

The library API is :func:`read`, which yields the records (:class:`Row`) the command
prints, optionally only those a predicate over their JSON values keeps, and
:func:`explain`, the detail tree of one APDU or frame::

    import otwire.inspect

    for row in otwire.inspect.read("capture.pcap", filter=lambda values: values["kind"] != "apdu"):
        print(otwire.inspect.row_json(row, "capture.pcap"))

:mod:`otwire.inspect.capture` turns a capture file (pcap, pcapng, hex dump or raw
stream, gzip-compressed or not) into reassembled per-sender byte streams;
:mod:`otwire.inspect.tcp` is the sans-IO TCP reassembler underneath it, and
:mod:`otwire.inspect.dissect` runs each protocol's dissector (from :mod:`otwire.registry`)
over them. :func:`record_values` is the JSON view of one record, by key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otwire.inspect.dissect import RecordFilter, Row, read
from otwire.inspect.records import record_values, row_json

if TYPE_CHECKING:
    from otwire.inspect.detail import DetailTree, explain

__all__ = ["DetailTree", "RecordFilter", "Row", "explain", "read", "record_values", "row_json"]

#: Names imported from their module on first use: only ``-V`` and ``explain`` need the detail trees.
_ON_DEMAND = {"DetailTree": "otwire.inspect.detail", "explain": "otwire.inspect.detail"}


def __getattr__(name: str) -> Any:
    """Import :data:`_ON_DEMAND` names on first access (``otwire.inspect.explain``, ``from ... import``).

    Raises:
        AttributeError: ``name`` is neither a submodule nor one of those names.
    """
    module = _ON_DEMAND.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
