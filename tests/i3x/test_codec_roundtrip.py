"""Hypothesis round trips: every model and envelope encodes to JSON and decodes back equal (notes §2-§6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otwire.codecs import i3x
from strategies.i3x import BULK_RESULTS, DETAILS, MODELS, REQUESTS, bulk_responses, sync_batches


@pytest.mark.parametrize("model", list(MODELS), ids=lambda model: model.__name__)
@given(data=st.data())
def test_model_round_trip(model: type[Any], data: st.DataObject) -> None:
    value = data.draw(MODELS[model])
    body = i3x.encode(value)
    assert i3x.decode(body, model) == value
    json.loads(body)  # plain JSON (strict parser)


@pytest.mark.parametrize("model", list(MODELS), ids=lambda model: model.__name__)
@given(data=st.data())
def test_single_envelope_round_trip(model: type[Any], data: st.DataObject) -> None:
    results = data.draw(st.lists(MODELS[model], max_size=3))
    detail = data.draw(st.none() | DETAILS)
    response = i3x.decode_response(i3x.encode_response(results, detail=detail), list[model])  # type: ignore[valid-type]
    assert response == i3x.Response(True, results, detail)
    assert response.success and response.failure is None
    assert response.partial == (detail is not None)


@pytest.mark.parametrize(
    "result_type",
    [*BULK_RESULTS, i3x.CurrentValue, i3x.HistoricalValue],
    ids=lambda t: getattr(t, "__name__", repr(t)),
)
@given(data=st.data())
def test_bulk_envelope_round_trip(result_type: Any, data: st.DataObject) -> None:
    response = data.draw(bulk_responses(result_type))
    decoded = i3x.decode_bulk(i3x.encode_bulk(response), result_type)
    assert decoded == response
    assert len(decoded.items) + len(decoded.failures) == len(response.results)


@given(st.lists(sync_batches(), max_size=3), st.none() | DETAILS)
def test_sync_round_trip(batches: list[i3x.SyncBatch], detail: i3x.ResponseDetail | None) -> None:
    assert i3x.decode_sync(i3x.encode_response(batches, detail=detail)) == i3x.Response(True, batches, detail)


@given(st.integers(100, 599), st.text(max_size=10), st.text(max_size=10))
def test_error_envelope_round_trip(status: int, title: str, detail: str) -> None:
    response = i3x.decode_response(i3x.encode_error(status, title, detail), Any)
    assert not response.success
    assert response.failure == i3x.ResponseDetail(title, status, detail)


@given(MODELS[i3x.ServerInfo])
def test_server_info_bare_and_enveloped(info: i3x.ServerInfo) -> None:
    assert i3x.decode_server_info(i3x.encode(info)) == info
    assert i3x.decode_server_info(i3x.encode_response(info)) == info


def test_keyed_result_without_item_id_keeps_its_own_element_id() -> None:
    # found by fuzz/test_fuzz_i3x.py: an item without elementId whose result names one
    body = b'{"success":true,"results":[{"success":true,"result":{"elementId":"p","value":1}}]}'
    decoded = i3x.decode_bulk(body, i3x.CurrentValue)
    assert decoded.items[0].result.element_id == "p"
    assert i3x.decode_bulk(i3x.encode_bulk(decoded), i3x.CurrentValue) == decoded


@pytest.mark.parametrize("request_type", list(REQUESTS), ids=lambda t: t.__name__)
@given(data=st.data())
def test_request_round_trip(request_type: type[Any], data: st.DataObject) -> None:
    value = data.draw(REQUESTS[request_type])
    body = i3x.encode(value)
    assert i3x.decode(body, request_type) == value


@pytest.mark.parametrize(
    ("value", "body"),
    [
        (i3x.SyncRequest(client_id="c", subscription_id="s"), {"clientId": "c", "subscriptionId": "s"}),
        (
            i3x.SyncRequest(client_id="c", subscription_id="s", last_sequence_number=-1),
            {"clientId": "c", "subscriptionId": "s", "lastSequenceNumber": -1},
        ),
        (i3x.GetObjectValueRequest(element_ids=["a"], max_depth=0), {"elementIds": ["a"], "maxDepth": 0}),
        (
            i3x.UpdateValueRequest(updates=[i3x.ValueUpdateItem(element_id="a", value=i3x.VQTInput(value=None))]),
            {"updates": [{"elementId": "a", "value": {"value": None}}]},
        ),
        (i3x.CreateSubscriptionRequest(client_id="c"), {"clientId": "c"}),
    ],
)
def test_request_wire_form(value: Any, body: dict[str, Any]) -> None:
    assert json.loads(i3x.encode(value)) == body
    assert i3x.decode(json.dumps(body).encode(), type(value)) == value


def test_request_without_client_id_decodes_for_the_server_to_refuse() -> None:
    assert i3x.decode(b'{"subscriptionId":"s"}', i3x.StreamRequest).client_id is None
