"""The Grafana dashboards and provisioning (vagus.grafana) against a real InfluxQL engine.

A simulated day runs through the real agent on the simulator (the built-in ``day`` scenario, as in
tests/test_report.py); its indicator records become schema messages (``summary_from_mapping``), and
these, with nudges, check-ins and device statuses, become line protocol through the bridge's own
``vagus.sync.points``, written to Debian's influxd 1.6.7 through ``/write``. Every panel, annotation
and alert query then runs with Grafana's macros expanded the way Grafana's backend does
(pkg/tsdb/influxdb/models/query.go: ``$timeFilter`` → ``time >= <from>ms and time <= <to>ms``,
``$__interval`` → gtime.FormatInterval, ``$__interval_ms``) and must return the columns it names,
with values.

The nights are those the agent's own sleep detection found (the store's ``nights`` table), sent as
the agent sends them (``night`` messages, vagus.agent_sync). One stand-in, said where it is made: the
Trends panels and the nightly normal range need weeks, so earlier days (and nights) are the simulated
day shifted back a day at a time, thinned, with HR and RMSSD scaled per day.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
from pathlib import Path

import msgspec
import pytest

from tests.conftest import ROOT
from tests.simulated_day import simulate_day
from vagus import grafana
from vagus.signal.baseline import PersonalBaseline
from vagus.signal.sleep import recovery_of
from vagus.sync import points
from vagus.sync.schema import (
    CHECKIN_ANSWER_CODES,
    INDICATOR_FIELDS,
    LINK_STATE_CODES,
    NUDGE_CODES,
    Checkin,
    DeviceStatus,
    Night,
    Nudge,
    Summary,
    decode,
    encode,
    summary_from_mapping,
)

pytest_plugins = ("tests.influx1",)
pytestmark = pytest.mark.timeout(300)

PERSON = "me"
DB = "vagus-me"
SIMULATED_H = 16.0  # 22:00 → 14:00: evening, night, stress, breathing break, run
EARLIER_DAYS = 9  # enough for the 7-day moving average of the Trends panel
STREAM = "0123456789abcdef"
DAY_MS = 86_400_000
COMMITTED = ROOT / "dashboards"


# -- a simulated day in InfluxDB ---------------------------------------------------------------------------


def _summaries(path: Path) -> tuple[list[Summary], list[Night]]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    stored = [dict(row) for row in db.execute("SELECT * FROM nights ORDER BY onset_utc_s")]
    rows = [dict(row) for row in db.execute("SELECT * FROM indicators ORDER BY t_end_utc_s")]
    db.close()
    out = [
        summary_from_mapping(row, person=PERSON, device="d-0123456789abcdef", stream=STREAM, seq=seq, settled_below=1)
        for seq, row in enumerate(rows, start=1)
    ]
    nights = [
        Night(
            person=PERSON,
            stream=STREAM,
            seq=len(rows) + i,
            settled_below=1,
            onset_utc_ms=round(n["onset_utc_s"] * 1000),
            wake_utc_ms=round(n["wake_utc_s"] * 1000),
            **{k: n[k] for k in ("asleep_min", "lowest_hr_bpm", "mean_hr_bpm", "rmssd_ms", "recovery", "recovery_sd")},
        )
        for i, n in enumerate(stored, start=1)
    ]
    return out, nights


def _against(night: Night, history: list[Night]) -> Night:
    """``night`` with the recovery the agent would have given it after the ``history`` nights (the
    simulated person is new, so its own night had no normal range yet)."""
    baseline = PersonalBaseline()
    for n in history:
        baseline.observe_sleep(str(n.wake_utc_ms // DAY_MS), n.rmssd_ms)
    baseline.close_day()
    recovery, distance = recovery_of(math.log(night.rmssd_ms), baseline.night_range())
    assert recovery is not None, "the stand-in history gave no normal range"
    return msgspec.structs.replace(night, recovery=recovery, recovery_sd=distance)


def _earlier_night(night: Night, days_back: int) -> Night:
    """The simulated night ``days_back`` days earlier, its RMSSD scaled as that day's (_earlier_day)."""
    rmssd_scale = 1.0 + 0.15 * math.cos(1.7 * days_back)
    shift = days_back * DAY_MS
    return msgspec.structs.replace(
        night,
        onset_utc_ms=night.onset_utc_ms - shift,
        wake_utc_ms=night.wake_utc_ms - shift,
        rmssd_ms=None if night.rmssd_ms is None else night.rmssd_ms * rmssd_scale,
    )


def _earlier_day(summaries: list[Summary], days_back: int) -> list[Summary]:
    """The simulated day ``days_back`` days earlier, every 6th window, HR and RMSSD scaled for that day."""
    hr_scale = 1.0 + 0.03 * math.sin(days_back)
    rmssd_scale = 1.0 + 0.15 * math.cos(1.7 * days_back)
    out = []
    for s in summaries[::6]:
        changes: dict[str, object] = {"t_end_utc_ms": s.t_end_utc_ms - days_back * DAY_MS}
        if s.hr_bpm is not None:
            changes["hr_bpm"] = s.hr_bpm * hr_scale
        if s.rmssd_ms is not None:
            changes["rmssd_ms"] = s.rmssd_ms * rmssd_scale
        out.append(msgspec.structs.replace(s, **changes))
    return out


def _events(t0_ms: int, seq0: int) -> list[Nudge | Checkin | DeviceStatus]:
    """Nudges during the 10:30 stress episode, answers to them, and the strap's link and battery."""
    hour = 3_600_000
    seq = iter(range(seq0, seq0 + 1000))
    messages: list[Nudge | Checkin | DeviceStatus] = []
    kinds = ((12.6, "slow_breathing"), (12.75, "check_in"), (12.9, "support"), (13.5, "weekly_summary"))
    for i, (h, kind) in enumerate(kinds):
        breathing = {"rate_brpm": 6.0, "inhale_s": 4.0, "exhale_s": 6.0, "duration_s": 120.0}
        messages.append(
            Nudge(
                person=PERSON,
                stream=STREAM,
                seq=next(seq),
                settled_below=1,
                t_utc_ms=t0_ms + int(h * hour),
                nudge_id=f"n{i}",
                nudge=kind,
                text="Want a 2-minute breathing break?",
                stress_score=None if kind == "weekly_summary" else 70.0,  # a week has no moment's score
                **(breathing if kind == "slow_breathing" else {}),
            )
        )
    for i, (h, answer) in enumerate(zip((12.65, 12.8, 12.95, 13.1), CHECKIN_ANSWER_CODES, strict=True)):
        messages.append(
            Checkin(
                person=PERSON,
                t_utc_ms=t0_ms + int(h * hour),
                checkin_id=f"c{i}",
                source="companion",
                answer=answer,
                self_stress_1to5=4,
                nudge_id="n0",
                snooze_minutes=30.0 if answer == "snooze" else None,
            )
        )
    states = ["scanning", "connecting", *["streaming"] * 40, "backoff", "connecting", *["streaming"] * 50]
    for i, state in enumerate(states):
        messages.append(
            DeviceStatus(
                person=PERSON,
                stream=STREAM,
                seq=next(seq),
                settled_below=1,
                device="d-0123456789abcdef",
                t_utc_ms=t0_ms + i * 600_000,
                battery_pct=max(5, 100 - i),
                link_state=state,
            )
        )
    return messages


def _lines(messages: list) -> list[str]:
    """Line protocol exactly as the bridge writes it: each message is encoded and decoded as on the
    wire, then turned into points by vagus.sync.points."""
    out = []
    for m in messages:
        wire = decode(_kind(m), encode(m))
        out += [p.line() for p in points.points_of(wire, received_utc_ms=0)]
    return out


def _kind(message: object) -> str:
    return {Summary: "summary", Nudge: "nudge", Checkin: "checkin", DeviceStatus: "device", Night: "night"}[
        type(message)
    ]


@pytest.fixture(scope="module")
def loaded(influx1, tmp_path_factory):
    """(influx, t0_ms, end_ms, night (onset_ms, wake_ms), every line written)."""
    path = tmp_path_factory.mktemp("dashboards") / "vagus.db"
    t0 = asyncio.run(simulate_day(path, SIMULATED_H))
    summaries, nights = _summaries(path)
    assert nights, "the agent's sleep detection found no night in the simulated day"
    earlier = [_earlier_night(n, days_back) for days_back in range(EARLIER_DAYS, 0, -1) for n in nights]
    nights = [_against(n, earlier) for n in nights]
    messages: list = [*summaries, *nights, *earlier]
    for days_back in range(1, EARLIER_DAYS + 1):
        messages += _earlier_day(summaries, days_back)
    t0_ms = round(t0 * 1000)
    messages += _events(t0_ms, len(summaries) + 1)
    lines = _lines(messages)
    influx1.create_database(DB)
    for i in range(0, len(lines), 5000):
        influx1.write(DB, "\n".join(lines[i : i + 5000]))
    end_ms = max(s.t_end_utc_ms for s in summaries)
    return influx1, t0_ms, end_ms, (nights[0].onset_utc_ms, nights[0].wake_utc_ms), lines


# -- Grafana's macros --------------------------------------------------------------------------------------


def format_interval(ms: int) -> str:
    """gtime.FormatInterval (grafana-plugin-sdk-go): the largest unit that fits, truncated."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{max(ms, 1)}ms"


def interval_ms(from_ms: int, to_ms: int, *, max_points: int = 1000, floor_ms: int = 10_000) -> int:
    """Grafana's auto interval: the range over the panel's data points, at least the data source's
    minimum interval (``timeInterval`` 10s), rounded to a round step."""
    raw = max((to_ms - from_ms) / max_points, floor_ms)
    steps = [10_000, 15_000, 30_000, 60_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 10_800_000, DAY_MS]
    return next((s for s in steps if raw <= s), DAY_MS)


def expand(query: str, from_ms: int, to_ms: int, variables: dict[str, str] | None = None) -> str:
    """A raw InfluxQL query as Grafana sends it (models/query.go Build, after template variables)."""
    for name, value in (variables or {}).items():
        query = query.replace(f"${{{name}}}", value).replace(f"${name}", value)
    step = interval_ms(from_ms, to_ms)
    query = query.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    query = query.replace("$interval", format_interval(step))
    query = query.replace("$__interval_ms", str(step)).replace("$__interval", format_interval(step))
    assert "$" not in query, f"an unexpanded macro or variable in {query!r}"
    return query


def _relative_ms(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([mhdw])", text).groups()
    return int(number) * {"m": 60_000, "h": 3_600_000, "d": DAY_MS, "w": 7 * DAY_MS}[unit]


def _ranges(t0_ms: int, end_ms: int, night: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """Each dashboard's range over the simulated data, as its default range would be on that day."""
    return {
        "today.json": (t0_ms + 2 * 3_600_000, end_ms),  # midnight → 14:00 of the simulated day
        "nights.json": (t0_ms, t0_ms + 14 * 3_600_000),  # 22:00 → 12:00
        "trends.json": (end_ms - 8 * 7 * DAY_MS, end_ms),
    }


# -- what a query names ---------------------------------------------------------------------------------


def _outer_select(query: str) -> str:
    """The outermost SELECT list: the text between the first SELECT and its top-level FROM."""
    depth, i = 0, len("SELECT ")
    while i < len(query):
        c = query[i]
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and query.startswith(" FROM ", i):
            return query[len("SELECT ") : i]
        i += 1
    raise AssertionError(f"no top-level FROM in {query!r}")


def _expected_columns(query: str) -> list[str]:
    select = _outer_select(query)
    aliases = re.findall(r'AS "([^"]+)"', select)
    if aliases:
        return ["time", *aliases]
    return ["time", *re.findall(r'^"([^"]+)"$', select.strip())] if select.strip().startswith('"') else ["time"]


def _series(answer: dict) -> list[dict]:
    return answer["results"][0].get("series", [])


def _panels():
    for file_name, dashboard in grafana.dashboards(PERSON).items():
        for panel in dashboard["panels"]:
            yield file_name, dashboard, panel


PANEL_TARGETS = [
    pytest.param(f, p, t, id=f"{d['title'].split(' ·')[0]}/{p['title']}/{t['refId']}")
    for f, d, p in _panels()
    for t in p["targets"]
]
ANNOTATIONS = [
    pytest.param(f, a, id=f"{d['title'].split(' ·')[0]}/{a['name']}")
    for f, d in grafana.dashboards(PERSON).items()
    for a in d["annotations"]["list"]
    if "target" in a
]


@pytest.mark.parametrize(("file_name", "panel", "target"), PANEL_TARGETS)
def test_every_panel_query_returns_the_columns_it_names_with_values(loaded, file_name, panel, target):
    influx, t0_ms, end_ms, night, _ = loaded
    from_ms, to_ms = _ranges(t0_ms, end_ms, night)[file_name]
    if "timeFrom" in panel:  # a panel's own relative range replaces the dashboard's: now-<timeFrom> → now
        from_ms = to_ms - _relative_ms(panel["timeFrom"])
    query = expand(target["query"], from_ms, to_ms)
    series = _series(influx.query(DB, query))
    assert series, f"no data for {query}"
    expected = _expected_columns(target["query"])
    for s in series:
        assert s["columns"] == expected, query
        assert s["values"], query
        for column in range(1, len(expected)):
            assert any(row[column] is not None for row in s["values"]), f"{expected[column]} is all null: {query}"
        for row in s["values"]:
            assert from_ms - 60 * DAY_MS <= row[0] <= to_ms, f"a time outside the range: {row[0]} in {query}"
    if "GROUP BY" in query and '"device"' in query.split("GROUP BY")[-1]:
        assert all(s.get("tags", {}).get("device") for s in series)


@pytest.mark.parametrize(("file_name", "annotation"), ANNOTATIONS)
def test_every_annotation_query_returns_its_text_column(loaded, file_name, annotation):
    influx, t0_ms, end_ms, night, _ = loaded
    from_ms, to_ms = _ranges(t0_ms, end_ms, night)[file_name]
    target = annotation["target"]
    series = _series(influx.query(DB, expand(target["query"], from_ms, to_ms)))
    assert series, annotation["name"]
    assert series[0]["columns"] == ["time", target["textColumn"]]
    assert all(from_ms <= row[0] <= to_ms for row in series[0]["values"])


def test_the_values_are_the_written_ones(loaded):
    """A spot check that the panels read what the bridge wrote, not merely something: the Today heart
    rate over the whole day equals the mean of the HR fields in the written lines."""
    influx, t0_ms, end_ms, _, lines = loaded
    from_ms = t0_ms + 2 * 3_600_000
    hr = [
        float(m.group(2))
        for line in lines
        if line.startswith("indicators,") and (m := re.search(r"(^|,| )hr_bpm=([^,\s]+)", line))
        if from_ms <= int(line.rsplit(" ", 1)[1]) <= end_ms
    ]
    answer = influx.query(
        DB,
        f'SELECT mean("hr_bpm") FROM "indicators" WHERE time >= {from_ms}ms and time <= {end_ms}ms',  # noqa: S608 — test's own integers
    )
    assert _series(answer)[0]["values"][0][1] == pytest.approx(sum(hr) / len(hr), rel=1e-9)


# -- alerting --------------------------------------------------------------------------------------------


def _provisioning(people=(PERSON,), **kwargs):
    files = grafana.provisioning_files(people, influx_url="http://influxdb:8086", **kwargs)
    return files, {path: _load_yaml(text) for path, text in files.items() if path.endswith(".yaml")}


def _load_yaml(text: str) -> dict:
    """The provisioning files are YAML in JSON syntax after their comment lines."""
    return json.loads("".join(line for line in text.splitlines(keepends=True) if not line.startswith("#")))


def _alert_queries():
    _, parsed = _provisioning()
    for group in parsed["provisioning/alerting/vagus.yaml"]["groups"]:
        for rule in group["rules"]:
            for data in rule["data"]:
                if data["datasourceUid"] != "__expr__":
                    yield rule, data


@pytest.mark.parametrize(("rule", "data"), list(_alert_queries()), ids=lambda v: v.get("uid", v.get("refId", "")))
def test_alert_queries_see_data_in_their_window_and_none_outside_it(loaded, rule, data):
    influx, _, end_ms, _, _ = loaded
    window_ms = data["relativeTimeRange"]["from"] * 1000
    query = data["model"]["query"]
    assert not re.search(r"\$(?!timeFilter)", query), "Grafana allows no template variables in alert queries"
    assert _series(influx.query(DB, expand(query, end_ms - window_ms, end_ms))), rule["title"]
    # Later than the last record: no series at all, which the no-data rule treats as firing.
    later = end_ms + 30 * DAY_MS
    assert not _series(influx.query(DB, expand(query, later - window_ms, later)))
    if rule["uid"].endswith("no-data"):
        assert rule["noDataState"] == "Alerting"
        assert data["relativeTimeRange"]["from"] == 2 * 3600


# -- structure ---------------------------------------------------------------------------------------------


def _schema() -> dict[str, tuple[set[str], set[str]]]:
    """measurement → (fields, tags) the bridge can write, from vagus.sync.points applied to a message of
    every kind with every optional value present."""
    s = dict.fromkeys(INDICATOR_FIELDS, 1.0)
    summary = Summary(
        person=PERSON,
        stream=STREAM,
        seq=1,
        settled_below=1,
        device="d-0123456789abcdef",
        window_nominal_s=60.0,
        t_end_utc_ms=1,
        window_s=60.0,
        n_beats=60,
        quality=1.0,
        stress_level="low",
        gate_reason="active",
        activity_state="sleep",
        **s,
    )
    messages = [
        summary,
        Nudge(
            person=PERSON,
            stream=STREAM,
            seq=2,
            settled_below=1,
            t_utc_ms=1,
            nudge_id="n",
            nudge="slow_breathing",
            text="t",
            stress_score=1.0,
            rate_brpm=6.0,
            inhale_s=4.0,
            exhale_s=6.0,
            duration_s=60.0,
        ),
        Checkin(
            person=PERSON,
            t_utc_ms=1,
            checkin_id="c",
            source="cli",
            answer="snooze",
            self_stress_1to5=3,
            snooze_minutes=5.0,
        ),
        DeviceStatus(
            person=PERSON,
            stream=STREAM,
            seq=3,
            settled_below=1,
            device="d-0123456789abcdef",
            t_utc_ms=1,
            battery_pct=50,
            link_state="streaming",
        ),
        Night(
            person=PERSON,
            stream=STREAM,
            seq=4,
            settled_below=1,
            onset_utc_ms=1,
            wake_utc_ms=8 * 3_600_000,
            asleep_min=420,
            lowest_hr_bpm=50.0,
            mean_hr_bpm=55.0,
            rmssd_ms=60.0,
            recovery="normal",
            recovery_sd=0.3,
        ),
    ]
    out: dict[str, tuple[set[str], set[str]]] = {}
    for m in messages:
        for p in points.points_of(m, received_utc_ms=1):
            fields, tags = out.setdefault(p.measurement, (set(), set()))
            fields.update(k for k, _ in p.fields)
            tags.update(k for k, _ in p.tags)
    return out


def _all_queries():
    for file_name, dashboard in grafana.dashboards(PERSON).items():
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                yield f"{file_name}/{panel['title']}", target["query"]
        for annotation in dashboard["annotations"]["list"]:
            if "target" in annotation:
                yield f"{file_name}/{annotation['name']}", annotation["target"]["query"]
    for rule, data in _alert_queries():
        yield f"alert/{rule['uid']}", data["model"]["query"]


def test_every_query_reads_measurements_fields_and_tags_the_bridge_writes():
    schema = _schema()
    assert {"indicators", "nudge", "checkin", "device_status"} <= set(schema), sorted(schema)
    problems = []
    for where, query in _all_queries():
        measurements = set(re.findall(r'FROM "([^"]+)"', query))
        aliases = set(re.findall(r'AS "([^"]+)"', query))
        missing = measurements - set(schema)
        if missing:
            problems.append(f"{where}: measurement(s) {sorted(missing)} are not written by the bridge")
            continue
        fields = set().union(*(schema[m][0] for m in measurements))
        tags = set().union(*(schema[m][1] for m in measurements))
        names = set(re.findall(r'"([^"]+)"', query)) - measurements - aliases
        unknown = names - fields - tags
        if unknown:
            problems.append(f"{where}: {sorted(unknown)} not among the fields/tags of {sorted(measurements)}")
    assert not problems, "\n".join(problems)


# InfluxDB 3's InfluxQL implements these (docs: influxdb3 reference/influxql/feature-support); the
# dashboards use nothing else, so they run on 1.8, 2.x and 3.x alike.
INFLUXDB3_FUNCTIONS = {
    "count",
    "distinct",
    "mean",
    "median",
    "mode",
    "spread",
    "stddev",
    "sum",
    "bottom",
    "first",
    "last",
    "max",
    "min",
    "percentile",
    "top",
    "abs",
    "ceil",
    "cumulative_sum",
    "derivative",
    "difference",
    "elapsed",
    "exp",
    "floor",
    "ln",
    "log",
    "log2",
    "log10",
    "moving_average",
    "non_negative_derivative",
    "pow",
    "round",
    "sqrt",
    "time",
    "fill",
    "now",
    "tz",
}


def test_queries_use_only_functions_influxdb_3_supports():
    for where, query in _all_queries():
        used = {name.lower() for name in re.findall(r"\b([A-Za-z_0-9]+)\(", query)}
        assert used <= INFLUXDB3_FUNCTIONS, f"{where}: {sorted(used - INFLUXDB3_FUNCTIONS)}"
        assert "SLIMIT" not in query.upper() and "SOFFSET" not in query.upper(), where


def test_dashboard_structure():
    _, parsed = _provisioning()
    datasource_uids = {d["uid"] for d in parsed["provisioning/datasources/vagus.yaml"]["datasources"]}
    uids = set()
    for file_name, dashboard in grafana.dashboards(PERSON).items():
        assert dashboard["schemaVersion"] == grafana.SCHEMA_VERSION == 41, file_name
        assert len(dashboard["uid"]) <= 40 and dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        assert dashboard["templating"]["list"] == [], "what a dashboard shows must not rest on a variable"
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids), file_name
        cells: dict[tuple[int, int], str] = {}
        for panel in dashboard["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] > 0 and pos["h"] > 0, panel["title"]
            assert pos["x"] + pos["w"] <= 24, f"{panel['title']} is wider than the 24-column grid"
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                    cells[(x, y)] = panel["title"]
            refs = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
            assert all(r == {"type": "influxdb", "uid": grafana.datasource_uid(PERSON)} for r in refs)
            assert {t["refId"] for t in panel["targets"]} == {chr(65 + i) for i in range(len(panel["targets"]))}
            assert all(t["rawQuery"] and "$timeFilter" in t["query"] for t in panel["targets"]), panel["title"]
            for mapping in panel["fieldConfig"]["defaults"].get("mappings", []):
                assert all(int(code) >= 1 for code in mapping["options"]), "codes start at 1 (docs/topics.md)"
        for annotation in dashboard["annotations"]["list"]:
            ref = annotation["datasource"]["uid"]
            assert ref in datasource_uids or ref == "-- Grafana --", annotation["name"]
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] in datasource_uids
    alerting = parsed["provisioning/alerting/vagus.yaml"]
    for group in alerting["groups"]:
        for rule in group["rules"]:
            refs = {d["refId"] for d in rule["data"]}
            assert rule["condition"] in refs
            for d in rule["data"]:
                assert d["datasourceUid"] in datasource_uids | {"__expr__"}
                if d["datasourceUid"] == "__expr__":
                    assert d["model"]["expression"] in refs


def test_the_state_panels_map_every_code_of_the_schema():
    dashboards = grafana.dashboards(PERSON)
    link = next(p for p in dashboards["today.json"]["panels"] if p["title"] == "Wearable link")
    mapped = link["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {int(k): v["text"] for k, v in mapped.items()} == {c: w for w, c in LINK_STATE_CODES.items()}
    kinds = [a for a in dashboards["today.json"]["annotations"]["list"] if a["name"].startswith("Nudge")]
    assert len(kinds) == len(NUDGE_CODES)


def test_provisioning_gives_each_person_a_data_source_a_folder_and_alerts():
    files, parsed = _provisioning(("alice", "bob"), database_for=lambda p: f"bucket-{p}")
    sources = parsed["provisioning/datasources/vagus.yaml"]["datasources"]
    assert [(s["uid"], s["jsonData"]["dbName"]) for s in sources] == [
        ("vagus-alice", "bucket-alice"),
        ("vagus-bob", "bucket-bob"),
    ]
    assert sources[0]["secureJsonData"]["httpHeaderValue1"] == "Token ${VAGUS_GRAFANA_TOKEN_ALICE}"
    assert not any(s["isDefault"] for s in sources), "with several people no data source is everyone's default"
    providers = parsed["provisioning/dashboards/vagus.yaml"]["providers"]
    assert [(p["folder"], p["options"]["path"]) for p in providers] == [
        ("vagus · alice", "/var/lib/grafana/dashboards/alice"),
        ("vagus · bob", "/var/lib/grafana/dashboards/bob"),
    ]
    for person in ("alice", "bob"):
        for name in ("today", "nights", "trends"):
            dashboard = json.loads(files[f"json/{person}/{name}.json"])
            uids = {p["datasource"]["uid"] for p in dashboard["panels"]}
            assert uids == {f"vagus-{person}"}, "a person's dashboards read only their own data source"
    alerting = parsed["provisioning/alerting/vagus.yaml"]
    assert [g["folder"] for g in alerting["groups"]] == ["vagus · alice", "vagus · bob"]
    routes = alerting["policies"][0]["routes"]
    assert [(r["receiver"], r["object_matchers"]) for r in routes] == [
        ("vagus-alice", [["person", "=", "alice"]]),
        ("vagus-bob", [["person", "=", "bob"]]),
    ]
    for group, person in zip(alerting["groups"], ("alice", "bob"), strict=True):
        assert all(r["labels"]["person"] == person for r in group["rules"])
        assert all(d["datasourceUid"] in {f"vagus-{person}", "__expr__"} for r in group["rules"] for d in r["data"])
    points_to = {c["name"]: c["receivers"][0]["settings"]["addresses"] for c in alerting["contactPoints"]}
    assert points_to == {"vagus-alice": "alice@example.invalid", "vagus-bob": "bob@example.invalid"}


def test_a_single_person_is_one_bucket_and_the_default_data_source():
    _, parsed = _provisioning()
    (source,) = parsed["provisioning/datasources/vagus.yaml"]["datasources"]
    assert source["jsonData"]["dbName"] == DB and source["isDefault"] is True


@pytest.mark.parametrize(
    ("people", "kwargs"),
    [
        ((), {}),
        (("a b",), {}),
        (("../etc",), {}),
        (("me", "me"), {}),
        (("me",), {"token_env_for": lambda p: "NOT-A-NAME"}),
        (("me",), {"influx_url": "influxdb:8086"}),
    ],
)
def test_bad_provisioning_input_is_a_value_error(people, kwargs):
    with pytest.raises(ValueError):
        grafana.provisioning_files(people, **{"influx_url": "http://influxdb:8086", **kwargs})


def test_the_committed_files_are_a_fresh_generation():
    fresh = grafana.provisioning_files(grafana.DEFAULT_PEOPLE, influx_url=grafana.DEFAULT_INFLUX_URL)
    committed = {
        str(p.relative_to(COMMITTED)): p.read_text(encoding="utf-8")
        for p in COMMITTED.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert sorted(committed) == sorted(fresh), "regenerate: python -m vagus.grafana --write dashboards/"
    for path, text in fresh.items():
        assert committed[path] == text, f"{path} is stale: python -m vagus.grafana --write dashboards/"


def test_main_writes_what_provisioning_files_returns(tmp_path, capsys):
    assert grafana.main(["--write", str(tmp_path), "--person", "alice"]) == 0
    fresh = grafana.provisioning_files(["alice"], influx_url=grafana.DEFAULT_INFLUX_URL)
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()} == set(fresh)
    assert all((tmp_path / k).read_text() == v for k, v in fresh.items())
    with pytest.raises(SystemExit):
        grafana.main(["--person", "not a person"])
    assert "not a person id" in capsys.readouterr().err


def test_interval_formatting_matches_grafana():
    # gtime.FormatInterval examples: whole units, truncated.
    assert [format_interval(ms) for ms in (500, 1000, 90_000, 3_600_000, 2 * DAY_MS)] == [
        "500ms",
        "1s",
        "1m",
        "1h",
        "2d",
    ]
    assert expand("WHERE $timeFilter GROUP BY time($__interval) LIMIT $__interval_ms", 0, 60_000_000) == (
        "WHERE time >= 0ms and time <= 60000000ms GROUP BY time(1m) LIMIT 60000"
    )
