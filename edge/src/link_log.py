"""Link events and battery readings in the local store (migration 0010), and reading them back.

The agent's links report every state change (:class:`~vagus.edge.link_state.LinkEvent`) and every
battery level; ``vagus run`` writes them here as they come, beside showing them live. Readers
(dashboards, reports, ``vagus doctor``) get them back per device and time range.

This module runs its own SQL on ``Store.connection``, as nudge_stage.py does; its tables are its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .link_state import LinkEvent, LinkState
from .store import Store

__all__ = [
    "BatteryReading",
    "LinkSummary",
    "add_battery",
    "add_link_event",
    "battery_readings",
    "link_events",
    "link_summary",
]


@dataclass(frozen=True, slots=True)
class BatteryReading:
    device_id: str
    t_utc_s: float
    level_pct: int


def add_link_event(store: Store, event: LinkEvent) -> None:
    """Store one state change of a device link."""
    with store.connection:
        store.connection.execute(
            "INSERT INTO link_events (device_id, t_utc_s, state, reason, retry_in_s) VALUES (?, ?, ?, ?, ?)",
            (event.device_id, event.t_utc_s, event.state.value, event.reason, event.retry_in_s),
        )


def add_battery(store: Store, device_id: str, t_utc_s: float, level_pct: int) -> None:
    """Store one battery reading (percent, 0–100; ValueError otherwise). The same instant again replaces it."""
    if not 0 <= level_pct <= 100:
        raise ValueError(f"battery level must be 0–100 %, got {level_pct}")
    with store.connection:
        store.connection.execute(
            "INSERT OR REPLACE INTO battery_readings (device_id, t_utc_s, level_pct) VALUES (?, ?, ?)",
            (device_id, t_utc_s, int(level_pct)),
        )


def _where(device_id: str | None, since_utc_s: float, until_utc_s: float) -> tuple[str, list[object]]:
    clauses, args = ["t_utc_s >= ?", "t_utc_s < ?"], [since_utc_s, until_utc_s]
    if device_id is not None:
        clauses.append("device_id = ?")
        args.append(device_id)
    return " AND ".join(clauses), args


def link_events(
    store: Store, device_id: str | None = None, *, since_utc_s: float = -math.inf, until_utc_s: float = math.inf
) -> list[LinkEvent]:
    """Stored link events in time order (all devices, or one), in ``[since, until)``."""
    where, args = _where(device_id, since_utc_s, until_utc_s)
    rows = store.connection.execute(
        f"SELECT device_id, t_utc_s, state, reason, retry_in_s FROM link_events WHERE {where}"  # noqa: S608 — fixed clauses; values are bound
        " ORDER BY t_utc_s, rowid",
        args,
    ).fetchall()
    return [LinkEvent(d, LinkState(s), t, r, w) for d, t, s, r, w in rows]


def battery_readings(
    store: Store, device_id: str | None = None, *, since_utc_s: float = -math.inf, until_utc_s: float = math.inf
) -> list[BatteryReading]:
    """Stored battery readings in time order, in ``[since, until)``."""
    where, args = _where(device_id, since_utc_s, until_utc_s)
    rows = store.connection.execute(
        f"SELECT device_id, t_utc_s, level_pct FROM battery_readings WHERE {where} ORDER BY t_utc_s",  # noqa: S608 — fixed clauses; values are bound
        args,
    ).fetchall()
    return [BatteryReading(d, t, lvl) for d, t, lvl in rows]


@dataclass(frozen=True, slots=True)
class LinkSummary:
    """One device over a time range: streaming time, drops and the last battery level."""

    device_id: str
    streaming_s: float
    drops: int  # streaming stretches that ended other than by a stop
    last_battery_pct: int | None


def link_summary(store: Store, device_id: str, *, since_utc_s: float, until_utc_s: float) -> LinkSummary:
    """How long ``device_id`` streamed in ``[since, until)`` and how often its link dropped.

    Streaming time runs from each ``streaming`` event to the next event of the device (or ``until``).
    """
    if not until_utc_s > since_utc_s:
        raise ValueError("until_utc_s must be after since_utc_s")
    events = link_events(store, device_id, since_utc_s=since_utc_s, until_utc_s=until_utc_s)
    streaming_s, drops = 0.0, 0
    for event, after in zip(events, [*events[1:], None], strict=True):
        if event.state is not LinkState.STREAMING:
            continue
        end = after.t_utc_s if after is not None else until_utc_s
        streaming_s += end - event.t_utc_s
        if after is not None and after.state is not LinkState.STOPPED:
            drops += 1
    battery = battery_readings(store, device_id, since_utc_s=since_utc_s, until_utc_s=until_utc_s)
    return LinkSummary(device_id, streaming_s, drops, battery[-1].level_pct if battery else None)
