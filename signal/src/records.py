"""The records that cross module boundaries: beats in, indicators out. Pure data, no I/O.

Times are POSIX seconds (UTC); every unit is in the field name.

Both are frozen ``msgspec.Struct`` values rather than frozen dataclasses: a frozen dataclass sets
each field through ``object.__setattr__``, which made building the ~100,000 beats and ~17,000
records of a day 12 % of the streaming engine's time (a ``Beat`` 1.2 µs against 0.27 µs, an
``Indicators`` of 33 fields ~5 µs against ~0.6 µs); a Struct is as immutable, hashable and
comparable. Use ``msgspec.structs.replace`` / ``asdict`` / ``fields`` on them.
"""

from __future__ import annotations

import math
from enum import StrEnum

import msgspec
import msgspec.structs

__all__ = ["Beat", "BeatSource", "Indicators", "NullReason"]


class BeatSource(StrEnum):
    """Where a beat's RR interval came from."""

    HRS = "hrs"  # Bluetooth Heart Rate Service 0x2A37 RR-Interval field
    PMD_PPI = "pmd_ppi"  # Polar PMD peak-to-peak intervals
    ECG = "ecg"  # R-peaks detected in an ECG stream
    FILE = "file"  # a recorded RR file


class Beat(msgspec.Struct, frozen=True):
    """One heartbeat: the RR interval that ends at ``t_utc_s``.

    ``rr_ms`` is the exact conversion of ``rr_1024`` where the source gives 1/1024-s ticks
    (1 tick = 0.9765625 ms, exactly representable), so no rounding happens here.
    ``gap_before`` marks that the beat stream was interrupted (disconnect, contact loss, a
    re-anchored clock) before this beat; windows never span such a gap.
    """

    device_id: str
    t_utc_s: float
    rr_ms: float
    source: BeatSource
    rr_1024: int | None = None
    contact: bool | None = None
    corrected: bool = False
    gap_before: bool = False

    def __post_init__(self) -> None:
        # One chained comparison (false for NaN too): this runs for every beat.
        if not 0.0 <= self.rr_ms < math.inf:
            raise ValueError(f"rr_ms must be finite and >= 0, got {self.rr_ms}")
        if not -math.inf < self.t_utc_s < math.inf:
            raise ValueError(f"t_utc_s must be finite, got {self.t_utc_s}")


class NullReason(StrEnum):
    """Why an indicator is null in a record."""

    TOO_FEW_BEATS = "too_few_beats"  # the window holds too few beats for this index
    WINDOW_TOO_SHORT = "window_too_short"  # the window spans too little time for this index
    NO_VARIABILITY = "no_variability"  # undefined because every RR in the window is the same
    NOT_COMPUTED = "not_computed"  # this version of the signal core does not compute it yet
    LOW_QUALITY = "low_quality"  # computed, but below the index's quality gate (e.g. breathing rate)


class Indicators(msgspec.Struct, frozen=True):
    """Indicators over one window of beats ``[t_start_utc_s, t_end_utc_s]``.

    ``window_nominal_s`` is the configured window length (60 s, 300 s, …); ``window_s`` the span
    actually covered, shorter than nominal while a segment warms up. ``quality`` is the fraction
    of beats in the window that were neither corrected as artifacts nor reported without skin
    contact (0–1). Every null field has its reason in ``null_reasons``. The indices' formulas
    and sources are in the modules that compute them and in docs/indicators.md.
    """

    device_id: str
    t_start_utc_s: float
    t_end_utc_s: float
    window_s: float
    n_beats: int
    quality: float
    window_nominal_s: float = 0.0
    hr_bpm: float | None = None
    mean_nn_ms: float | None = None
    rmssd_ms: float | None = None
    sdnn_ms: float | None = None
    sdsd_ms: float | None = None
    pnn50_pct: float | None = None
    pnn20_pct: float | None = None
    vlf_ms2: float | None = None
    lf_ms2: float | None = None
    hf_ms2: float | None = None
    lf_hf: float | None = None
    lfn_nu: float | None = None
    hfn_nu: float | None = None
    sd1_ms: float | None = None
    sd2_ms: float | None = None
    sd1_sd2: float | None = None
    dfa_alpha1: float | None = None
    baevsky_si: float | None = None
    baevsky_si_sqrt: float | None = None
    breathing_rate_brpm: float | None = None
    stress_score: float | None = None
    stress_level: str | None = None
    gate_reason: str | None = None
    activity_state: str | None = None
    null_reasons: dict[str, NullReason] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.t_end_utc_s < self.t_start_utc_s:
            raise ValueError("t_end_utc_s is before t_start_utc_s")
        if not 0.0 <= self.quality <= 1.0:
            raise ValueError(f"quality must be within [0, 1], got {self.quality}")
        if not self.window_nominal_s:
            msgspec.structs.force_setattr(self, "window_nominal_s", self.window_s)
