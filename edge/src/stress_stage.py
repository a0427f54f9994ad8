"""The stress stage of the agent: scores each short window against the person's own baseline,
learns that baseline from the person's days, and keeps it in the store across restarts.

Records flow through it on their way to the store (indicators → stress → store/messages): every
60-s record gets ``stress_score``/``stress_level`` or a ``gate_reason`` (vagus.signal.stress);
longer windows pass through unchanged (stress is a minute-scale state).

Until sleep detection lands, what counts as night and as calm awake time is decided by the clock
(documented in docs/indicators.md): windows starting between 00:00 and 05:00 local time feed the
nightly ln RMSSD; ungated windows between 07:00 and 22:00 feed the awake reference (a stress
episode is a minority of a day, and the reference uses medians, so it does not move it much).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime

from vagus.errors import StoreError
from vagus.signal import Indicators
from vagus.signal.baseline import PersonalBaseline
from vagus.signal.stress import StressParams, StressTracker

from .store import Store

__all__ = ["StressStage"]

log = logging.getLogger(__name__)

_STRESS_WINDOW_S = 60.0
_SAVE_EVERY = 60  # records between saves of the baseline (5 min of 5-s steps)
_NIGHT_HOURS = range(0, 5)
_AWAKE_HOURS = range(7, 22)
_STRESS_FIELDS = frozenset({"stress_score", "stress_level", "gate_reason"})


class StressStage:
    def __init__(self, store: Store, *, params: StressParams | None = None) -> None:
        self._store = store
        self._params = params or StressParams()
        self._trackers: dict[str, StressTracker] = {}
        self._since_save = 0
        self.baseline = self._load()

    def _load(self) -> PersonalBaseline:
        state = self._store.load_baseline()
        if state is None:
            return PersonalBaseline()
        try:
            return PersonalBaseline.from_dict(state)
        except ValueError as exc:
            raise StoreError(f"{self._store.path}: the stored baseline cannot be read ({exc})") from exc

    def annotate(self, record: Indicators, *, activity: float | None = None) -> Indicators:
        """``record`` with its stress fields filled (60-s windows), learning from it on the way."""
        if record.window_nominal_s != _STRESS_WINDOW_S or record.window_s < _STRESS_WINDOW_S - 1e-6:
            return record  # stress is a minute-scale state; a warming-up window is too short to judge
        tracker = self._trackers.setdefault(record.device_id, StressTracker(self._params))
        result = tracker.update(record, self.baseline.reference(), activity=activity)
        self._learn(record, gated=result.gate is not None)
        # Either a score or a gate reason explains itself: no null reason for the three fields.
        reasons = {k: v for k, v in record.null_reasons.items() if k not in _STRESS_FIELDS}
        return dataclasses.replace(
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
        if local.hour in _NIGHT_HOURS and record.quality >= self._params.min_quality:
            self.baseline.observe_sleep(day, record.rmssd_ms)
        elif local.hour in _AWAKE_HOURS and not gated:
            self.baseline.observe_awake(day, record.rmssd_ms, record.hr_bpm)
        self._since_save += 1
        if self._since_save >= _SAVE_EVERY:
            self.save()

    def save(self) -> None:
        self._store.save_baseline(self.baseline.to_dict(), time.time())
        self._since_save = 0
