"""otwire.clients.i3x (blocking and asyncio) against ``otwire serve i3x`` in every quirk profile (notes §11).

Resync after a reconnect, the takeover of a stream by a second consumer (no ping-pong),
a server restart mid-stream (the subscription is recreated), 206 and failed bulk items,
the sync ack helper. The demo values do not tick (``tick=3600``): every change is a write.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import otwire.clients.i3x as i3x
from otwire.protocols.i3x._server_profiles import PROFILES
from otwire.protocols.i3x.events import StreamEndReason
from otwire.servers.i3x import Server

from .test_client_kit import KINDS, TIMEOUT, Recorder, make_client

FLOW = "pump-101-flow"
PROFILE_NAMES = list(PROFILES)


@pytest.fixture(params=PROFILE_NAMES)
def profile(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def server(profile: str) -> Iterator[Server]:
    with Server(port=0, tick=3600.0, profile=profile, queue_size=3, max_depth_limit=1) as running:
        yield running


def url(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}/v1"


def plain(change: i3x.ValueChange) -> object:
    """The value of an update (node-i3x nests a whole current-value object in ``value``)."""
    value = change.value
    return value.get("value") if isinstance(value, dict) and "isComposition" in value else value


def live(recorder: Recorder, value: float) -> bool:
    return any(plain(c) == value and not isinstance(c, i3x.ResyncedChange) for c in recorder.changes)


def write_until_live(client: object, recorder: Recorder, value: float) -> None:
    """Write ``value`` until the stream delivers it: the stream is open (the CESMII demo drops
    what was queued before a stream opened, so one write right after ``subscribe`` may be lost)."""
    for _ in range(int(TIMEOUT / 0.2)):
        client.update_value(FLOW, value)  # type: ignore[attr-defined]
        if recorder.seen(lambda: live(recorder, value), 0.2):
            return
    raise AssertionError(f"{value} never arrived on the stream")


@pytest.mark.parametrize("kind", KINDS)
def test_idle_stream_reconnects_and_resyncs(server: Server, kind: str) -> None:
    with make_client(kind, url(server), idle_timeout=0.3, backoff=(0.01, 0.05)) as client:
        seen = Recorder(client)
        client.update_value(FLOW, 7.0)
        client.subscribe([FLOW])
        seen.wait(lambda: any(isinstance(c, i3x.ResyncedChange) for c in seen.changes), "resync")
        gap = seen.gaps[0]
        assert gap.cause is i3x.GapCause.RECONNECT and gap.stream_end is StreamEndReason.IDLE_TIMEOUT
        resynced = next(c for c in seen.changes if isinstance(c, i3x.ResyncedChange))
        assert (resynced.element_id, resynced.value, resynced.sequence_number) == (FLOW, 7.0, None)
        assert client.stats.reconnects >= 1 and client.stats.resyncs >= 1 and client.stats.gaps >= 1
        seen.wait(lambda: client.stats.resyncs >= 2, "a second idle reconnect")
        assert sum(isinstance(c, i3x.ResyncedChange) for c in seen.changes) == 1  # unchanged: not again
        client.update_value(FLOW, 8.0)
        seen.wait(lambda: live(seen, 8.0), "a live change after the resync")
        assert not seen.errors


@pytest.mark.parametrize("kind", KINDS)
def test_takeover_ends_the_older_stream_without_ping_pong(server: Server, kind: str) -> None:
    with make_client(kind, url(server), backoff=(0.05, 0.1)) as first:
        first_seen = Recorder(first)
        sub = first.subscribe([FLOW])
        write_until_live(first, first_seen, 1.0)
        with make_client(kind, url(server), client_id=first.client_id, backoff=(0.05, 0.1)) as second:
            second_seen = Recorder(second)
            second.start_stream(sub.subscription_id)
            first_seen.wait(lambda: bool(first_seen.errors), "the older stream's final end")
            error = first_seen.errors[0]
            assert isinstance(error, i3x.StreamError)
            expected = "close event" if server.profile.close_event else "taken over"
            assert expected in str(error)
            second.update_value(FLOW, 2.0)
            second_seen.wait(lambda: live(second_seen, 2.0), "the newer stream delivers")
            assert first.stats.reconnects <= 1 and second.stats.reconnects <= 1
            assert not second_seen.errors
            first.update_value(FLOW, 3.0)
            second_seen.wait(lambda: live(second_seen, 3.0), "the newer stream still delivers")
            assert not live(first_seen, 3.0)


@pytest.mark.parametrize("kind", KINDS)
def test_server_restart_mid_stream(profile: str, kind: str) -> None:
    old = Server(port=0, tick=3600.0, profile=profile)
    old.start()
    port = old.port
    try:
        with make_client(kind, f"http://127.0.0.1:{port}/v1", backoff=(0.05, 0.2)) as client:
            seen = Recorder(client)
            sub = client.subscribe([FLOW])
            write_until_live(client, seen, 1.0)
            old.stop()
            with Server(port=port, tick=3600.0, profile=profile) as new:
                new.space.set_value(FLOW, i3x.VQT(5.0, "Good", "2026-01-01T00:00:00Z"))
                resynced = lambda: any(isinstance(c, i3x.ResyncedChange) for c in seen.changes)  # noqa: E731
                if old.profile.close_event:  # i3x2ua may say "event: close" as it stops: final, like a takeover
                    seen.wait(lambda: bool(seen.errors) or resynced(), "the final end or a resync")
                    if seen.errors:
                        assert "close event" in str(seen.errors.pop())
                        client.start_stream(sub.subscription_id)  # the caller opens it again
                seen.wait(resynced, "resync")
                gap = next(g for g in seen.gaps if g.cause is i3x.GapCause.RESUBSCRIBED)
                assert gap.subscription_id == sub.subscription_id and gap.new_subscription_id
                assert [c.value for c in seen.changes if isinstance(c, i3x.ResyncedChange)][:1] == [5.0]
                client.update_value(FLOW, 6.0)
                seen.wait(lambda: live(seen, 6.0), "the stream resumed")
                assert client.get_subscription(sub.subscription_id).subscription_id == gap.new_subscription_id
                assert client.stats.resubscribes == 1 and not seen.errors
                client.unsubscribe(sub)
    finally:
        old.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_sync_overflow_and_ack_helper(server: Server, kind: str) -> None:
    with make_client(kind, url(server)) as client:
        seen = Recorder(client)
        subscription_id = client.create_subscription()
        client.register_items(subscription_id, [FLOW])
        for value in range(6):
            client.update_value(FLOW, float(value))
        first = client.sync_changes(subscription_id)
        assert [plain(c) for c in first.changes][-1] == 5.0
        if server.profile.overflow_206:
            assert first.gap is not None and first.gap.cause is i3x.GapCause.OVERFLOW
            assert first.response_detail is not None and first.response_detail.status == 206
            seen.wait(lambda: bool(seen.gaps), "on_gap for the overflow")
            assert client.stats.partial_responses >= 1
        else:
            assert first.gap is None and not seen.gaps
        assert first.last_sequence_number == max(b.sequence_number for b in first.batches)
        assert client.sync_changes(subscription_id).changes == []  # acked: nothing new, nothing twice
        client.update_value(FLOW, 9.0)
        again = client.sync_changes(subscription_id)
        assert [plain(c) for c in again.changes] == [9.0] and again.duplicates == 0
        assert again.last_sequence_number is not None
        assert again.last_sequence_number > (first.last_sequence_number or 0)
        client.update_value(FLOW, 10.0)
        cleared = client.sync_changes(subscription_id, clear=True)  # -1: the queue is dropped
        assert cleared.changes == []
        assert client.sync_cursor(subscription_id).ack == cleared.last_sequence_number


def test_sync_subscription_keeps_the_206(server: Server) -> None:
    with make_client("sync", url(server)) as client:
        subscription_id = client.create_subscription()
        client.register_items(subscription_id, [FLOW])
        for value in range(6):
            client.update_value(FLOW, float(value))
        batches = client.sync_subscription(subscription_id, last_sequence_number=0)
        assert isinstance(batches, list) and all(isinstance(b, i3x.SyncBatch) for b in batches)
        assert batches.partial is server.profile.overflow_206
        if batches.partial:
            assert batches.gap is not None and batches.gap.after_sequence == 0
            assert batches.gap.next_sequence == min(b.sequence_number for b in batches)


@pytest.mark.parametrize("kind", KINDS)
def test_bulk_failures_and_206_are_visible(server: Server, kind: str) -> None:
    with make_client(kind, url(server)) as client:
        found = client.list_objects([FLOW, "missing"])
        assert [o.element_id for o in found] == [FLOW]
        assert list(found.failures) == ["missing"] and isinstance(found.failures["missing"], i3x.NotFoundError)
        assert found.failures["missing"].status_code == 404
        values = client.get_values(["pump-101", "missing"], max_depth=0)  # clamped to 1: 206
        assert list(values) == ["pump-101"] and "missing" in values.failures
        assert values.partial and values.response_detail is not None
        assert client.stats.failed_items == 2 and client.stats.partial_responses == 1
        assert client.query_object_types(["nope"]).failures["nope"].status_code == 404


def test_subscribe_reports_refused_items(server: Server) -> None:
    with make_client("sync", url(server)) as client:
        seen = Recorder(client)
        client.subscribe([FLOW, "missing"])
        seen.wait(lambda: bool(seen.errors), "on_error for the refused item")
        assert isinstance(seen.errors[0], i3x.SubscriptionError) and "missing" in str(seen.errors[0])


def test_status_errors_of_the_server(server: Server) -> None:
    with Server(port=0, tick=3600.0, profile=server.profile.name, bearer_token="t") as guarded:
        with make_client("sync", url(guarded)) as client, pytest.raises(i3x.AuthenticationError) as info:
            client.get_namespaces()
        assert info.value.status_code == 401
    with make_client("sync", url(server)) as client:
        with pytest.raises(i3x.NotFoundError) as found:
            client.get_value("missing")
        assert found.value.status_code == 404
        with pytest.raises(i3x.NotFoundError):
            client.sync_subscription("no-such-subscription")


def test_a_version_string_with_beta_is_not_a_beta_server(profile: str) -> None:
    with (
        Server(port=0, tick=3600.0, profile=profile, server_version="2.1-beta") as server,
        make_client("sync", url(server)) as client,
    ):
        assert "beta" in client.server_info.server_version  # the beta profile reports its own "1.0.0-beta"
        client.update_value(FLOW, 4.5)
        assert client.get_value(FLOW).value == 4.5
        assert not client._routes.per_element
