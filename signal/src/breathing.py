"""Breathing rate from RR intervals: respiratory sinus arrhythmia (RSA), counted and cross-checked.

Breathing modulates the heart period (RSA): the heart speeds up on inhalation and slows on
exhalation, so the RR series oscillates at the breathing frequency. Two estimates are made from
the same resampled series and the rate is reported only where they agree:

1. the RR series (ms) is resampled at ``fs_hz`` (4 Hz, linear interpolation at the beat times);
2. **spectral peak** (Schäfer & Kratky 2008's "Spec-FT", with a quality gate): linear trend
   removed, Hann taper, periodogram zero padded to a 0.002-Hz grid, the largest peak inside the
   search band refined by parabolic interpolation of the log power (Quinn 1994, IEEE TSP 42:1264,
   for the idea). **Quality** is the share of the band's power within ±``peak_half_width_hz`` of
   the peak: a clean RSA concentrates its power there, noise or irregular breathing spreads it.
   Below ``min_quality``, or when the power around the peak is under ``min_peak_power_ms2`` (RSA
   all but gone, as in exercise), no rate is reported (``NullReason.LOW_QUALITY``);
3. **breath count** (Schäfer & Kratky 2008's "Count-adv", the method their comparison against a
   respiration belt found best for the mean rate): the series band-passed to the search band
   (zero phase: the squared magnitude of a 6th-order Butterworth band-pass, as ``filtfilt``
   applies it, computed on the FFT of the reflect-padded series), its local extrema taken, and
   the pair of neighbouring extrema with the smallest vertical distance deleted repeatedly while
   that distance is under ``count_threshold`` × the third quartile of all such distances (0.1
   for an RR series; 0.3 is the value for a respiration signal). The rate is the number of
   maximum-to-maximum cycles over their duration; extrema in the filter's end transient
   (``count_edge_s``, 3 s, at either end) are not counted. A count measures the mean breath-to-breath
   rate, which a respiration belt reports, where a spectral peak picks one dominant rhythm;
4. **agreement**: the count is reported when the spectral gate passes and the two estimates lie
   within ``max_disagreement_brpm`` (4 breaths/min) of each other, else ``LOW_QUALITY``. Keeping
   only estimates that agree is Karlen et al.'s "smart fusion" (2013, IEEE TBME 60:1946: several
   respiratory modulations, reported when their spread is under 4 breaths/min), applied here to
   two estimators of the one modulation an RR stream carries.

The default band is 0.15–0.70 Hz (9–42 breaths/min). Its lower edge is the HF band's (Task Force
1996): searching lower locks onto the ~0.1 Hz Mayer (baroreflex) wave instead of breathing
(signal.md §5, from validation against a respiration belt). During a paced-breathing exercise at
~6/min the RSA peak lies in the LF band; pass the pacer's rate (``paced_brpm``) and the band
becomes the pacer's frequency ± 0.04 Hz. RSA-based estimates are good for young people at rest in
windows over a minute and degrade with age and during exercise, when RSA shrinks (Schäfer & Kratky
2008, Ann Biomed Eng 36:476); the quality gate is what keeps exercise windows from reporting a
number. The count's threshold (0.1 rather than 0.3), its band (the search band rather than the
paper's 0.1–0.5 Hz), the 3-s edge and the agreement rule were chosen on simulated people of tuning seeds
(population 7), not on the evaluation set or the real recording (docs/indicators.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from ._input import validated_rr
from .records import NullReason

__all__ = ["BreathingEstimate", "BreathingParams", "breathing_rate", "counted_brpm", "zero_phase_bandpass"]


@dataclass(frozen=True, slots=True)
class BreathingParams:
    fs_hz: float = 4.0
    band_hz: tuple[float, float] = (0.15, 0.70)
    resolution_hz: float = 0.002
    peak_half_width_hz: float = 0.03
    min_quality: float = 0.35
    # RSA power (ms²) within ±peak_half_width_hz of the peak. Resting RSA is ~100–1000 ms²; during
    # exercise it shrinks to ~1 ms², where the "peak" is noise. Set on simulated people of tuning
    # seeds (population 7, physiology 11), not the frozen evaluation set; see docs/indicators.md.
    min_peak_power_ms2: float = 10.0
    min_duration_s: float = 30.0  # at least ~5 cycles at 10 breaths/min
    # Count-adv (Schäfer & Kratky 2008): extrema pairs closer than this × Q3 of all neighbour
    # distances are deleted (0.1 for an RR series; 0.3 for a respiration signal).
    count_threshold: float = 0.1
    filter_order: int = 6  # Butterworth order of the count's zero-phase band-pass
    # Extrema this close to either end of the window are not counted: the band-pass's end
    # transient (about half a cycle at the band's 0.15-Hz lower edge).
    count_edge_s: float = 3.0
    # Largest gap between the count and the spectral peak (breaths/min) for a rate to be reported:
    # Karlen et al. 2013's 4 breaths/min agreement rule.
    max_disagreement_brpm: float = 4.0

    def __post_init__(self) -> None:
        lo, hi = self.band_hz
        if not 0 < lo < hi < self.fs_hz / 2:
            raise ValueError(f"band_hz must satisfy 0 < lo < hi < fs/2, got {self.band_hz}")
        if not 0 < self.min_quality < 1:
            raise ValueError(f"min_quality must lie in (0, 1), got {self.min_quality}")
        if not 0 <= self.count_threshold < 1:
            raise ValueError(f"count_threshold must lie in [0, 1), got {self.count_threshold}")
        if not 0 <= self.count_edge_s < self.min_duration_s / 2:
            raise ValueError(f"count_edge_s must lie in [0, min_duration_s / 2), got {self.count_edge_s}")
        if self.filter_order < 1:
            raise ValueError(f"filter_order must be >= 1, got {self.filter_order}")
        if not self.max_disagreement_brpm > 0:
            raise ValueError(f"max_disagreement_brpm must be > 0, got {self.max_disagreement_brpm}")


@dataclass(frozen=True, slots=True)
class BreathingEstimate:
    """``rate_brpm`` (breaths/min) or None with ``reason``; ``quality`` 0–1 (see module docstring).

    ``spectral_brpm`` and ``counted_brpm`` are the two estimates behind the rate (None where one
    was not reached), kept for inspection and evaluation.
    """

    rate_brpm: float | None
    quality: float
    reason: NullReason | None = None
    spectral_brpm: float | None = None
    counted_brpm: float | None = None


def breathing_rate(
    rr_ms: npt.ArrayLike, *, paced_brpm: float | None = None, params: BreathingParams = BreathingParams()
) -> BreathingEstimate:
    """Breathing rate (breaths/min) of an RR series (ms, consecutive intervals, no gaps).

    ``paced_brpm``: the rate of a breathing pacer the person follows, if any; the search band is
    then centred on it (±0.04 Hz), because slow paced breathing moves the RSA peak into LF.
    """
    rr = validated_rr(rr_ms)
    t_s = np.cumsum(rr) / 1000.0
    duration_s = float(t_s[-1] - t_s[0]) if rr.size > 1 else 0.0
    if duration_s < params.min_duration_s:
        return BreathingEstimate(None, 0.0, NullReason.WINDOW_TOO_SHORT)
    if float(np.ptp(rr)) == 0.0:
        return BreathingEstimate(None, 0.0, NullReason.NO_VARIABILITY)
    lo, hi = params.band_hz
    if paced_brpm is not None:
        if not 2.0 <= paced_brpm <= 40.0:
            raise ValueError(f"paced_brpm must lie in 2–40, got {paced_brpm}")
        centre = paced_brpm / 60.0
        lo, hi = max(centre - 0.04, 0.02), centre + 0.04

    fs = params.fs_hz
    grid = np.arange(t_s[0], t_s[-1], 1.0 / fs)
    resampled = np.interp(grid, t_s, rr)
    ramp = np.arange(resampled.size) - (resampled.size - 1) / 2.0
    x = resampled - resampled.mean()
    x = x - ramp * (float(x @ ramp) / float(ramp @ ramp))
    taper = np.hanning(x.size)
    x *= taper
    nfft = 1 << max(math.ceil(math.log2(max(x.size, fs / params.resolution_hz))), 1)
    # One-sided power spectral density in ms²/Hz (periodogram with the taper's energy), so that
    # summing bins × bin width gives power in ms².
    power = np.abs(np.fft.rfft(x, n=nfft)) ** 2 * (2.0 / (fs * float(taper @ taper)))
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    first, stop = np.searchsorted(freqs, [lo, hi], side="left")
    band = power[first:stop]
    total = float(band.sum())
    if band.size < 3 or total <= 0.0:
        return BreathingEstimate(None, 0.0, NullReason.NO_VARIABILITY)
    k = int(np.argmax(band)) + int(first)
    f_peak = float(freqs[k])
    if first < k < stop - 1:
        a, b, c = np.log(power[k - 1 : k + 2] + 1e-300)
        denom = a - 2 * b + c
        if denom < 0:
            f_peak += 0.5 * (a - c) / denom * float(freqs[1] - freqs[0])
    near = np.abs(freqs[first:stop] - f_peak) <= params.peak_half_width_hz
    quality = float(band[near].sum()) / total
    peak_power_ms2 = float(band[near].sum()) * float(freqs[1] - freqs[0])
    spectral = float(60.0 * f_peak)
    if quality < params.min_quality or peak_power_ms2 < params.min_peak_power_ms2:
        return BreathingEstimate(None, quality, NullReason.LOW_QUALITY, spectral_brpm=spectral)
    counted = counted_brpm(
        resampled,
        fs,
        (lo, hi),
        threshold=params.count_threshold,
        order=params.filter_order,
        edge_s=params.count_edge_s,
    )
    if counted is None or abs(counted - spectral) > params.max_disagreement_brpm:
        return BreathingEstimate(None, quality, NullReason.LOW_QUALITY, spectral_brpm=spectral, counted_brpm=counted)
    return BreathingEstimate(counted, quality, spectral_brpm=spectral, counted_brpm=counted)


def zero_phase_bandpass(
    x: npt.ArrayLike, fs_hz: float, band_hz: tuple[float, float], order: int = 6
) -> npt.NDArray[np.float64]:
    """``x`` band-passed without phase shift: a Butterworth band-pass applied forward and backward.

    The gain is |H(f)|² with |H(f)|² = 1 / (1 + w^(2·order)), w = (f² − f₀²)/(f·(f_hi − f_lo)),
    f₀ = √(f_lo·f_hi): the analog Butterworth band-pass of that order, squared as ``filtfilt``
    squares it, applied to the FFT of ``x`` extended at both ends by its odd reflection (as
    ``filtfilt``'s default padding, here up to 10 s), so the ends do not ring. numpy only, so the
    agent's breathing rate does not import scipy.signal.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    pad = min(n - 1, round(10.0 * fs_hz))
    padded = np.concatenate([2.0 * x[0] - x[pad:0:-1], x, 2.0 * x[-1] - x[-2 : -pad - 2 : -1]])
    # The FFT sees the padded series followed by zeros, as one period: the straight line through
    # its ends is taken out so it starts and ends at 0 (no step to ring at the wrap). The band-pass
    # removes a line anyway (its gain falls as f^(2·order) towards 0 Hz).
    padded -= np.linspace(padded[0], padded[-1], padded.size)
    nfft = 1 << max(1, math.ceil(math.log2(padded.size)))
    f = np.fft.rfftfreq(nfft, 1.0 / fs_hz)
    lo, hi = band_hz
    f[0] = 1e-12 * lo  # the DC bin: w → ∞, gain 0
    w = (f * f - lo * hi) / (f * (hi - lo))
    gain = 1.0 / (1.0 + w ** (2 * order))
    return np.fft.irfft(np.fft.rfft(padded, nfft) * gain, nfft)[pad : pad + n]


def counted_brpm(
    resampled_ms: npt.ArrayLike,
    fs_hz: float,
    band_hz: tuple[float, float],
    *,
    threshold: float = 0.1,
    order: int = 6,
    edge_s: float = 0.0,
) -> float | None:
    """Breathing rate (breaths/min) by counting RSA cycles: Schäfer & Kratky 2008's "Count-adv".

    ``resampled_ms`` is the RR series resampled at ``fs_hz``. It is band-passed to ``band_hz``
    (:func:`zero_phase_bandpass`); of its local extrema (which alternate, maximum and minimum),
    the neighbouring pair with the smallest vertical distance is deleted while that distance is
    below ``threshold`` × the third quartile of the distances (computed once, on all extrema);
    the extrema left are trimmed to start and end on a maximum, and the rate is the number of
    maximum-to-maximum cycles over the time they span. Extrema within ``edge_s`` of either end
    (the filter's end transient) are left out first. None with fewer than one whole cycle.
    (The deletion follows Charlton et al.'s RRest implementation of the method, CtA.)
    """
    v = zero_phase_bandpass(resampled_ms, fs_hz, band_hz, order)
    d = np.diff(v)
    extrema = np.flatnonzero(((d[:-1] > 0) & (d[1:] <= 0)) | ((d[:-1] < 0) & (d[1:] >= 0))) + 1
    edge = round(edge_s * fs_hz)
    extrema = extrema[(extrema >= edge) & (extrema < v.size - edge)].tolist()
    if len(extrema) < 3:
        return None
    values = v[extrema].tolist()
    gaps = [abs(b - a) for a, b in pairwise(values)]
    limit = threshold * float(np.quantile(gaps, 0.75))
    while len(values) >= 3:
        j = min(range(len(gaps)), key=gaps.__getitem__)
        if gaps[j] > limit:
            break
        # Delete extrema j and j + 1: the distances around them merge into one.
        del extrema[j : j + 2], values[j : j + 2]
        gaps = [abs(b - a) for a, b in pairwise(values)]
    if len(values) >= 2 and values[0] < values[1]:
        del extrema[0], values[0]
    if len(values) >= 2 and values[-1] < values[-2]:
        del extrema[-1], values[-1]
    if len(extrema) < 3:
        return None
    cycles = (len(extrema) - 1) / 2
    return 60.0 * cycles * fs_hz / (extrema[-1] - extrema[0])
