"""Simulated ECG and accelerometer waveforms, checked with third-party tools (neurokit2, scipy)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from scipy.signal import welch

from vagus.sim.waveforms import acceleration_mg, ecg_microvolts

FS_ECG = 130.0


def _beats(hr_bpm: float, duration_s: float, seed: int) -> np.ndarray:
    """Beat times with respiratory modulation (±5 % at 0.25 Hz) and 1 % beat-to-beat noise."""
    rng = np.random.default_rng(seed)
    t, beats = 0.0, []
    while t < duration_s:
        t += 60.0 / hr_bpm * (1 + 0.05 * np.sin(2 * np.pi * 0.25 * t) + 0.01 * rng.standard_normal())
        beats.append(t)
    return np.array(beats)


@pytest.mark.parametrize("hr_bpm", [50, 150])
def test_neurokit_finds_the_r_peaks(hr_bpm):
    import neurokit2 as nk

    t0, n = 2.5, int(300 * FS_ECG)
    beats = _beats(hr_bpm, 310.0, seed=hr_bpm)
    ecg = ecg_microvolts(beats, t0, n, FS_ECG, seed=11)
    assert ecg.dtype == np.int32 and ecg.shape == (n,)
    _, info = nk.ecg_peaks(nk.ecg_clean(ecg, sampling_rate=int(FS_ECG)), sampling_rate=int(FS_ECG))
    found = np.asarray(info["ECG_R_Peaks"])
    # Beats whose QRS lies wholly inside the record (the filters need a little signal either side).
    inside = beats[(beats > t0 + 0.5) & (beats < t0 + (n - 1) / FS_ECG - 0.5)]
    where = (inside - t0) * FS_ECG
    nearest = np.abs(found[None, :] - where[:, None]).min(axis=1)
    assert np.mean(nearest <= 1.0) >= 0.99  # ±1 sample = ±7.7 ms
    assert len(found) <= len(inside) + 2  # no extra peaks beyond the edges


def test_ecg_is_reproducible_and_continuous_across_chunks():
    beats = _beats(70, 60.0, seed=1)
    whole = ecg_microvolts(beats, 0.0, 60 * 130, seed=5)
    assert np.array_equal(whole, ecg_microvolts(beats, 0.0, 60 * 130, seed=5))
    # A chunk starting later shares everything but the white noise (6 µV RMS each, so √2 · 6 apart).
    later = ecg_microvolts(beats, 20.0, 30 * 130, seed=5)
    diff = (later - whole[20 * 130 : 50 * 130]).astype(float)
    assert abs(diff.mean()) < 1.0
    assert 6.0 < diff.std() < 11.0
    other = ecg_microvolts(beats, 0.0, 60 * 130, seed=6)
    assert np.abs(other - whole).max() > 100  # another person has another R amplitude


def test_ecg_without_beats_is_baseline():
    quiet = ecg_microvolts(np.array([]), 0.0, 130 * 30, seed=3)
    assert np.abs(quiet).max() < 150


@pytest.mark.parametrize(
    ("beats", "n", "fs", "seed"),
    [
        (np.array([1.0, 1.0]), 10, 130.0, 0),
        (np.array([2.0, 1.0]), 10, 130.0, 0),
        (np.array([1.0, np.nan]), 10, 130.0, 0),
        (np.array([1.0]), -1, 130.0, 0),
        (np.array([1.0]), 10, 0.0, 0),
        (np.array([1.0]), 10, 130.0, -1),
    ],
)
def test_ecg_rejects_bad_input(beats, n, fs, seed):
    with pytest.raises(ValueError):
        ecg_microvolts(beats, 0.0, n, fs, seed=seed)


LEVELS = [0.0, 0.2, 0.5, 1.0, 1.5, 2.0, 3.0]


def _per_second(acc: np.ndarray, fs: int) -> np.ndarray:
    magnitude = np.linalg.norm(acc.astype(float), axis=1)
    return magnitude.reshape(-1, fs)


def test_movement_grows_with_activity():
    fs, seconds = 50, 60
    activity = np.repeat(LEVELS, seconds)
    acc = acceleration_mg(activity, 1000.0, activity.size * fs, float(fs), seed=8)
    assert acc.dtype == np.int16 and acc.shape == (activity.size * fs, 3)
    sd = _per_second(acc, fs).std(axis=1)
    # Skip 2 s at each level's edges, where activity is interpolated between levels.
    means = [sd[i * seconds + 2 : (i + 1) * seconds - 2].mean() for i in range(len(LEVELS))]
    assert all(b > a for a, b in pairwise(means)), means


def test_rest_is_one_g_through_posture_changes():
    fs = 25
    activity = np.zeros(40 * 60)  # 40 min still: several 5-min posture segments and their turns
    acc = acceleration_mg(activity, 123.0, activity.size * fs, float(fs), seed=2)
    magnitude = np.linalg.norm(acc.astype(float), axis=1)
    assert np.all(np.abs(magnitude - 1000.0) <= 50.0)
    # Lying still: gravity leaves the body's vertical (x) axis at least once the first segment ends.
    assert np.abs(acc[-fs * 60 :, 0].astype(float)).mean() < 500
    walking = acceleration_mg(np.ones(120), 123.0, 120 * fs, float(fs), seed=2)
    assert walking[:, 0].mean() > 850  # upright


def test_walking_cadence_is_about_two_hertz():
    fs = 100
    acc = acceleration_mg(np.ones(120), 0.0, 120 * fs, float(fs), seed=4)
    freq, power = welch(acc[:, 0].astype(float), fs=fs, nperseg=1024)
    assert 1.8 <= freq[np.argmax(power)] <= 2.2
    running = acceleration_mg(np.full(120, 2.5), 0.0, 120 * fs, float(fs), seed=4)
    freq, power = welch(running[:, 0].astype(float), fs=fs, nperseg=1024)
    assert 2.4 <= freq[np.argmax(power)] <= 3.0


def test_acceleration_is_reproducible_and_rejects_bad_input():
    activity = np.linspace(0, 2, 30)
    a = acceleration_mg(activity, 0.0, 30 * 52, 52.0, seed=1)
    assert np.array_equal(a, acceleration_mg(activity, 0.0, 30 * 52, 52.0, seed=1))
    assert acceleration_mg(activity, 0.0, 0, 52.0, seed=1).shape == (0, 3)
    with pytest.raises(ValueError, match="covers"):
        acceleration_mg(activity, 0.0, 31 * 52, 52.0, seed=1)
    with pytest.raises(ValueError):
        acceleration_mg(-activity - 1, 0.0, 52, 52.0, seed=1)
    with pytest.raises(ValueError):
        acceleration_mg(activity, 0.0, 52, 52.0, seed=-3)
