"""Accelerometer samples → how much the wearer moves, per window, for the stress gate.

The measure is **ENMO**, the Euclidean norm minus one g with negative values set to zero, in mg
(van Hees et al. 2013, PLoS ONE 8:e61691): per sample ``max(0, |a| − 1 g)``, averaged over the
window. Still, it is ~0 whatever the posture; walking with a chest or hip sensor gives ~100 mg and
more, running several hundred.

**Gravity is measured, not assumed.** ``1 g`` is taken as the magnitude of the mean acceleration
vector over each few seconds (dynamic acceleration averages out; gravity does not), the median of
those over the last minutes. That removes a sensor's gain error (the ENMO noise floor of an
uncalibrated 1 % gain error alone is ~10 mg; van Hees et al. 2014, J Appl Physiol 117:738, calibrate
against gravity for this reason) and any scale mismatch between a device's frame format and its
FACTOR setting, so ENMO is in mg of the sensor's own gravity.

**Threshold** (:data:`ACTIVE_ENMO_MG` = 40 mg): moving enough to raise heart rate and lower HRV the
way stress does. A choice between the still floor (a few mg once calibrated) and the trunk
moderate-to-vigorous cut-point of Hildebrand et al. 2014 (Med Sci Sports Exerc 46:1816; ~69 mg
for hip-worn sensors), so brisk light activity counts as moving too. Chest straps sit on the trunk,
where these trunk values apply; wrist and arm sensors move more for the same effort.
"""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["ACTIVE_ENMO_MG", "MotionTracker", "enmo_mg"]

ACTIVE_ENMO_MG = 40.0
_GRAVITY_BLOCK_S = 4.0  # seconds averaged for one gravity estimate
_GRAVITY_BLOCKS = 75  # blocks kept for the median (5 min)
_KEEP_S = 900.0  # per-second values kept (longer than the longest window asked about)
_MIN_COVERAGE = 0.5  # share of a window's seconds that must have samples


def enmo_mg(xyz: np.ndarray, gravity: float = 1000.0) -> np.ndarray:
    """ENMO per sample in mg: ``max(0, |a| / gravity − 1) · 1000``; ``xyz`` shape (n, 3), in the unit of ``gravity``."""
    a = np.asarray(xyz, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3:
        raise ValueError(f"xyz must have shape (n, 3), got {a.shape}")
    if not gravity > 0:
        raise ValueError(f"gravity must be > 0, got {gravity}")
    return np.maximum(np.linalg.norm(a, axis=1) / gravity - 1.0, 0.0) * 1000.0


class MotionTracker:
    """One device's accelerometer history: per-second mean ENMO, asked for over any recent window."""

    def __init__(self, *, active_mg: float = ACTIVE_ENMO_MG) -> None:
        if not active_mg > 0:
            raise ValueError(f"active_mg must be > 0, got {active_mg}")
        self.active_mg = active_mg
        self._gravity: deque[float] = deque(maxlen=_GRAVITY_BLOCKS)
        self._block: list[np.ndarray] = []
        self._block_start_s: float | None = None
        self._seconds: dict[int, tuple[float, int]] = {}  # whole second → (sum ENMO, samples)
        self._order: deque[int] = deque()
        self.samples = 0

    @property
    def gravity(self) -> float | None:
        """The current estimate of 1 g in the sensor's units (None before the first block)."""
        return float(np.median(self._gravity)) if self._gravity else None

    def push(self, t_utc_s: np.ndarray, xyz: np.ndarray) -> None:
        """Add samples (times in POSIX s, ascending; ``xyz`` shape (n, 3) in the sensor's units)."""
        t = np.asarray(t_utc_s, dtype=np.float64).ravel()
        a = np.asarray(xyz, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] != t.size:
            raise ValueError(f"need n times and (n, 3) samples, got {t.size} and {a.shape}")
        if t.size == 0:
            return
        self._update_gravity(t, a)
        g = self.gravity
        if g is None or not g > 0:
            return
        e = enmo_mg(a, g)
        secs = np.floor(t).astype(np.int64)
        uniq, start = np.unique(secs, return_index=True)
        sums = np.add.reduceat(e, start)
        counts = np.diff(np.append(start, e.size))
        for s, total, n in zip(uniq.tolist(), sums.tolist(), counts.tolist(), strict=True):
            old = self._seconds.get(s)
            if old is None:
                self._order.append(s)
                self._seconds[s] = (total, n)
            else:
                self._seconds[s] = (old[0] + total, old[1] + n)
        self.samples += t.size
        horizon = int(t[-1] - _KEEP_S)
        while self._order and self._order[0] < horizon:
            self._seconds.pop(self._order.popleft(), None)

    def _update_gravity(self, t: np.ndarray, a: np.ndarray) -> None:
        if self._block_start_s is None:
            self._block_start_s = float(t[0])
        self._block.append(a)
        if t[-1] - self._block_start_s < _GRAVITY_BLOCK_S and self._gravity:
            return
        block = np.concatenate(self._block)
        self._gravity.append(float(np.linalg.norm(block.mean(axis=0))))
        self._block = []
        self._block_start_s = None

    def activity_mg(self, t_start_utc_s: float, t_end_utc_s: float) -> float | None:
        """Mean ENMO (mg) over the window, or None when under half its seconds have samples."""
        lo, hi = int(np.floor(t_start_utc_s)), int(np.ceil(t_end_utc_s))
        total = n = covered = 0
        for s in range(lo, hi):
            v = self._seconds.get(s)
            if v is not None:
                total += v[0] / v[1]
                covered += 1
        n = hi - lo
        if n <= 0 or covered < _MIN_COVERAGE * n:
            return None
        return total / covered

    def state(self, t_start_utc_s: float, t_end_utc_s: float) -> str | None:
        """``"active"`` or ``"rest"`` for the window (``Indicators.activity_state``), None without data."""
        mg = self.activity_mg(t_start_utc_s, t_end_utc_s)
        if mg is None:
            return None
        return "active" if mg > self.active_mg else "rest"
