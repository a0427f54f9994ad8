"""The safety rule (issue 11): human help when the person's OWN check-ins show persistent distress.

Histories of check-ins are generated; the rule is compared with a plain day-by-day reading of its
documented definition (docs/safety.md), never with the score, which it must not read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vagus.edge.checkins import checkins, record_checkin
from vagus.edge.safety import (
    NOT_A_MEDICAL_DEVICE,
    Resource,
    SafetySettings,
    check_safety,
    evaluate,
    last_shown_utc_s,
    local_day,
    safety_message,
)
from vagus.edge.store import Store
from vagus.signal import Indicators
from vagus.sync import Kind, Nudge, decode, encode
from vagus.tomlconfig import load_toml_config

ROOT = Path(__file__).resolve().parents[1]
TZ = "Europe/Berlin"
# Monday 2026-03-02, 00:00 in Berlin.
MONDAY = datetime(2026, 3, 2, tzinfo=ZoneInfo(TZ)).timestamp()
HOUR = 3600.0
DAY = 86_400.0
BERLIN = SafetySettings(timezone=TZ)


@dataclass(frozen=True)
class Report:
    t_utc_s: float
    answer: str
    self_stress_1to5: int | None = None


def at(day: int, hour: float) -> float:
    """POSIX seconds of ``hour`` o'clock on day ``day`` after MONDAY, Berlin time (DST-safe)."""
    d = datetime(2026, 3, 2, tzinfo=ZoneInfo(TZ)) + timedelta(days=day)
    return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(TZ)).timestamp() + hour * HOUR


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "vagus.db") as s:
        yield s


# -- the settings ------------------------------------------------------------------------------------


def load(text: str, tmp_path: Path) -> SafetySettings:
    class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
        safety: SafetySettings = msgspec.field(default_factory=SafetySettings)

    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_toml_config(Config, path, env={}, env_pattern=re.compile("^$"), label="configuration").safety


def test_defaults_ship_no_numbers():
    s = SafetySettings()
    assert (s.enabled, s.resources, s.days_threshold, s.window_days, s.high_self_stress) == (True, [], 3, 7, 4)


def test_the_documented_example_config_loads(tmp_path):
    doc = (ROOT / "docs" / "safety.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, re.DOTALL)
    assert blocks, "docs/safety.md has no example config"
    s = load(blocks[0], tmp_path)
    assert len(s.resources) >= 2
    assert all(r.how() for r in s.resources)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[[safety.resources]]\nname = "Ana"\n', "phone, web or contact"),
        ("[safety]\ndays_threshold = 8\n", "window_days"),
        ('[safety]\ntimezone = "Mars/Olympus"\n', "IANA"),
        ("[safety]\nhigh_self_stress = 6\n", "high_self_stress"),
        ("[safety]\nnumbers = true\n", "numbers"),
    ],
)
def test_bad_settings_say_what_is_wrong(tmp_path, text, match):
    with pytest.raises(Exception, match=match):
        load(text, tmp_path)


# -- the rule, by hand -------------------------------------------------------------------------------


def test_three_stressed_days_in_a_week_fire_once_that_day():
    history = [Report(at(0, 9), "stressed"), Report(at(2, 13), "not_stressed", 5)]
    assert evaluate(history, at(2, 14), BERLIN) is None  # two days
    history.append(Report(at(4, 18), "stressed"))
    trigger = evaluate(history, at(4, 18), BERLIN)
    assert trigger is not None and (trigger.reason, trigger.high_days) == ("persistent_stress", 3)
    # Shown: not again that day, however much more is said.
    history.append(Report(at(4, 20), "need_help"))
    assert evaluate(history, at(4, 21), BERLIN, last_shown_utc_s=at(4, 18)) is None


def test_days_outside_the_window_do_not_count():
    history = [Report(at(0, 9), "stressed"), Report(at(3, 9), "stressed"), Report(at(7, 9), "stressed")]
    assert evaluate(history, at(7, 10), BERLIN) is None  # day 0 is 8 calendar days before day 7
    assert evaluate([*history[:2], Report(at(6, 23.5), "stressed")], at(6, 23.9), BERLIN) is not None


def test_local_days_not_utc_days():
    # Berlin is UTC+1 in March: 00:30 there is 23:30 UTC the day before.
    history = [Report(at(1, 0.5), "stressed"), Report(at(2, 0.5), "stressed"), Report(at(2, 23.5), "stressed")]
    assert evaluate(history, at(2, 23.9), BERLIN) is None  # Berlin days 1, 2, 2
    utc = msgspec.structs.replace(BERLIN, timezone="UTC")
    assert evaluate(history, at(2, 23.9), utc) is not None  # UTC days 0, 1, 2
    history.append(Report(at(3, 8), "stressed", 4))
    assert evaluate(history, at(3, 9), BERLIN) is not None


def test_need_help_fires_at_once_and_a_self_rating_counts_as_high():
    assert evaluate([Report(at(0, 9), "need_help")], at(0, 9), BERLIN).reason == "need_help"
    rated = [Report(at(d, 9), "snooze", 4) for d in range(3)]
    assert evaluate(rated, at(2, 9), BERLIN).reason == "persistent_stress"
    assert evaluate(rated, at(2, 9), msgspec.structs.replace(BERLIN, high_self_stress=5)) is None


def test_an_old_report_does_not_fire_again_without_a_new_one():
    history = [Report(at(d, 9), "stressed") for d in range(3)]
    assert evaluate(history, at(2, 9), BERLIN) is not None
    assert evaluate(history, at(3, 9), BERLIN, last_shown_utc_s=at(2, 9)) is None  # nothing new said
    history.append(Report(at(3, 10), "stressed"))
    assert evaluate(history, at(3, 11), BERLIN, last_shown_utc_s=at(2, 9)) is not None


def test_the_off_switch():
    off = msgspec.structs.replace(BERLIN, enabled=False)
    assert evaluate([Report(at(0, 9), "need_help")], at(0, 9), off) is None


# -- generated histories -----------------------------------------------------------------------------

ANSWERS = ["stressed", "not_stressed", "need_help", "snooze"]
reports = st.lists(
    st.builds(
        Report,
        t_utc_s=st.integers(0, 20 * 24 * 4).map(lambda q: MONDAY + q * 900.0),  # quarter hours over 20 days
        answer=st.sampled_from(ANSWERS),
        self_stress_1to5=st.none() | st.integers(1, 5),
    ),
    max_size=40,
).map(lambda rs: sorted(rs, key=lambda r: r.t_utc_s))
rules = st.builds(
    SafetySettings,
    enabled=st.booleans(),
    days_threshold=st.integers(1, 4),
    window_days=st.integers(4, 10),
    high_self_stress=st.integers(3, 5),
    timezone=st.sampled_from([TZ, "UTC", "Pacific/Auckland"]),
)


def reference(history: list[Report], now: float, s: SafetySettings, last_shown: float | None) -> str | None:
    """docs/safety.md read literally, one calendar day at a time."""
    if not s.enabled:
        return None
    zone = ZoneInfo(s.timezone)

    def day_of(t: float) -> date:
        return datetime.fromtimestamp(t, zone).date()

    today = day_of(now)
    if last_shown is not None and day_of(last_shown) == today:
        return None
    said = [r for r in history if r.t_utc_s <= now and (last_shown is None or r.t_utc_s > last_shown)]
    for r in said:
        if r.answer == "need_help" and now - r.t_utc_s <= DAY:
            return "need_help"
    window = [today - timedelta(days=k) for k in range(s.window_days)]

    def high(r: Report) -> bool:
        return r.answer == "stressed" or (r.self_stress_1to5 or 0) >= s.high_self_stress

    high_days = [d for d in window if any(high(r) and day_of(r.t_utc_s) == d for r in history if r.t_utc_s <= now)]
    if len(high_days) >= s.days_threshold and any(high(r) and day_of(r.t_utc_s) in window for r in said):
        return "persistent_stress"
    return None


@settings(max_examples=300, deadline=None)
@given(history=reports, rule=rules, extra=st.lists(st.integers(0, 21 * 24), max_size=10))
def test_generated_histories_follow_the_documented_rule(history, rule, extra):
    """The person checks in (and the agent re-evaluates hourly at some times): the rule fires exactly as
    docs/safety.md says, never twice in one local day, never when off, and only on what the person said."""
    times = sorted({r.t_utc_s for r in history} | {MONDAY + h * HOUR for h in extra})
    last_shown = None
    shown_days: list[date] = []
    for now in times:
        got = evaluate(history, now, rule, last_shown_utc_s=last_shown)
        assert (got.reason if got else None) == reference(history, now, rule, last_shown)
        if got is not None:
            last_shown = now
            shown_days.append(local_day(now, rule.timezone))
    assert len(shown_days) == len(set(shown_days))  # at most once per local day
    if not rule.enabled:
        assert shown_days == []
    said_something = any(
        r.answer in ("stressed", "need_help") or (r.self_stress_1to5 or 0) >= rule.high_self_stress for r in history
    )
    if not said_something:
        assert shown_days == []


# -- never on the score alone ------------------------------------------------------------------------


def stressed_body(store: Store, days: int) -> None:
    """Every minute of ``days`` days at the top of the stress scale."""
    rows = [
        Indicators(
            device_id="strap-1",
            t_start_utc_s=t - 60,
            t_end_utc_s=t,
            window_s=60.0,
            n_beats=90,
            quality=1.0,
            window_nominal_s=60.0,
            hr_bpm=110.0,
            rmssd_ms=9.0,
            stress_score=100.0,
            stress_level="high",
            gate_reason="active",
        )
        for t in (MONDAY + 60.0 * k for k in range(1, days * 1440))
    ]
    store.add_indicators(rows)


def test_never_on_the_score_alone(store):
    stressed_body(store, days=8)
    for hour in range(0, 8 * 24, 5):
        assert check_safety(store, MONDAY + hour * HOUR, BERLIN) is None
    # The person answers "not stressed" while the score says high, every day: still their word that counts.
    for d in range(7):
        c = record_checkin(store, "not_stressed", at(d, 12), source="cli", self_stress_1to5=2)
        assert c.stress_level == "high"  # the moment was kept, and it does not matter to the rule
        assert check_safety(store, at(d, 12), BERLIN) is None
    assert last_shown_utc_s(store) is None


# -- through the store ---------------------------------------------------------------------------------


def test_at_most_once_a_day_through_the_store(store):
    record_checkin(store, "need_help", at(0, 9), source="cli")
    first = check_safety(store, at(0, 9), BERLIN)
    assert first is not None and first.trigger.reason == "need_help"
    record_checkin(store, "need_help", at(0, 15), source="cli")
    assert check_safety(store, at(0, 15), BERLIN) is None
    assert check_safety(store, at(0, 23.9), BERLIN) is None
    record_checkin(store, "need_help", at(1, 8), source="cli")
    assert check_safety(store, at(1, 8), BERLIN) is not None
    assert last_shown_utc_s(store) == at(1, 8)


def test_two_processes_showing_it_the_same_day_show_it_once(store, tmp_path):
    record_checkin(store, "need_help", at(0, 9), source="cli")
    with Store(tmp_path / "vagus.db") as other:  # the agent and `vagus checkin`, at the same moment
        messages = [check_safety(s, at(0, 9), BERLIN) for s in (store, other)]
    assert sum(m is not None for m in messages) == 1


def test_off_reads_and_writes_nothing(store):
    record_checkin(store, "need_help", at(0, 9), source="cli")
    assert check_safety(store, at(0, 9), msgspec.structs.replace(BERLIN, enabled=False)) is None
    assert last_shown_utc_s(store) is None
    assert len(checkins(store)) == 1


# -- the message ---------------------------------------------------------------------------------------


def test_no_resources_give_a_configuration_hint_not_an_empty_message():
    trigger = evaluate([Report(at(0, 9), "need_help")], at(0, 9), BERLIN)
    message = safety_message(trigger, BERLIN)
    assert message.resources == () and message.hint is not None
    assert "[[safety.resources]]" in message.text and "docs/safety.md" in message.text
    assert "•" not in message.render()


@pytest.mark.parametrize("reason", ["need_help", "persistent_stress"])
def test_the_message_lists_the_persons_own_resources_and_fits_a_nudge(reason):
    s = msgspec.structs.replace(
        BERLIN,
        resources=[
            Resource(name="My sister Ana", contact="text her: 0176 0000000"),
            Resource(name="Local helpline", phone="0800 000 000", web="https://example.org/help"),
        ],
        window_days=60,
    )
    history = [Report(at(d, 9), "need_help" if reason == "need_help" else "stressed") for d in range(60)]
    trigger = evaluate(history, at(59, 9), s)
    assert trigger is not None and trigger.reason == reason
    message = safety_message(trigger, s)
    assert message.hint is None
    text = message.render()
    assert "My sister Ana: text her: 0176 0000000" in text
    assert "Local helpline: phone 0800 000 000 · web https://example.org/help" in text
    assert NOT_A_MEDICAL_DEVICE in text
    nudge = Nudge(
        person="alice", stream="0" * 16, seq=1, settled_below=1, t_utc_ms=1, nudge_id="s-1", **message.nudge_fields()
    )
    assert decode(Kind.NUDGE, encode(nudge)) == nudge  # the longest wording fits the payload's limits


def test_the_statement_is_one_plain_sentence():
    assert NOT_A_MEDICAL_DEVICE.count(".") == 1 and NOT_A_MEDICAL_DEVICE.endswith(".")
    assert "not a medical device" in NOT_A_MEDICAL_DEVICE
