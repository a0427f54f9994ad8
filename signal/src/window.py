"""Rolling windows over one device's beat stream: beats in, Indicators records out.

A record is emitted every ``step_s`` of beat time over the trailing ``window_s``. Windows never
span a gap: a beat flagged ``gap_before``, a beat whose interval does not start where the
previous one ended, or an implausible RR starts a new segment. Within a segment the first
record comes once ``warmup_s`` is covered (marked by ``window_s`` shorter than nominal), so a
person sees a first reading within seconds rather than after a full window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .records import Beat, Indicators, NullReason
from .time_domain import MIN_BEATS, time_domain

__all__ = ["RollingWindow", "WindowConfig"]

# Not yet computed by this version of the signal core.
_NOT_COMPUTED = (
    "lf_ms2",
    "hf_ms2",
    "lf_hf",
    "baevsky_si",
    "breathing_rate_brpm",
    "stress_score",
    "stress_level",
    "gate_reason",
    "activity_state",
)
_TIME_DOMAIN = ("hr_bpm", "mean_nn_ms", "rmssd_ms", "sdnn_ms", "pnn50_pct", "sd1_ms", "sd2_ms")


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """Window geometry in seconds of beat time, and the plausible RR range in ms.

    The RR range 300–2400 ms (25–200 bpm) keeps physiological extremes and rejects values no
    heart produces at rest or in sport, such as the 0 and 65535 placeholders some sensors send.
    """

    window_s: float = 60.0
    step_s: float = 5.0
    warmup_s: float = 10.0
    min_rr_ms: float = 300.0
    max_rr_ms: float = 2400.0
    max_misalignment_s: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.step_s <= self.window_s and 0 < self.warmup_s <= self.window_s):
            raise ValueError("need 0 < step_s <= window_s and 0 < warmup_s <= window_s")
        if not 0 < self.min_rr_ms < self.max_rr_ms:
            raise ValueError("need 0 < min_rr_ms < max_rr_ms")


class RollingWindow:
    """Streaming window engine for one device."""

    def __init__(self, device_id: str, config: WindowConfig | None = None) -> None:
        self.device_id = device_id
        self.config = config or WindowConfig()
        self._beats: deque[Beat] = deque()
        self._segment_start_s: float | None = None
        self._next_emit_s = 0.0
        self._last_t_s = 0.0
        self.rejected_beats = 0  # implausible RR values set aside

    def push(self, beat: Beat) -> list[Indicators]:
        """Add the next beat (in time order); return the records it completes."""
        cfg = self.config
        if not cfg.min_rr_ms <= beat.rr_ms <= cfg.max_rr_ms:
            self.rejected_beats += 1
            self._end_segment()
            return []
        interval_start_s = beat.t_utc_s - beat.rr_ms / 1000.0
        if self._segment_start_s is not None and (
            beat.gap_before or abs(interval_start_s - self._last_t_s) > cfg.max_misalignment_s
        ):
            self._end_segment()
        out: list[Indicators] = []
        if self._segment_start_s is None:
            self._segment_start_s = interval_start_s
            self._next_emit_s = interval_start_s + cfg.warmup_s
        else:
            while self._next_emit_s < beat.t_utc_s:
                record = self._record(self._next_emit_s)
                if record is not None:
                    out.append(record)
                self._next_emit_s += cfg.step_s
        self._beats.append(beat)
        self._last_t_s = beat.t_utc_s
        return out

    def _end_segment(self) -> None:
        self._beats.clear()
        self._segment_start_s = None

    def _record(self, end_s: float) -> Indicators | None:
        assert self._segment_start_s is not None
        start_s = max(self._segment_start_s, end_s - self.config.window_s)
        while self._beats and self._beats[0].t_utc_s - self._beats[0].rr_ms / 1000.0 < start_s - 1e-9:
            self._beats.popleft()
        beats = [b for b in self._beats if b.t_utc_s <= end_s]
        if not beats:
            return None
        good = sum(1 for b in beats if not b.corrected and b.contact is not False)
        reasons = dict.fromkeys(_NOT_COMPUTED, NullReason.NOT_COMPUTED)
        values: dict[str, float] = {}
        if len(beats) >= MIN_BEATS:
            td = time_domain(np.fromiter((b.rr_ms for b in beats), dtype=np.float64, count=len(beats)))
            values = {name: getattr(td, name) for name in _TIME_DOMAIN}
        else:
            reasons.update(dict.fromkeys(_TIME_DOMAIN, NullReason.TOO_FEW_BEATS))
        return Indicators(
            device_id=self.device_id,
            t_start_utc_s=start_s,
            t_end_utc_s=end_s,
            window_s=end_s - start_s,
            n_beats=len(beats),
            quality=good / len(beats),
            null_reasons=reasons,
            **values,
        )
