"""Closed-loop evaluation of the nudge effect on simulated people (issue 8).

    .venv/bin/python benchmarks/nudge_eval.py [--people 8] [--days 4] [--seed 2026]

Each simulated person lives ``--days`` working days (08:00–18:00, rest with four stress episodes of
40–60 min at jittered times). Their beats go through what the agent does — the rolling 60-s and
300-s windows, the stress score against a baseline learned from a calm morning — and every 60-s
record goes to A1's :class:`vagus.edge.nudge_policy.NudgePolicy` (its defaults, with the
micro-randomised hold-back probability 0.5). When it sends a nudge to a person who takes the
break, the day is re-simulated from that moment with a 2-minute paced-breathing break at 6/min
(``vagus.sim`` Intervention) starting 30 s after the nudge, and the beats continue from the new
day (nothing before the break changes, bit for bit, so the loop is exact). Held-back moments get
nothing. For every eligible moment: the mean stress score, RMSSD (60-s windows) and LF power
(300-s windows) in the 30 min before and after (``vagus.signal.nudge_effect.before_after_means``),
and the effect = mean change (sent) − mean change (held back) with Welch's 95 % interval.

Groups (people drawn from ``vagus.sim.draw_population``, stress reactivity as drawn):
- ``responders``: breathing_response 0.7; take every break they are sent;
- ``non-responders``: breathing_response 0; the nudge has no effect (they do not take the break);
- ``breathe-only``: breathing_response 0 but they take the break: the in-session 0.1-Hz rise
  without a lasting relief (reported for honesty: LF rises, stress barely moves).

Beats are the simulated heart's (no sensor artifacts: artifacts are evaluated in stress_eval.py,
and the sensor layer draws its artifact positions over the whole day, so a re-simulated day would
not keep the beats before the break).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec.structs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from vagus.edge.nudge_policy import NudgePolicy, NudgeSettings  # noqa: E402
from vagus.signal import Beat, BeatSource, RollingWindow, WindowConfig  # noqa: E402
from vagus.signal.baseline import PersonalBaseline, Reference  # noqa: E402
from vagus.signal.nudge_effect import EffectEstimate, before_after_means, effect_estimate  # noqa: E402
from vagus.signal.stress import StressTracker  # noqa: E402
from vagus.sim import draw_population, simulate  # noqa: E402
from vagus.sim.physiology import State  # noqa: E402
from vagus.sim.population import Person  # noqa: E402
from vagus.sim.scenario import Segment, Timeline  # noqa: E402

T0 = 1_790_035_200.0  # 2026-09-21 00:00 UTC; the policy's local time is UTC (utc_offset_min 0)
DAY_START_S = 8 * 3600  # the simulated part of each day: 08:00–18:00
DAY_S = 10 * 3600
BREAK_DELAY_S = 30  # from the nudge to the first paced breath [assumption]
BREAK_S = 120
RESPONSE = 0.7
# One record a minute per window (the agent steps 5 s; minutes are what the policy and the outcomes
# use), and no artifact correction: the simulated heart's beats have no artifacts (module docstring),
# and the corrector is 90 % of the run time.
WINDOWS = WindowConfig(
    windows_s=(60.0, 300.0), step_s=60.0, correction="none", spectral=True, nonlinear=False, breathing=False
)
# Days the baseline learns before the evaluated days, as in stress_eval.py (3 calm learning days).
LEARNING_DAYS = 3
GROUPS = {"responders": (RESPONSE, True), "non-responders": (0.0, False), "breathe-only": (0.0, True)}


def workday(rng: np.random.Generator) -> Timeline:
    """Rest 08:00–18:00 with four stress episodes of 40–60 min, ~2.5 h apart, jittered."""
    segments, t = [], 0
    for k in range(4):
        start = int(1800 + k * 9000 + rng.integers(0, 1800))
        length = int(rng.integers(40, 61) * 60)
        if start > t:
            segments.append(Segment(t, start, State.REST))
        segments.append(Segment(start, start + length, State.STRESS))
        t = start + length
    segments.append(Segment(t, DAY_S, State.REST))
    return Timeline(tuple(segments), start_of_day_s=float(DAY_START_S))


def learn(person: Person, seed: int, days: int = LEARNING_DAYS) -> Reference:
    """The calm reference after ``days`` learned days (two quiet hours of 60-s windows each), as
    the agent's baseline gives it (:meth:`PersonalBaseline.reference`)."""
    baseline = PersonalBaseline()
    config = dataclasses.replace(WINDOWS, windows_s=(60.0,), spectral=False)
    for day in range(days):
        phys = simulate(person, Timeline.constant(State.REST, 7200, start_of_day_s=7 * 3600.0), seed=seed + day)
        engine = RollingWindow("strap", config)
        for t, rr in zip(phys.beat_times_s.tolist(), phys.rr_ms.tolist(), strict=True):
            for rec in engine.push(Beat("strap", T0 + t, rr, source=BeatSource.HRS)):
                if rec.window_s >= 59.0 and rec.rmssd_ms and rec.hr_bpm:
                    baseline.observe_awake(f"2026-09-{11 + day}", rec.rmssd_ms, rec.hr_bpm)
        baseline.close_day()
    return baseline.reference()


@dataclass
class DayResult:
    moments: list[tuple[float, bool]] = field(default_factory=list)  # (t_utc_s, sent)
    series: dict[str, tuple[list[float], list[float]]] = field(
        default_factory=lambda: {"stress": ([], []), "rmssd": ([], []), "lf": ([], [])}
    )
    breaks: int = 0


def run_day(
    person: Person, reference: Reference, policy: NudgePolicy, *, day: int, seed: int, takes: bool
) -> DayResult:
    """One day in closed loop: the policy's sent nudges insert breaks (if the person ``takes`` them)."""
    t_day = T0 + day * 86_400.0 + DAY_START_S
    timeline = workday(np.random.default_rng([seed, day]))
    phys = simulate(person, timeline, seed=seed + day)
    engine = RollingWindow("strap", WINDOWS)
    tracker = StressTracker()
    out = DayResult()
    times, rrs = phys.beat_times_s.tolist(), phys.rr_ms.tolist()
    k = 0
    while k < len(times):
        t, rr = times[k], rrs[k]
        k += 1
        restart_at: float | None = None
        for rec in engine.push(Beat("strap", t_day + t, rr, source=BeatSource.HRS)):
            if rec.window_s < rec.window_nominal_s - 1.0:
                continue
            if rec.window_nominal_s == 300.0:
                if rec.lf_ms2 is not None:
                    out.series["lf"][0].append(rec.t_end_utc_s)
                    out.series["lf"][1].append(rec.lf_ms2)
                continue
            result = tracker.update(rec, reference)
            scored = msgspec.structs.replace(
                rec,
                stress_score=result.score,
                stress_level=None if result.level is None else result.level.value,
                gate_reason=None if result.gate is None else result.gate.value,
            )
            if result.score is not None:
                out.series["stress"][0].append(scored.t_end_utc_s)
                out.series["stress"][1].append(result.score)
            if rec.rmssd_ms is not None:
                out.series["rmssd"][0].append(rec.t_end_utc_s)
                out.series["rmssd"][1].append(rec.rmssd_ms)
            decision = policy.observe(scored)
            if decision is None:
                continue
            out.moments.append((decision.t_utc_s, decision.sent))
            start = int(decision.t_utc_s - t_day) + BREAK_DELAY_S
            if decision.sent and takes and start + BREAK_S < DAY_S:
                timeline = timeline.with_intervention(start, duration_s=BREAK_S)
                restart_at = t
        if restart_at is not None:
            phys = simulate(person, timeline, seed=seed + day)
            times, rrs = phys.beat_times_s.tolist(), phys.rr_ms.tolist()
            k = int(np.searchsorted(phys.beat_times_s, restart_at, side="right"))
            out.breaks += 1
    return out


def changes(day: DayResult) -> dict[str, tuple[list[float], list[float]]]:
    """Per outcome: (changes of sent moments, changes of held-back moments)."""
    t = np.array([m[0] for m in day.moments])
    sent = np.array([m[1] for m in day.moments], dtype=bool)
    out = {}
    for name, (st, sv) in day.series.items():
        before, after = before_after_means(st, sv, t)
        delta = after - before
        out[name] = (delta[sent].tolist(), delta[~sent].tolist())
    return out


def evaluate_group(
    people: list[Person], days: int, seed: int, response: float, takes: bool
) -> tuple[dict[str, EffectEstimate], int]:
    pooled: dict[str, tuple[list[float], list[float]]] = {"stress": ([], []), "rmssd": ([], []), "lf": ([], [])}
    breaks = 0
    for i, drawn in enumerate(people):
        person = dataclasses.replace(drawn, breathing_response=response)
        reference = learn(person, seed + 1000 + i)
        policy = NudgePolicy(NudgeSettings(holdback_p=0.5), rng=random.Random(seed * 7919 + i))  # noqa: S311 — a seeded coin
        for d in range(days):
            day = run_day(person, reference, policy, day=d, seed=seed + 100 * i, takes=takes)
            breaks += day.breaks
            for name, (s, h) in changes(day).items():
                pooled[name][0].extend(s)
                pooled[name][1].extend(h)
    return {name: effect_estimate(s, h) for name, (s, h) in pooled.items()}, breaks


def format_effect(name: str, e: EffectEstimate) -> str:
    if e.effect is None or e.ci_low is None or e.ci_high is None:
        return f"    {name:<7} n.a. (n {e.n_sent}/{e.n_held})"
    mark = "excludes 0" if e.excludes_zero else "includes 0"
    return (
        f"    {name:<7} {e.effect:+9.2f}  95 % CI [{e.ci_low:+9.2f}, {e.ci_high:+9.2f}]  "
        f"n sent {e.n_sent}, held back {e.n_held}  ({mark})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=8, help="people per group")
    parser.add_argument("--days", type=int, default=4, help="working days per person")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    everyone = draw_population(args.people * len(GROUPS), args.seed)
    for g, name in enumerate(GROUPS):
        if name not in args.groups:
            continue
        response, takes = GROUPS[name]
        people = everyone[g * args.people : (g + 1) * args.people]
        effects, breaks = evaluate_group(people, args.days, args.seed + 10_000 * g, response, takes)
        print(f"{name}: {len(people)} people × {args.days} days, {breaks} breaks taken", flush=True)
        for outcome, e in effects.items():
            print(format_effect(outcome, e), flush=True)
    print(f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
