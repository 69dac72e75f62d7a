"""Peers for the XEP-0323 tests: slixmpp's devices, a recorder for requester callbacks, client pairs.

Tests may use slixmpp's ``xep_0323`` plugin as the interop peer; ``otwire`` itself never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from slixmpp.plugins.xep_0323.device import Device

from .prosody import ProsodyServer, connect_client, disconnect_client

#: The requester callback results that end a readout.
TERMINAL = frozenset({"done", "rejected", "cancelled"})

#: Fields of the momentary test device: name -> (type, unit, dataType, value, flags); values are wire strings.
MOMENTARY_FIELDS: dict[str, tuple[str, str | None, str | None, str, dict[str, str]]] = {
    "Temperature": ("numeric", "°C", None, "23.40", {"momentary": "true", "automaticReadout": "true"}),
    "Heating": ("boolean", None, None, "true", {"momentary": "true", "status": "true"}),
    "Device ID": ("string", None, None, "Device01", {"momentary": "true", "identity": "true"}),
    "Mode": ("enum", None, "ModeEnum", "Auto", {"momentary": "true"}),
    "Installed": ("dateTime", None, None, "2012-01-01T00:00:00", {"momentary": "true"}),
    "Runtime": ("timeSpan", None, None, "P1DT2H", {"momentary": "true"}),
}

MOMENTARY_TIMESTAMP = "2013-03-07T16:24:30"


def momentary_device(node_id: str) -> Device:
    """slixmpp's example ``Device`` with the six v0.2 field types as momentary values."""
    device = Device(node_id)
    for name, (typename, unit, data_type, value, flags) in MOMENTARY_FIELDS.items():
        device._add_field(name, typename, unit, data_type)
        device._add_field_momentary_data(name, value, flags)
    device.momentary_timestamp = MOMENTARY_TIMESTAMP
    return device


@dataclass
class Recorder:
    """Collects ``request_data`` callbacks as ``(result, kwargs)`` and wakes waiters on each one."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, from_jid: Any, result: str, **kwargs: Any) -> None:
        kwargs["from_jid"] = str(from_jid)
        self.calls.append((result, kwargs))
        self._changed.set()

    def results(self) -> list[str]:
        """The callback results in order (``accepted``, ``fields``, ``done`` ...)."""
        return [result for result, _ in self.calls]

    def of(self, result: str) -> list[dict[str, Any]]:
        """The keyword arguments of every callback with this result."""
        return [kwargs for got, kwargs in self.calls if got == result]

    async def wait_for(self, *results: str, timeout: float = 5.0) -> None:
        """Wait until a callback with one of ``results`` arrived.

        Raises:
            TimeoutError: none arrived within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not any(got in results for got in self.results()):
                self._changed.clear()
                await self._changed.wait()

    async def settles(self, timeout: float) -> bool:
        """Return True if no callback at all arrived within ``timeout`` seconds (the readout stalled)."""
        before = len(self.calls)
        self._changed.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return True
        return len(self.calls) == before


SLIXMPP = {"xep_0323": {"pconfig": {"threaded": False}}}


def otwire(**config: Any) -> dict[str, Any]:
    """``plugins`` for :func:`connect_client` loading otwire's plugin (the test skips without it)."""
    module = pytest.importorskip("otwire.clients.xep0323", reason="otwire's XEP-0323 plugin needs its machines")
    return {"xep_0323": {"pconfig": {"threaded": False, **config}, "module": module}}


class InertTimer:
    """Stands in for slixmpp's ``TimerReset`` (a thread per node, and ``reset`` broken since 1.13: B1).

    With it slixmpp's sensor starts no thread and its historical readouts work; its comm
    timeouts never fire (the tests that need a timeout use otwire's sensor).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def start(self) -> None:
        pass

    def cancel(self) -> None:
        pass

    def reset(self) -> None:
        pass


@contextlib.contextmanager
def inert_slixmpp_timers() -> Iterator[None]:
    """Patch slixmpp's sensor to use :class:`InertTimer` for its per-node comm timers."""
    from slixmpp.plugins.xep_0323 import sensordata

    original = sensordata.TimerReset
    sensordata.TimerReset = InertTimer
    try:
        yield
    finally:
        sensordata.TimerReset = original


@contextlib.asynccontextmanager
async def pair(
    prosody: ProsodyServer, requester: dict[str, Any], sensor: dict[str, Any], *, tag: str = "x"
) -> AsyncIterator[tuple[Any, Any]]:
    """Connect a requester and a sensor client with the given plugin set-ups; disconnect both after."""
    sensor_client = await connect_client(prosody, "sensor", f"device-{tag}", plugins=sensor)
    try:
        requester_client = await connect_client(prosody, "requester", f"app-{tag}", plugins=requester)
        try:
            yield requester_client, sensor_client
        finally:
            await disconnect_client(requester_client)
    finally:
        await disconnect_client(sensor_client)
