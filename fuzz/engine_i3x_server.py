"""Fuzz harness for the i3X server engine: arbitrary client octets, alone and behind valid requests.

``fuzz_i3x_server(data)`` drives :class:`otwire.protocols.i3x.server.I3XServer` like the
server driver would and feeds ``data`` as one client's octets, whole and one octet at a
time, then the end of stream, in three places:

* a fresh connection (``data`` is the whole request stream: heads and bodies);
* the body of a valid request head to the endpoint picked by ``data[0]`` (every
  handler's JSON decoding and checks are fuzzed);
* behind the valid :data:`CONVERSATION`, whose last request opened an SSE stream
  (octets pipelined behind a stream), on the i3x2ua profile.

Only ``RemoteProtocolError`` may escape ``receive_data``; after the end of stream the
peer must be closed with exactly one ``ConnectionTerminated``, forgotten once its last
octets were taken, and no subscription may still point at it; whole and octet-by-octet
input must give the same requests, statuses, end and output (after a protocol error, the last
response only by its status line: h11 words the error by where the octets broke off). Runs under hypothesis
(``fuzz/test_fuzz_i3x_server.py``, ``tests/i3x/test_server_engine_fuzz.py``) and, when
installed, under atheris::

    .venv/bin/python fuzz/engine_i3x_server.py -max_total_time=600
"""

from __future__ import annotations

import json
import sys
from typing import Any

from otwire.codecs.i3x import VQT, Namespace, ObjectType, RelationshipType
from otwire.errors import RemoteProtocolError
from otwire.protocols import ConnectionTerminated
from otwire.protocols.i3x.config import I3XServerConfig
from otwire.protocols.i3x.events import RequestHandled
from otwire.protocols.i3x.server import I3XServer
from otwire.protocols.i3x.space import MemorySpace

PEER = 1
NS = "urn:fuzz"
T0 = "2026-01-01T00:00:00Z"
CLIENT = "fuzz"
Result = tuple[list[str], str, str | None, bytes]


def request(method: str, path: str, body: Any = None, *, raw: bytes | None = None) -> bytes:
    """One HTTP/1.1 request's octets (JSON ``body``, or ``raw`` octets as the body)."""
    data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
    head = f"{method} /v1{path} HTTP/1.1\r\nhost: fuzz\r\ncontent-type: application/json\r\n"
    return head.encode() + b"content-length: %d\r\n\r\n" % len(data) + data


def _sub(path: str, **fields: Any) -> bytes:
    return request("POST", f"/subscriptions{path}", {"clientId": CLIENT, "subscriptionId": "sub-1", **fields})


#: Valid requests of one client, in order; the last opens an SSE stream on ``sub-1``.
CONVERSATION: list[bytes] = [
    request("GET", "/info"),
    request("GET", "/objects?root=true&includeMetadata=true"),
    request("POST", "/objects/list", {"elementIds": ["pump", "nope"]}),
    request("POST", "/objects/value", {"elementIds": ["pump"], "maxDepth": 0}),
    request("POST", "/subscriptions", {"clientId": CLIENT, "displayName": "f"}),
    _sub("/register", elementIds=["flow", "pump"], maxDepth=0),
    request("PUT", "/objects/value", {"updates": [{"elementId": "flow", "value": {"value": 1.5}}]}),
    request("PUT", "/objects/history", {"updates": [{"elementId": "flow",
                                                     "value": {"value": 2, "quality": "Good", "timestamp": T0}}]}),
    request("POST", "/objects/history", {"elementIds": ["flow"], "startTime": T0}),
    _sub("/sync"),
    _sub("/sync", lastSequenceNumber=1),
    _sub("/stream"),
]  # fmt: skip

#: Endpoints whose bodies are fuzzed (method, path below ``/v1``).
ENDPOINTS = [
    ("POST", "/objecttypes/query"), ("POST", "/relationshiptypes/query"), ("POST", "/objects/list"),
    ("POST", "/objects/related"), ("POST", "/objects/value"), ("PUT", "/objects/value"),
    ("POST", "/objects/history"), ("PUT", "/objects/history"), ("POST", "/subscriptions"),
    ("POST", "/subscriptions/register"), ("POST", "/subscriptions/unregister"), ("POST", "/subscriptions/list"),
    ("POST", "/subscriptions/delete"), ("POST", "/subscriptions/stream"), ("POST", "/subscriptions/sync"),
]  # fmt: skip


def make_space() -> MemorySpace:
    """line > pump (composition: flow), with a number type for flow."""
    space = MemorySpace()
    space.add_namespace(Namespace(NS, "fuzz"))
    space.add_object_type(ObjectType("Pump", "Pump", NS, "Pump", "1", {"type": "object"}))
    space.add_object_type(ObjectType("Sensor", "Sensor", NS, "Sensor", "1", {"type": "number"}))
    space.add_relationship_type(RelationshipType("HasComponent", "HasComponent", NS, "HasComponent", "ComponentOf"))
    space.add_object("pump", "Pump", "Pump", vqt=VQT({}, "Good", T0))
    space.add_object("flow", "Flow", "Sensor", parent_id="pump", component=True, vqt=VQT(1.0, "Good", T0))
    return space


def make_engine(profile: str = "1.0") -> I3XServer[int]:
    """A server engine with small limits (bodies 4 KiB, heads 1 KiB) and a fixed wall clock."""
    config = I3XServerConfig(max_body_size=1 << 12, max_header_size=1 << 10, queue_size=4)
    return I3XServer(make_space(), config, wall_clock=lambda: 1_767_225_600.0, profile=profile)


def finish(engine: I3XServer[int], end: str, now: float = 2.0) -> str | None:
    """End the peer by ``end`` (``"eof"``, ``"close"``, ``"lost"``); the protocol error name, if any."""
    try:
        if end == "eof":
            if not engine.is_closed(PEER):
                engine.receive_data(PEER, b"", now)
        elif end == "close":
            engine.close(PEER, now)
        else:
            engine.connection_lost(PEER, now)
    except RemoteProtocolError as exc:
        return type(exc).__name__
    return None


def check_ended(engine: I3XServer[int]) -> tuple[list[str], str, bytes]:
    """Take the peer's last octets and events; check it is closed, forgotten, and in no subscription.

    Raises:
        AssertionError: the peer outlived its end (state leaked).
    """
    assert engine.is_closed(PEER), "peer still open after its end"
    output = engine.data_to_send(PEER)
    assert PEER not in engine.peers(), "closed peer not forgotten"
    streams = [w.subscription_id for w in engine.subscriptions.all() if w.stream_peer is not None]
    assert not streams, f"subscriptions still streaming to a gone peer: {streams}"
    handled, ends = [], []
    while (item := engine.next_event()) is not None:
        event = item[1]
        if isinstance(event, RequestHandled):
            handled.append(f"{event.method} {event.target} {event.status}")
        elif isinstance(event, ConnectionTerminated):
            ends.append(str(event.reason))
    assert len(ends) == 1, f"{len(ends)} ConnectionTerminated events"
    return handled, ends[0], output


def drive(engine: I3XServer[int], pieces: list[bytes], end: str = "eof") -> Result:
    """Connect, feed ``pieces`` (stopping at a protocol error), end the peer, check it is gone."""
    engine.connect(PEER, 0.0, name="fuzz")
    error = None
    for piece in filter(None, pieces):  # b"" would be the end of stream, which ``end`` gives
        try:
            engine.receive_data(PEER, piece, 1.0)
        except RemoteProtocolError as exc:
            error = type(exc).__name__
            break
    if error is None:
        engine.publish("flow", VQT(3.0, "Good", T0), 1.0)  # to the stream, if one is open
    error = error or finish(engine, end)
    handled, reason, output = check_ended(engine)
    if error is not None:  # h11's words for a broken request depend on where the octets broke off
        output = output[: output.rfind(b"HTTP/1.1 ")] + output[output.rfind(b"HTTP/1.1 ") :].split(b"\r\n")[0]
    return handled, reason, error, output


def _splits(data: bytes) -> tuple[list[bytes], list[bytes]]:
    return [data], [data[k : k + 1] for k in range(len(data))]


def fuzz_i3x_server(data: bytes) -> None:
    """Feed ``data`` as client octets in the three places, whole and octet by octet.

    Raises:
        AssertionError: results depend on the split, or a peer's state outlives it.
        Exception: anything other than ``RemoteProtocolError`` from the engine (a bug).
    """
    method, path = ENDPOINTS[data[0] % len(ENDPOINTS)] if data else ENDPOINTS[0]
    cases = [
        ("1.0", b"", data),
        ("1.0", b"", request(method, path, raw=data[1:])),
        ("i3x2ua", b"".join(CONVERSATION), data),
    ]
    for profile, prefix, octets in cases:
        whole, bytewise = (drive(make_engine(profile), [prefix, *pieces] if prefix else pieces)
                           for pieces in _splits(octets))  # fmt: skip
        if whole != bytewise:
            raise AssertionError(f"results depend on the split: {octets.hex()}\n{whole}\n{bytewise}")


def main() -> None:
    """Run ``fuzz_i3x_server`` under atheris (libFuzzer arguments from the command line)."""
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("atheris is not installed (pip install atheris); the hypothesis test runs without it")
    atheris.instrument_all()
    atheris.Setup(sys.argv, fuzz_i3x_server)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
