"""The nudge policy (vagus.edge.nudge_policy): its rules against an independent oracle, its budget,
its hold-back coin and its wording."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from vagus.edge.nudge_policy import Ineligible, NudgePolicy, NudgeSettings
from vagus.edge.pacer import Pacer
from vagus.errors import ConfigError
from vagus.signal import Indicators
from vagus.tomlconfig import load_toml_config

T0 = 1_790_000_000.0  # 2026-09-21 21:33:20 UTC
GATES = ("active", "low_quality", "not_worn", "hr_only", "too_few_beats")


def coin(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 — a reproducible hold-back coin, not a secret


def rec(
    t_end: float,
    score: float | None = 90.0,
    *,
    gate: str | None = None,
    state: str | None = None,
    device: str = "strap",
    window: float = 60.0,
) -> Indicators:
    return Indicators(
        device_id=device,
        t_start_utc_s=t_end - window,
        t_end_utc_s=t_end,
        window_s=window,
        n_beats=70,
        quality=1.0,
        window_nominal_s=window,
        hr_bpm=80.0,
        rmssd_ms=20.0,
        stress_score=None if gate is not None else score,
        gate_reason=gate,
        activity_state=state,
    )


def minutes(start: float, n: int, **kw: object) -> list[Indicators]:
    return [rec(start + 60.0 * k, **kw) for k in range(n)]


ALWAYS = dict(quiet_start="00:00", quiet_end="00:00", after_active_s=0.0)


def run(policy: NudgePolicy, records: list[Indicators]):
    return [d for r in records if (d := policy.observe(r)) is not None]


# -- the rules one at a time ------------------------------------------------------------------------


def test_sustained_high_stress_is_needed():
    s = NudgeSettings(**ALWAYS, sustained_s=600.0)
    # The first window covers [t-60, t]: the run reaches 600 s at the 10th minute window.
    decisions = run(NudgePolicy(s, rng=coin(0)), minutes(T0 + 60, 12))
    assert [d.t_utc_s for d in decisions] == [T0 + 600]
    # One window below the threshold restarts the count.
    records = [*minutes(T0 + 60, 8), rec(T0 + 540, 60.0), *minutes(T0 + 600, 12)]
    decisions = run(NudgePolicy(s, rng=coin(0)), records)
    assert [d.t_utc_s for d in decisions] == [T0 + 540 + 600]
    # So does a missing minute (a gap in the stream).
    records = minutes(T0 + 60, 5) + minutes(T0 + 420, 12)
    assert [d.t_utc_s for d in run(NudgePolicy(s, rng=coin(0)), records)] == [T0 + 360 + 600]


def test_five_second_steps_count_time_not_records():
    s = NudgeSettings(**ALWAYS, sustained_s=600.0)
    records = [rec(T0 + 60 + 5.0 * k) for k in range(200)]
    assert [d.t_utc_s for d in run(NudgePolicy(s, rng=coin(0)), records)] == [T0 + 600]


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        (dict(gate="active"), Ineligible.GATED),
        (dict(gate="not_worn"), Ineligible.GATED),
        (dict(gate="low_quality"), Ineligible.GATED),
        (dict(state="sleep"), Ineligible.ASLEEP),
        (dict(score=None), Ineligible.NO_SCORE),
        (dict(score=75.9), Ineligible.BELOW_THRESHOLD),
    ],
)
def test_a_window_that_is_not_high_ends_the_run(kw, reason):
    s = NudgeSettings(**ALWAYS, sustained_s=300.0)
    policy = NudgePolicy(s, rng=coin(0))
    assert run(policy, minutes(T0 + 60, 4)) == []
    assert reason in policy.eligible_reasons(rec(T0 + 300, **kw))
    assert policy.observe(rec(T0 + 300, **kw)) is None
    # The run starts again after it: 5 more minutes are needed.
    decisions = run(policy, minutes(T0 + 360, 6))
    assert [d.t_utc_s for d in decisions] == [T0 + 300 + 300]


def test_longer_windows_are_ignored():
    policy = NudgePolicy(NudgeSettings(**ALWAYS, sustained_s=300.0), rng=coin(0))
    records = [r for k in range(10) for r in (rec(T0 + 60 + 60 * k), rec(T0 + 60 + 60 * k, 10.0, window=300.0))]
    assert [d.t_utc_s for d in run(policy, records)] == [T0 + 300]
    assert policy.eligible_reasons(rec(T0 + 1000, window=300.0)) == (Ineligible.NOT_60S,)


def test_no_nudge_soon_after_exercise():
    s = NudgeSettings(**ALWAYS | dict(after_active_s=1800.0), sustained_s=300.0)
    policy = NudgePolicy(s, rng=coin(0))
    records = minutes(T0 + 60, 20, gate="active") + minutes(T0 + 1260, 60)
    (decision,) = run(policy, records)
    assert decision.t_utc_s == T0 + 1200 + 1800  # the hold-off, longer than the 5-min run


def test_quiet_hours_wrap_midnight_in_local_time():
    # UTC+2: 22:00–07:00 local is 20:00–05:00 UTC.
    s = NudgeSettings(utc_offset_min=120, after_active_s=0.0, sustained_s=60.0, min_spacing_s=3600.0, daily_cap=24)
    day = datetime(2026, 3, 10, tzinfo=UTC).timestamp()
    policy = NudgePolicy(s, rng=coin(0))
    times = [d.t_utc_s for d in run(policy, minutes(day + 60, 24 * 60))]
    hours = {datetime.fromtimestamp(t, UTC).hour for t in times}
    assert hours == set(range(5, 20))
    assert s.in_quiet_hours(day + 19 * 3600 + 3599) is False
    assert s.in_quiet_hours(day + 20 * 3600) is True
    assert NudgeSettings(quiet_start="07:00", quiet_end="07:00").in_quiet_hours(day) is False


def test_snooze_cap_and_spacing():
    s = NudgeSettings(**ALWAYS, sustained_s=60.0, min_spacing_s=3600.0, daily_cap=2)
    policy = NudgePolicy(s, rng=coin(0))
    day = datetime(2026, 3, 10, 6, tzinfo=UTC).timestamp()
    policy.snooze(day + 1800)
    policy.snooze(day + 600)  # an earlier end never shortens a snooze
    times = [d.t_utc_s for d in run(policy, minutes(day + 60, 18 * 60 - 1))]  # 06:01–23:59
    assert times == [day + 1800, day + 1800 + 3600]  # then the cap holds for the rest of the day
    assert policy.eligible_reasons(rec(day + 17 * 3600)) == (Ineligible.DAILY_CAP,)
    # A new local day brings a new budget.
    midnight = datetime(2026, 3, 11, tzinfo=UTC).timestamp()
    assert [d.t_utc_s for d in run(policy, minutes(midnight, 60))] == [midnight]


def test_snooze_rest_of_day():
    s = NudgeSettings(**ALWAYS, sustained_s=60.0, utc_offset_min=-300)
    policy = NudgePolicy(s, rng=coin(0))
    noon = datetime(2026, 3, 10, 12, tzinfo=timezone(timedelta(hours=-5))).timestamp()
    policy.snooze_rest_of_day(noon)
    assert policy.snoozed_until_utc_s == datetime(2026, 3, 11, tzinfo=timezone(timedelta(hours=-5))).timestamp()


@pytest.mark.parametrize("mode", ["weekly_summary", "off"])
def test_other_modes_return_nothing(mode):
    policy = NudgePolicy(NudgeSettings(**ALWAYS, mode=mode), rng=coin(0))
    assert run(policy, minutes(T0 + 60, 600)) == []
    assert Ineligible.MODE in policy.eligible_reasons(rec(T0 + 700 * 60))


def test_devices_keep_their_own_runs():
    policy = NudgePolicy(NudgeSettings(**ALWAYS, sustained_s=300.0), rng=coin(0))
    # The watch sends HR only (gated) between the strap's windows: the strap's run goes on.
    records = [r for k in range(6) for r in (rec(T0 + 60 + 60 * k), rec(T0 + 61 + 60 * k, gate="hr_only", device="w"))]
    assert [(d.t_utc_s, d.device_id) for d in run(policy, records)] == [(T0 + 300, "strap")]


def test_the_decision_carries_the_moment_and_the_exercise():
    s = NudgeSettings(**ALWAYS, sustained_s=60.0, breathing_rate_brpm=5.5, exercise_s=180.0)
    (d,) = run(NudgePolicy(s, rng=coin(0)), [rec(T0, 88.5)])
    pacer = Pacer(5.5)
    assert (d.stress_score, d.rmssd_ms, d.sent, d.held_back, d.holdback_p) == (88.5, 20.0, True, False, 0.0)
    assert d.breathing.rate_brpm == 5.5 and d.breathing.duration_s == 180.0
    assert d.breathing.inhale_s + d.breathing.exhale_s == pytest.approx(60 / 5.5, abs=1e-3)
    assert d.breathing.inhale_s == pytest.approx(pacer.inhale_s, abs=1e-3)
    assert "3-minute" in d.text


# -- settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(mode="sometimes"),
        dict(daily_cap=-1),
        dict(daily_cap=2.5),
        dict(min_spacing_s=-1.0),
        dict(sustained_s=10.0),
        dict(threshold_score=0.0),
        dict(threshold_score=101.0),
        dict(quiet_start="7:00"),
        dict(quiet_end="24:00"),
        dict(utc_offset_min=15 * 60),
        dict(holdback_p=1.0),
        dict(holdback_p=-0.1),
        dict(holdback_p=math.nan),
        dict(breathing_rate_brpm=12.0),
        dict(exercise_s=5.0),
        dict(offer="lecture"),
    ],
)
def test_bad_settings_are_refused(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        NudgeSettings(**kw)


ENV = re.compile(r"^VAGUS_TEST_(.+)$")


class _Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    nudges: NudgeSettings = NudgeSettings()


def test_the_config_section(tmp_path):
    path = tmp_path / "vagus.toml"
    path.write_text('[nudges]\nmode = "weekly_summary"\ndaily_cap = 2\nquiet_start = "21:30"\nholdback_p = 0.25\n')
    cfg = load_toml_config(_Config, path, env={}, env_pattern=ENV)
    assert cfg.nudges == NudgeSettings(mode="weekly_summary", daily_cap=2, quiet_start="21:30", holdback_p=0.25)
    for bad in ("[nudges]\ncap = 2\n", "[nudges]\nholdback_p = 1.5\n", '[nudges]\nquiet_end = "25:00"\n'):
        path.write_text(bad)
        with pytest.raises(ConfigError, match=r"nudges.*(cap|holdback_p|quiet_end)"):
            load_toml_config(_Config, path, env={}, env_pattern=ENV)


# -- wording ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("offer", ["slow_breathing", "check_in", "alternate"])
@pytest.mark.parametrize("exercise_s", [60.0, 90.0, 120.0, 300.0])
def test_wording_rotates_and_asks(offer, exercise_s):
    s = NudgeSettings(**ALWAYS, sustained_s=60.0, min_spacing_s=0.0, daily_cap=24, offer=offer, exercise_s=exercise_s)
    policy = NudgePolicy(s, rng=coin(0))
    decisions = run(policy, minutes(T0, 40))
    texts = [d.text for d in decisions]
    assert len(texts) == 24
    assert all(len(t) <= 280 and t.endswith("?") for t in texts)
    assert all(a != b for a, b in pairwise(texts))
    assert len(set(texts)) >= 3
    verdicts = ("you are stressed", "you're stressed", "stress detected", "you are anxious")
    assert not any(v in t.lower() for t in texts for v in verdicts)
    kinds = [d.kind for d in decisions]
    if offer == "alternate":
        assert all(a != b for a, b in pairwise(kinds))
    else:
        assert set(kinds) == {offer}
    if offer != "check_in":
        length = f"{int(exercise_s // 60)}-minute" if exercise_s % 60 == 0 else f"{int(exercise_s)}-second"
        assert all(length in d.text for d in decisions if d.kind == "slow_breathing")


# -- the hold-back coin -----------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5])
def test_held_back_fraction_is_p(p):
    s = NudgeSettings(**ALWAYS, sustained_s=60.0, min_spacing_s=0.0, daily_cap=24, holdback_p=p)
    policy = NudgePolicy(s, rng=coin(20260)).observe
    decisions = [policy(rec(T0 + 3600.0 * k)) for k in range(3000)]
    held = sum(1 for d in decisions if d is not None and not d.sent)
    assert all(d is not None for d in decisions)
    if p == 0:
        assert held == 0
    else:
        assert binomtest(held, len(decisions), p).pvalue > 1e-3
    # Held-back moments count toward the cap: the budget does not depend on the coin.
    s = NudgeSettings(**ALWAYS, sustained_s=60.0, min_spacing_s=0.0, daily_cap=2, holdback_p=0.9)
    one_day = minutes(datetime(2026, 3, 10, 1, tzinfo=UTC).timestamp(), 600)
    assert len(run(NudgePolicy(s, rng=coin(1)), one_day)) == 2


def test_state_round_trip():
    s = NudgeSettings(**ALWAYS | dict(after_active_s=600.0), sustained_s=60.0, min_spacing_s=3600.0)
    a = NudgePolicy(s, rng=coin(0))
    run(a, [rec(T0 - 100, gate="active"), *minutes(T0 + 600, 3)])
    a.snooze(T0 + 5 * 3600)
    b = NudgePolicy(s, rng=coin(0))
    b.restore(msgspec.json.decode(msgspec.json.encode(a.state())))
    assert b.state() == a.state()
    later = minutes(T0 + 4 * 3600, 3 * 60)
    assert [d.t_utc_s for d in run(b, later)] == [d.t_utc_s for d in run(a, later)] == [T0 + 5 * 3600, T0 + 6 * 3600]
    with pytest.raises(ValueError, match="state"):
        b.restore({"seq": 1})


# -- a property test against an independent oracle --------------------------------------------------


@dataclass(frozen=True)
class Episode:
    """A stretch of records alike but for their time: how runs, gaps and boundaries arise in a day."""

    gap_s: float  # before the first record
    n: int
    dt_s: float  # between records (5-s steps, minutes, or a missing minute)
    device: str
    score: float | None
    gate: str | None
    asleep: bool
    window: float
    snooze_min: float | None  # a snooze answered just before the first record


episodes = st.builds(
    Episode,
    gap_s=st.one_of(st.sampled_from([60.0, 60.0, 90.0, 91.0, 150.0]), st.floats(1.0, 8 * 3600.0)),
    n=st.integers(1, 40),
    dt_s=st.sampled_from([5.0, 60.0, 60.0, 60.0, 89.0, 120.0]),
    device=st.sampled_from(["a", "a", "a", "b"]),
    score=st.one_of(st.none(), st.floats(0.0, 100.0), st.floats(70.0, 100.0), st.just(100.0), st.just(100.0)),
    gate=st.one_of(st.none(), st.none(), st.none(), st.none(), st.sampled_from(GATES), st.just("active")),
    asleep=st.sampled_from([False, False, False, True]),
    window=st.sampled_from([60.0, 60.0, 60.0, 60.0, 300.0]),
    snooze_min=st.one_of(st.none(), st.none(), st.none(), st.floats(1.0, 600.0), st.sampled_from([10.0, 30.0])),
)
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
settings_st = st.builds(
    NudgeSettings,
    daily_cap=st.integers(0, 4),
    min_spacing_s=st.sampled_from([0.0, 300.0, 600.0, 3600.0, 7200.0]),
    sustained_s=st.sampled_from([60.0, 60.0, 300.0, 600.0, 1200.0]),
    threshold_score=st.floats(50.0, 95.0),
    quiet_start=st.one_of(hhmm, st.just("00:00")),
    quiet_end=st.one_of(hhmm, st.just("00:00")),
    utc_offset_min=st.integers(-600, 600),
    holdback_p=st.sampled_from([0.0, 0.3, 0.8]),
    after_active_s=st.sampled_from([0.0, 900.0, 1800.0]),
)


def oracle(s: NudgeSettings, records: list[Indicators], snoozes: dict[int, float]) -> list[tuple[float, str]]:
    """Eligible moments computed afresh from the rules' wording, with datetime for local time."""
    tz = timezone(timedelta(minutes=s.utc_offset_min))
    qs, qe = (int(x[:2]) * 60 + int(x[3:]) for x in (s.quiet_start, s.quiet_end))

    def high(r: Indicators) -> bool:
        return (
            r.gate_reason is None
            and r.activity_state != "sleep"
            and r.stress_score is not None
            and r.stress_score >= s.threshold_score
        )

    out: list[tuple[float, str]] = []
    per_date: dict[object, int] = {}
    snoozed_until = last_active = -math.inf
    history: dict[str, list[Indicators]] = {}
    for i, r in enumerate(records):
        if i in snoozes:
            snoozed_until = max(snoozed_until, snoozes[i])
        if r.window_nominal_s != 60.0:
            continue
        mine = history.setdefault(r.device_id, [])
        mine.append(r)
        t = r.t_end_utc_s
        active_before, last_active = last_active, (t if r.gate_reason == "active" else last_active)
        if not high(r):
            continue
        # The run: walk back over this device's 60-s windows while they are high and ≤ 90 s apart.
        start, prev_end = r.t_start_utc_s, t
        for q in reversed(mine[:-1]):
            if not high(q) or prev_end - q.t_end_utc_s > 90.0:
                break
            start, prev_end = q.t_start_utc_s, q.t_end_utc_s
        if t - start < s.sustained_s:
            continue
        local = datetime.fromtimestamp(t, tz)
        m = local.hour * 60 + local.minute
        if qs != qe and ((qs <= m < qe) if qs < qe else (m >= qs or m < qe)):
            continue
        if t < snoozed_until or t - active_before < s.after_active_s:
            continue
        if per_date.get(local.date(), 0) >= s.daily_cap:
            continue
        if out and t - out[-1][0] < s.min_spacing_s:
            continue
        per_date[local.date()] = per_date.get(local.date(), 0) + 1
        out.append((t, r.device_id))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=settings_st, timeline=st.lists(episodes, min_size=1, max_size=30), seed=st.integers(0, 2**32))
def test_random_timelines_keep_every_rule(s, timeline, seed):
    policy = NudgePolicy(s, rng=coin(seed))
    t = T0
    records, snoozes, decisions = [], {}, []
    for ep in timeline:
        t += ep.gap_s - ep.dt_s
        if ep.snooze_min is not None:
            snoozes[len(records)] = t + ep.dt_s - 30.0 + 60.0 * ep.snooze_min
            policy.snooze(snoozes[len(records)])
        for _ in range(ep.n):
            t += ep.dt_s
            r = rec(
                t, ep.score, gate=ep.gate, state="sleep" if ep.asleep else "awake", device=ep.device, window=ep.window
            )
            records.append(r)
            if (d := policy.observe(r)) is not None:
                decisions.append(d)
    # The invariants, checked directly on what the policy decided …
    tz = timezone(timedelta(minutes=s.utc_offset_min))
    days: dict[object, int] = {}
    for d in decisions:
        day = datetime.fromtimestamp(d.t_utc_s, tz).date()
        days[day] = days.get(day, 0) + 1
        assert days[day] <= s.daily_cap
        assert not s.in_quiet_hours(d.t_utc_s)
        assert d.stress_score is not None and d.stress_score >= s.threshold_score
        assert d.text.endswith("?") and len(d.text) <= 280
    for a, b in pairwise(decisions):
        assert b.t_utc_s - a.t_utc_s >= s.min_spacing_s
        assert a.text != b.text
    # … and the decisions are exactly the oracle's eligible moments (none missed, none extra).
    assert [(d.t_utc_s, d.device_id) for d in decisions] == oracle(s, records, snoozes)
