"""Check-ins in the local store, each kept with the indicators of its moment (edge/src/checkins.py)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vagus.edge.checkins import (
    DEFAULT_SNOOZE_MINUTES,
    MOMENT_LOOKBACK_S,
    Checkin,
    checkins,
    record_checkin,
    record_received,
    snoozed_until,
)
from vagus.edge.store import Store
from vagus.errors import StoreError
from vagus.signal import Indicators
from vagus.sync import Checkin as CheckinMessage

T0 = 1_795_700_000.0


def window(t_end: float, *, nominal: float = 60.0, device: str = "strap-1", score: float = 50.0) -> Indicators:
    return Indicators(
        device_id=device,
        t_start_utc_s=t_end - nominal,
        t_end_utc_s=t_end,
        window_s=nominal,
        n_beats=60,
        quality=1.0,
        window_nominal_s=nominal,
        hr_bpm=60.0 + score / 10,
        rmssd_ms=80.0 - score / 2,
        stress_score=score,
        stress_level="high" if score > 75 else "low",
        gate_reason="active",
    )


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "vagus.db") as s:
        yield s


def test_a_checkin_without_indicators_keeps_nulls(store):
    c = record_checkin(store, "stressed", T0, source="cli", self_stress_1to5=4, nudge_id="n-1")
    assert (c.answer, c.source, c.self_stress_1to5, c.nudge_id, c.t_utc_s) == ("stressed", "cli", 4, "n-1", T0)
    assert (c.stress_score, c.stress_level, c.gate_reason, c.rmssd_ms, c.hr_bpm) == (None,) * 5
    assert checkins(store) == [c]


def test_the_moment_is_the_latest_60s_window_of_the_last_five_minutes(store):
    store.add_indicators(
        [
            window(T0 - 200, score=10.0),
            window(T0 - 30, score=90.0),  # the one
            window(T0 - 10, nominal=300.0, score=20.0),  # a longer window describes a longer time
            window(T0 + 5, score=30.0),  # after the answer
        ]
    )
    c = record_checkin(store, "stressed", T0, source="companion")
    expected = window(T0 - 30, score=90.0)
    assert (c.stress_score, c.stress_level, c.gate_reason, c.rmssd_ms, c.hr_bpm) == (
        expected.stress_score,
        expected.stress_level,
        expected.gate_reason,
        expected.rmssd_ms,
        expected.hr_bpm,
    )
    # Older than five minutes describes another moment.
    later = record_checkin(store, "not_stressed", T0 + 5 + MOMENT_LOOKBACK_S + 1, source="cli")
    assert later.stress_score is None


@settings(max_examples=40, deadline=None)
@given(
    ends=st.lists(st.tuples(st.floats(-900, 900), st.sampled_from([60.0, 300.0]), st.floats(0, 100)), max_size=12),
    at=st.floats(-600, 600),
)
def test_the_moment_matches_a_plain_search_over_the_windows(ends, at):
    rows = {}
    for t, nominal, score in ends:
        rows[(round(T0 + t, 3), nominal)] = window(round(T0 + t, 3), nominal=nominal, score=round(score, 3))
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "v.db") as s:
        s.add_indicators(rows.values())
        got = record_checkin(s, "stressed", T0 + at, source="cli")
    candidates = [r for r in rows.values() if r.window_nominal_s == 60.0 and T0 + at - 300 <= r.t_end_utc_s <= T0 + at]
    best = max(candidates, key=lambda r: r.t_end_utc_s, default=None)
    assert got.stress_score == (best.stress_score if best else None)
    assert got.rmssd_ms == (best.rmssd_ms if best else None)


def test_a_duplicate_id_is_stored_once(store):
    first = record_checkin(store, "stressed", T0, source="home_assistant", checkin_id="ha-1")
    again = record_checkin(store, "not_stressed", T0 + 9, source="home_assistant", checkin_id="ha-1")
    assert again == first
    assert len(checkins(store)) == 1


def test_a_checkin_received_over_mqtt(store):
    message = CheckinMessage(
        person="alice",
        t_utc_ms=int(T0 * 1000) + 250,
        checkin_id="c-9",
        source="home_assistant",
        answer="snooze",
        snooze_minutes=30,
        nudge_id="n-3",
    )
    c = record_received(store, message)
    assert (c.checkin_id, c.t_utc_s, c.answer, c.snooze_minutes, c.nudge_id) == (
        "c-9",
        T0 + 0.25,
        "snooze",
        30.0,
        "n-3",
    )
    assert record_received(store, message) == c  # QoS 1 may deliver it twice
    assert len(checkins(store)) == 1


def test_snooze(store):
    assert snoozed_until(store, T0) is None
    record_checkin(store, "snooze", T0, source="cli")
    assert snoozed_until(store, T0 + 1) == T0 + 60 * DEFAULT_SNOOZE_MINUTES
    record_checkin(store, "snooze", T0 + 600, source="cli", snooze_minutes=10)  # shorter: the longer one holds
    assert snoozed_until(store, T0 + 700) == T0 + 60 * DEFAULT_SNOOZE_MINUTES
    assert snoozed_until(store, T0 + 60 * DEFAULT_SNOOZE_MINUTES) is None
    assert snoozed_until(store, T0 - 1) is None  # not yet snoozed then


def test_since_and_order(store):
    for i, answer in enumerate(["stressed", "not_stressed", "need_help"]):
        record_checkin(store, answer, T0 + 100 - i * 10, source="cli")
    assert [c.answer for c in checkins(store)] == ["need_help", "not_stressed", "stressed"]
    assert [c.answer for c in checkins(store, since_utc_s=T0 + 90)] == ["not_stressed", "stressed"]
    assert [c.answer for c in checkins(store, until_utc_s=T0 + 85)] == ["need_help"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"answer": "fine"}, "answer"),
        ({"source": "email"}, "source"),
        ({"self_stress_1to5": 6}, "1 to 5"),
        ({"self_stress_1to5": True}, "1 to 5"),
        ({"snooze_minutes": 10}, "snooze"),
        ({"answer": "snooze", "snooze_minutes": 0}, "minutes"),
        ({"t_utc_s": float("nan")}, "finite"),
    ],
)
def test_bad_check_ins_are_refused(store, kwargs, match):
    args = {"answer": "stressed", "t_utc_s": T0, "source": "cli"} | kwargs
    with pytest.raises(ValueError, match=match):
        record_checkin(store, args.pop("answer"), args.pop("t_utc_s"), **args)
    assert checkins(store) == []


def test_an_in_memory_store_is_refused():
    with Store(":memory:") as s, pytest.raises(StoreError, match="file"):
        record_checkin(s, "stressed", T0, source="cli")


def test_a_checkin_can_arrive_on_another_thread(store):
    # The publisher hands check-ins over on its own thread, while the agent holds the store open.
    errors: list[BaseException] = []

    def receive() -> None:
        try:
            record_checkin(store, "stressed", T0, source="companion")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=receive)
    thread.start()
    thread.join()
    assert errors == []
    assert len(checkins(store)) == 1


def test_the_statements_name_the_columns_of_the_record():
    import dataclasses
    import re

    from vagus.edge import checkins as module

    names = [f.name for f in dataclasses.fields(Checkin)]
    for sql in (module._SELECT_ONE, module._INSERT, module._SELECT_RANGE):
        listed = re.search(r"(?:SELECT|\()\s*(checkin_id.*?hr_bpm)", sql).group(1)
        assert [c.strip() for c in listed.split(",")] == names
