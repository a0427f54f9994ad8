"""Grafana dashboards and provisioning for vagus, generated from code (stdlib only).

Three dashboards per person — *Today*, *Nights*, *Trends* (docs/dashboards.md) — in Grafana's
dashboard JSON model (schemaVersion 41, which Grafana 11.6 to 13 load and migrate), with InfluxQL
queries against the measurements the bridge writes (sync/src/points.py, docs/topics.md). InfluxQL
because InfluxDB 1.8, 2.x (through DBRP mappings) and 3.x all run it; the queries use only functions
InfluxDB 3 supports (no INTEGRAL, SAMPLE, SLIMIT, technical-analysis functions: docs of
influxdb3 "InfluxQL feature support").

Provisioning (``provisioning_files``) gives each person their own data source — reading only their
bucket, with a token scoped to it — and their own folder, so what a dashboard shows never depends
on a dashboard variable. The files are YAML written in JSON syntax (YAML 1.2 is a superset of JSON):
exact, and checkable without a YAML library.

Why not grafana-foundation-sdk: it has no InfluxDB query builder (research/sync.md §5), its PyPI
versions are ``<epoch>!<Grafana version>`` and an unpinned install resolves to the Grafana 10.1
builders, and it needs Python ≥ 3.11 for what plain dicts do here; the structural checks in
tests/test_dashboards.py hold the JSON to the model instead.

``python -m vagus.grafana --write dashboards/`` regenerates the committed files (person ``me``).
"""

# InfluxQL built from this module's own constants and the schema's code tables, never from input:
# ruff: noqa: S608
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from vagus.sync.points import CHECKIN_MEASUREMENT, DEVICE_STATUS_MEASUREMENT, NIGHT_MEASUREMENT, NUDGE_MEASUREMENT
from vagus.sync.schema import (
    CHECKIN_ANSWER_CODES,
    LINK_STATE_CODES,
    NUDGE_CODES,
    RECOVERY_CODES,
    STRESS_LEVEL_CODES,
)

__all__ = [
    "GRAFANA_VERSION",
    "SCHEMA_VERSION",
    "dashboards",
    "datasource_uid",
    "main",
    "provisioning_files",
]

GRAFANA_VERSION: Final = "12.2"  # the Grafana OSS line these files are written and checked for
SCHEMA_VERSION: Final = 41  # what grafana-foundation-sdk 11.6 emits; Grafana migrates it forward
DATASOURCE_TYPE: Final = "influxdb"
INDICATORS: Final = "indicators"  # a summary's measurement is its record kind (Summary.kind)
WINDOW: Final = "60"  # the window tag every panel reads: the 60-s windows stress and sleep use
# Score bands (vagus.signal.stress.stress_level: rest ≤ 25 < low ≤ 50 < medium ≤ 75 < high). Grafana
# colours a value by the highest step it reaches, so a score of exactly 25 shows in the low colour.
LEVEL_COLOURS: Final = {"rest": "green", "low": "yellow", "medium": "orange", "high": "red"}
LEVEL_STEPS: Final = (("rest", None), ("low", 25), ("medium", 50), ("high", 75))
NORMAL_RANGE_SD: Final = 0.75  # docs/indicators.md: the nightly normal range is mean ± 0.75 SD
_PERSON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # docs/topics.md: a person id
_DASHBOARD_NAMES: Final = ("today", "nights", "trends")


def datasource_uid(person: str) -> str:
    """The uid of a person's InfluxDB data source (also its name)."""
    return f"vagus-{_check_person(person)}"


def _check_person(person: str) -> str:
    if not isinstance(person, str) or not _PERSON.match(person):
        raise ValueError(f"not a person id (1–64 letters, digits, - or _): {person!r}")
    return person


# -- panels -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """One raw InfluxQL target. ``$timeFilter``, ``$__interval`` are Grafana's macros."""

    ref_id: str
    influxql: str
    alias: str = ""
    result_format: str = "time_series"

    def target(self, datasource: Mapping[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "datasource": dict(datasource),
            "refId": self.ref_id,
            "rawQuery": True,
            "query": self.influxql,
            "resultFormat": self.result_format,
        }
        if self.alias:
            out["alias"] = self.alias
        return out


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel in a 24-column grid: position (x, y), size (w, h) in grid units."""

    title: str
    kind: str  # timeseries, stat, state-timeline, barchart
    queries: tuple[Query, ...]
    grid: tuple[int, int, int, int]
    description: str = ""
    field_config: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    time_from: str = ""  # a panel-level relative range ("60d"), overriding the dashboard's

    def render(self, panel_id: int, datasource: Mapping[str, str]) -> dict[str, Any]:
        x, y, w, h = self.grid
        out: dict[str, Any] = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": dict(datasource),
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "targets": [q.target(datasource) for q in self.queries],
            "fieldConfig": {"defaults": dict(self.field_config.get("defaults", {})), "overrides": []},
            "options": dict(self.options),
        }
        out["fieldConfig"]["overrides"] = list(self.field_config.get("overrides", []))
        if self.time_from:
            out["timeFrom"] = self.time_from
        return out


def _where(*conditions: str) -> str:
    return " AND ".join(("$timeFilter", f"\"window\" = '{WINDOW}'", *conditions))


def _thresholds(steps: Iterable[tuple[str, float | None]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": colour, "value": value} for colour, value in steps]}


def _level_thresholds() -> dict[str, Any]:
    return _thresholds((LEVEL_COLOURS[level], value) for level, value in LEVEL_STEPS)


def _code_mappings(codes: Mapping[str, int], colours: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Value mappings that show an integer ``*_code`` field as its word (docs/topics.md)."""
    options = {}
    for word, code in codes.items():
        text: dict[str, Any] = {"text": word.replace("_", " "), "index": code - 1}
        if colours and word in colours:
            text["color"] = colours[word]
        options[str(code)] = text
    return [{"type": "value", "options": options}]


def _override(name: str, **properties: Any) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


_TIMESERIES_LINE: Final = {"drawStyle": "line", "lineWidth": 1, "spanNulls": False, "showPoints": "never"}
_BARS: Final = {"drawStyle": "bars", "fillOpacity": 80, "lineWidth": 1, "showPoints": "never"}
_STAT: Final = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"}
_LEGEND: Final = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
_LINK_COLOURS: Final = {
    "scanning": "blue",
    "connecting": "blue",
    "streaming": "green",
    "backoff": "orange",
    "stopped": "red",
}


def _today() -> list[Panel]:
    stress = Query(
        "A",
        f'SELECT mean("stress_score") AS "stress" FROM "{INDICATORS}" WHERE {_where()} '
        "GROUP BY time($__interval) fill(null)",
    )
    return [
        Panel(
            "Stress now",
            "stat",
            (Query("A", f'SELECT last("stress_score") AS "stress" FROM "{INDICATORS}" WHERE {_where()}'),),
            (0, 0, 4, 8),
            "The latest stress score (0–100) of a 60-s window; rest ≤ 25 < low ≤ 50 < medium ≤ 75 < high.",
            {"defaults": {"min": 0, "max": 100, "decimals": 0, "thresholds": _level_thresholds()}},
            _STAT,
        ),
        Panel(
            "Stress",
            "timeseries",
            (stress,),
            (4, 0, 20, 8),
            "Stress score of the 60-s windows, coloured by level. Gaps: the score was withheld (moving, "
            "poor signal, not worn). Markers: nudges and check-ins.",
            {
                "defaults": {
                    "min": 0,
                    "max": 100,
                    "color": {"mode": "thresholds"},
                    "thresholds": _level_thresholds(),
                    "custom": {
                        **_TIMESERIES_LINE,
                        "gradientMode": "scheme",
                        "fillOpacity": 20,
                        "thresholdsStyle": {"mode": "dashed"},
                    },
                }
            },
            _LEGEND,
        ),
        Panel(
            "Stress level",
            "state-timeline",
            (
                Query(
                    "A",
                    f'SELECT max("stress_level_code") AS "level" FROM "{INDICATORS}" WHERE {_where()} '
                    "GROUP BY time($__interval) fill(null)",
                ),
            ),
            (0, 8, 24, 4),
            "The highest level in each interval.",
            {"defaults": {"mappings": _code_mappings(STRESS_LEVEL_CODES, LEVEL_COLOURS), "color": {"mode": "fixed"}}},
            {"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
        ),
        Panel(
            "Heart rate and RMSSD",
            "timeseries",
            (
                Query(
                    "A",
                    f'SELECT mean("hr_bpm") AS "heart rate", mean("rmssd_ms") AS "RMSSD" FROM "{INDICATORS}" '
                    f"WHERE {_where()} GROUP BY time($__interval) fill(null)",
                ),
            ),
            (0, 12, 16, 9),
            "Mean heart rate (bpm, left) and RMSSD (ms, right) of the 60-s windows.",
            {
                "defaults": {"unit": "bpm", "custom": dict(_TIMESERIES_LINE)},
                "overrides": [_override("RMSSD", unit="ms", **{"custom.axisPlacement": "right"})],
            },
            _LEGEND,
        ),
        Panel(
            "Breathing rate",
            "timeseries",
            (
                Query(
                    "A",
                    f'SELECT mean("breathing_rate_brpm") AS "breathing rate" FROM "{INDICATORS}" '
                    f"WHERE {_where()} GROUP BY time($__interval) fill(null)",
                ),
            ),
            (16, 12, 8, 9),
            "Breaths per minute estimated from the heartbeats (respiratory sinus arrhythmia).",
            {"defaults": {"unit": "none", "min": 0, "custom": dict(_TIMESERIES_LINE)}},
            _LEGEND,
        ),
        Panel(
            "Wearable link",
            "state-timeline",
            (
                Query(
                    "A",
                    f'SELECT last("link_state_code") AS "link" FROM "{DEVICE_STATUS_MEASUREMENT}" '
                    'WHERE $timeFilter GROUP BY time($__interval), "device" fill(previous)',
                    alias="$tag_device",
                ),
            ),
            (0, 21, 18, 5),
            "Each wearable's link as the agent reports it: streaming, scanning, connecting, backoff, stopped.",
            {"defaults": {"mappings": _code_mappings(LINK_STATE_CODES, _LINK_COLOURS), "color": {"mode": "fixed"}}},
            {"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
        ),
        Panel(
            "Battery",
            "stat",
            (
                Query(
                    "A",
                    f'SELECT last("battery_pct") AS "battery" FROM "{DEVICE_STATUS_MEASUREMENT}" '
                    'WHERE $timeFilter GROUP BY "device"',
                    alias="$tag_device",
                ),
            ),
            (18, 21, 6, 5),
            "Each wearable's last reported battery level.",
            {
                "defaults": {
                    "unit": "percent",
                    "min": 0,
                    "max": 100,
                    "thresholds": _thresholds((("red", None), ("orange", 15), ("green", 30))),
                }
            },
            _STAT,
        ),
    ]


def _nights() -> list[Panel]:
    # One point per night, at its onset, from the agent's own sleep detection (vagus.signal.sleep,
    # the `night` topic): the dashboard shows what the agent found rather than guessing it again.
    night = f'FROM "{NIGHT_MEASUREMENT}" WHERE $timeFilter'
    nightly = f'SELECT "ln_rmssd" AS "night" {night}'
    return [
        Panel(
            "Sleep periods",
            "table",
            (
                Query(
                    "A",
                    f'SELECT "asleep_min" AS "asleep (min)", "in_bed_min" AS "onset to wake (min)", '
                    f'"lowest_hr_bpm" AS "lowest HR", "mean_hr_bpm" AS "mean HR", "rmssd_ms" AS "RMSSD (ms)", '
                    f'"recovery_code" AS "recovery" {night}',
                    result_format="table",
                ),
            ),
            (0, 0, 24, 4),
            "Each sleep period the agent found: its onset (time), minutes asleep and from onset to wake, the "
            "sleeping heart rate, the nocturnal RMSSD, and how it compares with your nightly normal range.",
            {
                "defaults": {"decimals": 0},
                "overrides": [
                    _override(
                        "recovery", mappings=_code_mappings(RECOVERY_CODES, {"below": "orange", "normal": "green"})
                    )
                ],
            },
            {"showHeader": True, "sortBy": [{"displayName": "Time", "desc": True}]},
        ),
        Panel(
            "Heart rate through the night",
            "timeseries",
            (
                Query(
                    "A",
                    f'SELECT mean("hr_bpm") AS "heart rate" FROM "{INDICATORS}" WHERE {_where()} '
                    "GROUP BY time($__interval) fill(null)",
                ),
            ),
            (0, 4, 16, 9),
            "Heart rate of the 60-s windows; the sleep periods are in the table above.",
            {"defaults": {"unit": "bpm", "custom": dict(_TIMESERIES_LINE)}},
            _LEGEND,
        ),
        Panel(
            "Sleeping heart rate",
            "stat",
            (Query("A", f'SELECT last("lowest_hr_bpm") AS "sleeping HR" {night}'),),
            (16, 4, 4, 5),
            "The last night's lowest heart rate (the lowest 5-minute mean, docs/indicators.md).",
            {"defaults": {"unit": "bpm", "decimals": 0, "thresholds": _thresholds((("blue", None),))}},
            _STAT,
        ),
        Panel(
            "Time asleep",
            "stat",
            (Query("A", f'SELECT last("asleep_min") AS "asleep" {night}'),),
            (20, 4, 4, 5),
            "The last night's minutes asleep.",
            {"defaults": {"unit": "m", "thresholds": _thresholds((("purple", None),))}},
            _STAT,
        ),
        Panel(
            "Nocturnal RMSSD",
            "stat",
            (Query("A", f'SELECT last("rmssd_ms") AS "nocturnal RMSSD" {night}'),),
            (16, 9, 8, 4),
            "The last night's RMSSD while asleep (exp of the mean ln RMSSD, as vagus.signal.sleep computes it).",
            {"defaults": {"unit": "ms", "decimals": 0, "thresholds": _thresholds((("blue", None),))}},
            _STAT,
        ),
        Panel(
            "Nightly ln RMSSD",
            "timeseries",
            (Query("A", nightly),),
            (0, 13, 16, 8),
            "Each night's ln RMSSD while asleep over the last 60 days.",
            {"defaults": {"unit": "none", "decimals": 2, "custom": {**_TIMESERIES_LINE, "showPoints": "always"}}},
            _LEGEND,
            time_from="60d",
        ),
        Panel(
            "Last night against your normal range",
            "stat",
            (
                Query("A", f'SELECT last("night") AS "last night" FROM ({nightly}) WHERE $timeFilter'),
                Query(
                    "B",
                    f'SELECT mean("night") - {NORMAL_RANGE_SD} * stddev("night") AS "normal low", mean("night") + '
                    f'{NORMAL_RANGE_SD} * stddev("night") AS "normal high" FROM ({nightly}) WHERE $timeFilter',
                ),
            ),
            (16, 13, 8, 8),
            f"The last night's ln RMSSD beside your nightly normal range, the 60-day mean ± {NORMAL_RANGE_SD} SD "
            "(docs/indicators.md). Below the range: less recovered than usual.",
            {"defaults": {"unit": "none", "decimals": 2, "thresholds": _thresholds((("blue", None),))}},
            {**_STAT, "textMode": "value_and_name"},
            time_from="60d",
        ),
    ]


def _trends() -> list[Panel]:
    daily_ln = (
        f'SELECT mean("ln_rmssd") AS "m" FROM (SELECT ln("rmssd_ms") AS "ln_rmssd" FROM "{INDICATORS}" '
        f"WHERE {_where()}) WHERE $timeFilter GROUP BY time(1d) fill(none)"
    )
    rolling = f'SELECT moving_average("m", 7) AS "a", moving_average("m2", 7) AS "a2" FROM (SELECT "m", "m" * "m" AS "m2" FROM ({daily_ln}))'  # noqa: E501
    band = (
        f'SELECT "a" - {NORMAL_RANGE_SD} * sqrt(abs("a2" - "a" * "a")) AS "normal low", "a" AS "7-day mean", '
        f'"a" + {NORMAL_RANGE_SD} * sqrt(abs("a2" - "a" * "a")) AS "normal high" FROM ({rolling})'
    )
    medium = STRESS_LEVEL_CODES["medium"]
    stressed = _where(f'"stress_level_code" >= {medium}')
    stress_minutes = (
        f'SELECT count("level") AS "stressed minutes" FROM (SELECT max("stress_level_code") AS "level" '
        f'FROM "{INDICATORS}" WHERE {stressed} GROUP BY time(1m)) WHERE $timeFilter GROUP BY time(1d) fill(0)'
    )
    nudges = tuple(
        Query(
            chr(ord("A") + i),
            f'SELECT sum("count") AS "{word.replace("_", " ")}" FROM "{NUDGE_MEASUREMENT}" '
            f'WHERE $timeFilter AND "nudge_code" = {code} GROUP BY time(1d) fill(0)',
        )
        for i, (word, code) in enumerate(NUDGE_CODES.items())
    )
    answers = tuple(
        Query(
            chr(ord("A") + i),
            f'SELECT sum("count") AS "{word.replace("_", " ")}" FROM "{CHECKIN_MEASUREMENT}" '
            f'WHERE $timeFilter AND "answer_code" = {code} GROUP BY time(1d) fill(0)',
        )
        for i, (word, code) in enumerate(CHECKIN_ANSWER_CODES.items())
    )
    bars = {"defaults": {"unit": "none", "min": 0, "decimals": 0, "custom": {**_BARS, "stacking": {"mode": "normal"}}}}
    return [
        Panel(
            "Resting heart rate",
            "timeseries",
            (
                Query(
                    "A",
                    f'SELECT percentile("hr_bpm", 5) AS "resting HR" FROM "{INDICATORS}" WHERE {_where()} '
                    "GROUP BY time(1d) fill(none)",
                ),
            ),
            (0, 0, 12, 9),
            "Each day's 5th percentile of heart rate over its 60-s windows. (The agent's baseline takes calm "
            "awake minutes only, a choice InfluxQL cannot make by hour of day.)",
            {"defaults": {"unit": "bpm", "decimals": 0, "custom": {**_TIMESERIES_LINE, "showPoints": "always"}}},
            _LEGEND,
        ),
        Panel(
            "ln RMSSD and your normal range",
            "timeseries",
            (Query("A", f'SELECT "m" AS "ln RMSSD" FROM ({daily_ln})'), Query("B", band)),
            (12, 0, 12, 9),
            f"Each day's mean ln RMSSD, with the 7-day mean ± {NORMAL_RANGE_SD} SD of the daily values (shown "
            "once 7 days are known). ln because RMSSD is log-normal (Plews et al. 2012).",
            {
                "defaults": {"unit": "none", "decimals": 2, "custom": {**_TIMESERIES_LINE, "showPoints": "always"}},
                "overrides": [
                    _override("normal low", **{"custom.lineStyle": {"fill": "dash", "dash": [6, 4]}}),
                    _override("normal high", **{"custom.lineStyle": {"fill": "dash", "dash": [6, 4]}}),
                ],
            },
            _LEGEND,
        ),
        Panel(
            "Stress minutes per day",
            "timeseries",
            (Query("A", stress_minutes),),
            (0, 9, 8, 9),
            "Minutes with a medium or high stress level.",
            {
                "defaults": {
                    "unit": "m",
                    "min": 0,
                    "custom": dict(_BARS),
                    "color": {"mode": "fixed", "fixedColor": "orange"},
                }
            },
            _LEGEND,
        ),
        Panel("Nudges per day", "timeseries", nudges, (8, 9, 8, 9), "Nudges the agent sent, by kind.", bars, _LEGEND),
        Panel(
            "Check-in answers per day",
            "timeseries",
            answers,
            (16, 9, 8, 9),
            "Your answers to nudges and your own check-ins: stressed, not stressed, need help, snooze.",
            bars,
            _LEGEND,
        ),
    ]


def _annotations(datasource: Mapping[str, str]) -> list[dict[str, Any]]:
    """Nudges and check-ins as markers, one query per kind (the words stay out of the database)."""
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    out = [builtin]
    nudge_colours = {"slow_breathing": "blue", "check_in": "purple", "support": "red", "weekly_summary": "green"}
    answer_colours = {"stressed": "orange", "not_stressed": "green", "need_help": "red", "snooze": "gray"}
    # A weekly summary is about no moment's score: its marker shows the count, which every nudge has.
    kinds = [
        (
            f"Nudge: {w.replace('_', ' ')}",
            NUDGE_MEASUREMENT,
            "nudge_code",
            c,
            nudge_colours[w],
            "count" if w == "weekly_summary" else "stress_score",
        )
        for w, c in NUDGE_CODES.items()
    ] + [
        (f"Check-in: {w.replace('_', ' ')}", CHECKIN_MEASUREMENT, "answer_code", c, answer_colours[w], "answer_code")
        for w, c in CHECKIN_ANSWER_CODES.items()
    ]
    for i, (name, measurement, code_field, code, colour, text_field) in enumerate(kinds):
        out.append(
            {
                "name": name,
                "enable": True,
                "hide": False,
                "iconColor": colour,
                "datasource": dict(datasource),
                "target": {
                    "refId": f"Anno{i}",
                    "rawQuery": True,
                    "fromAnnotations": True,
                    "query": f'SELECT "{text_field}" FROM "{measurement}" WHERE $timeFilter AND "{code_field}" = '
                    f"{code}",
                    "textColumn": text_field,
                },
            }
        )
    return out


_SPECS: Final[dict[str, tuple[str, Callable[[], list[Panel]], dict[str, str], str]]] = {
    # name: (title, panels, default time range, refresh)
    "today": ("Today", _today, {"from": "now/d", "to": "now/d"}, "1m"),
    "nights": ("Nights", _nights, {"from": "now-1d/d+20h", "to": "now/d+12h"}, ""),
    "trends": ("Trends", _trends, {"from": "now-8w", "to": "now"}, ""),
}


def _dashboard(name: str, person: str) -> dict[str, Any]:
    title, panels_of, time_range, refresh = _SPECS[name]
    datasource = {"type": DATASOURCE_TYPE, "uid": datasource_uid(person)}
    panels = [panel.render(i, datasource) for i, panel in enumerate(panels_of(), start=1)]
    return {
        "uid": f"vagus-{person}-{name}"[:40],  # Grafana limits a uid to 40 characters
        "title": f"{title} · {person}",
        "tags": ["vagus"],
        "description": f"vagus: {title.lower()} for {person} (generated by python -m vagus.grafana; do not edit)",
        "editable": False,
        "graphTooltip": 1,  # a shared crosshair: the same moment across panels
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": dict(time_range),
        "timezone": "browser",
        "refresh": refresh,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "templating": {"list": []},
        "annotations": {"list": _annotations(datasource) if name == "today" else _annotations(datasource)[:1]},
        "links": [
            {
                "title": "vagus",
                "type": "dashboards",
                "tags": ["vagus"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
                "targetBlank": False,
                "icon": "external link",
                "tooltip": "",
                "url": "",
            }
        ],
        "panels": panels,
    }


def dashboards(person: str = "me") -> dict[str, dict[str, Any]]:
    """File name → dashboard JSON (a dict) of a person's Today, Nights and Trends, reading the data
    source ``datasource_uid(person)``."""
    _check_person(person)
    return {f"{name}.json": _dashboard(name, person) for name in _DASHBOARD_NAMES}


# -- provisioning ----------------------------------------------------------------------------------


def _token_env(person: str) -> str:
    return "VAGUS_GRAFANA_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", person.upper())


def _header(what: str) -> str:
    return (
        f"# {what}: generated by `python -m vagus.grafana` for Grafana OSS {GRAFANA_VERSION}; do not edit.\n"
        "# YAML in JSON syntax (YAML 1.2 is a superset of JSON).\n"
    )


def _yaml(what: str, document: Mapping[str, Any]) -> str:
    return _header(what) + json.dumps(document, indent=2, ensure_ascii=False) + "\n"


NO_DATA_FOR: Final = "2h"  # "no data from my wearable for 2 hours"


def _alert_rules(person: str, folder: str, datasource: str) -> dict[str, Any]:
    """The rule group of one person: no summaries for 2 h; the wearable reports a low battery."""

    def query(ref: str, influxql: str, seconds: int) -> dict[str, Any]:
        return {
            "refId": ref,
            "relativeTimeRange": {"from": seconds, "to": 0},
            "datasourceUid": datasource,
            "model": {
                "refId": ref,
                "rawQuery": True,
                "query": influxql,
                "resultFormat": "time_series",
                "intervalMs": 60_000,
                "maxDataPoints": 43_200,
            },
        }

    def reduce(ref: str, source: str, reducer: str) -> dict[str, Any]:
        return {
            "refId": ref,
            "relativeTimeRange": {"from": 0, "to": 0},
            "datasourceUid": "__expr__",
            "model": {
                "refId": ref,
                "type": "reduce",
                "expression": source,
                "reducer": reducer,
                "datasource": {"type": "__expr__", "uid": "__expr__"},
            },
        }

    def threshold(ref: str, source: str, kind: str, value: float) -> dict[str, Any]:
        return {
            "refId": ref,
            "relativeTimeRange": {"from": 0, "to": 0},
            "datasourceUid": "__expr__",
            "model": {
                "refId": ref,
                "type": "threshold",
                "expression": source,
                "conditions": [{"evaluator": {"type": kind, "params": [value]}}],
                "datasource": {"type": "__expr__", "uid": "__expr__"},
            },
        }

    labels = {"person": person, "app": "vagus"}
    return {
        "orgId": 1,
        "name": f"vagus-{person}",
        "folder": folder,
        "interval": "5m",
        "rules": [
            {
                "uid": f"vagus-{person}-no-data"[:40],
                "title": f"No data from {person}'s wearable for {NO_DATA_FOR}",
                "condition": "C",
                "data": [
                    # No template variables here: Grafana does not allow them in alert queries.
                    query("A", f'SELECT count("hr_bpm") FROM "{INDICATORS}" WHERE $timeFilter', 2 * 3600),
                    reduce("B", "A", "sum"),
                    threshold("C", "B", "lt", 1),
                ],
                # Nothing in 2 h returns no series at all: that is the alert, not a missing value.
                "noDataState": "Alerting",
                "execErrState": "KeepLast",  # a transient InfluxDB error keeps the state (Grafana docs)
                "for": "0s",
                "annotations": {
                    "summary": f"No heart data from {person}'s wearable has reached the database for {NO_DATA_FOR}.",
                    "description": "Is the strap worn and charged, the agent running, the broker and bridge up? "
                    "The Today dashboard's 'Wearable link' panel shows the last link state.",
                },
                "labels": labels,
                "isPaused": False,
            },
            {
                "uid": f"vagus-{person}-battery"[:40],
                "title": f"{person}'s wearable battery low",
                "condition": "C",
                "data": [
                    query(
                        "A",
                        f'SELECT last("battery_pct") FROM "{DEVICE_STATUS_MEASUREMENT}" WHERE $timeFilter '
                        'GROUP BY "device"',
                        6 * 3600,
                    ),
                    reduce("B", "A", "last"),
                    threshold("C", "B", "lt", 15),
                ],
                "noDataState": "OK",  # a device that reports no battery is not an alarm
                "execErrState": "KeepLast",
                "for": "10m",
                "annotations": {"summary": f"A wearable of {person} reports a battery under 15 %: charge it."},
                "labels": labels,
                "isPaused": False,
            },
        ],
    }


def provisioning_files(
    people: Sequence[str],
    *,
    influx_url: str,
    database_for: Callable[[str], str] = lambda p: f"vagus-{p}",
    token_env_for: Callable[[str], str] = _token_env,
    alert_email_for: Callable[[str], str] = lambda p: f"{p}@example.invalid",
    dashboards_path: str = "/var/lib/grafana/dashboards",
) -> dict[str, str]:
    """Relative path → file text of Grafana's provisioning for ``people``:

    - ``provisioning/datasources/vagus.yaml``: one InfluxQL data source per person, uid
      ``vagus-<person>``, reading ``database_for(person)`` (a 2.x bucket through its DBRP mapping) with
      the token in the environment variable ``token_env_for(person)`` (Grafana expands ``${VAR}``);
    - ``provisioning/dashboards/vagus.yaml``: one file provider per person, into the folder
      ``vagus · <person>``, reading ``<dashboards_path>/<person>``;
    - ``provisioning/alerting/vagus.yaml``: an e-mail contact point per person
      (``alert_email_for(person)``; the default ``*.example.invalid`` is never delivered), a policy
      routing each person's alerts to it by the ``person`` label, and the rules of ``_alert_rules``;
    - ``json/<person>/{today,nights,trends}.json``: the dashboards of ``dashboards(person)``.

    Grafana OSS lets every member of an organisation query every data source in it (data source
    permissions are an Enterprise feature), so separate data sources and folders keep one person's
    dashboards apart from another's, and a token scoped to one bucket keeps the data apart at the
    database; people who must not be able to read each other's data need separate Grafana
    organisations or servers (docs/dashboards.md).
    """
    people = list(people)
    if not people:
        raise ValueError("provisioning needs at least one person")
    for person in people:
        _check_person(person)
    if len(set(people)) != len(people):
        raise ValueError(f"people must be unique: {people}")
    if not re.match(r"^https?://[^\s/]+", influx_url):
        raise ValueError(f"influx_url must be an http(s) URL, got {influx_url!r}")
    datasources, providers, contact_points, routes, groups = [], [], [], [], []
    files: dict[str, str] = {}
    for person in people:
        uid = datasource_uid(person)
        env = token_env_for(person)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", env):
            raise ValueError(f"not an environment variable name: {env!r}")
        folder = f"vagus · {person}"
        datasources.append(
            {
                "name": uid,
                "uid": uid,
                "type": DATASOURCE_TYPE,
                "access": "proxy",
                "orgId": 1,
                "url": influx_url,
                "isDefault": len(people) == 1,
                "editable": False,
                "jsonData": {
                    "dbName": database_for(person),
                    "httpMode": "POST",
                    "httpHeaderName1": "Authorization",
                    "timeInterval": "10s",
                },
                "secureJsonData": {"httpHeaderValue1": f"Token ${{{env}}}"},
            }
        )
        providers.append(
            {
                "name": uid,
                "orgId": 1,
                # A folder by title only: alerting (provisioned first) and dashboards then share it.
                "folder": folder,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": f"{dashboards_path.rstrip('/')}/{person}", "foldersFromFilesStructure": False},
            }
        )
        contact_points.append(
            {
                "orgId": 1,
                "name": uid,
                "receivers": [
                    {
                        "uid": f"{uid}-email"[:40],
                        "type": "email",
                        "settings": {"addresses": alert_email_for(person), "singleEmail": True},
                        "disableResolveMessage": False,
                    }
                ],
            }
        )
        routes.append({"receiver": uid, "object_matchers": [["person", "=", person]], "continue": False})
        groups.append(_alert_rules(person, folder, uid))
        for name, dashboard in dashboards(person).items():
            files[f"json/{person}/{name}"] = json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"
    policy = {
        "orgId": 1,
        "receiver": datasource_uid(people[0]),
        "group_by": ["grafana_folder", "alertname", "person"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "12h",
        "routes": routes,
    }
    files["provisioning/datasources/vagus.yaml"] = _yaml(
        "InfluxDB data sources, one per person", {"apiVersion": 1, "datasources": datasources}
    )
    files["provisioning/dashboards/vagus.yaml"] = _yaml(
        "dashboard providers, one folder per person", {"apiVersion": 1, "providers": providers}
    )
    files["provisioning/alerting/vagus.yaml"] = _yaml(
        "alerting: contact points, notification policy, rules",
        {"apiVersion": 1, "contactPoints": contact_points, "policies": [policy], "groups": groups},
    )
    return dict(sorted(files.items()))


DEFAULT_PEOPLE: Final = ("me",)
DEFAULT_INFLUX_URL: Final = "http://influxdb:8086"  # the InfluxDB service of docker-compose.yml


def write(root: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` under ``root``; the paths written."""
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vagus.grafana", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", metavar="DIR", type=Path, help="write the files under DIR (e.g. dashboards/)")
    parser.add_argument("--person", action="append", help=f"a person id (repeatable; default {DEFAULT_PEOPLE[0]})")
    parser.add_argument("--influx-url", default=DEFAULT_INFLUX_URL, help="InfluxDB as Grafana reaches it")
    args = parser.parse_args(argv)
    try:
        files = provisioning_files(args.person or DEFAULT_PEOPLE, influx_url=args.influx_url)
    except ValueError as exc:
        parser.error(str(exc))
    if args.write is None:
        for relative in files:
            print(relative)
        return 0
    for path in write(args.write, files):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
