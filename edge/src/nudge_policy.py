"""When to nudge: the eligibility rules, budget and wording of stress nudges. Pure: no I/O, no clock.

Time comes only from the records (``t_end_utc_s``); randomness only from the injected ``rng``. The
rules and their sources (research/product.md §4, summarised in docs/nudges.md):

* **Sustained high stress against the person's own baseline.** A moment is a candidate when the
  60-s windows of one device have scored at least ``threshold_score`` without a break for
  ``sustained_s`` (the score already is relative to the person's calm reference:
  vagus.signal.stress). A 60-s window below the threshold, gated, asleep or unscored (a window
  warming up after a gap), or more than ``_MAX_GAP_S`` since the last one, ends the run. JITAIs
  should act when the person is vulnerable (Nahum-Shani et al. 2018, Ann Behav Med 52:446); a
  minute-long spike is not that.
* **Not exercising, worn, good signal**: the record has no ``gate_reason`` (Garmin and Oura only
  judge stress while the wearer is inactive; product.md §4.4). **Not recovering from exercise**:
  no nudge within ``after_active_s`` of the last ``active`` window of any device, because heart rate
  and HRV take tens of minutes to return after exercise (parasympathetic reactivation: Stanley,
  Peake & Buchheit 2013, Sports Med 43:1259), longer than the score's own 5-min recovery gate; on
  the simulated workday the score stays "high" for ~15 min after the run's gate lifts.
  **Not asleep**: ``activity_state`` is not ``"sleep"``. **Not in quiet hours**, **not snoozed**
  (product.md §4.8).
* **Budget**: at most ``daily_cap`` decisions per local day and ``min_spacing_s`` between
  decisions (Sense2Stop delivered ~2.5–3 prompts a day; "Just-in-Time but Not Too Much", Liao et
  al.; product.md §4.1).
* **Micro-randomised hold-back** (product.md §4.9.6): an eligible moment is held back with
  probability ``holdback_p``: logged, not delivered. A held-back moment counts toward the spacing
  *and* the daily cap, so the schedule of decision points never depends on earlier coin flips and
  sent and held-back moments differ only by the coin (the person receives ``(1 − p)`` of the
  nudges they would otherwise get).
* **Wording** rotates through several check-in phrasings, never the same text twice in a row
  (standard messages habituate, new ones do not: Bell et al. 2023, JMIR mHealth 11:e38342), and
  every text is a question or an offer, not a verdict (product.md §4.5). The score is a wellness
  indicator, not a diagnosis (:data:`NOT_A_DIAGNOSIS`).

Local time is the system's (its time zone, daylight saving included) unless ``utc_offset_min`` fixes
it to ``UTC + utc_offset_min`` (docs/nudges.md).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import msgspec

from vagus.signal import Indicators

from .pacer import DEFAULT_INHALE_SHARE, RATE_RANGE_BRPM, Pacer

__all__ = [
    "NOT_A_DIAGNOSIS",
    "BreathingPlan",
    "Ineligible",
    "NudgeDecision",
    "NudgePolicy",
    "NudgeSettings",
    "local_day",
    "local_minute",
]

_STRESS_WINDOW_S = 60.0
# Longest pause between two 60-s windows of a run: consecutive non-overlapping minutes (60 s apart)
# keep it going, a missing minute ends it.
_MAX_GAP_S = 90.0
_DAYS_KEPT = 3  # per-day counts kept in the state (today, and a margin for out-of-order devices)
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")

NOT_A_DIAGNOSIS = (
    "vagus noticed that your heart rate and heart-rate variability have looked like stress for a while. "
    "This is a wellness indicator, not a diagnosis: only you know how you feel."
)

# (kind, template). {minutes} is the exercise length ("2-minute", "90-second"). Every text is a
# question; none says "you are stressed" (product.md §4.5).
_PHRASINGS: tuple[tuple[str, str], ...] = (
    ("slow_breathing", "Your body shows signs of stress — want a {length} breathing break?"),
    ("slow_breathing", "Body signals look activated. How about a {length} slow-breathing pause?"),
    ("slow_breathing", "Your heart has been working a bit harder for a while. Fancy a {length} pause to breathe?"),
    ("slow_breathing", "Would a {length} breathing exercise help right now?"),
    ("slow_breathing", "A {length} slow-breathing break is ready if you want it — shall we start?"),
    ("check_in", "Your body signals look activated. Are you feeling stressed right now?"),
    ("check_in", "How are you doing? Your heart rhythm suggests a busy moment — is something on your mind?"),
    ("check_in", "Quick check-in: does this feel like a stressful moment, or are you just busy?"),
)


class Ineligible(StrEnum):
    """Why a record is not an eligible moment (:meth:`NudgePolicy.eligible_reasons`)."""

    MODE = "mode"  # mode is not "nudges"
    NOT_60S = "not_60s"  # only 60-s windows are judged
    GATED = "gated"  # active, not worn, low quality, HR only, too few beats
    AFTER_ACTIVITY = "after_activity"  # within after_active_s of an 'active' window (any device)
    ASLEEP = "asleep"
    NO_SCORE = "no_score"  # a window warming up after a gap
    BELOW_THRESHOLD = "below_threshold"
    NOT_SUSTAINED = "not_sustained"
    QUIET_HOURS = "quiet_hours"
    SNOOZED = "snoozed"
    DAILY_CAP = "daily_cap"
    SPACING = "spacing"


def _minutes(text: str, name: str) -> int:
    match = _HHMM.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{name} must be a local time HH:MM (00:00–23:59), got {text!r}")
    return int(match[1]) * 60 + int(match[2])


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


class NudgeSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The ``[nudges]`` config section (docs/nudges.md says what each setting does and why)."""

    mode: Literal["nudges", "weekly_summary", "off"] = "nudges"
    daily_cap: int = 3  # decisions per local day (product.md §4.1: Sense2Stop ~2.5–3 a day)
    min_spacing_s: float = 7200.0  # between decisions (§4.9: 2–3 h apart)
    sustained_s: float = 600.0  # high stress over this span of consecutive 60-s windows
    threshold_score: float = 76.0  # the start of the 'high' band: ≥ 2.55 SD from the person's calm reference
    quiet_start: str = "22:00"  # local HH:MM; equal start and end: no quiet hours
    quiet_end: str = "07:00"
    utc_offset_min: int | None = None  # local time = UTC + this; None: the system's local time
    holdback_p: float = 0.0  # micro-randomised hold-back probability, 0 ≤ p < 1
    breathing_rate_brpm: float = 6.0  # the pace offered (resonance breathing, research/signal.md §5)
    exercise_s: float = 120.0  # the breathing exercise offered, 30 s – 30 min
    offer: Literal["slow_breathing", "check_in", "alternate"] = "slow_breathing"  # what the nudge offers
    after_active_s: float = 1800.0  # no nudge this long after the last 'active' window (post-exercise recovery)
    desktop: bool = True  # also a desktop notification (notify-send) where the agent runs in a desktop session
    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "sun"  # mode "weekly_summary"
    weekly_time: str = "18:00"  # local HH:MM of the weekly summary (outside quiet hours: sent when they end)

    def __post_init__(self) -> None:
        if self.mode not in ("nudges", "weekly_summary", "off"):
            raise ValueError(f"mode must be 'nudges', 'weekly_summary' or 'off', got {self.mode!r}")
        if self.offer not in ("slow_breathing", "check_in", "alternate"):
            raise ValueError(f"offer must be 'slow_breathing', 'check_in' or 'alternate', got {self.offer!r}")
        if isinstance(self.daily_cap, bool) or not isinstance(self.daily_cap, int) or not 0 <= self.daily_cap <= 24:
            raise ValueError(f"daily_cap must be a whole number 0–24 (0: never nudge), got {self.daily_cap!r}")
        if not 0 <= _number(self.min_spacing_s, "min_spacing_s") <= 86_400:
            raise ValueError(f"min_spacing_s must lie in 0–86400 s, got {self.min_spacing_s}")
        if not 60 <= _number(self.sustained_s, "sustained_s") <= 7200:
            raise ValueError(f"sustained_s must lie in 60–7200 s (at least one 60-s window), got {self.sustained_s}")
        if not 0 < _number(self.threshold_score, "threshold_score") <= 100:
            raise ValueError(f"threshold_score must lie in (0, 100], got {self.threshold_score}")
        _minutes(self.weekly_time, "weekly_time")
        if self.weekly_day not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            raise ValueError(f"weekly_day must be mon, tue, wed, thu, fri, sat or sun, got {self.weekly_day!r}")
        _minutes(self.quiet_start, "quiet_start")
        _minutes(self.quiet_end, "quiet_end")
        offset = self.utc_offset_min
        if offset is not None and (
            isinstance(offset, bool) or not isinstance(offset, int) or not -14 * 60 <= offset <= 14 * 60
        ):
            raise ValueError(f"utc_offset_min must be a whole number of minutes within ±840, got {offset!r}")
        if not 0 <= _number(self.holdback_p, "holdback_p") < 1:
            raise ValueError(f"holdback_p must lie in [0, 1), got {self.holdback_p}")
        lo, hi = RATE_RANGE_BRPM
        if not lo <= _number(self.breathing_rate_brpm, "breathing_rate_brpm") <= hi:
            raise ValueError(f"breathing_rate_brpm must lie in {lo:g}–{hi:g}, got {self.breathing_rate_brpm}")
        if not 30 <= _number(self.exercise_s, "exercise_s") <= 1800:
            raise ValueError(f"exercise_s must lie in 30–1800 s, got {self.exercise_s}")
        if not 0 <= _number(self.after_active_s, "after_active_s") <= 86_400:
            raise ValueError(f"after_active_s must lie in 0–86400 s, got {self.after_active_s}")

    @property
    def quiet_minutes(self) -> tuple[int, int]:
        """Quiet hours as local minutes of the day, ``(start, end)``."""
        return _minutes(self.quiet_start, "quiet_start"), _minutes(self.quiet_end, "quiet_end")

    @property
    def weekly_minute(self) -> int:
        """The weekly summary's local time, as a minute of the day."""
        return _minutes(self.weekly_time, "weekly_time")

    def offset_at(self, t_utc_s: float) -> int:
        """Local time minus UTC at ``t_utc_s``, minutes: ``utc_offset_min``, else the system's."""
        if self.utc_offset_min is not None:
            return self.utc_offset_min
        offset = datetime.fromtimestamp(t_utc_s).astimezone().utcoffset()
        return 0 if offset is None else round(offset.total_seconds() / 60.0)

    def in_quiet_hours(self, t_utc_s: float) -> bool:
        start, end = self.quiet_minutes
        m = local_minute(t_utc_s, self.offset_at(t_utc_s))
        if start == end:
            return False
        if start < end:
            return start <= m < end
        return m >= start or m < end  # wraps midnight


def local_day(t_utc_s: float, utc_offset_min: int) -> int:
    """The local day number (days since 1970-01-01 local) of a UTC time."""
    return math.floor((t_utc_s + 60.0 * utc_offset_min) / 86_400.0)


def local_minute(t_utc_s: float, utc_offset_min: int) -> int:
    """The local minute of the day (0–1439) of a UTC time."""
    return int(((t_utc_s + 60.0 * utc_offset_min) % 86_400.0) // 60.0)


@dataclass(frozen=True, slots=True)
class BreathingPlan:
    """The exercise a nudge offers, so a phone or Home Assistant can drive its own pacer (seconds)."""

    rate_brpm: float
    inhale_s: float
    exhale_s: float
    duration_s: float

    @classmethod
    def paced(cls, rate_brpm: float, duration_s: float, inhale_share: float = DEFAULT_INHALE_SHARE) -> BreathingPlan:
        pacer = Pacer(rate_brpm, inhale_share)
        return cls(rate_brpm, round(pacer.inhale_s, 3), round(pacer.exhale_s, 3), duration_s)


@dataclass(frozen=True, slots=True)
class NudgeDecision:
    """One eligible moment: delivered (``sent``) or held back at random (logged for evaluation only)."""

    t_utc_s: float
    nudge_id: str
    kind: Literal["slow_breathing", "check_in"]
    sent: bool
    text: str  # ≤ 280 characters, a question or an offer
    stress_score: float | None
    rmssd_ms: float | None
    holdback_p: float
    breathing: BreathingPlan
    device_id: str | None = None

    @property
    def held_back(self) -> bool:
        return not self.sent


@dataclass(slots=True)
class _Run:
    start_utc_s: float  # start of the first high window
    last_end_utc_s: float


class NudgePolicy:
    """Decides, record by record, whether this is a moment to nudge (module docstring)."""

    def __init__(self, settings: NudgeSettings, *, rng: random.Random) -> None:
        self.settings = settings
        self._rng = rng
        self._runs: dict[str, _Run] = {}
        self._last_active_utc_s = -math.inf
        self._snoozed_until = -math.inf
        self._last_decision_utc_s = -math.inf
        self._per_day: dict[int, int] = {}
        self._used: dict[str, int] = {}  # phrasings used so far, per kind (the rotation)
        self._last_kind: str | None = None
        self._seq = 0

    # -- state (the stage keeps it in the store so the budget survives a restart) -----------------

    @property
    def snoozed_until_utc_s(self) -> float:
        return self._snoozed_until

    def state(self) -> dict[str, Any]:
        """The budget, snooze, exercise hold-off and wording state as JSON-able data (runs of high
        windows are not kept: a restart starts a new run, which only delays a nudge)."""
        return {
            "snoozed_until_utc_s": None if self._snoozed_until == -math.inf else self._snoozed_until,
            "last_decision_utc_s": None if self._last_decision_utc_s == -math.inf else self._last_decision_utc_s,
            "per_day": {str(k): v for k, v in self._per_day.items()},
            "used": dict(self._used),
            "last_kind": self._last_kind,
            "seq": self._seq,
            "last_active_utc_s": None if self._last_active_utc_s == -math.inf else self._last_active_utc_s,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back :meth:`state`; ValueError if it is not one."""
        try:
            snooze, last = state["snoozed_until_utc_s"], state["last_decision_utc_s"]
            self._snoozed_until = -math.inf if snooze is None else _number(snooze, "snoozed_until_utc_s")
            self._last_decision_utc_s = -math.inf if last is None else _number(last, "last_decision_utc_s")
            self._per_day = {int(k): int(v) for k, v in dict(state["per_day"]).items()}
            self._used = {str(k): int(v) for k, v in dict(state["used"]).items()}
            last_kind = state["last_kind"]
            self._last_kind = None if last_kind is None else str(last_kind)
            self._seq = int(state["seq"])
            active = state.get("last_active_utc_s")
            self._last_active_utc_s = -math.inf if active is None else _number(active, "last_active_utc_s")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a nudge policy state: {exc}") from exc

    # -- inputs -----------------------------------------------------------------------------------

    def snooze(self, until_utc_s: float) -> None:
        """No nudges before ``until_utc_s`` (a later snooze extends, an earlier one never shortens)."""
        self._snoozed_until = max(self._snoozed_until, _number(until_utc_s, "until_utc_s"))

    def snooze_rest_of_day(self, t_utc_s: float) -> None:
        """No nudges until the end of the local day of ``t_utc_s``."""
        offset = self.settings.offset_at(t_utc_s)
        self.snooze((local_day(t_utc_s, offset) + 1) * 86_400.0 - 60.0 * offset)

    def observe(self, record: Indicators) -> NudgeDecision | None:
        """Feed every annotated record in time order; a decision when this is an eligible moment.

        In "weekly_summary" and "off" modes no decision is returned (nothing is sent or logged)."""
        if not self._is_stress_window(record):
            return None
        if record.gate_reason == "active":
            self._last_active_utc_s = max(self._last_active_utc_s, record.t_end_utc_s)
        run = self._run_after(record)
        if run is None:
            self._runs.pop(record.device_id, None)
        else:
            self._runs[record.device_id] = run
        if self._reasons(record, run):
            return None
        return self._decide(record)

    def eligible_reasons(self, record: Indicators) -> tuple[Ineligible, ...]:
        """Why ``record`` would not be an eligible moment if observed now (empty: it would be).

        Does not change the policy's state."""
        if not self._is_stress_window(record):
            return (Ineligible.NOT_60S,)
        return self._reasons(record, self._run_after(record))

    # -- rules ------------------------------------------------------------------------------------

    @staticmethod
    def _is_stress_window(record: Indicators) -> bool:
        return record.window_nominal_s == _STRESS_WINDOW_S

    def _high(self, record: Indicators) -> bool:
        return (
            record.gate_reason is None
            and record.activity_state != "sleep"
            and record.stress_score is not None
            and record.stress_score >= self.settings.threshold_score
        )

    def _run_after(self, record: Indicators) -> _Run | None:
        """The device's run of high windows including ``record`` (None: ``record`` ends it)."""
        if not self._high(record):
            return None
        run = self._runs.get(record.device_id)
        gap = record.t_end_utc_s - run.last_end_utc_s if run is not None else math.inf
        if run is None or not 0 <= gap <= _MAX_GAP_S:
            return _Run(record.t_start_utc_s, record.t_end_utc_s)
        return _Run(run.start_utc_s, record.t_end_utc_s)

    def _reasons(self, record: Indicators, run: _Run | None) -> tuple[Ineligible, ...]:
        s = self.settings
        t = record.t_end_utc_s
        out: list[Ineligible] = []
        if s.mode != "nudges":
            out.append(Ineligible.MODE)
        if record.gate_reason is not None:
            out.append(Ineligible.GATED)
        if t - self._last_active_utc_s < s.after_active_s:
            out.append(Ineligible.AFTER_ACTIVITY)
        if record.activity_state == "sleep":
            out.append(Ineligible.ASLEEP)
        if record.stress_score is None:
            if record.gate_reason is None:
                out.append(Ineligible.NO_SCORE)
        elif record.stress_score < s.threshold_score:
            out.append(Ineligible.BELOW_THRESHOLD)
        if run is not None and t - run.start_utc_s < s.sustained_s:
            out.append(Ineligible.NOT_SUSTAINED)
        if s.in_quiet_hours(t):
            out.append(Ineligible.QUIET_HOURS)
        if t < self._snoozed_until:
            out.append(Ineligible.SNOOZED)
        if self._per_day.get(local_day(t, s.offset_at(t)), 0) >= s.daily_cap:
            out.append(Ineligible.DAILY_CAP)
        if t - self._last_decision_utc_s < s.min_spacing_s:
            out.append(Ineligible.SPACING)
        return tuple(out)

    def _decide(self, record: Indicators) -> NudgeDecision:
        s = self.settings
        t = record.t_end_utc_s
        sent = not (s.holdback_p > 0 and self._rng.random() < s.holdback_p)
        day = local_day(t, s.offset_at(t))
        self._per_day[day] = self._per_day.get(day, 0) + 1
        self._per_day = {d: n for d, n in self._per_day.items() if d > day - _DAYS_KEPT}
        self._last_decision_utc_s = t
        self._seq += 1
        kind, text = self._next_text()
        return NudgeDecision(
            t_utc_s=t,
            nudge_id=f"nudge-{round(t * 1000)}-{self._seq}",
            kind=kind,
            sent=sent,
            text=text,
            stress_score=record.stress_score,
            rmssd_ms=record.rmssd_ms,
            holdback_p=s.holdback_p,
            breathing=BreathingPlan.paced(s.breathing_rate_brpm, s.exercise_s),
            device_id=record.device_id,
        )

    def _next_text(self) -> tuple[Literal["slow_breathing", "check_in"], str]:
        """The next phrasing in rotation: each kind cycles through its own phrasings (≥ 3 each, so
        consecutive texts differ even around a held-back one); "alternate" also alternates kinds."""
        offer = self.settings.offer
        if offer == "alternate":
            kind = "check_in" if self._last_kind == "slow_breathing" else "slow_breathing"
        else:
            kind = offer
        templates = [template for k, template in _PHRASINGS if k == kind]
        used = self._used.get(kind, 0)
        self._used[kind] = used + 1
        self._last_kind = kind
        return kind, templates[used % len(templates)].format(length=_length(self.settings.exercise_s))  # type: ignore[return-value]


def _length(exercise_s: float) -> str:
    if exercise_s % 60 == 0:
        return f"{int(exercise_s // 60)}-minute"
    return f"{round(exercise_s)}-second"
