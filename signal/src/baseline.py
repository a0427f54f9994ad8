"""Personal baselines: what is normal for this person, learned from their own days.

The stress score compares a window with the person's own awake, calm state, and the night with the
person's own nights, because HRV differs several-fold between healthy people (ln RMSSD ~ 3.5 ± 0.5
in adults; Nunan et al. 2010, PACE 33:1407) while within a person a change of a few tenths is
meaningful (HRV4Training builds "normal values based on your past 60 days of data … no population
values"; research/signal.md §3.3).

State kept (all serialisable with :meth:`PersonalBaseline.to_dict` / :meth:`from_dict`, which the
edge persists across restarts):

* per day (up to 60 days): the median and the median absolute deviation (MAD) of ln RMSSD and of
  HR over awake, not-active, good-quality 60-s windows; the day's resting HR (5th percentile of
  those windows' HR); the night's ln RMSSD (mean over sleep windows) when there was a night;
* the current day's values (bounded: at most one per minute of the day).

:meth:`reference` is the awake reference for the stress score: medians over the last 7 days'
medians and the median of their MADs × 1.4826 (a robust SD; Rousseeuw & Croux 1993), blended with
population norms while fewer than ``days_to_learn`` days are known (weight days/days_to_learn).
:meth:`night_range` gives HRV4Training-style 7-day and 60-day nightly ln RMSSD with a normal range
(60-day mean ± 0.75 SD; the band width is a choice, HRV4Training's exact width is not published).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["POPULATION", "DaySummary", "NightRange", "PersonalBaseline", "Reference"]

# Population norms for adults at awake rest (ln RMSSD: Nunan et al. 2010, 42 ± 15 ms →
# ln ≈ 3.67 ± 0.35; HR: 65 ± 8 bpm, the same review's short-term resting recordings).
POPULATION_LN_RMSSD = (3.67, 0.35)
POPULATION_HR_BPM = (65.0, 8.0)
_MAD_TO_SD = 1.4826
_MIN_DAY_WINDOWS = 30  # a day with fewer calm awake minutes does not enter the baseline
_MAX_DAYS = 60
_MAX_DAY_VALUES = 1440


@dataclass(frozen=True, slots=True)
class Reference:
    """The awake, calm reference: ln RMSSD and HR, mean and SD, and where they came from."""

    ln_rmssd_mean: float
    ln_rmssd_sd: float
    hr_mean_bpm: float
    hr_sd_bpm: float
    personal_weight: float  # 0 = population norms only, 1 = the person's own days only
    days: int


POPULATION = Reference(*POPULATION_LN_RMSSD, *POPULATION_HR_BPM, personal_weight=0.0, days=0)


@dataclass(frozen=True, slots=True)
class DaySummary:
    day: str  # ISO date (local)
    ln_rmssd_median: float
    ln_rmssd_mad: float
    hr_median_bpm: float
    hr_mad_bpm: float
    resting_hr_bpm: float
    night_ln_rmssd: float | None
    n_windows: int


@dataclass(frozen=True, slots=True)
class NightRange:
    """Nightly ln RMSSD: last night, 7-day and 60-day means, and the normal range around the latter."""

    last: float | None
    mean_7d: float | None
    mean_60d: float | None
    low: float | None
    high: float | None
    nights: int


@dataclass(slots=True)
class PersonalBaseline:
    days_to_learn: int = 7
    days: list[DaySummary] = field(default_factory=list)
    today: str | None = None
    today_ln_rmssd: list[float] = field(default_factory=list)
    today_hr: list[float] = field(default_factory=list)
    tonight_ln_rmssd: list[float] = field(default_factory=list)

    # -- learning ------------------------------------------------------------------------------

    def observe_awake(self, day: str, rmssd_ms: float, hr_bpm: float) -> None:
        """A calm awake 60-s window (not active, good quality) of local date ``day``."""
        self._roll(day)
        if rmssd_ms > 0 and math.isfinite(rmssd_ms) and math.isfinite(hr_bpm) and len(self.today_hr) < _MAX_DAY_VALUES:
            self.today_ln_rmssd.append(math.log(rmssd_ms))
            self.today_hr.append(hr_bpm)

    def observe_sleep(self, day: str, rmssd_ms: float) -> None:
        """A sleeping 60-s window; ``day`` is the date the night ends on (the morning)."""
        self._roll(day)
        if rmssd_ms > 0 and math.isfinite(rmssd_ms) and len(self.tonight_ln_rmssd) < _MAX_DAY_VALUES:
            self.tonight_ln_rmssd.append(math.log(rmssd_ms))

    def _roll(self, day: str) -> None:
        if self.today is None:
            self.today = day
        elif day != self.today:
            self.close_day()
            self.today = day

    def close_day(self) -> None:
        """Summarise the current day into ``days`` (if it had enough calm minutes) and start afresh."""
        if self.today is not None and (len(self.today_hr) >= _MIN_DAY_WINDOWS or self.tonight_ln_rmssd):
            ln = np.asarray(self.today_ln_rmssd) if self.today_ln_rmssd else np.asarray([math.nan])
            hr = np.asarray(self.today_hr) if self.today_hr else np.asarray([math.nan])
            enough = len(self.today_hr) >= _MIN_DAY_WINDOWS
            self.days.append(
                DaySummary(
                    day=self.today,
                    ln_rmssd_median=float(np.median(ln)) if enough else math.nan,
                    ln_rmssd_mad=float(np.median(np.abs(ln - np.median(ln)))) if enough else math.nan,
                    hr_median_bpm=float(np.median(hr)) if enough else math.nan,
                    hr_mad_bpm=float(np.median(np.abs(hr - np.median(hr)))) if enough else math.nan,
                    resting_hr_bpm=float(np.percentile(hr, 5)) if enough else math.nan,
                    night_ln_rmssd=float(np.mean(self.tonight_ln_rmssd)) if self.tonight_ln_rmssd else None,
                    n_windows=len(self.today_hr),
                )
            )
            del self.days[:-_MAX_DAYS]
        self.today_ln_rmssd, self.today_hr, self.tonight_ln_rmssd = [], [], []

    # -- reading ------------------------------------------------------------------------------

    def reference(self, *, personal_only: bool = False) -> Reference:
        """The awake reference (module docstring); today's minutes count once there are enough.

        ``personal_only``: the person's own days alone as soon as there is one (no blending with
        population norms). Sleep detection wants that: it compares the person's night with the same
        person awake, and a population heart rate 15 bpm off would hide the night entirely."""
        recent = [d for d in self.days[-7:] if not math.isnan(d.ln_rmssd_median)]
        if len(self.today_hr) >= _MIN_DAY_WINDOWS:
            ln = np.asarray(self.today_ln_rmssd)
            hr = np.asarray(self.today_hr)
            recent = [
                *recent[-6:],
                DaySummary(
                    "today",
                    float(np.median(ln)),
                    float(np.median(np.abs(ln - np.median(ln)))),
                    float(np.median(hr)),
                    float(np.median(np.abs(hr - np.median(hr)))),
                    float(np.percentile(hr, 5)),
                    None,
                    len(hr),
                ),
            ]
        if not recent:
            return POPULATION
        w = 1.0 if personal_only else min(1.0, len(recent) / self.days_to_learn)
        ln_mean = float(np.median([d.ln_rmssd_median for d in recent]))
        ln_sd = max(float(np.median([d.ln_rmssd_mad for d in recent])) * _MAD_TO_SD, 0.05)
        hr_mean = float(np.median([d.hr_median_bpm for d in recent]))
        hr_sd = max(float(np.median([d.hr_mad_bpm for d in recent])) * _MAD_TO_SD, 1.0)
        pop = POPULATION
        return Reference(
            ln_rmssd_mean=w * ln_mean + (1 - w) * pop.ln_rmssd_mean,
            ln_rmssd_sd=w * ln_sd + (1 - w) * pop.ln_rmssd_sd,
            hr_mean_bpm=w * hr_mean + (1 - w) * pop.hr_mean_bpm,
            hr_sd_bpm=w * hr_sd + (1 - w) * pop.hr_sd_bpm,
            personal_weight=w,
            days=len(recent),
        )

    def resting_hr_bpm(self, days: int = 7) -> float | None:
        values = [d.resting_hr_bpm for d in self.days[-days:] if not math.isnan(d.resting_hr_bpm)]
        return float(np.mean(values)) if values else None

    def night_range(self) -> NightRange:
        nights = [d.night_ln_rmssd for d in self.days if d.night_ln_rmssd is not None]
        if not nights:
            return NightRange(None, None, None, None, None, 0)
        last60 = np.asarray(nights[-60:])
        mean60 = float(last60.mean())
        sd60 = float(last60.std(ddof=1)) if last60.size >= 3 else None
        return NightRange(
            last=nights[-1],
            mean_7d=float(np.mean(nights[-7:])),
            mean_60d=mean60,
            low=mean60 - 0.75 * sd60 if sd60 is not None else None,
            high=mean60 + 0.75 * sd60 if sd60 is not None else None,
            nights=len(nights),
        )

    # -- persistence ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "days_to_learn": self.days_to_learn,
            "days": [asdict(d) for d in self.days],
            "today": self.today,
            "today_ln_rmssd": list(self.today_ln_rmssd),
            "today_hr": list(self.today_hr),
            "tonight_ln_rmssd": list(self.tonight_ln_rmssd),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PersonalBaseline:
        """The inverse of :meth:`to_dict`; ValueError naming the problem for anything else."""
        if data.get("version") != 1:
            raise ValueError(f"baseline version {data.get('version')!r} is not supported")
        try:
            return cls(
                days_to_learn=int(data["days_to_learn"]),
                days=[DaySummary(**d) for d in data["days"]],
                today=data["today"],
                today_ln_rmssd=[float(v) for v in data["today_ln_rmssd"]],
                today_hr=[float(v) for v in data["today_hr"]],
                tonight_ln_rmssd=[float(v) for v in data["tonight_ln_rmssd"]],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a baseline: {exc}") from exc
