"""Evaluation of stress and breathing rate on the frozen simulated test set (issue 5).

    .venv/bin/python benchmarks/stress_eval.py [--people N] [--set benchmarks/eval_set.toml]

For each person of the set (``eval_set.toml``, frozen before tuning): ``learning_days`` calm days
(sleep 23–07, rest, an evening walk; no stress) build the personal baseline, then each test scenario
is run through what the agent does: the device's detected beats (artifacts, contact loss, non-wear
and link drops from the simulator's sensor layer) → the rolling 60-s window (Lipponen 2019
correction) every 5 s → breathing rate and the stress tracker against the baseline's reference.
Labels come from the simulator's per-second truth (state at the window's end).

Reported: per-minute stress AUROC (stress minutes vs calm awake minutes: rest and recovery) pooled
across people and per person; high-stress minutes during exercise with and without the
accelerometer; the share of minutes scored; breathing-rate MAE against the simulated breathing in
reported windows. Sleep onset/offset is not evaluated yet (sleep detection is not built).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from vagus.signal import BeatSource, RollingWindow, WindowConfig  # noqa: E402
from vagus.signal.baseline import PersonalBaseline, Reference  # noqa: E402
from vagus.signal.records import Beat, Indicators  # noqa: E402
from vagus.signal.sleep import MinuteSample, detect_sleep  # noqa: E402
from vagus.signal.stress import StressLevel, StressTracker  # noqa: E402
from vagus.sim import build_world, draw_population, load_builtin  # noqa: E402
from vagus.sim.physiology import Physiology, State  # noqa: E402
from vagus.sim.population import Person  # noqa: E402
from vagus.sim.scenario import DeviceSpec, Scenario, Segment, Timeline  # noqa: E402
from vagus.sim.world import DeviceSetup  # noqa: E402

T0 = 1_790_000_000.0


def calm_day() -> Timeline:
    h = 3600
    return Timeline(
        (
            Segment(0, 1 * h, State.REST),
            Segment(1 * h, 9 * h, State.SLEEP),
            Segment(9 * h, 20 * h, State.REST),
            Segment(20 * h, 20 * h + 1800, State.EXERCISE),
            Segment(20 * h + 1800, 20 * h + 3000, State.RECOVERY),
            Segment(20 * h + 3000, 24 * h, State.REST),
        ),
        start_of_day_s=22 * 3600.0,
    )


def windows(setup: DeviceSetup, *, breathing: bool = True) -> list[tuple[Indicators, float]]:
    """60-s records of one device's detected beats, with the mean activity over each window."""
    s = setup.signals
    sensed = s.sensed
    config = WindowConfig(windows_s=(60.0,), spectral=False, nonlinear=False, breathing=breathing)
    engine = RollingWindow(setup.name, config)
    out = []
    for t, ticks in zip(sensed.t_s.tolist(), sensed.rr_1024.tolist(), strict=True):
        if ticks == 0:
            continue
        beat = Beat(device_id=setup.name, t_utc_s=T0 + t, rr_ms=ticks * 1000.0 / 1024.0, source=BeatSource.HRS)
        for rec in engine.push(beat):
            if rec.window_s < 60.0 - 1e-6:
                continue
            lo, hi = int(rec.t_start_utc_s - T0), int(rec.t_end_utc_s - T0)
            out.append((rec, float(np.mean(s.activity[lo:hi]))))
    return out


def learn(person: Person, seed: int, days: int) -> PersonalBaseline:
    baseline = PersonalBaseline()
    for k in range(days):
        scenario = Scenario("calm", "", calm_day(), seed + k, (person,), (DeviceSpec("strap", "h10"),), (), "eval")
        world = build_world(scenario, t0_utc_s=T0, seed=seed + k)
        setup = world.devices_setup[0]
        phys = world.physiology[person.person_id]
        day = (date(2026, 1, 1) + timedelta(days=k)).isoformat()
        for rec, activity in windows(setup, breathing=False):
            second = min(int(rec.t_end_utc_s - T0), phys.duration_s - 1)
            state = State.from_code(int(phys.state[second]))
            if rec.rmssd_ms is None or rec.hr_bpm is None or rec.quality < 0.8:
                continue
            if state == State.SLEEP:
                baseline.observe_sleep(day, rec.rmssd_ms)
            elif state == State.REST and activity < 0.3:
                baseline.observe_awake(day, rec.rmssd_ms, rec.hr_bpm)
        baseline.close_day()
    return baseline


def sleep_errors(
    records: list[tuple[Indicators, float]], phys: Physiology, reference: Reference, *, accelerometer: bool
) -> list[float]:
    """|onset error| and |wake error| (min) of the longest detected period against the true sleep segment."""
    asleep = np.flatnonzero(phys.state == State.SLEEP.code)
    if asleep.size == 0:
        return []
    minutes = [
        MinuteSample(rec.t_end_utc_s, rec.hr_bpm, rec.rmssd_ms, activity if accelerometer else None)
        for k, (rec, activity) in enumerate(records)
        if k % 12 == 0 and rec.quality >= 0.8
    ]
    periods = detect_sleep(minutes, reference)
    if not periods:
        return [float("inf"), float("inf")]
    night = max(periods, key=lambda p: p.wake_utc_s - p.onset_utc_s)
    onset, wake = T0 + float(asleep[0]), T0 + float(asleep[-1] + 1)
    return [abs(night.onset_utc_s - onset) / 60.0, abs(night.wake_utc_s - wake) / 60.0]


def auroc(pos: list[float], neg: list[float]) -> float:
    """Probability that a stress minute scores above a calm one (ties count half): Mann–Whitney U."""
    if not pos or not neg:
        return float("nan")
    a = np.sort(np.asarray(neg))
    p = np.asarray(pos)
    below = np.searchsorted(a, p, side="left")
    ties = np.searchsorted(a, p, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (p.size * a.size))


def main() -> int:  # noqa: PLR0912, PLR0915 (one report, read top to bottom)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=ROOT / "benchmarks" / "eval_set.toml")
    parser.add_argument("--people", type=int, help="evaluate only the first N people of the set")
    parser.add_argument("--first", type=int, default=0, help="start at person index FIRST (to split a run)")
    args = parser.parse_args()
    spec = tomllib.loads(args.set.read_text())
    everyone = draw_population(spec["people"], spec["population_seed"])
    people = list(enumerate(everyone))[args.first : args.first + (args.people or spec["people"])]
    started = time.perf_counter()
    pooled_pos: list[float] = []
    pooled_neg: list[float] = []
    per_person: list[tuple[str, float, int, int]] = []
    exercise_high = {True: 0, False: 0}
    exercise_minutes = 0
    scored = total = 0
    br_err: list[float] = []
    br_windows = br_reported = 0
    sleep_errors_min: list[float] = []
    for i, person in people:
        baseline = learn(person, spec["learning_seed"] + 100 * i, spec["learning_days"])
        reference = baseline.reference()
        sleep_reference = baseline.reference(personal_only=True)
        pos: list[float] = []
        neg: list[float] = []
        for name in spec["scenarios"]:
            scenario = load_builtin(name)
            scenario = replace(scenario, people=(person,))
            world = build_world(scenario, t0_utc_s=T0, seed=spec["test_seed"] + 100 * i)
            phys = world.physiology[person.person_id]
            for setup in world.devices_setup:
                if not any(p == setup.profile for p in ("h10", "verity")):
                    continue  # the watch and the ring send no RR intervals: no HRV stress
                records = windows(setup)
                sleep_errors_min += sleep_errors(records, phys, sleep_reference, accelerometer=True)
                for accelerometer in (True, False):
                    tracker = StressTracker()
                    for k, (rec, window_activity) in enumerate(records):
                        activity = window_activity if accelerometer else None
                        second = min(int(rec.t_end_utc_s - T0), phys.duration_s - 1)
                        state = State.from_code(int(phys.state[second]))
                        result = tracker.update(rec, reference, activity=activity)
                        if state == State.EXERCISE:
                            exercise_minutes += accelerometer and k % 12 == 0
                            if result.level == StressLevel.HIGH and k % 12 == 0:
                                exercise_high[accelerometer] += 1
                        if not accelerometer or k % 12:
                            continue  # per minute (every 12th 5-s step), accelerometer on
                        total += 1
                        if result.score is None:
                            continue
                        scored += 1
                        if state == State.STRESS:
                            pos.append(result.score)
                        elif state in (State.REST, State.RECOVERY):
                            neg.append(result.score)
                        if rec.breathing_rate_brpm is not None or rec.null_reasons.get("breathing_rate_brpm"):
                            br_windows += 1
                            if rec.breathing_rate_brpm is not None:
                                br_reported += 1
                                lo, hi = int(rec.t_start_utc_s - T0), int(rec.t_end_utc_s - T0)
                                truth = float(np.mean(phys.breathing_rate_brpm[lo:hi]))
                                br_err.append(abs(rec.breathing_rate_brpm - truth))
        per_person.append((person.person_id, auroc(pos, neg), len(pos), len(neg)))
        pooled_pos += pos
        pooled_neg += neg
        auc = per_person[-1][1]
        print(f"  {person.person_id}: AUROC {auc:.3f} ({len(pos)} stress, {len(neg)} calm minutes)", flush=True)
        scores = {"pos": [round(v, 1) for v in pos], "neg": [round(v, 1) for v in neg]}
        print(f"    scores {person.person_id} {json.dumps(scores)}")
    print(f"people {len(people)}, scenarios {spec['scenarios']}, {time.perf_counter() - started:.0f} s")
    aucs = np.array([a for _, a, _, _ in per_person])
    print(f"stress AUROC pooled {auroc(pooled_pos, pooled_neg):.3f}; per person median {np.nanmedian(aucs):.3f}, "
          f"min {np.nanmin(aucs):.3f}")  # fmt: skip
    print(f"minutes scored {scored}/{total} ({scored / max(total, 1):.0%}); exercise minutes {exercise_minutes}: "
          f"high stress with accelerometer {exercise_high[True]}, without {exercise_high[False]}")  # fmt: skip
    if sleep_errors_min:
        print(f"sleep onset/wake: median absolute error {np.median(sleep_errors_min):.1f} min "
              f"(p90 {np.percentile(sleep_errors_min, 90):.1f}) over {len(sleep_errors_min) // 2} nights")  # fmt: skip
    if br_err:
        print(f"breathing rate: MAE {np.mean(br_err):.2f} breaths/min over {br_reported} reported windows "
              f"({br_reported / max(br_windows, 1):.0%} of scored windows)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
