"""Every simulated device profile read end to end by the agent: beats from one source per device, ECG
R-peaks against the simulator's true beats, accelerometer motion gating the exercise minutes, HR-only
records for the watch and the ring, the ring's battery; and `vagus run --sim` reading all of them."""

from __future__ import annotations

import asyncio
import io
import math
from collections import defaultdict

import numpy as np
import pytest

from vagus.clock import SimClock
from vagus.edge import Agent, Store
from vagus.edge.link_log import battery_readings, link_events
from vagus.edge.link_state import LinkState
from vagus.edge.profiles import ProfiledTransport, ReadProfile
from vagus.run import RunOptions, run_agent
from vagus.sim import gatt_info as sim_gatt
from vagus.sim.physiology import State
from vagus.sim.scenario import DeviceSpec, Scenario, Segment, Timeline
from vagus.sim.world import build_world

T0 = 1_790_000_000.0
REST, EXERCISE = (0, 300), (300, 600)
PROFILES = {
    "strap": ("h10", ReadProfile("polar_pmd")),
    "ecg": ("h10", ReadProfile("polar_pmd", ecg=True)),
    "sense": ("verity", ReadProfile("polar_pmd")),
    "watch": ("hr_watch", ReadProfile("heart_rate")),
    "ring": ("colmi_ring", ReadProfile("colmi_ring")),
}


@pytest.fixture(scope="module")
def run():
    pytest.importorskip("neurokit2")
    scenario = Scenario(
        name="workout",
        description="",
        timeline=Timeline(
            (Segment(*REST, State.REST), Segment(*EXERCISE, State.EXERCISE), Segment(600, 900, State.REST)),
            start_of_day_s=43200.0,
        ),
        seed=5,
        people=(),
        devices=tuple(DeviceSpec(name, sim) for name, (sim, _) in PROFILES.items()),
        events=(),
        source="test",
    )
    world = build_world(scenario, t0_utc_s=T0)

    async def go():
        clock = SimClock(T0)
        transports = [ProfiledTransport(d, PROFILES[d.device_id][1]) for d in world.devices(clock)]
        store = Store(":memory:")
        battery: dict[str, int] = {}
        agent = Agent(
            transports=transports, store=store, clock=clock, on_battery=lambda d, t, p: battery.setdefault(d, p)
        )
        stop = asyncio.Event()

        async def stopper():
            await clock.sleep(895.0)
            stop.set()

        waiter = asyncio.ensure_future(stopper())
        await agent.run(stop)
        await waiter
        return agent, store, battery

    agent, store, battery = asyncio.run(go())
    yield world, agent, store, battery
    store.close()


def rows(store, device, window=60.0):
    return store.connection.execute(
        "SELECT t_start_utc_s, t_end_utc_s, window_s, n_beats, hr_bpm, rmssd_ms, gate_reason, activity_state,"
        " stress_score FROM indicators WHERE device_id = ? AND window_nominal_s = ? ORDER BY t_end_utc_s",
        (device, window),
    ).fetchall()


def test_each_device_gives_beats_from_one_source_and_none_twice(run):
    world, _, store, _ = run
    sources = defaultdict(set)
    for device, source in store.connection.execute("SELECT DISTINCT device_id, source FROM beats"):
        sources[device].add(source)
    assert dict(sources) == {"strap": {"hrs"}, "ecg": {"ecg"}, "sense": {"pmd_ppi"}}
    true_beats = world.devices_setup[0].signals.heart.beat_times_s
    n_true = int(np.sum(true_beats < 895.0))
    for device in sources:
        t = np.array(
            [
                r[0]
                for r in store.connection.execute(
                    "SELECT t_utc_s FROM beats WHERE device_id = ? ORDER BY t_utc_s", (device,)
                )
            ]
        )
        assert np.all(np.diff(t) > 0.1)  # in order, none twice (a sensor's extra beat can be short, not this short)
        assert abs(t.size - n_true) < 0.03 * n_true


def test_ecg_beats_match_the_true_r_peaks(run):
    world, _, store, _ = run
    truth = T0 + world.devices_setup[1].signals.heart.beat_times_s
    beats = store.connection.execute(
        "SELECT t_utc_s, rr_ms, gap_before FROM beats WHERE device_id = 'ecg' ORDER BY t_utc_s"
    )
    t, rr, gap = (np.array(c, dtype=float) for c in zip(*beats.fetchall(), strict=True))
    i = np.clip(np.searchsorted(truth, t), 1, truth.size - 1)
    i = np.where(np.abs(truth[i] - t) < np.abs(truth[i - 1] - t), i, i - 1)
    assert np.median(np.abs(t - truth[i])) < 0.1  # timed by the ECG, on the host clock
    err = rr - np.diff(truth, prepend=np.nan)[i] * 1000.0
    err = err[~np.isnan(err) & (gap == 0)]
    assert err.size > 900 and np.percentile(np.abs(err), 99) < 3.0


@pytest.mark.parametrize("device", ["strap", "ecg", "sense"])
def test_accelerometer_motion_gates_the_exercise_minutes(run, device):
    world, _, store, _ = run
    activity = world.physiology[world.people[0].person_id].activity
    records = rows(store, device)
    full = [r for r in records if r[2] >= 60.0 - 1e-6]
    moving = [r for r in full if float(np.mean(activity[int(r[0] - T0) : int(r[1] - T0)])) > 0.5]
    still = [r for r in full if r[1] - T0 < REST[1] and float(np.max(activity[int(r[0] - T0) : int(r[1] - T0)])) < 0.2]
    assert len(moving) > 40 and len(still) > 30
    assert all(r[6] == "active" and r[7] == "active" for r in moving)
    assert all(r[7] == "rest" for r in still)
    assert sum(r[8] is not None for r in still) > 0.9 * len(still)  # scored while still


@pytest.mark.parametrize("device", ["watch", "ring"])
def test_hr_only_devices_give_hr_only_records(run, device):
    world, _, store, _ = run
    hr_truth = world.physiology[world.people[0].person_id].hr_bpm
    records = rows(store, device)
    full = [r for r in records if r[2] >= 60.0 - 1e-6]
    assert len(full) > 150 and all(r[3] == 0 and r[5] is None for r in records)
    assert all(r[6] == "hr_only" and r[8] is None for r in full)
    errors = [abs(r[4] - float(np.mean(hr_truth[int(r[0] - T0) : int(r[1] - T0)]))) for r in full]
    assert np.median(errors) < 3.0


def test_the_ring_reports_its_battery_over_its_uart(run):
    _, agent, _, battery = run
    ring = next(link for link in agent.links if link.device_id == "ring")
    assert battery["ring"] == sim_gatt.RING_BATTERY.level_at(0.0) == ring.battery_pct


SCENARIO = """
start = "09:00"
duration = "4min"
seed = 3
[[segment]]
at = "09:00"
state = "rest"
[[device]]
name = "strap"
profile = "h10"
[[device]]
name = "sense"
profile = "verity"
[[device]]
name = "watch"
profile = "hr_watch"
[[device]]
name = "ring"
profile = "colmi_ring"
"""


async def test_vagus_run_sim_reads_every_simulated_device_and_stores_link_events(tmp_path):
    (tmp_path / "s.toml").write_text(SCENARIO)
    (tmp_path / "c.toml").write_text("")
    out = io.StringIO()
    code = await run_agent(
        RunOptions(
            config_path=tmp_path / "c.toml",
            db_path=tmp_path / "v.db",
            speed=math.inf,
            quiet=True,
            scenario=str(tmp_path / "s.toml"),
        ),
        out=out,
    )
    assert code == 0 and "is not read" not in out.getvalue()
    with Store(tmp_path / "v.db") as store:
        devices = {r[0] for r in store.connection.execute("SELECT DISTINCT device_id FROM indicators")}
        events = link_events(store)
        battery = battery_readings(store)
    assert devices == {"strap", "sense", "watch", "ring"}
    streaming = {e.device_id for e in events if e.state is LinkState.STREAMING}
    assert streaming == devices and {e.device_id for e in events if e.state is LinkState.STOPPED} == devices
    assert {b.device_id for b in battery} == devices
