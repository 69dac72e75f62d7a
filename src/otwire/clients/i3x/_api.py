"""The i3X calls written once, as generators, for the blocking and the asyncio client (notes §11).

Each function yields ``(method, path, body)`` requests, receives each 2xx answer's body
octets via ``send`` and returns the model; the client runs it with blocking or awaited
requests. Status errors are raised by the client before the body gets here; item
failures and malformed bodies are raised here (``I3XError`` subclasses).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import msgspec

from otwire.clients.i3x import _base, errors
from otwire.clients.i3x._streams import Gap, ResyncedChange, resynced
from otwire.clients.i3x.results import Results, SyncBatches, ValueResults, overflow_gap
from otwire.codecs.i3x import (
    BetaError,
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
    Response,
    ResponseDetail,
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


def bulk_items(path: str, body: msgspec.Struct, type_: Any) -> Step[Results[Any]]:
    """The successful items' results of a bulk call; failed ids in ``failures``, a 206 in ``response_detail``."""
    raw = yield ("POST", path, body)
    response = _base.bulk(raw, type_)
    failures = {
        failure.key or "": _base.item_error(failure.detail, f"not found: {failure.key}")
        for failure in response.failures
    }
    found = [item.result for item in response.items if item.result is not None]
    return Results(found, failures, _partial(response.response_detail, response.error))


def _partial(detail: ResponseDetail | None, beta: BetaError | None) -> ResponseDetail | None:
    """The top-level detail of a successful call when it reports a 2xx (206); a Beta-keyed one counts too."""
    if detail is None and beta is not None:
        detail = beta.as_detail()
    partial = detail is not None and (detail.status is None or 200 <= detail.status < 300)
    return detail if partial else None


def bulk_first(path: str, body: msgspec.Struct, type_: Any, default: str) -> Step[Any]:
    """The one item's result; a failed item raises (NotFoundError for 404)."""
    raw = yield ("POST", path, body)
    return _base.first(_base.bulk(raw, type_), default)


def query_object_types(element_ids: list[str]) -> Step[Results[ObjectType]]:
    return bulk_items("/objecttypes/query", GetObjectTypesRequest(element_ids=element_ids), ObjectType)


def query_relationship_types(element_ids: list[str]) -> Step[Results[RelationshipType]]:
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


def list_objects(element_ids: list[str], include_metadata: bool) -> Step[Results[ObjectInstance]]:
    body = GetObjectsRequest(element_ids=element_ids, include_metadata=include_metadata)
    return bulk_items("/objects/list", body, ObjectInstance)


def get_related_objects(
    element_ids: list[str], relationship_type: str | None, include_metadata: bool
) -> Step[Results[RelatedObject]]:
    body = GetRelatedObjectsRequest(
        element_ids=element_ids, relationship_type=relationship_type, include_metadata=include_metadata
    )
    lists = yield from bulk_items("/objects/related", body, list[RelatedObject])
    return Results([related for found in lists for related in found], lists.failures, lists.response_detail)


def get_value(element_id: str, max_depth: int) -> Step[CurrentValue]:
    body = GetObjectValueRequest(element_ids=[element_id], max_depth=max_depth)
    return bulk_first("/objects/value", body, CurrentValue, f"no value for: {element_id}")


def get_values(element_ids: list[str], max_depth: int) -> Step[ValueResults]:
    body = GetObjectValueRequest(element_ids=element_ids, max_depth=max_depth)
    values = yield from bulk_items("/objects/value", body, CurrentValue)
    return ValueResults({value.element_id: value for value in values}, values.failures, values.response_detail)


def get_history(element_id: str, start_time: str | None, end_time: str | None, max_depth: int) -> Step[HistoricalValue]:
    body = GetObjectHistoryRequest(
        element_ids=[element_id], start_time=start_time, end_time=end_time, max_depth=max_depth
    )
    return bulk_first("/objects/history", body, HistoricalValue, f"no history for: {element_id}")


def update_values(updates: dict[str, Any], checked: bool, routes: _base.WriteRoutes) -> Step[list[dict[str, Any]]]:
    """``PUT /objects/value``; ``checked`` raises for the first failed item.

    Beta detection by behaviour (research §3 "Beta deltas", §8.9): when the bulk route
    answers 404 or 405 as a whole, each value is written with the Beta
    ``PUT /objects/{elementId}/value``; once that worked, ``routes`` remembers it.
    """
    if routes.per_element:
        results = yield from _per_element_writes(updates, routes)
    else:
        items = [ValueUpdateItem(element_id=eid, value=_base.vqt_input(vqt)) for eid, vqt in updates.items()]
        try:
            raw = yield ("PUT", "/objects/value", UpdateValueRequest(updates=items))
            results = _base.raw_results(raw)
        except errors.I3XError as exc:
            if exc.status_code not in (404, 405):
                raise
            results = yield from _per_element_writes(updates, routes)
    if checked:
        _base.raise_failed(results)
    return results


def _per_element_writes(updates: dict[str, Any], routes: _base.WriteRoutes) -> Step[list[dict[str, Any]]]:
    """The Beta writes, one ``PUT /objects/{elementId}/value`` per element, as bulk-like result dicts."""
    results: list[dict[str, Any]] = []
    for element_id, vqt in updates.items():
        try:
            yield ("PUT", f"/objects/{quote(element_id, safe='')}/value", _base.vqt_input(vqt))
        except errors.I3XError as exc:
            detail = {"status": exc.status_code or 404, "detail": str(exc)}
            results.append({"success": False, "elementId": element_id, "responseDetail": detail})
            continue
        routes.per_element = True
        results.append({"success": True, "elementId": element_id, "result": None})
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


def registered(results: list[Any], element_ids: list[str], max_depth: int) -> dict[str, int]:
    """Element id -> ``max_depth`` of the items a register call accepted (all when the server listed none)."""
    failed = {r.get("elementId") for r in results if isinstance(r, dict) and r.get("success") is False}
    return {element_id: max_depth for element_id in element_ids if element_id not in failed}


def refused(results: list[Any]) -> errors.SubscriptionError | None:
    """A :class:`SubscriptionError` naming the items a register call refused, or ``None``."""
    failed = [r for r in results if isinstance(r, dict) and r.get("success") is False]
    if not failed:
        return None
    ids = ", ".join(str(r.get("elementId")) for r in failed)
    detail = failed[0].get("responseDetail")
    status = detail.get("status", 404) if isinstance(detail, dict) else 404
    return errors.SubscriptionError(f"items not registered: {ids}", status_code=status)


def subscription(
    subscription_id: str, client_id: str, display_name: str | None, element_ids: list[str], max_depth: int
) -> Subscription:
    """The :class:`Subscription` ``subscribe`` returns."""
    monitored = [{"elementId": element_id, "maxDepth": max_depth} for element_id in element_ids]
    return Subscription(subscription_id, client_id, display_name, monitored)


def renamed(gap: Gap, new_subscription_id: str) -> Gap:
    """``gap`` with the recreated subscription's id."""
    return dataclasses.replace(gap, new_subscription_id=new_subscription_id)


def delete_subscription(client_id: str, subscription_id: str) -> Step[None]:
    body = DeleteSubscriptionsRequest(client_id=client_id, subscription_ids=[subscription_id])
    yield ("POST", "/subscriptions/delete", body)


def get_subscription(client_id: str, subscription_id: str) -> Step[Subscription]:
    body = ListSubscriptionsRequest(client_id=client_id, subscription_ids=[subscription_id])
    return bulk_first("/subscriptions/list", body, Subscription, f"subscription not found: {subscription_id}")


def list_subscriptions(client_id: str, subscription_ids: list[str]) -> Step[Results[Subscription]]:
    body = ListSubscriptionsRequest(client_id=client_id, subscription_ids=subscription_ids)
    return bulk_items("/subscriptions/list", body, Subscription)


def sync_envelope(client_id: str, subscription_id: str, last_sequence_number: int | None) -> Step[Response[Any]]:
    """``POST /subscriptions/sync``: the decoded envelope (206 detail kept)."""
    body = SyncRequest(client_id=client_id, subscription_id=subscription_id, last_sequence_number=last_sequence_number)
    raw = yield ("POST", "/subscriptions/sync", body)
    try:
        response = decode_sync(raw)
    except DecodeError as exc:
        raise errors.I3XError(f"malformed answer: {exc}") from exc
    if response.failure is not None:
        raise _base.item_error(response.failure, "sync failed")
    return response


def sync_subscription(
    client_id: str, subscription_id: str, last_sequence_number: int | None, key: str | None = None
) -> Step[SyncBatches]:
    """The batches; on a 206 also the detail and the lost range (``key``: the caller's subscription id)."""
    response = yield from sync_envelope(client_id, subscription_id, last_sequence_number)
    batches: list[SyncBatch] = response.result or []
    detail = response.response_detail if response.partial else None
    gap = overflow_gap(key or subscription_id, last_sequence_number, batches, detail)
    return SyncBatches(batches, detail, gap)


def resync(client_id: str, subscription_id: str, known: dict[str, int]) -> Step[tuple[dict[str, int], list[Any]]]:
    """The registered items (the server's list, else ``known``) and their current values (notes §11)."""
    items = dict(known)
    try:
        listed = yield from get_subscription(client_id, subscription_id)
        items = {str(o["elementId"]): _depth(o.get("maxDepth")) for o in listed.monitored_objects if "elementId" in o}
    except (errors.NotFoundError, KeyError, TypeError, ValueError):
        pass
    changes: list[ResyncedChange] = []
    for depth, element_ids in _by_depth(items).items():
        values = yield from get_values(element_ids, depth)
        changes.extend(resynced(value) for value in values.values())
    return items, changes


def resubscribe(client_id: str, display_name: str | None, items: dict[str, int]) -> Step[str]:
    """Create a subscription again and register ``items``; returns the new id."""
    subscription_id = yield from create_subscription(client_id, display_name)
    for depth, element_ids in _by_depth(items).items():
        yield from register_items(client_id, subscription_id, element_ids, depth)
    return subscription_id


def _depth(value: Any) -> int:
    """A listed ``maxDepth`` (absent or null: the default 1; 0: unlimited)."""
    return 1 if value is None else int(value)


def _by_depth(items: dict[str, int]) -> dict[int, list[str]]:
    groups: dict[int, list[str]] = {}
    for element_id, depth in items.items():
        groups.setdefault(depth, []).append(element_id)
    return groups
