"""Sensor waveforms for simulated devices that stream them: a chest ECG and a 3-axis accelerometer.

Both are vectorised numpy functions of absolute time (seconds on the simulation clock), so a whole
day is generated in one call and consecutive chunks join smoothly: everything except the white noise
is a deterministic function of (``seed``, time). The noise stream is seeded by (``seed``, index of the
first sample), so equal arguments give equal arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ECG_WAVES", "EcgWave", "acceleration_mg", "ecg_microvolts"]

# ---------------------------------------------------------------------------------------------------
# ECG


@dataclass(frozen=True, slots=True)
class EcgWave:
    """One Gaussian wave of the ECGSYN morphology (McSharry et al. 2003, IEEE TBME 50:289, Table 1).

    ``theta_rad`` is the wave's angle from the R peak on the beat's 2π cycle, ``a`` and ``b`` the
    paper's amplitude and width. Integrating ECGSYN's ż = −a·Δθ·exp(−Δθ²/2b²) over one beat gives a
    Gaussian of height a·b² (times 1/ω, which cancels the heart-rate widening of b below), which is
    what is summed here instead of integrating the ODE. ECGSYN scales θ_P, θ_T by (HR/60)^¼ and
    θ_Q, θ_S by (HR/60)^½ (``rate_exponent``; ecgsyn.m ``ti = [hrfact2 hrfact 1 hrfact hrfact2].*ti``)
    and every b by (HR/60)^½; it uses the record's mean HR, this module each beat's own RR.
    """

    name: str
    theta_rad: float
    a: float
    b: float
    rate_exponent: float


ECG_WAVES: tuple[EcgWave, ...] = (
    EcgWave("P", -math.pi / 3, 1.2, 0.25, 0.25),
    EcgWave("Q", -math.pi / 12, -5.0, 0.1, 0.5),
    EcgWave("R", 0.0, 30.0, 0.1, 0.0),
    EcgWave("S", math.pi / 12, -7.5, 0.1, 0.5),
    EcgWave("T", math.pi / 2, 0.75, 0.4, 0.25),
)

_R_HEIGHT = 30.0 * 0.1**2  # a·b² of the R wave: the unit the amplitudes below are relative to
_SUPPORT = 5.0  # a wave is evaluated within ±5 σ of its centre (beyond, it is < 4e-6 of its height)
_BEATS_PER_BLOCK = 8192  # bounds the temporaries to a few tens of MB
_RR_CLAMP_S = (0.25, 2.0)  # morphology scaling only; a long pause must not stretch the T wave for seconds


def _rng(seed: int, *key: int) -> np.random.Generator:
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng([seed, *(k & ((1 << 63) - 1) for k in key)])


def _check_timing(t0_s: float, n_samples: int, fs_hz: float) -> None:
    if n_samples < 0:
        raise ValueError(f"n_samples must be ≥ 0, got {n_samples}")
    if not (math.isfinite(fs_hz) and fs_hz > 0):
        raise ValueError(f"fs_hz must be a positive number, got {fs_hz}")
    if not math.isfinite(t0_s):
        raise ValueError(f"t0_s must be finite, got {t0_s}")


def ecg_microvolts(
    beat_times_s: np.ndarray, t0_s: float, n_samples: int, fs_hz: float = 130.0, *, seed: int
) -> np.ndarray:
    """A synthetic single-lead chest ECG in µV (int32), R peaks at ``beat_times_s``.

    Sample i is at ``t0_s + i / fs_hz`` (s, the same clock as ``beat_times_s``, which must increase
    strictly). Each beat is the ECGSYN sum of P, Q, R, S, T Gaussians (McSharry et al. 2003), timed and
    widened by the RR interval that ends at it (the first beat uses the one after it). The person
    (``seed``) sets the R amplitude (0.9–1.6 mV, a chest-strap lead) and a respiratory-band baseline
    wander (0.05–0.35 Hz, ≤ ~80 µV); white noise of 6 µV RMS is added. Samples far from any beat are
    baseline only. 24 h at 130 Hz takes about a second.
    """
    _check_timing(t0_s, n_samples, fs_hz)
    beats = np.asarray(beat_times_s, dtype=np.float64)
    if beats.ndim != 1 or not np.all(np.isfinite(beats)):
        raise ValueError("beat_times_s must be a 1-D array of finite times")
    if beats.size > 1 and np.any(np.diff(beats) <= 0):
        raise ValueError("beat_times_s must increase strictly")
    person = _rng(seed)
    r_uv = person.uniform(900.0, 1600.0)
    wander_f = person.uniform(0.05, 0.35, size=3)
    wander_a = person.uniform(10.0, 30.0, size=3)
    wander_p = person.uniform(0.0, 2 * math.pi, size=3)

    # Per-beat wave centres (s from R) and widths (s): angle → time via RR/2π (one beat = one cycle).
    if beats.size >= 2:
        rr = np.diff(beats)
        rr = np.concatenate([rr[:1], rr])
    else:
        rr = np.full(beats.size, 1.0)
    # Only beats whose waves can reach the samples matter (a wave spans < 1 RR ≤ the clamp): a
    # chunk of a long recording then costs its own beats, not the whole day's.
    margin_s = 2 * _RR_CLAMP_S[1]
    lo, hi = np.searchsorted(beats, [t0_s - margin_s, t0_s + n_samples / fs_hz + margin_s])
    beats, rr = beats[lo:hi], rr[lo:hi]
    rr = np.clip(rr, *_RR_CLAMP_S)
    hr_factor = 1.0 / rr  # HR/60, with RR in s
    theta = np.array([w.theta_rad for w in ECG_WAVES])
    expo = np.array([w.rate_exponent for w in ECG_WAVES])
    b = np.array([w.b for w in ECG_WAVES])
    cycle = rr[:, None] / (2 * math.pi)
    mu = theta[None, :] * hr_factor[:, None] ** expo[None, :] * cycle
    # ECGSYN widens every b by sqrt(HR/60); in time that keeps ~constant QRS width (~16 ms at 60 bpm).
    sigma = b[None, :] * np.sqrt(hr_factor)[:, None] * cycle
    height = np.array([w.a * w.b**2 for w in ECG_WAVES]) / _R_HEIGHT * r_uv
    inv2s2 = 1.0 / (2 * sigma**2)

    # Baseline wander and noise on the sample grid, then each wave added only where it is not
    # negligible (±_SUPPORT σ around its centre): ~150 samples per beat instead of 5 waves per sample.
    # The wander (< 0.4 Hz) is computed on a 10 Hz grid and interpolated: sines cost more than interp.
    t_rel = np.arange(n_samples, dtype=np.float64) / fs_hz
    grid = np.arange(0.0, n_samples / fs_hz + 0.2, 0.1)
    wander = sum(
        a * np.sin(2 * math.pi * f * (t0_s + grid) + p) for f, a, p in zip(wander_f, wander_a, wander_p, strict=True)
    )
    x = np.interp(t_rel, grid, wander)
    x += _rng(seed, round(t0_s * fs_hz)).standard_normal(n_samples) * 6.0
    t_end = t0_s + n_samples / fs_hz
    reach = _SUPPORT * float(sigma.max(initial=0.0)) + float(np.abs(mu).max(initial=0.0))
    first, last = np.searchsorted(beats, [t0_s - reach, t_end + reach])
    for lo in range(int(first), int(last), _BEATS_PER_BLOCK):
        hi = min(lo + _BEATS_PER_BLOCK, int(last))
        for w in range(len(ECG_WAVES)):
            centre = (beats[lo:hi] + mu[lo:hi, w] - t0_s) * fs_hz  # in samples from sample 0
            half = math.ceil(_SUPPORT * float(sigma[lo:hi, w].max()) * fs_hz)
            idx = np.floor(centre).astype(np.int64)[:, None] + np.arange(-half, half + 1)
            val = height[w] * np.exp(-(((idx - centre[:, None]) / fs_hz) ** 2) * inv2s2[lo:hi, w, None])
            keep = (idx >= 0) & (idx < n_samples)
            idx, val = idx[keep], val[keep]
            if idx.size:
                base = int(idx.min())
                summed = np.bincount(idx - base, weights=val)
                x[base : base + summed.size] += summed
    return np.rint(x).astype(np.int32)


# ---------------------------------------------------------------------------------------------------
# Accelerometer

_POSTURE_S = 300.0  # posture may change at each 5-min boundary of the simulation clock
_TURN_S = 4.0  # seconds a posture change takes
_LYING_BELOW = 0.05  # a posture segment whose mean activity stays below this is spent lying down


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _posture(seed: int, segment: int, lying: bool) -> np.ndarray:
    """Gravity direction in the device frame (x = body vertical when upright, z = out of the chest)."""
    rng = _rng(seed, 1, segment)
    if lying:
        # On the back, front or either side, rolled up to 20°.
        base = np.array([[0, 0, 1], [0, 0, -1], [0, 1, 0], [0, -1, 0]], dtype=float)[rng.integers(4)]
        tilt = math.radians(20)
    else:
        base, tilt = np.array([1.0, 0.0, 0.0]), math.radians(15)
    return _unit(base + rng.uniform(-math.tan(tilt), math.tan(tilt), size=3) * (base == 0))


def _rotate_towards(g0: np.ndarray, g1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rotate unit vectors g0 towards g1 by the fraction w along the great circle (Rodrigues)."""
    axis = np.cross(g0, g1)
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    # Opposite postures (back → front): any axis perpendicular to g0 will do.
    fallback = np.cross(g0, np.where(np.abs(g0[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]))
    axis = np.where(norm > 1e-9, axis, fallback)
    axis = _unit(axis)
    angle = np.arccos(np.clip(np.sum(g0 * g1, axis=-1), -1.0, 1.0)) * w
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    return g0 * c + np.cross(axis, g0) * s + axis * np.sum(axis * g0, axis=-1, keepdims=True) * (1 - c)


def acceleration_mg(activity: np.ndarray, t0_s: float, n_samples: int, fs_hz: float, *, seed: int) -> np.ndarray:
    """3-axis acceleration in mG, shape (n_samples, 3) int16, of a chest-worn sensor.

    ``activity`` has one value per second from ``t0_s`` (0 still or asleep, ~1 walking, ~2+ running)
    and must cover the ``n_samples / fs_hz`` seconds. The signal is gravity (1 g ± the person's 1 %
    gain error, along +x when upright; lying when a 5-min posture segment is still) turning smoothly
    between postures, plus gait: a vertical bounce at the step cadence (1.6 Hz at slow walking, 2 Hz
    at activity 1, 2.8 Hz at 3; adults walk at ~100–120 steps/min), lateral sway at half the
    cadence and fore-aft surge, with amplitudes proportional to activity (~0.3 g vertical when
    walking), and broadband noise of 4 mG plus 30 mG × activity.
    """
    _check_timing(t0_s, n_samples, fs_hz)
    act = np.asarray(activity, dtype=np.float64)
    if act.ndim != 1 or not np.all(np.isfinite(act)) or np.any(act < 0):
        raise ValueError("activity must be a 1-D array of finite values ≥ 0, one per second")
    if act.size < math.ceil(n_samples / fs_hz):
        raise ValueError(
            f"activity covers {act.size} s; {n_samples} samples at {fs_hz} Hz need {n_samples / fs_hz:.1f} s"
        )
    if n_samples == 0:
        return np.zeros((0, 3), dtype=np.int16)
    person = _rng(seed, 2)
    gain = person.uniform(0.99, 1.01)
    wobble = person.uniform(0.005, 0.02, size=2)
    t_rel = np.arange(n_samples, dtype=np.float64) / fs_hz
    a = np.interp(t_rel, np.arange(act.size) + 0.5, act)
    out = _gravity(act, t0_s, n_samples, fs_hz, seed) * np.float32(1000.0 * gain)

    # Gait. The phase integrates the cadence (so it stays continuous when the pace changes) on a
    # 10 Hz grid, then is interpolated; it is reduced mod 4π (the sway runs at half the cadence)
    # before float32 sines.
    grid = np.arange(0.0, n_samples / fs_hz + 0.2, 0.1)
    a_grid = np.interp(grid, np.arange(act.size) + 0.5, act)
    cadence = np.where(a_grid < 1.0, 1.6 + 0.4 * a_grid, 2.0 + 0.4 * (a_grid - 1.0)).clip(max=3.2)
    tg = t0_s + grid
    cadence *= 1.0 + wobble[0] * np.sin(2 * math.pi * tg / 37.0) + wobble[1] * np.sin(2 * math.pi * tg / 11.0)
    phase_grid = 2 * math.pi * 0.1 * np.concatenate([[0.0], np.cumsum(cadence[:-1])])
    phase = np.mod(np.interp(t_rel, grid, phase_grid), 4 * math.pi).astype(np.float32)
    a32 = a.astype(np.float32)
    out[:, 0] += 300.0 * a32 * (np.sin(phase) + 0.25 * np.sin(2 * phase + np.float32(0.7)))
    out[:, 1] += 80.0 * a32 * np.sin(0.5 * phase)
    out[:, 2] += 120.0 * a32 * np.cos(phase)
    noise = _rng(seed, 3, round(t0_s * fs_hz)).standard_normal((n_samples, 3), dtype=np.float32)
    noise *= (4.0 + 30.0 * a32)[:, None]
    out += noise
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def _gravity(act: np.ndarray, t0_s: float, n_samples: int, fs_hz: float, seed: int) -> np.ndarray:
    """Unit gravity vectors (n, 3) float32: one posture per absolute 5-min segment, turning smoothly
    towards the next posture during a segment's last _TURN_S seconds."""
    first = math.floor(t0_s / _POSTURE_S)
    last = math.floor((t0_s + (n_samples - 1) / fs_hz) / _POSTURE_S)
    # A segment spent (on average) still is spent lying down.
    seg_of_second = np.floor((t0_s + np.arange(act.size) + 0.5) / _POSTURE_S).astype(np.int64) - first
    keep = seg_of_second <= last - first + 1
    seconds = np.bincount(seg_of_second[keep], minlength=last - first + 2)
    totals = np.bincount(seg_of_second[keep], weights=act[keep], minlength=last - first + 2)
    lying = (seconds > 0) & (totals < _LYING_BELOW * np.maximum(seconds, 1))
    grav = np.array([_posture(seed, first + k, bool(lie)) for k, lie in enumerate(lying)])
    # Sample index at which each segment after the first begins.
    starts = np.ceil(((np.arange(first + 1, last + 2) * _POSTURE_S) - t0_s) * fs_hz).astype(np.int64)
    counts = np.diff(np.concatenate([[0], np.minimum(starts, n_samples)]))
    out = np.repeat(grav[: last - first + 1].astype(np.float32), counts, axis=0)
    turn = math.ceil(_TURN_S * fs_hz)
    for k, boundary in enumerate(starts):
        lo, hi = max(int(boundary) - turn, 0), min(int(boundary), n_samples)
        if lo >= hi:
            continue
        into_turn = ((t0_s + np.arange(lo, hi) / fs_hz) - (first + k + 1) * _POSTURE_S + _TURN_S) / _TURN_S
        w = 0.5 - 0.5 * np.cos(math.pi * np.clip(into_turn, 0.0, 1.0))
        out[lo:hi] = _rotate_towards(grav[k][None, :], grav[k + 1][None, :], w)
    return out
