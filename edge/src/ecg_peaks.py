"""R-peaks from a live single-lead ECG stream (the Polar H10's PMD ECG), as RR intervals.

The detector is neurokit2's ``ecg_peaks`` (its default ``neurokit`` method: ``ecg_clean``'s 0.5-Hz
high-pass and 50-Hz notch, then QRS slopes; Makowski et al. 2021, Behav Res 53:1689), run on
overlapping stretches of the stream: every ``step_s`` of new samples, the detector sees them with
``context_s`` of older ones before (so the filters have settled) and accepts the peaks up to
``guard_s`` before the newest sample (a QRS cut at the end of a stretch is found whole in the next).

neurokit2 finds each peak to a whole sample (7.7 ms at 130 Hz). Each one is refined by the vertex
of the parabola through the cleaned signal at the peak and its two neighbours, so RR intervals are
not quantised to the sample period (a standard sub-sample estimate; e.g. the 3-point interpolation
recommended for ECG sampled under 250 Hz by Task Force 1996, Circulation 93:1043, "Technical
requirements").

neurokit2 is an optional dependency (the ``analysis`` extra); it is imported inside
:meth:`EcgPeakStream.push`, only while an ECG stream runs, so the Heart Rate Service path never
loads it (the footprint budget of ``vagus run``). :func:`neurokit2_available` lets a caller check
first and fall back to the strap's own RR (docs/edge-ble.md).
"""

from __future__ import annotations

import importlib.util

import numpy as np

__all__ = ["EcgPeakStream", "neurokit2_available", "refine_peaks"]

# Beats closer than this to the previous one are the same QRS seen twice across stretches
# (250 ms = 240 bpm, above any resting or exercise heart rate the window engine accepts).
_REFRACTORY_S = 0.25


def neurokit2_available() -> bool:
    """Whether neurokit2 can be imported (without importing it)."""
    return importlib.util.find_spec("neurokit2") is not None


def refine_peaks(signal: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Sub-sample peak positions (in samples): the vertex of the parabola through each peak and its neighbours.

    Peaks at either end of ``signal`` or on a flat top keep their whole-sample position; the shift
    is bounded to ±0.5 sample, as the vertex of a true local maximum is.
    """
    x = np.asarray(signal, dtype=np.float64)
    p = np.asarray(peaks, dtype=np.int64)
    out = p.astype(np.float64)
    inner = (p > 0) & (p < x.size - 1)
    q = p[inner]
    left, mid, right = x[q - 1], x[q], x[q + 1]
    denom = left - 2.0 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(denom < 0, 0.5 * (left - right) / denom, 0.0)
    out[inner] += np.clip(shift, -0.5, 0.5)
    return out


class EcgPeakStream:
    """Turns ECG samples (µV, at ``fs_hz``) into RR intervals (ms), in order, as the R-peaks are found.

    :meth:`push` takes each frame's samples and returns ``(rr_ms, peak_index)`` for every beat it
    confirmed, where ``peak_index`` is the beat's fractional position in the stream (samples since
    the first one pushed after the last :meth:`reset`); the first peak of a chain yields no interval.
    Call :meth:`reset` when the stream breaks (a lost frame, a disconnect, lost skin contact).
    """

    def __init__(self, fs_hz: float, *, step_s: float = 4.0, context_s: float = 4.0, guard_s: float = 1.0) -> None:
        if not (fs_hz > 0 and np.isfinite(fs_hz)):
            raise ValueError(f"fs_hz must be a positive number, got {fs_hz}")
        if not (step_s > 0 and context_s >= 1.0 and guard_s > 0):
            raise ValueError("need step_s > 0, context_s ≥ 1 s and guard_s > 0")
        self.fs_hz = float(fs_hz)
        self._step = round(step_s * fs_hz)
        self._context = round(context_s * fs_hz)
        self._guard = round(guard_s * fs_hz)
        self.reset()

    def reset(self) -> None:
        self._buf = np.empty(0, dtype=np.float64)
        self._base = 0  # stream index of _buf[0]
        self._done = 0  # peaks before this stream index have been decided
        self._last_peak: float | None = None
        self._total = 0

    @property
    def samples_seen(self) -> int:
        return self._total

    def push(self, microvolts: np.ndarray | list[int]) -> list[tuple[float, float]]:
        """Add samples; return the intervals of the beats confirmed by them (oldest first)."""
        new = np.asarray(microvolts, dtype=np.float64).ravel()
        self._buf = np.concatenate([self._buf, new])
        self._total += new.size
        end = self._base + self._buf.size
        if end - self._done < self._step + self._guard:
            return []
        import neurokit2 as nk

        cleaned = np.asarray(nk.ecg_clean(self._buf, sampling_rate=self.fs_hz), dtype=np.float64)
        if np.ptp(cleaned) > 0:
            _, info = nk.ecg_peaks(cleaned, sampling_rate=self.fs_hz)
            found = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
        else:  # a flat line (electrodes off): nothing to find, and neurokit2 would warn
            found = np.empty(0, dtype=np.int64)
        positions = refine_peaks(cleaned, found) + self._base
        upto = end - self._guard
        out: list[tuple[float, float]] = []
        for pos in positions[(positions >= self._done) & (positions < upto)]:
            last = self._last_peak
            if last is not None and pos - last < _REFRACTORY_S * self.fs_hz:
                continue
            if last is not None:
                out.append(((pos - last) * 1000.0 / self.fs_hz, float(pos)))
            self._last_peak = float(pos)
        self._done = upto
        keep_from = max(0, self._done - self._context - self._base)
        self._buf = self._buf[keep_from:]
        self._base += keep_from
        return out
