"""Sensor side of the plugin: slixmpp-style devices driven by the Sensor machine's events.

The machine decides (accept, reject, ``when``, comm timeouts, splitting, done); this module
only calls ``device.request_fields`` for each node of a started readout and turns the
device's reports into ``fields_ready``/``node_failed`` inputs.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otwire.clients.xep0323 import _legacy
from otwire.codecs import xep0323 as codec
from otwire.codecs.xep0323.values import parse_datetime
from otwire.errors import DecodeError, InvalidArgument
from otwire.protocols.xep0323 import ReadoutRequested, Sensor

__all__ = ["DeviceSessions", "Target", "field_check", "report", "request_args", "start_devices"]

log = logging.getLogger("otwire.clients.xep0323")


@dataclass(frozen=True, slots=True)
class Target:
    """The readout a device session reports to: the requester's full JID and the seqnr."""

    peer: str
    seqnr: int


@dataclass
class DeviceSessions:
    """Session ids handed to devices (opaque strings, as slixmpp's) and the readout each belongs to."""

    _by_session: dict[str, Target] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def open(self, peer: str, seqnr: int) -> str:
        session = f"otwire-{next(self._counter)}"
        self._by_session[session] = Target(peer, seqnr)
        return session

    def target(self, session: str) -> Target | None:
        return self._by_session.get(session)

    def forget(self, peer: str, seqnr: int) -> None:
        gone = Target(peer, seqnr)
        for session in [s for s, t in self._by_session.items() if t == gone]:
            del self._by_session[session]

    def __len__(self) -> int:
        return len(self._by_session)


def request_args(flags: Mapping[str, str]) -> dict[str, Any]:
    """slixmpp's request ``flags`` (``{"momentary": "true", "when": "2024-01-01T00:00:00", ...}``) as
    keyword arguments of ``Requester.request`` (``flags``, ``all_types``, ``historical``, ``from_``, ``to``, ``when``).

    Raises:
        InvalidArgument: an unknown flag, or ``from``/``to``/``when`` that is not an xs:dateTime.
    """
    types = codec.FieldType(0)
    args: dict[str, Any] = {}
    for name, value in flags.items():
        if name in ("from", "to", "when"):
            try:
                args["from_" if name == "from" else name] = parse_datetime(str(value))
            except ValueError as exc:
                raise InvalidArgument(f"flag {name}={value!r}: {exc}") from None
            continue
        if str(value).lower() not in ("true", "1"):
            continue
        if name in ("all", "historical"):
            args["all_types" if name == "all" else name] = True
        elif name in codec.FieldType.__members__:
            types |= codec.FieldType[name]
        else:
            raise InvalidArgument(f"unknown request flag {name!r}")
    args["flags"] = types
    return args


def field_check(node_id: str, device: Any) -> Callable[[str], bool] | None:
    """The machine's ``has_field`` for a slixmpp device: its ``has_field``, a raise counting as no.

    ``None`` when the device has no ``has_field`` (any name may then exist).
    """
    has_field = getattr(device, "has_field", None)
    if not callable(has_field):
        return None

    def check(name: str) -> bool:
        try:
            return bool(has_field(name))
        except Exception:  # a device bug must not break the request handler
            log.exception("device %s raised in has_field(%r)", node_id, name)
            return False

    return check


def start_devices(plugin: Any, event: ReadoutRequested) -> None:
    """Ask every node of a started readout for its fields (``plugin``: the ``XEP_0323`` driving it)."""
    session = plugin._devices.open(event.peer, event.seqnr)
    flags = _legacy.flags_dict(event.req)
    names = sorted(event.field_names)
    for node_id in event.node_ids:
        device = plugin.nodes[node_id]["device"]
        try:
            device.request_fields(names, flags=flags, session=session, callback=plugin._device_report)
        except Exception as exc:  # a device bug fails its node, not the stream
            log.exception("device %s raised in request_fields", node_id)
            plugin._sensor.node_failed(event.peer, event.seqnr, node_id, f"device error: {exc}", plugin._now())


def report(
    sensor: Sensor, target: Target, node_id: str, result: str, block: Any, error_msg: str | None, now: float
) -> None:
    """Feed one device report (slixmpp's ``result`` ``"fields"``, ``"done"`` or ``"error"``) to the machine."""
    if result == "error":
        sensor.node_failed(target.peer, target.seqnr, node_id, error_msg or "error", now)
        return
    stamps: tuple[codec.Timestamp, ...] = ()
    if block:
        try:
            stamps = _legacy.block_to_fields(target.seqnr, node_id, block).nodes[0].timestamps
        except (DecodeError, KeyError, TypeError, AttributeError) as exc:
            log.warning("device %s reported data that is not XEP-0323: %s", node_id, exc)
            sensor.node_failed(target.peer, target.seqnr, node_id, f"invalid data: {exc}", now)
            return
    sensor.fields_ready(target.peer, target.seqnr, node_id, stamps, now, done=result == "done")
