"""The typed asyncio face of a readout: await the whole result, or iterate over partial results.

:meth:`XEP_0323.read <otwire.clients.xep0323.plugin.XEP_0323.read>` returns a
:class:`Readout` at once (the request is already queued for sending)::

    result = await xmpp.plugin["xep_0323"].read("sensor@example.org/device", node_ids=["Device01"])
    for node in result.nodes:
        ...

    readout = xmpp.plugin["xep_0323"].read(jid, fields=["Temperature"], momentary=True)
    async for part in readout:          # FieldsReceived / FailureReceived, as they arrive
        ...
    result = await readout              # the same readout, complete

A rejection raises :class:`~otwire.errors.RequestError` (``code`` is None, the message is the
device's text), a cancellation :class:`~otwire.errors.RequestError` too, and a readout that
did not complete within the plugin's ``readout_timeout`` :class:`~otwire.errors.RequestTimeout`.
A readout still outstanding when the client's stream disconnects, or when the device sends
``<presence type='unavailable'/>``, raises :class:`~otwire.errors.ConnectionLost` at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from otwire.errors import ConnectionLost, RequestError, RequestTimeout

__all__ = ["Readout", "ReadoutResult"]

#: Partial results held for an ``async for`` consumer (or one that never comes); beyond it they
#: are no longer queued, the result still collects everything, and the iteration ends with RequestError.
MAX_PENDING_PARTS = 10_000


@dataclass(frozen=True, slots=True)
class ReadoutResult:
    """A completed readout (XEP-0323 §3).

    Attributes:
        peer: the device's full JID.
        seqnr: the readout's sequence number (``req@seqnr``).
        queued: the device queued the request (``accepted@queued``).
        nodes: every ``fields/node`` received, in arrival order (one node id may repeat:
            a device can split a readout over several messages).
        errors: every ``failure/error`` received, in arrival order.
    """

    peer: str
    seqnr: int
    queued: bool
    nodes: tuple[Any, ...]
    errors: tuple[Any, ...]

    def values(self) -> dict[tuple[str, str], Any]:
        """Every field by ``(node_id, name)``; a later timestamp of the same field wins."""
        out: dict[tuple[str, str], Any] = {}
        for node in self.nodes:
            for stamp in node.timestamps:
                for item in stamp.fields:
                    out[(node.node_id, item.name)] = item
        return out


@dataclass(eq=False)
class Readout:
    """One readout in flight: awaitable for its :class:`ReadoutResult`, async-iterable for its parts."""

    peer: str
    seqnr: int
    _cancel: Callable[[], None]
    _future: asyncio.Future[ReadoutResult]
    _parts: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    _nodes: list[Any] = field(default_factory=list)
    _errors: list[Any] = field(default_factory=list)
    _queued: bool = False
    _overflowed: bool = False

    def __await__(self) -> Generator[Any, None, ReadoutResult]:
        return self._future.__await__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            part = await self._parts.get()
            if part is None:
                break
            yield part
        self._future.result()  # raises the readout's error, if it ended with one
        if self._overflowed:
            raise RequestError(f"more than {MAX_PENDING_PARTS} partial results were waiting: some were not queued")

    @property
    def done(self) -> bool:
        """True once the readout completed, failed, timed out or was cancelled."""
        return self._future.done()

    def cancel(self) -> None:
        """Ask the device to cancel the readout (``<cancel/>``); the result then raises RequestError."""
        self._cancel()

    # -- fed by the plugin ----------------------------------------------------------------------

    def accepted(self, queued: bool) -> None:
        self._queued = self._queued or queued

    def part(self, event: Any, nodes: tuple[Any, ...] = (), errors: tuple[Any, ...] = ()) -> None:
        if self._future.done():
            return
        self._nodes.extend(nodes)
        self._errors.extend(errors)
        if self._parts.qsize() >= MAX_PENDING_PARTS:
            self._overflowed = True
            return
        self._parts.put_nowait(event)

    def complete(self) -> None:
        if not self._future.done():
            result = ReadoutResult(self.peer, self.seqnr, self._queued, tuple(self._nodes), tuple(self._errors))
            self._future.set_result(result)
            self._parts.put_nowait(None)

    def fail(self, error: RequestError | ConnectionLost) -> None:
        if not self._future.done():
            self._future.set_exception(error)
            self._future.exception()  # retrieved here: a caller that only iterates is not warned
            self._parts.put_nowait(None)


def rejected(text: str | None, reply: object = None) -> RequestError:
    """The error a rejected readout raises."""
    return RequestError(f"readout rejected: {text or 'no reason given'}", reply=reply)


def timed_out(seconds: float) -> RequestTimeout:
    """The error a readout raises when it did not complete in time."""
    return RequestTimeout(f"readout did not complete within {seconds} s")
