"""Breathing rate from RSA (spectral peak, breath count, agreement): hand-computable signals, then simulated people.

The simulated people here use seeds that were not used to set the estimator's gates (those were
population 7 / physiology 11, see signal/src/breathing.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vagus.signal import BeatSource, RollingWindow, WindowConfig
from vagus.signal.breathing import BreathingParams, breathing_rate, counted_brpm, zero_phase_bandpass
from vagus.signal.records import Beat, NullReason
from vagus.sim import draw_population, simulate
from vagus.sim.physiology import State
from vagus.sim.scenario import Segment, Timeline


def modulated_rr(duration_s: float, *, mean_ms: float = 900.0, parts=(), noise_ms: float = 0.0, seed: int = 0):
    """RR intervals whose value at each beat is mean + Σ a·sin(2π f t): a heart period modulated at f."""
    rng = np.random.default_rng(seed)
    t, out = 0.0, []
    while t < duration_s:
        rr = mean_ms + sum(a * math.sin(2 * math.pi * f * t) for f, a in parts) + rng.normal(0, noise_ms)
        out.append(rr)
        t += rr / 1000.0
    return np.array(out)


@pytest.mark.parametrize("f_hz", [0.2, 0.25, 0.3, 0.45])
def test_a_pure_rsa_gives_its_frequency(f_hz):
    est = breathing_rate(modulated_rr(60, parts=[(f_hz, 40.0)]))
    assert est.rate_brpm == pytest.approx(60 * f_hz, abs=0.25)
    assert est.quality > 0.75 and est.reason is None


def test_the_mayer_wave_is_not_mistaken_for_breathing():
    # A strong 0.1 Hz baroreflex wave plus noise and no breathing peak: nothing in the HF band.
    est = breathing_rate(modulated_rr(120, parts=[(0.1, 60.0)], noise_ms=3.0, seed=2))
    assert est.rate_brpm is None and est.reason == NullReason.LOW_QUALITY


def test_paced_breathing_is_found_where_the_pacer_says():
    rr = modulated_rr(120, parts=[(0.1, 80.0), (0.25, 8.0)])
    assert breathing_rate(rr).rate_brpm == pytest.approx(15.0, abs=0.5)  # spontaneous band: the small HF peak
    assert breathing_rate(rr, paced_brpm=6.0).rate_brpm == pytest.approx(6.0, abs=0.2)


def test_rsa_below_the_power_gate_is_not_reported():
    # 2 ms of RSA (as in hard exercise) is ~2 ms² of power: below the 10 ms² gate.
    est = breathing_rate(modulated_rr(60, mean_ms=400.0, parts=[(0.5, 2.0)]))
    assert est.rate_brpm is None and est.reason == NullReason.LOW_QUALITY
    loose = breathing_rate(
        modulated_rr(60, mean_ms=400.0, parts=[(0.5, 2.0)]), params=BreathingParams(min_peak_power_ms2=0.1)
    )
    assert loose.rate_brpm == pytest.approx(30.0, abs=0.3)


def test_short_flat_and_invalid_input():
    assert breathing_rate(modulated_rr(20, parts=[(0.25, 40.0)])).reason == NullReason.WINDOW_TOO_SHORT
    assert breathing_rate(np.full(100, 800.0)).reason == NullReason.NO_VARIABILITY
    with pytest.raises(ValueError):
        breathing_rate([800.0, -1.0, 800.0])
    with pytest.raises(ValueError):
        breathing_rate(modulated_rr(60, parts=[(0.25, 40.0)]), paced_brpm=100.0)
    with pytest.raises(ValueError):
        BreathingParams(band_hz=(0.5, 0.2))
    with pytest.raises(ValueError):
        BreathingParams(count_threshold=1.0)
    with pytest.raises(ValueError):
        BreathingParams(max_disagreement_brpm=0.0)
    with pytest.raises(ValueError):
        BreathingParams(count_edge_s=20.0)


def rr_with_rates(rates_hz, duration_s=60.0, *, amplitude_ms=30.0, mean_ms=900.0):
    """RR whose RSA runs at rates_hz[k] in the k-th equal part of the window (phase continuous)."""
    t, phase, out = 0.0, 0.0, []
    while t < duration_s:
        rr = mean_ms + amplitude_ms * math.sin(phase)
        out.append(rr)
        t += rr / 1000.0
        part = min(int(t / duration_s * len(rates_hz)), len(rates_hz) - 1)
        phase += 2 * math.pi * rates_hz[part] * rr / 1000.0
    return np.array(out)


def test_the_band_pass_is_butterworth_forward_and_backward():
    # Independent reference: scipy's digital Butterworth (bilinear transform) through sosfiltfilt.
    from scipy import signal

    x = np.random.default_rng(1).standard_normal(2400).cumsum()
    sos = signal.butter(6, [0.15, 0.7], btype="bandpass", fs=4.0, output="sos")
    expected = signal.sosfiltfilt(sos, x)
    got = zero_phase_bandpass(x, 4.0, (0.15, 0.7), order=6)
    inner = slice(120, -120)  # 30 s from the ends, where the two paddings differ
    rms = np.sqrt(np.mean(expected[inner] ** 2))
    assert np.sqrt(np.mean((got[inner] - expected[inner]) ** 2)) < 0.03 * rms
    # A tone in the pass band passes at full amplitude; one below it is removed.
    t = np.arange(2400) / 4.0
    in_band = zero_phase_bandpass(np.sin(2 * np.pi * 0.3 * t), 4.0, (0.15, 0.7))
    below = zero_phase_bandpass(np.sin(2 * np.pi * 0.05 * t), 4.0, (0.15, 0.7))
    assert np.ptp(in_band[400:-400]) == pytest.approx(2, rel=0.01)
    assert np.ptp(below[400:-400]) < 1e-3


def test_the_count_gives_the_mean_rate_where_the_rate_changes():
    # 12/min for half a minute, then 18/min: 6 + 9 breaths in a minute, 15/min, which is what a belt
    # counting breaths reports; the spectral peak picks one of the two rhythms.
    est = breathing_rate(rr_with_rates([0.2, 0.3]))
    assert est.counted_brpm == pytest.approx(15.0, abs=0.5)
    assert est.rate_brpm == est.counted_brpm
    assert abs(est.spectral_brpm - 15.0) > 2.0


def test_counting_a_known_number_of_cycles():
    # Count-adv by hand: a 0.25 Hz tone at 4 Hz has extrema every 2 s, on samples; with the 3-s
    # edges left out, the maxima run from the first to the last inside and the rate is 15/min.
    t = np.arange(240) / 4.0
    x = 900.0 + 40.0 * np.sin(2 * np.pi * 0.25 * t)
    assert counted_brpm(x, 4.0, (0.15, 0.7)) == pytest.approx(15.0, abs=1e-6)
    # Extrema are whole samples: off the grid the span is off by up to a sample (here 1 in 208).
    shifted = 900.0 + 40.0 * np.sin(2 * np.pi * 0.25 * t + 0.3)
    assert counted_brpm(shifted, 4.0, (0.15, 0.7)) == pytest.approx(15.0, rel=1 / 200)
    # Small wiggles (< 0.1 × Q3 of the extrema distances) are deleted, not counted as breaths.
    wiggle = x + 0.5 * np.sin(2 * np.pi * 0.65 * t)
    assert counted_brpm(wiggle, 4.0, (0.15, 0.7)) == pytest.approx(15.0, abs=0.1)
    assert counted_brpm(x[:8], 4.0, (0.15, 0.7), edge_s=0.0) is None  # under one whole cycle


def test_when_count_and_spectrum_disagree_no_rate_is_reported():
    # A slow 0.16-Hz swing holds most of the power, faster breathing makes most of the cycles:
    # the spectral peak says ~9.6/min, the count ~20/min; not one clear rhythm, so no number.
    est = breathing_rate(modulated_rr(60, parts=[(0.16, 30.0), (0.45, 15.0)]))
    assert est.spectral_brpm == pytest.approx(9.6, abs=0.3)
    assert est.counted_brpm is not None and est.counted_brpm - est.spectral_brpm > 4.0
    assert est.rate_brpm is None and est.reason == NullReason.LOW_QUALITY
    # With the agreement rule relaxed, the count is what is reported.
    loose = breathing_rate(
        modulated_rr(60, parts=[(0.16, 30.0), (0.45, 15.0)]), params=BreathingParams(max_disagreement_brpm=30.0)
    )
    assert loose.rate_brpm == est.counted_brpm


@pytest.fixture(scope="module")
def simulated():
    timeline = Timeline(
        (
            Segment(0, 600, State.REST),
            Segment(600, 900, State.REST, 6.0),
            Segment(900, 1500, State.STRESS),
            Segment(1500, 2100, State.EXERCISE),
            Segment(2100, 3300, State.SLEEP),
        ),
        start_of_day_s=10 * 3600.0,
    )
    return [simulate(p, timeline, seed=202) for p in draw_population(20, 101)]


def windows(ph, lo_s: int, hi_s: int):
    bt = ph.beat_times_s
    rr = np.diff(bt) * 1000.0
    for w0 in range(lo_s, hi_s - 60 + 1, 30):
        sel = (bt[1:] >= w0) & (bt[1:] < w0 + 60)
        yield rr[sel], float(np.mean(ph.breathing_rate_brpm[w0 : w0 + 60]))


def test_simulated_people_at_rest_under_stress_and_asleep(simulated):
    errors, reported, total = [], 0, 0
    for ph in simulated:
        # Skip the first minutes after each state change: the truth moves within the window.
        for lo, hi in ((60, 600), (1020, 1500), (2280, 3300)):
            for rr, truth in windows(ph, lo, hi):
                total += 1
                est = breathing_rate(rr)
                if est.rate_brpm is not None:
                    reported += 1
                    errors.append(abs(est.rate_brpm - truth))
    assert np.mean(errors) <= 1.5  # the target (breaths/min)
    assert reported / total >= 0.9  # and the gate lets clean windows through


def test_simulated_paced_breathing_and_exercise(simulated):
    paced = [breathing_rate(rr, paced_brpm=6.0).rate_brpm for ph in simulated for rr, _ in windows(ph, 660, 900)]
    assert all(r is not None and abs(r - 6.0) < 0.5 for r in paced)
    exercise = [breathing_rate(rr) for ph in simulated for rr, _ in windows(ph, 1620, 2100)]
    assert np.mean([e.rate_brpm is None for e in exercise]) >= 0.8  # RSA too small to read: gated


def test_the_window_engine_reports_breathing_in_short_windows(simulated):
    ph = simulated[0]
    engine = RollingWindow("d", WindowConfig(correction="none", nonlinear=False))
    t0 = 1_800_000_000.0
    records = []
    for t, rr in zip(ph.beat_times_s[1:], np.diff(ph.beat_times_s) * 1000.0, strict=True):
        if t > 600:
            break
        records += engine.push(Beat(device_id="d", t_utc_s=t0 + t, rr_ms=float(rr), source=BeatSource.FILE))
    short = [r for r in records if r.window_nominal_s == 60.0 and r.window_s >= 60.0 - 1e-6]
    long = [r for r in records if r.window_nominal_s == 300.0]
    truth = float(np.mean(ph.breathing_rate_brpm[60:600]))
    rates = [r.breathing_rate_brpm for r in short if r.breathing_rate_brpm is not None]
    assert len(rates) >= 0.9 * len(short) and abs(np.median(rates) - truth) < 1.0
    assert all(
        r.breathing_rate_brpm is None and r.null_reasons["breathing_rate_brpm"] == NullReason.NOT_COMPUTED for r in long
    )
