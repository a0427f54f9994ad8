"""The one injected clock: every read of the time and every timed wait in vagus goes through it.

``RealClock`` is the wall clock. ``SimClock`` is a discrete-event virtual clock: time only moves
when every waiter is parked, jumping to the earliest wake-up, so an accelerated run produces
exactly the same timestamps as a real-time one. Its ``speed`` paces those jumps against the wall
clock (60 → one simulated minute per second; ``math.inf`` → as fast as the CPU allows).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "RealClock", "SimClock"]


@runtime_checkable
class Clock(Protocol):
    def now_utc_s(self) -> float:
        """Current time as POSIX seconds (UTC)."""
        ...

    async def sleep(self, duration_s: float) -> None:
        """Wait ``duration_s`` seconds of this clock's time."""
        ...


class RealClock:
    """The wall clock."""

    def now_utc_s(self) -> float:
        return time.time()

    async def sleep(self, duration_s: float) -> None:
        await asyncio.sleep(max(0.0, duration_s))


class SimClock:
    """Virtual time for simulated runs and tests.

    Waiters park in a heap keyed by wake-up time. A driver task advances time to the earliest
    wake-up once the event loop has nothing else ready to run, so callbacks triggered at a given
    virtual instant all observe that same instant.
    """

    def __init__(self, start_utc_s: float, *, speed: float = math.inf) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._now_s = start_utc_s
        self._speed = speed
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._driver: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._wall_anchor: tuple[float, float] | None = None  # (virtual s, monotonic s)

    def now_utc_s(self) -> float:
        return self._now_s

    async def sleep(self, duration_s: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now_s + max(0.0, duration_s), next(self._order), fut))
        self._ensure_driver()
        self._wake.set()
        await fut

    def _ensure_driver(self) -> None:
        if self._driver is None or self._driver.done():
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="sim-clock")

    async def _settle(self) -> None:
        # Let every task that is ready run before time moves; a few passes cover chains of
        # callbacks that schedule further callbacks at the same instant.
        for _ in range(8):
            await asyncio.sleep(0)

    async def _drive(self) -> None:
        while True:
            await self._settle()
            # Clear before looking at the heap: a sleep() from here on sets the event again,
            # so no new (possibly earlier) waiter is missed while we wait.
            self._wake.clear()
            while self._waiters and self._waiters[0][2].cancelled():
                heapq.heappop(self._waiters)
            if not self._waiters:
                await self._wake.wait()
                continue
            wake_s = self._waiters[0][0]
            delay_s = self._wall_delay_s(wake_s)
            if delay_s > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay_s)
                    continue  # a new waiter arrived: re-plan
                except TimeoutError:
                    pass
            self._now_s = max(self._now_s, wake_s)
            while self._waiters and self._waiters[0][0] <= self._now_s:
                _, _, fut = heapq.heappop(self._waiters)
                if not fut.done():
                    fut.set_result(None)

    def _wall_delay_s(self, wake_s: float) -> float:
        """Wall-clock seconds to wait before virtual time may reach ``wake_s``."""
        if math.isinf(self._speed):
            return 0.0
        if self._wall_anchor is None:
            self._wall_anchor = (self._now_s, time.monotonic())
        virt0, wall0 = self._wall_anchor
        return wall0 + (wake_s - virt0) / self._speed - time.monotonic()
