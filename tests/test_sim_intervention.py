"""The simulator's paced-breathing intervention: inserted at time t, nothing before t changes; the
breathing follows the pacer (spectral peak near 0.1 Hz by scipy's Welch); a responder's stress
response shrinks afterwards by the expected share, a non-responder's not at all."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from vagus.sim import build_world
from vagus.sim.physiology import RELIEF_TAU_ON_S, RELIEF_TAU_S, Physiology, State, simulate
from vagus.sim.population import Person, draw_population
from vagus.sim.scenario import DeviceSpec, Intervention, Scenario, ScenarioError, Segment, Timeline

SEED = 17
# rest 20 min, stress 60 min, rest 40 min; the break at 30 min into the stress.
_DAY = Timeline(
    (Segment(0, 1200, State.REST), Segment(1200, 4800, State.STRESS), Segment(4800, 7200, State.REST)),
    start_of_day_s=10 * 3600.0,
)
T_BREAK, BREAK_S = 3000, 300


def _person(i: int, response: float) -> Person:
    return dataclasses.replace(draw_population(i + 1, 3)[i], breathing_response=response)


def _rmssd(ph: Physiology, a: float, b: float) -> float:
    rr = ph.rr_ms[(ph.beat_times_s >= a) & (ph.beat_times_s < b)]
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)))


def _welch(rr_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy's Welch PSD (ms²/Hz) of the RR series resampled at 4 Hz (cubic spline)."""
    from scipy.interpolate import CubicSpline
    from scipy.signal import welch

    t = np.cumsum(rr_ms) / 1000.0
    grid = np.arange(t[0], t[-1], 0.25)
    y = CubicSpline(t, rr_ms)(grid)
    return welch(y - y.mean(), fs=4.0, nperseg=min(len(y), 512), detrend="linear")


def _welch_peak_hz(rr_ms: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    f, p = _welch(rr_ms)
    band = (f >= lo_hz) & (f <= hi_hz)
    return float(f[band][np.argmax(p[band])])


def _lf_power(rr_ms: np.ndarray) -> float:
    f, p = _welch(rr_ms)
    band = (f >= 0.04) & (f < 0.15)
    return float(np.sum(p[band]) * (f[1] - f[0]))


@pytest.mark.parametrize("response", [0.0, 0.7])
def test_nothing_before_the_break_changes(response: float) -> None:
    person = _person(0, response)
    plain = simulate(person, _DAY, seed=SEED)
    nudged = simulate(person, _DAY.with_intervention(T_BREAK, duration_s=BREAK_S), seed=SEED)
    before = plain.beat_times_s < T_BREAK - 2.0  # the beat in flight at t may move
    n = int(before.sum())
    assert n > 3000
    assert np.array_equal(plain.beat_times_s[:n], nudged.beat_times_s[:n])
    assert np.array_equal(plain.rr_ms[:n], nudged.rr_ms[:n])
    for name in ("breathing_rate_brpm", "hr_bpm", "activity"):
        assert np.array_equal(getattr(plain, name)[:T_BREAK], getattr(nudged, name)[:T_BREAK])
    assert not np.array_equal(plain.breathing_rate_brpm[T_BREAK:], nudged.breathing_rate_brpm[T_BREAK:])


def test_an_empty_intervention_list_is_the_plain_timeline_and_a_person_without_response_is_drawn() -> None:
    person = draw_population(1, 3)[0]
    assert person.breathing_response == 0.0
    a = simulate(person, _DAY, seed=SEED)
    b = simulate(person, dataclasses.replace(_DAY, interventions=()), seed=SEED)
    assert np.array_equal(a.beat_times_s, b.beat_times_s)


def test_breathing_follows_the_pacer_and_the_rr_peak_moves_to_its_rate() -> None:
    person = _person(1, 0.0)
    nudged = simulate(person, _DAY.with_intervention(T_BREAK, duration_s=BREAK_S, paced_brpm=6.0), seed=SEED)
    truth = nudged.breathing_rate_brpm
    assert np.median(truth[T_BREAK + 30 : T_BREAK + BREAK_S]) == pytest.approx(6.0, abs=0.2)
    # Back to the spontaneous (stress) rate within ~2 min (BREATHING_TAU_S = 20 s).
    spontaneous = float(np.median(truth[T_BREAK - 600 : T_BREAK]))
    assert np.median(truth[T_BREAK + BREAK_S + 120 : T_BREAK + BREAK_S + 600]) == pytest.approx(spontaneous, rel=0.1)
    rr = nudged.rr_ms[(nudged.beat_times_s >= T_BREAK + 20) & (nudged.beat_times_s < T_BREAK + BREAK_S)]
    assert _welch_peak_hz(rr, 0.04, 0.4) == pytest.approx(0.1, abs=0.015)
    # The 0.1-Hz (LF) power rises with the resonance (RMSSD need not: a slow oscillation has small
    # successive differences; signal.md §5 "do not expect an HF increase").
    before = nudged.rr_ms[(nudged.beat_times_s >= T_BREAK - 280) & (nudged.beat_times_s < T_BREAK)]
    assert _lf_power(rr) > 1.5 * _lf_power(before)  # under stress the RSA is damped (stress_hrv_factor)


@pytest.mark.parametrize("response", [0.0, 0.4, 0.8])
def test_relief_takes_the_responders_share_of_the_stress_rise(response: float) -> None:
    person = _person(2, response)
    plain = simulate(person, _DAY, seed=SEED)
    nudged = simulate(person, _DAY.with_intervention(T_BREAK, duration_s=BREAK_S), seed=SEED)
    end = T_BREAK + BREAK_S
    seconds = np.arange(end, 4800)  # the rest of the stress episode, after the break
    rise = plain.hr_bpm[seconds] - person.resting_hr_bpm  # includes circadian drift, the same in both
    drop = plain.hr_bpm[seconds] - nudged.hr_bpm[seconds]
    # Expected from the documented model: relief R·(1 − e^(−d/τon))·e^(−(t − end)/τ) of the part of
    # the HR level above resting HR (the circadian cosine is added after, so subtract it from both).
    relief = response * (1 - math.exp(-BREAK_S / RELIEF_TAU_ON_S)) * np.exp(-(seconds - end) / RELIEF_TAU_S)
    circadian = plain.hr_bpm[seconds] - (person.resting_hr_bpm + person.stress_hr_rise_bpm)
    assert np.all(rise > 0)
    np.testing.assert_allclose(drop, relief * person.stress_hr_rise_bpm, atol=0.05)
    assert float(np.max(np.abs(circadian))) < 4.0  # sanity: the stress level has settled
    if response == 0.0:
        assert np.array_equal(plain.hr_bpm, nudged.hr_bpm)
        return
    # More vagal tone after the break: RMSSD of the next 20 minutes is higher than without it.
    assert _rmssd(nudged, end + 60, end + 1260) > _rmssd(plain, end + 60, end + 1260) * (1 + 0.3 * response)


def test_no_relief_during_exercise() -> None:
    person = _person(3, 0.9)
    day = Timeline((Segment(0, 600, State.REST), Segment(600, 3000, State.EXERCISE)), start_of_day_s=9 * 3600.0)
    plain = simulate(person, day, seed=SEED)
    nudged = simulate(person, day.with_intervention(1200, duration_s=120), seed=SEED)
    assert np.array_equal(plain.hr_bpm, nudged.hr_bpm)


def test_the_world_carries_interventions_through_to_the_devices() -> None:
    person = _person(4, 0.6)
    timeline = _DAY.with_intervention(T_BREAK, duration_s=BREAK_S)
    scenario = Scenario("t", "", timeline, SEED, (person,), (DeviceSpec("strap", "h10"),), (), "test")
    world = build_world(scenario, t0_utc_s=1.79e9)
    direct = simulate(person, timeline, seed=SEED)
    assert np.array_equal(world.physiology[person.person_id].beat_times_s, direct.beat_times_s)


def test_bad_interventions_raise() -> None:
    with pytest.raises(ScenarioError, match="paced_brpm"):
        Intervention(10, 60, 40.0)
    with pytest.raises(ScenarioError, match="duration_s"):
        Intervention(10, 0)
    with pytest.raises(ScenarioError, match="after the timeline end"):
        _DAY.with_intervention(7200)
    with pytest.raises(ValueError, match="breathing_response"):
        _person(0, 1.5)
