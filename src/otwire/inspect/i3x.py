"""PLACEHOLDER for the i3X dissector (issue 9 §4, later): it decodes nothing yet.

The registry requires a dissector and a view for every protocol; until the i3X
dissector exists, HTTP conversations on the i3X port give no findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from otwire.inspect.model import Column, Finding, ProtocolView
from otwire.inspect.records import Sender

__all__ = ["VIEW", "I3XDissector"]


class I3XDissector:
    """Placeholder: consumes both directions and reports nothing."""

    def feed(self, sender: Sender, data: bytes) -> Iterable[Finding]:
        """Consume octets; nothing is decoded yet."""
        return ()

    def end(self, sender: Sender) -> Iterable[Finding]:
        """End of ``sender``'s stream; nothing to report."""
        return ()


def _json(message: Any) -> dict[str, Any]:
    return {}


def _cells(message: Any) -> tuple[str, ...]:
    return (str(message),)


VIEW = ProtocolView(_json, (Column("message"),), _cells, lambda message: "HTTP", lambda message: None)
