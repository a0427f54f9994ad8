"""A small physiological model of a resting heart: RR intervals with respiratory sinus
arrhythmia (RSA), a ~0.1 Hz baroreflex (Mayer-wave) component and beat-to-beat noise.

RR(t) = 60000/HR + A_rsa·sin(2π·f_breath·t) + A_mayer·sin(2π·0.1·t + φ) + e_t, e an AR(1)
process. Defaults sit in published resting ranges (HR ~60–65 bpm; RMSSD ~30–50 ms;
Shaffer & Ginsberg 2017, Front Public Health 5:258; breathing 0.2–0.3 Hz). RR values are
quantised to the 1/1024-s ticks a Heart Rate Service sensor reports, so the ticks are the
ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["HeartModel", "RestingHeart"]


@dataclass(frozen=True, slots=True)
class HeartModel:
    mean_hr_bpm: float = 62.0
    rsa_amplitude_ms: float = 35.0
    breathing_rate_brpm: float = 15.0
    mayer_amplitude_ms: float = 20.0
    noise_sd_ms: float = 12.0
    noise_ar1: float = 0.5

    def __post_init__(self) -> None:
        if not 25.0 <= self.mean_hr_bpm <= 220.0:
            raise ValueError(f"mean_hr_bpm must lie in 25–220, got {self.mean_hr_bpm}")
        if not 2.0 <= self.breathing_rate_brpm <= 40.0:
            raise ValueError(f"breathing_rate_brpm must lie in 2–40, got {self.breathing_rate_brpm}")


class RestingHeart:
    """Generates successive RR intervals (1/1024-s ticks) of one simulated person at rest."""

    def __init__(self, model: HeartModel | None = None, *, seed: int = 0) -> None:
        self.model = model or HeartModel()
        self._rng = np.random.default_rng(seed)
        self._phase = float(self._rng.uniform(0, 2 * math.pi))
        self._noise_ms = 0.0
        self.t_s = 0.0  # sensor time of the last beat

    def next_rr_1024(self) -> int:
        m = self.model
        t = self.t_s
        rr_ms = (
            60_000.0 / m.mean_hr_bpm
            + m.rsa_amplitude_ms * math.sin(2 * math.pi * m.breathing_rate_brpm / 60.0 * t)
            + m.mayer_amplitude_ms * math.sin(2 * math.pi * 0.1 * t + self._phase)
        )
        innovation_sd = m.noise_sd_ms * math.sqrt(1 - m.noise_ar1**2)
        self._noise_ms = m.noise_ar1 * self._noise_ms + float(self._rng.normal(0.0, innovation_sd))
        ticks = max(1, round((rr_ms + self._noise_ms) * 1.024))
        self.t_s += ticks / 1024.0
        return ticks
