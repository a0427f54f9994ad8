"""``vagus run``: wire the configured devices, store, clock and live view into an agent."""

from __future__ import annotations

import asyncio
import math
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import msgspec

from vagus.clock import RealClock, SimClock
from vagus.config import load_config
from vagus.edge import Agent, AgentConfig, Store
from vagus.edge.live_view import LiveView
from vagus.signal import WindowConfig
from vagus.sim import HeartModel, RestingHeart, SimulatedStrap

__all__ = ["RunOptions", "run_agent"]


@dataclass(frozen=True, slots=True)
class RunOptions:
    config_path: Path | None = None
    db_path: Path | None = None
    duration_s: float | None = None
    speed: float = 1.0
    seed: int | None = None
    quiet: bool = False


async def run_agent(options: RunOptions, *, out: TextIO, stop_signals: Sequence[signal.Signals] = ()) -> int:
    """Run the agent on a simulated strap until a stop signal or ``duration_s`` of wall time."""
    config = load_config(options.config_path)
    if options.seed is not None:
        config = msgspec.structs.replace(config, sim=msgspec.structs.replace(config.sim, seed=options.seed))
    db_path = options.db_path or Path(config.store.path)
    clock = SimClock(RealClock().now_utc_s(), speed=options.speed)
    sim = config.sim
    strap = SimulatedStrap(
        clock=clock,
        heart=RestingHeart(
            HeartModel(mean_hr_bpm=sim.mean_hr_bpm, breathing_rate_brpm=sim.breathing_rate_brpm),
            seed=sim.seed,
        ),
        clock_drift_ppm=sim.clock_drift_ppm,
    )
    sig = config.signal
    view = LiveView(out)
    speed = "as fast as possible" if math.isinf(options.speed) else f"{options.speed:g}x"
    out.write(f"vagus: simulated strap (seed {sim.seed}, speed {speed}); store {db_path}\n")
    out.write("Wellness self-monitoring, not a medical device. Ctrl-C to stop.\n")
    out.flush()
    with Store(db_path) as store:
        agent = Agent(
            transports=[strap],
            store=store,
            clock=clock,
            config=AgentConfig(
                window=WindowConfig(
                    windows_s=tuple(sig.windows_s),
                    step_s=sig.step_s,
                    warmup_s=sig.warmup_s,
                    correction=sig.correction,
                    spectral=sig.spectral,
                ),
                beats_retention_s=config.store.beats_retention_days * 86_400.0,
            ),
            on_indicators=None if options.quiet else view.show,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in stop_signals:
            loop.add_signal_handler(signum, stop.set)
        if options.duration_s is not None:
            loop.call_later(options.duration_s, stop.set)
        await agent.run(stop)
        link = agent.links[0]
        c = link.counters
        out.write(
            f"vagus: stopped; the store holds {store.count('indicators')} indicator rows; "
            f"{c.beats} beats, {c.rejected_payloads} rejected payloads this run\n"
        )
    return 0
