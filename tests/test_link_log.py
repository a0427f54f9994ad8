"""Link events and battery readings in the store (migration 0010, vagus.edge.link_log)."""

from __future__ import annotations

import itertools

import pytest

from vagus.edge import Store
from vagus.edge.link_log import add_battery, add_link_event, battery_readings, link_events, link_summary
from vagus.edge.link_state import LinkEvent, LinkState

S = LinkState


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "v.db") as s:
        yield s


def test_the_migration_creates_both_tables(store):
    tables = {r[0] for r in store.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"link_events", "battery_readings"} <= tables and store.version >= 10


def test_events_round_trip_in_time_order_and_filter(store):
    written = [
        LinkEvent("a", S.CONNECTING, 10.0),
        LinkEvent("b", S.BACKOFF, 11.0, "connect failed: TimeoutError", 4.1),
        LinkEvent("a", S.STREAMING, 12.0),
        LinkEvent("a", S.CONNECTING, 40.0, "dropped"),
    ]
    for event in reversed(written):
        add_link_event(store, event)
    assert link_events(store) == written
    assert link_events(store, "a") == [e for e in written if e.device_id == "a"]
    assert link_events(store, since_utc_s=11.0, until_utc_s=40.0) == written[1:3]


def test_battery_readings_round_trip_and_refuse_impossible_levels(store):
    add_battery(store, "a", 5.0, 90)
    add_battery(store, "a", 605.0, 89)
    add_battery(store, "a", 605.0, 88)  # the same instant again replaces
    assert [(b.t_utc_s, b.level_pct) for b in battery_readings(store, "a")] == [(5.0, 90), (605.0, 88)]
    with pytest.raises(ValueError, match="0–100"):
        add_battery(store, "a", 7.0, 101)


def test_the_summary_counts_streaming_time_and_drops(store):
    script = [
        (S.CONNECTING, 0.0),
        (S.STREAMING, 2.0),
        (S.CONNECTING, 32.0),  # dropped after 30 s
        (S.BACKOFF, 42.0),
        (S.CONNECTING, 46.0),
        (S.STREAMING, 47.0),
        (S.STOPPED, 100.0),  # asked to stop: not a drop
    ]
    for state, t in script:
        add_link_event(store, LinkEvent("a", state, t))
    add_link_event(store, LinkEvent("b", S.STREAMING, 1.0))
    add_battery(store, "a", 3.0, 77)
    streaming = sum(b[1] - a[1] for a, b in itertools.pairwise(script) if a[0] is S.STREAMING)
    summary = link_summary(store, "a", since_utc_s=0.0, until_utc_s=200.0)
    assert (summary.streaming_s, summary.drops, summary.last_battery_pct) == (streaming, 1, 77)
    open_ended = link_summary(store, "b", since_utc_s=0.0, until_utc_s=200.0)
    assert (open_ended.streaming_s, open_ended.drops, open_ended.last_battery_pct) == (199.0, 0, None)
    with pytest.raises(ValueError, match="after"):
        link_summary(store, "a", since_utc_s=5.0, until_utc_s=5.0)
