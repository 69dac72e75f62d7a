"""The i3X calls written once, as generators, for the blocking and the asyncio client (notes §11).

Each function yields ``(method, path, body)`` requests, receives each 2xx answer's body
octets via ``send`` and returns the model; the client runs it with blocking or awaited
requests. Status errors are raised by the client before the body gets here; item
failures and malformed bodies are raised here (``I3XError`` subclasses).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec

from otwire.clients.i3x import _base, errors
from otwire.codecs.i3x import (
    CreateSubscriptionRequest,
    CurrentValue,
    DeleteSubscriptionsRequest,
    GetObjectHistoryRequest,
    GetObjectsRequest,
    GetObjectTypesRequest,
    GetObjectValueRequest,
    GetRelatedObjectsRequest,
    GetRelationshipTypesRequest,
    HistoricalValue,
    ListSubscriptionsRequest,
    ObjectInstance,
    ObjectType,
    RegisterMonitoredItemsRequest,
    RelatedObject,
    RelationshipType,
    ServerInfo,
    Subscription,
    SyncBatch,
    SyncRequest,
    UnregisterMonitoredItemsRequest,
    UpdateValueRequest,
    ValueUpdateItem,
    decode_server_info,
    decode_sync,
)
from otwire.errors import DecodeError

T = TypeVar("T")
Call = tuple[str, str, msgspec.Struct | None]
Step = Generator[Call, bytes, T]


def sub_id(subscription: Subscription | str) -> str:
    """The id of a :class:`Subscription` or an id string."""
    return subscription.subscription_id if isinstance(subscription, Subscription) else subscription


def query(**params: str | None) -> str:
    """``?a=1&b=2`` of the given parameters (``None`` left out), or ``""``."""
    given = {name: value for name, value in params.items() if value is not None}
    return "?" + urlencode(given) if given else ""


def get_info() -> Step[ServerInfo]:
    raw = yield ("GET", "/info", None)
    try:
        return decode_server_info(raw)
    except DecodeError as exc:
        raise errors.InvalidServerResponseError(f"GET /info is not an i3X server description: {exc}") from exc


def get_list(path: str, type_: type[T]) -> Step[list[T]]:
    raw = yield ("GET", path, None)
    found: list[T] = _base.result(raw, list[type_]) or []  # type: ignore[valid-type]
    return found


def bulk_items(path: str, body: msgspec.Struct, type_: Any) -> Step[list[Any]]:
    """The successful items' results of a bulk call (failed ids left out)."""
    raw = yield ("POST", path, body)
    return [item.result for item in _base.bulk(raw, type_).items if item.result is not None]


def bulk_first(path: str, body: msgspec.Struct, type_: Any, default: str) -> Step[Any]:
    """The one item's result; a failed item raises (NotFoundError for 404)."""
    raw = yield ("POST", path, body)
    return _base.first(_base.bulk(raw, type_), default)


def query_object_types(element_ids: list[str]) -> Step[list[ObjectType]]:
    return bulk_items("/objecttypes/query", GetObjectTypesRequest(element_ids=element_ids), ObjectType)


def query_relationship_types(element_ids: list[str]) -> Step[list[RelationshipType]]:
    body = GetRelationshipTypesRequest(element_ids=element_ids)
    return bulk_items("/relationshiptypes/query", body, RelationshipType)


def get_objects(type_element_id: str | None, include_metadata: bool, root: bool | None) -> Step[list[ObjectInstance]]:
    path = "/objects" + query(
        typeElementId=type_element_id,
        includeMetadata="true" if include_metadata else None,
        root=None if root is None else ("true" if root else "false"),
    )
    return get_list(path, ObjectInstance)


def get_object(element_id: str, include_metadata: bool) -> Step[ObjectInstance]:
    body = GetObjectsRequest(element_ids=[element_id], include_metadata=include_metadata)
    return bulk_first("/objects/list", body, ObjectInstance, f"object not found: {element_id}")


def list_objects(element_ids: list[str], include_metadata: bool) -> Step[list[ObjectInstance]]:
    body = GetObjectsRequest(element_ids=element_ids, include_metadata=include_metadata)
    return bulk_items("/objects/list", body, ObjectInstance)


def get_related_objects(
    element_ids: list[str], relationship_type: str | None, include_metadata: bool
) -> Step[list[RelatedObject]]:
    body = GetRelatedObjectsRequest(
        element_ids=element_ids, relationship_type=relationship_type, include_metadata=include_metadata
    )
    lists = yield from bulk_items("/objects/related", body, list[RelatedObject])
    return [related for found in lists for related in found]


def get_value(element_id: str, max_depth: int) -> Step[CurrentValue]:
    body = GetObjectValueRequest(element_ids=[element_id], max_depth=max_depth)
    return bulk_first("/objects/value", body, CurrentValue, f"no value for: {element_id}")


def get_values(element_ids: list[str], max_depth: int) -> Step[dict[str, CurrentValue]]:
    body = GetObjectValueRequest(element_ids=element_ids, max_depth=max_depth)
    values = yield from bulk_items("/objects/value", body, CurrentValue)
    return {value.element_id: value for value in values}


def get_history(element_id: str, start_time: str | None, end_time: str | None, max_depth: int) -> Step[HistoricalValue]:
    body = GetObjectHistoryRequest(
        element_ids=[element_id], start_time=start_time, end_time=end_time, max_depth=max_depth
    )
    return bulk_first("/objects/history", body, HistoricalValue, f"no history for: {element_id}")


def update_values(updates: dict[str, Any], checked: bool) -> Step[list[dict[str, Any]]]:
    """``PUT /objects/value``; ``checked`` raises for the first failed item."""
    items = [ValueUpdateItem(element_id=eid, value=_base.vqt_input(vqt)) for eid, vqt in updates.items()]
    raw = yield ("PUT", "/objects/value", UpdateValueRequest(updates=items))
    results = _base.raw_results(raw)
    if checked:
        _base.raise_failed(results)
    return results


def update_history(element_id: str, values: Any) -> Step[None]:
    items = values if isinstance(values, list) else [values]
    body = _base.HistoryBody(
        updates=[_base.HistoryItem(element_id=element_id, value=_base.vqt_input(v)) for v in items]
    )
    raw = yield ("PUT", "/objects/history", body)
    _base.raise_failed(_base.raw_results(raw))


def create_subscription(client_id: str, display_name: str | None) -> Step[str]:
    body = CreateSubscriptionRequest(client_id=client_id, display_name=display_name)
    raw = yield ("POST", "/subscriptions", body)
    created = _base.result(raw, Subscription)
    if not isinstance(created, Subscription):
        raise errors.SubscriptionError("the server created no subscription")
    return created.subscription_id


def register_items(client_id: str, subscription_id: str, element_ids: list[str], max_depth: int) -> Step[list[Any]]:
    body = RegisterMonitoredItemsRequest(
        client_id=client_id, subscription_id=subscription_id, element_ids=element_ids, max_depth=max_depth
    )
    raw = yield ("POST", "/subscriptions/register", body)
    return _base.raw_results(raw)


def unregister_items(client_id: str, subscription_id: str, element_ids: list[str]) -> Step[list[Any]]:
    body = UnregisterMonitoredItemsRequest(
        client_id=client_id, subscription_id=subscription_id, element_ids=element_ids
    )
    raw = yield ("POST", "/subscriptions/unregister", body)
    return _base.raw_results(raw)


def subscribe(client_id: str, element_ids: list[str], max_depth: int, display_name: str | None) -> Step[Subscription]:
    """Create and register (the client starts the stream)."""
    subscription_id = yield from create_subscription(client_id, display_name)
    yield from register_items(client_id, subscription_id, element_ids, max_depth)
    monitored = [{"elementId": element_id, "maxDepth": max_depth} for element_id in element_ids]
    return Subscription(subscription_id, client_id, display_name, monitored)


def delete_subscription(client_id: str, subscription_id: str) -> Step[None]:
    body = DeleteSubscriptionsRequest(client_id=client_id, subscription_ids=[subscription_id])
    yield ("POST", "/subscriptions/delete", body)


def get_subscription(client_id: str, subscription_id: str) -> Step[Subscription]:
    body = ListSubscriptionsRequest(client_id=client_id, subscription_ids=[subscription_id])
    return bulk_first("/subscriptions/list", body, Subscription, f"subscription not found: {subscription_id}")


def list_subscriptions(client_id: str, subscription_ids: list[str]) -> Step[list[Subscription]]:
    body = ListSubscriptionsRequest(client_id=client_id, subscription_ids=subscription_ids)
    return bulk_items("/subscriptions/list", body, Subscription)


def sync_subscription(client_id: str, subscription_id: str, last_sequence_number: int | None) -> Step[list[SyncBatch]]:
    body = SyncRequest(client_id=client_id, subscription_id=subscription_id, last_sequence_number=last_sequence_number)
    raw = yield ("POST", "/subscriptions/sync", body)
    try:
        response = decode_sync(raw)
    except DecodeError as exc:
        raise errors.I3XError(f"malformed answer: {exc}") from exc
    if response.failure is not None:
        raise _base.item_error(response.failure, "sync failed")
    return response.result or []
