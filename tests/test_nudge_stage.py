"""The nudge stage (vagus.edge.nudge_stage) on simulated days through the real pipeline, across
restarts, and wired into the agent."""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pytest

from vagus.clock import SimClock
from vagus.edge import Agent, AgentConfig, Store
from vagus.edge.checkins import record_checkin
from vagus.edge.link_state import LinkPolicy
from vagus.edge.nudge_policy import NudgeDecision, NudgeSettings
from vagus.edge.nudge_stage import SNOOZE_POLL_S, NudgeStage
from vagus.edge.stress_stage import StressStage
from vagus.errors import StoreError
from vagus.signal import Beat, BeatSource, Indicators, RollingWindow, WindowConfig
from vagus.signal.baseline import PersonalBaseline
from vagus.sim import build_world, load_builtin
from vagus.sim.physiology import State
from vagus.sim.scenario import DeviceSpec, Scenario, Segment, Timeline
from vagus.sim.world import strap_at_rest

# What the agent computes for stress: 60-s windows every 5 s (spectral and nonlinear indices are
# not needed for the score and would only cost time).
WINDOWS = WindowConfig(windows_s=(60.0,), spectral=False, nonlinear=False, breathing=False)
NO_QUIET = dict(quiet_start="00:00", quiet_end="00:00")


def coin(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 — a reproducible hold-back coin, not a secret


@dataclass(frozen=True)
class Day:
    """A rendered simulated day: annotated 60-s records and the per-second truth."""

    t0_utc_s: float
    records: list[Indicators]
    state: np.ndarray  # State codes per second
    worn: np.ndarray  # per second
    utc_offset_min: int  # the scenario's local time

    def state_at(self, t_utc_s: float) -> State:
        return State.from_code(int(self.state[min(int(t_utc_s - self.t0_utc_s), len(self.state) - 1)]))

    def episodes(self, state: State) -> list[tuple[float, float]]:
        """``[start, end)`` UTC of each stretch of ``state`` in the truth."""
        on = np.concatenate([[0], (self.state == state.code).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(on))
        return [(self.t0_utc_s + a, self.t0_utc_s + b) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def beats_to_records(world, device: str) -> tuple[list[Indicators], object]:
    setup = next(d for d in world.devices_setup if d.name == device)
    sensed = setup.signals.sensed
    engine = RollingWindow(device, WINDOWS)
    out: list[Indicators] = []
    last = len(sensed.contact) - 1
    for t, ticks in zip(sensed.t_s.tolist(), sensed.rr_1024.tolist(), strict=True):
        if ticks == 0:
            continue  # the first beat of a chain carries no interval
        contact = bool(sensed.contact[min(int(t), last)])
        beat = Beat(device, world.t0_utc_s + t, ticks * 1000.0 / 1024.0, BeatSource.HRS, rr_1024=ticks, contact=contact)
        out.extend(engine.push(beat))
    return out, setup


def render(name: str, device: str, profile: str) -> Day:
    """The scenario on one RR device, scored by the agent's stress stage against a baseline
    learned from a separate calm morning of the same simulated person (as the agent would have
    learned it on earlier days)."""
    scenario = load_builtin(name)
    scenario = replace(
        scenario,
        devices=(DeviceSpec(device, profile),),
        events=tuple(e for e in scenario.events if e.device in ("*", device)),
    )
    world = build_world(scenario)
    person = world.people[0]
    calm = Scenario(
        "calm",
        "a calm morning",
        Timeline((Segment(0, 4 * 3600, State.REST),), start_of_day_s=9 * 3600.0),
        scenario.seed + 1000,
        (person,),
        (DeviceSpec(device, profile),),
        (),
        "test",
    )
    calm_records, _ = beats_to_records(build_world(calm), device)
    baseline = PersonalBaseline()
    for r in calm_records:
        if r.window_s >= 60 - 1e-6 and r.rmssd_ms and r.hr_bpm and r.quality >= 0.8:
            baseline.observe_awake("calm-day", r.rmssd_ms, r.hr_bpm)
    baseline.close_day()
    records, setup = beats_to_records(world, device)
    with Store(":memory:") as store:
        stage = StressStage(store)
        stage.baseline = baseline
        annotated = [stage.annotate(r) for r in records]
    # The scenario's local start time (its first segment) against its UTC start.
    local_start_s = scenario.timeline.start_of_day_s
    offset_s = (local_start_s - world.t0_utc_s) % 86_400.0
    offset_min = round((offset_s if offset_s <= 43_200 else offset_s - 86_400.0) / 60.0)
    phys = world.physiology[person.person_id]
    return Day(world.t0_utc_s, annotated, np.asarray(phys.state), np.asarray(setup.signals.sensed.worn), offset_min)


@pytest.fixture(scope="module")
def workday() -> Day:
    return render("workday", "strap", "h10")


@pytest.fixture(scope="module")
def noisy() -> Day:
    return render("noisy", "sensor", "verity")


def decisions_of(day: Day, settings: NudgeSettings, store: Store, **kw) -> list[NudgeDecision]:
    stage = NudgeStage(store, settings, rng=coin(1), **kw)
    return [d for r in day.records if (d := stage.observe(r)) is not None]


def hhmm(day: Day, t: float) -> str:
    return datetime.fromtimestamp(t + 60 * day.utc_offset_min, UTC).strftime("%H:%M")


def test_the_workday_gets_a_nudge_in_each_stress_episode_and_nowhere_else(workday):
    settings = NudgeSettings(utc_offset_min=workday.utc_offset_min)
    with Store(":memory:") as store:
        decisions = decisions_of(workday, settings, store)
        logged = store.connection.execute("SELECT nudge_id, sent FROM nudge_events ORDER BY t_utc_s").fetchall()
    episodes = workday.episodes(State.STRESS)
    assert len(episodes) == 2
    assert [workday.state_at(d.t_utc_s) for d in decisions] == [State.STRESS] * len(decisions)
    for start, end in episodes:
        inside = [d for d in decisions if start <= d.t_utc_s < end]
        assert len(inside) == 1, (hhmm(workday, start), [hhmm(workday, d.t_utc_s) for d in decisions])
        # Not before the high stress has lasted sustained_s (less the first window's reach back before it).
        assert inside[0].t_utc_s - start >= settings.sustained_s - 60.0
    assert logged == [(d.nudge_id, 1) for d in decisions]


@pytest.mark.parametrize("day_name", ["workday", "noisy"])
def test_never_during_exercise_sleep_or_non_wear_even_without_quiet_hours(day_name, request):
    day: Day = request.getfixturevalue(day_name)
    # Loose budget and no quiet hours: only the physiological rules stand between the score and a nudge.
    settings = NudgeSettings(**NO_QUIET, daily_cap=24, min_spacing_s=300.0, utc_offset_min=day.utc_offset_min)
    with Store(":memory:") as store:
        decisions = decisions_of(day, settings, store)
    states = [day.state_at(d.t_utc_s) for d in decisions]
    assert decisions, "no nudge at all: the check below would be empty"
    assert not {State.SLEEP, State.EXERCISE, State.RECOVERY} & set(states), [
        (hhmm(day, d.t_utc_s), s.value) for d, s in zip(decisions, states, strict=True)
    ]
    for d in decisions:
        second = int(d.t_utc_s - day.t0_utc_s)
        assert day.worn[max(0, second - 60) : second + 1].all(), hhmm(day, d.t_utc_s)
    # Most of them fall in a stress episode (a few right after one: the heart calms with a lag).
    assert states.count(State.STRESS) >= 0.75 * len(states)


def test_quiet_hours_hold_on_the_simulated_day(workday):
    # Quiet hours over the morning's stress episode (a long meeting the person does not want
    # interrupted): it goes un-nudged, the afternoon's is nudged as before.
    (first_start, first_end), (second_start, second_end) = workday.episodes(State.STRESS)
    settings = NudgeSettings(quiet_start="10:00", quiet_end="11:30", utc_offset_min=workday.utc_offset_min)
    assert settings.in_quiet_hours(first_start) and settings.in_quiet_hours(first_end)
    with Store(":memory:") as store:
        decisions = decisions_of(workday, settings, store)
    assert decisions and all(not settings.in_quiet_hours(d.t_utc_s) for d in decisions)
    assert [second_start <= d.t_utc_s < second_end for d in decisions] == [True]


def test_a_snooze_answer_holds_nudges_back(workday):
    settings = NudgeSettings(utc_offset_min=workday.utc_offset_min)
    (first_start, first_end), (second_start, _) = workday.episodes(State.STRESS)
    with Store(":memory:") as store:
        stage = NudgeStage(store, settings, rng=coin(1))
        snoozed = False
        decisions = []
        for r in workday.records:
            if not snoozed and r.t_end_utc_s >= first_start + 60:
                stage.on_checkin("snooze", r.t_end_utc_s, snooze_minutes=90)
                stage.on_checkin("stressed", r.t_end_utc_s)  # other answers change nothing here
                snoozed, until = True, r.t_end_utc_s + 90 * 60
            if (d := stage.observe(r)) is not None:
                decisions.append(d)
    assert until > first_end
    assert all(d.t_utc_s >= until for d in decisions)
    assert any(d.t_utc_s >= second_start for d in decisions)  # the snooze ended; the next episode is nudged


def test_a_snooze_stored_by_another_process_holds_nudges_back(workday, tmp_path):
    # `vagus checkin snooze` runs beside the agent and writes only the check-ins table: the stage
    # finds the snooze there within SNOOZE_POLL_S of record time.
    settings = NudgeSettings(utc_offset_min=workday.utc_offset_min)
    (first_start, first_end), (second_start, _) = workday.episodes(State.STRESS)
    with Store(tmp_path / "s.db") as store:
        stage = NudgeStage(store, settings, rng=coin(1))
        snoozed_at = None
        decisions = []
        for r in workday.records:
            if snoozed_at is None and r.t_end_utc_s >= first_start + 60:
                snoozed_at = r.t_end_utc_s
                record_checkin(tmp_path / "s.db", "snooze", snoozed_at, source="cli", snooze_minutes=90)
            if (d := stage.observe(r)) is not None:
                decisions.append(d)
    assert snoozed_at is not None and snoozed_at + 90 * 60 > first_end
    assert all(not snoozed_at + SNOOZE_POLL_S <= d.t_utc_s < snoozed_at + 90 * 60 for d in decisions)
    assert any(d.t_utc_s >= second_start for d in decisions)


# -- synthetic records: restart, hold-back, delivery ------------------------------------------------


def rec(t_end: float, score: float = 95.0) -> Indicators:
    return Indicators(
        device_id="strap",
        t_start_utc_s=t_end - 60,
        t_end_utc_s=t_end,
        window_s=60.0,
        n_beats=70,
        quality=1.0,
        window_nominal_s=60.0,
        hr_bpm=80.0,
        rmssd_ms=22.0,
        stress_score=score,
    )


DAY = datetime(2026, 3, 10, 8, tzinfo=UTC).timestamp()


def test_cap_spacing_and_snooze_survive_a_restart(tmp_path):
    settings = NudgeSettings(**NO_QUIET, sustained_s=60.0, min_spacing_s=3600.0, daily_cap=2)
    with Store(tmp_path / "v.db") as store:
        a = NudgeStage(store, settings, rng=coin(1))
        first = [d for k in range(10) if (d := a.observe(rec(DAY + 60 * k)))]
        a.on_checkin("snooze", DAY + 600, snooze_minutes=120)  # until 10:10
    assert [d.t_utc_s for d in first] == [DAY]
    with Store(tmp_path / "v.db") as store:
        b = NudgeStage(store, settings, rng=coin(2))
        later = [d for k in range(11, 16 * 60) if (d := b.observe(rec(DAY + 60 * k)))]
        assert [d.t_utc_s for d in later] == [DAY + 2 * 3600 + 600]  # after the snooze; then the cap
        assert [e[1] for e in b.events()] == [DAY, DAY + 2 * 3600 + 600]
        b.save()
    # An uninterrupted stage decides the same.
    with Store(":memory:") as store:
        c = NudgeStage(store, settings, rng=coin(1))
        whole = []
        for k in range(16 * 60):
            if k == 10:
                c.on_checkin("snooze", DAY + 600, snooze_minutes=120)
            if (d := c.observe(rec(DAY + 60 * k))) is not None:
                whole.append(d.t_utc_s)
    assert whole == [DAY, DAY + 2 * 3600 + 600]


def test_a_damaged_state_is_not_overwritten(tmp_path):
    with Store(tmp_path / "v.db") as store:
        store.connection.execute("INSERT INTO nudge_state VALUES (1, '{\"seq\": 1}', 0)")
        with pytest.raises(StoreError, match="nudge state"):
            NudgeStage(store, NudgeSettings())


def test_held_back_moments_are_logged_and_not_delivered():
    settings = NudgeSettings(**NO_QUIET, sustained_s=60.0, min_spacing_s=0.0, daily_cap=24, holdback_p=0.5)
    delivered: list[NudgeDecision] = []
    with Store(":memory:") as store:
        stage = NudgeStage(store, settings, on_nudge=delivered.append, rng=coin(3))
        decisions = [d for k in range(24) if (d := stage.observe(rec(DAY + 60 * k)))]
        rows = store.connection.execute(
            "SELECT nudge_id, t_utc_s, device_id, kind, sent, holdback_p, stress_score, rmssd_ms, text"
            " FROM nudge_events ORDER BY t_utc_s"
        ).fetchall()
    assert len(decisions) == 24
    assert 0 < len(delivered) < 24
    assert delivered == [d for d in decisions if d.sent]
    assert rows == [
        (d.nudge_id, d.t_utc_s, "strap", d.kind, int(d.sent), 0.5, d.stress_score, d.rmssd_ms, d.text)
        for d in decisions
    ]


def test_a_failing_delivery_does_not_stop_the_stage(caplog):
    def broken(decision: NudgeDecision) -> None:
        raise OSError("no broker")

    with Store(":memory:") as store:
        stage = NudgeStage(store, NudgeSettings(**NO_QUIET, sustained_s=60.0), on_nudge=broken, rng=coin(1))
        assert stage.observe(rec(DAY)) is not None
        assert stage.events()[0][2] == 1
    assert "delivering nudge" in caplog.text


@pytest.mark.parametrize("bad", [0.0, -5.0, math.inf, math.nan])
def test_bad_snooze_lengths_are_refused(bad):
    with Store(":memory:") as store:
        stage = NudgeStage(store, NudgeSettings())
        with pytest.raises(ValueError, match="snooze"):
            stage.on_checkin("snooze", DAY, snooze_minutes=bad)


# -- the agent --------------------------------------------------------------------------------------


async def run_for(agent: Agent, clock: SimClock, seconds: float) -> None:
    stop = asyncio.Event()

    async def stopper() -> None:
        await clock.sleep(seconds)
        stop.set()

    task = asyncio.ensure_future(stopper())
    await agent.run(stop)
    await task


async def test_the_agent_feeds_the_stage_and_delivers(tmp_path):
    t0 = datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp()
    clock = SimClock(t0)
    delivered: list[NudgeDecision] = []
    # A threshold any scored minute passes: this checks the wiring, not the physiology.
    settings = NudgeSettings(threshold_score=0.1, sustained_s=120.0, min_spacing_s=300.0)
    with Store(tmp_path / "v.db") as store:
        strap, _ = strap_at_rest(clock, duration_s=900, seed=3)
        agent = Agent(
            transports=[strap],
            store=store,
            clock=clock,
            config=AgentConfig(nudges=settings, link=LinkPolicy(stall_s=None), seed=4),
            on_nudge=delivered.append,
        )
        assert isinstance(agent.nudges, NudgeStage)
        await run_for(agent, clock, 900.0)
        events = agent.nudges.events()
        at = store.connection.execute(
            "SELECT stress_score FROM indicators WHERE window_nominal_s = 60 AND t_end_utc_s = ?",
            (delivered[0].t_utc_s,),
        ).fetchone()
        state = store.connection.execute("SELECT count(*) FROM nudge_state").fetchone()[0]
    assert delivered and [e[0] for e in events] == [d.nudge_id for d in delivered]
    assert all(b.t_utc_s - a.t_utc_s >= 300.0 for a, b in pairwise(delivered))
    assert at == (delivered[0].stress_score,)  # the moment's indicators are in the store
    assert state == 1  # saved on the way out
    without = Agent(transports=[], store=Store(":memory:"), clock=clock)
    assert without.nudges is None
