"""`vagus sim` and `vagus run --sim/--replay` as a person runs them: real processes and files."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from vagus.edge.hrs import decode_hrm
from vagus.sim.capture import read_capture
from vagus.sim.hrs_encoder import HRM_UUID

from .test_cli import vagus

SHORT = """
description = "twelve minutes for tests"
start = "2026-03-02T08:00"
duration = "12min"
seed = 3
[[segment]]
at = "08:00"
state = "rest"
[[segment]]
at = "08:06"
state = "stress"
[[device]]
name = "strap"
profile = "h10"
[[device]]
name = "ring"
profile = "colmi_ring"
[[event]]
kind = "contact_loss"
at = "08:03"
duration = "20s"
device = "strap"
"""


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sim")
    (tmp / "short.toml").write_text(SHORT)
    out = vagus(tmp, "sim", "capture", str(tmp / "short.toml"), "--out", str(tmp / "out"), timeout=120)
    assert out.returncode == 0, out.stderr
    return tmp, out.stdout


def test_listing_verbs(tmp_path):
    scenarios = vagus(tmp_path, "sim", "scenarios")
    assert scenarios.returncode == 0 and "workday" in scenarios.stdout and "day" in scenarios.stdout
    profiles = vagus(tmp_path, "sim", "profiles").stdout
    assert all(p in profiles for p in ("h10", "hr_watch", "verity", "colmi_ring"))
    people = vagus(tmp_path, "sim", "people", "--n", "3", "--seed", "2").stdout.splitlines()
    assert len(people) == 4 and people[1].startswith("p000")


def test_capture_writes_bytes_and_labels_that_agree(captured):
    tmp, stdout = captured
    assert "strap" in stdout and "notifications" in stdout
    t0, events = read_capture(tmp / "out" / "capture.jsonl.gz")
    manifest = json.loads((tmp / "out" / "labels" / "manifest.json").read_text())
    assert manifest["t0_utc_s"] == t0 and [d["name"] for d in manifest["devices"]] == ["strap", "ring"]
    with (tmp / "out" / "labels" / "strap.beats.csv").open() as f:
        beats = list(csv.DictReader(f))
    with (tmp / "out" / "labels" / "strap.seconds.csv").open() as f:
        seconds = list(csv.DictReader(f))
    assert len(seconds) == 12 * 60
    assert {r["state"] for r in seconds[:360]} == {"rest"} and {r["state"] for r in seconds[360:]} == {"stress"}
    lost = [r for r in seconds if r["contact"] == "0"]
    assert len(lost) == 20 and lost[0]["t_utc_s"] == f"{t0 + 180:.3f}"
    # Every interval the labels say the strap detected is in the bytes, in order.
    sent = [
        rr
        for e in events
        if e.device == "strap" and e.characteristic == HRM_UUID
        for rr in decode_hrm(e.payload).rr_1024
    ]
    labelled = [int(r["rr_1024"]) for r in beats if int(r["rr_1024"]) > 0]
    assert sent == labelled[: len(sent)] and len(labelled) - len(sent) <= 9  # the last second's beats may not be sent
    assert sum(1 for r in beats if r["rr_1024"] == "0") == 2  # the start, and after the contact loss


def test_the_agent_reads_a_replayed_capture(captured):
    tmp, _ = captured
    db = tmp / "replay.db"
    out = vagus(
        tmp, "run", "--replay", str(tmp / "out" / "capture.jsonl.gz"), "--speed", "inf", "--db", str(db), "--quiet"
    )
    assert out.returncode == 0, out.stderr
    assert "replaying" in out.stdout and "the simulated feed has ended" in out.stdout
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT device_id, hr_bpm FROM indicators WHERE window_nominal_s = 60").fetchall()
    assert {d for d, _ in rows} == {"strap"}  # the ring speaks its own protocol, not the Heart Rate Service
    assert len(rows) > 100


def test_run_sim_with_a_scenario_and_several_people(tmp_path):
    db = tmp_path / "v.db"
    out = vagus(
        tmp_path,
        "run",
        "--sim",
        "--scenario",
        "resting",
        "--people",
        "2",
        "--speed",
        "inf",
        "--db",
        str(db),
        "--quiet",
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(db) as con:
        devices = {d for (d,) in con.execute("SELECT DISTINCT device_id FROM indicators")}
        last = con.execute("SELECT max(t_end_utc_s) - min(t_end_utc_s) FROM indicators").fetchone()[0]
    assert devices == {"p000-strap", "p001-strap"}
    assert last >= 3600 - 120  # the whole simulated hour, then the feed ended


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("sim", "capture", "nosuch", "--out", "x"), "neither a built-in"),
        (("run", "--sim", "--scenario", "nosuch", "--duration", "1"), "neither a built-in"),
        (("run", "--replay", "/nonexistent.jsonl"), "--replay"),
        (("run", "--sim", "--replay", "x"), "exclude"),
        (("run", "--sim", "--people", "0"), "--people"),
        (("sim", "people", "--n", "0"), "--n"),
    ],
)
def test_bad_simulator_arguments_exit_2(tmp_path, args, needle):
    out = vagus(tmp_path, *args)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr and "Traceback" not in out.stderr


def test_a_broken_scenario_file_names_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SHORT.replace('state = "stress"', 'state = "panic"'))
    out = vagus(tmp_path, "sim", "capture", str(bad), "--out", str(tmp_path / "o"))
    assert out.returncode == 2 and "panic" in out.stderr and "state" in out.stderr
