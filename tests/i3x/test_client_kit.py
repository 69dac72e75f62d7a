"""Support for the i3X client tests: a scripted HTTP stub for faults the real server has no switch for,
and the asyncio client run from blocking test code. No tests here.

``Stub(handler)`` listens on loopback port 0 with one thread per connection and h11 on
the stub side; ``handler(method, target, body)`` returns a :class:`Reply` (JSON body, or an
SSE head plus chunks that then end, hang open or are cut). ``AsyncInThread`` gives an
:class:`~otwire.clients.i3x.AsyncClient` on a loop thread the same blocking methods as
:class:`~otwire.clients.i3x.Client`, so one scenario runs against both.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11

import otwire.clients.i3x as i3x

TIMEOUT = 10.0

INFO = {"specVersion": "1.0", "serverVersion": "1.0", "serverName": "stub", "capabilities": {}}


@dataclass
class Reply:
    """What the stub answers: ``body`` (JSON-able, or octets) or, with ``sse``, a stream.

    ``after`` says how a stream goes on after its chunks: ``"end"`` (clean end),
    ``"hang"`` (open and silent until the stub closes: a half-open connection) or
    ``"cut"`` (socket closed mid-body).
    """

    status: int = 200
    body: Any = None
    sse: list[bytes] | None = None
    after: str = "end"
    headers: list[tuple[str, str]] = field(default_factory=list)


def ok(result: Any = None) -> Reply:
    """A 1.0 single success envelope."""
    return Reply(body={"success": True, "result": result})


def error(status: int, beta: bool = False) -> Reply:
    """A 1.0 (or Beta ``error{code,message}``) error envelope."""
    if beta:
        return Reply(status, {"success": False, "error": {"code": status, "message": f"stub {status}"}})
    detail = {"title": f"stub {status}", "status": status, "detail": f"stub says {status}"}
    return Reply(status, {"success": False, "responseDetail": detail})


class Stub:
    """A scripted HTTP/1.1 server on loopback (h11); ``requests`` records ``(method, target, body)``."""

    def __init__(self, handler: Callable[[str, str, Any], Reply]) -> None:
        self.handler = handler
        self.requests: list[tuple[str, str, Any]] = []
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def targets(self, method: str | None = None) -> list[str]:
        return [target for m, target, _ in list(self.requests) if method is None or m == method]

    def close(self) -> None:
        self._stop.set()
        for sock in [self._listener, *self._sockets]:  # shutdown wakes a thread blocked in accept/recv
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(TIMEOUT)

    def __enter__(self) -> Stub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while not self._stop.is_set():
                request, body = self._read(sock, conn)
                if request is None:
                    return
                target = request.target.decode()
                parsed = json.loads(body) if body else None
                self.requests.append((request.method.decode(), target, parsed))
                reply = self.handler(request.method.decode(), target, parsed)
                if not self._answer(sock, conn, reply):
                    return
                conn.start_next_cycle()
        except (OSError, h11.ProtocolError):
            return
        finally:
            sock.close()

    def _read(self, sock: socket.socket, conn: h11.Connection) -> tuple[h11.Request | None, bytes]:
        request: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                conn.receive_data(data)
                if not data and conn.their_state is h11.IDLE:
                    return None, b""
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return request, body
            elif isinstance(event, h11.ConnectionClosed):
                return None, b""

    def _answer(self, sock: socket.socket, conn: h11.Connection, reply: Reply) -> bool:
        if reply.sse is None:
            payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *reply.headers]
            sock.sendall(conn.send(h11.Response(status_code=reply.status, headers=headers)) or b"")
            sock.sendall(conn.send(h11.Data(data=payload)) or b"")
            sock.sendall(conn.send(h11.EndOfMessage()) or b"")
            return True
        headers = [("Content-Type", "text/event-stream"), *reply.headers]
        sock.sendall(conn.send(h11.Response(status_code=reply.status, headers=headers)) or b"")
        for chunk in reply.sse:
            sock.sendall(conn.send(h11.Data(data=chunk)) or b"")
        if reply.after == "end":
            sock.sendall(conn.send(h11.EndOfMessage()) or b"")
            return True
        if reply.after == "hang":
            self._stop.wait()
        return False


class AsyncInThread:
    """An :class:`~otwire.clients.i3x.AsyncClient` on its own loop thread, called like a blocking ``Client``.

    Coroutine methods block until done; plain methods run on the loop; ``on_*`` callbacks
    and other attributes are set on and read from the client.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        loop = asyncio.new_event_loop()
        object.__setattr__(self, "_loop", loop)
        object.__setattr__(self, "_thread", threading.Thread(target=loop.run_forever, daemon=True))
        object.__setattr__(self, "client", i3x.AsyncClient(*args, **kwargs))
        self._thread.start()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **k: asyncio.run_coroutine_threadsafe(attr(*a, **k), self._loop).result(TIMEOUT * 2)
        if callable(attr) and not name.startswith("on_"):
            return lambda *a, **k: self._in_loop(attr, *a, **k)
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.client, name, value)

    def _in_loop(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(TIMEOUT)

    def __enter__(self) -> AsyncInThread:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.disconnect()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(TIMEOUT)
            self._loop.close()


#: Both client kinds, for ``pytest.mark.parametrize("kind", KINDS)``.
KINDS = ("sync", "asyncio")


def make_client(kind: str, url: str, **kwargs: Any) -> Any:
    """A ``Client`` or an :class:`AsyncInThread` (not connected; use ``with``)."""
    kwargs.setdefault("timeout", TIMEOUT)
    return i3x.Client(url, **kwargs) if kind == "sync" else AsyncInThread(url, **kwargs)


class Recorder:
    """Callbacks that record changes, gaps and errors, with a condition to wait on."""

    def __init__(self, client: Any) -> None:
        self.changes: list[i3x.ValueChange] = []
        self.gaps: list[i3x.Gap] = []
        self.errors: list[Exception] = []
        self.cond = threading.Condition()
        client.on_value_change = lambda _c, change: self._add(self.changes, change)
        client.on_gap = lambda _c, gap: self._add(self.gaps, gap)
        client.on_error = lambda _c, exc: self._add(self.errors, exc)

    def _add(self, items: list[Any], item: Any) -> None:
        with self.cond:
            items.append(item)
            self.cond.notify_all()

    def seen(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for ``predicate``; whether it holds."""
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise AssertionError(f"{what} not seen within {timeout} s: {self.gaps} {self.errors}")
