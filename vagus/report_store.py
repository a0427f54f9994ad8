"""What ``vagus report`` reads from the local store, opened read-only: per-minute means of one device's
60-s windows, the nights, nudges, check-ins and battery readings of a period (``vagus.report``'s module
docstring says how minutes are formed)."""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from vagus.errors import StoreError
from vagus.signal.sleep import NightSummary
from vagus.signal.stress import stress_level

__all__ = [
    "DayMinute",
    "battery_readings",
    "check_offset",
    "connect",
    "events_in",
    "latest_day",
    "load_minutes",
    "load_nights",
    "local_midnight_utc_s",
    "local_time",
    "mean",
    "night_range_ms",
    "table_columns",
]

MAX_OFFSET_MIN = 14 * 60  # UTC−12:00 … UTC+14:00 are the offsets in use


@dataclass(frozen=True, slots=True)
class DayMinute:
    """One local minute of a device's 60-s windows; means of the windows' non-null values."""

    t_utc_s: float  # start of the minute, POSIX seconds UTC
    stress_score: float | None  # 0–100
    gate_reason: str | None  # the most frequent reason of a minute without a score
    hr_bpm: float | None
    rmssd_ms: float | None
    breathing_rate_brpm: float | None

    @property
    def level(self) -> str | None:
        return None if self.stress_score is None else stress_level(self.stress_score).value


# -- reading the store ---------------------------------------------------------------------------


def connect(store_path: Path | str) -> sqlite3.Connection:
    path = Path(store_path)
    if not path.is_file():
        raise StoreError(f"no local store at {path}: run the agent first (`vagus run`), or pass --config")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read the local store {path}: {exc}") from exc
    return db


def table_columns(db: sqlite3.Connection) -> dict[str, set[str]]:
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {n: {r[1] for r in db.execute(f'PRAGMA table_info("{n}")')} for n in names}


def check_offset(utc_offset_min: int) -> None:
    if not isinstance(utc_offset_min, int) or abs(utc_offset_min) > MAX_OFFSET_MIN:
        raise ValueError(f"utc_offset_min must be whole minutes within ±{MAX_OFFSET_MIN}, got {utc_offset_min!r}")


def local_midnight_utc_s(day: date, utc_offset_min: int) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() - utc_offset_min * 60.0


def local_time(t_utc_s: float, utc_offset_min: int) -> datetime:
    return datetime.fromtimestamp(t_utc_s + utc_offset_min * 60.0, UTC).replace(tzinfo=None)


def latest_day(store_path: Path | str, *, night: bool = False, utc_offset_min: int = 0) -> date | None:
    """The local date of the newest 60-s window (``night``: the evening of the newest night), or None."""
    check_offset(utc_offset_min)
    db = connect(store_path)
    try:
        tables = table_columns(db)
        if night:
            if "nights" not in tables:
                return None
            t = db.execute("SELECT max(onset_utc_s) FROM nights").fetchone()[0]
            # A night belongs to the evening before it: an onset after midnight counts for the day before.
            return None if t is None else (local_time(t, utc_offset_min) - timedelta(hours=12)).date()
        if "indicators" not in tables:
            return None
        t = db.execute("SELECT max(t_end_utc_s) FROM indicators WHERE window_nominal_s = 60").fetchone()[0]
        return None if t is None else local_time(t, utc_offset_min).date()
    finally:
        db.close()


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return math.fsum(kept) / len(kept) if kept else None


def load_minutes(
    db: sqlite3.Connection, start_utc_s: float, end_utc_s: float, device_id: str | None = None
) -> tuple[str | None, list[DayMinute], dict[str, int]]:
    """The chosen device, its minutes in [start, end) (by window end) and every device's minute count."""
    rows = db.execute(
        "SELECT device_id, t_end_utc_s, stress_score, gate_reason, hr_bpm, rmssd_ms, breathing_rate_brpm"
        " FROM indicators WHERE window_nominal_s = 60 AND t_end_utc_s >= ? AND t_end_utc_s < ?"
        " ORDER BY t_end_utc_s",
        (start_utc_s, end_utc_s),
    ).fetchall()
    groups: dict[str, dict[int, list[tuple]]] = {}
    for row in rows:
        groups.setdefault(row[0], {}).setdefault(math.floor(row[1] / 60.0), []).append(row)
    counts = {dev: len(mins) for dev, mins in sorted(groups.items())}
    if device_id is None and groups:
        device_id = max(counts, key=lambda d: (counts[d], d))
    minutes = []
    for minute, recs in sorted(groups.get(device_id or "", {}).items()):
        score = mean(r[2] for r in recs)
        gates = Counter(r[3] for r in recs if r[3] is not None)
        minutes.append(
            DayMinute(
                t_utc_s=minute * 60.0,
                stress_score=score,
                gate_reason=gates.most_common(1)[0][0] if score is None and gates else None,
                hr_bpm=mean(r[4] for r in recs),
                rmssd_ms=mean(r[5] for r in recs),
                breathing_rate_brpm=mean(r[6] for r in recs),
            )
        )
    return device_id, minutes, counts


def load_nights(db: sqlite3.Connection) -> list[NightSummary]:
    """The rows of the ``nights`` table (sleep detection's summaries), oldest first."""
    if "nights" not in table_columns(db):
        return []
    rows = db.execute(
        "SELECT onset_utc_s, wake_utc_s, asleep_min, lowest_hr_bpm, mean_hr_bpm, rmssd_ms, recovery, recovery_sd"
        " FROM nights ORDER BY onset_utc_s"
    ).fetchall()
    return [NightSummary(*row) for row in rows]


def events_in(
    db: sqlite3.Connection, tables: dict[str, set[str]], table: str, wanted: Sequence[str], span: tuple[float, float]
) -> list[dict[str, object]]:
    """Rows of an optional table (another part of vagus may not have created it yet) in [start, end)."""
    columns = tables.get(table, set())
    if "t_utc_s" not in columns:
        return []
    cols = ["t_utc_s", *(c for c in wanted if c in columns)]
    # Table and columns are this module's constants, present in sqlite_master: nothing from input.
    sql = f"SELECT {', '.join(cols)} FROM {table} WHERE t_utc_s >= ? AND t_utc_s < ? ORDER BY t_utc_s"  # noqa: S608
    return [dict(zip(cols, row, strict=True)) for row in db.execute(sql, span)]


def battery_readings(
    db: sqlite3.Connection, tables: dict[str, set[str]], span: tuple[float, float], device_id: str | None
) -> list[tuple[float, float]]:
    """(time, battery %) of the device from the table with the most battery readings (``battery_pct``
    and ``t_utc_s`` columns; which table the device-status feature keeps them in is its own business)."""
    best: list[tuple[float, float]] = []
    for name, cols in sorted(tables.items()):
        if not {"t_utc_s", "battery_pct"} <= cols:
            continue
        quoted = name.replace('"', '""')  # a name from sqlite_master, quoted as an identifier
        sql = f'SELECT t_utc_s, battery_pct FROM "{quoted}" WHERE t_utc_s >= ? AND t_utc_s < ?'  # noqa: S608
        sql += " AND battery_pct IS NOT NULL"
        args: tuple[object, ...] = span
        if "device_id" in cols and device_id is not None:
            sql, args = sql + " AND device_id = ?", (*span, device_id)
        rows = [(float(t), float(v)) for t, v in db.execute(sql + " ORDER BY t_utc_s", args)]
        best = rows if len(rows) > len(best) else best
    return best


def night_range_ms(db: sqlite3.Connection, tables: dict[str, set[str]]) -> tuple[float, float] | None:
    """The person's nightly normal RMSSD range (ms) from the stored baseline, if it is known yet."""
    if "baseline" not in tables:
        return None
    row = db.execute("SELECT state_json FROM baseline WHERE id = 1").fetchone()
    if row is None:
        return None
    from vagus.signal.baseline import PersonalBaseline

    try:
        rng = PersonalBaseline.from_dict(json.loads(row[0])).night_range()
    except ValueError:
        return None
    return None if rng.low is None or rng.high is None else (math.exp(rng.low), math.exp(rng.high))
