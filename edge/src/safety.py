"""Safety: point to human help when the person's OWN check-ins show persistent distress (issue 11).

A wearable cannot diagnose, and automated support misses complex cases. So vagus knows that limit and
makes human help easy to reach, based on what the person says — never on the physiological score
alone: the rule below reads only check-in answers and self-ratings (``SelfReport``); the stress score
stored beside a check-in is not even an input.

The rule (docs/safety.md), with ``[safety]`` settings in brackets:

- it fires when the person answers ``need_help`` (a ``need_help`` check-in of the last 24 h made
  after the message was last shown), or
- when their check-ins report high stress — the answer ``stressed``, or a self-rating of at least
  [``high_self_stress``] (4 of 5) — on at least [``days_threshold``] (3) distinct local calendar days
  among the last [``window_days``] (7, today included), and one of those reports is new since the
  message was last shown;
- at most once per local day ([``timezone``], the system's by default); never when [``enabled``] is
  false.

What is shown is a ``SafetyMessage``: calm wording and the person's own [``resources``] (name and how
to reach them: phone, web, a trusted contact). vagus ships no numbers of its own: helplines differ by
country, change, and a stale number in an open-source default would fail exactly when it matters. An
empty list gives a configuration hint instead of an empty message. The message leaves the device
only through the nudge channel (a ``support`` nudge: ``SafetyMessage.nudge_fields``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from os import PathLike
from typing import TYPE_CHECKING, Annotated, Final, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from vagus.sync import schema

from .checkins import _connect, checkins

if TYPE_CHECKING:
    from .store import Store

__all__ = [
    "NOT_A_MEDICAL_DEVICE",
    "Resource",
    "SafetyMessage",
    "SafetySettings",
    "SafetyTrigger",
    "SelfReport",
    "check_safety",
    "evaluate",
    "last_shown_utc_s",
    "local_day",
    "safety_message",
    "unsent_messages",
]

NOT_A_MEDICAL_DEVICE: Final = (
    "vagus is wellness self-monitoring, not a medical device: its stress and sleep numbers are estimates "
    "from heartbeat timing to help you notice patterns, not a diagnosis, and it cannot tell whether you are "
    "ill or safe."
)

_NEED_HELP_FRESH_S: Final = 86_400.0  # a need_help older than a day is no longer "now"


class Resource(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One ``[[safety.resources]]`` entry: a name and at least one way to reach them."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | None = None
    web: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    contact: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | None = None  # "text Ana: 0176 …"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a support resource needs a name")
        if self.phone is None and self.web is None and self.contact is None:
            raise ValueError(f"support resource {self.name!r} needs a phone, web or contact")

    def how(self) -> str:
        """How to reach them, in one line: ``phone 0800 111 0 111 · web https://… · …``."""
        parts = [f"phone {self.phone}" if self.phone else "", f"web {self.web}" if self.web else "", self.contact or ""]
        return " · ".join(p for p in parts if p)


class SafetySettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The ``[safety]`` section (docs/safety.md)."""

    enabled: bool = True
    resources: Annotated[list[Resource], msgspec.Meta(max_length=schema.MAX_RESOURCES)] = msgspec.field(
        default_factory=list
    )
    days_threshold: Annotated[int, msgspec.Meta(ge=1, le=60)] = 3
    window_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 7
    high_self_stress: Annotated[int, msgspec.Meta(ge=1, le=5)] = 4
    timezone: str = ""  # an IANA name ("Europe/Berlin") for local days; empty: the system's

    def __post_init__(self) -> None:
        if self.days_threshold > self.window_days:
            raise ValueError(f"days_threshold ({self.days_threshold}) cannot exceed window_days ({self.window_days})")
        if self.timezone:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"timezone must be an IANA name like 'Europe/Berlin', got {self.timezone!r}") from exc


def local_day(t_utc_s: float, timezone: str = "") -> date:
    """The calendar day of ``t_utc_s`` (POSIX seconds) in ``timezone`` (IANA name; empty: the system's)."""
    if timezone:
        return datetime.fromtimestamp(t_utc_s, ZoneInfo(timezone)).date()
    return datetime.fromtimestamp(t_utc_s).date()


class SelfReport(Protocol):
    """What the rule reads of a check-in: the person's own words, nothing the wearable measured."""

    @property
    def t_utc_s(self) -> float: ...
    @property
    def answer(self) -> str: ...
    @property
    def self_stress_1to5(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class SafetyTrigger:
    """Why the rule fired: ``need_help``, or ``persistent_stress`` on ``high_days`` of the last ``window_days``."""

    reason: Literal["need_help", "persistent_stress"]
    high_days: int
    window_days: int


def _is_high(report: SelfReport, settings: SafetySettings) -> bool:
    rating = report.self_stress_1to5
    return report.answer == "stressed" or (rating is not None and rating >= settings.high_self_stress)


def evaluate(
    history: Sequence[SelfReport],
    now_utc_s: float,
    settings: SafetySettings,
    *,
    last_shown_utc_s: float | None = None,
) -> SafetyTrigger | None:
    """The rule of the module docstring over ``history`` (check-ins; later ones than ``now_utc_s`` are
    ignored), given when the message was last shown. Pure: no store, no clock."""
    if not settings.enabled:
        return None
    today = local_day(now_utc_s, settings.timezone)
    if last_shown_utc_s is not None and local_day(last_shown_utc_s, settings.timezone) == today:
        return None  # at most once per local day

    def new(report: SelfReport) -> bool:
        return last_shown_utc_s is None or report.t_utc_s > last_shown_utc_s

    past = [r for r in history if r.t_utc_s <= now_utc_s]
    first_day = today - timedelta(days=settings.window_days - 1)
    high = [r for r in past if _is_high(r, settings) and local_day(r.t_utc_s, settings.timezone) >= first_day]
    high_days = len({local_day(r.t_utc_s, settings.timezone) for r in high})
    if any(r.answer == "need_help" and new(r) and now_utc_s - r.t_utc_s <= _NEED_HELP_FRESH_S for r in past):
        return SafetyTrigger("need_help", high_days, settings.window_days)
    if high_days >= settings.days_threshold and any(new(r) for r in high):
        return SafetyTrigger("persistent_stress", high_days, settings.window_days)
    return None


_TITLE: Final = "Support, if you want it"
_EMERGENCY: Final = "If you might be in danger, call your local emergency number now."
_HINT: Final = "No support contacts are set up yet: add [[safety.resources]] to your vagus config (see docs/safety.md)."


@dataclass(frozen=True, slots=True)
class SafetyMessage:
    """What vagus shows when the rule fires: for the terminal and the report (``render``) and for a phone
    or Home Assistant (``nudge_fields``). ``hint`` is set, and ``resources`` empty, when none are configured."""

    trigger: SafetyTrigger
    title: str
    text: str  # at most 280 characters: the nudge payload's text
    resources: tuple[Resource, ...]
    hint: str | None

    def render(self) -> str:
        """The message as terminal text."""
        lines = [self.title, "", self.text, ""]
        if self.resources:
            lines += [f"  • {r.name}: {r.how()}" for r in self.resources]
            lines.append("")
        lines += [_EMERGENCY, "", NOT_A_MEDICAL_DEVICE]
        return "\n".join(lines)

    def payload_resources(self) -> tuple[schema.Resource, ...]:
        return tuple(schema.Resource(name=r.name, how=r.how()) for r in self.resources)

    def nudge_fields(self) -> dict[str, object]:
        """Keyword arguments for ``Publisher.submit_nudge`` (add ``nudge_id`` and ``t_utc_ms``)."""
        return {"nudge": "support", "title": self.title, "text": self.text, "resources": self.payload_resources()}


def safety_message(trigger: SafetyTrigger, settings: SafetySettings) -> SafetyMessage:
    """Calm wording for ``trigger``: it says what the person said, not what vagus measured."""
    if trigger.reason == "need_help":
        text = "You said you could use some help. Reaching out is a good step, and you don't have to do it alone."
    else:
        text = (
            f"You've said you felt stressed on {trigger.high_days} of the last {trigger.window_days} days. "
            "Talking it over with someone you trust, or a support service, can help."
        )
    resources = tuple(settings.resources)
    hint = None if resources else _HINT
    if hint is not None:
        text = f"{text} {hint}"
    return SafetyMessage(trigger=trigger, title=_TITLE, text=text, resources=resources, hint=hint)


def last_shown_utc_s(store: Store | str | PathLike[str]) -> float | None:
    """When the safety message was last shown (POSIX seconds), or ``None``."""
    with _connect(store) as conn:
        row = conn.execute("SELECT max(t_utc_s) FROM safety_shown").fetchone()
    return None if row[0] is None else float(row[0])


def unsent_messages(
    conn: sqlite3.Connection, settings: SafetySettings, *, since_utc_s: float
) -> list[tuple[float, SafetyMessage]]:
    """Safety messages shown since ``since_utc_s`` (by this process or another, e.g. ``vagus checkin``)
    that no agent has sent over MQTT yet, oldest first, with when they were shown; each is marked sent
    as it is returned (the caller queues it in the durable outbox). Empty when the rule is off."""
    if not settings.enabled:
        return []
    rows = conn.execute(
        "SELECT local_day, t_utc_s, reason, high_days, window_days FROM safety_shown"
        " WHERE sent_utc_s IS NULL AND t_utc_s >= ? ORDER BY t_utc_s",
        (since_utc_s,),
    ).fetchall()
    out = []
    for day, t_utc_s, reason, high_days, window_days in rows:
        conn.execute("UPDATE safety_shown SET sent_utc_s = ? WHERE local_day = ?", (t_utc_s, day))
        trigger = SafetyTrigger(reason, int(high_days or 0), int(window_days or settings.window_days))
        out.append((float(t_utc_s), safety_message(trigger, settings)))
    return out


def check_safety(
    store: Store | str | PathLike[str], now_utc_s: float, settings: SafetySettings
) -> SafetyMessage | None:
    """Evaluate the rule on the stored check-ins; if it fires, remember that it was shown today and
    return the message to show (the caller shows or sends it). ``None`` otherwise, and always when
    ``settings.enabled`` is false (then nothing is read or written)."""
    if not settings.enabled:
        return None
    since = now_utc_s - (settings.window_days + 1) * 86_400.0  # a day more: local days vs UTC seconds
    trigger = evaluate(
        checkins(store, since_utc_s=since, until_utc_s=now_utc_s),
        now_utc_s,
        settings,
        last_shown_utc_s=last_shown_utc_s(store),
    )
    if trigger is None:
        return None
    with _connect(store) as conn:
        try:
            # Another process (the agent and `vagus checkin`) may have shown it today already: one wins.
            conn.execute(
                "INSERT INTO safety_shown (local_day, t_utc_s, reason, high_days, window_days) VALUES (?, ?, ?, ?, ?)",
                (
                    local_day(now_utc_s, settings.timezone).isoformat(),
                    now_utc_s,
                    trigger.reason,
                    trigger.high_days,
                    trigger.window_days,
                ),
            )
        except sqlite3.IntegrityError:
            return None
    return safety_message(trigger, settings)
