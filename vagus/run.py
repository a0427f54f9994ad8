"""``vagus run``: wire the configured devices, store, clock and live view into an agent."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import msgspec

from vagus.clock import RealClock, SimClock
from vagus.config import Config, load_config
from vagus.edge import Agent, AgentConfig, Store
from vagus.edge.live_view import LiveView
from vagus.signal import Indicators, WindowConfig
from vagus.sim import HeartModel, RestingHeart, SimulatedStrap
from vagus.sync import SchemaError, pseudonymous_device_id  # msgspec only; vagus.config loads it anyway

__all__ = ["RunOptions", "run_agent"]

log = logging.getLogger(__name__)


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
    with Store(db_path) as store, _Sync(config, store) as sync:

        def on_indicators(device_id: str, record: Indicators) -> None:
            if not options.quiet:
                view.show(device_id, record)
            sync.submit(device_id, record)

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
                    nonlinear=sig.nonlinear,
                ),
                beats_retention_s=config.store.beats_retention_days * 86_400.0,
            ),
            on_indicators=on_indicators,
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


class _Sync:
    """The optional MQTT publisher of summaries ([sync] enabled = true); a no-op otherwise.

    Sync must never stop the agent: a record the schema refuses is logged (without personal data)
    and skipped; the outbox keeps every other one until the bridge confirms it.
    """

    def __init__(self, config: Config, store: Store) -> None:
        self._section = config.sync
        self._store = store
        self._publisher: Any = None
        self._outbox: Any = None
        self._key = b""

    def __enter__(self) -> _Sync:
        if not self._section.enabled:
            return self
        from vagus import __version__
        from vagus.edge.outbox import Outbox
        from vagus.sync.publisher import Publisher, PublisherSettings
        from vagus.sync.settings import mqtt_endpoint

        sync = self._section
        assert sync.person is not None  # validated with the config
        self._outbox = Outbox.of_store(self._store, capacity=sync.outbox_capacity)
        self._key = self._outbox.device_key()
        self._publisher = Publisher(
            outbox=self._outbox,
            endpoint=mqtt_endpoint(sync, where="sync"),
            settings=PublisherSettings(
                person=sync.person,
                prefix=sync.prefix,
                resend_after_s=sync.resend_after_s,
                max_in_flight=sync.max_in_flight,
                agent_version=__version__,
            ),
            # Resend timeouts are about the network, so they run on the wall clock even in
            # accelerated simulated runs.
            clock=RealClock(),
        )
        self._publisher.start()
        return self

    def submit(self, device_id: str, record: Indicators) -> None:
        if self._publisher is None:
            return
        try:
            self._publisher.submit_summary(asdict(record), device=pseudonymous_device_id(device_id, self._key))
        except SchemaError as exc:
            log.warning("a record was not queued for sync: %s", exc.problem.value)

    def __exit__(self, *exc: object) -> None:
        if self._publisher is not None:
            self._publisher.stop()
        if self._outbox is not None:
            self._outbox.close()
