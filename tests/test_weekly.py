"""The weekly summary of the nudges' "weekly_summary" mode (vagus.edge.weekly): its numbers against
counts made by hand from what was stored, its schedule (local weekday and time, quiet hours, once a
week across restarts), and the nudge stage sending it instead of nudges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vagus.edge import Store
from vagus.edge.checkins import record_checkin
from vagus.edge.nudge_policy import NudgeSettings
from vagus.edge.nudge_stage import NudgeStage
from vagus.edge.weekly import WeeklySchedule, WeekSummary, summarise_week
from vagus.signal import Indicators
from vagus.signal.sleep import NightSummary

OFFSET_MIN = 60  # the person's local time is UTC+1 in these tests
# Monday 2026-03-09 00:00 local (23:00 UTC the day before).
MONDAY = datetime(2026, 3, 9, tzinfo=UTC).timestamp() - OFFSET_MIN * 60


def local(day: int, hour: float) -> float:
    """POSIX seconds of ``hour`` o'clock local time, ``day`` days after Monday 2026-03-09."""
    return MONDAY + day * 86_400.0 + hour * 3600.0


def window(t_end: float, score: float | None, level: str | None, *, nominal: float = 60.0) -> Indicators:
    return Indicators(
        device_id="strap",
        t_start_utc_s=t_end - nominal,
        t_end_utc_s=t_end,
        window_s=nominal,
        n_beats=70,
        quality=1.0,
        window_nominal_s=nominal,
        hr_bpm=70.0,
        rmssd_ms=35.0,
        stress_score=score,
        stress_level=level,
    )


def minutes_of(start: float, minutes: int, score: float, level: str) -> list[Indicators]:
    """What the agent writes over ``minutes`` minutes: a 60-s window every 5 s."""
    return [window(start + 5.0 * k, score, level) for k in range(minutes * 12)]


def settings(**kwargs) -> NudgeSettings:
    base = {"mode": "weekly_summary", "utc_offset_min": OFFSET_MIN, "quiet_start": "00:00", "quiet_end": "00:00"}
    return NudgeSettings(**(base | kwargs))


def test_the_week_in_numbers(tmp_path):
    with Store(tmp_path / "s.db") as store:
        # Tuesday: 30 stressed minutes (high) and 20 calm; Wednesday: 45 stressed (medium), 10 low.
        store.add_indicators(minutes_of(local(1, 10), 30, 80.0, "high"))
        store.add_indicators(minutes_of(local(1, 14), 20, 20.0, "rest"))
        store.add_indicators(minutes_of(local(2, 9), 45, 60.0, "medium"))
        store.add_indicators(minutes_of(local(2, 16), 10, 40.0, "low"))
        # Neither counts: a gated window (no score) and a 300-s window with a high score.
        store.add_indicators([window(local(3, 10) + 5, None, None), window(local(3, 11), 90.0, "high", nominal=300.0)])
        # Before the week: not counted.
        store.add_indicators(minutes_of(local(-8, 10), 15, 90.0, "high"))
        for day, asleep in ((1, 420), (2, 400), (3, 380)):
            wake = local(day, 7)
            store.add_night(NightSummary(wake - 8 * 3600, wake, asleep, 50.0, 55.0, 60.0, None, None))
        for answer in ("stressed", "not_stressed", "snooze"):
            record_checkin(store, answer, local(2, 12), source="cli")
        summary = summarise_week(store.connection, local(7, 0), OFFSET_MIN)
    assert summary.stressed_min == 30 + 45 and summary.scored_min == 30 + 20 + 45 + 10
    assert summary.busiest_day == "Wednesday"
    assert summary.nights == 3 and summary.mean_asleep_min == pytest.approx(400.0)
    assert summary.checkins == 2  # a snooze is not a check-in about how one feels
    text = summary.text
    assert "1 h 15 min of medium or high stress (most on Wednesday)" in text
    assert "3 nights averaging 6 h 40 min asleep" in text and "2 check-ins" in text
    assert "?" in text and "not a diagnosis" in text and len(text) <= 280


def test_an_empty_week_says_so():
    empty = WeekSummary(0.0, 7 * 86_400.0, 0, 0, None, 0, None, 0)
    assert "no stress readings" in empty.text and "no night found" in empty.text and "0 check-ins" in empty.text


def test_sent_on_the_chosen_local_weekday_and_time_once_a_week_across_restarts(tmp_path):
    chosen = settings(weekly_day="sun", weekly_time="18:00")
    with Store(tmp_path / "s.db") as store:
        store.add_indicators([window(local(0, 9), 10.0, "rest")])  # the store's first reading: Monday 09:00
        schedule = WeeklySchedule(store.connection, chosen)
        assert not schedule.due(local(5, 18.5))  # Saturday
        assert not schedule.due(local(6, 17.99))  # Sunday, before 18:00 local
        assert schedule.due(local(6, 18.01))
        schedule.send(local(6, 18.01))
        assert not schedule.due(local(6, 19)) and not schedule.due(local(10, 12))
    with Store(tmp_path / "s.db") as store:  # a restart: the week's summary is already sent
        again = WeeklySchedule(store.connection, chosen)
        assert not again.due(local(7, 9))
        assert again.due(local(13, 18.2))  # the next Sunday


def test_a_new_install_waits_for_the_first_chosen_moment_after_its_first_reading(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.add_indicators([window(local(6, 19), 10.0, "rest")])  # first reading Sunday 19:00, after 18:00
        schedule = WeeklySchedule(store.connection, settings(weekly_day="sun", weekly_time="18:00"))
        assert not schedule.due(local(6, 20)) and not schedule.due(local(12, 23))
        assert schedule.due(local(13, 18.1))


def test_quiet_hours_hold_it_until_they_end(tmp_path):
    chosen = settings(weekly_day="mon", weekly_time="06:30", quiet_start="22:00", quiet_end="07:00")
    with Store(tmp_path / "s.db") as store:
        store.add_indicators([window(local(-3, 12), 10.0, "rest")])
        schedule = WeeklySchedule(store.connection, chosen)
        assert not schedule.due(local(0, 6.6))  # 06:36: due, but quiet
        assert schedule.due(local(0, 7.05))


def test_the_stage_sends_the_summary_instead_of_nudges(tmp_path):
    sent = []
    with Store(tmp_path / "s.db") as store:
        stage = NudgeStage(store, settings(weekly_day="wed", weekly_time="12:00"), on_weekly=sent.append)
        nudged = []
        for day in range(9):  # Monday to the Tuesday after: high stress every afternoon
            records = minutes_of(local(day, 13), 30, 90.0, "high")
            store.add_indicators(records)
            nudged += [d for r in records if (d := stage.observe(r)) is not None]
        assert nudged == []  # no nudge in this mode
        assert len(sent) == 1 and sent[0].end_utc_s == local(2, 13)  # the first record after Wednesday noon
        # Wednesday's summary covers Monday, Tuesday and Wednesday until it was sent.
        assert sent[0].stressed_min == 30 + 30
        rows = store.connection.execute("SELECT t_utc_s, stressed_min, text FROM weekly_summaries").fetchall()
    assert rows == [(sent[0].end_utc_s, 60, sent[0].text)]
