"""What the clients make of a stream's events (``otwire.clients.i3x._streams``): sequence and last-value bookkeeping."""

from __future__ import annotations

import otwire.clients.i3x as i3x
from otwire.clients.i3x._streams import ClientStats, Deliver, Watch, react
from otwire.protocols.i3x.events import ValuesChanged

T = "2026-01-01T00:00:0{}Z"


def change(element_id: str, n: int) -> i3x.ValueChange:
    return i3x.ValueChange(element_id, float(n), "Good", T.format(n % 10), None, n)


def test_values_changed_updates_the_last_value_per_element_and_the_sequence() -> None:
    watch = Watch("s", "s", items={"a": 1, "b": 1})
    batch = [change("a", 1), change("x", 2), change("b", 3), change("a", 4), change("b", 5), change("a", 6)]
    actions = react(watch, ValuesChanged(stream_id=1, changes=batch, last_sequence=6), ClientStats())
    assert actions == [Deliver(batch)]
    assert watch.last_sequence == 6
    assert watch.latest["a"] == (T.format(6), "Good", 6.0) and watch.latest["b"] == (T.format(5), "Good", 5.0)
    # read from the end until both items were found: "x" (no item) came earlier and is skipped
    assert "x" not in watch.latest
    react(watch, ValuesChanged(stream_id=1, changes=[change("a", 3)], last_sequence=None), ClientStats())
    assert watch.last_sequence == 6 and watch.latest["a"] == (T.format(3), "Good", 3.0)  # never goes back


def test_without_items_every_element_is_remembered() -> None:
    watch = Watch("s", "s")
    watch.seen([change("a", 1), change("x", 2), change("a", 3)])
    assert watch.latest == {"a": (T.format(3), "Good", 3.0), "x": (T.format(2), "Good", 2.0)}
    assert watch.fresh([change("a", 3), change("x", 4)]) == [change("x", 4)]  # an equal value is not news
