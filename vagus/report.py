"""``vagus report``: one self-contained HTML page of a day or a night, read from the local store.

For people who do not run Grafana: the panels of the *Today* and *Nights* dashboards as a single
file (inline CSS, inline SVG drawn here, no script, nothing fetched), to open in any browser or
mail to oneself. The store is opened read-only; the report never changes it.

What is drawn comes from the 60-s windows of one device (the one with the most of them that day;
stress is scored on 60-s windows, ``docs/indicators.md``), grouped into local minutes by the end
of each window: a minute's stress score, heart rate, RMSSD and breathing rate are the means of its
windows' non-null values — what Grafana shows with ``mean(…) GROUP BY time(1m)``. A minute with no
score but a ``gate_reason`` is shown as not scored, with the most frequent reason. Nights are the
rows of the ``nights`` table written by sleep detection (``edge/src/stress_stage.py``). Nudges and
check-ins are drawn when the store has their tables. Times are local with one fixed UTC offset for
the whole report (a change of daylight-saving time inside a day is not followed).

This module is long (~760 lines, over the style's 600): page, panels and charts were written as one
job. The private SVG helpers (``_Frame``, ``_svg``, ``_lines``, ``_bands``, ``_ticks``) are the part to
move into a module of their own.
"""

from __future__ import annotations

import html
import json
import math
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from vagus.errors import StoreError
from vagus.signal.stress import stress_level

__all__ = ["DayMinute", "NightRow", "build_report", "latest_day", "load_minutes", "load_nights"]

LEVEL_COLOURS = {"rest": "#3f88c5", "low": "#f2c14e", "medium": "#f08a24", "high": "#d1495b"}
LEVEL_BANDS = {"rest": "0–25", "low": "26–50", "medium": "51–75", "high": "76–100"}
GATE_COLOURS = {
    "active": "#5aa469",
    "not_worn": "#b8b8b8",
    "low_quality": "#8d8d8d",
    "too_few_beats": "#6d6d6d",
    "hr_only": "#a58fc9",
}
GATE_WORDS = {
    "active": "moving (activity looks like stress)",
    "not_worn": "not worn",
    "low_quality": "low signal quality",
    "too_few_beats": "too few beats",
    "hr_only": "heart rate only, no beat intervals",
}
NOT_A_DIAGNOSIS = "A wellness indicator, not a diagnosis."
_MAX_OFFSET_MIN = 14 * 60  # UTC−12:00 … UTC+14:00 are the offsets in use
_NIGHT_FROM_H, _NIGHT_TO_H = 20, 11  # a night's charts: 20:00 to 11:00 next morning, widened to its sleep
_HISTORY_NIGHTS = 14
_BATTERY_GAP_S = 3 * 3600.0  # battery is read now and then (minutes to hours apart): a line across shorter gaps


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


@dataclass(frozen=True, slots=True)
class NightRow:
    """A row of the ``nights`` table (vagus.signal.sleep.NightSummary)."""

    onset_utc_s: float
    wake_utc_s: float
    asleep_min: int
    lowest_hr_bpm: float | None
    mean_hr_bpm: float | None
    rmssd_ms: float | None
    recovery: str | None  # below | normal | above the nightly normal range
    recovery_sd: float | None


# -- reading the store ---------------------------------------------------------------------------


def _connect(store_path: Path | str) -> sqlite3.Connection:
    path = Path(store_path)
    if not path.is_file():
        raise StoreError(f"no local store at {path}: run the agent first (`vagus run`), or pass --config")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read the local store {path}: {exc}") from exc
    return db


def _tables(db: sqlite3.Connection) -> dict[str, set[str]]:
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {n: {r[1] for r in db.execute(f'PRAGMA table_info("{n}")')} for n in names}


def _check_offset(utc_offset_min: int) -> None:
    if not isinstance(utc_offset_min, int) or abs(utc_offset_min) > _MAX_OFFSET_MIN:
        raise ValueError(f"utc_offset_min must be whole minutes within ±{_MAX_OFFSET_MIN}, got {utc_offset_min!r}")


def _local_midnight_utc_s(day: date, utc_offset_min: int) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() - utc_offset_min * 60.0


def _local(t_utc_s: float, utc_offset_min: int) -> datetime:
    return datetime.fromtimestamp(t_utc_s + utc_offset_min * 60.0, UTC).replace(tzinfo=None)


def latest_day(store_path: Path | str, *, night: bool = False, utc_offset_min: int = 0) -> date | None:
    """The local date of the newest 60-s window (``night``: the evening of the newest night), or None."""
    _check_offset(utc_offset_min)
    db = _connect(store_path)
    try:
        tables = _tables(db)
        if night:
            if "nights" not in tables:
                return None
            t = db.execute("SELECT max(onset_utc_s) FROM nights").fetchone()[0]
            # A night belongs to the evening before it: an onset after midnight counts for the day before.
            return None if t is None else (_local(t, utc_offset_min) - timedelta(hours=12)).date()
        if "indicators" not in tables:
            return None
        t = db.execute("SELECT max(t_end_utc_s) FROM indicators WHERE window_nominal_s = 60").fetchone()[0]
        return None if t is None else _local(t, utc_offset_min).date()
    finally:
        db.close()


def _mean(values: Iterable[float | None]) -> float | None:
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
        score = _mean(r[2] for r in recs)
        gates = Counter(r[3] for r in recs if r[3] is not None)
        minutes.append(
            DayMinute(
                t_utc_s=minute * 60.0,
                stress_score=score,
                gate_reason=gates.most_common(1)[0][0] if score is None and gates else None,
                hr_bpm=_mean(r[4] for r in recs),
                rmssd_ms=_mean(r[5] for r in recs),
                breathing_rate_brpm=_mean(r[6] for r in recs),
            )
        )
    return device_id, minutes, counts


def load_nights(db: sqlite3.Connection) -> list[NightRow]:
    if "nights" not in _tables(db):
        return []
    rows = db.execute(
        "SELECT onset_utc_s, wake_utc_s, asleep_min, lowest_hr_bpm, mean_hr_bpm, rmssd_ms, recovery, recovery_sd"
        " FROM nights ORDER BY onset_utc_s"
    ).fetchall()
    return [NightRow(*row) for row in rows]


def _events(
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


def _battery(
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


def _night_range_ms(db: sqlite3.Connection, tables: dict[str, set[str]]) -> tuple[float, float] | None:
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


# -- formatting ---------------------------------------------------------------------------------------

_e = html.escape


def _num(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" + (f" {unit}" if unit else "")


def _hm(t_utc_s: float, off: int) -> str:
    return _local(t_utc_s, off).strftime("%H:%M")


def _duration(minutes: int) -> str:
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _offset_label(off: int) -> str:
    sign = "+" if off >= 0 else "−"
    return f"UTC{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}"


def _dl(items: Sequence[tuple[str, str, str]]) -> str:
    """A description list; each value carries ``data-key`` so it can be found (and checked) by name."""
    rows = "".join(
        f'<div><dt>{_e(label)}</dt><dd data-key="{key}">{_e(value)}</dd></div>' for key, label, value in items
    )
    return f'<dl class="summary">{rows}</dl>'


# -- SVG charts ------------------------------------------------------------------------------------

_W, _LEFT, _RIGHT, _TOP, _BOTTOM = 760.0, 48.0, 12.0, 14.0, 24.0


@dataclass(frozen=True, slots=True)
class _Frame:
    """A plot area: time (s UTC) across, a value range up."""

    t0: float
    t1: float
    lo: float
    hi: float
    height: float

    def x(self, t: float) -> float:
        return _LEFT + (t - self.t0) / (self.t1 - self.t0) * (_W - _LEFT - _RIGHT)

    def y(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.height - _BOTTOM - (v - self.lo) / (self.hi - self.lo) * (self.height - _TOP - _BOTTOM)


def _svg(
    name: str, frame: _Frame, body: str, *, title: str, desc: str, off: int, unit: str, ticks: Sequence[float]
) -> str:
    grid = []
    for v in ticks:
        y = frame.y(v)
        grid.append(f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        grid.append(f'<text class="tick" x="{_LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{v:g}</text>')
    step = 3 * 3600 if frame.t1 - frame.t0 > 12 * 3600 else 3600
    first = math.ceil((frame.t0 + off * 60) / step) * step - off * 60
    for t in range(int(first), int(frame.t1) + 1, step):
        x = frame.x(t)
        grid.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{frame.height - _BOTTOM}"/>')
        grid.append(f'<text class="tick" x="{x:.1f}" y="{frame.height - 8}" text-anchor="middle">{_hm(t, off)}</text>')
    axis = f'<text class="axis" x="{_LEFT + 2}" y="{_TOP - 3}">{_e(unit)}</text>'
    return (
        f'<svg class="chart" id="chart-{name}" viewBox="0 0 {_W:g} {frame.height:g}" role="img"'
        f' aria-labelledby="chart-{name}-title chart-{name}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-{name}-title">{_e(title)}</title><desc id="chart-{name}-desc">{_e(desc)}</desc>'
        f"{''.join(grid)}{axis}{body}</svg>"
    )


def _lines(frame: _Frame, points: Sequence[tuple[float, float]], css: str, *, max_gap_s: float = 60.0) -> str:
    """Polylines through per-minute points, broken wherever minutes are missing (never drawn across a gap)."""
    runs: list[list[tuple[float, float]]] = []
    for t, v in points:
        if runs and t - runs[-1][-1][0] <= max_gap_s + 1e-6:
            runs[-1].append((t, v))
        else:
            runs.append([(t, v)])
    out = []
    for run in runs:
        if len(run) == 1:
            t, v = run[0]
            out.append(f'<circle class="{css}" cx="{frame.x(t + 30):.1f}" cy="{frame.y(v):.1f}" r="1.2"/>')
        else:
            coords = " ".join(f"{frame.x(t + 30):.1f},{frame.y(v):.1f}" for t, v in run)
            out.append(f'<polyline class="{css}" points="{coords}"/>')
    return "".join(out)


def _bands(frame: _Frame, spans: Iterable[tuple[float, float]], css: str) -> str:
    return "".join(
        f'<rect class="{css}" x="{frame.x(a):.1f}" y="{_TOP}" width="{frame.x(b) - frame.x(a):.1f}"'
        f' height="{frame.height - _TOP - _BOTTOM:.1f}"/>'
        for a, b in spans
    )


def _stress_chart(minutes: Sequence[DayMinute], frame: _Frame, off: int, nudges: list, checkins: list) -> str:
    w = max(frame.x(60.0) - frame.x(0.0), 0.6)
    base = frame.y(0.0)
    body = []
    for m in minutes:
        x = frame.x(m.t_utc_s)
        if m.stress_score is not None:
            y = frame.y(m.stress_score)
            body.append(
                f'<rect class="stress-point l-{m.level}" data-level="{m.level}" x="{x:.2f}" y="{y:.1f}"'
                f' width="{w:.2f}" height="{base - y:.1f}"><title>{_hm(m.t_utc_s, off)} stress'
                f" {m.stress_score:.0f} ({m.level})</title></rect>"
            )
        elif m.gate_reason is not None:
            body.append(
                f'<rect class="gated g-{m.gate_reason}" data-reason="{m.gate_reason}" x="{x:.2f}" y="{base + 2:.1f}"'
                f' width="{w:.2f}" height="6"><title>{_hm(m.t_utc_s, off)} not scored:'
                f" {_e(GATE_WORDS.get(m.gate_reason, m.gate_reason))}</title></rect>"
            )
    for n in nudges:
        x, sent = frame.x(float(n["t_utc_s"])), n.get("sent", 1)
        kind = str(n.get("kind") or "nudge").replace("_", " ")
        words = f"nudge ({kind}){'' if sent else ', held back'}: {n.get('text') or ''}"
        body.append(
            f'<path class="nudge-marker{"" if sent else " held-back"}" data-sent="{int(bool(sent))}"'
            f' d="M{x - 5:.1f},2 L{x + 5:.1f},2 L{x:.1f},11 Z"><title>{_hm(float(n["t_utc_s"]), off)}'
            f" {_e(words.strip())}</title></path>"
        )
    for c in checkins:
        x, s = frame.x(float(c["t_utc_s"])), c.get("self_stress_1to5")
        words = f"check-in: {c.get('answer') or ''}" + (f", felt stress {s}/5" if s is not None else "")
        body.append(
            f'<circle class="checkin-marker" cx="{x:.1f}" cy="{_TOP + 5:.1f}" r="4.5">'
            f"<title>{_hm(float(c['t_utc_s']), off)} {_e(words)}</title></circle>"
        )
    return "".join(body)


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """Round values (multiples of 1, 2, 2.5 or 5 × 10^k) in [lo, hi], about ``n`` steps apart."""
    raw = (hi - lo) / n
    step = min((s * 10.0**k for k in range(-1, 4) for s in (1, 2, 2.5, 5) if s * 10.0**k >= raw), default=raw)
    return [k * step for k in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)]


def _range(values: Sequence[float], step: float, floor_at: float | None = None) -> tuple[float, float]:
    lo, hi = math.floor(min(values) / step) * step, math.ceil(max(values) / step) * step
    if floor_at is not None:
        lo = floor_at
    return lo, hi if hi > lo else lo + step


def _series_chart(
    name: str,
    minutes: Sequence[DayMinute],
    field: str,
    frame_span: tuple[float, float],
    off: int,
    *,
    title: str,
    unit: str,
    step: float,
    floor_at: float | None = None,
    sleep: Sequence[tuple[float, float]] = (),
) -> tuple[str, str]:
    """A per-minute line chart of ``field`` and its text summary."""
    points = [(m.t_utc_s, v) for m in minutes if (v := getattr(m, field)) is not None]
    if not points:
        return "", f"No {title.lower()} in this period."
    values = [v for _, v in points]
    lo, hi = _range(values, step, floor_at)
    frame = _Frame(frame_span[0], frame_span[1], lo, hi, 150.0)
    low_t, low_v = min(points, key=lambda p: p[1])
    high_t, high_v = max(points, key=lambda p: p[1])
    text = (
        f"{title}: mean {_num(_mean(values), unit)} over {len(points)} minutes; lowest {_num(low_v, unit)}"
        f" at {_hm(low_t, off)}, highest {_num(high_v, unit)} at {_hm(high_t, off)}."
    )
    body = _bands(frame, sleep, "sleep-band") + _lines(frame, points, f"line {name}")
    svg = _svg(
        name, frame, body, title=f"{title} per minute ({unit})", desc=text, off=off, unit=unit, ticks=_ticks(lo, hi)
    )
    return svg, text


def _figure(svg: str, text: str, legend: str = "") -> str:
    chart = f"<div class='plot'>{svg}{legend}</div>" if svg else ""
    return f'<figure class="panel">{chart}<figcaption>{_e(text)}</figcaption></figure>'


def _legend(items: Iterable[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i style="background:{colour}"></i>{_e(label)}</span>' for colour, label in items)
    return f'<p class="legend">{spans}</p>'


def _day_sections(
    minutes: Sequence[DayMinute],
    span: tuple[float, float],
    off: int,
    *,
    nudges: list,
    checkins: list,
    battery: list[tuple[float, float]],
) -> list[str]:
    scored = [m for m in minutes if m.stress_score is not None]
    levels = Counter(m.level for m in scored)
    gates = Counter(m.gate_reason for m in minutes if m.stress_score is None and m.gate_reason is not None)
    items = [
        ("minutes_with_reading", "Minutes with a reading", f"{len(minutes)} of {round((span[1] - span[0]) / 60)}"),
        ("minutes_scored", "Minutes with a stress score", str(len(scored))),
        ("mean_stress", "Average stress score (0–100)", _num(_mean(m.stress_score for m in scored))),
        *((f"minutes_{lv}", f"Minutes at {lv} ({LEVEL_BANDS[lv]})", str(levels[lv])) for lv in LEVEL_COLOURS),
        *((f"gated_{g}", f"Minutes not scored: {GATE_WORDS.get(g, g)}", str(n)) for g, n in sorted(gates.items())),
        ("mean_hr_bpm", "Average heart rate", _num(_mean(m.hr_bpm for m in minutes), "bpm")),
        ("mean_rmssd_ms", "Average RMSSD", _num(_mean(m.rmssd_ms for m in minutes), "ms")),
        (
            "mean_breathing_brpm",
            "Average breathing rate",
            _num(_mean(m.breathing_rate_brpm for m in minutes), "breaths/min"),
        ),
        (
            "nudges",
            "Nudges (sent / held back)",
            f"{sum(bool(n.get('sent', 1)) for n in nudges)} / {sum(not n.get('sent', 1) for n in nudges)}",
        ),
        ("checkins", "Check-ins answered", str(len(checkins))),
    ]
    out = [f'<section id="summary"><h2>Summary</h2>{_dl(items)}</section>']

    frame = _Frame(span[0], span[1], 0.0, 100.0, 210.0)
    parts = [f"{levels[lv]} min {lv}" for lv in LEVEL_COLOURS if levels[lv]]
    text = f"Stress was scored in {len(scored)} minutes" + (f": {', '.join(parts)}." if parts else ".")
    if scored:
        top = max(scored, key=lambda m: m.stress_score or 0.0)
        text += f" Highest: {top.stress_score:.0f} at {_hm(top.t_utc_s, off)}."
    if gates:
        text += " Not scored: " + ", ".join(f"{n} min {GATE_WORDS.get(g, g)}" for g, n in sorted(gates.items())) + "."
    if nudges or checkins:
        text += f" Markers: {len(nudges)} nudges (triangles), {len(checkins)} check-ins (circles)."
    body = _stress_chart(minutes, frame, off, nudges, checkins)
    title = "Stress score per minute, coloured by level (0–100)"
    svg = _svg("stress", frame, body, title=title, desc=text, off=off, unit="score", ticks=(0, 25, 50, 75, 100))
    legend = _legend(
        [
            *((c, f"{lv} {LEVEL_BANDS[lv]}") for lv, c in LEVEL_COLOURS.items()),
            *((GATE_COLOURS.get(g, "#999"), f"not scored: {GATE_WORDS.get(g, g)}") for g in sorted(gates)),
        ]
    )
    out.append(f'<section id="stress"><h2>Stress</h2>{_figure(svg, text, legend)}</section>')

    charts = [
        _series_chart("hr", minutes, "hr_bpm", span, off, title="Heart rate", unit="bpm", step=10.0),
        _series_chart("rmssd", minutes, "rmssd_ms", span, off, title="RMSSD", unit="ms", step=20.0, floor_at=0.0),
    ]
    out.append(
        '<section id="heart"><h2>Heart rate and RMSSD</h2>' + "".join(_figure(*c) for c in charts) + "</section>"
    )
    breathing = _series_chart(
        "breathing", minutes, "breathing_rate_brpm", span, off, title="Breathing rate", unit="breaths/min", step=5.0
    )
    out.append(f'<section id="breathing"><h2>Breathing rate</h2>{_figure(*breathing)}</section>')
    if battery:
        frame = _Frame(span[0], span[1], 0.0, 100.0, 120.0)
        (t0, p0), (t1, p1) = battery[0], battery[-1]
        text = f"Battery: {p0:.0f} % at {_hm(t0, off)}, {p1:.0f} % at {_hm(t1, off)}."
        body = _lines(frame, battery, "line battery", max_gap_s=_BATTERY_GAP_S)
        svg = _svg("battery", frame, body, title="Device battery (%)", desc=text, off=off, unit="%", ticks=(0, 50, 100))
        out.append(f'<section id="device"><h2>Device</h2>{_figure(svg, text)}</section>')
    return out


def _recovery(n: NightRow) -> str:
    if n.recovery is None:
        return "not known yet (needs at least 3 nights of history)"
    sd = "" if n.recovery_sd is None else f", {n.recovery_sd:+.1f} SD"
    return f"{n.recovery} your nightly normal range{sd}"


def _night_block(n: NightRow, off: int) -> str:
    items = [
        ("onset", "Fell asleep", _hm(n.onset_utc_s, off)),
        ("wake", "Woke up", _hm(n.wake_utc_s, off)),
        ("asleep", "Time asleep", _duration(int(n.asleep_min))),
        ("lowest_hr_bpm", "Lowest heart rate (5-min mean)", _num(n.lowest_hr_bpm, "bpm")),
        ("mean_hr_bpm", "Average sleeping heart rate", _num(n.mean_hr_bpm, "bpm")),
        ("rmssd_ms", "Nocturnal RMSSD", _num(n.rmssd_ms, "ms")),
        ("recovery", "Recovery (RMSSD against your baseline)", _recovery(n)),
    ]
    start = _local(n.onset_utc_s, off).strftime("%A %d %B %Y")
    return (
        f'<div class="night" data-onset-utc-s="{n.onset_utc_s!r}"><h3>Night starting {_e(start)}</h3>{_dl(items)}</div>'
    )


def _history_chart(nights: Sequence[NightRow], normal: tuple[float, float] | None, off: int) -> tuple[str, str]:
    shown = [n for n in nights if n.rmssd_ms is not None][-_HISTORY_NIGHTS:]
    if not shown:
        return "", "No nocturnal RMSSD stored yet."
    hi = math.ceil(max([n.rmssd_ms or 0.0 for n in shown] + ([normal[1]] if normal else [])) / 20.0) * 20.0
    frame = _Frame(0.0, float(max(len(shown), 7)), 0.0, hi, 170.0)  # a bar never wider than a week's
    body = []
    if normal:
        y0, y1 = frame.y(normal[1]), frame.y(normal[0])
        body.append(
            f'<rect class="normal-band" x="{_LEFT}" y="{y0:.1f}" width="{_W - _LEFT - _RIGHT:g}"'
            f' height="{y1 - y0:.1f}"/>'
        )
    for i, n in enumerate(shown):
        x0, x1, y = frame.x(i + 0.15), frame.x(i + 0.85), frame.y(n.rmssd_ms or 0.0)
        label = _local(n.onset_utc_s - 12 * 3600, off).strftime("%d %b")
        body.append(
            f'<rect class="night-bar" x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{frame.y(0) - y:.1f}">'
            f"<title>night of {label}: {n.rmssd_ms:.1f} ms</title></rect>"
            f'<text class="tick" x="{(x0 + x1) / 2:.1f}" y="{frame.height - 8}" text-anchor="middle">{label}</text>'
        )
    grid = "".join(
        f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{frame.y(v):.1f}" y2="{frame.y(v):.1f}"/>'
        f'<text class="tick" x="{_LEFT - 4}" y="{frame.y(v) + 3:.1f}" text-anchor="end">{v:g}</text>'
        for v in _ticks(0.0, hi)
    )
    band = (
        f" Your normal range: {normal[0]:.0f}–{normal[1]:.0f} ms (shaded)."
        if normal
        else " Your normal range needs at least 3 nights."
    )
    text = f"Nocturnal RMSSD of the last {len(shown)} night(s), latest {shown[-1].rmssd_ms:.1f} ms.{band}"
    svg = (
        f'<svg class="chart" id="chart-nights" viewBox="0 0 {_W:g} {frame.height:g}" role="img"'
        ' aria-labelledby="chart-nights-title"'
        f' xmlns="http://www.w3.org/2000/svg"><title id="chart-nights-title">{_e(text)}</title>{grid}'
        f'<text class="axis" x="{_LEFT + 2}" y="{_TOP - 3}">ms</text>{"".join(body)}</svg>'
    )
    return svg, text


_CSS = (
    """
:root{color-scheme:light;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430}
body{margin:0 auto;max-width:1100px;padding:16px 24px 40px;background:#fbfbfc}
h1{font-size:1.6rem;margin:.2em 0}h2{font-size:1.2rem;margin:1.4em 0 .4em;border-bottom:1px solid #dde}
h3{font-size:1rem;margin:.8em 0 .3em}.meta{color:#556;margin:.2em 0}
.notice{background:#fff4d6;border-left:6px solid #f0a500;padding:10px 14px;font-size:1.05rem;margin:12px 0}
.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:6px 18px;margin:0}
.summary div{background:#fff;border:1px solid #e3e5ea;border-radius:6px;padding:6px 10px}
dt{font-size:.8rem;color:#556}dd{margin:0;font-size:1.15rem;font-weight:600}
dd[data-key=recovery]{font-size:.95rem;font-weight:500}
figure.panel{display:grid;grid-template-columns:minmax(0,1fr) 250px;gap:16px;margin:6px 0 14px;align-items:start}
figcaption{font-size:.92rem;background:#fff;border:1px solid #e3e5ea;border-radius:6px;padding:8px 10px}
@media (max-width:800px){figure.panel{grid-template-columns:1fr}}
svg.chart{width:100%;height:auto;background:#fff;border:1px solid #e3e5ea;border-radius:6px}
.grid{stroke:#e6e8ee;stroke-width:1}.tick{font-size:10px;fill:#667}.axis{font-size:10px;fill:#445;font-weight:600}
.line{fill:none;stroke-width:1.3}circle.line{stroke:none}
.hr{stroke:#d1495b}circle.hr{fill:#d1495b}.rmssd{stroke:#2e86ab}circle.rmssd{fill:#2e86ab}
.breathing{stroke:#6a4c93}circle.breathing{fill:#6a4c93}.battery{stroke:#3b7d3b}
.sleep-band{fill:#e4e8f7}.normal-band{fill:#dff0e0}.night-bar{fill:#2e86ab}
.nudge-marker{fill:#6a4c93}.nudge-marker.held-back{fill:#fff;stroke:#6a4c93;stroke-width:1.2}
.checkin-marker{fill:#fff;stroke:#1d2430;stroke-width:1.5}
.legend{font-size:.85rem;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 14px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
footer{margin-top:30px;font-size:.85rem;color:#556}
"""
    + "".join(f".l-{lv}{{fill:{c}}}" for lv, c in LEVEL_COLOURS.items())
    + "".join(f".g-{g}{{fill:{c}}}" for g, c in GATE_COLOURS.items())
)


def _page(title: str, heading: str, meta: str, sections: Sequence[str], footer: str) -> str:
    # The policy forbids every fetch: even a mistake in this module cannot make the page load anything.
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><header>"
        f'<h1>{_e(heading)}</h1><p class="meta">{_e(meta)}</p>'
        f'<p class="notice" role="note"><strong>{NOT_A_DIAGNOSIS}</strong> These numbers describe how your heart'
        " rate and its variability compare with your own calm days. They cannot tell illness from health; if you"
        " are worried about how you feel, talk to a doctor.</p></header>"
        f"<main>{''.join(sections)}</main><footer>{footer}</footer></body></html>\n"
    )


def _footer(store_path: Path, off: int) -> str:
    try:
        from importlib.metadata import version

        made_by = f"vagus {version('vagus')}"
    except ImportError:  # a source checkout without metadata still gets its report
        made_by = "vagus"
    now = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<p>Made by {_e(made_by)} from the local store {_e(store_path.name)} on {now}. Times are local"
        f" ({_offset_label(off)}). Each minute shows the means of the 60-second windows that ended in it. How"
        " every number is computed: docs/indicators.md and docs/report.md in the vagus sources.</p>"
    )


def build_report(
    store_path: Path | str,
    *,
    day: date | None = None,
    night: bool = False,
    utc_offset_min: int = 0,
    device_id: str | None = None,
    support: Sequence[tuple[str, str]] | None = None,
) -> str:
    """The HTML report of a local ``day`` (or, with ``night``, of the night that starts that evening).

    ``support``: the person's support contacts as (name, how to reach them), from ``[safety]``; on a
    day the safety rule fired (docs/safety.md) the report shows them again, or how to add some if
    there are none. ``None``: the rule is off, and the report says nothing about it.

    ``day`` None: the newest day (or night) in the store; ``StoreError`` if it has none, or if there
    is no store. ``utc_offset_min``: local time minus UTC, minutes (ValueError outside ±14 h).
    ``device_id``: whose windows to draw (default: the device with the most minutes in the period).
    """
    _check_offset(utc_offset_min)
    path = Path(store_path)
    if day is None:
        day = latest_day(path, night=night, utc_offset_min=utc_offset_min)
        if day is None:
            what = "nights (sleep detection writes one after a night's sleep)" if night else "readings"
            raise StoreError(f"the local store {path} holds no {what} yet")
    off = utc_offset_min
    midnight = _local_midnight_utc_s(day, off)
    db = _connect(path)
    try:
        tables = _tables(db)
        if "indicators" not in tables:
            raise StoreError(f"{path} is not a vagus store (no indicators table)")
        nights = load_nights(db)
        if night:
            return _night_report(db, tables, path, day, nights=nights, midnight=midnight, off=off, device_id=device_id)
        span = (midnight, midnight + 86_400.0)
        device, minutes, counts = load_minutes(db, *span, device_id)
        nudges = _events(db, tables, "nudge_events", ("kind", "sent", "text", "stress_score"), span)
        checkins = _events(db, tables, "checkins", ("source", "answer", "self_stress_1to5"), span)
        battery = _battery(db, tables, span, device)
        shown = _events(db, tables, "safety_shown", ("reason",), span) if support is not None else []
    finally:
        db.close()
    sections = (
        _day_sections(minutes, span, off, nudges=nudges, checkins=checkins, battery=battery)
        if minutes
        else ['<section id="summary"><h2>Summary</h2><p class="empty">No readings for this day.</p></section>']
    )
    if shown and support is not None:
        sections.insert(0, _support_section(support))
    last = [n for n in nights if span[0] <= n.wake_utc_s < span[1]]
    if last:
        blocks = "".join(_night_block(n, off) for n in last)
        sections.append(f'<section id="nights"><h2>Last night</h2>{blocks}</section>')
    others = ", ".join(f"{d} ({n} min)" for d, n in counts.items() if d != device)
    meta = f"Device {device or '—'}; times {_offset_label(off)}." + (f" Also in the store: {others}." if others else "")
    return _page(
        f"vagus report — {day.isoformat()}",
        f"Your day: {day.strftime('%A %d %B %Y')}",
        meta,
        sections,
        _footer(path, off),
    )


def _support_section(support: Sequence[tuple[str, str]]) -> str:
    # The words of vagus.edge.safety's message, which the person saw that day (the report does not
    # import the edge: it reads the store).
    if support:
        items = "".join(f"<li><strong>{_e(name)}</strong>: {_e(how)}</li>" for name, how in support)
        contacts = f"<ul>{items}</ul>"
    else:
        contacts = (
            '<p class="empty">No support contacts are set up yet: add [[safety.resources]] to your vagus config '
            "(docs/safety.md).</p>"
        )
    return (
        '<section id="support"><h2>Support, if you want it</h2>'
        "<p>On this day your own check-ins said things were hard. Talking it over with someone you trust, or a "
        "support service, can help.</p>"
        f"{contacts}<p>If you might be in danger, call your local emergency number now.</p></section>"
    )


def _night_report(
    db: sqlite3.Connection,
    tables: dict[str, set[str]],
    path: Path,
    day: date,
    *,
    nights: list[NightRow],
    midnight: float,
    off: int,
    device_id: str | None,
) -> str:
    # A night belongs to the evening it starts on: onsets from noon of ``day`` to noon the day after.
    chosen = [n for n in nights if midnight + 12 * 3600 <= n.onset_utc_s < midnight + 36 * 3600]
    start = min([midnight + _NIGHT_FROM_H * 3600.0] + [n.onset_utc_s - 1800.0 for n in chosen])
    end = max([midnight + (24 + _NIGHT_TO_H) * 3600.0] + [n.wake_utc_s + 1800.0 for n in chosen])
    start, end = math.floor(start / 3600) * 3600.0, math.ceil(end / 3600) * 3600.0
    device, minutes, _ = load_minutes(db, start, end, device_id)
    normal = _night_range_ms(db, tables)
    sleep = [(n.onset_utc_s, n.wake_utc_s) for n in chosen]
    if chosen:
        sections = [f'<section id="nights"><h2>Sleep</h2>{"".join(_night_block(n, off) for n in chosen)}</section>']
    else:
        sections = [
            '<section id="nights"><h2>Sleep</h2><p class="empty">No sleep period was found for this night'
            " (sleep detection needs at least 3 hours of sleep, and runs once you have been up for 30 minutes)."
            "</p></section>"
        ]
    charts = [
        _series_chart(
            "hr", minutes, "hr_bpm", (start, end), off, title="Heart rate", unit="bpm", step=10.0, sleep=sleep
        ),
        _series_chart(
            "rmssd",
            minutes,
            "rmssd_ms",
            (start, end),
            off,
            title="RMSSD",
            unit="ms",
            step=20.0,
            floor_at=0.0,
            sleep=sleep,
        ),
    ]
    legend = _legend([("#e4e8f7", "asleep")]) if sleep else ""
    sections.append(
        '<section id="heart"><h2>Heart rate and RMSSD through the night</h2>'
        + "".join(_figure(svg, text, legend if svg else "") for svg, text in charts)
        + "</section>"
    )
    history = [n for n in nights if n.onset_utc_s < (chosen[-1].onset_utc_s + 1 if chosen else midnight + 36 * 3600)]
    sections.append(
        '<section id="history"><h2>Nocturnal HRV against your baseline</h2>'
        f"{_figure(*_history_chart(history, normal, off))}</section>"
    )
    return _page(
        f"vagus report — night of {day.isoformat()}",
        f"Your night: {day.strftime('%A %d')} to {(day + timedelta(days=1)).strftime('%A %d %B %Y')}",
        f"Device {device or '—'}; times {_offset_label(off)}.",
        sections,
        _footer(path, off),
    )
