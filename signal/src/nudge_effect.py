"""Does a nudge help, and does the stress score agree with what the person says? Pure statistics.

**(a) The micro-randomised effect estimate.** At every *eligible moment* (the nudge engine would
nudge now) the nudge is sent, or held back at random with a known probability. Because the
choice is random, the moments that got a nudge and those that did not differ only by chance, and

    change  = mean(outcome in the 30 min after) − mean(outcome in the 30 min before)
    effect  = mean change (sent) − mean change (held back)

estimates the average causal effect of sending a nudge at an eligible moment on the change of the
outcome (stress score, RMSSD, 0.1-Hz/LF power). This is the "proximal effect" of a
micro-randomised trial (Klasnja et al. 2015, Health Psychol 34(S):1220, doi:10.1037/hea0000305;
Liao et al. 2016, Stat Med 35:1944, doi:10.1002/sim.6847, who size such trials). Subtracting the
before-value removes between-moment differences in starting level (a difference-in-differences);
randomisation alone already makes the plain after-difference unbiased, the change only narrows
the interval.

The 95 % interval is Welch's (unequal variances; Welch 1947, Biometrika 34:28): SE =
√(s²₁/n₁ + s²₀/n₀), Welch–Satterthwaite degrees of freedom, a Student t quantile. **Caveats**
(documented, not hidden): moments of one person are treated as independent, so with many moments
from few people the interval is too narrow — Boruvka et al. 2018 (JASA 113:1112) use weighted,
centred least squares with person-clustered standard errors for that; and the plain difference
assumes one hold-back probability for all moments (vagus uses a fixed one; with varying
probabilities the moments need inverse-probability weights).

**(b) Agreement of the score with self-report.** From check-ins (the score at the moment a person
answered): Spearman's ρ between the score and the 1–5 self-rating, with the Fisher-z interval and
Bonett & Wright's (2000, Psychometrika 65:23) variance (1 + ρ²/2)/(n − 3); and Cohen's κ (Cohen
1960, Educ Psychol Meas 20:37) between "score high" and "says stressed", with the large-sample
variance of Fleiss, Cohen & Everitt (1969, Psychol Bull 72:323). Wearable stress scores agree
poorly with self-report in the field (cStress 72 % agreement, Hovsepian et al. 2015): this is
measured here, not assumed.

Numbers in, numbers out: numpy, and scipy's t and normal quantiles (imported on first use).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "OUTCOME_WINDOW_S",
    "Agreement",
    "EffectEstimate",
    "before_after_means",
    "cohens_kappa",
    "effect_estimate",
    "score_agreement",
    "spearman_rho",
]

OUTCOME_WINDOW_S = 1800.0  # 30 min before and after (issue 8)
MIN_SAMPLES_PER_SIDE = 5  # a side with fewer scored windows (minutes) is not a measurement


@dataclass(frozen=True, slots=True)
class EffectEstimate:
    """Mean change after sent minus after held-back moments, with Welch's interval (``None`` below 2 per group)."""

    effect: float | None
    ci_low: float | None
    ci_high: float | None
    se: float | None
    df: float | None
    n_sent: int
    n_held: int
    mean_change_sent: float | None
    mean_change_held: float | None
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None and (self.ci_low > 0 or self.ci_high < 0)


@dataclass(frozen=True, slots=True)
class Agreement:
    """A coefficient with its n and interval (``None`` where it cannot be computed)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


def _finite(x: Sequence[float | None] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    a = np.asarray([np.nan if v is None else v for v in np.asarray(x, dtype=object).ravel()], dtype=np.float64)
    return a[np.isfinite(a)]


def _t_quantile(p: float, df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(p, df))


def _normal_quantile(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def _check_confidence(confidence: float) -> None:
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must lie in [0.5, 1), got {confidence}")


def effect_estimate(
    change_sent: Sequence[float | None] | npt.ArrayLike,
    change_held: Sequence[float | None] | npt.ArrayLike,
    *,
    confidence: float = 0.95,
) -> EffectEstimate:
    """Effect of sending = mean(change_sent) − mean(change_held), with Welch's ``confidence`` interval.

    Missing changes (None/NaN: a side of the moment had too few scored minutes) are dropped.
    """
    _check_confidence(confidence)
    a, b = _finite(change_sent), _finite(change_held)
    mean_a = float(a.mean()) if a.size else None
    mean_b = float(b.mean()) if b.size else None
    if a.size < 2 or b.size < 2:
        effect = None if mean_a is None or mean_b is None else mean_a - mean_b
        return EffectEstimate(effect, None, None, None, None, a.size, b.size, mean_a, mean_b, confidence)
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    se = math.sqrt(va + vb)
    effect = float(a.mean()) - float(b.mean())
    if se == 0.0:
        return EffectEstimate(effect, effect, effect, 0.0, None, a.size, b.size, mean_a, mean_b, confidence)
    # Welch–Satterthwaite degrees of freedom.
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = _t_quantile(0.5 + confidence / 2, df) * se
    return EffectEstimate(effect, effect - half, effect + half, se, df, a.size, b.size, mean_a, mean_b, confidence)


def before_after_means(
    sample_t_s: npt.ArrayLike,
    sample_values: npt.ArrayLike,
    moment_t_s: npt.ArrayLike,
    *,
    window_s: float = OUTCOME_WINDOW_S,
    min_samples: int = MIN_SAMPLES_PER_SIDE,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Mean of the samples in (t − window, t] and in (t, t + window] for each moment t (NaN if fewer
    than ``min_samples`` finite samples on that side). Times in seconds, any common origin."""
    if not window_s > 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    t = np.asarray(sample_t_s, dtype=np.float64)
    v = np.asarray(sample_values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f"sample times and values must be 1-D of equal length, got {t.shape} and {v.shape}")
    keep = np.isfinite(t) & np.isfinite(v)
    t, v = t[keep], v[keep]
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    cum = np.concatenate(([0.0], np.cumsum(v)))
    m = np.asarray(moment_t_s, dtype=np.float64)

    def side(lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        i, j = np.searchsorted(t, lo, side="right"), np.searchsorted(t, hi, side="right")
        n = j - i
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (cum[j] - cum[i]) / n
        return np.where(n >= min_samples, mean, np.nan)

    return side(m - window_s, m), side(m, m + window_s)


def _ranks(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    first = np.concatenate(([True], sorted_x[1:] != sorted_x[:-1]))
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], x.size)
    average = (starts + ends + 1) / 2.0  # mean of ranks start+1 … end
    ranks = np.empty(x.size)
    ranks[order] = average[group]
    return ranks


def spearman_rho(x: npt.ArrayLike, y: npt.ArrayLike, *, confidence: float = 0.95) -> Agreement:
    """Spearman's ρ (Pearson correlation of average ranks) of pairs where both are finite, with the
    Fisher-z interval using Bonett & Wright's (2000) variance (1 + ρ²/2)/(n − 3); n ≥ 4 for an interval."""
    _check_confidence(confidence)
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n < 3:
        return Agreement(None, None, None, n)
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    if denom == 0.0:
        return Agreement(None, None, None, n)  # one side constant: ρ undefined
    rho = max(-1.0, min(1.0, float(ra @ rb) / denom))
    if n < 4 or abs(rho) == 1.0:
        return Agreement(rho, None, None, n)
    z, half = math.atanh(rho), _normal_quantile(0.5 + confidence / 2) * math.sqrt((1 + rho**2 / 2) / (n - 3))
    return Agreement(rho, math.tanh(z - half), math.tanh(z + half), n)


def cohens_kappa(a: npt.ArrayLike, b: npt.ArrayLike, *, confidence: float = 0.95) -> Agreement:
    """Cohen's κ between two binary ratings (bool arrays) of the same items, with a normal interval from
    the large-sample variance of Fleiss, Cohen & Everitt (1969); ``value`` None if chance agreement is 1."""
    _check_confidence(confidence)
    x, y = np.asarray(a, dtype=bool).ravel(), np.asarray(b, dtype=bool).ravel()
    if x.shape != y.shape:
        raise ValueError(f"the two ratings must have the same length, got {x.shape} and {y.shape}")
    n = int(x.size)
    if n == 0:
        return Agreement(None, None, None, 0)
    table = np.array([[np.sum(~x & ~y), np.sum(~x & y)], [np.sum(x & ~y), np.sum(x & y)]], dtype=np.float64) / n
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    po, pe = float(np.trace(table)), float(rows @ cols)
    if pe >= 1.0:
        return Agreement(None, None, None, n)
    kappa = (po - pe) / (1.0 - pe)
    # Fleiss, Cohen & Everitt 1969, eq. (13): the asymptotic variance of κ when κ ≠ 0.
    diag = sum(table[i, i] * (1 - (rows[i] + cols[i]) * (1 - kappa)) ** 2 for i in range(2))
    off = (1 - kappa) ** 2 * sum(table[i, j] * (cols[i] + rows[j]) ** 2 for i in range(2) for j in range(2) if i != j)
    var = (diag + off - (kappa - pe * (1 - kappa)) ** 2) / (n * (1 - pe) ** 2)
    half = _normal_quantile(0.5 + confidence / 2) * math.sqrt(max(var, 0.0))
    return Agreement(kappa, kappa - half, kappa + half, n)


def score_agreement(
    scores: Sequence[float | None],
    self_stress_1to5: Sequence[int | None],
    *,
    score_high_above: float = 50.0,
    stressed_from: int = 4,
    confidence: float = 0.95,
) -> tuple[Agreement, Agreement]:
    """(Spearman ρ, Cohen's κ) between stress scores and 1–5 self-ratings, over pairs where both exist.

    κ compares "score high" (> ``score_high_above``: the medium and high bands, vagus.signal.stress)
    with "says stressed" (rating ≥ ``stressed_from``)."""
    if len(scores) != len(self_stress_1to5):
        raise ValueError(f"scores and ratings must pair up, got {len(scores)} and {len(self_stress_1to5)}")
    pairs = [
        (float(s), int(r)) for s, r in zip(scores, self_stress_1to5, strict=True) if s is not None and r is not None
    ]
    for _, r in pairs:
        if not 1 <= r <= 5:
            raise ValueError(f"self_stress_1to5 must lie in 1–5, got {r}")
    s = np.array([p[0] for p in pairs], dtype=np.float64)
    r = np.array([p[1] for p in pairs], dtype=np.float64)
    rho = spearman_rho(s, r, confidence=confidence)
    kappa = cohens_kappa(s > score_high_above, r >= stressed_from, confidence=confidence)
    return rho, kappa
