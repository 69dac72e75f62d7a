"""Hypothesis strategies for i3X models, envelopes and SSE streams (specs/i3x/notes.md).

Models are built with their public constructors; values are JSON-safe (finite
floats, 64-bit integers) so that JSON round trips are exact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from otwire.codecs import i3x

St = st.SearchStrategy

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
IDS = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10)
OPT_TEXT = st.none() | TEXT
QUALITY = st.sampled_from([q.value for q in i3x.Quality]) | TEXT
INT64 = st.integers(-(2**63), 2**63 - 1)

JSON_SCALAR = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | TEXT
JSON: St[Any] = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
JSON_OBJECT = st.dictionaries(TEXT, JSON, max_size=3)
DATETIMES = st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC))
TIMESTAMPS = DATETIMES.map(i3x.format_timestamp)


def vqts(depth: int = 2) -> St[i3x.VQT]:
    """VQTs whose ``components`` nest up to ``depth`` levels."""
    components = st.none() if depth == 0 else st.none() | st.dictionaries(IDS, vqts(depth - 1), max_size=2)
    return st.builds(i3x.VQT, JSON, QUALITY, TIMESTAMPS, components)


def _components() -> St[dict[str, i3x.VQT] | None]:
    return st.none() | st.dictionaries(IDS, vqts(), max_size=2)


def current_values(element_id: St[str] = IDS) -> St[i3x.CurrentValue]:
    """``CurrentValue`` results (the element id is drawn from ``element_id``)."""
    return st.builds(i3x.CurrentValue, element_id, st.booleans(), JSON, QUALITY, TIMESTAMPS, _components())


def historical_values(element_id: St[str] = IDS, depth: int = 1) -> St[i3x.HistoricalValue]:
    """``HistoricalValue`` results with ``components`` histories up to ``depth`` levels."""
    children = st.none()
    if depth:
        children = st.none() | st.dictionaries(IDS, historical_values(IDS, depth - 1), max_size=2)
    return st.builds(i3x.HistoricalValue, element_id, st.booleans(), st.lists(vqts(1), max_size=3), children)


def value_changes() -> St[i3x.ValueChange]:
    return st.builds(i3x.ValueChange, IDS, JSON, QUALITY, TIMESTAMPS, _components(), st.none() | INT64)


def server_infos() -> St[i3x.ServerInfo]:
    return st.builds(i3x.ServerInfo, TEXT, OPT_TEXT, OPT_TEXT, JSON_OBJECT)


def namespaces() -> St[i3x.Namespace]:
    return st.builds(i3x.Namespace, TEXT, TEXT)


def object_types() -> St[i3x.ObjectType]:
    related = st.none() | JSON_OBJECT
    return st.builds(i3x.ObjectType, IDS, TEXT, TEXT, TEXT, OPT_TEXT, JSON_OBJECT, related)


def relationship_types() -> St[i3x.RelationshipType]:
    return st.builds(i3x.RelationshipType, IDS, TEXT, TEXT, TEXT, TEXT)


def metadata() -> St[i3x.ObjectInstanceMetadata]:
    opt_object = st.none() | JSON_OBJECT
    return st.builds(i3x.ObjectInstanceMetadata, OPT_TEXT, OPT_TEXT, OPT_TEXT, opt_object, opt_object, opt_object)


def object_instances() -> St[i3x.ObjectInstance]:
    return st.builds(
        i3x.ObjectInstance, IDS, TEXT, IDS, st.none() | IDS, st.booleans(), st.booleans(), st.none() | metadata()
    )


def related_objects() -> St[i3x.RelatedObject]:
    return st.builds(i3x.RelatedObject, TEXT, object_instances())


def sync_batches() -> St[i3x.SyncBatch]:
    return st.builds(i3x.SyncBatch, INT64, st.lists(value_changes(), max_size=3))


def subscriptions() -> St[i3x.Subscription]:
    monitored = st.lists(st.fixed_dictionaries({"elementId": IDS, "maxDepth": st.integers(0, 10)}), max_size=3)
    return st.builds(i3x.Subscription, IDS, OPT_TEXT, OPT_TEXT, monitored)


#: Every model class and a strategy for it.
MODELS: dict[type[Any], St[Any]] = {
    i3x.ServerInfo: server_infos(),
    i3x.Namespace: namespaces(),
    i3x.ObjectType: object_types(),
    i3x.RelationshipType: relationship_types(),
    i3x.ObjectInstance: object_instances(),
    i3x.ObjectInstanceMetadata: metadata(),
    i3x.RelatedObject: related_objects(),
    i3x.VQT: vqts(),
    i3x.CurrentValue: current_values(),
    i3x.HistoricalValue: historical_values(),
    i3x.ValueChange: value_changes(),
    i3x.SyncBatch: sync_batches(),
    i3x.Subscription: subscriptions(),
}

DETAILS = st.builds(i3x.ResponseDetail, TEXT, st.none() | st.integers(100, 599), TEXT)
#: Item result types of bulk endpoints (``NoneType`` for writes) and the results they carry.
BULK_RESULTS: dict[Any, St[Any]] = {
    i3x.ObjectType: object_types(),
    i3x.RelationshipType: relationship_types(),
    i3x.ObjectInstance: object_instances(),
    list[i3x.RelatedObject]: st.lists(related_objects(), max_size=2),
    i3x.Subscription: subscriptions(),
    type(None): st.none(),
}


@st.composite
def bulk_responses(draw: st.DrawFn, result_type: Any) -> i3x.BulkResponse[Any]:
    """A bulk response whose successful items carry ``result_type`` results (keyed by elementId or not)."""
    items: list[i3x.BulkItem[Any] | i3x.BulkFailure] = []
    for _ in range(draw(st.integers(0, 4))):
        element_id = draw(IDS)
        by_subscription = result_type is i3x.Subscription or result_type is type(None)
        subscription_id = draw(st.none() | IDS) if by_subscription else None
        if draw(st.booleans()):
            items.append(i3x.BulkFailure(element_id, subscription_id, draw(DETAILS)))
        elif result_type in (i3x.CurrentValue, i3x.HistoricalValue):
            make = current_values if result_type is i3x.CurrentValue else historical_values
            items.append(i3x.BulkItem(element_id, subscription_id, draw(make(st.just(element_id)))))
        else:
            items.append(i3x.BulkItem(element_id, subscription_id, draw(BULK_RESULTS[result_type])))
    success = not any(isinstance(item, i3x.BulkFailure) for item in items)
    return i3x.BulkResponse(success, items, draw(st.none() | DETAILS))


# --- SSE streams --------------------------------------------------------------------

EOL = st.sampled_from([b"\n", b"\r\n", b"\r"])
SSE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=12)


@st.composite
def sse_lines(draw: st.DrawFn) -> bytes:
    """One event-stream line with its line end: a field, a comment or a blank line."""
    kind = draw(st.sampled_from(["data", "event", "id", "retry", "comment", "blank", "bare", "other"]))
    eol = draw(EOL)
    if kind == "blank":
        return eol
    value = draw(SSE_TEXT).encode()
    if kind == "comment":
        return b":" + value + eol
    if kind == "bare":
        return draw(st.sampled_from([b"data", b"event", b"id", b"retry"])) + eol
    name = b"x-other" if kind == "other" else kind.encode()
    space = draw(st.sampled_from([b"", b" ", b"  "]))
    return name + b":" + space + value + eol


def sse_streams() -> St[bytes]:
    """Event streams, optionally with a BOM, mixing every line kind and line end."""
    bom = st.sampled_from([b"", b"\xef\xbb\xbf"])
    return st.builds(lambda head, lines: head + b"".join(lines), bom, st.lists(sse_lines(), max_size=14))


# --- request bodies -----------------------------------------------------------------

ID_LISTS = st.lists(IDS, max_size=3)
OPT_IDS = st.none() | IDS
DEPTHS = st.integers(0, 5)


def _vqt_inputs() -> St[i3x.VQTInput]:
    return st.builds(i3x.VQTInput, value=JSON, quality=st.none() | QUALITY, timestamp=st.none() | TIMESTAMPS)


#: Every request body class and a strategy for it (keyword-only constructors).
REQUESTS: dict[type[Any], St[Any]] = {
    i3x.GetObjectTypesRequest: st.builds(i3x.GetObjectTypesRequest, element_ids=ID_LISTS),
    i3x.GetRelationshipTypesRequest: st.builds(i3x.GetRelationshipTypesRequest, element_ids=ID_LISTS),
    i3x.GetObjectsRequest: st.builds(i3x.GetObjectsRequest, element_ids=ID_LISTS, include_metadata=st.booleans()),
    i3x.GetRelatedObjectsRequest: st.builds(
        i3x.GetRelatedObjectsRequest, element_ids=ID_LISTS, relationship_type=OPT_IDS, include_metadata=st.booleans()
    ),
    i3x.GetObjectValueRequest: st.builds(i3x.GetObjectValueRequest, element_ids=ID_LISTS, max_depth=DEPTHS),
    i3x.GetObjectHistoryRequest: st.builds(
        i3x.GetObjectHistoryRequest,
        element_ids=ID_LISTS,
        start_time=st.none() | TIMESTAMPS,
        end_time=st.none() | TIMESTAMPS,
        max_depth=DEPTHS,
    ),
    i3x.UpdateValueRequest: st.builds(
        i3x.UpdateValueRequest,
        updates=st.lists(st.builds(i3x.ValueUpdateItem, element_id=IDS, value=_vqt_inputs()), max_size=3),
    ),
    i3x.UpdateHistoryRequest: st.builds(
        i3x.UpdateHistoryRequest,
        updates=st.lists(st.builds(i3x.HistoryUpdateItem, element_id=IDS, value=vqts(0)), max_size=3),
    ),
    i3x.CreateSubscriptionRequest: st.builds(i3x.CreateSubscriptionRequest, client_id=OPT_IDS, display_name=OPT_TEXT),
    i3x.RegisterMonitoredItemsRequest: st.builds(
        i3x.RegisterMonitoredItemsRequest,
        client_id=OPT_IDS,
        subscription_id=IDS,
        element_ids=ID_LISTS,
        max_depth=DEPTHS,
    ),
    i3x.UnregisterMonitoredItemsRequest: st.builds(
        i3x.UnregisterMonitoredItemsRequest, client_id=OPT_IDS, subscription_id=IDS, element_ids=ID_LISTS
    ),
    i3x.ListSubscriptionsRequest: st.builds(i3x.ListSubscriptionsRequest, client_id=OPT_IDS, subscription_ids=ID_LISTS),
    i3x.DeleteSubscriptionsRequest: st.builds(
        i3x.DeleteSubscriptionsRequest, client_id=OPT_IDS, subscription_ids=ID_LISTS
    ),
    i3x.StreamRequest: st.builds(i3x.StreamRequest, client_id=OPT_IDS, subscription_id=IDS),
    i3x.SyncRequest: st.builds(
        i3x.SyncRequest, client_id=OPT_IDS, subscription_id=IDS, last_sequence_number=st.none() | INT64
    ),
}
