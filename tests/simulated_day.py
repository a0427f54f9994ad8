"""A store filled by the real agent from the built-in ``day`` scenario (simulated clock, flat out):
what the report and dashboard tests read, so both check the same data the agent would write."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vagus.clock import SimClock
from vagus.edge import Agent, AgentConfig, Store
from vagus.signal import WindowConfig
from vagus.sim import build_world, load_builtin


async def simulate_day(path: Path, hours: float) -> float:
    """Run the agent on the ``day`` scenario's first ``hours`` into the store at ``path``; its start (UTC s)."""
    scenario = load_builtin("day")
    t0 = scenario.timeline.start.timestamp()
    clock = SimClock(t0, speed=float("inf"))
    world = build_world(scenario, t0_utc_s=t0)
    # Only the 60-s windows (what stress, sleep, the report and the dashboards use): half the CPU of the default.
    config = AgentConfig(window=WindowConfig(windows_s=(60.0,), spectral=False, nonlinear=False), seed=1)
    with Store(path) as store:
        agent = Agent(transports=world.devices(clock), store=store, clock=clock, config=config)
        stop = asyncio.Event()

        async def stopper() -> None:
            await clock.sleep(hours * 3600.0)
            stop.set()

        task = asyncio.ensure_future(stopper())
        await agent.run(stop)
        await task
    return t0
