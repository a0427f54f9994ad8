"""Time-domain HRV over a sliding window, updated per beat instead of recomputed.

Adding or removing a beat updates a handful of sums, so a window of N beats costs O(1) per beat
rather than O(N) per step. The sums are of values centred on a reference RR (the first of the
segment), which keeps them small and the subtraction of removed beats exact to ~1e-12 relative;
``resync`` recomputes them from the window's beats to stop rounding from accumulating over days.

Conventions are neurokit2's, as in ``time_domain``: SDNN and SDSD with ddof=1, pNNx over N
intervals, SD1 = SDSD/√2 and SD2 the ddof=1 standard deviation of (RRᵢ + RRᵢ₊₁)/√2.
"""

from __future__ import annotations

import math

import numpy as np

from .time_domain import TimeDomain

__all__ = ["VALUE_NAMES", "RunningTimeDomain"]

# The order of :meth:`RunningTimeDomain.values`.
VALUE_NAMES = (
    "hr_bpm",
    "mean_nn_ms",
    "rmssd_ms",
    "sdnn_ms",
    "sdsd_ms",
    "pnn50_pct",
    "pnn20_pct",
    "sd1_ms",
    "sd2_ms",
    "sd1_sd2",
)


class RunningTimeDomain:
    """Sums over the beats ``rr[lo:hi]`` of a buffer and the successive pairs inside it."""

    __slots__ = ("_ref", "d1", "d2", "n", "nn20", "nn50", "np_", "p1", "p2", "s1", "s2", "shr")

    def __init__(self, ref_ms: float) -> None:
        self._ref = ref_ms
        self.clear()

    def clear(self) -> None:
        self.n = 0
        self.s1 = self.s2 = self.shr = 0.0  # beats: Σx, Σx², Σ60000/RR with x = RR − ref
        self.np_ = 0
        self.d1 = self.d2 = self.p1 = self.p2 = 0.0  # pairs: Σd, Σd², Σp, Σp² with p = a + b − 2·ref
        self.nn50 = self.nn20 = 0

    def add_beat(self, rr_ms: float, sign: int = 1) -> None:
        x = rr_ms - self._ref
        self.n += sign
        self.s1 += sign * x
        self.s2 += sign * x * x
        self.shr += sign * 60_000.0 / rr_ms

    def add_pair(self, a_ms: float, b_ms: float, sign: int = 1) -> None:
        d = b_ms - a_ms
        p = a_ms + b_ms - 2 * self._ref
        self.np_ += sign
        self.d1 += sign * d
        self.d2 += sign * d * d
        self.p1 += sign * p
        self.p2 += sign * p * p
        self.nn50 += sign * (abs(d) > 50.0)
        self.nn20 += sign * (abs(d) > 20.0)

    def add(self, rr_ms: float, prev_ms: float | None) -> None:
        """Add a beat at the window's end and, unless ``prev_ms`` is None, its pair with the beat before.

        Equal to ``add_beat(rr_ms)`` then ``add_pair(prev_ms, rr_ms)``, in one call (the per-beat path).
        """
        x = rr_ms - self._ref
        self.n += 1
        self.s1 += x
        self.s2 += x * x
        self.shr += 60_000.0 / rr_ms
        if prev_ms is not None:
            d = rr_ms - prev_ms
            p = prev_ms + rr_ms - 2 * self._ref
            self.np_ += 1
            self.d1 += d
            self.d2 += d * d
            self.p1 += p
            self.p2 += p * p
            if d < 0.0:
                d = -d
            if d > 20.0:
                self.nn20 += 1
                if d > 50.0:
                    self.nn50 += 1

    def remove(self, rr_ms: float, next_ms: float | None) -> None:
        """Remove the window's first beat and, unless ``next_ms`` is None, its pair with the next beat.

        Equal to ``add_beat(rr_ms, -1)`` then ``add_pair(rr_ms, next_ms, -1)``, in one call.
        """
        x = rr_ms - self._ref
        self.n -= 1
        self.s1 -= x
        self.s2 -= x * x
        self.shr -= 60_000.0 / rr_ms
        if next_ms is not None:
            d = next_ms - rr_ms
            p = rr_ms + next_ms - 2 * self._ref
            self.np_ -= 1
            self.d1 -= d
            self.d2 -= d * d
            self.p1 -= p
            self.p2 -= p * p
            if d < 0.0:
                d = -d
            if d > 20.0:
                self.nn20 -= 1
                if d > 50.0:
                    self.nn50 -= 1

    def extend(self, rr_ms: list[float], start: int, stop: int, first: int) -> None:
        """Add the beats ``rr_ms[start:stop]`` at the window's end, each paired with the beat before
        it when that beat is in the window (index >= ``first``, the window's first beat).

        The same sums, in the same order, as ``add`` per beat; one call per step instead of one
        per beat (the engine's bookkeeping is Python, where calls cost more than the arithmetic).
        """
        if start >= stop:
            return
        ref = self._ref
        s1, s2, shr = self.s1, self.s2, self.shr
        d1, d2, p1, p2 = self.d1, self.d2, self.p1, self.p2
        pairs = nn50 = nn20 = 0
        prev = rr_ms[start - 1] if start > first else None
        for rr in rr_ms[start:stop]:
            x = rr - ref
            s1 += x
            s2 += x * x
            shr += 60_000.0 / rr
            if prev is not None:
                d = rr - prev
                p = prev + rr - 2 * ref
                pairs += 1
                d1 += d
                d2 += d * d
                p1 += p
                p2 += p * p
                if d < 0.0:
                    d = -d
                if d > 20.0:
                    nn20 += 1
                    if d > 50.0:
                        nn50 += 1
            prev = rr
        self.n += stop - start
        self.s1, self.s2, self.shr = s1, s2, shr
        self.np_ += pairs
        self.d1, self.d2, self.p1, self.p2 = d1, d2, p1, p2
        self.nn50 += nn50
        self.nn20 += nn20

    def drop(self, rr_ms: list[float], start: int, stop: int, end: int) -> None:
        """Remove the window's first beats ``rr_ms[start:stop]``, each with its pair with the next
        beat when that beat exists (index < ``end``, one past the window's last beat).

        The same sums, in the same order, as ``remove`` per beat, in one call.
        """
        if start >= stop:
            return
        ref = self._ref
        s1, s2, shr = self.s1, self.s2, self.shr
        d1, d2, p1, p2 = self.d1, self.d2, self.p1, self.p2
        pairs = nn50 = nn20 = 0
        for i in range(start, stop):
            rr = rr_ms[i]
            x = rr - ref
            s1 -= x
            s2 -= x * x
            shr -= 60_000.0 / rr
            if i + 1 < end:
                d = rr_ms[i + 1] - rr
                p = rr + rr_ms[i + 1] - 2 * ref
                pairs += 1
                d1 -= d
                d2 -= d * d
                p1 -= p
                p2 -= p * p
                if d < 0.0:
                    d = -d
                if d > 20.0:
                    nn20 += 1
                    if d > 50.0:
                        nn50 += 1
        self.n -= stop - start
        self.s1, self.s2, self.shr = s1, s2, shr
        self.np_ -= pairs
        self.d1, self.d2, self.p1, self.p2 = d1, d2, p1, p2
        self.nn50 -= nn50
        self.nn20 -= nn20

    def resync(self, rr_ms: np.ndarray) -> None:
        """Recompute every sum from the window's beats (consecutive, oldest first)."""
        self.clear()
        if rr_ms.size == 0:
            return
        x = rr_ms - self._ref
        self.n = int(rr_ms.size)
        self.s1, self.s2, self.shr = float(x.sum()), float((x * x).sum()), float((60_000.0 / rr_ms).sum())
        d = np.diff(rr_ms)
        p = rr_ms[:-1] + rr_ms[1:] - 2 * self._ref
        self.np_ = int(d.size)
        self.d1, self.d2 = float(d.sum()), float((d * d).sum())
        self.p1, self.p2 = float(p.sum()), float((p * p).sum())
        self.nn50, self.nn20 = int(np.count_nonzero(np.abs(d) > 50.0)), int(np.count_nonzero(np.abs(d) > 20.0))

    def result(self) -> TimeDomain:
        """Indices of the current window; needs at least 3 beats."""
        return TimeDomain(**self.indices())

    def indices(self) -> dict[str, float]:
        """The fields of :meth:`result` as a dict, named as :data:`VALUE_NAMES`."""
        return dict(zip(VALUE_NAMES, self.values(), strict=True))

    def values(self) -> tuple[float, float, float, float, float, float, float, float, float, float]:
        """The indices as a tuple in the order of :data:`VALUE_NAMES` (the engine's per-step path,
        which builds its record positionally); needs at least 3 beats."""
        n, m = self.n, self.np_
        if n < 3 or m != n - 1:
            raise ValueError(f"need at least 3 consecutive beats, have {n} beats and {m} pairs")
        s1, d1, p1 = self.s1, self.d1, self.p1
        # Rounding can leave a zero variance a hair below 0: clamp it (as max(0.0, v), without the call).
        var_rr = (self.s2 - s1 * s1 / n) / (n - 1)
        var_rr = var_rr if var_rr > 0.0 else 0.0
        var_d = (self.d2 - d1 * d1 / m) / (m - 1)
        var_d = var_d if var_d > 0.0 else 0.0
        var_p = (self.p2 - p1 * p1 / m) / (m - 1)
        var_p = var_p if var_p > 0.0 else 0.0
        sd1 = math.sqrt(var_d / 2)
        sd2 = math.sqrt(var_p / 2)
        return (
            self.shr / n,
            self._ref + s1 / n,
            math.sqrt(self.d2 / m),
            math.sqrt(var_rr),
            math.sqrt(var_d),
            self.nn50 / n * 100.0,
            self.nn20 / n * 100.0,
            sd1,
            sd2,
            sd1 / sd2 if sd2 > 0 else 0.0,
        )
