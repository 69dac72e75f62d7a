"""otwire's requester against a hand-written v0.6 device (raw stanzas), spoofing, threads, loading, disco.

The raw device is a slixmpp client without any XEP-0323 plugin: it answers each ``<req/>``
with stanzas written out by hand after the XEP's v0.3+ examples, chosen by the requested
node id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from .peers import Recorder
from .peers import otwire as otwire_plugin
from .prosody import ProsodyServer, connect_client, disconnect_client

NS = "urn:xmpp:iot:sensordata"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

V06_FIELDS = (
    "<message to='{to}'><fields xmlns='{ns}' seqnr='{seqnr}'><node nodeId='{node}'>"
    "<timestamp value='2013-03-07T19:00:00.50+01:00'>"
    "<int name='Count' momentary='true' automaticReadout='true' value='42'/>"
    "<long name='Big' momentary='true' value='9000000000'/>"
    "<date name='Day' momentary='true' value='2013-03-07'/>"
    "<time name='Clock' momentary='true' value='19:00:00'/>"
    "<duration name='Runtime' momentary='true' value='P1DT2H'/>"
    "<numeric name='Temperature' momentary='true' inProgress='true' value='23.40' unit='°C'/>"
    "</timestamp></node></fields></message>"
)


def _raw_device(client: Any) -> None:
    """Answer every request by node id: Reject, Implicit, Hold, or the full v0.6 flow."""

    def on_req(iq: Any) -> None:
        req = iq.xml.find(f"{{{NS}}}req")
        seqnr = req.get("seqnr")
        node = req.find(f"{{{NS}}}node")
        node_id = node.get("nodeId") if node is not None else "Device01"
        to, iq_id = iq["from"].full, iq["id"]
        args = {"to": to, "ns": NS, "seqnr": seqnr, "node": node_id}
        for raw in _script(node_id, iq_id, args):
            client.send_raw(raw)

    def on_cancel(iq: Any) -> None:  # this device cannot cancel: an RFC 6120 error (XEP-0323 has no example)
        client.send_raw(
            f"<iq type='error' id='{iq['id']}' to='{iq['from'].full}'><error type='cancel'>"
            f"<not-allowed xmlns='{STANZAS}'/><text xmlns='{STANZAS}'>Readout cannot be stopped</text></error></iq>"
        )

    client.register_handler(Callback("raw req", MatchXPath(f"{{jabber:client}}iq/{{{NS}}}req"), on_req))
    client.register_handler(Callback("raw cancel", MatchXPath(f"{{jabber:client}}iq/{{{NS}}}cancel"), on_cancel))


def _script(node_id: str, iq_id: str, args: dict[str, str]) -> list[str]:
    to, ns, seqnr = args["to"], args["ns"], args["seqnr"]
    if node_id == "Reject":
        return [
            f"<iq type='error' id='{iq_id}' to='{to}'><error type='cancel'><item-not-found xmlns='{STANZAS}'/>"
            f"<text xmlns='{STANZAS}'>Node not found</text></error></iq>"
        ]
    if node_id == "Implicit":
        fields = V06_FIELDS.format(**args).replace(f"seqnr='{seqnr}'>", f"seqnr='{seqnr}' done='true'>", 1)
        return [fields, f"<iq type='result' id='{iq_id}' to='{to}'/>"]
    accepted = f"<iq type='result' id='{iq_id}' to='{to}'><accepted xmlns='{ns}' seqnr='{seqnr}' queued='true'/></iq>"
    if node_id == "Hold":
        return [accepted]
    return [
        accepted,
        f"<message to='{to}'><started xmlns='{ns}' seqnr='{seqnr}'/></message>",
        V06_FIELDS.format(**args),
        f"<message to='{to}'><done xmlns='{ns}' seqnr='{seqnr}'/></message>",
    ]


async def _with_raw_device(prosody: ProsodyServer, tag: str) -> tuple[Any, Any]:
    device = await connect_client(prosody, "sensor2", f"raw-{tag}")
    _raw_device(device)
    requester = await connect_client(prosody, "requester2", f"app-{tag}", plugins=otwire_plugin())
    return requester, device


def test_v06_device_full_flow(prosody: ProsodyServer) -> None:
    async def scenario() -> tuple[Recorder, Any]:
        requester, device = await _with_raw_device(prosody, "v06")
        try:
            recorder = Recorder()
            plugin = requester.plugin["xep_0323"]
            plugin.request_data(requester.boundjid.full, device.boundjid.full, recorder, nodeIds=["Device01"])
            await recorder.wait_for("done", "rejected")
            result = await plugin.read(device.boundjid.full, node_ids=["Device01"])
            return recorder, result
        finally:
            await disconnect_client(requester)
            await disconnect_client(device)

    recorder, result = asyncio.run(scenario())
    assert recorder.results() == ["queued", "started", "fields", "done"]
    (call,) = recorder.of("fields")
    assert call["timestamp"] == "2013-03-07T19:00:00.50+01:00"  # the wire string, not a re-formatted value
    assert {f["name"]: f["value"] for f in call["fields"]} == {
        "Count": "42",
        "Big": "9000000000",
        "Day": "2013-03-07",
        "Clock": "19:00:00",
        "Runtime": "P1DT2H",
        "Temperature": "23.40",
    }
    temperature = next(f for f in call["fields"] if f["name"] == "Temperature")
    assert temperature["flags"] == {"momentary": "true", "inProgress": "true"}
    values = result.values()
    assert result.queued is True
    assert values[("Device01", "Count")].value == 42
    assert values[("Device01", "Big")].value == 9_000_000_000
    assert values[("Device01", "Day")].value == dt.date(2013, 3, 7)
    assert values[("Device01", "Clock")].value == dt.time(19, 0)
    assert values[("Device01", "Temperature")].value == Decimal("23.40")


def test_v06_rfc6120_rejection(prosody: ProsodyServer) -> None:
    async def scenario() -> tuple[Recorder, BaseException]:
        requester, device = await _with_raw_device(prosody, "rej")
        try:
            recorder = Recorder()
            plugin = requester.plugin["xep_0323"]
            plugin.request_data(requester.boundjid.full, device.boundjid.full, recorder, nodeIds=["Reject"])
            await recorder.wait_for("rejected", "done")
            with pytest.raises(Exception) as caught:
                await plugin.read(device.boundjid.full, node_ids=["Reject"])
            return recorder, caught.value
        finally:
            await disconnect_client(requester)
            await disconnect_client(device)

    recorder, error = asyncio.run(scenario())
    assert recorder.results() == ["rejected"]
    assert recorder.of("rejected")[0]["error_msg"] == "Node not found"
    from otwire.errors import RequestError

    assert isinstance(error, RequestError)


def test_v06_implicit_acceptance(prosody: ProsodyServer) -> None:
    async def scenario() -> Any:
        requester, device = await _with_raw_device(prosody, "imp")
        try:
            return await requester.plugin["xep_0323"].read(device.boundjid.full, node_ids=["Implicit"])
        finally:
            await disconnect_client(requester)
            await disconnect_client(device)

    result = asyncio.run(scenario())
    assert result.values()[("Implicit", "Count")].lexical == "42"


def test_refused_cancel(prosody: ProsodyServer) -> None:
    from otwire.errors import RequestError

    async def scenario() -> tuple[Recorder, BaseException]:
        requester, device = await _with_raw_device(prosody, "refuse")
        try:
            recorder = Recorder()
            plugin = requester.plugin["xep_0323"]
            session = plugin.request_data(requester.boundjid.full, device.boundjid.full, recorder, nodeIds=["Hold"])
            await recorder.wait_for("queued")
            plugin.cancel_request(session)
            await recorder.wait_for("rejected", "cancelled")
            readout = plugin.read(device.boundjid.full, node_ids=["Hold"])
            readout.cancel()
            with pytest.raises(RequestError) as caught:
                await readout
            return recorder, caught.value
        finally:
            await disconnect_client(requester)
            await disconnect_client(device)

    recorder, error = asyncio.run(scenario())
    assert recorder.results() == ["queued", "rejected"]
    assert recorder.of("rejected")[0]["error_msg"] == "Readout cannot be stopped"
    assert "refused the cancel: Readout cannot be stopped" in str(error)


def test_spoofed_fields_from_a_third_account_dropped(prosody: ProsodyServer) -> None:
    async def scenario() -> tuple[Recorder, list[Any]]:
        requester, device = await _with_raw_device(prosody, "spoof")
        intruder = await connect_client(prosody, "intruder", "x")
        dropped: list[Any] = []
        seen = asyncio.Event()
        requester.add_event_handler("xep_0323_stanza_dropped", lambda e: (dropped.append(e), seen.set()))
        try:
            recorder = Recorder()
            plugin = requester.plugin["xep_0323"]
            session = plugin.request_data(requester.boundjid.full, device.boundjid.full, recorder, nodeIds=["Hold"])
            await recorder.wait_for("queued")
            forged = V06_FIELDS.format(to=requester.boundjid.full, ns=NS, seqnr=session, node="Hold")
            intruder.send_raw(forged.replace("<fields ", "<fields done='true' ", 1))
            await asyncio.wait_for(seen.wait(), 5.0)
            plugin.cancel_request(session)
            return recorder, dropped
        finally:
            for client in (requester, device, intruder):
                await disconnect_client(client)

    recorder, dropped = asyncio.run(scenario())
    assert recorder.of("fields") == [] and "done" not in recorder.results()
    assert len(dropped) == 1


class _Silent:
    """A device that never reports: its node fails on otwire's comm timeout (a loop timer, no thread)."""

    def has_field(self, name: str) -> bool:
        return True

    def request_fields(self, fields: Any, flags: Any, session: Any, callback: Any) -> None:
        pass


def test_plugin_starts_no_thread(prosody: ProsodyServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from .peers import momentary_device

    started: list[str] = []
    original_start = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        original_start(thread)

    async def scenario() -> tuple[set[int], set[int], Any]:
        sensor = await connect_client(prosody, "sensor", "threads", plugins=otwire_plugin())
        requester = await connect_client(prosody, "requester", "threads", plugins=otwire_plugin())
        try:
            sensor.plugin["xep_0323"].register_node("Device01", momentary_device("Device01"), commTimeout=5.0)
            sensor.plugin["xep_0323"].register_node("Silent", _Silent(), commTimeout=1.0)
            before = {t.ident or 0 for t in threading.enumerate()}
            monkeypatch.setattr(threading.Thread, "start", counting_start)
            result = await requester.plugin["xep_0323"].read(sensor.boundjid.full, momentary=True)
            monkeypatch.undo()
            after = {t.ident or 0 for t in threading.enumerate()}
            return before, after, result
        finally:
            await disconnect_client(requester)
            await disconnect_client(sensor)

    before, after, result = asyncio.run(scenario())
    assert result.values()[("Device01", "Temperature")].lexical == "23.40"
    assert [(e.node_id, e.message) for e in result.errors] == [("Silent", "Timeout")]
    assert started == []
    assert after <= before


def test_cancel_from_a_third_account_refused(prosody: ProsodyServer) -> None:
    from slixmpp.exceptions import IqError

    from .peers import momentary_device

    when = (dt.datetime.now() + dt.timedelta(seconds=60)).replace(microsecond=0).isoformat()

    async def scenario() -> tuple[str, Recorder]:
        sensor = await connect_client(prosody, "sensor", "cancel3", plugins=otwire_plugin())
        requester = await connect_client(prosody, "requester", "cancel3", plugins=otwire_plugin())
        intruder = await connect_client(prosody, "intruder", "cancel3")
        try:
            sensor.plugin["xep_0323"].register_node("Device01", momentary_device("Device01"), commTimeout=5.0)
            recorder = Recorder()
            plugin = requester.plugin["xep_0323"]
            session = plugin.request_data(
                requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true", "when": when}
            )
            await recorder.wait_for("queued")
            forged = intruder.make_iq_get(ito=sensor.boundjid.full)
            forged.xml.append(ET.fromstring(f"<cancel xmlns='{NS}' seqnr='{session}'/>"))
            try:
                await forged.send(timeout=5)
                condition = "result"
            except IqError as exc:
                condition = exc.iq["error"]["condition"]
            plugin.cancel_request(session)
            await recorder.wait_for("cancelled")
            return condition, recorder
        finally:
            for client in (requester, sensor, intruder):
                await disconnect_client(client)

    condition, recorder = asyncio.run(scenario())
    assert condition == "item-not-found"
    assert recorder.results() == ["queued", "cancelled"]


def test_disco_feature_advertised(prosody: ProsodyServer) -> None:
    async def scenario() -> list[str]:
        sensor = await connect_client(prosody, "sensor", "disco", plugins=otwire_plugin())
        requester = await connect_client(prosody, "requester", "disco")
        try:
            info = await requester.plugin["xep_0030"].get_info(jid=sensor.boundjid.full, timeout=5)
            return list(info["disco_info"]["features"])
        finally:
            await disconnect_client(requester)
            await disconnect_client(sensor)

    assert NS in asyncio.run(scenario())


def test_loaded_like_slixmpps_plugin_in_a_fresh_interpreter() -> None:
    pytest.importorskip("otwire.clients.xep0323", reason="otwire's XEP-0323 plugin needs its machines")
    code = (
        "import sys, slixmpp, otwire.clients.xep0323 as m\n"
        "x = slixmpp.ClientXMPP('a@localhost/r', 'pw')\n"
        "x.register_plugin('xep_0323', {'threaded': False}, module=m)\n"
        "p = x.plugin['xep_0323']\n"
        "print(type(p).__module__, p.name, sorted(p.dependencies), 'slixmpp.plugins.xep_0323' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["otwire.clients.xep0323.plugin", "xep_0323", "['xep_0030']", "False"]


def test_readout_timeout(prosody: ProsodyServer) -> None:
    from otwire.errors import RequestTimeout

    async def scenario() -> tuple[Recorder, BaseException]:
        device = await connect_client(prosody, "sensor2", "raw-timeout")
        _raw_device(device)
        requester = await connect_client(
            prosody, "requester2", "app-timeout", plugins=otwire_plugin(readout_timeout=1.0)
        )
        try:
            recorder = Recorder()
            plugin = requester.plugin["xep_0323"]
            plugin.request_data(requester.boundjid.full, device.boundjid.full, recorder, nodeIds=["Hold"])
            with pytest.raises(RequestTimeout) as caught:
                await plugin.read(device.boundjid.full, node_ids=["Hold"])
            await recorder.wait_for("done")
            return recorder, caught.value
        finally:
            await disconnect_client(requester)
            await disconnect_client(device)

    recorder, error = asyncio.run(scenario())
    assert recorder.results() == ["queued", "failure", "done"]
    assert recorder.of("failure")[0]["error_msg"] == "Timeout"
    assert "1.0 s" in str(error)
