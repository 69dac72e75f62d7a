"""Shared pieces of the i3X server tests (no tests here): a small address space and an h11 client driving the engine."""

from __future__ import annotations

import gzip
import json
from typing import Any

import h11

from otwire.codecs.i3x import VQT, Namespace, ObjectType, RelationshipType
from otwire.protocols.i3x import I3XServer, I3XServerConfig, MemorySpace

NS = "urn:test:plant"
T0 = "2026-01-01T00:00:00Z"


#: Object type -> JSON Schema of its values (written values are checked against it).
SCHEMAS: dict[str, dict[str, Any]] = {"Plant": {"type": "object"}, "Line": {"type": "object"},
                                      "Pump": {"type": "string"}, "Motor": {"type": "object"},
                                      "Sensor": {"type": "number"}}  # fmt: skip


def make_space() -> MemorySpace:
    """plant > line > pump (composition: motor (composition: speed), flow)."""
    space = MemorySpace()
    space.add_namespace(Namespace(NS, "Test plant"))
    for type_id, schema in SCHEMAS.items():
        space.add_object_type(ObjectType(type_id, type_id, NS, type_id, "1", schema))
    space.add_relationship_type(RelationshipType("HasComponent", "HasComponent", NS, "HasComponent", "ComponentOf"))
    space.add_object("plant", "Plant", "Plant", vqt=VQT(None, "GoodNoData", T0))
    space.add_object("line", "Line 1", "Line", parent_id="plant", vqt=VQT(None, "GoodNoData", T0))
    space.add_object("pump", "Pump", "Pump", parent_id="line", vqt=VQT("running", "Good", T0))
    space.add_object("motor", "Motor", "Motor", parent_id="pump", component=True, vqt=VQT(None, "GoodNoData", T0))
    space.add_object("speed", "Speed", "Sensor", parent_id="motor", component=True, vqt=VQT(1450, "Good", T0))
    space.add_object("flow", "Flow", "Sensor", parent_id="pump", component=True, vqt=VQT(12.5, "Good", T0))
    for second in range(3):
        space.set_value("flow", VQT(10.0 + second, "Good", f"2026-01-01T00:00:0{second}Z"))
    return space


class Client:
    """One HTTP/1.1 client connection (h11, CLIENT role) to ``engine`` as ``peer``."""

    def __init__(self, engine: I3XServer[Any], peer: Any = 1) -> None:
        self.engine, self.peer = engine, peer
        self.conn = h11.Connection(h11.CLIENT)
        engine.connect(peer, 0.0, name=f"client {peer}")

    def send(self, method: str, path: str, body: Any = None, *, headers: list[tuple[str, str]] | None = None,
             raw: bytes | None = None, now: float = 0.0) -> None:  # fmt: skip
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        head = [("host", "test"), ("content-length", str(len(data))), *(headers or [])]
        if body is not None or raw is not None:
            head.append(("content-type", "application/json"))
        out = self.conn.send(h11.Request(method=method, target=path, headers=head)) or b""
        out += self.conn.send(h11.Data(data=data)) or b""
        out += self.conn.send(h11.EndOfMessage()) or b""
        self.engine.receive_data(self.peer, out, now)

    def pull(self) -> None:
        """Move the engine's output for this peer into the client connection."""
        data = self.engine.data_to_send(self.peer)
        if data:  # b"" would be EOF
            self.conn.receive_data(data)

    def response(self) -> tuple[h11.Response, bytes]:
        """Read one complete response (after :meth:`send`), then ready the next cycle."""
        self.pull()
        response, body = None, b""
        while True:
            event = self.conn.next_event()
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise AssertionError(f"incomplete response: {event!r}")
        assert response is not None
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        return response, body

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        """Send a request and return ``(status, decoded JSON)``."""
        self.send(method, path, body, **kw)
        response, data = self.response()
        if dict(response.headers).get(b"content-encoding") == b"gzip":
            data = gzip.decompress(data)
        return response.status_code, json.loads(data)

    def open_stream(self) -> h11.Response:
        """Read the head of an SSE response."""
        self.pull()
        event = self.conn.next_event()
        assert isinstance(event, h11.Response), event
        return event

    def stream_data(self) -> bytes:
        """Every SSE octet available now."""
        self.pull()
        out = b""
        while isinstance(event := self.conn.next_event(), h11.Data):
            out += event.data
        self.last = event
        return out


def engine(**config: Any) -> I3XServer[Any]:
    return I3XServer(make_space(), I3XServerConfig(**config), wall_clock=lambda: 1_767_225_600.0)
