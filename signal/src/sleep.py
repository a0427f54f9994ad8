"""Sleep periods from heart rate, HRV and motion, and what each night did.

Sleep lowers the heart rate and raises vagal HRV against the same person awake and calm, and the
body is still (Walch et al. 2019, Sleep 42:zsz180, classify sleep from motion and heart-rate
features; Firstbeat and Oura read recovery from night-time HR and HRV, research/signal.md §3–4).
vagus works per minute (the agent's 60-s windows) against the person's calm awake reference
(:class:`vagus.signal.baseline.Reference`):

1. HR and ln RMSSD are smoothed with a centred 11-minute median (a window that ignores a few noisy
   minutes and follows a transition within ~5 min);
2. a minute's **sleep evidence** is ``(μ_HR − HR~)/σ_HR + (ln RMSSD~ − μ_lnRMSSD)/σ_lnRMSSD`` (SDs
   below the calm heart rate plus SDs above the calm HRV); a minute is *asleep* when the evidence
   exceeds ``threshold`` and, where an accelerometer reports activity, the person is still;
3. asleep minutes form periods after closing gaps up to ``max_gap_min`` (brief awakenings belong to
   the night); periods shorter than ``min_period_min`` are dropped (a night, not a rest on the sofa).

Per period, :func:`night_summary` gives onset and wake time, time asleep (asleep minutes inside the
period), the lowest heart rate (lowest 5-minute mean) and the average sleeping heart rate, nocturnal
RMSSD (the exponential of the mean ln RMSSD of asleep minutes) and a **recovery indicator**: that
night's ln RMSSD against the person's nightly normal range (baseline.night_range), as
``below`` / ``normal`` / ``above`` and in SDs.

The threshold and gap/length limits are choices set on simulated people of tuning seeds, not
published constants (docs/indicators.md). This is wellness self-monitoring, not sleep staging.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .baseline import NightRange, Reference

__all__ = [
    "MinuteSample",
    "NightSummary",
    "SleepParams",
    "SleepPeriod",
    "detect_sleep",
    "night_summary",
    "recovery_of",
]


@dataclass(frozen=True, slots=True)
class MinuteSample:
    """One minute: its end time (s), mean HR (bpm), RMSSD (ms) and accelerometer activity, if known."""

    t_utc_s: float
    hr_bpm: float | None
    rmssd_ms: float | None
    activity: float | None = None


@dataclass(frozen=True, slots=True)
class SleepParams:
    smooth_min: int = 11
    threshold: float = 1.5
    still_activity: float = 0.15
    max_gap_min: int = 20
    min_period_min: int = 180


@dataclass(frozen=True, slots=True)
class SleepPeriod:
    onset_utc_s: float
    wake_utc_s: float
    first: int  # index of the first minute in the input
    stop: int  # one past the last


@dataclass(frozen=True, slots=True)
class NightSummary:
    onset_utc_s: float
    wake_utc_s: float
    asleep_min: int
    lowest_hr_bpm: float | None
    mean_hr_bpm: float | None
    rmssd_ms: float | None
    recovery: str | None  # below | normal | above the nightly normal range; None while it is unknown
    recovery_sd: float | None


def _median_smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Centred running median ignoring missing minutes (NaN where a window has none)."""
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    windows = padded[np.arange(x.size)[:, None] + np.arange(width)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing window: no evidence there
        return np.nanmedian(windows, axis=1)


def _evidence(minutes: Sequence[MinuteSample], reference: Reference, params: SleepParams) -> np.ndarray:
    hr = np.array([math.nan if m.hr_bpm is None else m.hr_bpm for m in minutes], dtype=float)
    ln = np.array([math.nan if not m.rmssd_ms else math.log(m.rmssd_ms) for m in minutes], dtype=float)
    hr_s = _median_smooth(hr, params.smooth_min)
    ln_s = _median_smooth(ln, params.smooth_min)
    evidence = (reference.hr_mean_bpm - hr_s) / reference.hr_sd_bpm + (ln_s - reference.ln_rmssd_mean) / max(
        reference.ln_rmssd_sd, 1e-6
    )
    return np.nan_to_num(evidence, nan=-math.inf)


def detect_sleep(
    minutes: Sequence[MinuteSample], reference: Reference, params: SleepParams = SleepParams()
) -> list[SleepPeriod]:
    """Sleep periods in consecutive minutes (ascending times; a missing minute is a sample of Nones)."""
    if not minutes:
        return []
    asleep = _evidence(minutes, reference, params) > params.threshold
    activity = np.array([-1.0 if m.activity is None else m.activity for m in minutes])
    asleep &= activity <= params.still_activity  # unknown activity (-1) never vetoes
    periods: list[SleepPeriod] = []
    idx = np.flatnonzero(asleep)
    if idx.size == 0:
        return periods
    start = prev = int(idx[0])
    for i in [*idx[1:].tolist(), None]:
        if i is not None and i - prev - 1 <= params.max_gap_min:
            prev = i
            continue
        if prev + 1 - start >= params.min_period_min:
            periods.append(
                SleepPeriod(minutes[start].t_utc_s - 60.0, minutes[prev].t_utc_s, first=start, stop=prev + 1)
            )
        if i is not None:
            start = prev = i
    return periods


def recovery_of(night_ln_rmssd: float | None, night_range: NightRange | None) -> tuple[str | None, float | None]:
    """A night's ln RMSSD against the person's nightly normal range: ``("below" | "normal" | "above",
    distance from the 60-day mean in SDs)``, or ``(None, None)`` while the range is unknown.

    The range is ``NightRange.low``–``high``, the 60-day mean ± 0.75 SD (HRV4Training's normal range,
    vagus.signal.baseline), so its width is 1.5 SD."""
    if night_ln_rmssd is None or night_range is None or night_range.low is None or night_range.high is None:
        return None, None
    sd = (night_range.high - night_range.low) / 1.5
    assert night_range.mean_60d is not None  # noqa: S101 — a type-narrowing invariant, not input validation
    distance = (night_ln_rmssd - night_range.mean_60d) / sd if sd > 0 else 0.0
    if night_ln_rmssd < night_range.low:
        return "below", distance
    return ("above" if night_ln_rmssd > night_range.high else "normal"), distance


def night_summary(
    minutes: Sequence[MinuteSample],
    period: SleepPeriod,
    reference: Reference,
    night_range: NightRange | None = None,
    params: SleepParams = SleepParams(),
) -> NightSummary:
    """What one sleep period did (module docstring); ``night_range`` from the person's baseline."""
    part = minutes[period.first : period.stop]
    asleep = _evidence(minutes, reference, params)[period.first : period.stop] > params.threshold
    hr = np.array([math.nan if m.hr_bpm is None else m.hr_bpm for m in part], dtype=float)
    ln = np.array([math.nan if not m.rmssd_ms else math.log(m.rmssd_ms) for m in part], dtype=float)
    sleeping_hr = hr[asleep & ~np.isnan(hr)]
    lowest = None
    if np.count_nonzero(~np.isnan(hr)) >= 5:
        five = np.convolve(np.nan_to_num(hr, nan=np.nanmean(hr)), np.ones(5) / 5, mode="valid")
        lowest = float(five.min())
    ln_sleep = ln[asleep & ~np.isnan(ln)]
    night_ln = float(ln_sleep.mean()) if ln_sleep.size else None
    recovery, recovery_sd = recovery_of(night_ln, night_range)
    return NightSummary(
        onset_utc_s=period.onset_utc_s,
        wake_utc_s=period.wake_utc_s,
        asleep_min=int(np.count_nonzero(asleep)),
        lowest_hr_bpm=lowest,
        mean_hr_bpm=float(sleeping_hr.mean()) if sleeping_hr.size else None,
        rmssd_ms=math.exp(night_ln) if night_ln is not None else None,
        recovery=recovery,
        recovery_sd=recovery_sd,
    )
