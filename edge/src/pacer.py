"""The breathing pacer: where in the breath a paced-breathing exercise is at a given time.

Pure timing, no I/O: ``vagus breathe`` draws it as a bar, and the nudge payload carries the same
numbers (:meth:`Pacer.timing`) so a phone or Home Assistant can drive a pacer of its own.

Why 6 breaths a minute with a longer exhale: breathing near the cardiovascular resonance
frequency (about 0.1 Hz, 6/min; individual rates ~4.5–7) maximises the heart-rate oscillation
(Vaschillo et al. 2002; Lehrer & Gevirtz 2014, Front Psychol 5:756), and HRV biofeedback at that
rate lowers self-reported stress and anxiety (Goessl, Curtiss & Hofmann 2017, Psychol Med 47:2578,
meta-analysis of 24 studies). Shaffer & Meehan 2020 (Front Neurosci 14:570400) describe finding a
person's own resonance rate by comparing several rates; :func:`resonance_rate_from_exercises`
picks the rate of the past exercise with the highest 0.1-Hz power. The inhale:exhale split 4:6
(40 % inhale) is common practice in HRV-biofeedback protocols [unverified: reported both ways,
Lalanza et al. 2023 review found no consistent advantage of either ratio].
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_INHALE_SHARE",
    "DEFAULT_RATE_BRPM",
    "RATE_RANGE_BRPM",
    "Pacer",
    "Phase",
    "resonance_rate_from_exercises",
]

DEFAULT_RATE_BRPM = 6.0
DEFAULT_INHALE_SHARE = 0.4  # I:E 4:6
# Resonance rates reported between ~4.5 and 7/min; 3–10 leaves room for protocols that step
# through rates (Shaffer & Meehan 2020) without allowing a "slow" rate that is ordinary breathing.
RATE_RANGE_BRPM = (3.0, 10.0)
INHALE_SHARE_RANGE = (0.2, 0.8)


class Phase(StrEnum):
    INHALE = "inhale"
    EXHALE = "exhale"


@dataclass(frozen=True, slots=True)
class Pacer:
    """A breath cycle of ``60 / rate_brpm`` seconds: inhale for ``inhale_share`` of it, then exhale."""

    rate_brpm: float = DEFAULT_RATE_BRPM
    inhale_share: float = DEFAULT_INHALE_SHARE

    def __post_init__(self) -> None:
        lo, hi = RATE_RANGE_BRPM
        if isinstance(self.rate_brpm, bool) or not isinstance(self.rate_brpm, int | float):
            raise ValueError(f"rate_brpm must be a number, got {self.rate_brpm!r}")
        if not lo <= self.rate_brpm <= hi:
            raise ValueError(f"rate_brpm must lie in {lo:g}–{hi:g} breaths/min, got {self.rate_brpm}")
        lo, hi = INHALE_SHARE_RANGE
        if isinstance(self.inhale_share, bool) or not isinstance(self.inhale_share, int | float):
            raise ValueError(f"inhale_share must be a number, got {self.inhale_share!r}")
        if not lo <= self.inhale_share <= hi:
            raise ValueError(f"inhale_share (inhale:exhale ratio) must lie in {lo}–{hi}, got {self.inhale_share}")

    @property
    def period_s(self) -> float:
        return 60.0 / self.rate_brpm

    @property
    def inhale_s(self) -> float:
        return self.period_s * self.inhale_share

    @property
    def exhale_s(self) -> float:
        return self.period_s - self.inhale_s

    @property
    def frequency_hz(self) -> float:
        return self.rate_brpm / 60.0

    def phase_at(self, t_s: float) -> tuple[Phase, float]:
        """The phase at ``t_s`` seconds after the start and how far through it (0 → 1).

        Inhale starts at t = 0, 1 period, …; the fraction is linear in time within each phase.
        """
        if not math.isfinite(t_s) or t_s < 0:
            raise ValueError(f"t_s must be a finite time ≥ 0 s, got {t_s}")
        within = math.fmod(t_s, self.period_s)
        if within < self.inhale_s:
            return Phase.INHALE, within / self.inhale_s
        return Phase.EXHALE, (within - self.inhale_s) / self.exhale_s

    def lung_level(self, t_s: float) -> float:
        """How full the bar is at ``t_s`` (0 empty … 1 full): rising in the inhale, falling in the exhale.

        A raised cosine within each phase, so the bar slows at the turns as breathing does.
        """
        phase, fraction = self.phase_at(t_s)
        eased = 0.5 - 0.5 * math.cos(math.pi * fraction)
        return eased if phase is Phase.INHALE else 1.0 - eased

    def breaths(self, duration_s: float) -> int:
        """Whole breaths that fit in ``duration_s`` seconds."""
        if not math.isfinite(duration_s) or duration_s < 0:
            raise ValueError(f"duration_s must be a finite duration ≥ 0 s, got {duration_s}")
        return math.floor(duration_s / self.period_s + 1e-9)

    def timing(self, duration_s: float) -> dict[str, float | int]:
        """What a phone or Home Assistant pacer needs (nudge payload ``breathing``), in seconds."""
        return {
            "rate_brpm": self.rate_brpm,
            "inhale_s": round(self.inhale_s, 3),
            "exhale_s": round(self.exhale_s, 3),
            "duration_s": duration_s,
            "breaths": self.breaths(duration_s),
        }


def resonance_rate_from_exercises(
    exercises: Iterable[tuple[float, float | None]], *, default: float = DEFAULT_RATE_BRPM
) -> float:
    """The person's resonance rate: the rate (breaths/min) of the past exercise with the most 0.1-Hz
    (LF-band) power, from ``(rate_brpm, lf_power_ms2)`` pairs; ``default`` without a usable one.

    A single exercise at one rate says nothing about the others, so this needs at least two distinct
    rates before it departs from ``default`` (Shaffer & Meehan 2020 compare 4.5–6.5/min in steps).
    """
    best: dict[float, float] = {}
    for rate, power in exercises:
        if power is None or not math.isfinite(power) or not RATE_RANGE_BRPM[0] <= rate <= RATE_RANGE_BRPM[1]:
            continue
        best[rate] = max(best.get(rate, -math.inf), power)
    if len(best) < 2:
        return default
    return max(best.items(), key=lambda kv: (kv[1], -abs(kv[0] - default)))[0]
