"""The weekly summary: what the nudges' ``"weekly_summary"`` mode sends instead of nudges.

Some people find in-the-moment notifications about their stress stressful in themselves (docs/nudges.md,
"Mode"; product.md §4.7). For them, once a week at a time they choose, vagus sends one message about the
week instead: minutes with a medium or high stress level (and the day with most), the nights the sleep
detection found and their average time asleep, and how often the person checked in — phrased as a
question, with the reminder that the score is not a diagnosis.

Everything comes from the local store (60-s indicator windows, nights, check-ins); each summary sent
is kept in ``weekly_summaries`` (migration 0011) so a restart neither repeats nor skips one.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

from .nudge_policy import NudgeSettings, local_day

__all__ = ["WEEKDAYS", "WeekSummary", "WeeklySchedule", "summarise_week"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEK_S = 7 * 86_400.0
MAX_TEXT = 280  # the nudge payload's limit


@dataclass(frozen=True, slots=True)
class WeekSummary:
    """The 7 days ``[start_utc_s, end_utc_s)``. Minutes are minutes with a 60-s window that has a score."""

    start_utc_s: float
    end_utc_s: float
    scored_min: int
    stressed_min: int  # of those, medium or high
    busiest_day: str | None  # the local weekday with most stressed minutes ("Wednesday"), None if none
    nights: int
    mean_asleep_min: float | None
    checkins: int

    @property
    def text(self) -> str:
        """At most 280 characters, a question rather than a verdict."""
        if self.scored_min == 0:
            stress = "no stress readings this week"
        else:
            stress = f"{_duration(self.stressed_min)} of medium or high stress"
            if self.busiest_day is not None:
                stress += f" (most on {self.busiest_day})"
        if self.nights and self.mean_asleep_min is not None:
            nights = f"{self.nights} night{'s' if self.nights != 1 else ''}"
            sleep = f"{nights} averaging {_duration(self.mean_asleep_min)} asleep"
        else:
            sleep = "no night found"
        checkins = f"{self.checkins} check-in{'s' if self.checkins != 1 else ''}"
        text = (
            f"Your week: {stress}; {sleep}; {checkins}. How did the week feel to you? "
            "Patterns to notice, not a diagnosis."
        )
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _weekday(local_day_number: int) -> int:
    """Monday 0 … Sunday 6 of a local day number (days since 1970-01-01, a Thursday)."""
    return (local_day_number + 3) % 7


def _duration(minutes: float) -> str:
    h, m = divmod(round(minutes), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def summarise_week(db: sqlite3.Connection, end_utc_s: float, utc_offset_min: int) -> WeekSummary:
    """The week ending at ``end_utc_s`` from an open store connection; local days at ``utc_offset_min``."""
    start = end_utc_s - _WEEK_S
    per_day = [0] * 7
    scored = stressed = 0
    # One row per minute that had a scored 60-s window (the agent writes a window every 5 s); stressed:
    # medium or high (51–100), the levels a person would call stressed.
    rows = db.execute(
        "SELECT CAST(t_end_utc_s / 60 AS INTEGER) AS minute, max(stress_level IN ('medium', 'high'))"
        " FROM indicators WHERE window_nominal_s = 60 AND stress_score IS NOT NULL"
        " AND t_end_utc_s >= ? AND t_end_utc_s < ? GROUP BY minute",
        (start, end_utc_s),
    )
    for minute, is_stressed in rows:
        scored += 1
        if is_stressed:
            stressed += 1
            per_day[_weekday(local_day(minute * 60.0, utc_offset_min))] += 1
    busiest = max(range(7), key=per_day.__getitem__)
    nights = db.execute(
        "SELECT count(*), avg(asleep_min) FROM nights WHERE wake_utc_s >= ? AND wake_utc_s < ?", (start, end_utc_s)
    ).fetchone()
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    checkins = 0
    if "checkins" in tables:
        (checkins,) = db.execute(
            "SELECT count(*) FROM checkins WHERE t_utc_s >= ? AND t_utc_s < ? AND answer != 'snooze'",
            (start, end_utc_s),
        ).fetchone()
    return WeekSummary(
        start_utc_s=start,
        end_utc_s=end_utc_s,
        scored_min=scored,
        stressed_min=stressed,
        busiest_day=_DAY_NAMES[busiest] if per_day[busiest] else None,
        nights=int(nights[0]),
        mean_asleep_min=None if nights[1] is None else float(nights[1]),
        checkins=int(checkins),
    )


class WeeklySchedule:
    """When the next weekly summary is due: at the first record outside quiet hours after the chosen
    local weekday and time (``weekly_day``, ``weekly_time``), once per such moment — and never for a
    moment before the store's first reading (a new install waits for its first whole week's moment)."""

    def __init__(self, db: sqlite3.Connection, settings: NudgeSettings) -> None:
        self._db = db
        self._settings = settings
        row = db.execute("SELECT max(t_utc_s) FROM weekly_summaries").fetchone()
        first = db.execute("SELECT min(t_end_utc_s) FROM indicators").fetchone()
        self._since_utc_s = max(
            -math.inf if row[0] is None else float(row[0]),
            -math.inf if first[0] is None else float(first[0]),
        )

    def occurrence(self, t_utc_s: float) -> float:
        """The latest chosen local weekday and time at or before ``t_utc_s`` (POSIX seconds)."""
        s = self._settings
        offset = s.offset_at(t_utc_s)
        day = local_day(t_utc_s, offset)
        back = (_weekday(day) - WEEKDAYS.index(s.weekly_day)) % 7
        moment = (day - back) * 86_400.0 - 60.0 * offset + 60.0 * s.weekly_minute
        return moment if moment <= t_utc_s else moment - _WEEK_S

    def due(self, t_utc_s: float) -> bool:
        if self._since_utc_s == -math.inf:
            self._since_utc_s = t_utc_s  # the first reading this store has seen
        if self._settings.in_quiet_hours(t_utc_s):
            return False
        return self.occurrence(t_utc_s) > self._since_utc_s

    def send(self, t_utc_s: float) -> WeekSummary:
        """Summarise the week ending now, record it as sent and return it."""
        summary = summarise_week(self._db, t_utc_s, self._settings.offset_at(t_utc_s))
        self._db.execute(
            "INSERT OR REPLACE INTO weekly_summaries (t_utc_s, start_utc_s, stressed_min, scored_min, nights,"
            " checkins, text) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                t_utc_s,
                summary.start_utc_s,
                summary.stressed_min,
                summary.scored_min,
                summary.nights,
                summary.checkins,
                summary.text,
            ),
        )
        self._since_utc_s = t_utc_s
        return summary
