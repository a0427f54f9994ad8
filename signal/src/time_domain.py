"""Time-domain and Poincaré HRV indices of one window of NN intervals.

Conventions follow neurokit2's ``hrv_time``/``hrv_nonlinear`` so results match it exactly:
SDNN and SDSD use ddof=1; pNN50 counts successive differences strictly greater than 50 ms and
divides by the number of NN intervals N (not N−1); SD1/SD2 are the ddof=1 standard deviations
of the Poincaré plot's rotated axes.

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

import numpy as np
import numpy.typing as npt

__all__ = ["MIN_BEATS", "TimeDomain", "time_domain"]

MIN_BEATS = 3  # two successive differences are the least that ddof=1 statistics need


@dataclass(frozen=True, slots=True)
class TimeDomain:
    """Time-domain indices; all in ms except ``hr_bpm`` (beats/min) and ``pnn50_pct`` (%)."""

    mean_nn_ms: float
    hr_bpm: float
    sdnn_ms: float
    rmssd_ms: float
    sdsd_ms: float
    pnn50_pct: float
    sd1_ms: float
    sd2_ms: float


def time_domain(rr_ms: npt.ArrayLike) -> TimeDomain:
    """Compute time-domain and Poincaré indices of consecutive NN intervals.

    Parameters
    ----------
    rr_ms : array_like
        Consecutive NN intervals in milliseconds, all > 0, at least ``MIN_BEATS`` of them,
        with no gap between them.

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
    rr = np.asarray(rr_ms, dtype=np.float64)
    if rr.ndim != 1 or rr.size < MIN_BEATS:
        raise ValueError(f"need at least {MIN_BEATS} RR intervals, got {rr.size}")
    if not np.all(np.isfinite(rr)) or np.any(rr <= 0):
        raise ValueError("RR intervals must be finite and > 0 ms")
    diff = np.diff(rr)
    sdnn = float(np.std(rr, ddof=1))
    sdsd = float(np.std(diff, ddof=1))
    # Poincaré axes: x1 = (RRn − RRn+1)/√2, x2 = (RRn + RRn+1)/√2.
    x1 = (rr[:-1] - rr[1:]) / np.sqrt(2.0)
    x2 = (rr[:-1] + rr[1:]) / np.sqrt(2.0)
    return TimeDomain(
        mean_nn_ms=float(np.mean(rr)),
        hr_bpm=float(np.mean(60_000.0 / rr)),
        sdnn_ms=sdnn,
        rmssd_ms=float(np.sqrt(np.mean(diff**2))),
        sdsd_ms=sdsd,
        pnn50_pct=float(np.sum(np.abs(diff) > 50.0) / rr.size * 100.0),
        sd1_ms=float(np.std(x1, ddof=1)),
        sd2_ms=float(np.std(x2, ddof=1)),
    )
