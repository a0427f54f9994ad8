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

Reading the store is ``vagus.report_store``; the chart frame (axes, lines, bands) is ``vagus.report_svg``;
this module lays out the panels and the page.
"""

from __future__ import annotations

import html
import math
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from vagus.errors import StoreError
from vagus.report_store import (
    DayMinute,
    battery_readings,
    check_offset,
    connect,
    events_in,
    latest_day,
    load_minutes,
    load_nights,
    local_midnight_utc_s,
    local_time,
    mean,
    night_range_ms,
    table_columns,
)
from vagus.report_svg import LEFT, RIGHT, TOP, WIDTH, Frame, bands, hm, polylines, svg_chart, ticks, value_range
from vagus.signal.sleep import NightSummary

__all__ = ["DayMinute", "build_report", "latest_day", "load_minutes", "load_nights"]

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
_NIGHT_FROM_H, _NIGHT_TO_H = 20, 11  # a night's charts: 20:00 to 11:00 next morning, widened to its sleep
_HISTORY_NIGHTS = 14
_BATTERY_GAP_S = 3 * 3600.0  # battery is read now and then (minutes to hours apart): a line across shorter gaps


# -- formatting ---------------------------------------------------------------------------------------

_e = html.escape


def _num(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" + (f" {unit}" if unit else "")


_hm = hm


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


# -- charts ---------------------------------------------------------------------------------------


def _stress_chart(minutes: Sequence[DayMinute], frame: Frame, off: int, nudges: list, checkins: list) -> str:
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
            f'<circle class="checkin-marker" cx="{x:.1f}" cy="{TOP + 5:.1f}" r="4.5">'
            f"<title>{_hm(float(c['t_utc_s']), off)} {_e(words)}</title></circle>"
        )
    return "".join(body)


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
    lo, hi = value_range(values, step, floor_at)
    frame = Frame(frame_span[0], frame_span[1], lo, hi, 150.0)
    low_t, low_v = min(points, key=lambda p: p[1])
    high_t, high_v = max(points, key=lambda p: p[1])
    text = (
        f"{title}: mean {_num(mean(values), unit)} over {len(points)} minutes; lowest {_num(low_v, unit)}"
        f" at {_hm(low_t, off)}, highest {_num(high_v, unit)} at {_hm(high_t, off)}."
    )
    body = bands(frame, sleep, "sleep-band") + polylines(frame, points, f"line {name}")
    svg = svg_chart(
        name, frame, body, title=f"{title} per minute ({unit})", desc=text, off=off, unit=unit, ticks=ticks(lo, hi)
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
        ("mean_stress", "Average stress score (0–100)", _num(mean(m.stress_score for m in scored))),
        *((f"minutes_{lv}", f"Minutes at {lv} ({LEVEL_BANDS[lv]})", str(levels[lv])) for lv in LEVEL_COLOURS),
        *((f"gated_{g}", f"Minutes not scored: {GATE_WORDS.get(g, g)}", str(n)) for g, n in sorted(gates.items())),
        ("mean_hr_bpm", "Average heart rate", _num(mean(m.hr_bpm for m in minutes), "bpm")),
        ("mean_rmssd_ms", "Average RMSSD", _num(mean(m.rmssd_ms for m in minutes), "ms")),
        (
            "mean_breathing_brpm",
            "Average breathing rate",
            _num(mean(m.breathing_rate_brpm for m in minutes), "breaths/min"),
        ),
        (
            "nudges",
            "Nudges (sent / held back)",
            f"{sum(bool(n.get('sent', 1)) for n in nudges)} / {sum(not n.get('sent', 1) for n in nudges)}",
        ),
        ("checkins", "Check-ins answered", str(len(checkins))),
    ]
    out = [f'<section id="summary"><h2>Summary</h2>{_dl(items)}</section>']

    frame = Frame(span[0], span[1], 0.0, 100.0, 210.0)
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
    svg = svg_chart("stress", frame, body, title=title, desc=text, off=off, unit="score", ticks=(0, 25, 50, 75, 100))
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
        frame = Frame(span[0], span[1], 0.0, 100.0, 120.0)
        (t0, p0), (t1, p1) = battery[0], battery[-1]
        text = f"Battery: {p0:.0f} % at {_hm(t0, off)}, {p1:.0f} % at {_hm(t1, off)}."
        body = polylines(frame, battery, "line battery", max_gap_s=_BATTERY_GAP_S)
        svg = svg_chart(
            "battery", frame, body, title="Device battery (%)", desc=text, off=off, unit="%", ticks=(0, 50, 100)
        )
        out.append(f'<section id="device"><h2>Device</h2>{_figure(svg, text)}</section>')
    return out


def _recovery(n: NightSummary) -> str:
    if n.recovery is None:
        return "not known yet (needs at least 3 nights of history)"
    sd = "" if n.recovery_sd is None else f", {n.recovery_sd:+.1f} SD"
    return f"{n.recovery} your nightly normal range{sd}"


def _night_block(n: NightSummary, off: int) -> str:
    items = [
        ("onset", "Fell asleep", _hm(n.onset_utc_s, off)),
        ("wake", "Woke up", _hm(n.wake_utc_s, off)),
        ("asleep", "Time asleep", _duration(int(n.asleep_min))),
        ("lowest_hr_bpm", "Lowest heart rate (5-min mean)", _num(n.lowest_hr_bpm, "bpm")),
        ("mean_hr_bpm", "Average sleeping heart rate", _num(n.mean_hr_bpm, "bpm")),
        ("rmssd_ms", "Nocturnal RMSSD", _num(n.rmssd_ms, "ms")),
        ("recovery", "Recovery (RMSSD against your baseline)", _recovery(n)),
    ]
    start = local_time(n.onset_utc_s, off).strftime("%A %d %B %Y")
    return (
        f'<div class="night" data-onset-utc-s="{n.onset_utc_s!r}"><h3>Night starting {_e(start)}</h3>{_dl(items)}</div>'
    )


def _history_chart(nights: Sequence[NightSummary], normal: tuple[float, float] | None, off: int) -> tuple[str, str]:
    shown = [n for n in nights if n.rmssd_ms is not None][-_HISTORY_NIGHTS:]
    if not shown:
        return "", "No nocturnal RMSSD stored yet."
    hi = math.ceil(max([n.rmssd_ms or 0.0 for n in shown] + ([normal[1]] if normal else [])) / 20.0) * 20.0
    frame = Frame(0.0, float(max(len(shown), 7)), 0.0, hi, 170.0)  # a bar never wider than a week's
    body = []
    if normal:
        y0, y1 = frame.y(normal[1]), frame.y(normal[0])
        body.append(
            f'<rect class="normal-band" x="{LEFT}" y="{y0:.1f}" width="{WIDTH - LEFT - RIGHT:g}"'
            f' height="{y1 - y0:.1f}"/>'
        )
    for i, n in enumerate(shown):
        x0, x1, y = frame.x(i + 0.15), frame.x(i + 0.85), frame.y(n.rmssd_ms or 0.0)
        label = local_time(n.onset_utc_s - 12 * 3600, off).strftime("%d %b")
        body.append(
            f'<rect class="night-bar" x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{frame.y(0) - y:.1f}">'
            f"<title>night of {label}: {n.rmssd_ms:.1f} ms</title></rect>"
            f'<text class="tick" x="{(x0 + x1) / 2:.1f}" y="{frame.height - 8}" text-anchor="middle">{label}</text>'
        )
    grid = "".join(
        f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{frame.y(v):.1f}" y2="{frame.y(v):.1f}"/>'
        f'<text class="tick" x="{LEFT - 4}" y="{frame.y(v) + 3:.1f}" text-anchor="end">{v:g}</text>'
        for v in ticks(0.0, hi)
    )
    band = (
        f" Your normal range: {normal[0]:.0f}–{normal[1]:.0f} ms (shaded)."
        if normal
        else " Your normal range needs at least 3 nights."
    )
    text = f"Nocturnal RMSSD of the last {len(shown)} night(s), latest {shown[-1].rmssd_ms:.1f} ms.{band}"
    svg = (
        f'<svg class="chart" id="chart-nights" viewBox="0 0 {WIDTH:g} {frame.height:g}" role="img"'
        ' aria-labelledby="chart-nights-title"'
        f' xmlns="http://www.w3.org/2000/svg"><title id="chart-nights-title">{_e(text)}</title>{grid}'
        f'<text class="axis" x="{LEFT + 2}" y="{TOP - 3}">ms</text>{"".join(body)}</svg>'
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
    check_offset(utc_offset_min)
    path = Path(store_path)
    if day is None:
        day = latest_day(path, night=night, utc_offset_min=utc_offset_min)
        if day is None:
            what = "nights (sleep detection writes one after a night's sleep)" if night else "readings"
            raise StoreError(f"the local store {path} holds no {what} yet")
    off = utc_offset_min
    midnight = local_midnight_utc_s(day, off)
    db = connect(path)
    try:
        tables = table_columns(db)
        if "indicators" not in tables:
            raise StoreError(f"{path} is not a vagus store (no indicators table)")
        nights = load_nights(db)
        if night:
            return _night_report(db, tables, path, day, nights=nights, midnight=midnight, off=off, device_id=device_id)
        span = (midnight, midnight + 86_400.0)
        device, minutes, counts = load_minutes(db, *span, device_id)
        nudges = events_in(db, tables, "nudge_events", ("kind", "sent", "text", "stress_score"), span)
        checkins = events_in(db, tables, "checkins", ("source", "answer", "self_stress_1to5"), span)
        battery = battery_readings(db, tables, span, device)
        shown = events_in(db, tables, "safety_shown", ("reason",), span) if support is not None else []
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
    nights: list[NightSummary],
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
    normal = night_range_ms(db, tables)
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
