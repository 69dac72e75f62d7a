"""The i3X 1.0 endpoints of the server engine: one function per route (notes §3; research §3).

Each handler takes a :class:`Call` and returns a :class:`Reply` (status and JSON body),
or ``None`` when it started an SSE stream on the peer. A refusal is raised as
:class:`Refusal` and becomes a 1.0 error envelope. Paths are relative to the engine's
``base_path``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from otwire.codecs.i3x import (
    VQT,
    BulkFailure,
    BulkItem,
    BulkResponse,
    CreateSubscriptionRequest,
    DeleteSubscriptionsRequest,
    GetObjectHistoryRequest,
    GetObjectsRequest,
    GetObjectTypesRequest,
    GetObjectValueRequest,
    GetRelatedObjectsRequest,
    GetRelationshipTypesRequest,
    ListSubscriptionsRequest,
    Quality,
    RegisterMonitoredItemsRequest,
    ResponseDetail,
    ServerInfo,
    StreamRequest,
    SyncBatch,
    SyncRequest,
    UnregisterMonitoredItemsRequest,
    UpdateHistoryRequest,
    UpdateValueRequest,
    decode,
    encode_bulk,
    encode_response,
    format_timestamp,
    parse_timestamp,
)
from otwire.errors import DecodeError
from otwire.protocols.i3x._server_profiles import Profile
from otwire.protocols.i3x._server_schema import SchemaCheck
from otwire.protocols.i3x._server_subs import SubscriptionStore, Watch
from otwire.protocols.i3x.config import I3XServerConfig
from otwire.protocols.i3x.space import AddressSpace

__all__ = ["ROUTES", "Call", "Refusal", "Reply"]

SPEC_VERSION = "1.0"


class Refusal(Exception):
    """A request refused as a whole: HTTP ``status`` with a 1.0 ``responseDetail``."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail = status, title, detail


@dataclass(frozen=True, slots=True)
class Reply:
    """A JSON response: HTTP status and body octets."""

    status: int
    body: bytes


class Engine(Protocol):
    """What the handlers use of :class:`~otwire.protocols.i3x.server.I3XServer`."""

    space: AddressSpace
    config: I3XServerConfig
    subscriptions: SubscriptionStore
    schemas: SchemaCheck
    wall_clock: Callable[[], float]
    profile: Profile

    def publish(self, element_id: str, vqt: VQT, now: float) -> int: ...

    def open_stream(self, peer: Any, watch: Watch, now: float) -> None: ...

    def drop_subscription(self, watch: Watch, now: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Call:
    """One complete request as the handlers see it."""

    server: Engine
    peer: Any
    query: str
    body: bytes
    now: float

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or ``None``."""
        values = parse_qs(self.query).get(name)
        return values[0] if values else None

    def flag(self, name: str) -> bool:
        """Query parameter ``name`` as a boolean (``true``/``1``).

        Raises:
            Refusal: 400, the value is not a boolean.
        """
        value = self.param(name)
        if value is None:
            return False
        if value.lower() not in ("true", "false", "1", "0"):
            raise Refusal(400, "Bad Request", f"query parameter {name}={value!r} is not a boolean")
        return value.lower() in ("true", "1")

    def decode(self, type_: Any) -> Any:
        """The JSON body as ``type_``.

        Raises:
            Refusal: 400 with the codec's message (malformed JSON or a wrong shape).
        """
        try:
            return decode(self.body, type_)
        except DecodeError as exc:
            raise Refusal(400, "Bad Request", str(exc)) from None


def _ok(result: Any, detail: ResponseDetail | None = None) -> Reply:
    return Reply(206 if detail is not None else 200, encode_response(result, detail=detail))


def _bulk(results: list[BulkItem[Any] | BulkFailure], detail: ResponseDetail | None = None) -> Reply:
    success = all(isinstance(item, BulkItem) for item in results)
    body = encode_bulk(BulkResponse(success, results, detail))
    return Reply(206 if detail is not None else 200, body)


def _missing(element_id: str, what: str = "Element") -> BulkFailure:
    return BulkFailure(element_id, None, ResponseDetail("Not Found", 404, f"{what} not found: {element_id}"))


def _client_id(client_id: str | None) -> str:
    if not client_id:
        raise Refusal(400, "Bad Request", "clientId is required")
    return client_id


def _truncated(limit: int) -> ResponseDetail:
    return ResponseDetail("Composition depth limited", 206, f"maxDepth limited to {limit} by the server")


# -- info and types ---------------------------------------------------------------------------------


def info(call: Call) -> Reply:
    """``GET /info`` (open without credentials)."""
    config, space = call.server.config, call.server.space
    capabilities = {
        "query": {"history": True},
        "update": {"current": space.value_writable, "history": space.history_writable},
        "subscribe": {"stream": True},
    }
    version = call.server.profile.server_version or config.server_version
    return _ok(ServerInfo(SPEC_VERSION, version, config.server_name, capabilities))


def namespaces(call: Call) -> Reply:
    """``GET /namespaces``."""
    return _ok(call.server.space.namespaces())


def object_types(call: Call) -> Reply:
    """``GET /objecttypes?namespaceUri=``."""
    return _ok(call.server.space.object_types(call.param("namespaceUri")))


def query_object_types(call: Call) -> Reply:
    """``POST /objecttypes/query``."""
    request: GetObjectTypesRequest = call.decode(GetObjectTypesRequest)
    space = call.server.space
    return _bulk([_item(i, space.object_type(i), "Object type") for i in request.element_ids])


def relationship_types(call: Call) -> Reply:
    """``GET /relationshiptypes?namespaceUri=``."""
    return _ok(call.server.space.relationship_types(call.param("namespaceUri")))


def query_relationship_types(call: Call) -> Reply:
    """``POST /relationshiptypes/query``."""
    request: GetRelationshipTypesRequest = call.decode(GetRelationshipTypesRequest)
    space = call.server.space
    return _bulk([_item(i, space.relationship_type(i), "Relationship type") for i in request.element_ids])


def _item(element_id: str, result: Any, what: str = "Element") -> BulkItem[Any] | BulkFailure:
    return _missing(element_id, what) if result is None else BulkItem(element_id, None, result)


# -- objects ----------------------------------------------------------------------------------------


def objects(call: Call) -> Reply:
    """``GET /objects?typeElementId=&includeMetadata=&root=``."""
    type_id, metadata, root = call.param("typeElementId"), call.flag("includeMetadata"), call.flag("root")
    return _ok(call.server.space.objects(type_element_id=type_id, root=root, include_metadata=metadata))


def list_objects(call: Call) -> Reply:
    """``POST /objects/list``."""
    request: GetObjectsRequest = call.decode(GetObjectsRequest)
    space = call.server.space
    return _bulk([_item(i, space.object(i, include_metadata=request.include_metadata)) for i in request.element_ids])


def related_objects(call: Call) -> Reply:
    """``POST /objects/related``."""
    request: GetRelatedObjectsRequest = call.decode(GetRelatedObjectsRequest)
    space, kind, metadata = call.server.space, request.relationship_type, request.include_metadata
    return _bulk([_item(i, space.related(i, kind, include_metadata=metadata)) for i in request.element_ids])


def _depth(requested: int, limit: int) -> int:
    """The depth to fetch: ``requested``, or one past ``limit`` for "unlimited" or too deep (to detect truncation)."""
    if requested < 0:
        raise Refusal(400, "Bad Request", f"maxDepth={requested} must be >= 0")
    return limit + 1 if requested == 0 or requested > limit else requested


def _levels(components: dict[str, Any] | None) -> int:
    """Levels of ``components`` nested below a value (0 without)."""
    if not components:
        return 0
    return 1 + max(_levels(child.components) for child in components.values())


def object_values(call: Call) -> Reply:
    """``POST /objects/value`` (206 when a composition was deeper than the server's limit)."""
    request: GetObjectValueRequest = call.decode(GetObjectValueRequest)
    space, limit = call.server.space, call.server.config.max_depth_limit
    depth = _depth(request.max_depth, limit)
    results: list[BulkItem[Any] | BulkFailure] = []
    truncated = False
    for element_id in request.element_ids:
        value = space.current_value(element_id, depth)
        if value is not None and depth > limit and _levels(value.components) >= limit:
            value, truncated = space.current_value(element_id, limit), True
        results.append(_item(element_id, value))
    return _bulk(results, _truncated(limit) if truncated else None)


def object_history(call: Call) -> Reply:
    """``POST /objects/history`` (206 when a composition was deeper than the server's limit)."""
    request: GetObjectHistoryRequest = call.decode(GetObjectHistoryRequest)
    space, limit = call.server.space, call.server.config.max_depth_limit
    depth = _depth(request.max_depth, limit)
    results: list[BulkItem[Any] | BulkFailure] = []
    truncated = False
    for element_id in request.element_ids:
        try:
            value = space.history(element_id, request.start_time, request.end_time, depth)
            if value is not None and depth > limit and _levels(value.components) >= limit:
                value, truncated = space.history(element_id, request.start_time, request.end_time, limit), True
        except DecodeError as exc:
            raise Refusal(400, "Bad Request", f"startTime/endTime: {exc}") from None
        results.append(_item(element_id, value))
    return _bulk(results, _truncated(limit) if truncated else None)


_QUALITIES = frozenset(Quality)


def _bad_vqt(vqt: VQT) -> str | None:
    """Why a written VQT is refused (not one of the four qualities, not RFC 3339), or ``None``."""
    if vqt.quality not in _QUALITIES:
        return f"quality {vqt.quality!r} is not one of {', '.join(sorted(_QUALITIES))}"
    try:
        parse_timestamp(vqt.timestamp)
    except DecodeError as exc:
        return str(exc)
    return None


def _write_item(
    call: Call, element_id: str, vqt: VQT, write: Callable[[str, VQT], bool]
) -> BulkItem[Any] | BulkFailure:
    """Check and write one VQT: a 400 item when refused, a 404 item when the element is unknown."""
    why = _bad_vqt(vqt)
    found = (400, why) if why is not None else call.server.schemas.problem(element_id, vqt.value, vqt.quality)
    if found is not None:
        status, why = found
        title = "Bad Request" if status == 400 else "Internal Server Error"
        return BulkFailure(element_id, None, ResponseDetail(title, status, f"{element_id}: {why}"))
    return BulkItem(element_id, None, None) if write(element_id, vqt) else _missing(element_id)


def write_values(call: Call) -> Reply:
    """``PUT /objects/value`` (quality defaults to Good, timestamp to the server's clock).

    An item with another quality than the four, a timestamp that is not RFC 3339, or (quality
    Good/Uncertain) a value that does not match its object type's JSON Schema fails with status
    400 and the JSON path, and changes nothing (notes §9).
    """
    server = call.server
    if not server.space.value_writable:
        raise Refusal(501, "Not Implemented", "this server does not accept value writes")
    request: UpdateValueRequest = call.decode(UpdateValueRequest)
    results: list[BulkItem[Any] | BulkFailure] = []
    for update in request.updates:
        given = update.value
        stamp = given.timestamp or format_timestamp(datetime.fromtimestamp(server.wall_clock(), UTC))
        vqt = VQT(given.value, given.quality or "Good", stamp)
        item = _write_item(call, update.element_id, vqt, server.space.write_value)
        if isinstance(item, BulkItem):
            server.publish(update.element_id, vqt, call.now)
        results.append(item)
    return _bulk(results)


def write_history(call: Call) -> Reply:
    """``PUT /objects/history`` (501 when the space does not accept it).

    Value, quality and timestamp are all required: an item missing one, with another quality
    than the four, a timestamp that is not RFC 3339, or a value off its type's schema fails with status 400.
    """
    space = call.server.space
    if not space.history_writable:
        raise Refusal(501, "Not Implemented", "this server does not accept history writes")
    request: UpdateHistoryRequest = call.decode(UpdateHistoryRequest)
    results = [_write_item(call, u.element_id, u.value, space.write_history) for u in request.updates]
    return _bulk(results)


# -- subscriptions ----------------------------------------------------------------------------------


def _owned(call: Call, client_id: str | None, subscription_id: str) -> Watch:
    watch = call.server.subscriptions.owned(subscription_id, _client_id(client_id))
    if watch is None:
        raise Refusal(404, "Not Found", f"Subscription not found: {subscription_id}")
    return watch


def create_subscription(call: Call) -> Reply:
    """``POST /subscriptions``."""
    request: CreateSubscriptionRequest = call.decode(CreateSubscriptionRequest)
    client_id = _client_id(request.client_id)
    watch = call.server.subscriptions.create(client_id, request.display_name, call.now)
    if watch is None:
        raise Refusal(400, "Bad Request", "too many subscriptions")
    return _ok(watch.as_model(with_items=False))


def register(call: Call) -> Reply:
    """``POST /subscriptions/register`` (idempotent; unknown ids are per-item 404)."""
    request: RegisterMonitoredItemsRequest = call.decode(RegisterMonitoredItemsRequest)
    watch = _owned(call, request.client_id, request.subscription_id)
    if request.max_depth < 0:
        raise Refusal(400, "Bad Request", f"maxDepth={request.max_depth} must be >= 0")
    watch.last_active = call.now
    results: list[BulkItem[Any] | BulkFailure] = []
    for element_id in request.element_ids:
        if call.server.space.object(element_id) is None:
            results.append(_missing(element_id))
        else:
            watch.monitored[element_id] = request.max_depth
            results.append(BulkItem(element_id, None, None))
    return _bulk(results)


def unregister(call: Call) -> Reply:
    """``POST /subscriptions/unregister`` (queued values stay)."""
    request: UnregisterMonitoredItemsRequest = call.decode(UnregisterMonitoredItemsRequest)
    watch = _owned(call, request.client_id, request.subscription_id)
    results: list[BulkItem[Any] | BulkFailure] = []
    for element_id in request.element_ids:
        found = watch.monitored.pop(element_id, None) is not None
        results.append(BulkItem(element_id, None, None) if found else _missing(element_id, "Monitored item"))
    return _bulk(results)


def list_subscriptions(call: Call) -> Reply:
    """``POST /subscriptions/list`` (items keyed by subscriptionId)."""
    request: ListSubscriptionsRequest = call.decode(ListSubscriptionsRequest)
    client_id, store = _client_id(request.client_id), call.server.subscriptions
    results: list[BulkItem[Any] | BulkFailure] = []
    for subscription_id in request.subscription_ids:
        watch = store.owned(subscription_id, client_id)
        results.append(_sub_item(subscription_id, watch.as_model() if watch is not None else None))
    return _bulk(results)


def delete_subscriptions(call: Call) -> Reply:
    """``POST /subscriptions/delete`` (an open stream of it ends cleanly)."""
    request: DeleteSubscriptionsRequest = call.decode(DeleteSubscriptionsRequest)
    client_id, server = _client_id(request.client_id), call.server
    results: list[BulkItem[Any] | BulkFailure] = []
    for subscription_id in request.subscription_ids:
        watch = server.subscriptions.owned(subscription_id, client_id)
        if watch is not None:
            server.drop_subscription(watch, call.now)
        results.append(_sub_item(subscription_id, None if watch is None else True))
    return _bulk(results)


def _sub_item(subscription_id: str, result: Any) -> BulkItem[Any] | BulkFailure:
    if result is None:
        detail = ResponseDetail("Not Found", 404, f"Subscription not found: {subscription_id}")
        return BulkFailure(None, subscription_id, detail)
    return BulkItem(None, subscription_id, None if result is True else result)


def stream(call: Call) -> Reply | None:
    """``POST /subscriptions/stream``: the SSE response starts (``None``), or an error."""
    request: StreamRequest = call.decode(StreamRequest)
    watch = _owned(call, request.client_id, request.subscription_id)
    call.server.open_stream(call.peer, watch, call.now)
    return None


def sync(call: Call) -> Reply:
    """``POST /subscriptions/sync`` (while a stream is open: as the profile says; 206 after a queue overflow)."""
    request: SyncRequest = call.decode(SyncRequest)
    watch = _owned(call, request.client_id, request.subscription_id)
    if watch.stream_peer is not None:
        quirk = call.server.profile.sync_while_streaming
        if quirk == "empty":
            return _ok([])
        if quirk == "error":
            raise Refusal(400, "Bad Request", "Subscription stream is active")
    batches, dropped = call.server.subscriptions.sync(watch, request.last_sequence_number, call.now)
    detail = None
    if dropped and call.server.profile.overflow_206:
        detail = ResponseDetail("Updates dropped due to queue overflow", 206, f"{dropped} updates dropped")
    return _ok(_shaped(batches, call.server.profile.sync_shape), detail)


def _shaped(batches: list[SyncBatch], shape: str) -> list[Any]:
    """The sync result in the profile's shape (``batches``, ``rebundled`` or ``flat``)."""
    if shape == "batches" or not batches:
        return batches
    updates = [update for batch in batches for update in batch.updates]
    if shape == "flat":
        return updates
    return [SyncBatch(batches[-1].sequence_number, updates)]


Handler = Callable[[Call], "Reply | None"]

#: (method, path below base_path) -> handler.
ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/info"): info,
    ("GET", "/namespaces"): namespaces,
    ("GET", "/objecttypes"): object_types,
    ("POST", "/objecttypes/query"): query_object_types,
    ("GET", "/relationshiptypes"): relationship_types,
    ("POST", "/relationshiptypes/query"): query_relationship_types,
    ("GET", "/objects"): objects,
    ("POST", "/objects/list"): list_objects,
    ("POST", "/objects/related"): related_objects,
    ("POST", "/objects/value"): object_values,
    ("PUT", "/objects/value"): write_values,
    ("POST", "/objects/history"): object_history,
    ("PUT", "/objects/history"): write_history,
    ("POST", "/subscriptions"): create_subscription,
    ("POST", "/subscriptions/register"): register,
    ("POST", "/subscriptions/unregister"): unregister,
    ("POST", "/subscriptions/list"): list_subscriptions,
    ("POST", "/subscriptions/delete"): delete_subscriptions,
    ("POST", "/subscriptions/stream"): stream,
    ("POST", "/subscriptions/sync"): sync,
}

#: Paths known with some method (405 instead of 404 for the others).
PATHS = frozenset(path for _, path in ROUTES)
