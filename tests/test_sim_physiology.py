"""The simulator's physiology model, checked numerically over a simulated population.

References are independent of the model: neurokit2's ``hrv_time``/``hrv_frequency`` (the published
reference, signal.md §1) and scipy's Welch spectrum of 4-Hz resampled RR; the bounds are published
resting norms: Nunan, Sandercock & Brodie 2010, PACE 33:1407 (short-term resting recordings: RMSSD
42 ± 15 ms, LF/HF 2.8 ± 2.6; HR 65.5 ± 7.7 bpm as quoted in signal.md §1.7).
"""

from __future__ import annotations

import math
import time
import warnings
from functools import cache

import numpy as np
import pytest

from vagus.sim.physiology import (
    AR1_BLOCK,
    FS_HZ,
    HR_TAU_AFTER_EXERCISE_S,
    HR_TAU_UP_S,
    RR_MAX_MS,
    RR_MIN_MS,
    Physiology,
    State,
    ar1_filter,
    simulate,
)
from vagus.sim.population import draw_population
from vagus.sim.scenario import Segment, Timeline, load_builtin

N_PEOPLE = 24
NUNAN_RMSSD_MS = (42.0, 15.0)
NUNAN_LF_HF = (2.8, 2.6)
NUNAN_HR_BPM = (65.5, 7.7)


def _window(ph: Physiology, start_s: float, end_s: float) -> np.ndarray:
    return ph.rr_ms[(ph.beat_times_s >= start_s) & (ph.beat_times_s < end_s)]


def _nk(rr_ms: np.ndarray) -> tuple[float, float, float, float]:
    """(RMSSD ms, LF/HF, LF ms², HF ms²) by neurokit2 (absolute powers: normalize=False, signal.md §0.1)."""
    import neurokit2 as nk

    rri = {"RRI": rr_ms, "RRI_Time": np.cumsum(rr_ms) / 1000.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a future neurokit2 warning must not fail the physiology check
        t = nk.hrv_time(rri)
        f = nk.hrv_frequency(rri, normalize=False)
    return (
        float(t["HRV_RMSSD"].iloc[0]),
        float(f["HRV_LFHF"].iloc[0]),
        float(f["HRV_LF"].iloc[0]),
        float(f["HRV_HF"].iloc[0]),
    )


def _welch_peak_hz(rr_ms: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    """Frequency of the largest Welch peak in [lo, hi] of the RR series resampled at 4 Hz (cubic)."""
    from scipy.interpolate import CubicSpline
    from scipy.signal import welch

    t = np.cumsum(rr_ms) / 1000.0
    grid = np.arange(t[0], t[-1], 0.25)
    y = CubicSpline(t, rr_ms)(grid)
    f, p = welch(y - y.mean(), fs=4.0, nperseg=min(len(y), 512), detrend="linear")
    band = (f >= lo_hz) & (f <= hi_hz)
    return float(f[band][np.argmax(p[band])])


def _median(values: list[float]) -> float:
    return float(np.median(values))


# rest, stress, rest, exercise, recovery (10 min each), rest 5 min, paced 6/min and 8/min (10 min each)
_PROTOCOL = Timeline(
    (
        Segment(0, 600, State.REST),
        Segment(600, 1200, State.STRESS),
        Segment(1200, 1800, State.REST),
        Segment(1800, 2400, State.EXERCISE),
        Segment(2400, 3000, State.RECOVERY),
        Segment(3000, 3300, State.REST),
        Segment(3300, 3900, State.REST, 6.0),
        Segment(3900, 4500, State.REST, 8.0),
    ),
    start_of_day_s=10 * 3600.0,
)
_REST, _STRESS, _EXERCISE = (300, 600), (900, 1200), (2100, 2400)
_PACED_6, _PACED_8 = (3600, 3900), (4200, 4500)


@cache
def _cohort() -> tuple[tuple[Physiology, ...], tuple[float, ...]]:
    people = draw_population(N_PEOPLE, seed=11)
    return (
        tuple(simulate(p, _PROTOCOL, seed=5) for p in people),
        tuple(p.breathing_rate_brpm / 60.0 for p in people),
    )


def test_resting_rmssd_lf_hf_and_hr_fall_in_published_resting_ranges():
    sims, _ = _cohort()
    rest = [_nk(_window(ph, *_REST)) for ph in sims]
    rmssd = [r[0] for r in rest]
    lf_hf = [r[1] for r in rest]
    hr = [60000.0 / _window(ph, *_REST).mean() for ph in sims]
    # Every person inside Nunan's mean ± 2 SD; the population median inside mean ± 1 SD.
    m, s = NUNAN_RMSSD_MS
    assert all(m - 2 * s <= x <= m + 2 * s for x in rmssd), rmssd
    assert m - s <= _median(rmssd) <= m + s
    m, s = NUNAN_LF_HF
    assert all(0.0 < x <= m + 2 * s for x in lf_hf), lf_hf
    assert 0.3 <= _median(lf_hf) <= m + s
    m, s = NUNAN_HR_BPM
    assert all(m - 2.5 * s <= x <= m + 2.5 * s for x in hr), hr
    assert m - s <= _median(hr) <= m + s
    # People differ: the spread is a real population's, not one person's repeated.
    assert np.std(np.log(rmssd)) > 0.2
    assert max(hr) - min(hr) > 10.0


def test_stress_and_exercise_lower_rmssd_and_raise_hr_with_overlap_between_people():
    sims, _ = _cohort()
    rest = [_nk(_window(ph, *_REST))[0] for ph in sims]
    stress = [_nk(_window(ph, *_STRESS))[0] for ph in sims]
    exercise = [_nk(_window(ph, *_EXERCISE))[0] for ph in sims]
    hr_rest = [60000.0 / _window(ph, *_REST).mean() for ph in sims]
    hr_stress = [60000.0 / _window(ph, *_STRESS).mean() for ph in sims]
    lowered = sum(s < r for s, r in zip(stress, rest, strict=True))
    assert lowered >= 0.9 * N_PEOPLE, list(zip(rest, stress, strict=True))
    assert all(e < r for e, r in zip(exercise, rest, strict=True))
    rises = [hs - hr for hs, hr in zip(hr_stress, hr_rest, strict=True)]
    assert sum(r > 0 for r in rises) >= 0.9 * N_PEOPLE, rises
    assert _median(rises) > 4.0
    # Effects overlap between people: some stressed person keeps a higher RMSSD than some resting one.
    assert max(stress) > min(rest)
    # Moderate exercise leaves an RMSSD of a few ms (vagal withdrawal).
    assert _median(exercise) < 10.0


def test_hf_peak_sits_at_each_persons_breathing_rate():
    sims, rates_hz = _cohort()
    peaks = [_welch_peak_hz(_window(ph, 0, 600), 0.15, 0.4) for ph in sims]
    misses = [(p, r) for p, r in zip(peaks, rates_hz, strict=True) if abs(p - r) > 0.02]
    assert not misses


def test_paced_breathing_moves_the_peak_to_the_pacer_and_raises_lf():
    sims, _ = _cohort()
    for ph in sims:
        assert _welch_peak_hz(_window(ph, *_PACED_6), 0.04, 0.4) == pytest.approx(0.1, abs=0.015)
        # 8/min (0.133 Hz) is away from the Mayer wave's 0.1 Hz: the peak follows the pacer.
        assert _welch_peak_hz(_window(ph, *_PACED_8), 0.04, 0.4) == pytest.approx(8 / 60, abs=0.015)
    rest = [_nk(_window(ph, *_REST)) for ph in sims]
    paced = [_nk(_window(ph, *_PACED_6)) for ph in sims]
    # Resonance breathing: LF power up, several-fold (Lehrer & Gevirtz 2014), HF power down.
    lf_gain = [p[2] / r[2] for p, r in zip(paced, rest, strict=True)]
    assert min(lf_gain) > 1.0 and _median(lf_gain) > 3.0, lf_gain
    assert sum(p[3] < r[3] for p, r in zip(paced, rest, strict=True)) >= 0.9 * N_PEOPLE


def _hr_from_beats(ph: Physiology) -> np.ndarray:
    """Per-second HR (bpm) from the beats alone, smoothed over 10 s to remove RSA."""
    t = np.arange(ph.duration_s) + 0.5
    hr = np.interp(t, ph.beat_times_s, 60000.0 / ph.rr_ms)
    return np.convolve(hr, np.ones(10) / 10, mode="same")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exercise_onset_and_recovery_follow_the_documented_time_constants(seed):
    timeline = Timeline(
        (Segment(0, 600, State.REST), Segment(600, 1500, State.EXERCISE), Segment(1500, 2700, State.RECOVERY)),
        start_of_day_s=10 * 3600.0,
    )
    onset, recovery = [], []
    for person in draw_population(6, seed=seed):
        hr = _hr_from_beats(simulate(person, timeline, seed=seed))
        base, peak = hr[420:590].mean(), hr[1300:1490].mean()
        crossed = np.flatnonzero(hr[600:] >= base + 0.632 * (peak - base))[0]
        onset.append(crossed)
        end = hr[2500:2690].mean()
        fallen = np.flatnonzero(hr[1500:] <= peak - 0.632 * (peak - end))[0]
        recovery.append(fallen)
    assert _median(onset) == pytest.approx(HR_TAU_UP_S[State.EXERCISE], abs=12)
    assert _median(recovery) == pytest.approx(HR_TAU_AFTER_EXERCISE_S, abs=25)
    assert _median(recovery) > _median(onset)  # recovery is the slower exponential


def test_sleep_lowers_hr_and_the_circadian_trough_is_at_night():
    night = load_builtin("night").timeline
    person = draw_population(1, seed=4)[0]
    ph = simulate(person, night, seed=4)
    codes = ph.state
    assert ph.hr_bpm[codes == State.SLEEP.code].mean() < ph.hr_bpm[codes == State.REST.code].mean() - 3
    day = simulate(person, Timeline.constant(State.REST, 86400, start_of_day_s=0.0), seed=4)
    trough_h = np.argmin(day.hr_bpm) / 3600.0
    assert 2.0 <= trough_h <= 6.0
    assert 3.0 <= day.hr_bpm.max() - day.hr_bpm.min() <= 10.0


def test_physiology_arrays_are_consistent_on_a_workday():
    scenario = load_builtin("workday")
    for person in draw_population(4, seed=scenario.seed):
        ph = simulate(person, scenario.timeline, seed=scenario.seed)
        n = scenario.timeline.duration_s
        assert ph.beat_times_s.dtype == np.float64 and ph.rr_ms.dtype == np.float64
        assert np.all(np.diff(ph.beat_times_s) > 0)
        assert ph.beat_times_s[0] >= 0 and ph.beat_times_s[-1] < n
        np.testing.assert_allclose(np.diff(ph.beat_times_s) * 1000.0, ph.rr_ms[1:], rtol=1e-9)
        assert ph.rr_ms.min() >= RR_MIN_MS - 1e-6 and ph.rr_ms.max() <= RR_MAX_MS + 1e-6
        for arr in (ph.state, ph.breathing_rate_brpm, ph.hr_bpm, ph.activity):
            assert arr.shape == (n,)
        for seg in scenario.timeline.segments:
            assert set(ph.states()[seg.start_s : seg.end_s]) == {seg.state}
            if seg.paced_breathing_brpm is not None:
                settled = ph.breathing_rate_brpm[seg.start_s + 30 : seg.end_s]
                assert np.all(np.abs(settled - seg.paced_breathing_brpm) < 0.05 * seg.paced_breathing_brpm)
        active = ph.activity[ph.state == State.EXERCISE.code]
        still = ph.activity[ph.state == State.SLEEP.code]
        assert active[120:].min() >= 0.8 > 0.1 >= still.max()
        # Beats agree with the truth HR level: mean beat rate per state within a few bpm of hr_bpm.
        for state in (State.SLEEP, State.REST):
            seconds = ph.state == state.code
            beats_in = seconds[np.floor(ph.beat_times_s).astype(int)]
            beat_hr = 60000.0 / ph.rr_ms[beats_in].mean()
            assert beat_hr == pytest.approx(ph.hr_bpm[seconds].mean(), abs=3.0)


def test_same_seed_same_arrays_other_seed_or_person_differs():
    timeline = Timeline.constant(State.REST, 600)
    a, b = draw_population(2, seed=0)
    one, two = simulate(a, timeline, seed=9), simulate(a, timeline, seed=9)
    for name in ("beat_times_s", "rr_ms", "state", "breathing_rate_brpm", "hr_bpm", "activity"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    assert not np.array_equal(one.rr_ms[:100], simulate(a, timeline, seed=10).rr_ms[:100])
    assert not np.array_equal(one.rr_ms[:100], simulate(b, timeline, seed=9).rr_ms[:100])


def test_a_24_hour_person_day_is_generated_in_well_under_a_second():
    scenario = load_builtin("workday")
    person = draw_population(1, seed=0)[0]
    simulate(person, Timeline.constant(State.REST, 60), seed=0)  # warm imports
    best = min(_timed(lambda: simulate(person, scenario.timeline, seed=0)) for _ in range(3))
    print(f"24-h person-day: {best * 1000:.0f} ms")
    assert best < 1.0


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


@pytest.mark.parametrize("tau_s", [0.3, 10.0, 100.0])
@pytest.mark.parametrize("n", [1, AR1_BLOCK - 1, AR1_BLOCK, 5 * AR1_BLOCK + 17])
def test_ar1_filter_equals_scipy_lfilter(tau_s, n):
    # scipy's direct-form IIR filter is the reference for the closed-form block recursion.
    from scipy.signal import lfilter

    rng = np.random.default_rng(n)
    a = math.exp(-1.0 / (FS_HZ * tau_s))
    e, x_prev = rng.standard_normal(n), float(rng.standard_normal())
    expected = lfilter([1.0], [1.0, -a], e, zi=[a * x_prev])[0]
    np.testing.assert_allclose(ar1_filter(e, a, x_prev), expected, rtol=0, atol=1e-12)


def test_ar1_filter_rejects_an_unstable_coefficient():
    with pytest.raises(ValueError, match="AR"):
        ar1_filter(np.zeros(4), 1.0, 0.0)


def test_the_day_does_not_depend_on_how_it_is_chunked():
    scenario = load_builtin("workday")
    person = draw_population(1, seed=3)[0]
    hourly = simulate(person, scenario.timeline, seed=2)
    for chunk_s in (30, 630, scenario.timeline.duration_s):
        other = simulate(person, scenario.timeline, seed=2, chunk_s=chunk_s)
        for name in ("beat_times_s", "rr_ms", "breathing_rate_brpm", "hr_bpm", "activity"):
            np.testing.assert_array_equal(getattr(other, name), getattr(hourly, name), err_msg=f"{name}, {chunk_s} s")
    with pytest.raises(ValueError, match="multiple"):
        simulate(person, scenario.timeline, seed=2, chunk_s=45)


def test_a_person_day_holds_little_memory_while_it_is_generated():
    # The grid is generated an hour at a time: the peak of Python allocations stays near the output's
    # size (beats in float64, per-second truth in float32), far below a day of 8-Hz float64 arrays.
    import tracemalloc

    scenario = load_builtin("workday")
    person = draw_population(1, seed=0)[0]
    tracemalloc.start()
    try:
        day = simulate(person, scenario.timeline, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = sum(
        getattr(day, n).nbytes for n in ("beat_times_s", "rr_ms", "state", "breathing_rate_brpm", "hr_bpm", "activity")
    )
    one_day_grid_array = scenario.timeline.duration_s * FS_HZ * 8
    assert peak < output + 2 * one_day_grid_array  # a whole-day generator holds ~15 such arrays at once
