"""Faults the i3X server engine injects on demand, for testing clients (notes §10; off by default).

A :class:`Fault` makes requests to one endpoint path (below ``base_path``; ``"*"``: every path
but ``/info``) answer an HTTP error with an error envelope and, if given, ``Retry-After``
seconds; or, with ``status=None`` ("stall"), makes the SSE streams opened there go silent
after their head and greeting: the connection stays open but gets no more octets (no updates,
no keep-alives), like a half-open TCP connection. A fault applies ``count`` times, or until
cleared. The text form (``otwire serve i3x --fault``) is ``PATH:STATUS[:RETRY_AFTER]`` or
``PATH:stall``, several separated by commas.
"""

from __future__ import annotations

import http
from dataclasses import dataclass

from otwire.errors import InvalidArgument

__all__ = ["Fault", "Faults", "parse_faults"]

_KNOWN = frozenset(int(status) for status in http.HTTPStatus)


@dataclass(slots=True, kw_only=True)
class Fault:
    """One injected fault.

    Attributes:
        path: Endpoint path below ``base_path`` (``"/objects/value"``), or ``"*"`` (every path but ``/info``).
        status: HTTP status to answer (400..599), or ``None`` to stall the SSE streams opened on ``path``.
        retry_after: ``Retry-After`` header value in seconds (``None``: no header).
        count: How many more requests it applies to (``None``: until cleared).
    """

    path: str
    status: int | None = 503
    retry_after: int | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.path != "*" and not self.path.startswith("/"):
            raise InvalidArgument(f"fault path {self.path!r} must start with '/' (below the base path) or be '*'")
        if self.status is not None and (not 400 <= self.status <= 599 or self.status not in _KNOWN):
            raise InvalidArgument(f"fault status {self.status} must be a known HTTP status 400..599 (or None: stall)")
        for name in ("retry_after", "count"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise InvalidArgument(f"fault {name}={value!r} must be an int >= 0")


class Faults:
    """The engine's active faults, looked up per request (the first match applies)."""

    def __init__(self) -> None:
        self.active: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Add ``fault`` (after the ones already active)."""
        self.active.append(fault)

    def clear(self) -> None:
        """Remove every fault."""
        self.active.clear()

    def take(self, path: str) -> Fault | None:
        """The fault for a request to ``path`` (below ``base_path``), counting it; ``None`` when none applies."""
        for fault in self.active:
            if fault.path == path or (fault.path == "*" and path != "/info"):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.active.remove(fault)
                return fault
        return None


def parse_faults(text: str) -> list[Fault]:
    """Parse ``--fault`` text: ``PATH:STATUS[:RETRY_AFTER]`` or ``PATH:stall``, comma-separated.

    >>> parse_faults("/objects/value:503:2,/subscriptions/stream:stall")  # doctest: +NORMALIZE_WHITESPACE
    [Fault(path='/objects/value', status=503, retry_after=2, count=None),
     Fault(path='/subscriptions/stream', status=None, retry_after=None, count=None)]

    Raises:
        InvalidArgument: A part is not of that form, or a number is out of range.
    """
    faults = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        path, _, rest = part.partition(":")
        status, _, retry = rest.partition(":")
        try:
            code = None if status == "stall" else int(status)
            faults.append(Fault(path=path, status=code, retry_after=int(retry) if retry else None))
        except ValueError:
            raise InvalidArgument(f"--fault {part!r} is not PATH:STATUS[:RETRY_AFTER] or PATH:stall") from None
    return faults
