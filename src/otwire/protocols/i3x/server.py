"""The i3X 1.0 server engine: many HTTP/1.1 peers on h11, subscriptions, SSE (specs/i3x/notes.md).

:class:`I3XServer` is a :class:`~otwire.protocols.PeerEngine` (driven by
:class:`~otwire.transports.aio_server.PeerServer`) with one ``h11`` server connection per
peer. It answers the 1.0 Release endpoints below ``config.base_path`` (``/v1``) from an
:class:`~otwire.protocols.i3x.space.AddressSpace`:

======  ==============================  =====================================================
GET     ``/info``                       server info and capabilities (no authentication)
GET     ``/namespaces``                 every namespace
GET     ``/objecttypes``                object types (``?namespaceUri=``)
POST    ``/objecttypes/query``          bulk, by elementIds
GET     ``/relationshiptypes``          relationship types (``?namespaceUri=``)
POST    ``/relationshiptypes/query``    bulk, by elementIds
GET     ``/objects``                    objects (``?typeElementId=&includeMetadata=&root=``)
POST    ``/objects/list``               bulk objects
POST    ``/objects/related``            bulk related objects (``relationshipType``)
POST    ``/objects/value``              bulk current values, compositions to ``maxDepth`` (206)
PUT     ``/objects/value``              bulk writes (501 when the space is read-only)
POST    ``/objects/history``            bulk history (206 when the depth was limited)
PUT     ``/objects/history``            bulk history writes (501 when not offered)
POST    ``/subscriptions``              create (``clientId`` required)
POST    ``/subscriptions/register``     add monitored ids (per-item 404; 404 for the subscription)
POST    ``/subscriptions/unregister``   remove monitored ids
POST    ``/subscriptions/list``         bulk keyed by subscriptionId
POST    ``/subscriptions/delete``       bulk keyed by subscriptionId
POST    ``/subscriptions/stream``       SSE response (one per subscription; a new one ends the old)
POST    ``/subscriptions/sync``         batches, ack by ``lastSequenceNumber`` (``-1``: all); 206
======  ==============================  =====================================================

Status codes (research §2): 200, 206 (truncated depth, sync overflow), 400 (malformed
JSON or shape, missing ``clientId``, sync while streaming), 401 (credentials), 404
(unknown path, element or subscription, also someone else's subscription), 405 (known
path, other method), 413 (body over ``max_body_size``; the connection closes), 500 (the
address space raised), 501.

The application feeds values with :meth:`I3XServer.publish`; subscribers with an open
stream get them at once, the others at their next ``/sync``. ``handle_timer`` sends SSE
keep-alive comments and deletes subscriptions idle for ``subscription_ttl``. JSON bodies
are gzip-compressed when the request says ``Accept-Encoding: gzip`` (SSE never is).

A peer counts a frame per complete request (``frames_received``) and is established
after its first one.
"""

from __future__ import annotations

import contextlib
import http
import time
import zlib
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

import h11

from otwire.codecs.i3x import VQT, ValueChange, encode, encode_error
from otwire.errors import LocalProtocolError, RemoteProtocolError
from otwire.protocols import Buffer, ConnectionTerminated, Event, TerminationReason
from otwire.protocols.i3x._routes import PATHS, ROUTES, Call, Refusal, Reply
from otwire.protocols.i3x._server_faults import Fault, Faults
from otwire.protocols.i3x._server_http import Peer, accepts_gzip, authorized
from otwire.protocols.i3x._server_profiles import Profile, get_profile, nested_value, rewrite_errors
from otwire.protocols.i3x._server_schema import SchemaCheck
from otwire.protocols.i3x._server_subs import SubscriptionStore, Watch
from otwire.protocols.i3x.config import I3XServerConfig
from otwire.protocols.i3x.events import RequestHandled
from otwire.protocols.i3x.space import AddressSpace

__all__ = ["I3XServer"]

PeerT = TypeVar("PeerT", bound=Hashable)

_JSON = ("content-type", "application/json")
_KEEPALIVE = b": keepalive\n\n"


class I3XServer(Generic[PeerT]):
    """Many i3X HTTP peers over one address space (see the module docstring).

    Args:
        space: The data served.
        config: Limits, authentication and names (defaults when ``None``).
        wall_clock: Returns UNIX seconds for server-side timestamps (``time.time``); the
            engine's own timers use the ``now`` of its inputs.
        profile: The quirk profile (a name of
            :data:`~otwire.protocols.i3x._server_profiles.PROFILES`, or a ``Profile``);
            ``"1.0"`` is plain 1.0.

    Raises:
        InvalidArgument: ``profile`` names no profile.
    """

    def __init__(
        self,
        space: AddressSpace,
        config: I3XServerConfig | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
        profile: str | Profile = "1.0",
    ) -> None:
        self.profile = profile if isinstance(profile, Profile) else get_profile(profile)
        self.space = space
        self.config = config if config is not None else I3XServerConfig()
        self.wall_clock = wall_clock
        cfg = self.config
        self.schemas = SchemaCheck(space)
        self.faults = Faults()
        self.subscriptions = SubscriptionStore(queue_size=cfg.queue_size, ttl=cfg.subscription_ttl,
                                               limit=cfg.max_subscriptions)  # fmt: skip
        self._peers: dict[PeerT, Peer] = {}
        self._events: deque[tuple[PeerT, Event]] = deque()
        self._touched: dict[PeerT, None] = {}

    # -- PeerEngine inputs --------------------------------------------------------------------

    def connect(self, peer: PeerT, now: float, *, name: str = "") -> None:
        """Admit a new peer (HTTP has no greeting).

        Raises:
            LocalProtocolError: ``peer`` is already connected.
        """
        if peer in self._peers:
            raise LocalProtocolError(f"peer {peer!r} is already connected")
        self._peers[peer] = Peer(name or str(peer), self.config.max_header_size)

    def receive_data(self, peer: PeerT, data: Buffer, now: float) -> None:
        """Feed octets from ``peer``; ``b""`` is its end of stream.

        Raises:
            RemoteProtocolError: ``peer`` broke HTTP/1.1 (answered 400 when possible; that peer is closed).
            LocalProtocolError: ``peer`` is unknown or closed.
        """
        p = self._open(peer, "receive data")
        self._touched[peer] = None
        try:
            p.conn.receive_data(bytes(data))
            self._pump(peer, p, now)
            if not data and not p.closed:  # EOF with requests pipelined behind an open stream: they can't be answered
                self._end(peer, p, TerminationReason.PEER_CLOSED, None, now)
        except h11.RemoteProtocolError as exc:
            self._refuse_http(p, exc.error_status_hint, str(exc))
            error = RemoteProtocolError(f"i3X peer {p.name}: bad HTTP request: {exc}")
            self._end(peer, p, TerminationReason.PROTOCOL_ERROR, error, now)
            raise error from exc

    def connection_lost(self, peer: PeerT, now: float, exc: BaseException | None = None) -> None:
        """Report that ``peer``'s transport failed (nothing when closed or unknown)."""
        p = self._peers.get(peer)
        if p is not None and not p.closed:
            self._end(peer, p, TerminationReason.CONNECTION_LOST, exc, now)

    def close(self, peer: PeerT, now: float) -> None:
        """Close ``peer``: an open stream ends cleanly first (nothing when closed or unknown)."""
        p = self._peers.get(peer)
        if p is not None and not p.closed:
            if p.streaming is not None:
                self._end_stream(p, now)
            self._end(peer, p, TerminationReason.LOCAL_CLOSE, None, now)

    def abort(self, peer: PeerT, now: float, reason: TerminationReason) -> None:
        """Close ``peer`` at once for a driver limit; its output is dropped."""
        p = self._peers.get(peer)
        if p is not None and not p.closed:
            p.out.clear()
            self._end(peer, p, reason, None, now)

    def handle_timer(self, now: float) -> None:
        """Send due SSE keep-alive comments; delete subscriptions idle for ``subscription_ttl``."""
        for peer, p in self._peers.items():
            if p.keepalive_at is not None and p.keepalive_at <= now and not p.closed:
                self._sse(peer, p, _KEEPALIVE)
                p.keepalive_at = now + self.config.keepalive_interval
        self.subscriptions.expired(now)

    # -- PeerEngine outputs -------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The next keep-alive or subscription expiry, or ``None``."""
        times = [p.keepalive_at for p in self._peers.values() if p.keepalive_at is not None and not p.closed]
        expiry = self.subscriptions.next_expiry()
        if expiry is not None:
            times.append(expiry)
        return min(times) if times else None

    def next_event(self) -> tuple[PeerT, Event] | None:
        """The next ``(peer, event)``, or ``None``."""
        return self._events.popleft() if self._events else None

    def peers_with_output(self) -> list[PeerT]:
        """Return (and forget) the peers that got input, output or closed since the last call."""
        touched = list(self._touched)
        self._touched.clear()
        return touched

    def data_to_send(self, peer: PeerT) -> bytes:
        """Return and clear ``peer``'s octets; a closed peer is forgotten afterwards."""
        p = self._peers.get(peer)
        if p is None:
            return b""
        data = bytes(p.out)
        if p.stalled is not None:  # a stalled peer: what was queued before the stall, then nothing
            data, p.stalled = data[: p.stalled], 0
        p.out.clear()
        if p.closed:
            del self._peers[peer]
        return data

    def is_closed(self, peer: PeerT) -> bool:
        """True once ``peer`` is closed, or unknown."""
        p = self._peers.get(peer)
        return p is None or p.closed

    def frames_received(self, peer: PeerT) -> int:
        """Complete requests received from ``peer``."""
        p = self._peers.get(peer)
        return 0 if p is None else p.requests

    def is_established(self, peer: PeerT) -> bool:
        """True once ``peer`` sent one complete request."""
        return self.frames_received(peer) > 0

    def queued(self, peer: PeerT) -> int:
        """Octets queued for ``peer``."""
        p = self._peers.get(peer)
        return 0 if p is None else len(p.out)

    def buffered(self, peer: PeerT) -> int:
        """Octets received from ``peer`` and not yet processed (a partial or pipelined request)."""
        p = self._peers.get(peer)
        return 0 if p is None or p.closed else len(p.conn.trailing_data[0])

    def peers(self) -> list[PeerT]:
        """Every known peer."""
        return list(self._peers)

    # -- application --------------------------------------------------------------------------

    def publish(self, element_id: str, vqt: VQT, now: float) -> int:
        """Report a new value of ``element_id`` to its subscribers (:meth:`publish_many` of one).

        Returns:
            How many subscriptions got it.
        """
        return self.publish_many([(element_id, vqt)], now)

    def publish_many(self, values: Iterable[tuple[str, VQT]], now: float) -> int:
        """Report new values, in order, to their subscribers.

        Subscriptions monitoring an element, or a composition it is a component of within
        their ``maxDepth`` (0: any depth), get one numbered update each (``components`` as
        in the VQT). Queued for ``/sync`` when the subscription has no stream; on a stream,
        all updates of one call for one subscription go in one SSE event ``data: [...]``
        (one event per update with the ``cesmii-demo`` profile).

        Returns:
            How many (subscription, update) deliveries there were.
        """
        streamed: dict[int, tuple[Watch, list[ValueChange]]] = {}
        count = 0
        for element_id, vqt in values:
            value = nested_value(vqt) if self.profile.nested_value else vqt.value
            change = ValueChange(element_id, value, vqt.quality, vqt.timestamp, vqt.components)
            for watch in self.subscriptions.interested(self.space, element_id, self.config.max_depth_limit):
                count += 1
                p = self._peers.get(watch.stream_peer) if watch.stream_peer is not None else None
                if p is None or p.closed:
                    self.subscriptions.enqueue(watch, change)
                else:
                    streamed.setdefault(id(watch), (watch, []))[1].extend(
                        self.subscriptions.number(watch, change).updates
                    )
        for watch, updates in streamed.values():
            groups = [[u] for u in updates] if self.profile.one_update_per_event else [updates]
            for group in groups:
                self._sse(watch.stream_peer, self._peers[watch.stream_peer], b"data: " + encode(group) + b"\n\n")
        return count

    def open_stream(self, peer: PeerT, watch: Watch, now: float) -> None:
        """Answer the current request with an SSE stream for ``watch`` (ends its previous stream).

        Queued updates are sent at once and leave the queue.
        """
        old = self._peers.get(watch.stream_peer) if watch.stream_peer is not None else None
        if old is not None and old.streaming is watch:
            self._touched[watch.stream_peer] = None
            self._end_stream(old, now)
            self._pump(watch.stream_peer, old, now)
        p = self._peers[peer]
        headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
        p.out += self._send(p, h11.Response(status_code=200, headers=headers, reason=b"OK"))
        p.streaming, watch.stream_peer = watch, peer
        p.keepalive_at = now + self.config.keepalive_interval if self.profile.keepalive else None
        self._touched[peer] = None
        if self.profile.stream_greeting:
            self._sse(peer, p, self.profile.stream_greeting)
        while watch.queue:
            batch = watch.queue.popleft()
            if self.profile.flush_on_open:
                self._sse(peer, p, b"data: " + encode(batch.updates) + b"\n\n")

    def drop_subscription(self, watch: Watch, now: float) -> None:
        """Delete ``watch``; its stream, if open, ends cleanly."""
        self.subscriptions.delete(watch)
        peer = watch.stream_peer
        p = self._peers.get(peer) if peer is not None else None
        if p is not None and p.streaming is watch:
            self._touched[peer] = None
            self._end_stream(p, now)
            self._pump(peer, p, now)

    # -- faults for testing clients (notes §10; none unless asked for) ---------------------------

    def inject_fault(self, fault: Fault) -> None:
        """Make requests to ``fault.path`` fail with ``fault.status`` (and ``Retry-After``), or stall their streams."""
        self.faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault (streams already stalled stay silent)."""
        self.faults.clear()

    def stall_stream(self, subscription_id: str) -> bool:
        """Make the open stream of ``subscription_id`` silent from now on, without closing it (half-open).

        Returns:
            False when the subscription has no open stream.
        """
        watch = next((w for w in self.subscriptions.all() if w.subscription_id == subscription_id), None)
        p = self._peers.get(watch.stream_peer) if watch is not None and watch.stream_peer is not None else None
        if p is None or p.closed:
            return False
        p.stalled = len(p.out) if p.stalled is None else p.stalled
        return True

    # -- HTTP ---------------------------------------------------------------------------------

    def _pump(self, peer: PeerT, p: Peer, now: float) -> None:
        """Process every complete h11 event buffered for ``p``."""
        while not p.closed:
            event = p.conn.next_event()
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED:
                if p.conn.our_state is h11.DONE and p.conn.their_state is h11.DONE:
                    p.conn.start_next_cycle()
                    continue
                if p.conn.our_state is h11.MUST_CLOSE:
                    self._end(peer, p, TerminationReason.LOCAL_CLOSE, None, now)
                elif len(p.conn.trailing_data[0]) > self.config.max_body_size + self.config.max_header_size:
                    self._end(peer, p, TerminationReason.LIMIT_EXCEEDED, None, now)  # pipelined behind a stream
                return
            if isinstance(event, h11.Request):
                self._begin(peer, p, event, now)
            elif isinstance(event, h11.Data):
                p.body += event.data
                if len(p.body) > self.config.max_body_size:
                    self._too_large(peer, p, now)
            elif isinstance(event, h11.EndOfMessage):
                p.requests += 1
                self._dispatch(peer, p, now)
            elif isinstance(event, h11.ConnectionClosed):
                self._end(peer, p, TerminationReason.PEER_CLOSED, None, now)

    def _begin(self, peer: PeerT, p: Peer, request: h11.Request, now: float) -> None:
        p.request, p.body = request, bytearray()
        length = dict(request.headers).get(b"content-length")
        if length is not None and int(length) > self.config.max_body_size:
            self._too_large(peer, p, now)
        elif p.conn.client_is_waiting_for_100_continue:
            p.out += self._send(p, h11.InformationalResponse(status_code=100, headers=[]))

    def _too_large(self, peer: PeerT, p: Peer, now: float) -> None:
        detail = f"request body over {self.config.max_body_size} octets"
        self._reply(p, Reply(413, encode_error(413, "Content Too Large", detail)), [("connection", "close")])
        self._end(peer, p, TerminationReason.LIMIT_EXCEEDED, None, now)

    def _dispatch(self, peer: PeerT, p: Peer, now: float) -> None:
        request = p.request
        assert request is not None
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("ascii", "replace")
        path, _, query = target.partition("?")
        headers = dict(request.headers)
        p.gzip = accepts_gzip(headers.get(b"accept-encoding", b""))
        extra: list[tuple[str, str]] = []
        try:
            reply = self._route(peer, method, path, query, headers, bytes(p.body), now, extra)
        except Refusal as refusal:
            reply = Reply(refusal.status, encode_error(refusal.status, refusal.title, refusal.detail))
        except Exception as exc:  # the address space failed: the peer gets a 500, the server keeps running
            reply = Reply(500, encode_error(500, "Internal Server Error", f"{type(exc).__name__}: {exc}"))
        p.body = bytearray()
        self._events.append((peer, RequestHandled(method=method, target=target, status=reply.status if reply else 200)))
        if reply is not None:
            self._reply(p, reply, extra)
            if p.conn.our_state is h11.MUST_CLOSE:
                self._end(peer, p, TerminationReason.LOCAL_CLOSE, None, now)

    def _route(
        self,
        peer: PeerT,
        method: str,
        path: str,
        query: str,
        headers: dict[bytes, bytes],
        body: bytes,
        now: float,
        extra: list[tuple[str, str]],
    ) -> Reply | None:
        base = self.config.base_path
        local = path[len(base) :] if path.startswith(base + "/") else None
        handler = ROUTES.get((method, local)) if local is not None else None
        if handler is None:
            if local in PATHS:
                extra.append(("allow", ", ".join(m for m, r in ROUTES if r == local)))
                raise Refusal(405, "Method Not Allowed", f"{method} {path}")
            raise Refusal(404, "Not Found", f"no endpoint {method} {path}")
        fault = self.faults.take(local) if self.faults.active and local is not None else None
        if fault is not None and fault.status is not None:
            if fault.retry_after is not None:
                extra.append(("retry-after", str(fault.retry_after)))
            raise Refusal(fault.status, http.HTTPStatus(fault.status).phrase, f"injected fault on {local}")
        if local != "/info" and not authorized(self.config, headers.get(b"authorization", b"")):
            extra.append(("www-authenticate", "Bearer" if self.config.bearer_token else 'Basic realm="i3x"'))
            raise Refusal(401, "Unauthorized", "missing or invalid credentials")
        reply = handler(Call(self, peer, query, body, now))
        if reply is None and fault is not None:  # a stream opened on a stalled path: silent after its greeting
            self._peers[peer].stalled = len(self._peers[peer].out)
        return reply

    def _reply(self, p: Peer, reply: Reply, extra: list[tuple[str, str]]) -> None:
        body = rewrite_errors(reply.body, self.profile.error_keys)
        headers = [_JSON, *extra]
        if p.gzip and len(body) >= self.config.gzip_min_size:
            packer = zlib.compressobj(wbits=31)
            body = packer.compress(body) + packer.flush()
            headers += [("content-encoding", "gzip"), ("vary", "Accept-Encoding")]
        headers.append(("content-length", str(len(body))))
        phrase = http.HTTPStatus(reply.status).phrase.encode()
        p.out += self._send(p, h11.Response(status_code=reply.status, headers=headers, reason=phrase))
        p.out += self._send(p, h11.Data(data=body))
        p.out += self._send(p, h11.EndOfMessage())

    def _refuse_http(self, p: Peer, status: int, detail: str) -> None:
        """Answer a broken request with an error envelope when h11 still allows a response."""
        if p.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            reply = Reply(status, encode_error(status, http.HTTPStatus(status).phrase, detail))
            with contextlib.suppress(h11.LocalProtocolError):
                self._reply(p, reply, [("connection", "close")])

    @staticmethod
    def _send(p: Peer, event: h11.Event) -> bytes:
        return p.conn.send(event) or b""

    # -- SSE ----------------------------------------------------------------------------------

    def _sse(self, peer: PeerT, p: Peer, chunk: bytes) -> None:
        self._touched[peer] = None
        p.out += self._send(p, h11.Data(data=chunk))

    def _end_stream(self, p: Peer, now: float) -> None:
        watch, p.streaming, p.keepalive_at = p.streaming, None, None
        if watch is not None and watch.stream_peer is not None:
            watch.stream_peer, watch.last_active = None, now
        if p.conn.our_state is h11.SEND_BODY:
            if self.profile.close_event:
                p.out += self._send(p, h11.Data(data=self.profile.close_event))
            p.out += self._send(p, h11.EndOfMessage())

    # -- helpers ------------------------------------------------------------------------------

    def _open(self, peer: PeerT, verb: str) -> Peer:
        p = self._peers.get(peer)
        if p is None:
            raise LocalProtocolError(f"can't {verb}: unknown peer {peer!r}")
        if p.closed:
            raise LocalProtocolError(f"can't {verb}: peer {peer!r} is closed")
        return p

    def _end(self, peer: PeerT, p: Peer, reason: TerminationReason, error: BaseException | None, now: float) -> None:
        if p.closed:
            return
        if p.streaming is not None:
            watch = p.streaming
            p.streaming, p.keepalive_at = None, None
            if watch.stream_peer == peer:
                watch.stream_peer, watch.last_active = None, now
        p.closed = True
        self._touched[peer] = None
        self._events.append((peer, ConnectionTerminated(reason=reason, error=error)))
