"""Test doubles of a wearable link. They live in tests/, never in the product."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from vagus.clock import Clock
from vagus.sim.world import HOST_PLANS


class ScriptedTransport:
    """Delivers a script of (delay_s, characteristic, payload) notifications through the
    transport interface, timed by the injected clock; can drop the link mid-script."""

    def __init__(
        self, clock: Clock, script: Sequence[tuple[float, str, bytes]], *, device_id: str = "scripted", drop_after=None
    ) -> None:
        self._clock = clock
        self._script = list(script)
        self._device_id = device_id
        self._drop_after = drop_after
        self._task: asyncio.Task[None] | None = None
        self._on_disconnect: Callable[[], None] = lambda: None
        self.done = asyncio.Event()

    @property
    def device_id(self) -> str:
        return self._device_id

    async def connect(self, on_disconnect: Callable[[], None]) -> None:
        self._on_disconnect = on_disconnect

    async def subscribe(self, characteristic_uuid: str, on_notify: Callable[[str, bytes, float], None]) -> None:
        self._task = asyncio.ensure_future(self._play(on_notify))

    async def _play(self, on_notify: Callable[[str, bytes, float], None]) -> None:
        for i, (delay_s, characteristic, payload) in enumerate(self._script):
            await self._clock.sleep(delay_s)
            if self._drop_after is not None and i == self._drop_after:
                self._on_disconnect()
            on_notify(characteristic, payload, self._clock.now_utc_s())
        self.done.set()

    async def read(self, characteristic_uuid: str) -> bytes:
        raise ValueError(f"the scripted transport has nothing to read at {characteristic_uuid}")

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        raise ValueError(f"the scripted transport takes no writes ({characteristic_uuid})")

    async def disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()


class EagerHost:
    """A host for simulated devices: connects, follows the profile's plan (``HOST_PLANS``), and
    reconnects as soon as the device's outage ends, so it receives what ``render()`` produces."""

    def __init__(self, device, profile: str, clock: Clock, outages, *, t0_utc_s: float) -> None:
        self.device, self.profile, self.clock, self.outages = device, profile, clock, outages
        self.t0 = t0_utc_s
        self.received: list[tuple[float, str, bytes]] = []
        self.disconnects: list[float] = []
        self._lost = asyncio.Event()

    def _on_notify(self, characteristic: str, payload: bytes, t: float) -> None:
        self.received.append((t, characteristic, payload))

    def _on_disconnect(self) -> None:
        self.disconnects.append(self.clock.now_utc_s())
        self._lost.set()

    async def run(self) -> None:
        while True:
            await self.device.connect(self._on_disconnect)
            for action, uuid, data in HOST_PLANS[self.profile]:
                if action == "subscribe":
                    await self.device.subscribe(uuid, self._on_notify)
                else:
                    await self.device.write(uuid, data)
            self._lost.clear()
            await self._lost.wait()
            now = self.clock.now_utc_s() - self.t0
            end = next(o.end_s for o in self.outages if o.start_s <= now < o.end_s)
            await self.clock.sleep(end - now)
