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

:meth:`reference` is the awake reference for the stress score, from a two-level normal model
(a person's calm level varies around the population's, and each day's around the person's):

* **mean** — the median of the last 7 days' medians, shrunk toward the population norm by
  precision (empirical Bayes; Efron & Morris 1975): weight w = n·τ² / (n·τ² + σ_day²) for n days,
  τ the between-person SD (Nunan et al. 2010) and σ_day the person's day-to-day SD of a day's
  median. One day already gives w ≈ 0.85: a day of calm minutes says more about this
  person than population norms do;
* **SD** — the predictive spread of a calm minute on a new day: √(σ_minute² + σ_day² + 1/(n/σ_day²
  + 1/τ²)), σ_minute being the median of the days' MADs × 1.4826 (a robust SD; Rousseeuw & Croux
  1993). A person whose calm level moves from day to day is judged against a wider band, as
  Elite HRV's "sensitivity scales with the user's own day-to-day variation" (research/product.md);
* **σ_day** — a prior (0.15 ln units, i.e. RMSSD ±16 %; 3 bpm) worth 4 days, updated with the
  spread of the person's own daily medians over the stored days (a scaled-inverse-χ² update).

Before a first day the population norms stand in (their SDs are between-person ones, which is
what comparing a stranger with the population needs).
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
# Day-to-day SD of a person's daily calm median, the prior of the two-level model (module
# docstring), and how many days that prior is worth. Choices: RMSSD moving ±16 % and resting HR
# ±3 bpm from one ordinary day to the next are typical of what longitudinal wearable studies
# describe (daily resting HR "relatively stable" within a person; Quer et al. 2020, PLoS ONE
# 15:e0227709), not a published constant.
DAY_TO_DAY_LN_RMSSD_SD = 0.15
DAY_TO_DAY_HR_SD_BPM = 3.0
_PRIOR_DAYS = 4.0
_MAD_TO_SD = 1.4826
_MIN_DAY_WINDOWS = 30  # a day with fewer calm awake minutes does not enter the baseline
_MAX_DAYS = 60
_MAX_DAY_VALUES = 1440


@dataclass(frozen=True, slots=True)
class Reference:
    """The awake, calm reference: ln RMSSD and HR, mean and SD, and where they came from.

    ``personal_weight`` is the weight of the person's own days in ``ln_rmssd_mean`` (0 =
    population norms only); ``days`` the number of the person's days behind it."""

    ln_rmssd_mean: float
    ln_rmssd_sd: float
    hr_mean_bpm: float
    hr_sd_bpm: float
    personal_weight: float
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
            night = float(np.mean(self.tonight_ln_rmssd)) if self.tonight_ln_rmssd else None
            nan = math.nan
            self.days.append(
                self._awake_summary(self.today, night)
                or DaySummary(self.today, nan, nan, nan, nan, nan, night, len(self.today_hr))
            )
            del self.days[:-_MAX_DAYS]
        self.today_ln_rmssd, self.today_hr, self.tonight_ln_rmssd = [], [], []

    # -- reading ------------------------------------------------------------------------------

    def reference(self, *, personal_only: bool = False) -> Reference:
        """The awake reference (module docstring); today's minutes count once there are enough.

        ``personal_only``: the person's own days alone as soon as there is one — medians and
        within-day SDs, no population norms and no day-to-day widening. Sleep detection wants
        that: it compares the person's night with the same person awake, and a population heart
        rate 15 bpm off would hide the night entirely."""
        recent = [d for d in self.days[-7:] if not math.isnan(d.ln_rmssd_median)]
        today = self._awake_summary("today")
        if today is not None:
            recent = [*recent[-6:], today]
        if not recent:
            return POPULATION
        n = len(recent)
        ln_mean = float(np.median([d.ln_rmssd_median for d in recent]))
        ln_sd = max(float(np.median([d.ln_rmssd_mad for d in recent])) * _MAD_TO_SD, 0.05)
        hr_mean = float(np.median([d.hr_median_bpm for d in recent]))
        hr_sd = max(float(np.median([d.hr_mad_bpm for d in recent])) * _MAD_TO_SD, 1.0)
        if personal_only:
            return Reference(ln_mean, ln_sd, hr_mean, hr_sd, personal_weight=1.0, days=n)
        known = [d for d in self.days if not math.isnan(d.ln_rmssd_median)]
        if today is not None:
            known.append(today)
        ln_day_sd = _day_to_day_sd([d.ln_rmssd_median for d in known], DAY_TO_DAY_LN_RMSSD_SD)
        hr_day_sd = _day_to_day_sd([d.hr_median_bpm for d in known], DAY_TO_DAY_HR_SD_BPM)
        ln_w, ln_mean, ln_sd = _shrunk(n, ln_mean, ln_sd, ln_day_sd, POPULATION_LN_RMSSD)
        _, hr_mean, hr_sd = _shrunk(n, hr_mean, hr_sd, hr_day_sd, POPULATION_HR_BPM)
        return Reference(ln_mean, ln_sd, hr_mean, hr_sd, personal_weight=ln_w, days=n)

    def _awake_summary(self, day: str, night_ln_rmssd: float | None = None) -> DaySummary | None:
        """The current day's calm awake minutes summarised as ``day``; None with too few of them."""
        if len(self.today_hr) < _MIN_DAY_WINDOWS:
            return None
        ln = np.asarray(self.today_ln_rmssd)
        hr = np.asarray(self.today_hr)
        return DaySummary(
            "today",
            float(np.median(ln)),
            float(np.median(np.abs(ln - np.median(ln)))),
            float(np.median(hr)),
            float(np.median(np.abs(hr - np.median(hr)))),
            float(np.percentile(hr, 5)),
            night_ln_rmssd,
            len(hr),
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
            # "days_to_learn" (a linear blend's length, before the two-level model) may still be
            # in a stored state; it no longer means anything and is ignored.
            return cls(
                days=[DaySummary(**d) for d in data["days"]],
                today=data["today"],
                today_ln_rmssd=[float(v) for v in data["today_ln_rmssd"]],
                today_hr=[float(v) for v in data["today_hr"]],
                tonight_ln_rmssd=[float(v) for v in data["tonight_ln_rmssd"]],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a baseline: {exc}") from exc


def _day_to_day_sd(medians: list[float], prior_sd: float) -> float:
    """σ_day: the prior worth ``_PRIOR_DAYS`` days, updated with the spread of the daily medians."""
    values = np.asarray(medians)
    spread = float(np.sum((values - values.mean()) ** 2)) if values.size > 1 else 0.0
    return math.sqrt((_PRIOR_DAYS * prior_sd**2 + spread) / (_PRIOR_DAYS + max(values.size - 1, 0)))


def _shrunk(
    n: int, own_mean: float, minute_sd: float, day_sd: float, population: tuple[float, float]
) -> tuple[float, float, float]:
    """(weight of the person's days, mean, predictive SD) of the two-level model (module docstring)."""
    pop_mean, between_sd = population
    weight = n * between_sd**2 / (n * between_sd**2 + day_sd**2)
    posterior_var = 1.0 / (n / day_sd**2 + 1.0 / between_sd**2)
    sd = math.sqrt(minute_sd**2 + day_sd**2 + posterior_var)
    return weight, weight * own_mean + (1.0 - weight) * pop_mean, sd
