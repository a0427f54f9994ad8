"""Sleep periods and night summaries: hand-made minutes, then simulated nights of held-out people.

Simulated people use seeds not used to set the detector's threshold and limits (those were
population 7 / physiology 11)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vagus.signal.baseline import NightRange, Reference
from vagus.signal.sleep import MinuteSample, SleepParams, detect_sleep, night_summary
from vagus.signal.time_domain import time_domain
from vagus.sim import draw_population, simulate
from vagus.sim.physiology import State
from vagus.sim.scenario import Segment, Timeline

REF = Reference(
    ln_rmssd_mean=math.log(40.0), ln_rmssd_sd=0.2, hr_mean_bpm=65.0, hr_sd_bpm=4.0, personal_weight=1.0, days=7
)


def minutes(profile: list[tuple[int, float, float, float | None]]) -> list[MinuteSample]:
    """(count, HR, RMSSD, activity) runs → consecutive minutes."""
    out, k = [], 0
    for count, hr, rmssd, activity in profile:
        for _ in range(count):
            k += 1
            out.append(MinuteSample(k * 60.0, hr, rmssd, activity))
    return out


def test_a_clear_night_by_hand():
    # Awake: evidence 0. Asleep: HR 57 (2 SD below 65) and RMSSD 40·e^0.2 (1 SD above): evidence 3.
    night = minutes([(60, 65.0, 40.0, 0.3), (300, 57.0, 40.0 * math.exp(0.2), 0.0), (60, 66.0, 38.0, 0.4)])
    (period,) = detect_sleep(night, REF)
    assert period.onset_utc_s == pytest.approx(60 * 60.0, abs=6 * 60)  # the 11-min median shifts edges by ≤ 5 min
    assert period.wake_utc_s == pytest.approx(360 * 60.0, abs=6 * 60)
    summary = night_summary(night, period, REF)
    assert summary.lowest_hr_bpm == pytest.approx(57.0) and summary.mean_hr_bpm == pytest.approx(57.0)
    assert summary.rmssd_ms == pytest.approx(40.0 * math.exp(0.2))
    assert 280 <= summary.asleep_min <= 300 and summary.recovery is None


def test_a_brief_awakening_stays_in_the_night_and_a_nap_is_not_one():
    night = minutes([(200, 57.0, 60.0, 0.0), (10, 66.0, 38.0, 0.5), (200, 57.0, 60.0, 0.0)])
    assert len(detect_sleep(night, REF)) == 1
    nap = minutes([(30, 65.0, 40.0, 0.2), (90, 57.0, 60.0, 0.0), (30, 65.0, 40.0, 0.2)])
    assert detect_sleep(nap, REF) == []
    assert len(detect_sleep(nap, REF, SleepParams(min_period_min=60))) == 1


def test_moving_vetoes_sleep_and_missing_minutes_do_not_break_it():
    restless = minutes([(300, 57.0, 60.0, 0.6)])
    assert detect_sleep(restless, REF) == []
    gappy = minutes([(100, 57.0, 60.0, None), (15, None, None, None), (200, 57.0, 60.0, None)])
    assert len(detect_sleep(gappy, REF)) == 1
    assert detect_sleep([], REF) == []


def test_recovery_against_the_nightly_range():
    night = minutes([(240, 55.0, 50.0, 0.0)])
    (period,) = detect_sleep(night, REF)
    normal = NightRange(
        last=None,
        mean_7d=None,
        mean_60d=math.log(50.0),
        low=math.log(50.0) - 0.15,
        high=math.log(50.0) + 0.15,
        nights=30,
    )
    assert night_summary(night, period, REF, normal).recovery == "normal"
    low = NightRange(None, None, math.log(70.0), math.log(70.0) - 0.15, math.log(70.0) + 0.15, 30)
    s = night_summary(night, period, REF, low)
    assert s.recovery == "below" and s.recovery_sd == pytest.approx((math.log(50.0) - math.log(70.0)) / 0.2)


def test_simulated_nights_onset_and_wake_within_15_minutes_median():
    h = 3600
    timeline = Timeline(
        (Segment(0, 2 * h, State.REST), Segment(2 * h, 10 * h, State.SLEEP), Segment(10 * h, 14 * h, State.REST)),
        start_of_day_s=21 * 3600.0,
    )
    errors = []
    for person in draw_population(10, 303):
        ph = simulate(person, timeline, seed=404)
        t, rr = ph.beat_times_s[1:], np.diff(ph.beat_times_s) * 1000.0
        samples = []
        for m in range(1, 14 * 60):
            td = time_domain(rr[(t >= (m - 1) * 60) & (t < m * 60)])
            samples.append(
                MinuteSample(m * 60.0, td.hr_bpm, td.rmssd_ms, float(np.mean(ph.activity[(m - 1) * 60 : m * 60])))
            )
        calm = [s for s in samples if s.t_utc_s < 2 * h - 60 or s.t_utc_s > 11 * h]
        ln = np.log([s.rmssd_ms for s in calm])
        hr = np.array([s.hr_bpm for s in calm])

        def robust_sd(a: np.ndarray) -> float:
            return float(np.median(np.abs(a - np.median(a)))) * 1.4826

        ref = Reference(float(np.median(ln)), robust_sd(ln), float(np.median(hr)), robust_sd(hr), 1.0, 7)
        periods = detect_sleep(samples, ref)
        assert periods, person.person_id
        night = max(periods, key=lambda p: p.wake_utc_s - p.onset_utc_s)
        errors += [abs(night.onset_utc_s - 2 * h) / 60, abs(night.wake_utc_s - 10 * h) / 60]
    assert np.median(errors) <= 15.0  # the target (minutes)
