"""The slixmpp plugin: otwire's XEP-0323 readout machines driven from slixmpp's event loop.

:class:`XEP_0323` is a thin driver. Stanzas arrive through two slixmpp handlers (an
``<iq type=get|set>`` or a ``<message>`` with a child in ``urn:xmpp:iot:sensordata``) and the
replies to our own requests through ``Iq.send``'s callback; each becomes a
:class:`~otwire.protocols.xep0323.Stanza` fed to the :class:`~otwire.protocols.xep0323.Requester`
(messages, IQ replies) or the :class:`~otwire.protocols.xep0323.Sensor` (requests). After every
input the driver sends ``messages_to_send()``, hands events to callbacks and
:class:`~otwire.clients.xep0323.readout.Readout` handles, and re-arms one ``loop.call_at`` for
``get_timer()``. There are no threads and no timers outside asyncio; a device may call back
from its own thread (the call is moved onto the loop).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from slixmpp import JID
from slixmpp.plugins.base import BasePlugin
from slixmpp.stanza import Iq
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.handler import Callback

from otwire.clients.xep0323 import _cork, _glue, _legacy, _sensor
from otwire.clients.xep0323.readout import Readout, rejected, timed_out
from otwire.codecs import xep0323 as codec
from otwire.codecs.xep0323 import StanzaError
from otwire.errors import ConnectionLost, DecodeError, InvalidArgument, RequestError
from otwire.protocols.xep0323 import Requester, RequesterConfig, Sensor, SensorConfig, Stanza
from otwire.protocols.xep0323 import events as ev

__all__ = ["XEP_0323"]

log = logging.getLogger("otwire.clients.xep0323")

_IQ_HANDLER = "otwire XEP-0323 iq"
_MESSAGE_HANDLER = "otwire XEP-0323 message"

LegacyCallback = Callable[..., object]


class XEP_0323(BasePlugin):
    """XEP-0323 sensor data readout on otwire's machines, a drop-in for slixmpp's ``xep_0323``.

    Load it as slixmpp's, naming this module::

        import otwire.clients.xep0323
        xmpp.register_plugin("xep_0323", {"threaded": False}, module=otwire.clients.xep0323)

    Configuration (``pconfig``):
        threaded: accepted for compatibility and ignored (everything runs on the loop).
        dialect: ``"v0.2"`` (default: slixmpp peers; ``timeSpan``, hybrid rejection) or ``"v0.6"``.
        readout_timeout: seconds a readout may take from request to done (default 60.0).
        max_fields_per_message: field values per ``<fields/>`` message the sensor sends at most
            (default 100); a larger readout is split over several messages.

    Raises (when slixmpp enables the plugin):
        InvalidArgument: an unknown dialect or a value out of range.
    """

    name = "xep_0323"
    description = "XEP-0323: Internet of Things - Sensor Data (otwire)"
    dependencies: ClassVar[set[str]] = {"xep_0030"}
    default_config: ClassVar[dict[str, Any]] = {
        "threaded": False,
        "dialect": "v0.2",
        "readout_timeout": 60.0,
        "max_fields_per_message": 100,
    }

    # -- slixmpp plugin life cycle ------------------------------------------------------------

    def plugin_init(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self._requester = Requester(config=RequesterConfig(readout_timeout=float(self.config["readout_timeout"])))
        wall_offset = time.time() - self.xmpp.loop.time()  # the machines' `when` is wall-clock time
        sensor_config = SensorConfig(
            dialect=self.config["dialect"], max_fields_per_message=int(self.config["max_fields_per_message"])
        )
        self._sensor = Sensor(config=sensor_config, wall_offset=wall_offset)
        self._devices = _sensor.DeviceSessions()
        self._callbacks: dict[tuple[str, int], LegacyCallback] = {}
        self._readouts: dict[tuple[str, int], Readout] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._flushing = False
        self._corker = _cork.Corker(self.xmpp)
        self.xmpp.register_handler(Callback(_IQ_HANDLER, _glue.PayloadMatcher("iq"), self._on_iq))
        self.xmpp.register_handler(Callback(_MESSAGE_HANDLER, _glue.PayloadMatcher("message"), self._on_message))
        self.xmpp.add_event_handler("disconnected", self._on_disconnected)
        self.xmpp.add_event_handler("presence_unavailable", self._on_unavailable)

    def post_init(self) -> None:
        self.xmpp.plugin["xep_0030"].add_feature(codec.NS)

    def plugin_end(self) -> None:
        self.xmpp.remove_handler(_IQ_HANDLER)
        self.xmpp.remove_handler(_MESSAGE_HANDLER)
        self.xmpp.del_event_handler("disconnected", self._on_disconnected)
        self.xmpp.del_event_handler("presence_unavailable", self._on_unavailable)
        self.xmpp.plugin["xep_0030"].del_feature(feature=codec.NS)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._corker.uncork()

    # -- sensor side: slixmpp's API -----------------------------------------------------------

    def register_node(
        self, nodeId: str, device: Any, commTimeout: float, sourceId: str | None = None, cacheType: str | None = None
    ) -> None:
        """Serve ``device`` as node ``nodeId`` (slixmpp's signature and device interface).

        ``device`` has ``has_field(name) -> bool`` and ``request_fields(fields, flags, session,
        callback)``; it reports with ``callback(session, nodeId=..., result="fields"|"done"|"error",
        timestamp_block=..., error_msg=...)``, from the loop or from any thread. ``commTimeout`` is
        the seconds the device may take to report the node completely (``result="done"``) before
        the node fails with "Timeout" (slixmpp restarts its timer at every report). As slixmpp's, a
        request naming fields is rejected ("Invalid field <name>") when no node it reads
        ``has_field`` any of them.

        Raises:
            InvalidArgument: ``commTimeout`` is not a positive number of seconds.
        """
        if not isinstance(commTimeout, (int, float)) or commTimeout <= 0:
            raise InvalidArgument(f"commTimeout must be positive seconds, not {commTimeout!r}")
        self.nodes[nodeId] = {
            "device": device,
            "commTimeout": commTimeout,
            "sourceId": sourceId,
            "cacheType": cacheType,
        }
        self._sensor.register_node(
            nodeId,
            comm_timeout=float(commTimeout),
            source_id=sourceId,
            cache_type=cacheType,
            has_field=_sensor.field_check(nodeId, device),
        )

    # -- requester side: slixmpp's API --------------------------------------------------------

    def request_data(
        self,
        from_jid: Any,
        to_jid: Any,
        callback: LegacyCallback,
        nodeIds: Iterable[str] | None = None,
        fields: Iterable[str] | None = None,
        flags: Mapping[str, str] | None = None,
    ) -> str:
        """Request a readout from ``to_jid`` (a full JID); return the session at once (the seqnr, a str).

        ``callback(from_jid=..., result=..., nodeId=..., timestamp=..., fields=..., error_msg=...)``
        is called as slixmpp's: ``accepted``/``queued``, ``started``, ``fields`` (one call per node
        and timestamp, values as the wire strings), ``failure`` (per node, not final),
        ``rejected``, ``cancelled``, ``done``; a readout that does not finish within
        ``readout_timeout`` gets ``failure`` with ``error_msg="Timeout"`` and then ``done``; one
        still outstanding when the stream disconnects or the device goes offline (unavailable
        presence) gets ``failure`` with ``error_msg="stream closed"``/``"peer unavailable"`` and
        ``done`` at once.
        ``flags`` are slixmpp's ``{"momentary": "true", "when": "...", ...}``.
        """
        del from_jid  # the stream's bound JID is the sender; slixmpp also ignores it on the wire
        seqnr = self._request(str(to_jid), nodeIds, fields, dict(flags or {}))
        self._callbacks[(str(to_jid), seqnr)] = callback
        self._flush()
        return str(seqnr)

    def cancel_request(self, session: str | int) -> None:
        """Cancel the readout returned by :meth:`request_data` (or :meth:`read`'s seqnr).

        Raises:
            InvalidArgument: no readout with this session is in flight.
        """
        key = self._key_of(session)
        self._requester.cancel(key[0], key[1], self._now())
        self._flush()

    # -- requester side: typed asyncio API ----------------------------------------------------

    def read(
        self,
        jid: str,
        *,
        node_ids: Iterable[str] | None = None,
        fields: Iterable[str] | None = None,
        flags: Mapping[str, str] | None = None,
        momentary: bool | None = None,
    ) -> Readout:
        """Start a readout of ``jid`` and return its :class:`Readout` (await it, or ``async for`` it).

        ``momentary=True`` adds the ``momentary`` flag; ``flags`` takes any other request
        attribute as slixmpp spells it (``{"historical": "true", "from": "2024-01-01T00:00:00"}``).
        Must be called on the client's event loop.
        """
        request_flags = dict(flags or {})
        if momentary:
            request_flags["momentary"] = "true"
        seqnr = self._request(jid, node_ids, fields, request_flags)
        key = (jid, seqnr)
        readout = Readout(jid, seqnr, lambda: self.cancel_request(seqnr), asyncio.get_running_loop().create_future())
        self._readouts[key] = readout
        self._flush()
        return readout

    # -- inputs ---------------------------------------------------------------------------------

    def _request(
        self, jid: str, node_ids: Iterable[str] | None, fields: Iterable[str] | None, flags: dict[str, str]
    ) -> int:
        args = _sensor.request_args(flags)
        return self._requester.request(
            jid, self._now(), node_ids=tuple(node_ids or ()), fields=tuple(fields or ()), **args
        )

    def _on_iq(self, iq: StanzaBase) -> None:
        try:
            stanza = _glue.from_stanza(iq)
        except DecodeError as exc:
            log.warning("malformed XEP-0323 request from %s: %s", iq["from"], exc)
            self._send_bad_request(iq, str(exc))
            return
        self._sensor.receive_message(stanza, self._now())
        self._flush()

    def _on_message(self, message: StanzaBase) -> None:
        try:
            stanza = _glue.from_stanza(message)
        except DecodeError as exc:
            log.warning("malformed XEP-0323 message from %s dropped: %s", message["from"], exc)
            return
        self._requester.receive_message(stanza, self._now())
        self._flush()

    def _on_iq_reply(self, iq: StanzaBase) -> None:
        try:
            stanza = _glue.from_stanza(iq)
        except DecodeError as exc:
            log.warning("malformed XEP-0323 reply from %s: %s", iq["from"], exc)
            stanza = Stanza(
                kind="iq",
                type="error",
                id=iq["id"],
                from_jid=str(iq["from"]),
                to_jid=str(iq["to"]),
                payload=None,
                error=StanzaError(type="modify", condition="bad-request", text=str(exc)),
            )
        self._requester.receive_message(stanza, self._now())
        self._flush()

    def _on_disconnected(self, _event: Any = None) -> None:
        """The stream ended: every readout, ours and the devices', ends now (``ReadoutAborted``)."""
        self._corker.uncork()
        now = self._now()
        self._requester.stream_closed(now)
        self._sensor.stream_closed(now)
        self._flush()

    def _on_unavailable(self, presence: StanzaBase) -> None:
        """A peer went offline (``<presence type='unavailable'/>``): its readouts end now."""
        jid = presence["from"].full
        if not jid or jid == self.xmpp.boundjid.full:
            return
        now = self._now()
        self._requester.peer_unavailable(jid, now)
        self._sensor.peer_unavailable(jid, now)
        self._flush()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self._now()
        for machine in (self._requester, self._sensor):
            deadline = machine.get_timer()
            if deadline is not None and deadline <= now:
                machine.handle_timer(now)
        self._flush()

    def _device_report(
        self, session: str, nodeId: str, result: str, timestamp_block: Any = None, error_msg: str | None = None
    ) -> None:
        """The callback handed to devices (slixmpp's ``_device_field_request_callback`` signature)."""
        if not self._on_loop():
            self.xmpp.loop.call_soon_threadsafe(
                self._device_report, session, nodeId, result, timestamp_block, error_msg
            )
            return
        target = self._devices.target(session)
        if target is None:
            return  # the readout was cancelled or timed out: late data is dropped, as slixmpp does
        _sensor.report(self._sensor, target, nodeId, result, timestamp_block, error_msg, self._now())
        self._flush()

    # -- outputs --------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Send what the machines queued, deliver their events, re-arm the timer (repeat until quiet).

        Re-entrant calls (a device reporting from inside ``request_fields``) return at once:
        the outer loop sends their output after what was queued before, keeping the order.
        """
        if self._flushing:
            return
        self._flushing = True
        try:
            while True:
                out = self._requester.messages_to_send() + self._sensor.messages_to_send()
                if out:
                    self._corker.cork()  # this step's stanzas leave in one segment (_cork.py)
                for stanza in out:
                    self._send(stanza)
                if not self._deliver_events() and not out:
                    break
        finally:
            self._flushing = False
        self._arm_timer()

    def _send(self, out: Stanza) -> None:
        stanza = _glue.to_slixmpp(self.xmpp, out, self.config["dialect"])
        if isinstance(stanza, Iq) and out.type in ("get", "set"):
            timeout = float(self.config["readout_timeout"]) + 60.0
            future = stanza.send(callback=self._on_iq_reply, timeout=timeout)  # type: ignore[no-untyped-call]
            future.add_done_callback(_retrieve)
        else:
            stanza.send()

    def _deliver_events(self) -> bool:
        any_event = False
        for machine, handler in ((self._requester, self._requester_event), (self._sensor, self._sensor_event)):
            while (event := machine.next_event()) is not None:
                any_event = True
                handler(event)
        return any_event

    def _sensor_event(self, event: Any) -> None:
        if isinstance(event, ev.ReadoutRequested):
            _sensor.start_devices(self, event)
        elif isinstance(event, ev.CancelRequested | ev.ReadoutFinished | ev.ReadoutAborted):
            self._devices.forget(event.peer, event.seqnr)
        elif isinstance(event, ev.StanzaDropped):
            self._dropped(event)

    def _requester_event(self, event: Any) -> None:
        if isinstance(event, ev.StanzaDropped):
            self._dropped(event)
            return
        key = (event.peer, event.seqnr)
        callback = self._callbacks.get(key)
        if callback is not None:
            for kwargs in _legacy_calls(event):
                try:
                    callback(from_jid=JID(event.peer), **kwargs)
                except Exception:  # the application's bug must not stall the readouts of others
                    log.exception("xep_0323 request_data callback raised on %s", kwargs["result"])
        readout = self._readouts.get(key)
        if readout is not None:
            _feed(readout, event, float(self.config["readout_timeout"]))
        if isinstance(event, _FINAL):
            self._callbacks.pop(key, None)
            self._readouts.pop(key, None)

    def _dropped(self, event: Any) -> None:
        log.warning("XEP-0323 stanza dropped: %s", event.reason)
        self.xmpp.event("xep_0323_stanza_dropped", event)

    def _arm_timer(self) -> None:
        deadlines = [d for d in (self._requester.get_timer(), self._sensor.get_timer()) if d is not None]
        deadline = min(deadlines) if deadlines else None
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self.xmpp.loop.call_at(deadline, self._on_timer)

    def _send_bad_request(self, iq: StanzaBase, text: str) -> None:
        reply = iq.reply(clear=True)
        reply["type"] = "error"
        reply["error"]["type"] = "modify"
        reply["error"]["condition"] = "bad-request"
        reply["error"]["text"] = text[:200]
        reply.send()

    # -- helpers --------------------------------------------------------------------------------

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.xmpp.loop
        except RuntimeError:  # a device's own thread: no loop runs here
            return False

    def _now(self) -> float:
        return float(self.xmpp.loop.time())

    def _key_of(self, session: str | int) -> tuple[str, int]:
        try:
            seqnr = int(session)
        except (TypeError, ValueError):
            raise InvalidArgument(f"not a readout session: {session!r}") from None
        for key in (*self._callbacks, *self._readouts):
            if key[1] == seqnr:
                return key
        raise InvalidArgument(f"no readout with session {session!r} is in flight")


_FINAL = (ev.ReadoutCompleted, ev.ReadoutRejected, ev.ReadoutCancelled, ev.ReadoutTimedOut, ev.ReadoutAborted)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # the reply went to the machine; the IqError/IqTimeout is not news


def _legacy_calls(event: Any) -> list[dict[str, Any]]:
    """slixmpp's requester callback keyword arguments for one machine event (may be several calls)."""
    if isinstance(event, ev.ReadoutAccepted):
        return [{"result": "queued" if event.queued else "accepted"}]
    if isinstance(event, ev.ReadoutStarted):
        return [{"result": "started"}]
    if isinstance(event, ev.FieldsReceived):
        return [{"result": "fields", **kwargs} for kwargs in _legacy.fields_callbacks(event.nodes)]
    if isinstance(event, ev.FailureReceived):
        return [
            {"result": "failure", "nodeId": e.node_id, "timestamp": e.timestamp, "error_msg": e.message}
            for e in event.errors
        ]
    if isinstance(event, ev.ReadoutRejected):
        return [{"result": "rejected", "error_msg": _rejection_text(event)}]
    if isinstance(event, ev.ReadoutCancelled) and event.refused:  # slixmpp reports a refused cancel as `rejected`
        return [{"result": "rejected", "error_msg": _rejection_text(event)}]
    if isinstance(event, ev.ReadoutCancelled):
        return [{"result": "cancelled"}]
    if isinstance(event, ev.ReadoutCompleted):
        return [{"result": "done"}]
    if isinstance(event, ev.ReadoutTimedOut):
        return [{"result": "failure", "nodeId": None, "timestamp": None, "error_msg": "Timeout"}, {"result": "done"}]
    if isinstance(event, ev.ReadoutAborted):  # "stream closed" or "peer unavailable"
        return [{"result": "failure", "nodeId": None, "timestamp": None, "error_msg": event.reason}, {"result": "done"}]
    return []


def _rejection_text(event: ev.ReadoutRejected | ev.ReadoutCancelled) -> str | None:
    """The reason as slixmpp reports it: the v0.2 ``rejected/error`` text, else the RFC 6120 ``<text/>``."""
    if event.reasons:
        return "; ".join(event.reasons)
    if event.error is not None:
        return event.error.text or event.error.condition
    return None


def _feed(readout: Readout, event: Any, timeout: float) -> None:
    if isinstance(event, ev.ReadoutAccepted):
        readout.accepted(event.queued)
    elif isinstance(event, ev.FieldsReceived):
        readout.part(event, nodes=event.nodes)
    elif isinstance(event, ev.FailureReceived):
        readout.part(event, errors=event.errors)
    elif isinstance(event, ev.ReadoutCompleted):
        readout.complete()
    elif isinstance(event, ev.ReadoutRejected):
        readout.fail(rejected(_rejection_text(event), event))
    elif isinstance(event, ev.ReadoutCancelled):
        reason = f" (the device refused the cancel: {_rejection_text(event)})" if event.refused else ""
        readout.fail(RequestError(f"readout cancelled{reason}", reply=event))
    elif isinstance(event, ev.ReadoutTimedOut):
        readout.fail(timed_out(timeout))
    elif isinstance(event, ev.ReadoutAborted):
        readout.fail(ConnectionLost(f"readout {event.seqnr} of {event.peer} ended: {event.reason}"))
