"""``vagus report``: the HTML report of a simulated day and night, checked in a real browser.

The store is filled by the real agent on the simulator (the built-in ``day`` scenario: a chest strap,
sleep 23:00–07:00, a shower without the strap, a stressful meeting, a paced-breathing break and a
run), accelerated. The report is opened in Debian's headless Chromium and every number is read back
from the DOM Chromium built, then compared with the same quantity computed here straight from the
store with SQL. Chromium's NetLog shows what the page fetched: nothing.

``python -m tests.test_report docs/img/report.png`` remakes the screenshot in the docs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.simulated_day import simulate_day
from vagus.edge import Store
from vagus.errors import StoreError
from vagus.report import NOT_A_DIAGNOSIS, build_report
from vagus.report_cli import add_report_parser, main

SIMULATED_H = 16.0  # 22:00 → 14:00: evening, night, shower, meeting, breathing break, run, recovery
OFFSET_MIN = 0  # the report's UTC offset; the day below is a UTC day
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Name resolution fails for every host: nothing this test starts reaches the network.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


# -- the store: a simulated day through the real agent --------------------------------------------------------


def _add_markers(path: Path, t0: float) -> tuple[list[float], list[float]]:
    """Nudges (one held back) and check-ins during the simulated stress, in the store's own tables
    (migrations 0007 nudges, 0008 check-ins), with the scores the tests expect to see drawn."""
    nudges = [t0 + h * 3600.0 for h in (12.6, 12.75, 12.9)]  # 10:36, 10:45, 10:54
    checkins = [t0 + h * 3600.0 for h in (12.65, 13.1)]
    db = sqlite3.connect(path)
    with db:
        for i, t in enumerate(nudges):
            db.execute(
                "INSERT INTO nudge_events (nudge_id, t_utc_s, device_id, kind, sent, holdback_p, stress_score,"
                " rmssd_ms, text) VALUES (?, ?, 'strap', 'slow_breathing', ?, 0.2, 70, 30, ?)",
                (f"n{i}", t, int(i != 1), "Your body shows signs of stress — want a 2-minute breathing break?"),
            )
        for i, t in enumerate(checkins):
            db.execute(
                "INSERT INTO checkins (checkin_id, t_utc_s, source, answer, self_stress_1to5, nudge_id, stress_score)"
                " VALUES (?, ?, 'cli', 'stressed', ?, 'n0', 70)",
                (f"c{i}", t, 4 - i),
            )
    db.close()
    return nudges, checkins


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "vagus.db"
    t0 = asyncio.run(simulate_day(path, SIMULATED_H))
    nudges, checkins = _add_markers(path, t0)
    return path, t0, nudges, checkins


def _day_of(t_utc_s: float) -> date:
    return datetime.fromtimestamp(t_utc_s + OFFSET_MIN * 60, UTC).date()


# -- independent reference: SQL over the store ----------------------------------------------------------------


def _sql_minutes(path: Path, start: float, end: float) -> list[sqlite3.Row]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    rows = db.execute(
        """SELECT CAST(t_end_utc_s / 60 AS INTEGER) AS minute, avg(stress_score) AS score, avg(hr_bpm) AS hr,
                  avg(rmssd_ms) AS rmssd, avg(breathing_rate_brpm) AS br
           FROM indicators WHERE window_nominal_s = 60 AND t_end_utc_s >= ? AND t_end_utc_s < ?
           GROUP BY minute ORDER BY minute""",
        (start, end),
    ).fetchall()
    db.close()
    return rows


def _sql_gated(path: Path, start: float, end: float) -> Counter:
    """Minutes without a score, counted by their most frequent gate reason."""
    db = sqlite3.connect(path)
    rows = db.execute(
        """WITH r AS (SELECT CAST(t_end_utc_s / 60 AS INTEGER) AS minute, gate_reason, stress_score
                      FROM indicators WHERE window_nominal_s = 60 AND t_end_utc_s >= ? AND t_end_utc_s < ?),
                unscored AS (SELECT minute FROM r GROUP BY minute HAVING count(stress_score) = 0)
           SELECT minute, gate_reason, count(*) FROM r WHERE gate_reason IS NOT NULL
             AND minute IN (SELECT minute FROM unscored) GROUP BY minute, gate_reason""",
        (start, end),
    ).fetchall()
    db.close()
    best: dict[int, tuple[int, str]] = {}
    for minute, reason, n in rows:
        best[minute] = max(best.get(minute, (0, "")), (n, reason))
    return Counter(reason for _, reason in best.values())


def _level(score: float) -> str:  # docs/indicators.md: rest 0–25, low 26–50, medium 51–75, high 76–100
    return "rest" if score <= 25 else "low" if score <= 50 else "medium" if score <= 75 else "high"


def _avg(values) -> float:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept)


# -- Chromium and its DOM -------------------------------------------------------------------------------------


def _chromium() -> str:
    from tests.servers import require_binary

    return require_binary("chromium", "chromium")


def _run_chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603 — our own argv
    shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for (Chromium's own background requests have no origin and are left out)."""
    log = json.loads(netlog.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start_job and "url" in e.get("params", {}) and e["params"].get("initiator") != "not an origin"
    ]


def render_in_chromium(html: str, tmp: Path, name: str) -> tuple[Dom, list[str]]:
    """The DOM Chromium builds from the page, and the URLs the page made it fetch."""
    page = tmp / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    netlog = tmp / f"{name}.netlog.json"
    done = _run_chromium([f"--log-net-log={netlog}", "--dump-dom", page.as_uri()], tmp)
    dom = Dom()
    dom.feed(done.stdout)
    return dom, _page_requests(netlog)


class Dom(HTMLParser):
    """Elements (tag, attributes, ancestors' attributes) and the text of each ``data-key`` value."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "source", "area", "base", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[dict[str, str]]]] = []
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.values: dict[tuple[str | None, str], str] = {}  # (night onset or None, key) → text
        self.text: list[str] = []
        self._key: tuple[str | None, str] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a, [attrs for _, attrs in self.stack]))
        if "data-key" in a:
            night = next((s["data-onset-utc-s"] for _, s in reversed(self.stack) if "data-onset-utc-s" in s), None)
            self._key = (night, a["data-key"])
            self.values[self._key] = ""
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}, [attrs for _, attrs in self.stack]))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break
        if tag == "dd":
            self._key = None

    def handle_data(self, data):
        self.text.append(data)
        if self._key is not None:
            self.values[self._key] += data

    def find(self, tag: str, css: str | None = None) -> list[dict[str, str]]:
        return [a for t, a, _ in self.elements if t == tag and (css is None or css in a.get("class", "").split())]

    def value(self, key: str, night: float | None = None) -> str:
        return self.values[(None if night is None else repr(night), key)]


# -- tests ----------------------------------------------------------------------------------------------------


def test_the_day_report_in_chromium_shows_the_stores_numbers(simulated, tmp_path):
    path, t0, nudges, checkins = simulated
    day = _day_of(t0 + 12 * 3600.0)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() - OFFSET_MIN * 60
    dom, fetched = render_in_chromium(build_report(path, day=day, utc_offset_min=OFFSET_MIN), tmp_path, "day")

    html_el = dom.find("html")[0]
    assert html_el["lang"] == "en"
    assert any(t == f"vagus report — {day.isoformat()}" for t in dom.text)  # the <title>
    assert NOT_A_DIAGNOSIS in "".join(dom.text)

    minutes = _sql_minutes(path, start, start + 86_400.0)
    scored = [m for m in minutes if m["score"] is not None]
    assert len(scored) > 300  # the simulated morning is in the report's day
    points = dom.find("rect", "stress-point")
    assert len(points) == len(scored)
    expected_levels = Counter(_level(m["score"]) for m in scored)
    assert Counter(p["data-level"] for p in points) == expected_levels
    assert set(expected_levels) >= {"rest", "low", "medium"}  # sleep, the day, the meeting
    for level in ("rest", "low", "medium", "high"):
        assert dom.value(f"minutes_{level}") == str(expected_levels[level])

    gated = _sql_gated(path, start, start + 86_400.0)
    assert gated["active"] > 10  # the lunchtime run is not scored
    assert Counter(r["data-reason"] for r in dom.find("rect", "gated")) == gated
    for reason, n in gated.items():
        assert dom.value(f"gated_{reason}") == str(n)

    assert dom.value("minutes_scored") == str(len(scored))
    assert dom.value("minutes_with_reading") == f"{len(minutes)} of 1440"
    assert dom.value("mean_stress") == f"{_avg(m['score'] for m in minutes):.1f}"
    assert dom.value("mean_hr_bpm") == f"{_avg(m['hr'] for m in minutes):.1f} bpm"
    assert dom.value("mean_rmssd_ms") == f"{_avg(m['rmssd'] for m in minutes):.1f} ms"
    assert dom.value("mean_breathing_brpm") == f"{_avg(m['br'] for m in minutes):.1f} breaths/min"

    # Heart rate and RMSSD lines hold every minute with a value, broken where minutes are missing.
    for css, field in (("hr", "hr"), ("rmssd", "rmssd")):
        drawn = sum(len(p["points"].split()) for p in dom.find("polyline", css)) + len(dom.find("circle", css))
        assert drawn == sum(m[field] is not None for m in minutes)
    assert len(dom.find("polyline", "hr")) > 1  # the shower without the strap breaks the line

    assert len(dom.find("path", "nudge-marker")) == len(nudges)
    assert len(dom.find("path", "held-back")) == 1
    assert dom.value("nudges") == "2 / 1"
    assert len(dom.find("circle", "checkin-marker")) == len(checkins) == int(dom.value("checkins"))

    # Every chart is an image with a text alternative, and a text summary beside it.
    charts = dom.find("svg", "chart")
    assert {c["id"] for c in charts} >= {"chart-stress", "chart-hr", "chart-rmssd", "chart-breathing"}
    assert all(c["role"] == "img" and c.get("aria-labelledby") for c in charts)
    assert len(dom.find("figcaption")) >= 4

    # Last night, as the nights table has it.
    db = sqlite3.connect(path)
    nights = db.execute("SELECT onset_utc_s, wake_utc_s, asleep_min, lowest_hr_bpm FROM nights").fetchall()
    db.close()
    assert len(nights) == 1
    onset, wake, asleep, lowest = nights[0]
    assert dom.value("wake", onset) == datetime.fromtimestamp(wake, UTC).strftime("%H:%M")
    assert dom.value("asleep", onset) == f"{asleep // 60} h {asleep % 60:02d} min"
    assert dom.value("lowest_hr_bpm", onset) == f"{lowest:.1f} bpm"

    assert fetched == []
    assert not [a for _, a, _ in dom.elements for k in ("src", "href", "srcset", "poster") if k in a]
    assert "url(" not in "".join(dom.text)


def test_the_night_report_shows_the_nights_table(simulated, tmp_path):
    path, t0, _, _ = simulated
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    (night,) = db.execute("SELECT * FROM nights").fetchall()
    db.close()
    evening = _day_of(night["onset_utc_s"] - 12 * 3600.0)
    html = build_report(path, day=evening, night=True, utc_offset_min=OFFSET_MIN)
    dom, fetched = render_in_chromium(html, tmp_path, "night")

    onset = night["onset_utc_s"]
    local = {
        k: datetime.fromtimestamp(night[k] + OFFSET_MIN * 60, UTC).strftime("%H:%M")
        for k in ("onset_utc_s", "wake_utc_s")
    }
    assert dom.value("onset", onset) == local["onset_utc_s"]
    assert dom.value("wake", onset) == local["wake_utc_s"]
    assert dom.value("asleep", onset) == f"{night['asleep_min'] // 60} h {night['asleep_min'] % 60:02d} min"
    assert dom.value("lowest_hr_bpm", onset) == f"{night['lowest_hr_bpm']:.1f} bpm"
    assert dom.value("mean_hr_bpm", onset) == f"{night['mean_hr_bpm']:.1f} bpm"
    assert dom.value("rmssd_ms", onset) == f"{night['rmssd_ms']:.1f} ms"
    assert night["recovery"] is None and dom.value("recovery", onset).startswith("not known yet")
    # The simulated sleep (23:00–07:00 of the scenario) is what the table says, within the docs' 15 min.
    assert abs(onset - (t0 + 3600.0)) < 15 * 60

    bands = dom.find("rect", "sleep-band")
    assert len(bands) == 2  # the heart-rate and RMSSD charts each shade the one night
    assert len(dom.find("rect", "night-bar")) == 1
    assert NOT_A_DIAGNOSIS in "".join(dom.text)
    assert fetched == []


def test_the_fetch_check_sees_a_page_that_fetches(tmp_path):
    """The NetLog check above can fail: a page with an image on a (closed) loopback port is caught."""
    page = "<!DOCTYPE html><html lang='en'><title>t</title><img alt='' src='http://127.0.0.1:9/x.png'></html>"
    _, fetched = render_in_chromium(page, tmp_path, "control")
    assert fetched == ["http://127.0.0.1:9/x.png"]


def screenshot(store_path: Path, day: date, out: Path, tmp: Path, *, height: int = 2400) -> bytes:
    """A PNG of the day report as Chromium draws it 1200 px wide."""
    page = tmp / "shot.html"
    page.write_text(build_report(store_path, day=day, utc_offset_min=OFFSET_MIN), encoding="utf-8")
    _run_chromium([f"--screenshot={out}", f"--window-size=1200,{height}", page.as_uri()], tmp)
    return out.read_bytes()


def test_a_screenshot_of_the_report(simulated, tmp_path):
    path, t0, _, _ = simulated
    png = screenshot(path, _day_of(t0 + 12 * 3600.0), tmp_path / "report.png", tmp_path)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 2400)
    assert len(png) > 50_000  # charts drawn, not a blank page


def test_a_store_without_nudges_or_checkins_still_reports(simulated, tmp_path):
    path, t0, _, _ = simulated
    bare = tmp_path / "bare.db"
    src = sqlite3.connect(path)
    dst = sqlite3.connect(bare)
    src.backup(dst)
    src.close()
    with dst:
        dst.execute("DROP TABLE nudge_events")
        dst.execute("DROP TABLE checkins")
    dst.close()
    dom = Dom()
    dom.feed(build_report(bare, day=_day_of(t0 + 12 * 3600.0)))
    assert dom.find("rect", "stress-point") and not dom.find("path", "nudge-marker")
    assert dom.value("nudges") == "0 / 0" and dom.value("checkins") == "0"


def test_battery_readings_are_drawn_where_the_store_has_them(simulated, tmp_path):
    path, t0, _, _ = simulated
    copy = tmp_path / "battery.db"
    src, dst = sqlite3.connect(path), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    day = _day_of(t0 + 12 * 3600.0)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    readings = [(start + h * 3600.0, "strap", 90 - 3 * h) for h in range(0, 14)]
    with dst:
        dst.execute("CREATE TABLE test_battery (t_utc_s REAL, device_id TEXT, battery_pct INTEGER)")
        dst.executemany("INSERT INTO test_battery VALUES (?, ?, ?)", readings)
        dst.execute("INSERT INTO test_battery VALUES (?, 'watch', 5)", (start + 60.0,))  # another device's
        tables = [
            name
            for (name,) in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if {"t_utc_s", "battery_pct", "device_id"} <= {r[1] for r in dst.execute(f'PRAGMA table_info("{name}")')}
        ]
        most = max(
            dst.execute(
                f'SELECT count(*) FROM "{name}" WHERE device_id = ? AND t_utc_s >= ? AND t_utc_s < ?',  # noqa: S608
                ("strap", start, start + 86_400.0),
            ).fetchone()[0]
            for name in tables
        )
    dst.close()
    dom = Dom()
    dom.feed(build_report(copy, day=day))
    drawn = sum(len(p["points"].split()) for p in dom.find("polyline", "battery"))
    assert most >= len(readings) and drawn == most
    if most == len(readings):  # no other part of vagus stored more readings in the simulated day
        caption = [t for t in dom.text if t.startswith("Battery:")]
        assert set(caption) == {f"Battery: 90 % at 00:00, {90 - 3 * 13} % at 13:00."}  # <desc> and caption


def test_newest_day_empty_days_and_bad_input(simulated, tmp_path):
    path = simulated[0]
    db = sqlite3.connect(path)
    newest = db.execute("SELECT max(t_end_utc_s) FROM indicators").fetchone()[0]
    db.close()
    assert f"vagus report — {_day_of(newest).isoformat()}" in build_report(path)
    assert "No readings for this day." in build_report(path, day=date(2001, 1, 1))
    with pytest.raises(StoreError, match="no local store"):
        build_report(tmp_path / "nope.db")
    with pytest.raises(ValueError, match="utc_offset_min"):
        build_report(path, utc_offset_min=15 * 60)
    with Store(tmp_path / "empty.db"):
        pass
    with pytest.raises(StoreError, match="holds no readings"):
        build_report(tmp_path / "empty.db")
    with pytest.raises(StoreError, match="holds no nights"):
        build_report(tmp_path / "empty.db", night=True)


def test_the_command_writes_the_report(simulated, tmp_path, monkeypatch, capsys):
    path, t0, _, _ = simulated
    config = tmp_path / "vagus.toml"
    config.write_text(f"[store]\npath = {json.dumps(str(path))}\n")
    day = _day_of(t0 + 12 * 3600.0)
    out = tmp_path / "r.html"
    assert main(["--day", day.isoformat(), "--out", str(out), "--config", str(config), "--utc-offset", "0"]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>") and "wrote" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["--night", "--config", str(config), "--utc-offset", "0"]) == 0
    night_files = list(tmp_path.glob("vagus-night-*.html"))
    assert len(night_files) == 1 and "Your night" in night_files[0].read_text()
    with pytest.raises(SystemExit) as bad:
        main(["--day", "2026-13-01", "--config", str(config)])
    assert bad.value.code == 2
    nowhere = tmp_path / "nowhere.toml"
    nowhere.write_text(f"[store]\npath = {json.dumps(str(tmp_path / 'no.db'))}\n")
    capsys.readouterr()
    assert main(["--config", str(nowhere)]) == 1 and "no local store" in capsys.readouterr().err

    parser = argparse.ArgumentParser(prog="vagus")
    add_report_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "--nudges", "--config", str(config)])
    assert args.nudges and args.days == 7
    status = args.func(args)
    if importlib.util.find_spec("vagus.report_nudges") is None:
        assert status == 1 and "no nudge report" in capsys.readouterr().err
    else:
        assert status == 0 and capsys.readouterr().out.strip()


if __name__ == "__main__":
    import tempfile

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img/report.png")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        t0 = asyncio.run(simulate_day(tmp / "vagus.db", hours=24.0))  # the whole day: ~40 s of CPU
        _add_markers(tmp / "vagus.db", t0)
        data = screenshot(tmp / "vagus.db", _day_of(t0 + 12 * 3600.0), target, tmp, height=1800)
    print(f"{target}: {len(data) // 1024} KB")


def test_the_day_the_safety_rule_fired_shows_the_support_contacts(simulated, tmp_path):
    from vagus.edge.checkins import record_checkin
    from vagus.edge.safety import Resource, SafetySettings, check_safety

    path, t0, _, _ = simulated
    copy = tmp_path / "support.db"
    src, dst = sqlite3.connect(path), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    day = _day_of(t0 + 12 * 3600.0)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp() - OFFSET_MIN * 60
    contacts = [Resource(name="Ana <sister>", phone="+44 20 7946 0000")]
    with Store(copy) as store:
        record_checkin(store, "need_help", noon, source="cli")
        assert check_safety(store, noon, SafetySettings(resources=contacts)) is not None  # the rule fired
    support = [(r.name, r.how()) for r in contacts]
    page = build_report(copy, day=day, utc_offset_min=OFFSET_MIN, support=support)
    assert 'id="support"' in page and "Ana &lt;sister&gt;" in page and "+44 20 7946 0000" in page
    hint = build_report(copy, day=day, utc_offset_min=OFFSET_MIN, support=[])
    assert 'id="support"' in hint and "[[safety.resources]]" in hint
    assert 'id="support"' not in build_report(copy, day=day, utc_offset_min=OFFSET_MIN)  # the rule is off
    other = day.replace(day=day.day - 1) if day.day > 1 else day.replace(day=day.day + 1)
    assert 'id="support"' not in build_report(copy, day=other, utc_offset_min=OFFSET_MIN, support=support)
