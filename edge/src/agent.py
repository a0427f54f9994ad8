"""The edge agent: device links feeding the local store and the live view, until told to stop.

Each device has its own link (its own state machine, beat clock and windows); the links run side
by side and reconnect on their own. Link state changes are logged at INFO by link number, never
by address (a BLE address identifies the person's wearable), and handed to ``on_link_event``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vagus.clock import Clock
from vagus.errors import PayloadError
from vagus.signal import Beat, Indicators, WindowConfig
from vagus.signal.sleep import NightSummary

from .device_link import DeviceLink
from .link_state import LinkEvent, LinkPolicy, LinkState
from .nudge_policy import NudgeDecision, NudgeSettings
from .nudge_stage import NudgeStage
from .store import Store
from .stress_stage import StressStage
from .transport import Transport
from .weekly import WeekSummary

__all__ = ["Agent", "AgentConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    window: WindowConfig = field(default_factory=WindowConfig)
    beats_retention_s: float = 30 * 86_400.0
    prune_every_s: float = 3_600.0
    stress: bool = True  # score 60-s windows against the person's baseline (stress_stage.py)
    link: LinkPolicy = field(default_factory=LinkPolicy)  # reconnect backoff, stall watchdog, battery poll
    seed: int | None = None  # of the links' backoff jitter and the nudge hold-back (None: unseeded)
    nudges: NudgeSettings | None = None  # None: no nudge stage (nudge_stage.py, docs/nudges.md)


class Agent:
    """Runs device links; stores beats, indicators and rejected payloads; reports records."""

    def __init__(
        self,
        *,
        transports: Sequence[Transport],
        store: Store,
        clock: Clock,
        config: AgentConfig | None = None,
        on_indicators: Callable[[str, Indicators], None] | None = None,
        on_link_event: Callable[[LinkEvent], None] | None = None,
        on_battery: Callable[[str, float, int], None] | None = None,
        on_nudge: Callable[[NudgeDecision], None] | None = None,
        on_night: Callable[[NightSummary], None] | None = None,
        on_weekly: Callable[[WeekSummary], None] | None = None,
    ) -> None:
        self.config = cfg = config or AgentConfig()
        self.store = store
        self.clock = clock
        self.stress = StressStage(store, on_night=on_night) if cfg.stress else None
        rng = random.Random(cfg.seed)  # noqa: S311 — jitter or reproducible simulation, not a secret
        self.nudges: NudgeStage | None = None
        if cfg.nudges is not None:
            if self.stress is None and cfg.nudges.mode == "nudges":
                log.warning("nudges need the stress score: with stress off no nudge will be sent")
            # Its own stream, so adding a device does not change which moments are held back.
            nudge_rng = random.Random(None if cfg.seed is None else cfg.seed + 1)  # noqa: S311 — not a secret
            self.nudges = NudgeStage(store, cfg.nudges, on_nudge=on_nudge, on_weekly=on_weekly, rng=nudge_rng)
        sink = _StoreSink(store, on_indicators, self.stress, self.nudges)
        self.links = [
            DeviceLink(
                t,
                sink,
                cfg.window,
                clock=clock,
                policy=cfg.link,
                observer=_LinkReporter(i + 1, on_link_event, on_battery),
                rng=random.Random(rng.getrandbits(64)),  # noqa: S311 — jitter or reproducible simulation, not a secret
            )
            for i, t in enumerate(transports)
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Run every link, prune old beats periodically, and return once ``stop`` is set.

        A link that cannot connect keeps retrying without holding up the others. On return every
        link is stopped and its transport disconnected. An unexpected error in a link's supervisor
        (a bug) stops the agent and is raised here.
        """
        pruner = asyncio.create_task(self._prune_loop())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            for link in self.links:
                await link.start(wait=False)
            pending: set[asyncio.Future[object]] = {stopper, *(link.task for link in self.links if link.task)}
            while not stop.is_set():
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done - {stopper}:
                    error = task.exception()  # a link that ended by itself (its device cannot be read) is fine
                    if error is not None:
                        raise error
        finally:
            stopper.cancel()
            pruner.cancel()
            # Concurrently: each disconnect may wait on BlueZ, and SIGTERM gives a service ~90 s.
            await asyncio.gather(*(link.stop() for link in self.links), return_exceptions=True)
            if self.stress is not None:
                self.stress.save()
            if self.nudges is not None:
                self.nudges.save()

    async def _prune_loop(self) -> None:
        while True:
            self.store.prune_beats(self.clock.now_utc_s() - self.config.beats_retention_s)
            await self.clock.sleep(self.config.prune_every_s)


class _LinkReporter:
    """Logs one link's state changes (by number, never by address) and passes them on."""

    def __init__(
        self,
        number: int,
        on_link_event: Callable[[LinkEvent], None] | None,
        on_battery: Callable[[str, float, int], None] | None,
    ) -> None:
        self._number = number
        self._on_link_event = on_link_event
        self._on_battery = on_battery

    def on_link_event(self, event: LinkEvent) -> None:
        level = logging.WARNING if event.state is LinkState.STOPPED and event.reason != "stopped" else logging.INFO
        reason = f" ({event.reason})" if event.reason else ""
        retry = f", retry in {event.retry_in_s:.1f} s" if event.retry_in_s is not None else ""
        log.log(level, "device %d: %s%s%s", self._number, event.state.value, reason, retry)
        log.debug("device %d is %s", self._number, event.device_id)
        if self._on_link_event is not None:
            self._on_link_event(event)

    def on_battery(self, device_id: str, t_utc_s: float, level_pct: int) -> None:
        log.info("device %d: battery %d %%", self._number, level_pct)
        if self._on_battery is not None:
            self._on_battery(device_id, t_utc_s, level_pct)


class _StoreSink:
    def __init__(
        self,
        store: Store,
        on_indicators: Callable[[str, Indicators], None] | None,
        stress: StressStage | None,
        nudges: NudgeStage | None = None,
    ) -> None:
        self._store = store
        self._on_indicators = on_indicators
        self._stress = stress
        self._nudges = nudges

    def on_beats(self, beats: list[Beat]) -> None:
        self._store.add_beats(beats)

    def on_indicators(self, records: list[Indicators]) -> None:
        if self._stress is not None:
            records = [self._stress.annotate(r) for r in records]
        self._store.add_indicators(records)
        if self._on_indicators is not None:
            for record in records:
                self._on_indicators(record.device_id, record)
        if self._nudges is not None:
            # After the store: the indicators of a nudge's moment are already there when it is logged.
            for record in records:
                self._nudges.observe(record)

    def on_rejected(
        self, device_id: str, t_utc_s: float, characteristic: str, payload: bytes, error: PayloadError
    ) -> None:
        # No device id in the log: a BLE address identifies the person's wearable.
        log.warning("set aside a malformed payload (%s); see the rejected_payloads table", error)
        self._store.add_rejected_payload(
            device_id=device_id,
            t_utc_s=t_utc_s,
            characteristic=characteristic,
            payload=payload,
            problem=error.problem.value,
            detail=error.detail,
        )
