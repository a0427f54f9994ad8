"""Timing beats by their RR intervals, anchored to notification arrival.

Sensors batch beats about once a second, so arrival time says little about when a beat
happened. Each beat is placed one RR after the previous one; the chain is anchored to the
arrival time of the first notification (its last beat back-dated to arrival, the earlier ones
before it). Because the sensor's crystal and the host clock drift apart, the chain is checked
against every arrival:

* a beat placed after its own arrival is impossible, so the batch is pulled back to end at
  arrival (host clock slower than the sensor's);
* if even the smallest lead of arrival over the last beat, across the last ``trend_batches``
  batches, exceeds ``max_lead_s``, the chain lags (host clock faster, or one slipped beat) and
  moves forward by ``slew_s``;
* if arrival leads by more than ``gap_s``, beats were lost: the chain restarts at arrival and
  the first beat is marked ``gap_before``, so no window spans the hole.

Pulls and slews are small (≤ the notification period), well under the window engine's
misalignment tolerance, so drift correction never splits a window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["BeatClock", "BeatClockConfig", "PlacedBeat"]


@dataclass(frozen=True, slots=True)
class BeatClockConfig:
    gap_s: float = 3.0
    max_lead_s: float = 1.2
    slew_s: float = 0.2
    trend_batches: int = 30


@dataclass(frozen=True, slots=True)
class PlacedBeat:
    t_utc_s: float
    gap_before: bool


class BeatClock:
    """Places the beats of one device's notifications on the UTC time line."""

    def __init__(self, config: BeatClockConfig | None = None) -> None:
        self.config = config or BeatClockConfig()
        self._last_t_s: float | None = None
        self._leads: deque[float] = deque(maxlen=self.config.trend_batches)
        self.gaps = 0

    def mark_gap(self) -> None:
        """The stream was interrupted (disconnect, contact loss): restart at the next arrival."""
        self._last_t_s = None
        self._leads.clear()

    def place(self, rr_ms: list[float], arrival_utc_s: float) -> list[PlacedBeat]:
        """Times for the beats of one notification (oldest first), ending at or before arrival."""
        if not rr_ms:
            return []
        cfg = self.config
        gap = self._last_t_s is None
        if not gap:
            assert self._last_t_s is not None  # noqa: S101 — a type-narrowing invariant, not input validation
            end_s = self._last_t_s + sum(rr_ms) / 1000.0
            lead_s = arrival_utc_s - end_s
            if lead_s > cfg.gap_s or lead_s < -cfg.gap_s:
                gap = True
                self.gaps += 1
            else:
                shift_s = 0.0
                if lead_s < 0:
                    shift_s = lead_s
                    lead_s = 0.0
                self._leads.append(lead_s)
                if len(self._leads) == self._leads.maxlen and min(self._leads) > cfg.max_lead_s:
                    shift_s = cfg.slew_s
                    self._leads = deque((x - cfg.slew_s for x in self._leads), maxlen=cfg.trend_batches)
                start_s = self._last_t_s + shift_s
        if gap:
            self._leads.clear()
            start_s = arrival_utc_s - sum(rr_ms) / 1000.0
        placed: list[PlacedBeat] = []
        t_s = start_s
        for i, rr in enumerate(rr_ms):
            t_s += rr / 1000.0
            placed.append(PlacedBeat(t_utc_s=t_s, gap_before=gap and i == 0))
        self._last_t_s = t_s
        return placed
