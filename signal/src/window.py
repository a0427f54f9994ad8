"""The streaming window engine: one device's beats in, Indicators records out.

Every ``step_s`` of beat time it reports each trailing window (default 60 s and 300 s):

* Beats first pass an RR plausibility gate, then the streaming artifact corrector (bounded
  look-ahead, so records lag the newest beat by a few beats); corrected beats lower ``quality``.
* Time-domain indices come from running sums (``running.py``), not recomputed: each step adds
  the beats that arrived and removes those that left, one call per window rather than per beat;
  frequency-domain indices come from each window's streaming spectrum (``spectrum_stream.py``),
  fed only the beats that are new since its last step; nonlinear indices are computed on the
  window's beats at each step.
* Windows never span a gap: a beat flagged ``gap_before``, a beat whose interval does not start
  where the previous one ended, or an implausible RR ends the segment. In a new segment the
  shortest window reports from ``warmup_s`` on (``window_s`` shorter than nominal); longer
  windows report once they are full.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from .frequency import FrequencyDomain, FrequencyParams
from .records import Beat, Indicators, NullReason
from .running import VALUE_NAMES, RunningTimeDomain
from .spectrum_stream import StreamingSpectrum
from .time_domain import MIN_BEATS

__all__ = ["RollingWindow", "WindowConfig"]

_NOT_COMPUTED = ("breathing_rate_brpm", "stress_score", "stress_level", "gate_reason", "activity_state")
_FREQUENCY = ("vlf_ms2", "lf_ms2", "hf_ms2", "lf_hf", "lfn_nu", "hfn_nu")
_NONLINEAR = ("dfa_alpha1", "baevsky_si", "baevsky_si_sqrt")
_NOT_COMPUTED_REASONS = dict.fromkeys(_NOT_COMPUTED, NullReason.NOT_COMPUTED)
_FREQUENCY_NOT_COMPUTED = dict.fromkeys(_FREQUENCY, NullReason.NOT_COMPUTED)
_BREATHING_MAX_WINDOW_S = 120.0
_NONLINEAR_NOT_COMPUTED = dict.fromkeys(_NONLINEAR, NullReason.NOT_COMPUTED)
_TOO_FEW_REASONS = dict.fromkeys(VALUE_NAMES + _FREQUENCY + _NONLINEAR, NullReason.TOO_FEW_BEATS)
# Beats kept in the engine's lists before those behind every window are dropped.
_COMPACT_AT = 2048


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
    # Breathing rate from RSA (breathing.py), in windows up to 120 s long (a longer
    # window blurs a rate that changes within minutes).
    breathing: bool = True
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
    # Beats are list indices of the engine's segment: the window holds [lo, n); its running sums
    # cover [lo, hi) (brought up to date at each step, not per beat); its spectrum has seen the
    # beats before ``fed``.
    __slots__ = ("fed", "hi", "length_s", "lo", "spectrum", "stats", "steps")

    def __init__(self, length_s: float) -> None:
        self.length_s = length_s
        self.lo = 0
        self.hi = 0
        self.fed = 0
        self.stats = RunningTimeDomain(1000.0)
        self.steps = 0
        self.spectrum: StreamingSpectrum | None = None  # made at the first spectral record


class RollingWindow:
    """Streaming window engine for one device."""

    def __init__(self, device_id: str, config: WindowConfig | None = None) -> None:
        self.device_id = device_id
        self.config = cfg = config or WindowConfig()
        self._windows = [_Window(w) for w in cfg.windows_s]
        self._corrector = _corrector(cfg.correction, cfg.correction_lookahead_beats)
        self._pass_through = isinstance(self._corrector, _PassThrough)  # beats go straight in
        # Imported only when configured, so a lean configuration does not pay their import time.
        if cfg.nonlinear:
            from .nonlinear import nonlinear

            self._nonlinear = nonlinear
        if cfg.breathing:
            from .breathing import breathing_rate

            self._breathing_rate = breathing_rate
        # Read per beat or per step: kept as plain attributes to spare the config lookups.
        self._min_rr_ms, self._max_rr_ms = cfg.min_rr_ms, cfg.max_rr_ms
        self._max_misalignment_s = cfg.max_misalignment_s
        self._resync_every = cfg.resync_every
        # The segment's beats in Python lists (per-beat appends and the per-step bookkeeping read
        # them a few at a time, where numpy scalars would cost more than the arithmetic): each
        # beat's interval start (t − RR) and RR, and the (ascending) indices of the beats that
        # were corrected or reported without skin contact, which are rare. ``_rr`` mirrors the
        # RR in numpy for the window slices that need an array, filled up to ``_synced`` on demand.
        self._start_list: list[float] = []
        self._rr_list: list[float] = []
        self._bad_at: list[int] = []
        self._rr = np.empty(1024)
        self._synced = 0
        self._compact_at = _COMPACT_AT
        self._contact: deque[bool | None] = deque()
        self._segment_start_s: float | None = None
        self._next_emit_s = 0.0
        self._last_raw_t_s = 0.0
        self._last_clean_t_s = 0.0
        self.rejected_beats = 0  # implausible RR values set aside
        self.corrected_beats = 0

    def push(self, beat: Beat) -> list[Indicators]:
        """Add the next beat (in time order); return the records it completes."""
        out: list[Indicators] = []
        rr_ms = beat.rr_ms
        if not self._min_rr_ms <= rr_ms <= self._max_rr_ms:
            self.rejected_beats += 1
            self._end_segment(out)
            return out
        t_s = beat.t_utc_s
        start_s = t_s - rr_ms / 1000.0
        if self._segment_start_s is None:
            self._start_segment(start_s, rr_ms)
        elif beat.gap_before or abs(start_s - self._last_raw_t_s) > self._max_misalignment_s:
            self._end_segment(out)
            self._start_segment(start_s, rr_ms)
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
        self._start_list.clear()
        self._rr_list.clear()
        self._bad_at.clear()
        self._synced = 0
        self._contact.clear()
        self._corrector.reset()
        for w in self._windows:
            w.lo = w.hi = w.fed = 0
            w.stats = RunningTimeDomain(first_rr_ms)
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
        if self._next_emit_s < t_s - 1e-9:
            self._emit_due(t_s - 1e-9, out)
        if corrected or contact is False:
            if corrected:
                self.corrected_beats += 1
            self._bad_at.append(len(self._rr_list))
        self._start_list.append(t_s - rr_ms / 1000.0)
        self._rr_list.append(rr_ms)
        self._last_clean_t_s = t_s

    def _emit_due(self, due_s: float, out: list[Indicators]) -> None:
        """Report every step that ends before ``due_s``, the new beat's end (less the tolerance)."""
        # Checked per step rather than per beat: the lists outgrow the mark by a step's beats at most.
        if len(self._rr_list) >= self._compact_at:
            self._compact()
        step_s = self.config.step_s
        while self._next_emit_s < due_s:
            out.extend(self._emit(self._next_emit_s))
            self._next_emit_s += step_s

    def _compact(self) -> None:
        """Drop the beats before every window (lists would otherwise grow for the whole segment)."""
        head = min(w.lo for w in self._windows)
        # Windows holding most of the lists (very long ones) raise the bar instead.
        self._compact_at = max(_COMPACT_AT, 2 * (len(self._rr_list) - head))
        if head == 0:
            return
        del self._start_list[:head], self._rr_list[:head]
        if self._bad_at:
            self._bad_at = [i - head for i in self._bad_at if i >= head]
        synced = self._synced - head
        if synced > 0:
            self._rr[:synced] = self._rr[head : self._synced]
        self._synced = max(0, synced)
        for w in self._windows:
            w.lo -= head
            w.hi = max(0, w.hi - head)  # hi >= lo >= head: never clipped
            w.fed -= head  # may go negative: the spectrum then starts afresh (see _spectrum)

    def _rr_array(self, lo: int, n: int) -> np.ndarray:
        """The RR of beats ``lo … n − 1`` as a numpy view (mirroring the list up to ``n``)."""
        synced = self._synced
        if synced < n:
            if n > self._rr.size:
                grown = np.empty(2 * n)
                grown[:synced] = self._rr[:synced]
                self._rr = grown
            self._rr[synced:n] = self._rr_list[synced:n]
            self._synced = n
        return self._rr[lo:n]

    # -- records --------------------------------------------------------------------------

    def _emit(self, end_s: float) -> list[Indicators]:
        segment_start_s = self._segment_start_s
        assert segment_start_s is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        covered_s = end_s - segment_start_s
        starts, rr_list = self._start_list, self._rr_list
        n = len(rr_list)
        records = []
        for k, w in enumerate(self._windows):
            stats = w.stats
            # The beats that arrived since the last step join the running sums …
            hi = w.hi
            if hi < n:
                stats.extend(rr_list, hi, n, w.lo)
                w.hi = n
            # … and those whose interval starts before the window leave them (``starts`` ascends).
            limit_s = end_s - w.length_s - 1e-9
            lo = w.lo
            if lo < n and starts[lo] < limit_s:
                new_lo = bisect_left(starts, limit_s, lo + 1, n)
                stats.drop(rr_list, lo, new_lo, n)
                w.lo = lo = new_lo
            full = covered_s >= w.length_s - 1e-9
            if not full and k > 0:
                continue  # longer windows report only when full
            w.steps += 1
            if w.steps % self._resync_every == 0:
                stats.resync(self._rr_array(lo, n))
            if stats.n:
                records.append(self._record(w, max(end_s - w.length_s, segment_start_s), end_s))
        return records

    def _spectrum(self, w: _Window, n: int) -> FrequencyDomain:
        spectrum = w.spectrum
        if spectrum is None or w.fed < w.lo:
            # First spectral record, or the stream fell behind the window (a step without one):
            # start the stream's spline at the window's first beat, as a fresh window would.
            if spectrum is None:
                spectrum = w.spectrum = StreamingSpectrum(self.config.frequency)
            else:
                spectrum.reset()
            w.fed = w.lo
        fd = spectrum.advance(self._rr_list[w.fed : n], n - w.lo)
        w.fed = n
        return fd

    def _frequency_values(self, w: _Window, n: int, reasons: dict[str, NullReason]) -> tuple[float | None, ...]:
        """VLF, LF, HF, LF/HF, LFn, HFn (the order of Indicators' fields); their nulls' reasons into ``reasons``."""
        if not self.config.spectral:
            reasons.update(_FREQUENCY_NOT_COMPUTED)
            return (None,) * 6
        fd = self._spectrum(w, n)
        if fd.null_reasons:
            for name, reason in fd.null_reasons.items():
                if name in _FREQUENCY:
                    reasons[name] = reason
        return fd.vlf_ms2, fd.lf_ms2, fd.hf_ms2, fd.lf_hf, fd.lfn_nu, fd.hfn_nu

    def _nonlinear_values(self, w: _Window, n: int, reasons: dict[str, NullReason]) -> tuple[float | None, ...]:
        """DFA α1, Baevsky's SI and its square root; their nulls' reasons into ``reasons``."""
        if not self.config.nonlinear:
            reasons.update(_NONLINEAR_NOT_COMPUTED)
            return None, None, None
        nl = self._nonlinear(self._rr_array(w.lo, n))
        for name, reason in nl.null_reasons.items():
            if name in _NONLINEAR:
                reasons[name] = reason
        return nl.dfa_alpha1, nl.baevsky_si, nl.baevsky_si_sqrt

    def _breathing_value(self, w: _Window, n: int, reasons: dict[str, NullReason]) -> float | None:
        estimate = self._breathing_rate(self._rr_array(w.lo, n))
        if estimate.rate_brpm is None:
            reasons["breathing_rate_brpm"] = estimate.reason or NullReason.LOW_QUALITY
        else:
            del reasons["breathing_rate_brpm"]  # NOT_COMPUTED until here
        return estimate.rate_brpm

    def _n_bad(self, lo: int) -> int:
        """Corrected or contact-less beats from ``lo`` to the newest."""
        bad = self._bad_at
        return len(bad) - bisect_left(bad, lo) if bad else 0

    def _record(self, w: _Window, start_s: float, end_s: float) -> Indicators:
        n_beats = w.stats.n
        cfg = self.config
        reasons: dict[str, NullReason] = dict(_NOT_COMPUTED_REASONS)
        quality = (n_beats - self._n_bad(w.lo)) / n_beats
        if n_beats < MIN_BEATS:
            reasons.update(_TOO_FEW_REASONS)
            if not cfg.spectral:
                reasons.update(_FREQUENCY_NOT_COMPUTED)
            if not cfg.nonlinear:
                reasons.update(_NONLINEAR_NOT_COMPUTED)
            return Indicators(
                device_id=self.device_id,
                t_start_utc_s=float(start_s),
                t_end_utc_s=float(end_s),
                window_s=float(end_s - start_s),
                window_nominal_s=w.length_s,
                n_beats=n_beats,
                quality=quality,
                null_reasons=reasons,
            )
        hr, mean_nn, rmssd, sdnn, sdsd, pnn50, pnn20, sd1, sd2, sd1_sd2 = w.stats.values()
        n = len(self._rr_list)
        vlf, lf, hf, lf_hf, lfn, hfn = self._frequency_values(w, n, reasons)
        dfa, si, si_sqrt = self._nonlinear_values(w, n, reasons)
        breathing = None
        if cfg.breathing and w.length_s <= _BREATHING_MAX_WINDOW_S:
            breathing = self._breathing_value(w, n, reasons)
        # Positional, in the order of Indicators' fields (tests/test_window.py checks that order):
        # once per record, keywords cost three times as much.
        return Indicators(
            self.device_id,
            float(start_s),
            float(end_s),
            float(end_s - start_s),
            n_beats,
            quality,
            w.length_s,
            hr,
            mean_nn,
            rmssd,
            sdnn,
            sdsd,
            pnn50,
            pnn20,
            vlf,
            lf,
            hf,
            lf_hf,
            lfn,
            hfn,
            sd1,
            sd2,
            sd1_sd2,
            dfa,
            si,
            si_sqrt,
            breathing,
            None,  # stress_score, stress_level, gate_reason, activity_state: set downstream
            None,
            None,
            None,
            reasons,
        )
