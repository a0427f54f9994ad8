"""Time-domain and Poincaré HRV indices of one window of NN intervals.

Conventions default to neurokit2's ``hrv_time``/``hrv_nonlinear`` so results match it exactly:
SDNN and SDSD use ddof=1; pNNx counts successive differences strictly greater than x ms and
divides by the number of NN intervals N; SD1/SD2 are the ddof=1 standard deviations of the
Poincaré plot's rotated axes. ``Conventions.pyhrv()`` selects pyHRV's instead (pNNx over N−1
differences, SD1/SD2 with ddof=0), which reproduces its published sample report.

References
----------
Task Force of the European Society of Cardiology and the North American Society of Pacing and
Electrophysiology (1996). Heart rate variability: standards of measurement, physiological
interpretation and clinical use. Circulation 93(5), 1043–1065.
Brennan, M., Palaniswami, M., Kamen, P. (2001). Do existing measures of Poincaré plot geometry
reflect nonlinear features of heart rate variability? IEEE Trans Biomed Eng 48(11), 1342–1347.
Makowski, D. et al. (2021). NeuroKit2: A Python toolbox for neurophysiological signal
processing. Behavior Research Methods 53, 1689–1696.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["MIN_BEATS", "Conventions", "TimeDomain", "time_domain"]

MIN_BEATS = 3  # two successive differences are the least that ddof=1 statistics need


@dataclass(frozen=True, slots=True)
class Conventions:
    """Where HRV libraries differ on the same definitions (research/signal.md §0).

    ``pnn_denominator``: "n" divides NNx by the N intervals (neurokit2, ``hrv``, the Task Force
    wording); "n_minus_1" by the N−1 successive differences (pyHRV, hrv-analysis).
    ``poincare_ddof``: 1 as neurokit2, 0 as pyHRV.
    ``sdsd_of``: "diff" takes the standard deviation of the successive differences (Task Force,
    neurokit2); "abs_diff" of their absolute values, as pyHRV does.
    """

    pnn_denominator: Literal["n", "n_minus_1"] = "n"
    poincare_ddof: Literal[0, 1] = 1
    sdsd_of: Literal["diff", "abs_diff"] = "diff"

    @classmethod
    def neurokit2(cls) -> Conventions:
        return cls()

    @classmethod
    def pyhrv(cls) -> Conventions:
        return cls(pnn_denominator="n_minus_1", poincare_ddof=0, sdsd_of="abs_diff")


@dataclass(frozen=True, slots=True)
class TimeDomain:
    """Time-domain indices; in ms except ``hr_bpm`` (beats/min), ``pnn*_pct`` (%) and the ratio."""

    mean_nn_ms: float
    hr_bpm: float
    sdnn_ms: float
    rmssd_ms: float
    sdsd_ms: float
    pnn50_pct: float
    pnn20_pct: float
    sd1_ms: float
    sd2_ms: float
    sd1_sd2: float


def time_domain(rr_ms: npt.ArrayLike, *, conventions: Conventions | None = None) -> TimeDomain:
    """Compute time-domain and Poincaré indices of consecutive NN intervals.

    Parameters
    ----------
    rr_ms : array_like
        Consecutive NN intervals in milliseconds, all > 0, at least ``MIN_BEATS`` of them,
        with no gap between them.
    conventions : Conventions, optional
        pNNx denominator and Poincaré ddof; neurokit2's by default.

    Returns
    -------
    TimeDomain
        ``hr_bpm`` is the mean of instantaneous heart rates ``mean(60000 / rr_ms)``, as the
        ``hrv`` library's ``mhr``; it differs slightly from ``60000 / mean_nn_ms``.

    Examples
    --------
    >>> td = time_domain([800.0, 850.0, 790.0, 860.0])
    >>> round(td.rmssd_ms, 3), round(td.pnn50_pct, 1)
    (60.553, 50.0)
    """
    conv = conventions or Conventions()
    rr = np.asarray(rr_ms, dtype=np.float64)
    if rr.ndim != 1 or rr.size < MIN_BEATS:
        raise ValueError(f"need at least {MIN_BEATS} RR intervals, got {rr.size}")
    if not np.all(np.isfinite(rr)) or np.any(rr <= 0):
        raise ValueError("RR intervals must be finite and > 0 ms")
    diff = np.diff(rr)
    abs_diff = np.abs(diff)
    pnn_n = rr.size if conv.pnn_denominator == "n" else diff.size
    # Poincaré axes: x1 = (RRn − RRn+1)/√2, x2 = (RRn + RRn+1)/√2.
    sd1 = float(np.std((rr[:-1] - rr[1:]) / np.sqrt(2.0), ddof=conv.poincare_ddof))
    sd2 = float(np.std((rr[:-1] + rr[1:]) / np.sqrt(2.0), ddof=conv.poincare_ddof))
    return TimeDomain(
        mean_nn_ms=float(np.mean(rr)),
        hr_bpm=float(np.mean(60_000.0 / rr)),
        sdnn_ms=float(np.std(rr, ddof=1)),
        rmssd_ms=float(np.sqrt(np.mean(diff**2))),
        sdsd_ms=float(np.std(diff if conv.sdsd_of == "diff" else abs_diff, ddof=1)),
        pnn50_pct=float(np.count_nonzero(abs_diff > 50.0) / pnn_n * 100.0),
        pnn20_pct=float(np.count_nonzero(abs_diff > 20.0) / pnn_n * 100.0),
        sd1_ms=sd1,
        sd2_ms=sd2,
        # A constant series has SD2 = 0; its ratio is undefined, reported as 0 rather than inf.
        sd1_sd2=sd1 / sd2 if sd2 > 0 else 0.0,
    )
