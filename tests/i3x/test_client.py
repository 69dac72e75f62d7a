"""otwire.clients.i3x (i3x-client 1.0.0's API) against otwire's own i3X server over loopback."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

import otwire.clients.i3x as i3x
from helpers import wait_event
from otwire.clients.i3x import _base
from otwire.errors import RequestError, RequestTimeout, TransportError
from otwire.servers.i3x import Server

TIMEOUT = 10.0
FLOW = "pump-101-flow"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(port=0, tick=0.05) as running:
        yield running


@pytest.fixture
def client(server: Server) -> Iterator[i3x.Client]:
    with i3x.Client(f"http://127.0.0.1:{server.port}/v1", timeout=TIMEOUT) as connected:
        yield connected


def test_connect_lifecycle_and_callbacks(server: Server) -> None:
    seen: list[str] = []
    client = i3x.Client(f"http://127.0.0.1:{server.port}/v1/", timeout=TIMEOUT, client_id="me")
    client.on_connect = lambda c: seen.append("connect")
    client.on_disconnect = lambda c: seen.append("disconnect")
    assert not client.is_connected and client.server_info is None and client.client_id == "me"
    client.connect()
    assert client.is_connected
    assert client.server_info is not None and client.server_info.spec_version == "1.0"
    client.disconnect()
    client.disconnect()  # idempotent, no second callback
    assert not client.is_connected and client.server_info is None
    assert seen == ["connect", "disconnect"]
    assert len(i3x.Client("http://h/v1").client_id) == 36  # a UUID


def test_calls_before_connect_raise(server: Server) -> None:
    client = i3x.Client(f"http://127.0.0.1:{server.port}/v1")
    with pytest.raises(i3x.ConnectionError):
        client.get_namespaces()


def test_info_namespaces_and_types(client: i3x.Client) -> None:
    assert client.get_info().server_name == "otwire i3X server"
    namespaces = client.get_namespaces()
    assert [ns.uri for ns in namespaces] == ["urn:otwire:i3x:demo"]
    types = client.get_object_types()
    assert types and all(isinstance(t, i3x.ObjectType) for t in types)
    assert client.get_object_types(namespace_uri="urn:nothing") == []
    first = types[0].element_id
    assert [t.element_id for t in client.query_object_types([first, "missing"])] == [first]
    relationships = client.get_relationship_types()
    assert relationships and isinstance(relationships[0], i3x.RelationshipType)
    ids = [r.element_id for r in relationships[:1]]
    assert [r.element_id for r in client.query_relationship_types([*ids, "missing"])] == ids


def test_objects(client: i3x.Client) -> None:
    roots = client.get_objects(root=True)
    assert roots and all(o.parent_id in (None, "/") for o in roots)
    assert len(client.get_objects()) > len(roots)
    flow = client.get_object(FLOW, include_metadata=True)
    assert isinstance(flow, i3x.ObjectInstance) and flow.element_id == FLOW and flow.metadata is not None
    typed = client.get_objects(type_element_id=flow.type_element_id)
    assert FLOW in [o.element_id for o in typed]
    assert [o.element_id for o in client.list_objects([FLOW, "missing"])] == [FLOW]
    related = client.get_related_objects(["pump-101"])
    assert related and all(isinstance(r, i3x.RelatedObject) for r in related)
    with pytest.raises(i3x.NotFoundError) as info:
        client.get_object("missing")
    assert info.value.status_code == 404


def test_values_and_history(client: i3x.Client) -> None:
    value = client.get_value(FLOW)
    assert isinstance(value, i3x.CurrentValue) and value.element_id == FLOW and value.quality == "Good"
    pump = client.get_value("pump-101", max_depth=0)
    assert pump.is_composition and pump.components
    values = client.get_values([FLOW, "missing"])
    assert list(values) == [FLOW]
    history = client.get_history(FLOW)
    assert isinstance(history, i3x.HistoricalValue) and len(history.values) >= 60
    later = client.get_history(FLOW, start_time=history.values[-1].timestamp)
    assert 1 <= len(later.values) < len(history.values)
    with pytest.raises(i3x.NotFoundError):
        client.get_value("missing")
    with pytest.raises(i3x.NotFoundError):
        client.get_history("missing")


def test_updates() -> None:
    with Server(port=0, tick=3600.0) as server, i3x.Client(f"http://127.0.0.1:{server.port}/v1") as client:
        client.update_value(FLOW, 72.5)
        assert client.get_value(FLOW).value == 72.5
        client.update_value(FLOW, {"value": 1.5, "quality": "Uncertain"})
        assert client.get_value(FLOW).quality == "Uncertain"
        results = client.update_values({FLOW: 2.5, "missing": 1})
        assert [r["success"] for r in results] == [True, False]
        assert client.get_value(FLOW).value == 2.5
        with pytest.raises(i3x.NotFoundError):
            client.update_value("missing", 1)
        stamp = "2020-01-01T00:00:00Z"
        client.update_history(FLOW, {"value": 3.5, "quality": "Good", "timestamp": stamp})
        old = client.get_history(FLOW, start_time=stamp, end_time="2020-01-01T00:00:01Z")
        assert [v.value for v in old.values] == [3.5]


def test_subscriptions_and_sync(client: i3x.Client) -> None:
    subscription_id = client.create_subscription("plain")
    registered = client.register_items(subscription_id, [FLOW, "missing"])
    assert [r["success"] for r in registered] == [True, False]
    sub = client.get_subscription(subscription_id)
    assert isinstance(sub, i3x.Subscription) and sub.display_name == "plain"
    assert [s.subscription_id for s in client.list_subscriptions([subscription_id, "nope"])] == [subscription_id]
    client.update_value(FLOW, 11.0)
    batches = client.sync_subscription(subscription_id)
    assert batches and isinstance(batches[0], i3x.SyncBatch)
    assert any(change.element_id == FLOW for batch in batches for change in batch.updates)
    newest = max(batch.sequence_number for batch in batches)
    assert all(b.sequence_number > newest for b in client.sync_subscription(sub, last_sequence_number=newest))
    assert [r["success"] for r in client.unregister_items(subscription_id, [FLOW])] == [True]
    client.unsubscribe(subscription_id)
    with pytest.raises(i3x.NotFoundError):
        client.get_subscription(subscription_id)


def test_stream_delivers_value_changes(client: i3x.Client) -> None:
    changed = threading.Event()
    subscribed: list[i3x.Subscription] = []
    changes: list[i3x.ValueChange] = []

    def on_change(_client: i3x.Client, change: i3x.ValueChange) -> None:
        changes.append(change)
        changed.set()

    client.on_value_change = on_change
    client.on_subscribe = lambda _c, sub: subscribed.append(sub)
    sub = client.subscribe([FLOW])
    assert subscribed == [sub] and sub.client_id == client.client_id
    client.update_value(FLOW, 99.0)
    wait_event(changed, TIMEOUT, what="on_value_change")
    assert isinstance(changes[0], i3x.ValueChange) and changes[0].element_id == FLOW
    client.stop_stream(sub.subscription_id)
    client.start_stream(sub.subscription_id)
    client.unsubscribe(sub)


def test_error_tree() -> None:
    assert issubclass(i3x.I3XError, RequestError)
    assert issubclass(i3x.TimeoutError, RequestTimeout) and issubclass(i3x.TimeoutError, i3x.I3XError)
    assert issubclass(i3x.ConnectionError, TransportError)
    error = i3x.ServerError("boom", status_code=500)
    assert error.status_code == error.code == 500 and str(error) == "boom"


def test_authentication_error() -> None:
    with Server(port=0, bearer_token="secret") as server:
        url = f"http://127.0.0.1:{server.port}/v1"
        with i3x.Client(url, timeout=TIMEOUT) as anonymous:  # /info needs no token
            with pytest.raises(i3x.AuthenticationError) as info:
                anonymous.get_namespaces()
            assert info.value.status_code == 401
        with i3x.Client(url, timeout=TIMEOUT, token="secret") as client:
            assert client.get_namespaces()


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = i3x.Client(f"http://127.0.0.1:{port}/v1", timeout=TIMEOUT)
    with pytest.raises(i3x.ConnectionError):
        client.connect()
    assert not client.is_connected


def test_wrong_base_path_is_unsupported_version(server: Server) -> None:
    with pytest.raises(i3x.UnsupportedVersionError):
        i3x.Client(f"http://127.0.0.1:{server.port}/nothing", timeout=TIMEOUT).connect()


def test_bad_base_url() -> None:
    with pytest.raises(ValueError, match="base_url"):
        i3x.Client("ftp://host/v1")


def test_silent_server_times_out() -> None:
    with socket.socket() as silent:  # accepts (kernel backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = i3x.Client(f"http://127.0.0.1:{silent.getsockname()[1]}/v1", timeout=0.3)
        with pytest.raises(i3x.TimeoutError) as info:
            client.connect()
        assert isinstance(info.value, RequestTimeout)
        assert not client.is_connected


def test_stream_of_unknown_subscription_reports_error(client: i3x.Client) -> None:
    failed = threading.Event()
    seen: list[Exception] = []

    def on_error(_client: i3x.Client, error: Exception) -> None:
        seen.append(error)
        failed.set()

    client.on_error = on_error
    client.start_stream("no-such-subscription")
    wait_event(failed, TIMEOUT, what="on_error")
    assert isinstance(seen[0], i3x.StreamError) and seen[0].status_code == 404


def test_status_mapping() -> None:
    expected = {401: i3x.AuthenticationError, 403: i3x.AuthenticationError, 404: i3x.NotFoundError}
    expected |= {501: i3x.NotSupportedError, 500: i3x.ServerError, 503: i3x.ServerError, 400: i3x.I3XError}
    for status, cls in expected.items():
        assert i3x.errors.for_status(status) is cls


def test_basic_auth_and_headers() -> None:
    with Server(port=0, basic_auth=("user", "secret")) as server:
        url = f"http://127.0.0.1:{server.port}/v1"
        with i3x.Client(url, auth=("user", "secret"), headers={"X-Trace": "1"}, timeout=TIMEOUT) as client:
            assert client.get_namespaces()
        with i3x.Client(url, auth=("user", "wrong"), timeout=TIMEOUT) as client, pytest.raises(i3x.AuthenticationError):
            client.get_namespaces()


def test_tls_settings() -> None:
    config = _base.client_config("https://plant.example/i3x/v1", None, 5.0, None, None)
    assert (config.scheme, config.host, config.port, config.base_path) == ("https", "plant.example", 443, "/i3x/v1")
    checking = _base.ssl_context(config, True)
    assert checking is not None and checking.verify_mode == ssl.CERT_REQUIRED and checking.check_hostname
    lax = _base.ssl_context(config, False)
    assert lax is not None and lax.verify_mode == ssl.CERT_NONE and not lax.check_hostname
    plain = _base.client_config("http://plant.example", None, 5.0, None, None)
    assert _base.ssl_context(plain, True) is None and plain.port == 80 and plain.base_path == ""
