"""Breathing rate from RR intervals: the respiratory sinus arrhythmia (RSA) peak.

Breathing modulates the heart period (RSA): the heart speeds up on inhalation and slows on
exhalation, so the RR series oscillates at the breathing frequency. The estimate is the frequency
of the largest spectral peak of the RR series inside a search band:

1. the RR series (ms) is resampled at ``fs_hz`` (4 Hz, linear interpolation at the beat times),
   its linear trend removed and a Hann taper applied;
2. its periodogram is computed with zero padding to a 0.002-Hz grid (``nfft`` ≥ fs / 0.002);
3. the peak inside the band is refined by parabolic interpolation of the log power over its two
   neighbours (Quinn 1994, IEEE TSP 42:1264, for the idea; sub-bin accuracy on a zero-padded grid);
4. **quality** is the share of the band's power within ±``peak_half_width_hz`` of the peak: a clean
   RSA concentrates its power there, noise or irregular breathing spreads it. Below
   ``min_quality``, or when the power around the peak is under ``min_peak_power_ms2`` (RSA all but
   gone, as in exercise), no rate is reported (``NullReason.LOW_QUALITY``).

The default band is 0.15–0.70 Hz (9–42 breaths/min). Its lower edge is the HF band's (Task Force
1996): searching lower locks onto the ~0.1 Hz Mayer (baroreflex) wave instead of breathing
(signal.md §5, from validation against a respiration belt). During a paced-breathing exercise at
~6/min the RSA peak lies in the LF band; pass the pacer's rate (``paced_brpm``) and the band
becomes the pacer's frequency ± 0.04 Hz. RSA-based estimates are good for young people at rest in
windows over a minute and degrade with age and during exercise, when RSA shrinks (Schäfer & Kratky
2008, Ann Biomed Eng 36:476); the quality gate is what keeps exercise windows from reporting a
number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._input import validated_rr
from .records import NullReason

__all__ = ["BreathingEstimate", "BreathingParams", "breathing_rate"]


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

    def __post_init__(self) -> None:
        lo, hi = self.band_hz
        if not 0 < lo < hi < self.fs_hz / 2:
            raise ValueError(f"band_hz must satisfy 0 < lo < hi < fs/2, got {self.band_hz}")
        if not 0 < self.min_quality < 1:
            raise ValueError(f"min_quality must lie in (0, 1), got {self.min_quality}")


@dataclass(frozen=True, slots=True)
class BreathingEstimate:
    """``rate_brpm`` (breaths/min) or None with ``reason``; ``quality`` 0–1 (see module docstring)."""

    rate_brpm: float | None
    quality: float
    reason: NullReason | None = None


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
    x = np.interp(grid, t_s, rr)
    ramp = np.arange(x.size) - (x.size - 1) / 2.0
    x = x - x.mean()
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
    if quality < params.min_quality or peak_power_ms2 < params.min_peak_power_ms2:
        return BreathingEstimate(None, quality, NullReason.LOW_QUALITY)
    return BreathingEstimate(60.0 * f_peak, quality)
