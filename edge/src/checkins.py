"""Check-ins: the person's own answers, kept in the local store with the indicators of that moment.

An answer is ``stressed``, ``not_stressed``, ``need_help`` or ``snooze`` (words and codes:
``vagus.sync.schema.CHECKIN_ANSWER_CODES``), optionally with a self-rated stress of 1–5 and the id
of the nudge it answers. It comes from ``vagus checkin`` on the device, or over MQTT from a
companion app or Home Assistant (``record_received``). Each row also keeps the latest 60-s
indicators window that ended within the 5 minutes before the answer (stress score and level, gate
reason, RMSSD, HR), so the person can see what their body looked like when they felt stressed, and
so agreement between the score and the self-report is measured rather than assumed (issue 8).

Table ``checkins`` (migration 0008). Each call opens its own short connection to the store file:
check-ins are rare, and this way a check-in arriving on the sync thread never touches the agent's
connection (SQLite connections are bound to the thread that made them).
"""

from __future__ import annotations

import math
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Final, get_args

from vagus.errors import StoreError
from vagus.sync.schema import CHECKIN_SOURCES, CheckinAnswer

if TYPE_CHECKING:
    from vagus.sync.schema import Checkin as CheckinMessage

    from .store import Store

__all__ = [
    "ANSWERS",
    "DEFAULT_SNOOZE_MINUTES",
    "MOMENT_LOOKBACK_S",
    "MOMENT_WINDOW_S",
    "SOURCES",
    "Checkin",
    "checkins",
    "record_checkin",
    "record_received",
    "snooze_end",
    "snoozed_until",
]

ANSWERS: Final[tuple[str, ...]] = get_args(CheckinAnswer)
SOURCES: Final[tuple[str, ...]] = CHECKIN_SOURCES
# The window that describes "that moment": the 60-s indicators, the shortest the agent computes and
# the one the stress score is reported on; older than 5 minutes it describes another moment.
MOMENT_WINDOW_S: Final = 60.0
MOMENT_LOOKBACK_S: Final = 300.0
# A snooze without a length: one hour (product.md §4.9 item 5: "snooze (1 h, rest of day)").
DEFAULT_SNOOZE_MINUTES: Final = 60.0
MAX_SNOOZE_MINUTES: Final = 1440.0

# Columns in the order of ``Checkin``'s fields (a test holds them equal); every statement is a constant.
_SELECT_ONE: Final = (
    "SELECT checkin_id, t_utc_s, source, answer, self_stress_1to5, nudge_id, snooze_minutes, stress_score,"
    " stress_level, gate_reason, rmssd_ms, hr_bpm FROM checkins WHERE checkin_id = ?"
)
_INSERT: Final = (
    "INSERT INTO checkins (checkin_id, t_utc_s, source, answer, self_stress_1to5, nudge_id, snooze_minutes,"
    " stress_score, stress_level, gate_reason, rmssd_ms, hr_bpm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_RANGE: Final = (
    "SELECT checkin_id, t_utc_s, source, answer, self_stress_1to5, nudge_id, snooze_minutes, stress_score,"
    " stress_level, gate_reason, rmssd_ms, hr_bpm FROM checkins"
    " WHERE (?1 IS NULL OR t_utc_s >= ?1) AND (?2 IS NULL OR t_utc_s <= ?2) ORDER BY t_utc_s, checkin_id"
)


@dataclass(frozen=True, slots=True)
class Checkin:
    """One stored check-in. ``t_utc_s``: POSIX seconds (UTC). The indicators are those of the moment
    (module docstring), each ``None`` if no window ended within ``MOMENT_LOOKBACK_S`` before it."""

    checkin_id: str
    t_utc_s: float
    source: str
    answer: str
    self_stress_1to5: int | None = None
    nudge_id: str | None = None
    snooze_minutes: float | None = None
    stress_score: float | None = None
    stress_level: str | None = None
    gate_reason: str | None = None
    rmssd_ms: float | None = None
    hr_bpm: float | None = None


def _path_of(store: Store | str | PathLike[str]) -> Path:
    path = Path(getattr(store, "path", store))  # a Store, or the path of its file
    if str(path) == ":memory:":
        raise StoreError("check-ins need a store file; an in-memory store cannot be shared between connections")
    return path


@contextmanager
def _connect(store: Store | str | PathLike[str]) -> Iterator[sqlite3.Connection]:
    path = _path_of(store)
    if not path.exists():
        raise StoreError(f"no local store at {path}: open it with vagus.edge.Store first (it applies migrations)")
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "checkins" not in tables:
            raise StoreError(f"the local store {path} has no checkins table: open it with vagus.edge.Store first")
        yield conn
    finally:
        conn.close()


def _validate(
    answer: str, t_utc_s: float, source: str, self_stress_1to5: int | None, snooze_minutes: float | None
) -> None:
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {', '.join(ANSWERS)}, got {answer!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if isinstance(t_utc_s, bool) or not isinstance(t_utc_s, int | float) or not math.isfinite(t_utc_s):
        raise ValueError(f"t_utc_s must be finite POSIX seconds, got {t_utc_s!r}")
    if self_stress_1to5 is not None and (
        isinstance(self_stress_1to5, bool) or not isinstance(self_stress_1to5, int) or not 1 <= self_stress_1to5 <= 5
    ):
        raise ValueError(f"self-rated stress must be a whole number from 1 to 5, got {self_stress_1to5!r}")
    if snooze_minutes is not None:
        if answer != "snooze":
            raise ValueError("snooze minutes belong to the answer snooze only")
        if not (isinstance(snooze_minutes, int | float) and 0 < snooze_minutes <= MAX_SNOOZE_MINUTES):
            raise ValueError(f"snooze minutes must be > 0 and at most {MAX_SNOOZE_MINUTES:g}, got {snooze_minutes!r}")


def _moment(conn: sqlite3.Connection, t_utc_s: float) -> tuple[object, ...]:
    row = conn.execute(
        "SELECT stress_score, stress_level, gate_reason, rmssd_ms, hr_bpm FROM indicators"
        " WHERE window_nominal_s = ? AND t_end_utc_s <= ? AND t_end_utc_s >= ?"
        " ORDER BY t_end_utc_s DESC LIMIT 1",
        (MOMENT_WINDOW_S, t_utc_s, t_utc_s - MOMENT_LOOKBACK_S),
    ).fetchone()
    return tuple(row) if row is not None else (None,) * 5


def record_checkin(
    store: Store | str | PathLike[str],
    answer: str,
    t_utc_s: float,
    *,
    source: str,
    self_stress_1to5: int | None = None,
    nudge_id: str | None = None,
    snooze_minutes: float | None = None,
    checkin_id: str | None = None,
) -> Checkin:
    """Store a check-in with the indicators of its moment and return it.

    ``store``: the open ``Store`` (or its file's path). ``checkin_id`` identifies it (a new random id
    if ``None``); a check-in whose id is already stored (a QoS 1 duplicate) is not stored twice, and
    the stored one is returned. A snooze without ``snooze_minutes`` lasts ``DEFAULT_SNOOZE_MINUTES``.
    ``ValueError`` for an unknown answer or source, a rating outside 1–5, or minutes on another answer."""
    _validate(answer, t_utc_s, source, self_stress_1to5, snooze_minutes)
    if answer == "snooze" and snooze_minutes is None:
        snooze_minutes = DEFAULT_SNOOZE_MINUTES
    checkin_id = checkin_id or f"c-{secrets.token_hex(8)}"
    with _connect(store) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored = conn.execute(_SELECT_ONE, (checkin_id,)).fetchone()
            if stored is None:
                row = (
                    checkin_id,
                    float(t_utc_s),
                    source,
                    answer,
                    self_stress_1to5,
                    nudge_id,
                    None if snooze_minutes is None else float(snooze_minutes),
                    *_moment(conn, float(t_utc_s)),
                )
                conn.execute(_INSERT, row)
                stored = row
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return Checkin(*stored)


def record_received(store: Store | str | PathLike[str], message: CheckinMessage) -> Checkin:
    """Store a check-in received over MQTT (``vagus.sync.schema.Checkin``, already validated):
    the agent's ``on_checkin`` for the publisher. Idempotent per ``checkin_id``."""
    return record_checkin(
        store,
        message.answer,
        message.t_utc_ms / 1000.0,
        source=message.source,
        self_stress_1to5=message.self_stress_1to5,
        nudge_id=message.nudge_id,
        snooze_minutes=message.snooze_minutes,
        checkin_id=message.checkin_id,
    )


def checkins(
    store: Store | str | PathLike[str], since_utc_s: float | None = None, until_utc_s: float | None = None
) -> list[Checkin]:
    """The stored check-ins with ``since_utc_s ≤ t_utc_s ≤ until_utc_s`` (either bound optional), oldest first."""
    with _connect(store) as conn:
        return [Checkin(*row) for row in conn.execute(_SELECT_RANGE, (since_utc_s, until_utc_s))]


def snoozed_until(store: Store | str | PathLike[str], now_utc_s: float) -> float | None:
    """The end (POSIX seconds) of the snooze in force at ``now_utc_s``, or ``None``: for the nudge policy.

    The latest-ending snooze check-in made at or before ``now_utc_s`` that has not ended yet."""
    with _connect(store) as conn:
        return snooze_end(conn, now_utc_s)


def snooze_end(conn: sqlite3.Connection, now_utc_s: float) -> float | None:
    """:func:`snoozed_until` on an open connection to the store (the nudge stage's own)."""
    row = conn.execute(
        "SELECT max(t_utc_s + 60.0 * snooze_minutes) FROM checkins"
        " WHERE answer = 'snooze' AND t_utc_s <= ? AND t_utc_s + 60.0 * snooze_minutes > ?",
        (now_utc_s, now_utc_s),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])
