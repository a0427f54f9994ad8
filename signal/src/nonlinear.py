"""Nonlinear HRV indices of one window of NN intervals: DFA α1 and Baevsky's stress index.

DFA α1 follows neurokit2's ``hrv_nonlinear`` (``fractal_dfa`` with ``integrate=True``,
``order=1``, ``overlap=True``, q = 2) so results match it to rounding. The stress index follows
Baevsky's formula on a histogram of 50-ms bins; ``baevsky_si_sqrt`` is its square root, which is
what Kubios HRV reports as "Stress index".

References
----------
Peng, C.-K., Havlin, S., Stanley, H. E., Goldberger, A. L. (1995). Quantification of scaling
exponents and crossover phenomena in nonstationary heartbeat time series. Chaos 5(1), 82–87.
Baevsky, R. M., Chernikova, A. G. (2017). Heart rate variability analysis: physiological
foundations and main methods. Cardiometry 10, 66–76.
Tarvainen, M. P., Lipponen, J., Niskanen, J.-P., Ranta-aho, P. O. Kubios HRV user's guide.
Kubios Oy (its "Stress index" is the square root of Baevsky's SI).
Makowski, D. et al. (2021). NeuroKit2: A Python toolbox for neurophysiological signal
processing. Behavior Research Methods 53, 1689–1696.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ._input import validated_rr
from .records import NullReason

__all__ = [
    "DFA_ALPHA1_SCALES",
    "SI_BIN_MS",
    "SI_MIN_BEATS",
    "Nonlinear",
    "baevsky_stress_index",
    "dfa_alpha1",
    "nonlinear",
]

# neurokit2's short-term range, in beats. Peng et al. 1995, Kubios and pyHRV use (4, 16); the two
# give different α1 on the same series (0.679 vs 0.672 on pyHRV's 5-min sample), so pass
# ``scales=(4, 16)`` to compare with those.
DFA_ALPHA1_SCALES: tuple[int, int] = (4, 11)
SI_BIN_MS = 50.0  # Kubios' histogram bin; Baevsky's original was 1/128 s ≈ 7.8 ms
# A 50-ms-bin mode over fewer beats moves by whole bins from one beat to the next; 30 beats keep
# AMo's resolution at 3.3 % and still fit a 1-min window at 30 bpm.
SI_MIN_BEATS = 30


@dataclass(frozen=True, slots=True)
class Nonlinear:
    """DFA α1 (dimensionless), Baevsky's SI (s⁻², conventionally unitless) and √SI (Kubios).

    A field that is ``None`` has its reason in ``null_reasons``: ``TOO_FEW_BEATS`` below the
    beat counts of :func:`dfa_alpha1` / :data:`SI_MIN_BEATS`, ``NO_VARIABILITY`` when the index is
    undefined because the window has no variability (all RR equal).
    """

    dfa_alpha1: float | None
    baevsky_si: float | None
    baevsky_si_sqrt: float | None
    null_reasons: dict[str, NullReason] = field(default_factory=dict)


def dfa_alpha1(rr_ms: npt.ArrayLike, *, scales: tuple[int, int] = DFA_ALPHA1_SCALES) -> float | None:
    """Short-term scaling exponent α1 of detrended fluctuation analysis (Peng et al. 1995).

    The profile is ``cumsum(rr − mean(rr))``. For each integer window size n from
    ``scales[0]`` to ``scales[1]`` beats, the profile is cut into windows of n beats starting
    every ``n // 2`` beats (``range(0, N − n, n // 2)``: half-overlapping, as neurokit2), a
    least-squares line is removed from each, and F(n) is the root of the mean of the windows'
    residual variances (ddof=0); windows whose variance is below 1e-8 of the largest at that
    n are dropped, as neurokit2 does. α1 is the least-squares slope of log2 F(n) on log2 n.

    Parameters
    ----------
    rr_ms : array_like
        Consecutive NN intervals in ms, all finite and > 0.
    scales : tuple of int
        Smallest and largest window in beats, inclusive (neurokit2 (4, 11); Kubios and pyHRV
        (4, 16)).

    Returns
    -------
    float or None
        α1, dimensionless: asymptotically 0.5 for white noise, 1 for 1/f fluctuations and 1.5
        for a random walk. ``None`` with fewer than ``2 * scales[1]`` beats (at least two
        disjoint windows at the largest size; neurokit2 only asks for 12), or when all RR are
        equal.

    Raises
    ------
    ValueError
        On empty, non-finite or non-positive RR, or scales that are not ``2 <= lo < hi``.

    Examples
    --------
    Uncorrelated RR read about 0.6 over 4–11 beats (linear detrending in such short windows
    biases white noise above its asymptotic 0.5); their running sum, a random walk, about 1.5:

    >>> rng = np.random.default_rng(0)
    >>> noise_ms = 5.0 * rng.standard_normal(2000)
    >>> round(dfa_alpha1(800 + 10 * noise_ms), 2), round(dfa_alpha1(800 + np.cumsum(noise_ms)), 2)
    (0.62, 1.51)
    >>> dfa_alpha1([800.0, 810.0, 790.0]) is None
    True
    """
    value, _ = _dfa_alpha1(validated_rr(rr_ms), scales)
    return value


def baevsky_stress_index(rr_ms: npt.ArrayLike, *, bin_ms: float = SI_BIN_MS) -> float | None:
    """Baevsky's stress index SI = AMo / (2 · Mo · MxDMn).

    The RR histogram has bins ``[k·bin_ms, (k+1)·bin_ms)`` aligned to multiples of
    ``bin_ms`` (an RR on an edge goes to the upper bin). Mo is the centre of the most populated
    bin in s (ties go to the shorter-RR bin), AMo the percentage of beats in that bin (0–100),
    MxDMn = max(RR) − min(RR) in s. Kubios reports ``sqrt(SI)`` as its "Stress index". SI is
    only comparable between windows built with the same bin width and alignment.

    Parameters
    ----------
    rr_ms : array_like
        NN intervals in ms, all finite and > 0.
    bin_ms : float
        Histogram bin width in ms (Kubios 50 ms; Baevsky's original 1/128 s = 7.8125 ms).

    Returns
    -------
    float or None
        SI in the customary units (% / s², reported unitless). At rest 80–150 per Baevsky
        (√SI ≈ 9–12), 1.5–2 times higher under stress. ``None`` with fewer than
        :data:`SI_MIN_BEATS` beats or when all RR are equal (MxDMn = 0).

    Raises
    ------
    ValueError
        On empty, non-finite or non-positive RR, or a ``bin_ms`` that is not > 0.

    Examples
    --------
    30 beats: 12 in [800, 850) ms, so Mo = 0.825 s and AMo = 40 %; MxDMn = 0.9 − 0.7 = 0.2 s.

    >>> rr = [700.0] * 6 + [820.0] * 12 + [870.0] * 8 + [900.0] * 4
    >>> round(baevsky_stress_index(rr), 4)  # 40 / (2 · 0.825 · 0.2)
    121.2121
    """
    if not (math.isfinite(bin_ms) and bin_ms > 0):
        raise ValueError(f"bin_ms must be > 0, got {bin_ms}")
    value, _ = _baevsky(validated_rr(rr_ms), bin_ms)
    return value


def nonlinear(
    rr_ms: npt.ArrayLike,
    *,
    dfa_scales: tuple[int, int] = DFA_ALPHA1_SCALES,
    si_bin_ms: float = SI_BIN_MS,
) -> Nonlinear:
    """DFA α1, Baevsky's SI and √SI of one window; see :func:`dfa_alpha1` and :func:`baevsky_stress_index`.

    Parameters
    ----------
    rr_ms : array_like
        Consecutive NN intervals in ms, all finite and > 0.
    dfa_scales : tuple of int
        DFA α1 window range in beats, inclusive.
    si_bin_ms : float
        Stress-index histogram bin width in ms.

    Returns
    -------
    Nonlinear

    Raises
    ------
    ValueError
        On empty, non-finite or non-positive RR, or invalid ``dfa_scales``/``si_bin_ms``.

    Examples
    --------
    >>> nl = nonlinear([800.0, 850.0, 790.0, 860.0])
    >>> nl.dfa_alpha1, nl.null_reasons["baevsky_si"]
    (None, <NullReason.TOO_FEW_BEATS: 'too_few_beats'>)
    """
    if not (math.isfinite(si_bin_ms) and si_bin_ms > 0):
        raise ValueError(f"si_bin_ms must be > 0, got {si_bin_ms}")
    rr = validated_rr(rr_ms)
    alpha1, alpha1_reason = _dfa_alpha1(rr, dfa_scales)
    si, si_reason = _baevsky(rr, si_bin_ms)
    reasons: dict[str, NullReason] = {}
    if alpha1_reason is not None:
        reasons["dfa_alpha1"] = alpha1_reason
    if si_reason is not None:
        reasons["baevsky_si"] = reasons["baevsky_si_sqrt"] = si_reason
    return Nonlinear(
        dfa_alpha1=alpha1,
        baevsky_si=si,
        baevsky_si_sqrt=None if si is None else math.sqrt(si),
        null_reasons=reasons,
    )


def _dfa_alpha1(rr: npt.NDArray[np.float64], scales: tuple[int, int]) -> tuple[float | None, NullReason | None]:
    lo, hi = scales
    if not (int(lo) == lo and int(hi) == hi and 2 <= lo < hi):
        raise ValueError(f"DFA scales must be integers with 2 <= lo < hi, got {scales}")
    if rr.size < 2 * hi:
        return None, NullReason.TOO_FEW_BEATS
    if np.ptp(rr) == 0.0:
        return None, NullReason.NO_VARIABILITY
    profile = np.cumsum(rr - np.mean(rr))
    sizes = np.arange(int(lo), int(hi) + 1)
    fluctuation = np.empty(sizes.size)
    for i, n in enumerate(sizes):
        starts = np.arange(0, rr.size - n, n // 2)
        windows = profile[starts[:, None] + np.arange(n)]
        # One closed-form least-squares line per window, all windows at once: neurokit2's
        # per-window polyfit gives the same residuals, many times slower.
        ramp = np.arange(n) - (n - 1) / 2.0
        centred = windows - windows.mean(axis=1, keepdims=True)
        slope = (centred @ ramp) / (ramp @ ramp)
        variance = np.var(centred - slope[:, None] * ramp, axis=1)
        variance = variance[variance > 1e-8 * np.max(variance)]
        if variance.size == 0:
            return None, NullReason.NO_VARIABILITY
        fluctuation[i] = np.sqrt(np.mean(variance))
    log_n = np.log2(sizes)
    log_f = np.log2(fluctuation)
    log_n_c = log_n - log_n.mean()
    alpha = float(log_n_c @ (log_f - log_f.mean()) / (log_n_c @ log_n_c))
    return (alpha, None) if math.isfinite(alpha) else (None, NullReason.NO_VARIABILITY)


def _baevsky(rr: npt.NDArray[np.float64], bin_ms: float) -> tuple[float | None, NullReason | None]:
    if rr.size < SI_MIN_BEATS:
        return None, NullReason.TOO_FEW_BEATS
    mxdmn_s = float(np.max(rr) - np.min(rr)) / 1000.0
    if mxdmn_s == 0.0:
        return None, NullReason.NO_VARIABILITY
    bins, counts = np.unique(np.floor(rr / bin_ms), return_counts=True)
    mode = int(np.argmax(counts))  # first maximum: the shorter-RR bin on ties
    mo_s = (bins[mode] + 0.5) * bin_ms / 1000.0
    amo_pct = 100.0 * counts[mode] / rr.size
    si = float(amo_pct / (2.0 * mo_s * mxdmn_s))
    return (si, None) if math.isfinite(si) else (None, NullReason.NO_VARIABILITY)
