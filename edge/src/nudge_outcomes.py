"""Outcomes of the eligible moments: what the body did in the 30 minutes before and after each one.

Every row of ``nudge_events`` (migration 0007, written by the nudge stage) is an eligible moment:
the nudge was sent (``sent = 1``) or held back at random (``sent = 0``, with probability
``holdback_p``). For each, from the stored ``indicators``:

* stress score and RMSSD: the mean of the 60-s windows (full ones) that ended in (t − 30 min, t]
  and in (t, t + 30 min] — the windows the stress score is reported on;
* 0.1-Hz (LF-band, 0.04–0.15 Hz) power: the same means over the 300-s windows, because vagus
  reports LF only from windows of about 2 minutes or more (Task Force 1996; ``vagus.signal.frequency``).

Windows of the moment's device are used (all devices if the event names none). A side with fewer
than ``vagus.signal.nudge_effect.MIN_SAMPLES_PER_SIDE`` windows (e.g. the strap was off) gives
``None`` for that outcome. The statistics are in :mod:`vagus.signal.nudge_effect`; the text report
in :mod:`vagus.report_nudges`.

Read-only: a connection of its own opened with ``mode=ro``, so reading never blocks the agent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vagus.errors import StoreError
from vagus.signal.nudge_effect import MIN_SAMPLES_PER_SIDE, OUTCOME_WINDOW_S, before_after_means

if TYPE_CHECKING:
    from .store import Store

__all__ = ["OUTCOMES", "MomentOutcome", "load_moments"]

# outcome name → (indicators column, nominal window in s)
OUTCOMES: dict[str, tuple[str, float]] = {
    "stress": ("stress_score", 60.0),
    "rmssd": ("rmssd_ms", 60.0),
    "lf": ("lf_ms2", 300.0),
}


@dataclass(frozen=True, slots=True)
class MomentOutcome:
    """One eligible moment and the means of each outcome before and after it (None: too few windows)."""

    nudge_id: str
    t_utc_s: float
    device_id: str | None
    sent: bool
    holdback_p: float | None
    before: dict[str, float | None]
    after: dict[str, float | None]

    def change(self, outcome: str) -> float | None:
        """after − before for ``outcome`` ("stress", "rmssd" or "lf"), or None if either side is missing."""
        b, a = self.before.get(outcome), self.after.get(outcome)
        return None if a is None or b is None else a - b


@contextmanager
def _read_only(store: Store | Any) -> Iterator[sqlite3.Connection]:
    path = str(getattr(store, "path", store))
    if path == ":memory:":
        raise StoreError("the nudge outcomes need a store file; an in-memory store cannot be shared")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot open the local store {path} to read: {exc}") from exc
    try:
        yield conn
    finally:
        conn.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def load_moments(
    store: Store | Any,
    *,
    since_utc_s: float | None = None,
    until_utc_s: float | None = None,
    window_s: float = OUTCOME_WINDOW_S,
    min_samples: int = MIN_SAMPLES_PER_SIDE,
) -> list[MomentOutcome]:
    """The eligible moments with ``since ≤ t ≤ until`` and their before/after outcomes, oldest first.

    ``store`` is an open ``vagus.edge.Store`` (or the path of its file). A store without the
    ``nudge_events`` table (no nudges yet) gives an empty list."""
    with _read_only(store) as conn:
        if "nudge_events" not in _tables(conn):
            return []
        where, args = [], []
        if since_utc_s is not None:
            where.append("t_utc_s >= ?")
            args.append(since_utc_s)
        if until_utc_s is not None:
            where.append("t_utc_s <= ?")
            args.append(until_utc_s)
        clause = f" WHERE {' AND '.join(where)}" if where else ""  # fixed fragments; values are bound
        events = conn.execute(
            f"SELECT nudge_id, t_utc_s, device_id, sent, holdback_p FROM nudge_events{clause}"  # noqa: S608
            " ORDER BY t_utc_s, nudge_id",
            args,
        ).fetchall()
        if not events:
            return []
        lo = min(e[1] for e in events) - window_s
        hi = max(e[1] for e in events) + window_s
        series = _series(conn, lo, hi)
    out = []
    for device in sorted({e[2] for e in events}, key=lambda d: (d is None, d or "")):
        mine = [e for e in events if e[2] == device]
        times = np.array([e[1] for e in mine], dtype=np.float64)
        means = {}
        for name in OUTCOMES:
            t, v = series.get((device, name), (np.empty(0), np.empty(0)))
            means[name] = before_after_means(t, v, times, window_s=window_s, min_samples=min_samples)
        for k, (nudge_id, t_utc_s, device_id, sent, holdback_p) in enumerate(mine):
            out.append(
                MomentOutcome(
                    str(nudge_id),
                    float(t_utc_s),
                    device_id,
                    bool(sent),
                    None if holdback_p is None else float(holdback_p),
                    {name: _value(b[k]) for name, (b, _) in means.items()},
                    {name: _value(a[k]) for name, (_, a) in means.items()},
                )
            )
    out.sort(key=lambda m: (m.t_utc_s, m.nudge_id))
    return out


def _value(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _series(conn: sqlite3.Connection, lo: float, hi: float) -> dict[tuple[str | None, str], tuple[Any, Any]]:
    """(device, outcome) → (window end times, values) of the full windows ending in (lo, hi]; the device
    ``None`` collects every device (for events that name none). Only full windows (``window_s`` within
    1 s of nominal) count, as the stress stage scores only those."""
    out: dict[tuple[str | None, str], tuple[Any, Any]] = {}
    for name, (column, nominal) in OUTCOMES.items():
        rows = conn.execute(
            f"SELECT device_id, t_end_utc_s, {column} FROM indicators"  # noqa: S608 — a column of OUTCOMES
            " WHERE window_nominal_s = ? AND t_end_utc_s > ? AND t_end_utc_s <= ? AND window_s >= ? - 1.0"
            " ORDER BY t_end_utc_s",
            (nominal, lo, hi, nominal),
        ).fetchall()
        devices = np.array([r[0] for r in rows], dtype=object)
        t = np.array([r[1] for r in rows], dtype=np.float64)
        v = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64)
        out[(None, name)] = (t, v)
        for device in set(devices.tolist()):
            mask = devices == device
            out[(device, name)] = (t[mask], v[mask])
    return out
