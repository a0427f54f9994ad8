"""The streaming window engine: one device's beats in, Indicators records out.

Every ``step_s`` of beat time it reports each trailing window (default 60 s and 300 s):

* Beats first pass an RR plausibility gate, then the streaming artifact corrector (bounded
  look-ahead, so records lag the newest beat by a few beats); corrected beats lower ``quality``.
* Time-domain indices come from running sums updated per beat (``running.py``), not recomputed;
  frequency-domain and nonlinear indices are computed on the window's beats at each step.
* Windows never span a gap: a beat flagged ``gap_before``, a beat whose interval does not start
  where the previous one ended, or an implausible RR ends the segment. In a new segment the
  shortest window reports from ``warmup_s`` on (``window_s`` shorter than nominal); longer
  windows report once they are full.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from .frequency import FrequencyDomain, FrequencyParams
from .nonlinear import Nonlinear
from .nonlinear import nonlinear as nonlinear_indices
from .records import Beat, Indicators, NullReason
from .running import RunningTimeDomain
from .spectrum_stream import StreamingSpectrum
from .time_domain import MIN_BEATS

__all__ = ["RollingWindow", "WindowConfig"]

_NOT_COMPUTED = ("breathing_rate_brpm", "stress_score", "stress_level", "gate_reason", "activity_state")
_TIME_DOMAIN = (
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
_FREQUENCY = ("vlf_ms2", "lf_ms2", "hf_ms2", "lf_hf", "lfn_nu", "hfn_nu")
_NONLINEAR = ("dfa_alpha1", "baevsky_si", "baevsky_si_sqrt")
_NOT_COMPUTED_REASONS = dict.fromkeys(_NOT_COMPUTED, NullReason.NOT_COMPUTED)


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """Window geometry in seconds of beat time, the plausible RR range in ms, and methods.

    The RR range 300–2400 ms (25–200 bpm) keeps physiological extremes and rejects values no
    heart produces, such as the 0 and 65535 placeholders some sensors send.
    """

    windows_s: tuple[float, ...] = (60.0, 300.0)
    step_s: float = 5.0
    warmup_s: float = 7.0
    min_rr_ms: float = 300.0
    max_rr_ms: float = 2400.0
    max_misalignment_s: float = 0.5
    correction: Literal["lipponen2019", "malik", "none"] = "lipponen2019"
    # Beats the corrector waits for before deciding one. 4 keeps it within 0.7 pp of the batch
    # corrector's sensitivity (6 would match it exactly) and lets the first reading show within
    # ~12 s of the first beat instead of ~17 s.
    correction_lookahead_beats: int = 4
    spectral: bool = True  # frequency-domain indices
    nonlinear: bool = True  # DFA α1 and Baevsky's stress index
    frequency: FrequencyParams = field(default_factory=FrequencyParams)
    resync_every: int = 720  # steps between exact recomputations of the running sums

    def __post_init__(self) -> None:
        if not self.windows_s or min(self.windows_s) <= 0:
            raise ValueError("windows_s needs at least one window, each > 0 s")
        object.__setattr__(self, "windows_s", tuple(sorted(set(self.windows_s))))
        shortest = self.windows_s[0]
        if not (0 < self.step_s <= shortest and 0 < self.warmup_s <= shortest):
            raise ValueError("need 0 < step_s <= the shortest window and 0 < warmup_s <= the shortest window")
        if not 0 < self.min_rr_ms < self.max_rr_ms:
            raise ValueError("need 0 < min_rr_ms < max_rr_ms")


class _Corrector(Protocol):
    def push(self, rr_ms: float) -> list[tuple[float, bool]]: ...

    def flush(self) -> list[tuple[float, bool]]: ...

    def reset(self) -> None: ...


class _PassThrough:
    def push(self, rr_ms: float) -> list[tuple[float, bool]]:
        return [(rr_ms, False)]

    def flush(self) -> list[tuple[float, bool]]:
        return []

    def reset(self) -> None:
        pass


def _corrector(method: str, lookahead_beats: int) -> _Corrector:
    if method == "none":
        return _PassThrough()
    from .artifacts import StreamingCorrector

    return StreamingCorrector(method=method, lookahead_beats=lookahead_beats)  # type: ignore[arg-type]


class _Window:
    __slots__ = ("length_s", "lo", "n_bad", "spectrum", "stats", "steps")

    def __init__(self, length_s: float) -> None:
        self.length_s = length_s
        self.lo = 0
        self.stats = RunningTimeDomain(1000.0)
        self.n_bad = 0
        self.steps = 0
        self.spectrum: StreamingSpectrum | None = None  # made at the first spectral record


class RollingWindow:
    """Streaming window engine for one device."""

    def __init__(self, device_id: str, config: WindowConfig | None = None) -> None:
        self.device_id = device_id
        self.config = config or WindowConfig()
        self._windows = [_Window(w) for w in self.config.windows_s]
        self._corrector = _corrector(self.config.correction, self.config.correction_lookahead_beats)
        self._pass_through = isinstance(self._corrector, _PassThrough)  # beats go straight in
        # The segment's beats: end times and RR in numpy (for the slices handed to the spectrum and
        # the resync), and RR, interval starts and flags in Python lists for the per-beat
        # bookkeeping, where reading numpy scalars would cost more than the arithmetic.
        self._t = np.empty(1024)
        self._rr = np.empty(1024)
        self._start_list: list[float] = []  # each beat's interval start, t − RR
        self._rr_list: list[float] = []
        self._bad_list: list[bool] = []  # corrected or reported without skin contact
        self._n = 0  # beats in the buffer
        self._contact: deque[bool | None] = deque()
        self._segment_start_s: float | None = None
        self._next_emit_s = 0.0
        self._last_raw_t_s = 0.0
        self._last_clean_t_s = 0.0
        self.rejected_beats = 0  # implausible RR values set aside
        self.corrected_beats = 0

    def push(self, beat: Beat) -> list[Indicators]:
        """Add the next beat (in time order); return the records it completes."""
        cfg = self.config
        out: list[Indicators] = []
        rr_ms = beat.rr_ms
        if not cfg.min_rr_ms <= rr_ms <= cfg.max_rr_ms:
            self.rejected_beats += 1
            self._end_segment(out)
            return out
        t_s = beat.t_utc_s
        interval_start_s = t_s - rr_ms / 1000.0
        if self._segment_start_s is not None and (
            beat.gap_before or abs(interval_start_s - self._last_raw_t_s) > cfg.max_misalignment_s
        ):
            self._end_segment(out)
        if self._segment_start_s is None:
            self._start_segment(interval_start_s, rr_ms)
        self._last_raw_t_s = t_s
        if self._pass_through:
            self._accept(rr_ms, False, beat.contact, out)
            return out
        contacts = self._contact
        contacts.append(beat.contact)
        for value, corrected in self._corrector.push(rr_ms):
            self._accept(value, corrected, contacts.popleft() if contacts else None, out)
        return out

    def flush(self) -> list[Indicators]:
        """Release the beats held for look-ahead (end of a recording); return the records."""
        out: list[Indicators] = []
        self._end_segment(out)
        return out

    # -- segments -------------------------------------------------------------------------

    def _start_segment(self, start_s: float, first_rr_ms: float) -> None:
        self._segment_start_s = start_s
        self._last_clean_t_s = start_s
        self._next_emit_s = start_s + self.config.warmup_s
        self._n = 0
        self._start_list.clear()
        self._rr_list.clear()
        self._bad_list.clear()
        self._contact.clear()
        self._corrector.reset()
        for w in self._windows:
            w.lo = 0
            w.stats = RunningTimeDomain(first_rr_ms)
            w.n_bad = 0
            w.spectrum = None  # its spline must not run across the gap

    def _end_segment(self, out: list[Indicators]) -> None:
        if self._segment_start_s is not None:
            contacts = self._contact
            for rr_ms, corrected in self._corrector.flush():
                self._accept(rr_ms, corrected, contacts.popleft() if contacts else None, out)
        self._segment_start_s = None

    # -- beats ----------------------------------------------------------------------------

    def _accept(self, rr_ms: float, corrected: bool, contact: bool | None, out: list[Indicators]) -> None:
        t_s = self._last_clean_t_s + rr_ms / 1000.0
        # A beat ending on a window's edge (within float noise) belongs to that window, as at the
        # window's start, so both edges use the same 1e-9-s tolerance.
        due_s = t_s - 1e-9
        if self._next_emit_s < due_s:
            step_s = self.config.step_s
            while self._next_emit_s < due_s:
                out.extend(self._emit(self._next_emit_s))
                self._next_emit_s += step_s
        bad = corrected or contact is False
        if corrected:
            self.corrected_beats += 1
        i = self._n
        if i == self._t.size:
            self._compact()
            i = self._n
        self._t[i] = t_s
        self._rr[i] = rr_ms
        rr_list = self._rr_list
        prev_ms = rr_list[-1] if i else 0.0
        self._start_list.append(t_s - rr_ms / 1000.0)
        rr_list.append(rr_ms)
        self._bad_list.append(bad)
        self._n = i + 1
        for w in self._windows:
            # Its pair with the previous beat, if that beat is in the window.
            w.stats.add(rr_ms, prev_ms if i > w.lo else None)
            w.n_bad += bad
        self._last_clean_t_s = t_s

    def _compact(self) -> None:
        head = min(w.lo for w in self._windows)
        keep = self._n - head
        if keep > self._t.size // 2:  # mostly live data: grow instead
            self._t = np.concatenate([self._t, np.empty_like(self._t)])
            self._rr = np.concatenate([self._rr, np.empty_like(self._rr)])
        self._t[:keep] = self._t[head : self._n]
        self._rr[:keep] = self._rr[head : self._n]
        del self._start_list[:head], self._rr_list[:head], self._bad_list[:head]
        self._n = keep
        for w in self._windows:
            w.lo -= head

    # -- records --------------------------------------------------------------------------

    def _emit(self, end_s: float) -> list[Indicators]:
        assert self._segment_start_s is not None
        covered_s = end_s - self._segment_start_s
        n = self._n
        starts, rr_list, bad_list = self._start_list, self._rr_list, self._bad_list
        records = []
        for k, w in enumerate(self._windows):
            start_s = end_s - w.length_s
            # Drop the beats whose interval starts before the window.
            limit_s = start_s - 1e-9
            lo = w.lo
            if lo < n and starts[lo] < limit_s:
                stats = w.stats
                while lo < n and starts[lo] < limit_s:
                    stats.remove(rr_list[lo], rr_list[lo + 1] if lo + 1 < n else None)
                    w.n_bad -= bad_list[lo]
                    lo += 1
                w.lo = lo
            full = covered_s >= w.length_s - 1e-9
            if not full and k > 0:
                continue  # longer windows report only when full
            w.steps += 1
            if w.steps % self.config.resync_every == 0:
                w.stats.resync(self._rr[lo:n])
            if w.stats.n:
                records.append(self._record(w, max(start_s, self._segment_start_s), end_s))
        return records

    def _spectrum(self, w: _Window, rr: np.ndarray) -> FrequencyDomain:
        if w.spectrum is None:
            w.spectrum = StreamingSpectrum(self.config.frequency)
        return w.spectrum.update(rr, self._t[w.lo : self._n])

    def _record(self, w: _Window, start_s: float, end_s: float) -> Indicators:
        n = w.stats.n
        cfg = self.config
        reasons: dict[str, NullReason] = dict(_NOT_COMPUTED_REASONS)
        enough = n >= MIN_BEATS
        if enough:
            values: dict[str, float | None] = w.stats.indices()  # type: ignore[assignment]
        else:
            values = {}
            reasons.update(dict.fromkeys(_TIME_DOMAIN, NullReason.TOO_FEW_BEATS))
        rr = self._rr[w.lo : self._n]
        for names, wanted, compute in (
            (_FREQUENCY, cfg.spectral, self._spectrum),
            (_NONLINEAR, cfg.nonlinear, _nonlinear),
        ):
            if not wanted:
                reasons.update(dict.fromkeys(names, NullReason.NOT_COMPUTED))
            elif not enough:
                reasons.update(dict.fromkeys(names, NullReason.TOO_FEW_BEATS))
            else:
                result = compute(w, rr)
                for name in names:
                    values[name] = getattr(result, name)
                for name, reason in result.null_reasons.items():
                    if name in names:
                        reasons[name] = reason
        return Indicators(
            device_id=self.device_id,
            t_start_utc_s=float(start_s),
            t_end_utc_s=float(end_s),
            window_s=float(end_s - start_s),
            window_nominal_s=w.length_s,
            n_beats=n,
            quality=(n - w.n_bad) / n,
            null_reasons=reasons,
            **values,
        )


def _nonlinear(_: _Window, rr: np.ndarray) -> Nonlinear:
    return nonlinear_indices(rr)
