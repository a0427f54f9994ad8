"""Stress score, gates and personal baselines on hand-computable inputs; the baseline survives a restart."""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime

import pytest

from vagus.edge import Store
from vagus.edge.stress_stage import StressStage
from vagus.errors import StoreError
from vagus.signal import Indicators
from vagus.signal.baseline import POPULATION, PersonalBaseline, Reference
from vagus.signal.stress import Gate, StressLevel, StressParams, StressTracker, stress_level, stress_score

REF = Reference(
    ln_rmssd_mean=math.log(40.0), ln_rmssd_sd=0.2, hr_mean_bpm=60.0, hr_sd_bpm=5.0, personal_weight=1.0, days=7
)


def record(
    t: float, *, rmssd: float | None = 40.0, hr: float | None = 60.0, quality: float = 1.0, window: float = 60.0
):
    return Indicators(
        device_id="d",
        t_start_utc_s=t - window,
        t_end_utc_s=t,
        window_s=window,
        n_beats=60,
        quality=quality,
        window_nominal_s=window,
        hr_bpm=hr,
        rmssd_ms=rmssd,
    )


def test_the_score_by_hand():
    assert stress_score(40.0, 60.0, REF) == pytest.approx(25.0)  # the calm reference
    # One SD of vagal withdrawal alone: z = 0.6 → 25 + 15.
    assert stress_score(40.0 * math.exp(-0.2), 60.0, REF) == pytest.approx(40.0)
    # One SD of heart-rate rise alone: z = 0.4 → 25 + 10.
    assert stress_score(40.0, 65.0, REF) == pytest.approx(35.0)
    # One SD on both: z = 1 → 50, the top of "low"; two SDs on both: 75, the top of "medium".
    assert stress_score(40.0 * math.exp(-0.2), 65.0, REF) == pytest.approx(50.0)
    assert stress_score(40.0 * math.exp(-0.4), 70.0, REF) == pytest.approx(75.0)
    assert stress_score(1.0, 150.0, REF) == 100.0 and stress_score(400.0, 40.0, REF) == 0.0
    with pytest.raises(ValueError):
        stress_score(0.0, 60.0, REF)


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0, "rest"),
        (25, "rest"),
        (25.5, "low"),
        (50, "low"),
        (51, "medium"),
        (75, "medium"),
        (75.1, "high"),
        (100, "high"),
    ],
)
def test_levels_are_garmins_bands(score, level):
    assert stress_level(score) == StressLevel(level)


def test_gates_say_why_there_is_no_score():
    tracker = StressTracker()
    assert tracker.update(record(1000), REF, has_rr=False).gate == Gate.HR_ONLY
    assert tracker.update(record(1000), REF, worn=False).gate == Gate.NOT_WORN
    assert tracker.update(record(1000, rmssd=None), REF).gate == Gate.TOO_FEW_BEATS
    assert tracker.update(record(1000, quality=0.7), REF).gate == Gate.LOW_QUALITY
    calm = tracker.update(record(1000), REF)
    assert calm.gate is None and calm.score == pytest.approx(25.0) and calm.level == StressLevel.REST


def test_activity_withholds_the_score_and_its_recovery():
    tracker = StressTracker(StressParams(after_activity_s=300.0))
    assert tracker.update(record(1000, rmssd=10.0, hr=120.0), REF, activity=1.2).gate == Gate.ACTIVE
    # Still, but within 5 minutes of moving: recovery looks like stress, so no score.
    assert tracker.update(record(1200, rmssd=15.0, hr=85.0), REF, activity=0.0).gate == Gate.ACTIVE
    assert tracker.update(record(1301, rmssd=35.0, hr=66.0), REF, activity=0.0).gate is None


def test_without_an_accelerometer_heart_rate_dynamics_gate():
    tracker = StressTracker()
    # HR more than max(30 bpm, 4 SD = 20 bpm) above the calm reference: exercise, not stress.
    assert tracker.update(record(1000, rmssd=8.0, hr=91.0), REF).gate == Gate.ACTIVE
    stressed = StressTracker().update(record(1000, rmssd=20.0, hr=75.0), REF)
    assert stressed.gate is None and stressed.level == StressLevel.HIGH


def test_a_fast_heart_rate_rise_is_the_start_of_exercise():
    # Windows every 5 s: HR 60 → 71 within 30 s (11 bpm > 10), well under the 30-bpm level gate.
    onset = StressTracker()
    results = [
        onset.update(record(1000.0 + 5 * k, rmssd=25.0, hr=hr), REF)
        for k, hr in enumerate([60.0] * 7 + [62.0, 64.0, 66.0, 68.0, 70.0, 71.0])
    ]
    assert results[-2].gate is None  # 70 (t = 1055) − 60 (t = 1025) = 10: not more than 10
    assert results[-1].gate == Gate.ACTIVE  # 71 (t = 1060) − 60 (t = 1030) = 11
    # The same rise over 60 s (8 bpm per 30 s) is how stress comes on: scored.
    stress = StressTracker()
    hrs = [60.0] * 7 + [60.0 + 16.0 * j / 12 for j in range(1, 13)]
    results = [stress.update(record(1000.0 + 5 * k, rmssd=25.0, hr=hr), REF) for k, hr in enumerate(hrs)]
    assert all(r.gate is None for r in results) and results[-1].level == StressLevel.HIGH
    # Never across a gap: a window 30 s after one that is 10 minutes old is not a rise.
    gap = StressTracker()
    gap.update(record(1000.0, rmssd=40.0, hr=60.0), REF)
    assert gap.update(record(1600.0, rmssd=25.0, hr=76.0), REF).gate is None


def _learn_days(levels_ms: list[float]) -> PersonalBaseline:
    """One day per level: 60 calm minutes alternating RMSSD level and level × 1.1, HR 70/71/72 bpm."""
    baseline = PersonalBaseline()
    for day, level in enumerate(levels_ms):
        for minute in range(60):
            baseline.observe_awake(f"2026-01-{day + 1:02d}", level * (1.1 if minute % 2 else 1.0), 70.0 + minute % 3)
    baseline.close_day()
    return baseline


def test_the_baseline_starts_from_population_norms_and_learns():
    assert PersonalBaseline().reference() == POPULATION
    baseline = _learn_days([30.0, 30.0, 30.0])
    ref = baseline.reference()
    # By hand: each day's ln RMSSD median is ln(30·√1.1) (the middle of 30 values of each level),
    # its MAD ln(1.1)/2; HR median 71, MAD 1. Three equal days: the day-to-day SD is the prior's,
    # 0.15² × 4 pseudo-days over 4 + 2 degrees of freedom.
    n, tau_ln, tau_hr = 3, 0.35, 8.0
    day_ln = math.sqrt(4 * 0.15**2 / 6)
    day_hr = math.sqrt(4 * 3.0**2 / 6)
    w_ln = n * tau_ln**2 / (n * tau_ln**2 + day_ln**2)
    w_hr = n * tau_hr**2 / (n * tau_hr**2 + day_hr**2)
    assert ref.days == 3 and ref.personal_weight == pytest.approx(w_ln) and 0.95 < w_ln < 0.97
    own_ln, own_ln_sd = math.log(30.0 * math.sqrt(1.1)), max(math.log(1.1) / 2 * 1.4826, 0.05)
    assert ref.ln_rmssd_mean == pytest.approx(w_ln * own_ln + (1 - w_ln) * 3.67)
    assert ref.hr_mean_bpm == pytest.approx(w_hr * 71.0 + (1 - w_hr) * 65.0)
    post_ln = 1 / (n / day_ln**2 + 1 / tau_ln**2)
    assert ref.ln_rmssd_sd == pytest.approx(math.sqrt(own_ln_sd**2 + day_ln**2 + post_ln))
    post_hr = 1 / (n / day_hr**2 + 1 / tau_hr**2)
    assert ref.hr_sd_bpm == pytest.approx(math.sqrt(1.4826**2 + day_hr**2 + post_hr))
    assert baseline.resting_hr_bpm() == pytest.approx(70.0)
    # Sleep detection's own-days-only reference: the medians and within-day SDs, nothing else.
    own = baseline.reference(personal_only=True)
    assert (own.ln_rmssd_mean, own.hr_mean_bpm, own.hr_sd_bpm) == pytest.approx((own_ln, 71.0, 1.4826))


def test_one_day_already_outweighs_population_norms():
    ref = _learn_days([30.0]).reference()
    assert 0.8 < ref.personal_weight < 0.9
    assert abs(ref.ln_rmssd_mean - math.log(30.0 * math.sqrt(1.1))) < abs(ref.ln_rmssd_mean - 3.67)


def test_a_person_whose_days_vary_is_judged_against_a_wider_band():
    steady = _learn_days([30.0] * 7).reference()
    varying = _learn_days([22.0, 40.0] * 3 + [30.0]).reference()
    assert varying.ln_rmssd_sd > steady.ln_rmssd_sd
    assert varying.personal_weight < steady.personal_weight
    # The same low-RMSSD minute is less alarming for the person whose days swing.
    assert stress_score(20.0, 71.0, varying) < stress_score(20.0, 71.0, steady)


def test_a_baseline_stored_by_an_earlier_version_still_loads():
    state = _learn_days([30.0]).to_dict()
    state["days_to_learn"] = 7  # the linear blend's setting, before the two-level model
    assert PersonalBaseline.from_dict(state).reference() == _learn_days([30.0]).reference()


def test_a_day_with_too_few_calm_minutes_does_not_count():
    baseline = PersonalBaseline()
    for minute in range(10):
        baseline.observe_awake("2026-01-01", 30.0, 70.0 + minute)
    baseline.observe_awake("2026-01-02", 30.0, 70.0)  # the next day closes the first
    assert baseline.days == [] and baseline.reference() == POPULATION


def test_nightly_range():
    baseline = PersonalBaseline()
    for night, rmssd in enumerate([50.0, 55.0, 60.0, 45.0], start=1):
        for _ in range(30):
            baseline.observe_sleep(f"2026-01-0{night}", rmssd)
        baseline.close_day()
    r = baseline.night_range()
    lns = [math.log(v) for v in (50.0, 55.0, 60.0, 45.0)]
    mean = sum(lns) / 4
    sd = math.sqrt(sum((x - mean) ** 2 for x in lns) / 3)
    assert r.nights == 4 and r.last == pytest.approx(lns[-1]) and r.mean_60d == pytest.approx(mean)
    assert r.low == pytest.approx(mean - 0.75 * sd) and r.high == pytest.approx(mean + 0.75 * sd)


def test_baseline_round_trip_and_bad_state():
    baseline = PersonalBaseline()
    for minute in range(40):
        baseline.observe_awake("2026-01-01", 30.0 + minute, 70.0)
    baseline.observe_sleep("2026-01-02", 60.0)
    again = PersonalBaseline.from_dict(baseline.to_dict())
    assert again.to_dict() == baseline.to_dict() and again.reference() == baseline.reference()
    with pytest.raises(ValueError, match="version"):
        PersonalBaseline.from_dict({"version": 9})
    with pytest.raises(ValueError, match="not a baseline"):
        PersonalBaseline.from_dict({"version": 1, "days": []})


def local_ts(day: int, hour: int, minute: int) -> float:
    return datetime(2026, 1, day, hour, minute).timestamp()


def test_the_agents_baseline_survives_a_restart(tmp_path):
    db = tmp_path / "v.db"
    with Store(db) as store:
        stage = StressStage(store)
        for day in (5, 6):
            for minute in range(0, 600, 1):  # 07:00–17:00, calm
                t = local_ts(day, 7 + minute // 60, minute % 60) + 60
                out = stage.annotate(record(t, rmssd=45.0 + minute % 5, hr=62.0 + minute % 3))
                assert out.stress_score is not None and out.gate_reason is None
            for minute in range(0, 120):  # 01:00–03:00: the night
                stage.annotate(record(local_ts(day, 1 + minute // 60, minute % 60) + 60, rmssd=70.0, hr=52.0))
        stage.save()
        learned = stage.baseline.to_dict()
        scored = stage.annotate(record(local_ts(7, 9, 0), rmssd=45.0, hr=63.0))
        five_minutes = record(local_ts(7, 9, 0), window=300.0)
        assert stage.annotate(five_minutes) is five_minutes  # longer windows pass through
    with Store(db) as store:
        again = StressStage(store)
        assert again.baseline.to_dict()["days"] == learned["days"]
        assert again.annotate(record(local_ts(7, 9, 0), rmssd=45.0, hr=63.0)).stress_score == scored.stress_score
    with sqlite3.connect(db) as con:
        con.execute("UPDATE baseline SET state_json = 'not json'")
    with Store(db) as store, pytest.raises(StoreError, match="baseline"):
        StressStage(store)


def test_the_agent_finds_the_night_stores_it_and_learns_from_it(tmp_path):
    """30 hours of minute records: evening, a night (HR 2 SD down, RMSSD 1.5 SD up), a day."""
    start = local_ts(10, 18, 0)
    onset, wake = local_ts(10, 23, 0), local_ts(11, 7, 0)
    handed_on = []
    with Store(tmp_path / "v.db") as store:
        stage = StressStage(store, on_night=handed_on.append)  # sync's hook: each night once, once stored
        for k in range(30 * 60):
            t = start + 60.0 * (k + 1)
            asleep = onset < t <= wake
            rmssd, hr = (60.0, 56.0) if asleep else (40.0 + k % 3, 66.0 + k % 2)
            stage.annotate(record(t, rmssd=rmssd, hr=hr))
        nights = store.nights()
    assert len(nights) == 1 and handed_on == nights
    (night,) = nights
    assert abs(night.onset_utc_s - onset) <= 10 * 60 and abs(night.wake_utc_s - wake) <= 10 * 60
    assert night.lowest_hr_bpm == pytest.approx(56.0) and night.rmssd_ms == pytest.approx(60.0)
    assert 460 <= night.asleep_min <= 480
    stage.baseline.close_day()  # the night belongs to the morning it ended on
    assert stage.baseline.days[-1].night_ln_rmssd == pytest.approx(math.log(60.0))
    assert stage.baseline.night_range().last == pytest.approx(math.log(60.0))
    with Store(tmp_path / "v.db") as store:  # a restart neither loses nor repeats it
        again = StressStage(store)
        assert again.find_nights(wake + 6 * 3600) == 0 and len(store.nights()) == 1
