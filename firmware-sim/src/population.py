"""A population of simulated people whose physiology differs as it does between real adults.

Each ``Person`` holds the parameters ``physiology.simulate`` needs. ``draw_population`` draws them
from published adult ranges, so that effects overlap between people (a stressed person with high HRV
can still have a higher RMSSD than a calm person with low HRV). Person *i* depends only on (seed, i),
so a larger population extends a smaller one.

Sources (see ``../shared/research/signal.md`` §1.7 for the Nunan norms):
- resting HR 65.5 ± 7.7 bpm, truncated to 50–85 bpm (as quoted in signal.md §1.7, citing PMC7001906);
- resting RMSSD: a log-normal with the mean and SD of Nunan, Sandercock & Brodie 2010, PACE 33:1407
  (42 ± 15 ms), a mild age slope (RMSSD falls with age; Umetani et al. 1998, JACC 31:593
  [unverified slope, assumption −1 %/year]) and truncated to 15–65 ms so that everyone lies inside
  Nunan's mean ± 2 SD (12–72 ms) with room for measurement noise;
- resting LF/HF: a log-normal with Nunan's 2.8 ± 2.6, truncated to 0.5–7;
- breathing 14 ± 2 /min truncated to 10–20 /min (adult resting rate 12–20 /min; ≥ 10 /min keeps the
  RSA inside the HF band 0.15–0.4 Hz, Task Force 1996) [assumption for the mean and SD];
- maximal HR 208 − 0.7·age (Tanaka, Monahan & Seals 2001, JACC 37:153) ± 7 bpm between people
  [unverified spread];
- exercise intensity 45–80 % of heart-rate reserve: moderate to vigorous (ACSM guidelines);
- mental-stress reactivity: HR +8 bpm (log-normal, ~3–20 bpm) and RMSSD × ~0.75 (0.4–0.95), both from one latent
  reactivity so they correlate [assumption inside lab-stressor reports, e.g. Kim et al. 2018,
  Psychiatry Investig 15:235: stress lowers HF HRV];
- ectopic beats: log-normal, median 0.5 per hour, heavily skewed (most healthy adults show some
  premature beats on 24-h Holter) [assumption];
- breathing response: not drawn (0, no lasting response to a paced-breathing break) so drawn people
  are unchanged; an evaluation sets it per person (``dataclasses.replace``) to make a responder
  (see ``physiology.simulate`` and ``scenario.Intervention``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from .physiology import lf_amplitude_for_ratio

__all__ = ["Person", "draw_population"]

AGE_RANGE_YEARS = (20.0, 65.0)
RESTING_HR_BPM = (65.5, 7.7, 50.0, 85.0)  # mean, sd, lo, hi
RMSSD_MEAN_SD_MS = (42.0, 15.0)  # Nunan et al. 2010
RMSSD_RANGE_MS = (15.0, 65.0)
RMSSD_AGE_SLOPE_PER_YEAR = -0.01  # on ln RMSSD, centred at 40 years [assumption]
LF_HF_MEAN_SD = (2.8, 2.6)  # Nunan et al. 2010
LF_HF_RANGE = (0.5, 7.0)
BREATHING_BRPM = (14.0, 2.0, 10.0, 20.0)
HR_MAX_SD_BPM = 7.0
EXERCISE_HRR_RANGE = (0.45, 0.80)
STRESS_HR_RISE_BPM = (8.0, 0.45, 2.0, 25.0)  # median, ln sd per unit reactivity, lo, hi
STRESS_HRV_LOG_FACTOR = (-0.3, 0.15, 0.1)  # ln factor: mean, per unit latent reactivity, own sd
STRESS_HRV_RANGE = (0.4, 0.95)
ECTOPIC_MEDIAN_PER_HOUR, ECTOPIC_LOG_SD, ECTOPIC_MAX_PER_HOUR = 0.5, 1.5, 60.0


@dataclass(frozen=True, slots=True)
class Person:
    """One simulated person. Units are in the field names; ``*_factor``/``*_hrr`` are ratios."""

    person_id: str
    age_years: float
    resting_hr_bpm: float  # awake, seated/supine rest, before circadian drift
    rmssd_rest_ms: float  # target resting RMSSD: sets the vagal (RSA + beat noise) amplitude
    breathing_rate_brpm: float  # spontaneous breathing at rest
    lf_amplitude_ms: float  # Mayer-wave (~0.1 Hz) amplitude of the heart period at rest
    stress_hr_rise_bpm: float  # HR rise in the stress state
    stress_hrv_factor: float  # vagal amplitude under stress, × rest (0–1)
    hr_max_bpm: float
    exercise_intensity_hrr: float  # share of heart-rate reserve in the exercise state (Karvonen)
    ectopic_per_hour: float  # premature beats per hour, for the artifact layer
    # Share (0–1) of the stress-induced HR rise and vagal withdrawal that a paced-breathing break
    # (scenario.Intervention) takes away afterwards; 0 = a non-responder [assumption: a model knob].
    breathing_response: float = 0.0

    def __post_init__(self) -> None:
        checks = {
            "age_years": (10.0, 100.0),
            "resting_hr_bpm": (30.0, 120.0),
            "rmssd_rest_ms": (2.0, 250.0),
            "breathing_rate_brpm": (4.0, 40.0),
            "lf_amplitude_ms": (0.0, 300.0),
            "stress_hr_rise_bpm": (0.0, 60.0),
            "stress_hrv_factor": (0.05, 1.0),
            "hr_max_bpm": (100.0, 230.0),
            "exercise_intensity_hrr": (0.05, 1.0),
            "ectopic_per_hour": (0.0, 3600.0),
            "breathing_response": (0.0, 1.0),
        }
        if not self.person_id:
            raise ValueError("person_id must be a non-empty string")
        for name, (lo, hi) in checks.items():
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi:
                raise ValueError(f"{name} must be a number in {lo}–{hi}, got {value!r}")
        if self.hr_max_bpm <= self.resting_hr_bpm + 20:
            raise ValueError(f"hr_max_bpm ({self.hr_max_bpm}) must exceed resting_hr_bpm + 20")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _truncnorm(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float) -> float:
    """A normal draw truncated to [lo, hi] by rejection (no pile-up at the bounds)."""
    for _ in range(1000):
        x = float(rng.normal(mean, sd))
        if lo <= x <= hi:
            return x
    raise ValueError(f"cannot draw from N({mean}, {sd}) inside [{lo}, {hi}]")


def _lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """(μ, σ) of ln X for a log-normal X with the given arithmetic mean and SD."""
    sigma2 = math.log1p((sd / mean) ** 2)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def _draw_person(seed: int, index: int) -> Person:
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    age = float(rng.uniform(*AGE_RANGE_YEARS))
    rest_hr = _truncnorm(rng, *RESTING_HR_BPM)
    mu, sigma = _lognormal_params(*RMSSD_MEAN_SD_MS)
    mu += RMSSD_AGE_SLOPE_PER_YEAR * (age - 40.0)
    rmssd = math.exp(_truncnorm(rng, mu, sigma, *map(math.log, RMSSD_RANGE_MS)))
    mu, sigma = _lognormal_params(*LF_HF_MEAN_SD)
    lf_hf = math.exp(_truncnorm(rng, mu, sigma, *map(math.log, LF_HF_RANGE)))
    breathing = _truncnorm(rng, *BREATHING_BRPM)
    reactivity = float(rng.standard_normal())
    median_rise, log_sd_rise, lo_rise, hi_rise = STRESS_HR_RISE_BPM
    hr_rise = float(np.clip(median_rise * math.exp(log_sd_rise * reactivity), lo_rise, hi_rise))
    log_mean, log_per_z, log_sd = STRESS_HRV_LOG_FACTOR
    hrv_factor = float(
        np.clip(math.exp(log_mean - log_per_z * reactivity + log_sd * rng.standard_normal()), *STRESS_HRV_RANGE)
    )
    hr_max = 208.0 - 0.7 * age + float(rng.normal(0.0, HR_MAX_SD_BPM))
    intensity = float(rng.uniform(*EXERCISE_HRR_RANGE))
    ectopic = min(ECTOPIC_MEDIAN_PER_HOUR * math.exp(ECTOPIC_LOG_SD * rng.standard_normal()), ECTOPIC_MAX_PER_HOUR)
    return Person(
        person_id=f"p{index:03d}",
        age_years=round(age, 1),
        resting_hr_bpm=rest_hr,
        rmssd_rest_ms=rmssd,
        breathing_rate_brpm=breathing,
        lf_amplitude_ms=lf_amplitude_for_ratio(rest_hr, rmssd, breathing, lf_hf),
        stress_hr_rise_bpm=hr_rise,
        stress_hrv_factor=hrv_factor,
        hr_max_bpm=hr_max,
        exercise_intensity_hrr=intensity,
        ectopic_per_hour=ectopic,
    )


def draw_population(n: int, seed: int) -> list[Person]:
    """``n`` people ``p000`` … drawn from the literature ranges above; deterministic for ``seed``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return [_draw_person(seed, i) for i in range(n)]
