"""Stress score 0–100 from HRV and heart rate against the person's own calm reference.

**This is a wellness indicator, not a diagnosis.** It says how far the autonomic state of a
window departs from the person's own calm awake state in the direction stress moves it: vagal
withdrawal (lower RMSSD) and a higher heart rate (Firstbeat: stress = "sympathetic activity
dominates … parasympathetic (vagal) activation is low"; research/signal.md §3.2).

For a 60-s window with RMSSD r (ms) and mean heart rate h (bpm), and the reference
(:class:`vagus.signal.baseline.Reference`: mean and SD of ln RMSSD and of HR while calm and awake):

    z_hrv = (μ_lnRMSSD − ln r) / σ_lnRMSSD        (vagal withdrawal, in SDs)
    z_hr  = (h − μ_HR) / σ_HR                     (heart-rate rise, in SDs)
    z     = 0.6·z_hrv + 0.4·z_hr
    score = clip(25 + 25·z, 0, 100)

so the calm reference sits at 25 (the top of "rest") and each band above it is one SD of the
person's calm spread: 1 SD reaches 50 (the top of "low"), 2 SDs 75 (the top of "medium"); "high" is
a minute more than 2 SDs from calm in the stress direction, which calm minutes are ~2–3 % of the
time. Levels follow the bands Garmin shows: rest 0–25, low 26–50, medium 51–75, high 76–100
(research/signal.md §3.2). ln RMSSD is used because RMSSD is log-normally distributed and its
changes are proportional (Plews et al. 2012, Eur J Appl Physiol 112:3729). The weights are a choice
set on simulated people of tuning seeds; the 25-points-per-SD scale follows from putting one band per
SD (docs/indicators.md). The SDs are predictive ones — within-day spread plus day-to-day variation —
so "2 SDs" means unusual for this person on an ordinary day (vagus.signal.baseline).

**Gates** — no score, a reason instead (:class:`Gate`): ``hr_only`` (the device sends no RR
intervals), ``not_worn`` (no skin contact), ``low_quality`` (under 80 % of the window's beats are
clean), ``too_few_beats``, and ``active``: physical activity raises HR and lowers HRV exactly as
stress does, so while moving — accelerometer activity above ``active_threshold`` where the device
has one; and, with or without one (a strap or a ring hardly moves on a bike), HR more than
max(30 bpm, 4 σ_HR) above the calm reference, or the windows' HR rising more than 10 bpm within 30 s
(the start of exercise, before HR has climbed that far; stress raises HR by less, and more slowly) —
and for ``after_activity_s`` after it (recovery), the score is withheld (Firstbeat likewise stops
judging stress above 20 % of VO2max).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from .baseline import Reference
from .records import Indicators

__all__ = ["Gate", "StressLevel", "StressParams", "StressResult", "StressTracker", "stress_level", "stress_score"]


class StressLevel(StrEnum):
    REST = "rest"  # 0–25
    LOW = "low"  # 26–50
    MEDIUM = "medium"  # 51–75
    HIGH = "high"  # 76–100


class Gate(StrEnum):
    ACTIVE = "active"
    LOW_QUALITY = "low_quality"
    NOT_WORN = "not_worn"
    HR_ONLY = "hr_only"
    TOO_FEW_BEATS = "too_few_beats"


@dataclass(frozen=True, slots=True)
class StressParams:
    w_hrv: float = 0.6
    w_hr: float = 0.4
    points_per_sd: float = 25.0
    calm_score: float = 25.0
    min_quality: float = 0.8
    active_threshold: float = 0.3  # accelerometer activity (0 still, ~1 walking)
    active_hr_margin_bpm: float = 30.0
    active_hr_sds: float = 4.0
    # Exercise onset: the 60-s windows' mean HR rising faster than this. Exercise raises HR by tens of
    # bpm with τ ≈ 40 s, stress by ~5–20 bpm with τ ≈ 60 s (docs/simulator.md; research/signal.md §3).
    # On 16 simulated people of tuning seeds, no stress window rose more than 7.6 bpm in 30 s (p99.9
    # 6.2), while a workout's first minute can rise 12 and still score "high" (a 15-bpm bar let it).
    active_hr_rise_bpm: float = 10.0
    active_hr_rise_window_s: float = 30.0
    after_activity_s: float = 300.0

    def __post_init__(self) -> None:
        if self.w_hrv < 0 or self.w_hr < 0 or not math.isclose(self.w_hrv + self.w_hr, 1.0):
            raise ValueError("w_hrv and w_hr must be ≥ 0 and sum to 1")


@dataclass(frozen=True, slots=True)
class StressResult:
    score: float | None
    level: StressLevel | None
    gate: Gate | None


def stress_level(score: float) -> StressLevel:
    """The Garmin band of a score: rest ≤ 25 < low ≤ 50 < medium ≤ 75 < high."""
    if score <= 25:
        return StressLevel.REST
    if score <= 50:
        return StressLevel.LOW
    if score <= 75:
        return StressLevel.MEDIUM
    return StressLevel.HIGH


def stress_score(rmssd_ms: float, hr_bpm: float, reference: Reference, params: StressParams = StressParams()) -> float:
    """The score of one window (module docstring), without gates. RMSSD in ms (> 0), HR in bpm."""
    if not (rmssd_ms > 0 and math.isfinite(rmssd_ms) and math.isfinite(hr_bpm)):
        raise ValueError(f"need RMSSD > 0 and finite HR, got {rmssd_ms}, {hr_bpm}")
    z_hrv = (reference.ln_rmssd_mean - math.log(rmssd_ms)) / reference.ln_rmssd_sd
    z_hr = (hr_bpm - reference.hr_mean_bpm) / reference.hr_sd_bpm
    z = params.w_hrv * z_hrv + params.w_hr * z_hr
    return min(100.0, max(0.0, params.calm_score + params.points_per_sd * z))


class StressTracker:
    """Scores successive windows of one person, holding the activity gate through recovery."""

    def __init__(self, params: StressParams = StressParams()) -> None:
        self.params = params
        self._active_until_s = -math.inf
        self._recent_hr: deque[tuple[float, float]] = deque()  # (window end, HR) of the last ~45 s

    def _hr_rise(self, t_end_utc_s: float, hr_bpm: float) -> float | None:
        """HR now minus HR ``active_hr_rise_window_s`` earlier (bpm); None without a window that old
        (a start, or a gap: the windows before a gap are not compared across it)."""
        span = self.params.active_hr_rise_window_s
        recent = self._recent_hr
        while recent and recent[0][0] < t_end_utc_s - span - 15.0:
            recent.popleft()
        earlier = None
        for entry in recent:  # the newest window at least ``span`` older than this one
            if t_end_utc_s - entry[0] < span:
                break
            earlier = entry
        recent.append((t_end_utc_s, hr_bpm))
        return None if earlier is None else hr_bpm - earlier[1]

    def update(
        self,
        record: Indicators,
        reference: Reference,
        *,
        activity: float | None = None,
        has_rr: bool = True,
        worn: bool = True,
    ) -> StressResult:
        """The score of ``record`` (a window of ≤ ~2 min), or the gate that withholds it."""
        p = self.params
        if not has_rr:
            return StressResult(None, None, Gate.HR_ONLY)
        if not worn:
            return StressResult(None, None, Gate.NOT_WORN)
        if record.rmssd_ms is None or record.hr_bpm is None or record.rmssd_ms <= 0:
            return StressResult(None, None, Gate.TOO_FEW_BEATS)
        moving = activity > p.active_threshold if activity is not None else False
        margin_bpm = max(p.active_hr_margin_bpm, p.active_hr_sds * reference.hr_sd_bpm)
        hr_high = record.hr_bpm > reference.hr_mean_bpm + margin_bpm
        rise = self._hr_rise(record.t_end_utc_s, record.hr_bpm)
        rising = rise is not None and rise > p.active_hr_rise_bpm
        if moving or hr_high or rising:
            self._active_until_s = record.t_end_utc_s + p.after_activity_s
        if record.t_end_utc_s <= self._active_until_s:
            return StressResult(None, None, Gate.ACTIVE)
        if record.quality < p.min_quality:
            return StressResult(None, None, Gate.LOW_QUALITY)
        score = stress_score(record.rmssd_ms, record.hr_bpm, reference, p)
        return StressResult(score, stress_level(score), None)
