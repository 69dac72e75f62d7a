"""XEP-0323 benchmark: parse of a 200-field ``<fields/>`` message, and readouts/s through Prosody.

Run with ``.venv/bin/python benchmarks/xep0323.py`` (part of ``make bench``). One run prints:

* **parse**: the same ``<message><fields/></message>`` octets (200 fields of the six v0.2
  types over 4 nodes) turned into per-field name/type/value, by otwire's codec (typed
  values: ``Decimal``, ``datetime``, ``XsDuration``, flags, with their lexical strings) and
  by slixmpp's stanza plugin (``Message`` with slixmpp's ``Fields`` classes, string values).
  Two comparisons, like with like: **from octets** (otwire ``decode_bytes``: bounded parse,
  the C parser when the octets hold no ``<!``, else defusedxml; slixmpp ``ET.fromstring``
  then ``Message``), and **from an element** (both get the same parsed tree: otwire
  ``decode`` of the payload, slixmpp ``Message(xml=tree)``). Interleaved rounds, the median
  per message; target: otwire >= 5x slixmpp, judged from an element (in an XMPP stream
  slixmpp's own XML parser builds the tree and hands the element to the stanza plugin, so the
  element is "the same XML" both plugins get). From octets is printed for context: both sides
  share the tree building (about 0.2 ms of C on the reference machine), which bounds that ratio.
* **end to end**: momentary readouts through a throw-away Prosody (``tests/xep0323/prosody.py``),
  otwire requester -> otwire sensor and slixmpp requester -> slixmpp sensor
  (``threaded=False``), one device with the six fields; readouts per second, one at a time
  and with 20 in flight. One at a time used to be bound by TCP rather than by the plugins:
  when the sensor's ``accepted`` and ``fields`` reach Prosody in separate segments, Prosody
  forwards them separately and the second waits on Nagle in Prosody until the requester's
  delayed ACK (about 40 ms; research xep0323.md §3.1). otwire's plugin corks the stream's
  socket for the stanzas of one machine step (``otwire/clients/xep0323/_cork.py``), so they
  leave in one segment; slixmpp's sensor still hits the stall in some readouts, which makes
  its one-at-a-time figure swing from run to run.

Nothing is asserted; ratios are the figures to read (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from otwire.codecs import xep0323 as codec  # noqa: E402

FIELDS = 200
NODES = 4
ROUNDS = 15
PER_ROUND = 40
READOUTS = 100
IN_FLIGHT = 20
PARSE_TARGET = 5.0


def fields_message() -> bytes:
    """A ``<message>`` with one ``<fields/>`` of :data:`FIELDS` fields over :data:`NODES` nodes."""
    kinds = [
        ("numeric", {"value": "23.40", "unit": "°C", "momentary": "true", "automaticReadout": "true"}),
        ("boolean", {"value": "true", "momentary": "true", "status": "true"}),
        ("string", {"value": "Device01", "identity": "true"}),
        ("enum", {"value": "Auto", "dataType": "ModeEnum", "momentary": "true"}),
        ("dateTime", {"value": "2012-01-01T00:00:00", "momentary": "true"}),
        ("timeSpan", {"value": "P1DT2H", "momentary": "true"}),
    ]
    parts = ["<message xmlns='jabber:client' to='a@localhost/r' from='b@localhost/d'>"]
    parts.append(f"<fields xmlns='{codec.NS}' seqnr='1' done='true'>")
    per_node = FIELDS // NODES
    for n in range(NODES):
        parts.append(f"<node nodeId='Node{n}'><timestamp value='2024-01-01T00:00:{n:02d}'>")
        for i in range(per_node):
            tag, attrs = kinds[i % len(kinds)]
            text = " ".join(f"{k}='{v}'" for k, v in attrs.items())
            parts.append(f"<{tag} name='F{n}_{i}' {text}/>")
        parts.append("</timestamp></node>")
    parts.append("</fields></message>")
    return "".join(parts).encode()


def parse_otwire(data: bytes) -> list[tuple[str, str, object]]:
    """From octets: ``decode_bytes``."""
    return _otwire_values(codec.decode_bytes(data))


def parse_otwire_element(element: ET.Element) -> list[tuple[str, str, object]]:
    """From the ``<fields/>`` element of a parsed stanza: ``decode``."""
    return _otwire_values(codec.decode(element))


def _otwire_values(message: object) -> list[tuple[str, str, object]]:
    assert isinstance(message, codec.Fields)
    return [(f.name, type(f).__name__, f.value) for n in message.nodes for t in n.timestamps for f in t.fields]


def parse_slixmpp(data: bytes) -> list[tuple[str, str, object]]:
    """From octets: ``ET.fromstring`` and slixmpp's ``Message`` stanza."""
    return parse_slixmpp_element(ET.fromstring(data))


def parse_slixmpp_element(stanza: ET.Element) -> list[tuple[str, str, object]]:
    """From the parsed ``<message/>``: slixmpp's ``Message`` stanza with the sensor-data plugins."""
    from slixmpp.plugins.xep_0323.stanza import sensordata  # noqa: F401 - registers the stanza plugins
    from slixmpp.stanza import Message

    message = Message(xml=stanza)
    return [
        (d["name"], d._get_typename(), d["value"])
        for n in message["fields"]["nodes"]
        for t in n["timestamps"]
        for d in t["datas"]
    ]


def _seconds_per_call(parse: Callable[[Any], object], data: Any) -> float:
    start = time.perf_counter()
    for _ in range(PER_ROUND):
        parse(data)
    return (time.perf_counter() - start) / PER_ROUND


def _compare(
    label: str, ours: Callable[[Any], object], theirs: Callable[[Any], object], data: Any, *, judged: bool = True
) -> float:
    otwire_times, slixmpp_times = [], []
    for _ in range(ROUNDS):
        otwire_times.append(_seconds_per_call(ours, data))
        slixmpp_times.append(_seconds_per_call(theirs, data))
    o, s = statistics.median(otwire_times), statistics.median(slixmpp_times)
    ratio = s / o
    print(f"  {label}: otwire {o * 1e6:.0f} us, slixmpp {s * 1e6:.0f} us,", end=" ")
    if judged:
        verdict = "ok" if ratio >= PARSE_TARGET else "MISS"
        print(f"slixmpp/otwire = {ratio:.1f}x (target >= {PARSE_TARGET:.0f}x: {verdict})")
    else:
        print(f"slixmpp/otwire = {ratio:.1f}x (context: both include building the tree with expat)")
    return ratio


def bench_parse() -> tuple[float, float]:
    """Print the parse figures; return slixmpp time / otwire time from octets and from an element."""
    data = fields_message()
    stanza = ET.fromstring(data)
    payload = codec.payload_element(stanza)
    assert payload is not None
    ours, theirs = parse_otwire(data), parse_slixmpp(data)
    assert len(ours) == len(theirs) == FIELDS, (len(ours), len(theirs))
    assert [name for name, _, _ in ours] == [name for name, _, _ in theirs]
    assert parse_otwire_element(payload) == ours and parse_slixmpp_element(stanza) == theirs
    print(f"parse of a {FIELDS}-field <fields/> ({len(data)} octets), median per message:")
    # The target judges the stanza plugin's work: in a stream, slixmpp's XML parser hands both plugins the element.
    from_octets = _compare("from octets    ", parse_otwire, parse_slixmpp, data, judged=False)
    from_element = _compare("from an element", lambda _: parse_otwire_element(payload), parse_slixmpp_element, stanza)
    return from_octets, from_element


async def _one_readout(requester: Any, sensor: Any, otwire_api: bool) -> None:
    from xep0323.peers import Recorder

    if otwire_api:
        await requester.plugin["xep_0323"].read(sensor.boundjid.full, momentary=True)
        return
    recorder = Recorder()
    requester.plugin["xep_0323"].request_data(
        requester.boundjid.full, sensor.boundjid.full, recorder, flags={"momentary": "true"}
    )
    await recorder.wait_for("done")


async def _readouts(server: Any, plugins: dict[str, Any], tag: str, otwire_api: bool) -> tuple[float, float]:
    """Readouts/s one at a time, and with :data:`IN_FLIGHT` readouts outstanding at once."""
    from xep0323.peers import momentary_device
    from xep0323.prosody import connect_client, disconnect_client

    sensor = await connect_client(server, "sensor", f"bench-{tag}", plugins=plugins)
    requester = await connect_client(server, "requester", f"bench-{tag}", plugins=plugins)
    try:
        sensor.plugin["xep_0323"].register_node("Device01", momentary_device("Device01"), commTimeout=5.0)
        start = time.perf_counter()
        for _ in range(READOUTS):
            await _one_readout(requester, sensor, otwire_api)
        sequential = READOUTS / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(READOUTS // IN_FLIGHT):
            await asyncio.gather(*(_one_readout(requester, sensor, otwire_api) for _ in range(IN_FLIGHT)))
        pipelined = (READOUTS // IN_FLIGHT) * IN_FLIGHT / (time.perf_counter() - start)
        return sequential, pipelined
    finally:
        await disconnect_client(requester)
        await disconnect_client(sensor)


def bench_end_to_end() -> None:
    """Print readouts/s through Prosody for both implementations (skipped without Prosody)."""
    import otwire.clients.xep0323 as plugin_module
    from xep0323.prosody import ProsodyServer, ProsodyUnavailable

    server = ProsodyServer()
    try:
        server.start()
    except ProsodyUnavailable as exc:
        print(f"end to end: skipped ({exc})")
        return
    try:
        otwire_plugins = {"xep_0323": {"pconfig": {"threaded": False}, "module": plugin_module}}
        slixmpp_plugins = {"xep_0323": {"pconfig": {"threaded": False}}}
        ours = asyncio.run(_readouts(server, otwire_plugins, "otwire", otwire_api=True))
        theirs = asyncio.run(_readouts(server, slixmpp_plugins, "slixmpp", otwire_api=False))
    finally:
        server.stop()
    print(f"end to end through Prosody, {READOUTS} momentary readouts:")
    print(
        f"  one at a time: otwire {ours[0]:.0f}/s, slixmpp {theirs[0]:.0f}/s,"
        f" otwire/slixmpp = {ours[0] / theirs[0]:.2f}x"
    )
    print(
        f"  {IN_FLIGHT} in flight:   otwire {ours[1]:.0f}/s, slixmpp {theirs[1]:.0f}/s,"
        f" otwire/slixmpp = {ours[1] / theirs[1]:.2f}x"
    )


def main() -> None:
    logging.getLogger().setLevel(logging.ERROR)  # slixmpp warns on every unit/dataType it reads
    bench_parse()
    bench_end_to_end()


if __name__ == "__main__":
    main()
