"""The edge agent: device links feeding the local store and the live view, until told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vagus.clock import Clock
from vagus.errors import PayloadError
from vagus.signal import Beat, Indicators, WindowConfig

from .device_link import DeviceLink
from .store import Store
from .stress_stage import StressStage
from .transport import Transport

__all__ = ["Agent", "AgentConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    window: WindowConfig = field(default_factory=WindowConfig)
    beats_retention_s: float = 30 * 86_400.0
    prune_every_s: float = 3_600.0
    stress: bool = True  # score 60-s windows against the person's baseline (stress_stage.py)


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
    ) -> None:
        self.config = config or AgentConfig()
        self.store = store
        self.clock = clock
        self.stress = StressStage(store) if self.config.stress else None
        sink = _StoreSink(store, on_indicators, self.stress)
        self.links = [DeviceLink(t, sink, self.config.window) for t in transports]

    async def run(self, stop: asyncio.Event) -> None:
        """Start every link, prune old beats periodically, and return once ``stop`` is set."""
        for link in self.links:
            await link.start()
        pruner = asyncio.create_task(self._prune_loop())
        try:
            await stop.wait()
        finally:
            pruner.cancel()
            for link in self.links:
                await link.stop()
            if self.stress is not None:
                self.stress.save()

    async def _prune_loop(self) -> None:
        while True:
            self.store.prune_beats(self.clock.now_utc_s() - self.config.beats_retention_s)
            await self.clock.sleep(self.config.prune_every_s)


class _StoreSink:
    def __init__(
        self,
        store: Store,
        on_indicators: Callable[[str, Indicators], None] | None,
        stress: StressStage | None,
    ) -> None:
        self._store = store
        self._on_indicators = on_indicators
        self._stress = stress

    def on_beats(self, beats: list[Beat]) -> None:
        self._store.add_beats(beats)

    def on_indicators(self, records: list[Indicators]) -> None:
        if self._stress is not None:
            records = [self._stress.annotate(r) for r in records]
        self._store.add_indicators(records)
        if self._on_indicators is not None:
            for record in records:
                self._on_indicators(record.device_id, record)

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
