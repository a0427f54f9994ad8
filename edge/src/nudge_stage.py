"""The nudge stage of the agent: the nudge policy, its log in the store, and delivery.

Annotated records (after the stress stage) flow through :meth:`NudgeStage.observe`. Every eligible
moment the policy finds is written to ``nudge_events`` (sent or held back: the evaluation in
``vagus report --nudges`` needs both), and only a sent one is handed to ``on_nudge`` (MQTT, a
desktop notification). In the "weekly_summary" mode it sends the week's summary instead
(``weekly.py``), through ``on_weekly``. The policy's budget, snooze and wording rotation are kept in ``nudge_state``
and written at every change, so the daily cap, the spacing and a snooze survive a restart.

This stage runs its own SQL on ``Store.connection`` (its tables are its own, created by migrations
0007 and 0011).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import sqlite3
from collections.abc import Callable, Iterator

from vagus.errors import StoreError
from vagus.signal import Indicators

from .checkins import DEFAULT_SNOOZE_MINUTES, snooze_end
from .nudge_policy import NudgeDecision, NudgePolicy, NudgeSettings
from .store import Store
from .weekly import WeeklySchedule, WeekSummary

__all__ = ["DEFAULT_SNOOZE_MINUTES", "SNOOZE_POLL_S", "NudgeStage"]

log = logging.getLogger(__name__)

# How often (seconds of record time) the stage looks in the store for a snooze given elsewhere
# (`vagus checkin snooze` is another process): a snooze takes effect within this long.
SNOOZE_POLL_S = 30.0


class NudgeStage:
    def __init__(
        self,
        store: Store,
        settings: NudgeSettings,
        *,
        on_nudge: Callable[[NudgeDecision], None] | None = None,
        on_weekly: Callable[[WeekSummary], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._db: sqlite3.Connection = store.connection
        self._on_nudge = on_nudge
        # The hold-back coin: it must be fair and independent of the person's state, not secret.
        rng = rng if rng is not None else random.Random()  # noqa: S311 — not a secret
        self.policy = NudgePolicy(settings, rng=rng)
        self._updated_utc_s = 0.0
        self._snooze_polled_utc_s = -math.inf
        self._on_weekly = on_weekly
        self._weekly = WeeklySchedule(self._db, settings) if settings.mode == "weekly_summary" else None
        self._load()

    @property
    def settings(self) -> NudgeSettings:
        return self.policy.settings

    def _load(self) -> None:
        row = self._db.execute("SELECT state_json, updated_utc_s FROM nudge_state WHERE id = 1").fetchone()
        if row is None:
            return
        try:
            self.policy.restore(json.loads(row[0]))
        except ValueError as exc:
            raise StoreError(
                f"{self._store.path}: the stored nudge state cannot be read ({exc}); delete the nudge_state row"
                " to start the daily budget afresh"
            ) from exc
        self._updated_utc_s = float(row[1])

    def observe(self, record: Indicators) -> NudgeDecision | None:
        """Feed one annotated record; log an eligible moment and deliver it if it is sent."""
        self._poll_snooze(record.t_end_utc_s)
        if self._weekly is not None and self._weekly.due(record.t_end_utc_s):
            self._send_weekly(record.t_end_utc_s)
        decision = self.policy.observe(record)
        if decision is None:
            return None
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO nudge_events (nudge_id, t_utc_s, device_id, kind, sent, holdback_p,"
                " stress_score, rmssd_ms, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    decision.nudge_id,
                    decision.t_utc_s,
                    decision.device_id,
                    decision.kind,
                    int(decision.sent),
                    decision.holdback_p,
                    decision.stress_score,
                    decision.rmssd_ms,
                    decision.text,
                ),
            )
            self._save(decision.t_utc_s)
        log.info("nudge %s (%s)", "sent" if decision.sent else "held back", decision.kind)
        if decision.sent and self._on_nudge is not None:
            try:
                self._on_nudge(decision)
            except Exception:  # a failed delivery must not stop the person's recording
                log.exception("delivering nudge %s failed", decision.nudge_id)
        return decision

    def _send_weekly(self, t_utc_s: float) -> None:
        assert self._weekly is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        with self._transaction():
            summary = self._weekly.send(t_utc_s)
        log.info("weekly summary sent")
        if self._on_weekly is not None:
            try:
                self._on_weekly(summary)
            except Exception:  # a failed delivery must not stop the person's recording
                log.exception("delivering the weekly summary failed")

    def _poll_snooze(self, t_utc_s: float) -> None:
        # The check-ins table is the one record of snoozes, whoever stored them (this agent from MQTT,
        # or `vagus checkin`); the policy's own snooze is the copy it decides with.
        if t_utc_s - self._snooze_polled_utc_s < SNOOZE_POLL_S:
            return
        self._snooze_polled_utc_s = t_utc_s
        end = snooze_end(self._db, t_utc_s)
        if end is not None and end > self.policy.snoozed_until_utc_s:
            self.policy.snooze(end)
            with self._transaction():
                self._save(t_utc_s)

    def on_checkin(
        self, answer: str, t_utc_s: float, *, snooze_minutes: float | None = None, nudge_id: str | None = None
    ) -> None:
        """React to the person's answer to a nudge: ``"snooze"`` pauses nudges for ``snooze_minutes``
        (default 60) from ``t_utc_s``. Storing the answer is the check-in module's job (checkins.py)."""
        if not math.isfinite(t_utc_s):
            raise ValueError(f"t_utc_s must be finite, got {t_utc_s}")
        if answer != "snooze":
            if snooze_minutes is not None:
                raise ValueError("snooze minutes belong to the answer 'snooze' only")
            return
        minutes = DEFAULT_SNOOZE_MINUTES if snooze_minutes is None else snooze_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 < minutes < math.inf:
            raise ValueError(f"snooze minutes must be a finite number > 0, got {snooze_minutes!r}")
        self.policy.snooze(t_utc_s + 60.0 * minutes)
        log.info("nudges snoozed for %g min", minutes)
        with self._transaction():
            self._save(t_utc_s)

    def save(self) -> None:
        with self._transaction():
            self._save(self._updated_utc_s)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction (the store's connection is in autocommit mode), so an event and the state
        that counts it are written together or not at all."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _save(self, t_utc_s: float) -> None:
        self._updated_utc_s = max(self._updated_utc_s, t_utc_s)
        self._db.execute(
            "INSERT OR REPLACE INTO nudge_state (id, state_json, updated_utc_s) VALUES (1, ?, ?)",
            (json.dumps(self.policy.state(), separators=(",", ":")), self._updated_utc_s),
        )

    def events(self) -> list[tuple[str, float, int]]:
        """``(nudge_id, t_utc_s, sent)`` of the logged moments, in time order (for tests and reports)."""
        return [
            (row[0], row[1], row[2])
            for row in self._db.execute("SELECT nudge_id, t_utc_s, sent FROM nudge_events ORDER BY t_utc_s")
        ]
