"""What a wearable's beat detector reports, given the true heartbeats: artifacts and contact.

Two layers, kept apart because they are different things:

* **Ectopic beats** are the heart's own: a premature beat arrives 15–30 % early and is followed
  by a compensatory pause, so the two intervals around it sum to about two normal ones
  (Lipponen & Tarvainen 2019, J Med Eng Technol 43:173, Fig. 1). They move the R peak, so an
  ECG drawn from :attr:`Heartbeats.beat_times_s` shows them too. :func:`with_ectopic_beats`.
* **Missed and extra beats** are the detector's: a missed beat merges two intervals, an extra
  detection splits one. Sensor contact loss and non-wear drop beats altogether; the first beat
  after contact returns starts a fresh chain (no interval spanning the gap), as straps do.
  :func:`sense`.

Rates are per hour of wear; defaults are assumptions in the range the artifact literature
reports for chest straps at rest (a few per hour; Lipponen & Tarvainen 2019 corrupt 2 % of
beats in their tests, a much harsher setting that vagus's own artifact tests use).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

__all__ = [
    "Artifact",
    "ArtifactRates",
    "Heartbeats",
    "Interval",
    "SensedBeats",
    "sense",
    "with_ectopic_beats",
]

TICKS_PER_S = 1024


class Artifact(IntEnum):
    NONE = 0
    ECTOPIC = 1  # premature beat (the interval ending at it is short)
    COMPENSATORY = 2  # the pause after an ectopic beat
    MISSED = 3  # the reported interval spans two true ones
    EXTRA = 4  # the reported interval is part of a true one split by a false detection


@dataclass(frozen=True, slots=True)
class ArtifactRates:
    """Expected artifacts per hour of wear (Poisson), and the prematurity range of ectopics."""

    ectopic_per_h: float = 2.0
    missed_per_h: float = 1.0
    extra_per_h: float = 0.5
    prematurity: tuple[float, float] = (0.15, 0.30)

    def __post_init__(self) -> None:
        for name in ("ectopic_per_h", "missed_per_h", "extra_per_h"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        lo, hi = self.prematurity
        if not 0 < lo <= hi < 0.5:
            raise ValueError(f"prematurity must satisfy 0 < lo ≤ hi < 0.5, got {self.prematurity}")


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of time (seconds from the start) during which something holds."""

    start_s: float
    end_s: float
    kind: str  # contact_loss | non_wear | disconnect


@dataclass(frozen=True, slots=True)
class Heartbeats:
    """True R-peak times (s from the start) and which of them are ectopic or compensatory."""

    beat_times_s: np.ndarray
    kind: np.ndarray  # int8 Artifact codes (NONE / ECTOPIC / COMPENSATORY) per beat


@dataclass(frozen=True, slots=True)
class SensedBeats:
    """What the detector reports: per beat its time and the interval before it, and why.

    ``rr_1024[i]`` is the interval ending at ``t_s[i]`` in 1/1024-s ticks (uint16, as the Heart Rate
    Service carries it); 0 means "no interval" (the first beat of a chain). ``contact`` and
    ``worn`` hold one value per second of the timeline.
    """

    t_s: np.ndarray
    rr_1024: np.ndarray
    artifact: np.ndarray
    contact: np.ndarray
    worn: np.ndarray

    def in_range(self, start_s: float, end_s: float) -> slice:
        """The beats detected in [start_s, end_s)."""
        i, j = np.searchsorted(self.t_s, [start_s, end_s], side="left")
        return slice(int(i), int(j))


def _poisson_positions(rng: np.random.Generator, n_beats: int, per_beat: float, lo: int) -> np.ndarray:
    if n_beats <= lo + 2 or per_beat <= 0:
        return np.empty(0, dtype=np.int64)
    count = rng.poisson(per_beat * n_beats)
    return np.unique(rng.integers(lo, n_beats - 2, size=count))


def with_ectopic_beats(
    beat_times_s: np.ndarray, *, ectopic_per_h: float, prematurity: tuple[float, float], seed: int
) -> Heartbeats:
    """Make some beats premature: beat i moves earlier by a fraction of its interval.

    The next beat stays where it was, so the pause after the early beat is long and the pair
    sums to the two original intervals (the full compensatory pause of a ventricular premature
    beat). Ectopics are kept at least three beats apart so pairs never overlap.
    """
    t = np.asarray(beat_times_s, dtype=np.float64).copy()
    kind = np.zeros(t.size, dtype=np.int8)
    if t.size < 4:
        return Heartbeats(t, kind)
    rng = np.random.default_rng([seed, 1])
    duration_h = (t[-1] - t[0]) / 3600.0
    per_beat = ectopic_per_h * duration_h / max(1, t.size)
    idx = _poisson_positions(rng, t.size, per_beat, 1)
    if idx.size:
        keep = np.concatenate(([True], np.diff(idx) >= 3))
        idx = idx[keep]
        frac = rng.uniform(*prematurity, size=idx.size)
        t[idx] -= frac * (t[idx] - t[idx - 1])
        kind[idx] = Artifact.ECTOPIC
        kind[idx + 1] = Artifact.COMPENSATORY
    return Heartbeats(t, kind)


def _per_second_mask(duration_s: int, intervals: list[Interval], kinds: tuple[str, ...]) -> np.ndarray:
    mask = np.zeros(duration_s, dtype=bool)
    for iv in intervals:
        if iv.kind in kinds:
            mask[max(0, int(np.floor(iv.start_s))) : max(0, int(np.ceil(iv.end_s)))] = True
    return mask


def sense(
    heart: Heartbeats,
    duration_s: int,
    *,
    rates: ArtifactRates,
    intervals: list[Interval],
    seed: int,
) -> SensedBeats:
    """Detector output for one device: artifacts added, beats without contact removed.

    ``intervals`` are this device's contact-loss and non-wear stretches (non-wear implies no
    contact). Deterministic for a seed.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    rng = np.random.default_rng([seed, 2])
    t = heart.beat_times_s
    kind = heart.kind.astype(np.int8)
    n = t.size
    duration_h = duration_s / 3600.0
    # Missed detections: drop beat i (the reported interval then spans two true ones).
    missed = _poisson_positions(rng, n, rates.missed_per_h * duration_h / max(1, n), 1)
    # Extra detections: a false beat inside interval i at 30–70 % of it.
    extra = _poisson_positions(rng, n, rates.extra_per_h * duration_h / max(1, n), 1)
    extra = np.setdiff1d(extra, np.concatenate((missed, missed + 1)))
    keep = np.ones(n, dtype=bool)
    keep[missed] = False
    label = kind.copy()
    label[np.minimum(missed + 1, n - 1)] = Artifact.MISSED
    false_t = t[extra - 1] + rng.uniform(0.3, 0.7, size=extra.size) * (t[extra] - t[extra - 1])
    times = np.concatenate((t[keep], false_t))
    labels = np.concatenate((label[keep], np.full(false_t.size, Artifact.EXTRA, dtype=np.int8)))
    order = np.argsort(times, kind="stable")
    times, labels = times[order], labels[order]
    # The interval after a false detection is also an artifact (the rest of the split one).
    after_extra = np.flatnonzero(labels == Artifact.EXTRA) + 1
    after_extra = after_extra[after_extra < labels.size]
    labels[after_extra] = np.where(labels[after_extra] == Artifact.NONE, Artifact.EXTRA, labels[after_extra])

    no_contact = _per_second_mask(duration_s, intervals, ("contact_loss", "non_wear"))
    worn = ~_per_second_mask(duration_s, intervals, ("non_wear",))
    sec = np.clip(times.astype(np.int64), 0, duration_s - 1)
    in_contact = (~no_contact[sec]) & (times >= 0) & (times < duration_s)
    ticks = np.rint(np.diff(times, prepend=np.nan) * TICKS_PER_S)
    # A chain restarts after every stretch without contact: the first beat carries no interval.
    chain_start = np.concatenate(([True], ~in_contact[:-1]))
    ticks[chain_start] = 0
    times, ticks, labels = times[in_contact], ticks[in_contact], labels[in_contact]
    ticks = np.nan_to_num(ticks, nan=0.0)
    return SensedBeats(
        t_s=times,
        rr_1024=np.clip(ticks, 0, 0xFFFF).astype(np.uint16),
        artifact=labels,
        contact=~no_contact,
        worn=worn,
    )
