"""The stress stage of the agent: scores each short window against the person's own baseline,
learns that baseline from the person's days, and keeps it in the store across restarts.

Records flow through it on their way to the store (indicators → stress → store/messages): every
60-s record gets ``stress_score``/``stress_level`` or a ``gate_reason`` (vagus.signal.stress);
longer windows pass through unchanged (stress is a minute-scale state).

Nights come from sleep detection (vagus.signal.sleep): the stage keeps one sample per minute for
the last 36 hours and, once an hour, looks for sleep periods that ended at least 30 minutes ago;
each new one is summarised into the store's ``nights`` table and its asleep minutes feed the
baseline's nightly ln RMSSD. Calm awake time for the reference is still told by the clock: ungated
windows between 07:00 and 22:00 local time (a stress episode is a minority of a day, and the
reference uses medians, so it does not move it much).

Gates from the device (the issue: "accelerometer where the device has one, otherwise HR dynamics"):

* **Motion**: a record whose ``activity_state`` the device link filled from the accelerometer
  (motion.py: mean ENMO over the window above 40 mg → ``"active"``, else ``"rest"``) is gated
  ``active`` when moving, and for the tracker's recovery time after. The tracker's HR-dynamics
  test (HR far above the calm reference) still applies as well: vagus.signal.stress combines the
  two with "or", so an accelerometer never un-gates a heart rate that high. The record says why:
  ``gate_reason = "active"`` with ``activity_state = "active"`` is motion; with ``"rest"`` or null,
  HR dynamics or the recovery hold.
* **HR only**: a record with a heart rate and no beats (a ring or watch sending HR without beat
  intervals, profiles.HrOnlyWindows) is gated ``hr_only``: no HRV, so no stress score.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

import msgspec.structs

from vagus.errors import StoreError
from vagus.signal import Indicators
from vagus.signal.baseline import PersonalBaseline
from vagus.signal.sleep import MinuteSample, NightSummary, detect_sleep, night_summary
from vagus.signal.stress import StressParams, StressTracker

from .profiles import is_hr_only
from .store import Store

__all__ = ["StressStage"]

log = logging.getLogger(__name__)

_STRESS_WINDOW_S = 60.0
_SAVE_EVERY = 60  # records between saves of the baseline (5 min of 5-s steps)
_AWAKE_HOURS = range(7, 22)
_MINUTES_KEPT = 36 * 60
_SLEEP_CHECK_EVERY_S = 3600.0
_AWAKE_AFTER_S = 1800.0  # a night is summarised once the person has been up this long
_STRESS_FIELDS = frozenset({"stress_score", "stress_level", "gate_reason"})
# An accelerometer's verdict (motion.py) on the tracker's activity scale: 1 (walking) is above its
# threshold, 0 (still) below. "sleep" is still.
_ACTIVITY_OF_STATE = {"active": 1.0, "rest": 0.0, "sleep": 0.0}


class StressStage:
    def __init__(
        self,
        store: Store,
        *,
        params: StressParams | None = None,
        on_night: Callable[[NightSummary], None] | None = None,
    ) -> None:
        """``on_night`` receives each night once it is stored (sync sends it to the dashboards)."""
        self._store = store
        self._on_night = on_night
        self._params = params or StressParams()
        self._trackers: dict[str, StressTracker] = {}
        self._since_save = 0
        self.baseline = self._load()
        self._minutes: deque[MinuteSample] = deque(maxlen=_MINUTES_KEPT)
        self._last_minute = -math.inf
        self._next_sleep_check_s = -math.inf
        stored = store.nights()
        self._last_onset_s = stored[-1].onset_utc_s if stored else -math.inf

    def _load(self) -> PersonalBaseline:
        state = self._store.load_baseline()
        if state is None:
            return PersonalBaseline()
        try:
            return PersonalBaseline.from_dict(state)
        except ValueError as exc:
            raise StoreError(f"{self._store.path}: the stored baseline cannot be read ({exc})") from exc

    def annotate(self, record: Indicators, *, activity: float | None = None) -> Indicators:
        """``record`` with its stress fields filled (60-s windows), learning from it on the way.

        ``activity`` on the tracker's scale (0 still, ~1 walking); by default taken from the
        record's accelerometer ``activity_state`` (module docstring), None when it has none.
        """
        if record.window_nominal_s != _STRESS_WINDOW_S or record.window_s < _STRESS_WINDOW_S - 1e-6:
            return record  # stress is a minute-scale state; a warming-up window is too short to judge
        if activity is None:
            activity = _ACTIVITY_OF_STATE.get(record.activity_state or "")
        tracker = self._trackers.setdefault(record.device_id, StressTracker(self._params))
        result = tracker.update(record, self.baseline.reference(), activity=activity, has_rr=not is_hr_only(record))
        self._learn(record, gated=result.gate is not None)
        # Either a score or a gate reason explains itself: no null reason for the three fields.
        reasons = {k: v for k, v in record.null_reasons.items() if k not in _STRESS_FIELDS}
        return msgspec.structs.replace(
            record,
            stress_score=None if result.score is None else round(result.score, 1),
            stress_level=None if result.level is None else result.level.value,
            gate_reason=None if result.gate is None else result.gate.value,
            null_reasons=reasons,
        )

    def _learn(self, record: Indicators, *, gated: bool) -> None:
        if record.rmssd_ms is None or record.hr_bpm is None or record.window_s < _STRESS_WINDOW_S - 1e-6:
            return
        local = datetime.fromtimestamp(record.t_start_utc_s)
        day = local.date().isoformat()
        if local.hour in _AWAKE_HOURS and not gated:
            self.baseline.observe_awake(day, record.rmssd_ms, record.hr_bpm)
        self._sleep(record)
        self._since_save += 1
        if self._since_save >= _SAVE_EVERY:
            self.save()

    def _sleep(self, record: Indicators) -> None:
        """Keep one sample a minute; once an hour, summarise nights that have ended."""
        minute = math.floor(record.t_end_utc_s / 60.0)
        if minute <= self._last_minute:
            return
        self._last_minute = minute
        ok = record.quality >= self._params.min_quality
        self._minutes.append(
            MinuteSample(record.t_end_utc_s, record.hr_bpm if ok else None, record.rmssd_ms if ok else None)
        )
        if record.t_end_utc_s < self._next_sleep_check_s:
            return
        self._next_sleep_check_s = record.t_end_utc_s + _SLEEP_CHECK_EVERY_S
        self.find_nights(record.t_end_utc_s)

    def find_nights(self, now_utc_s: float) -> int:
        """Store and learn from every sleep period ended ≥ 30 min before ``now``; how many were new."""
        minutes = list(self._minutes)
        reference = self.baseline.reference(personal_only=True)
        new = 0
        for period in detect_sleep(minutes, reference):
            if period.onset_utc_s <= self._last_onset_s or period.wake_utc_s > now_utc_s - _AWAKE_AFTER_S:
                continue
            night = night_summary(minutes, period, reference, self.baseline.night_range())
            self._store.add_night(night)
            if self._on_night is not None:
                try:
                    self._on_night(night)
                except Exception:  # sending it is not worth the person's recording
                    log.exception("handing on a night failed")
            morning = datetime.fromtimestamp(period.wake_utc_s).date().isoformat()
            for sample in minutes[period.first : period.stop]:
                if sample.rmssd_ms:
                    self.baseline.observe_sleep(morning, sample.rmssd_ms)
            self._last_onset_s = period.onset_utc_s
            new += 1
        return new

    def save(self) -> None:
        self._store.save_baseline(self.baseline.to_dict(), time.time())
        self._since_save = 0
